//! Comparing `out/<env>/` with the wanted state: which files are missing, stale, edited by
//! hand, or extra (written by stackc before, listed in `.stackc-files`, and no longer
//! produced: the only files a build prunes). Writing is `apply`'s.

use super::layout::{Content, Files, INDEX_FILE};
use crate::diagnostics::{Diagnostics, IoError};
use std::path::Path;

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
