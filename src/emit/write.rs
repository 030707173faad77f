//! Bringing `out/<env>/` to the wanted state: compare, then write only files whose bytes
//! change (temp file + rename in the same folder, so a reader never sees half a file), prune
//! files stackc wrote before and no longer produces (listed in `.stackc-files`), and never
//! touch a file stackc did not write.

use super::layout::{Content, Files, INDEX_FILE};
use crate::diagnostics::{Diagnostics, IoError};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// What differs between the wanted tree and the disk.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EnvChanges {
    pub env: String,
    /// Wanted files that do not exist yet.
    pub missing: Vec<String>,
    /// Files whose bytes differ from what a build would write.
    pub stale: Vec<String>,
    /// Of the stale ones, files changed on disk since stackc wrote them (edited by hand).
    pub edited: Vec<String>,
    /// Files stackc wrote before and no longer produces.
    pub extra: Vec<String>,
    /// Files already right.
    pub unchanged: usize,
}

impl EnvChanges {
    /// Whether the disk already matches.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.stale.is_empty() && self.extra.is_empty()
    }
}

/// How to tell, without reading a file, that it is what stackc last wrote.
pub trait WrittenBefore: Sync {
    /// `Some(true)` when the file at `path` is unchanged since stackc wrote `hash` there,
    /// `Some(false)` when stackc wrote it and it has changed since, `None` when unknown.
    fn check(&self, path: &str, hash: &blake3::Hash) -> Option<bool>;
}

/// No memory of earlier writes: every file is read and compared.
pub struct NoMemory;

impl WrittenBefore for NoMemory {
    fn check(&self, _: &str, _: &blake3::Hash) -> Option<bool> {
        None
    }
}

/// Compares the wanted files with `dir` (`out/<env>`).
pub fn compare(
    env: &str,
    dir: &Path,
    files: &Files,
    memory: &dyn WrittenBefore,
) -> Result<EnvChanges, Diagnostics> {
    use rayon::prelude::*;
    let results: Vec<(String, FileState)> = files
        .par_iter()
        .map(|(path, content)| {
            let bytes = match content {
                // The caller verified it against the cache's stat data.
                Content::Kept(_) => return (path.clone(), FileState::Same),
                Content::Bytes(bytes) => bytes,
            };
            let hash = blake3::hash(bytes);
            let state = match memory.check(path, &hash) {
                Some(true) => FileState::Same,
                known => match std::fs::read(dir.join(path)) {
                    Ok(current) if current == *bytes => FileState::Same,
                    Ok(_) if known == Some(false) => FileState::Edited,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileState::Missing,
                    Ok(_) | Err(_) => FileState::Stale,
                },
            };
            (path.clone(), state)
        })
        .collect();
    let mut changes = EnvChanges {
        env: env.to_string(),
        ..EnvChanges::default()
    };
    for (path, state) in results {
        match state {
            FileState::Same => changes.unchanged += 1,
            FileState::Missing => changes.missing.push(path),
            FileState::Stale => changes.stale.push(path),
            FileState::Edited => {
                changes.edited.push(path.clone());
                changes.stale.push(path);
            }
        }
    }
    for old in read_index(dir)? {
        if !files.contains_key(&old) && dir.join(&old).exists() {
            changes.extra.push(old);
        }
    }
    Ok(changes)
}

enum FileState {
    Same,
    Missing,
    Stale,
    Edited,
}

/// The files stackc wrote last time, from `out/<env>/.stackc-files`.
pub fn read_index(dir: &Path) -> Result<Vec<String>, Diagnostics> {
    let path = dir.join(INDEX_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            // Never follow an index entry out of the tree, whatever the file says.
            .filter(|l| is_safe_relative(l))
            .map(str::to_string)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(IoError::new("read", &path, e).into()),
    }
}

fn is_safe_relative(path: &str) -> bool {
    !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// The index file's bytes for a set of files.
pub fn index_bytes(files: &Files) -> Vec<u8> {
    let mut out = String::from("# Files written by stackc; it prunes only these. Do not edit.\n");
    for path in files.keys() {
        out.push_str(path);
        out.push('\n');
    }
    out.into_bytes()
}

/// Applies `changes` to `dir`: writes missing and stale files, prunes extra ones, and
/// rewrites the index. Returns the paths written.
pub fn apply(dir: &Path, files: &Files, changes: &EnvChanges) -> Result<Vec<String>, Diagnostics> {
    use rayon::prelude::*;
    let to_write: Vec<&String> = changes.missing.iter().chain(&changes.stale).collect();
    let errors: Vec<IoError> = to_write
        .par_iter()
        .filter_map(|path| match files.get(path.as_str())? {
            Content::Bytes(bytes) => write_atomic(&dir.join(path.as_str()), bytes).err(),
            Content::Kept(_) => None,
        })
        .collect();
    let mut diagnostics = Diagnostics::new();
    for e in errors {
        diagnostics.push(e);
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    for path in &changes.extra {
        let full = dir.join(path);
        if let Err(e) = std::fs::remove_file(&full) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(IoError::new("remove", &full, e).into());
            }
        }
        remove_empty_parents(dir, &full);
    }
    let index = index_bytes(files);
    let index_path = dir.join(INDEX_FILE);
    if std::fs::read(&index_path).ok().as_deref() != Some(index.as_slice()) {
        write_atomic(&index_path, &index).map_err(Diagnostics::from)?;
    }
    Ok(to_write.into_iter().cloned().collect())
}

/// Removes the now-empty folders between `file` and `root`.
fn remove_empty_parents(root: &Path, file: &Path) {
    let mut current: Option<PathBuf> = file.parent().map(Path::to_path_buf);
    while let Some(folder) = current {
        if folder == root || !folder.starts_with(root) || std::fs::remove_dir(&folder).is_err() {
            break;
        }
        current = folder.parent().map(Path::to_path_buf);
    }
}

/// Writes `bytes` to `path` through a temp file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| IoError::new("create folder", dir, e))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".stackc-")
        .tempfile_in(dir)
        .map_err(|e| IoError::new("create a temp file in", dir, e))?;
    temp.write_all(bytes)
        .map_err(|e| IoError::new("write", temp.path(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(|e| IoError::new("set permissions of", path, e))?;
    }
    temp.persist(path)
        .map_err(|e| IoError::new("replace", path, e.error))?;
    Ok(())
}
