//! Writing and removing `.git/hooks/pre-commit` (wherever git runs hooks from). A hook stackc
//! wrote carries [`MARKER`]: reinstalling it is idempotent, uninstalling removes only it, and
//! a foreign hook is never overwritten unless asked (`--force`, which keeps it as a backup
//! that `uninstall` puts back).

use super::git;
use crate::diagnostics::{Diagnostics, IoError};
use miette::Diagnostic;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The line that marks a hook as stackc's.
pub const MARKER: &str = "# stackc pre-commit hook";
/// Where `--force` keeps the hook it replaced.
const BACKUP: &str = "pre-commit.before-stackc";

/// What `install` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    /// A new hook at this path.
    New(PathBuf),
    /// Our hook was already there, byte for byte.
    Unchanged(PathBuf),
    /// Our older hook was rewritten.
    Updated(PathBuf),
    /// A foreign hook was replaced and kept at the second path.
    Replaced(PathBuf, PathBuf),
}

/// A pre-commit hook that stackc did not write.
#[derive(Debug, Error, Diagnostic)]
#[error("{path} is a pre-commit hook stackc did not write")]
#[diagnostic(
    code(stackc::hook::foreign_hook),
    help("`stackc hook install --force` replaces it and keeps it as {BACKUP} (restored by `stackc hook uninstall`); or call `stackc hook run` from it yourself, or use the pre-commit framework (.pre-commit-hooks.yaml)")
)]
pub struct ForeignHook {
    pub path: String,
}

/// `--force` would lose an earlier backup.
#[derive(Debug, Error, Diagnostic)]
#[error("{backup} already exists")]
#[diagnostic(
    code(stackc::hook::backup_exists),
    help("a hook replaced earlier is kept there; move it away before replacing another")
)]
pub struct BackupExists {
    pub backup: String,
}

/// The hook script for a stack at `stack_dir` (relative to the top of the work tree).
pub fn script(stackc: &Path, stack_dir: &str) -> String {
    format!(
        "#!/bin/sh\n{MARKER}: written by `stackc hook install`, removed by `stackc hook uninstall`.\n\
         # Refuses staged plaintext Secrets and secrets stores, and an out/ that `stackc build` would change.\n\
         STACKC={}\n\
         command -v \"$STACKC\" >/dev/null 2>&1 || STACKC=stackc\n\
         exec \"$STACKC\" -C {} hook run\n",
        shell_quote(&stackc.display().to_string()),
        shell_quote(stack_dir)
    )
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Installs the hook for the stack at `stack_root`.
pub fn install(stack_root: &Path, force: bool) -> Result<Installed, Diagnostics> {
    let top = git::top_level(stack_root)?;
    let hooks = git::hooks_dir(stack_root)?;
    let stack_dir = relative(&top, stack_root);
    let stackc = std::env::current_exe().map_err(|e| IoError::new("find", "stackc", e))?;
    let wanted = script(&stackc, &stack_dir);
    let path = hooks.join("pre-commit");
    let outcome = match std::fs::read(&path) {
        Ok(bytes) if bytes == wanted.as_bytes() => return Ok(Installed::Unchanged(path)),
        Ok(bytes) if String::from_utf8_lossy(&bytes).contains(MARKER) => {
            Installed::Updated(path.clone())
        }
        Ok(_) if !force => {
            return Err(ForeignHook {
                path: path.display().to_string(),
            }
            .into())
        }
        Ok(_) => {
            let backup = hooks.join(BACKUP);
            if backup.exists() {
                return Err(BackupExists {
                    backup: backup.display().to_string(),
                }
                .into());
            }
            std::fs::rename(&path, &backup).map_err(|e| IoError::new("move", &path, e))?;
            Installed::Replaced(path.clone(), backup)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Installed::New(path.clone()),
        Err(e) => return Err(IoError::new("read", &path, e).into()),
    };
    std::fs::create_dir_all(&hooks).map_err(|e| IoError::new("create folder", &hooks, e))?;
    write_executable(&path, wanted.as_bytes())?;
    Ok(outcome)
}

/// Removes stackc's hook (restoring the hook `--force` replaced); `None` when there was none.
pub fn uninstall(stack_root: &Path) -> Result<Option<PathBuf>, Diagnostics> {
    let hooks = git::hooks_dir(stack_root)?;
    let path = hooks.join("pre-commit");
    match std::fs::read(&path) {
        Ok(bytes) if String::from_utf8_lossy(&bytes).contains(MARKER) => {
            std::fs::remove_file(&path).map_err(|e| IoError::new("remove", &path, e))?;
            let backup = hooks.join(BACKUP);
            if backup.exists() {
                std::fs::rename(&backup, &path).map_err(|e| IoError::new("restore", &backup, e))?;
            }
            Ok(Some(path))
        }
        Ok(_) => Err(ForeignHook {
            path: path.display().to_string(),
        }
        .into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(IoError::new("read", &path, e).into()),
    }
}

/// `stack_root` relative to the top of the work tree (`.` when they are the same).
pub fn relative(top: &Path, stack_root: &Path) -> String {
    let top = top.canonicalize().unwrap_or_else(|_| top.to_path_buf());
    let root = stack_root
        .canonicalize()
        .unwrap_or_else(|_| stack_root.to_path_buf());
    match root.strip_prefix(&top) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().replace('\\', "/"),
        _ => ".".to_string(),
    }
}

fn write_executable(path: &Path, bytes: &[u8]) -> Result<(), Diagnostics> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| IoError::new("create a temporary file in", dir, e))?;
    temp.write_all(bytes)
        .map_err(|e| IoError::new("write", temp.path(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| IoError::new("make executable", temp.path(), e))?;
    }
    temp.persist(path)
        .map_err(|e| IoError::new("write", path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_quotes_paths_and_carries_the_marker() {
        let text = script(Path::new("/opt/it's/stackc"), "infra/stack");
        assert!(text.starts_with("#!/bin/sh\n"));
        assert!(text.contains(MARKER));
        assert!(text.contains("STACKC='/opt/it'\\''s/stackc'\n"));
        assert!(text.contains("exec \"$STACKC\" -C 'infra/stack' hook run\n"));
    }
}
