//! What most commands start with: the stack loaded and resolved, environment names checked,
//! and the build lock.

use super::GlobalArgs;
use crate::diagnostics::{did_you_mean, Diagnostics, IoError};
use crate::model::Stack;
use crate::resolve::Resolved;
use miette::Diagnostic;
use std::path::PathBuf;
use thiserror::Error;

/// A loaded, resolved stack.
pub struct Session {
    pub stack: Stack,
    pub resolved: Resolved,
}

/// A name given on the command line that the stack does not declare.
#[derive(Debug, Error, Diagnostic)]
#[error("unknown {kind} `{name}`")]
#[diagnostic(code(stackc::cli::unknown_name))]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
    #[help]
    pub help: Option<String>,
}

/// Another build holds the lock.
#[derive(Debug, Error, Diagnostic)]
#[error("another stackc build is running on this stack (lock held on {path})")]
#[diagnostic(
    code(stackc::cli::locked),
    help("wait for it to finish; the lock is released when that process exits")
)]
pub struct Locked {
    pub path: String,
}

/// The build lock; released on drop.
pub struct BuildLock {
    _file: std::fs::File,
}

impl Session {
    /// Loads and resolves the stack at `global.root`.
    pub fn open(global: &GlobalArgs) -> Result<Session, Diagnostics> {
        let stack = crate::model::load(&global.root)?;
        let resolved = crate::resolve::resolve(&stack)?;
        Ok(Session { stack, resolved })
    }

    /// Loads the stack at `global.root` and only its environments: the build resolves each
    /// unit on demand, so unchanged units cost nothing.
    pub fn open_lazy(global: &GlobalArgs) -> Result<Session, Diagnostics> {
        let stack = crate::model::load(&global.root)?;
        let resolved = crate::resolve::environments(&stack);
        Ok(Session { stack, resolved })
    }

    /// The environments named (checked), or all of them when none are.
    pub fn select_environments(&self, names: &[String]) -> Result<Vec<String>, Diagnostics> {
        let known: Vec<&str> = self
            .stack
            .model
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        if names.is_empty() {
            return Ok(known.iter().map(|s| (*s).to_string()).collect());
        }
        let mut errors = Diagnostics::new();
        for name in names {
            if !known.contains(&name.as_str()) {
                errors.push(UnknownName {
                    kind: "environment",
                    name: name.clone(),
                    help: did_you_mean(name, known.iter().copied())
                        .or_else(|| Some(format!("environments: {}", known.join(", ")))),
                });
            }
        }
        errors.into_result(names.to_vec())
    }

    /// `out/` of this stack.
    pub fn out_dir(&self) -> PathBuf {
        self.stack.root.join("out")
    }

    /// The cache folder (gitignored).
    pub fn cache_dir(&self) -> PathBuf {
        self.stack.root.join(crate::CACHE_DIR)
    }

    /// Takes the build lock, so two builds never write `out/` at once.
    pub fn lock(&self) -> Result<BuildLock, Diagnostics> {
        lock_dir(&self.cache_dir())
    }
}

/// Takes the build lock in the cache folder `dir`.
pub fn lock_dir(dir: &std::path::Path) -> Result<BuildLock, Diagnostics> {
    use fs4::fs_std::FileExt;
    {
        std::fs::create_dir_all(dir).map_err(|e| IoError::new("create folder", dir, e))?;
        let path = dir.join("build.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| IoError::new("open", &path, e))?;
        match file.try_lock_exclusive() {
            Ok(true) => Ok(BuildLock { _file: file }),
            Ok(false) => Err(Locked {
                path: path.display().to_string(),
            }
            .into()),
            Err(e) => Err(IoError::new("lock", &path, e).into()),
        }
    }
}

/// The most render threads `-j` accepts: far more than any machine has cores, and few
/// enough that starting them is instant (each thread reserves its own stack).
pub const MAX_JOBS: usize = 256;

/// A `-j` value out of range.
#[derive(Debug, Error, Diagnostic)]
#[error("`-j {given}`: {reason}")]
#[diagnostic(
    code(stackc::cli::bad_jobs),
    help("give a number of threads from 1 to {MAX_JOBS}, or leave `-j` out to use every core")
)]
pub struct BadJobs {
    pub given: usize,
    pub reason: String,
}

/// Sets the size of the render thread pool; refuses 0 and anything above [`MAX_JOBS`].
pub fn set_jobs(jobs: Option<usize>) -> Result<(), Diagnostics> {
    let Some(n) = jobs else { return Ok(()) };
    if n == 0 {
        return Err(BadJobs {
            given: n,
            reason: "a build needs at least one thread".to_string(),
        }
        .into());
    }
    if n > MAX_JOBS {
        return Err(BadJobs {
            given: n,
            reason: format!("at most {MAX_JOBS} threads are allowed"),
        }
        .into());
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .map_err(|e| crate::diagnostics::Internal(format!("cannot start {n} threads: {e}")))?;
    Ok(())
}
