//! The stat data of every input a build read (`stacks.kdl`, `environments/`, `templates/`,
//! plain manifests, secret stores) and of the folders they sit in, so that a build whose
//! inputs and outputs are untouched is recognised without parsing anything, as git's index
//! recognises an unchanged work tree. A folder's mtime moves when a file is added to it or
//! removed from it, which is how a new template or overlay file is noticed.

use super::Stamp;
use crate::model::Stack;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Input files and folders, by path relative to the stack root.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct InputStamps {
    pub files: BTreeMap<String, Stamp>,
    /// Folders: (mtime, inode).
    pub dirs: BTreeMap<String, (i128, u64)>,
    /// Input files that did not exist (a secret store not created yet): creating one matters.
    pub absent: Vec<String>,
    /// An input changed while the build read it: its stamp may not match what was parsed.
    pub unsettled: bool,
}

impl InputStamps {
    /// Stamps everything `stack` was read from, plus the environments' secret stores.
    /// `started_ns` is when the build began reading: an input modified since is unsettled.
    pub fn record(stack: &Stack, started_ns: i128) -> InputStamps {
        let root = &stack.root;
        let mut stamps = InputStamps::default();
        for file in stack.sources.iter() {
            if file.name.starts_with('<') {
                continue;
            }
            let hash = blake3::hash(file.text.as_bytes());
            if let Some(stamp) = Stamp::take(&root.join(&*file.name), hash) {
                stamps.unsettled |=
                    stamp.mtime_ns + super::racy_window(stamp.mtime_ns) >= started_ns;
                stamps.files.insert(file.name.to_string(), stamp);
            }
        }
        for env in &stack.model.environments {
            let name = format!("environments/{}.secrets.sops.yaml", env.name.value);
            match std::fs::read(root.join(&name)) {
                Ok(bytes) => {
                    if let Some(stamp) = Stamp::take(&root.join(&name), blake3::hash(&bytes)) {
                        stamps.files.insert(name, stamp);
                    }
                }
                Err(_) => stamps.absent.push(name),
            }
        }
        // Not the root folder: building creates out/ and the cache there.
        let mut dirs = vec!["environments".to_string()];
        if !root.join("environments").is_dir() {
            stamps.absent.push("environments".to_string());
        }
        let templates = root.join("templates");
        for entry in walkdir::WalkDir::new(&templates)
            .follow_links(false)
            .into_iter()
            .flatten()
        {
            if entry.file_type().is_dir() {
                if let Ok(relative) = entry.path().strip_prefix(root) {
                    dirs.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        for dir in dirs {
            if let Some(stamp) = super::dir_stat(&root.join(&dir)) {
                stamps.dirs.insert(dir, stamp);
            }
        }
        stamps
    }

    /// Records that the build itself rewrote the input file `name` (a secret store) with
    /// bytes of this hash, so the next no-op check does not take that for an edit; the folder
    /// it sits in changed with it.
    pub fn restamp(&mut self, root: &Path, name: &str, hash: blake3::Hash) {
        if let Some(stamp) = Stamp::take(&root.join(name), hash) {
            self.files.insert(name.to_string(), stamp);
        }
        self.absent.retain(|a| a != name);
        if let Some((dir, _)) = name.rsplit_once('/') {
            self.absent.retain(|a| a != dir);
            if let Some(stamp) = super::dir_stat(&root.join(dir)) {
                self.dirs.insert(dir.to_string(), stamp);
            }
        }
    }

    /// Whether every input is as recorded (by stat; racy files by content).
    pub fn unchanged(&self, root: &Path, saved_at_ns: i128) -> bool {
        use rayon::prelude::*;
        !self.files.is_empty()
            && !self.unsettled
            && self.absent.iter().all(|name| !root.join(name).exists())
            && self.dirs.iter().all(|(dir, &(mtime, inode))| {
                // A folder changed within a timestamp tick of the save cannot be trusted.
                super::dir_stat(&root.join(dir)) == Some((mtime, inode))
                    && mtime + super::racy_window(mtime) <= saved_at_ns
            })
            && self
                .files
                .par_iter()
                .all(|(name, stamp)| stamp.verify(&root.join(name), saved_at_ns))
    }
}
