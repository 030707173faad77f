//! `stackc build`: render `out/` (or, with `--check`, verify it without writing).

use super::{GlobalArgs, Session};
use crate::diagnostics::Diagnostics;
use crate::emit;
use clap::Args;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `stackc build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Environments to build (all when none are named).
    #[arg(value_name = "ENV")]
    pub environments: Vec<String>,
    /// Write nothing; exit 1 listing stale, missing and extra files when out/ is not what a
    /// build would write.
    #[arg(long)]
    pub check: bool,
    /// Render with this many threads (default: all cores).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
}

/// Runs `stackc build`.
pub fn run(global: &GlobalArgs, args: &BuildArgs) -> Result<ExitCode, Diagnostics> {
    let started = Instant::now();
    super::set_jobs(args.jobs)?;
    let session = Session::open(global)?;
    let envs = session.select_environments(&args.environments)?;
    let _lock = if args.check { None } else { Some(session.lock()?) };
    let rendered = crate::build::render_objects(&session.stack, &session.resolved, &envs)?;
    let units: usize = session
        .resolved
        .environments
        .iter()
        .filter(|e| envs.contains(&e.name))
        .map(|e| e.services.len())
        .sum();
    let outputs = crate::build::lay_out(&session.stack, rendered, std::collections::BTreeMap::new());

    let out = session.out_dir();
    let mut all_changes = Vec::new();
    for output in &outputs {
        let changes = emit::compare(&output.env, &out.join(&output.env), &output.files, &emit::NoMemory)?;
        all_changes.push(changes);
    }

    if args.check {
        let mut clean = true;
        for changes in &all_changes {
            for (label, paths) in [("missing", &changes.missing), ("stale", &changes.stale), ("extra", &changes.extra)] {
                for path in paths {
                    clean = false;
                    println!("{label}: out/{}/{path}", changes.env);
                }
            }
        }
        if clean {
            if !global.quiet {
                eprintln!("out/ is up to date ({} environments)", all_changes.len());
            }
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("out/ is not what `stackc build` would write; run `stackc build`");
        return Ok(ExitCode::from(1));
    }

    let mut written = 0;
    let mut pruned = 0;
    for (output, changes) in outputs.iter().zip(&all_changes) {
        let dir = out.join(&output.env);
        for path in &changes.edited {
            eprintln!("warning: out/{}/{path} was edited by hand; restoring it", output.env);
        }
        let paths = emit::apply(&dir, &output.files, changes)?;
        if global.verbose {
            for path in &paths {
                eprintln!("wrote out/{}/{path}", output.env);
            }
            for path in &changes.extra {
                eprintln!("pruned out/{}/{path}", output.env);
            }
        }
        written += paths.len();
        pruned += changes.extra.len();
    }
    if !global.quiet {
        eprintln!(
            "built {} environment{}: {units} units rendered, 0 skipped; {written} files written, {pruned} pruned in {:.2}s",
            outputs.len(),
            if outputs.len() == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}
