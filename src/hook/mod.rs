//! The git pre-commit hook: `stackc hook install` puts a small script into the repository's
//! hooks folder (honouring worktrees and `core.hooksPath`), and the script runs `stackc hook
//! run`, which refuses a commit that stages an unencrypted Kubernetes Secret or secrets store
//! anywhere in the repository, or that would commit an `out/` that is not what `stackc build`
//! writes for the staged inputs. The pre-commit framework runs the same command through the
//! repository's `.pre-commit-hooks.yaml`.
//!
//! - [`install`]: writing and removing the hook script, never clobbering a foreign hook.
//! - [`git`]: the few git plumbing calls the hook needs (staged paths and blobs, the index).
//!
//! The check of each staged file's bytes is `seal::scan`'s (`stackc check` uses it too).

pub mod git;
pub mod install;

pub use install::{install, uninstall, Installed};
