//! `stackc hook install|uninstall|run`: the git pre-commit hook. `run` is what the hook (and
//! the pre-commit framework, through `.pre-commit-hooks.yaml`) executes: it refuses staged
//! plaintext Secrets and secrets stores anywhere in the repository, and an `out/` that is not
//! what `stackc build` writes for the staged inputs.

use super::GlobalArgs;
use crate::diagnostics::{Diagnostics, IoError};
use crate::hook::{self, git, Installed};
use clap::{Args, Subcommand};
use miette::Diagnostic;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use thiserror::Error;

/// Arguments of `stackc hook`.
#[derive(Debug, Args)]
pub struct HookArgs {
    #[command(flatten)]
    pub identity: super::IdentityArgs,
    #[command(subcommand)]
    pub action: HookAction,
}

/// What to do with the hook.
#[derive(Debug, Subcommand)]
pub enum HookAction {
    /// Write the repository's pre-commit hook (idempotent; refuses a foreign hook).
    Install {
        /// Replace a hook stackc did not write (it is kept as pre-commit.before-stackc).
        #[arg(long)]
        force: bool,
    },
    /// Remove stackc's pre-commit hook (restoring the one it replaced, if any).
    Uninstall,
    /// Check what is staged: what the hook runs (exit 1 refuses the commit).
    Run,
}

/// A staged file that must not be committed.
#[derive(Debug, Error, Diagnostic)]
#[error("{path}:{line}: {problem}")]
#[diagnostic(
    code(stackc::hook::plaintext_secret),
    help("never commit a plaintext secret: declare it with `secret` in stacks.kdl (stackc seals it), or encrypt the file with `sops -e`; then `git add` it again")
)]
pub struct StagedPlaintext {
    pub path: String,
    pub line: usize,
    pub problem: String,
}

/// The staged out/ is not what a build writes.
#[derive(Debug, Error, Diagnostic)]
#[error("out/ is not what `stackc build` writes for the staged inputs")]
#[diagnostic(
    code(stackc::hook::stale_out),
    help("run `stackc build` and `git add out/`, then commit again")
)]
pub struct StaleOut;

/// Runs `stackc hook`.
pub fn run(global: &GlobalArgs, args: &HookArgs) -> Result<ExitCode, Diagnostics> {
    match args.action {
        HookAction::Install { force } => {
            let outcome = hook::install(&global.root, force)?;
            if !global.quiet {
                match outcome {
                    Installed::New(path) => eprintln!("installed {}", path.display()),
                    Installed::Unchanged(path) => {
                        eprintln!("{} is already stackc's hook", path.display());
                    }
                    Installed::Updated(path) => eprintln!("updated {}", path.display()),
                    Installed::Replaced(path, backup) => eprintln!(
                        "installed {} (the hook it replaced is kept as {})",
                        path.display(),
                        backup.display()
                    ),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        HookAction::Uninstall => {
            let removed = hook::uninstall(&global.root)?;
            if !global.quiet {
                match removed {
                    Some(path) => eprintln!("removed {}", path.display()),
                    None => eprintln!("no stackc pre-commit hook is installed"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        HookAction::Run => check_staged(global, &args.identity.identities),
    }
}

fn check_staged(global: &GlobalArgs, identities: &[PathBuf]) -> Result<ExitCode, Diagnostics> {
    let top = git::top_level(&global.root)?;
    let staged = git::staged_paths(&top)?;
    if staged.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let mut refused = Diagnostics::new();
    for (path, bytes) in git::staged_blobs(&top, &staged)? {
        for finding in crate::seal::scan::scan(&path, &bytes) {
            refused.push(StagedPlaintext {
                path: finding.path,
                line: finding.line,
                problem: finding.problem,
            });
        }
    }

    let stack_dir = hook::install::relative(&top, &global.root);
    let prefix = if stack_dir == "." {
        String::new()
    } else {
        format!("{stack_dir}/")
    };
    let relevant = staged.iter().any(|p| {
        p.strip_prefix(&prefix).is_some_and(|rest| {
            rest == "stacks.kdl"
                || ["environments/", "templates/", "out/"]
                    .iter()
                    .any(|d| rest.starts_with(d))
                || [".yaml", ".yml", ".json"].iter().any(|e| rest.ends_with(e))
        })
    });
    if relevant && global.root.join("stacks.kdl").is_file() {
        let specs: Vec<String> = ["stacks.kdl", "environments", "templates", "out"]
            .iter()
            .map(|p| format!("{prefix}{p}"))
            .chain(
                ["yaml", "yml", "json"]
                    .iter()
                    .map(|e| format!(":(glob){prefix}**/*.{e}")),
            )
            .collect();
        let snapshot;
        let root = if git::work_tree_differs(&top, &specs)? {
            // What is committed is not the work tree: check a snapshot of the index.
            snapshot = tempfile::tempdir()
                .map_err(|e| IoError::new("create a temporary folder", "/tmp", e))?;
            git::export_index(&top, &specs, snapshot.path())?;
            snapshot.path().join(&stack_dir)
        } else {
            // The work tree is what is staged: the usual stat-fast check, cache and all.
            global.root.clone()
        };
        if !run_stackc(&root, identities, &["build", "--check"])? {
            refused.push(StaleOut);
        }
        // The rules print their own findings.
        if !run_stackc(&root, &[], &["check"])? {
            refused.push(RulesFailed);
        }
    }
    if refused.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    super::report(&refused);
    eprintln!("stackc: commit refused");
    Ok(ExitCode::from(1))
}

/// Runs `stackc ARGS` (`build --check`, `check`) on `root` as its own process (its output
/// goes to the hook's); whether it found nothing (exit 0) or something (exit 1).
fn run_stackc(root: &Path, identities: &[PathBuf], args: &[&str]) -> Result<bool, Diagnostics> {
    let exe = std::env::current_exe().map_err(|e| IoError::new("find", "stackc", e))?;
    let mut command = Command::new(exe);
    command.arg("-q").arg("-C").arg(root);
    // `build --check` answers only whether out/ is current: the rules are `check`'s, next.
    command.env(crate::check::gate::SWITCH, "off");
    let status = command
        .args(args)
        .args(
            identities
                .iter()
                .flat_map(|i| [std::ffi::OsStr::new("--identity"), i.as_os_str()]),
        )
        .status()
        .map_err(|e| IoError::new("run", format!("stackc {}", args.join(" ")), e))?;
    match status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(HookCheckFailed.into()),
    }
}

/// `stackc check` found errors (its findings are above).
#[derive(Debug, Error, Diagnostic)]
#[error("`stackc check` found errors in the staged stack")]
#[diagnostic(
    code(stackc::hook::check_failed_rules),
    help("fix what the rules above point at (or allow a rule with `allow \"ID\" reason=\"...\"`), then commit again")
)]
pub struct RulesFailed;

/// `build --check` or `check` could not check (its diagnostics are above).
#[derive(Debug, Error, Diagnostic)]
#[error("stackc could not check the staged stack")]
#[diagnostic(
    code(stackc::hook::check_failed),
    help("fix the errors above (they describe the staged files), then commit again")
)]
pub struct HookCheckFailed;
