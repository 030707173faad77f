//! `stackc build`: render `out/` (or, with `--check`, verify it without writing).

use super::{GlobalArgs, Session};
use crate::build::{Engine, EnvPlan};
use crate::cache::{self, EnvCache, InputStamps, OutMemory};
use crate::diagnostics::Diagnostics;
use crate::emit::{self, EnvChanges};
use clap::Args;
use rayon::prelude::*;
use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

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
    /// Render with this many threads, from 1 to 256 (default: all cores).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
}

/// An environment's plan, the cache it was planned against, and what sealing found (the
/// Secrets `--check` found stale without an identity, and the store update to write).
type Planned = (EnvPlan, EnvCache, crate::seal::environment::Sealed);

/// Runs `stackc build`.
pub fn run(global: &GlobalArgs, args: &BuildArgs) -> Result<ExitCode, Diagnostics> {
    let started = Instant::now();
    let started_ns = cache::now_ns();
    super::set_jobs(args.jobs)?;
    let root = &global.root;
    let cache_dir = root.join(crate::CACHE_DIR);
    // Taken before anything is read, and held to the end, so two builds never interleave.
    let _lock = if args.check || !root.join("stacks.kdl").is_file() {
        None
    } else {
        Some(super::session::lock_dir(&cache_dir)?)
    };
    // Nothing changed since the last build, by stat alone: no need to parse anything.
    if let Some((envs, units)) =
        cache::up_to_date(root, &cache_dir, &root.join("out"), &args.environments)
    {
        if args.check {
            if !global.quiet {
                eprintln!("out/ is up to date ({envs} environments)");
            }
        } else if !global.quiet {
            eprintln!(
                "built {envs} environment{}: 0 units rendered, {units} skipped; 0 files written, 0 pruned in {:.2}s (nothing changed)",
                if envs == 1 { "" } else { "s" },
                started.elapsed().as_secs_f64()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let timings = std::env::var_os("STACKC_TIMINGS").is_some();
    let phase = |name: &str| {
        if timings {
            eprintln!(
                "[{:>7.1} ms] {name}",
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
    };
    phase("no-op check");
    let session = Session::open_lazy(global)?;
    phase("load");
    let envs = session.select_environments(&args.environments)?;
    let engine = Engine::new(&session.stack)?;
    let cache_dir = session.cache_dir();
    let out = session.out_dir();
    let selected: Vec<_> = session
        .resolved
        .environments
        .iter()
        .filter(|e| envs.contains(&e.name))
        .collect();
    let total: usize = selected.len() * session.stack.model.services.len();

    // Render everything first; nothing is written unless every environment rendered.
    // Environments are independent: plan them side by side (units inside are parallel too).
    let plans = with_progress(global, &engine, total, || {
        let results: Vec<Result<Planned, Diagnostics>> = selected
            .par_iter()
            .map(|env| {
                let cache = cache::load(&cache_dir, &env.name);
                let dir = out.join(&env.name);
                let mut sealed = crate::seal::environment::seal_environment(
                    &session.stack,
                    env,
                    &dir,
                    &global.identities,
                    args.check,
                )?;
                let plan = engine.plan(env, &cache, &dir, std::mem::take(&mut sealed.files))?;
                Ok((plan, cache, sealed))
            })
            .collect();
        let mut errors = Diagnostics::new();
        let mut plans = Vec::new();
        for result in results {
            match result {
                Ok(plan) => plans.push(plan),
                Err(e) => errors.extend(e),
            }
        }
        errors.into_result(plans)
    })?;

    phase("render and seal");
    let compared: Vec<Result<EnvChanges, Diagnostics>> = plans
        .par_iter()
        .map(|(plan, cache, unsealed)| {
            let dir = out.join(&plan.env);
            let memory = OutMemory { dir: &dir, cache };
            let mut env_changes = emit::compare(&plan.env, &dir, &plan.files, &memory)?;
            for path in &unsealed.stale {
                if !env_changes.missing.contains(path) {
                    env_changes.stale.push(path.clone());
                }
            }
            for path in &unsealed.edited {
                if !env_changes.edited.contains(path) {
                    env_changes.edited.push(path.clone());
                }
            }
            Ok(env_changes)
        })
        .collect();
    let changes: Vec<EnvChanges> = compared.into_iter().collect::<Result<_, _>>()?;

    phase("compare");
    if args.check {
        return Ok(report_check(global, &changes));
    }

    let inputs = InputStamps::record(&session.stack, started_ns);
    // Caches only cost speed when they cannot be saved.
    if let Err(e) = session.stack.parse_cache.save(&cache_dir) {
        eprintln!("warning: {e}");
    }
    if let Err(e) = cache::save_environments(
        &cache_dir,
        &session
            .stack
            .model
            .environments
            .iter()
            .map(|e| e.name.value.clone())
            .collect::<Vec<_>>(),
    ) {
        eprintln!("warning: {e}");
    }
    // `-q` prints only errors: a restored hand edit is a warning.
    let plans_and_changes = plans.iter().map(|(plan, _, _)| plan).zip(&changes);
    for (plan, changes) in plans_and_changes.filter(|_| !global.quiet) {
        for path in &changes.edited {
            eprintln!(
                "warning: out/{}/{path} was edited by hand; restoring it",
                plan.env
            );
        }
    }
    // Every environment planned: only now may a store change (generated values, new
    // recipients), right before the out/ files sealed from it.
    for (_, _, sealed) in &plans {
        if let Some(update) = &sealed.store {
            update.write().map_err(Diagnostics::from)?;
        }
        // Said once it is true (a failed build generated nothing), in environment order.
        if !global.quiet {
            for note in &sealed.notes {
                eprintln!("{note}");
            }
        }
    }
    let applied: Vec<Result<Vec<String>, Diagnostics>> = plans
        .par_iter()
        .zip(&changes)
        .map(|((plan, old_cache, _), changes)| {
            let dir = out.join(&plan.env);
            let paths = emit::apply(&dir, &plan.files, changes)?;
            let mut new_cache = plan.next_cache(&dir, old_cache, &paths, &inputs);
            // A cache that cannot be saved only costs speed next time.
            if let Err(e) = cache::save(&cache_dir, &plan.env, &mut new_cache) {
                eprintln!("warning: {e}");
            }
            Ok(paths)
        })
        .collect();
    let (mut written, mut pruned, mut rendered, mut skipped) = (0, 0, 0, 0);
    for (((plan, _, _), changes), paths) in plans.iter().zip(&changes).zip(applied) {
        let paths = paths?;
        if global.verbose {
            for path in &paths {
                eprintln!("wrote out/{}/{path}", plan.env);
            }
            for path in &changes.extra {
                eprintln!("pruned out/{}/{path}", plan.env);
            }
        }
        written += paths.len();
        pruned += changes.extra.len();
        rendered += plan.rendered;
        skipped += plan.skipped;
    }
    phase("write and remember");
    if !global.quiet {
        eprintln!(
            "built {} environment{}: {rendered} units rendered, {skipped} skipped; {written} files written, {pruned} pruned in {:.2}s",
            plans.len(),
            if plans.len() == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn report_check(global: &GlobalArgs, all_changes: &[EnvChanges]) -> ExitCode {
    let mut clean = true;
    for changes in all_changes {
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
    if clean {
        if !global.quiet {
            eprintln!("out/ is up to date ({} environments)", all_changes.len());
        }
        return ExitCode::SUCCESS;
    }
    eprintln!("out/ is not what `stackc build` would write; run `stackc build`");
    ExitCode::from(1)
}

/// Runs `work`, showing a progress line on a terminal when it takes a while.
fn with_progress<T>(
    global: &GlobalArgs,
    engine: &Engine<'_>,
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
                        engine.progress.load(Ordering::Relaxed)
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
