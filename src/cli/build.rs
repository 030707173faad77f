//! `stackc build`: plan every selected environment, then apply the plan to `out/` (or, with
//! `--check`, report how `out/` differs from it without writing anything).

use super::{GlobalArgs, Session};
use crate::build::{Outcome, Request};
use crate::diagnostics::Diagnostics;
use crate::emit::{EnvChanges, Plan};
use clap::{Args, ValueEnum};
use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Arguments of `stackc build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub identity: super::IdentityArgs,
    /// Print every file written, pruned or restored.
    #[arg(short, long, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Environments to build (all when none are named).
    #[arg(value_name = "ENV")]
    pub environments: Vec<String>,
    /// Write nothing; exit 1 listing stale, missing and extra files when out/ is not what a
    /// build would write.
    #[arg(long)]
    pub check: bool,
    /// Render with this many threads, from 1 to 256 (default: all cores).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// With --check: how to list the files (`json`: one document on standard output, for CI).
    #[arg(long, value_enum, default_value_t = CheckFormat::Text, requires = "check")]
    pub format: CheckFormat,
}

/// The listings of `build --check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// `stale: out/dev/...` lines.
    Text,
    /// `{"version": 1, "clean": ..., "environments": [{"name", "missing", "stale", "extra", "edited"}]}`.
    Json,
}

/// Runs `stackc build`.
pub fn run(global: &GlobalArgs, args: &BuildArgs) -> Result<ExitCode, Diagnostics> {
    let started = Instant::now();
    let started_ns = crate::cache::now_ns();
    super::set_jobs(args.jobs)?;
    let root = &global.root;
    let cache_dir = root.join(crate::CACHE_DIR);
    // Taken before anything is read, and held to the end, so two builds never interleave.
    let _lock = if args.check || !root.join("stacks.kdl").is_file() {
        None
    } else {
        // The lock file is the first thing a build writes: never through a link.
        crate::fs::refuse_symlink(root, &format!("{}/build.lock", crate::CACHE_DIR))?;
        Some(super::session::lock_dir(&cache_dir)?)
    };
    // Nothing changed since the last build, by stat alone: no need to parse anything. (A
    // JSON listing names every environment, so it always plans.)
    // It looks at out/ only: not when the last build also wrote other output roots.
    let shortcut = args.format == CheckFormat::Text
        && !cache_dir.join(crate::emit::roots::ROOTS_MARKER).exists();
    if let Some(crate::cache::UpToDate {
        envs,
        units,
        refreshed,
    }) = shortcut
        .then(|| crate::cache::up_to_date(root, &cache_dir, &root.join("out"), &args.environments))
        .flatten()
    {
        // `--check` writes nothing (and holds no lock); a build holds the lock.
        if !args.check && !refreshed.is_empty() {
            crate::emit::save_caches(root, &refreshed);
        }
        if !global.quiet && args.check {
            eprintln!("out/ is up to date ({envs} environments)");
        } else if !global.quiet {
            eprintln!(
                "built {envs} environment{}: 0 units rendered, {units} skipped; 0 files written, 0 pruned in {:.2}s (nothing changed)",
                plural(envs),
                started.elapsed().as_secs_f64()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    crate::timings::phase("no-op check");
    let session = Session::open_lazy(global)?;
    crate::timings::phase("load");
    let environments = session.select_environments(&args.environments)?;
    let request = Request {
        resolved: &session.resolved,
        environments: &environments,
        identities: &args.identity.identities,
        check: args.check,
        started_ns,
    };
    let total = environments.len() * session.stack.model.services.len();
    let progress = AtomicUsize::new(0);
    let outcome = with_progress(global, &progress, total, || {
        crate::build::run(&session.stack, &request, &progress)
    })?;
    let (plan, applied, notes) = match outcome {
        Outcome::Checked(plan) => {
            let code = match args.format {
                CheckFormat::Text => report_check(global, &plan),
                CheckFormat::Json => report_check_json(&plan),
            };
            exiting(session, plan);
            return Ok(code);
        }
        Outcome::Applied {
            plan,
            applied,
            notes,
        } => (plan, applied, notes),
    };
    if !global.quiet {
        for note in &notes {
            eprintln!("{note}");
        }
    }
    let (written, pruned) = applied.iter().fold((0, 0), |(w, p), done| {
        if args.verbose {
            for path in &done.written {
                eprintln!("wrote out/{}/{path}", done.env);
            }
            for path in &done.pruned {
                eprintln!("pruned out/{}/{path}", done.env);
            }
        }
        (w + done.written.len(), p + done.pruned.len())
    });
    if !global.quiet {
        let rendered: usize = plan.envs.iter().map(|e| e.rendered).sum();
        let skipped: usize = plan.envs.iter().map(|e| e.skipped).sum();
        eprintln!(
            "built {} environment{}: {rendered} units rendered, {skipped} skipped; {written} files written, {pruned} pruned in {:.2}s",
            plan.envs.len(),
            plural(plan.envs.len()),
            started.elapsed().as_secs_f64()
        );
    }
    exiting(session, plan);
    Ok(ExitCode::SUCCESS)
}

/// The command ends here and the process with it: the stack and the plan (every file's path,
/// hash and bytes: tens of thousands of allocations) are left to the OS to reclaim rather
/// than freed one by one. Neither holds plaintext (the seal's wrappers zeroize theirs
/// when sealing ends), and the build lock is a separate value, released as usual.
fn exiting(session: Session, plan: Plan) {
    std::mem::forget(session);
    std::mem::forget(plan);
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn report_check(global: &GlobalArgs, plan: &Plan) -> ExitCode {
    let all_changes: Vec<&EnvChanges> = plan.envs.iter().map(|e| &e.changes).collect();
    let mut clean = true;
    for changes in &all_changes {
        for (label, paths) in [
            ("missing", &changes.missing),
            ("stale", &changes.stale),
            ("extra", &changes.extra),
        ] {
            for path in paths {
                clean = false;
                let edited = if changes.edited.contains(path) {
                    " (edited by hand)"
                } else {
                    ""
                };
                println!("{label}: out/{}/{path}{edited}", changes.env);
            }
        }
    }
    for root in plan.envs.iter().flat_map(|e| &e.roots) {
        let c = &root.changes;
        for (label, paths) in [
            ("missing", &c.missing),
            ("stale", &c.stale),
            ("extra", &c.extra),
        ] {
            for path in paths {
                clean = false;
                println!("{label}: {}/{path}", root.shown);
            }
        }
    }
    if clean {
        if !global.quiet {
            eprintln!("out/ is up to date ({} environments)", all_changes.len());
        }
        return ExitCode::SUCCESS;
    }
    eprintln!("out/ is not what `stackc build` would write; run `stackc build`");
    ExitCode::from(1)
}

/// `build --check --format json`: every environment's missing, stale, extra and edited files.
fn report_check_json(plan: &Plan) -> ExitCode {
    let prefixed = |env: &str, paths: &[String]| -> Vec<String> {
        paths.iter().map(|p| format!("out/{env}/{p}")).collect()
    };
    let mut clean = true;
    let envs: Vec<serde_json::Value> = plan
        .envs
        .iter()
        .map(|e| {
            let c = &e.changes;
            clean &= c.is_clean();
            serde_json::json!({
                "name": c.env,
                "missing": prefixed(&c.env, &c.missing),
                "stale": prefixed(&c.env, &c.stale),
                "extra": prefixed(&c.env, &c.extra),
                "edited": prefixed(&c.env, &c.edited),
            })
        })
        .collect();
    // Output roots outside out/ (`gitops { output ... }`), by their declared paths.
    let roots: Vec<serde_json::Value> = plan
        .envs
        .iter()
        .flat_map(|e| &e.roots)
        .map(|r| {
            let c = &r.changes;
            clean &= c.is_clean();
            let shown = |paths: &[String]| -> Vec<String> {
                paths.iter().map(|p| format!("{}/{p}", r.shown)).collect()
            };
            serde_json::json!({
                "output": r.output,
                "environment": r.env,
                "missing": shown(&c.missing),
                "stale": shown(&c.stale),
                "extra": shown(&c.extra),
            })
        })
        .collect();
    let mut doc = serde_json::json!({ "version": 1, "clean": clean, "environments": envs });
    if !roots.is_empty() {
        doc["roots"] = serde_json::Value::Array(roots);
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
    );
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Runs `work`, showing a progress line on a terminal when it takes a while.
fn with_progress<T>(
    global: &GlobalArgs,
    progress: &AtomicUsize,
    total: usize,
    work: impl FnOnce() -> T,
) -> T {
    if global.quiet || !std::io::stderr().is_terminal() {
        return work();
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let started = Instant::now();
            let mut shown = false;
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if started.elapsed() > Duration::from_millis(500) {
                    eprint!(
                        "\rrendering {}/{total} units",
                        progress.load(Ordering::Relaxed)
                    );
                    shown = true;
                }
            }
            if shown {
                eprint!("\r\x1b[2K");
            }
        });
        let result = work();
        done.store(true, Ordering::Relaxed);
        result
    })
}
