//! The incremental engine's memory, per environment: for every render unit the blake3 key of
//! its inputs and the files it produced, and for every file of `out/` the stat data and hash
//! of what stackc last wrote there (as git's index does), so a no-op build reads no file.
//!
//! The cache is an optimisation only: a missing, corrupt, truncated or other-version cache is
//! ignored and rebuilt, and it never holds plaintext (only hashes of rendered, non-secret
//! files and of sealed ciphertext files).

mod inputs;
mod key;

pub use inputs::InputStamps;
pub use key::{unit_key, TemplateDeps};

use crate::diagnostics::IoError;
use crate::emit::WrittenBefore;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

const MAGIC: &str = "stackc-cache";
const FORMAT: u32 = 4;

/// What one environment's last build rendered and wrote.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct EnvCache {
    /// Render units by name (a service name), with their key and output files.
    pub units: BTreeMap<String, UnitRecord>,
    /// Stat data of every file written, by path relative to `out/<env>/`.
    pub stamps: BTreeMap<String, Stamp>,
    /// When the cache was saved (ns since the epoch): a file modified in the second before
    /// could be modified again without its mtime moving, so it is verified by content.
    pub saved_at_ns: i128,
    /// Every input the build read, so a no-op build is decided by stat alone.
    pub inputs: InputStamps,
}

impl EnvCache {
    /// Whether neither the inputs nor `out/<env>` (`dir`) changed since this cache was saved:
    /// then a build has nothing to do, and nothing needs to be parsed to know it.
    pub fn is_current(&self, root: &Path, dir: &Path) -> bool {
        use rayon::prelude::*;
        !self.stamps.is_empty()
            && self.inputs.unchanged(root, self.saved_at_ns)
            && self
                .stamps
                .par_iter()
                .all(|(path, stamp)| stamp.verify(&dir.join(path), self.saved_at_ns))
    }
}

/// A render unit's key and the files it produced (path and blake3 hex of the bytes).
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnitRecord {
    pub key: String,
    pub files: Vec<(String, String)>,
    /// The unit's source key: its service's declaration text and every input outside the
    /// service declarations. Equal source keys skip even resolving the unit.
    #[serde(default)]
    pub source: String,
    /// The identity (`apiVersion/kind/namespace/name`) of every object the unit renders, so
    /// that two units rendering one object are caught even when one of them is kept.
    #[serde(default)]
    pub objects: Vec<String>,
    /// What `check::gate` remembers of the unit: the unit-scope rules that found something
    /// (before allows) and the facts of its objects (opaque text to the cache).
    #[serde(default)]
    pub check_rules: Vec<String>,
    #[serde(default)]
    pub check_facts: String,
}

/// What a file looked like right after stackc wrote or verified it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: i128,
    pub inode: u64,
    /// Raw bytes: 32 of them in the binary cache.
    pub hash: [u8; 32],
}

/// How close to the cache's save time an mtime makes a stamp untrustworthy: a later write in
/// the same timestamp tick would not move the mtime. File systems with sub-second timestamps
/// tick with the kernel's coarse clock (a few ms); others in whole seconds.
const RACY_FINE_NS: i128 = 20_000_000;
const RACY_COARSE_NS: i128 = 1_000_000_000;

/// The racy window for a file with this mtime: an mtime with no sub-second part most likely
/// comes from a whole-second file system.
pub(crate) fn racy_window(mtime_ns: i128) -> i128 {
    if mtime_ns % 1_000_000_000 == 0 {
        RACY_COARSE_NS
    } else {
        RACY_FINE_NS
    }
}

/// Now, in ns since the epoch (the clock file times use).
pub fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

impl Stamp {
    /// The stamp of `path` as it is now, with the hash of the bytes believed to be there.
    pub fn take(path: &Path, hash: blake3::Hash) -> Option<Stamp> {
        let (size, mtime_ns, inode) = stat(path)?;
        Some(Stamp {
            size,
            mtime_ns,
            inode,
            hash: *hash.as_bytes(),
        })
    }

    /// Whether the stamp was taken too close to `saved_at_ns` to be trusted by stat alone.
    pub fn is_racy(&self, saved_at_ns: i128) -> bool {
        self.mtime_ns + racy_window(self.mtime_ns) > saved_at_ns
    }

    /// Whether `path` still is exactly what this stamp recorded, judged by stat alone.
    pub fn matches(&self, path: &Path, saved_at_ns: i128) -> bool {
        !self.is_racy(saved_at_ns) && stat(path) == Some((self.size, self.mtime_ns, self.inode))
    }

    /// Whether `path` still holds the bytes this stamp recorded: by stat, and for a racy stamp
    /// (taken within a timestamp tick of the save) also by reading and hashing the file.
    pub fn verify(&self, path: &Path, saved_at_ns: i128) -> bool {
        if stat(path) != Some((self.size, self.mtime_ns, self.inode)) {
            return false;
        }
        !self.is_racy(saved_at_ns)
            || std::fs::read(path).is_ok_and(|bytes| *blake3::hash(&bytes).as_bytes() == self.hash)
    }
}

/// A regular file's size, mtime (ns) and inode; `None` for anything else.
pub(crate) fn stat(path: &Path) -> Option<(u64, i128, u64)> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let (mtime, inode) = mtime_and_inode(&meta)?;
    Some((meta.len(), mtime, inode))
}

/// A folder's mtime (ns) and inode; `None` for anything else.
pub(crate) fn dir_stat(path: &Path) -> Option<(i128, u64)> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_dir() {
        return None;
    }
    mtime_and_inode(&meta)
}

#[allow(clippy::unnecessary_wraps, reason = "only unix always knows the mtime")]
fn mtime_and_inode(meta: &std::fs::Metadata) -> Option<(i128, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((
            i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            meta.ino(),
        ))
    }
    #[cfg(not(unix))]
    {
        let mtime = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos();
        Some((i128::try_from(mtime).ok()?, 0))
    }
}

/// The cache's view of `out/<env>/`: a file is known-good when its stat data still matches.
pub struct OutMemory<'a> {
    pub dir: &'a Path,
    pub cache: &'a EnvCache,
}

impl WrittenBefore for OutMemory<'_> {
    fn check(&self, path: &str, hash: &blake3::Hash) -> Option<bool> {
        let stamp = self.cache.stamps.get(path)?;
        if stamp.verify(&self.dir.join(path), self.cache.saved_at_ns) {
            // Unchanged since stackc wrote it: right if it is what we want now, else stale.
            (stamp.hash == *hash.as_bytes()).then_some(true)
        } else {
            // Changed since stackc wrote it: edited by hand (or removed).
            Some(false)
        }
    }
}

/// The file listing every environment of the stack at the last build.
const ENVIRONMENTS_FILE: &str = "environments";

/// The environments file's name and bytes: the stack's environments, so a no-op `stackc
/// build` knows them without parsing.
pub fn environments_file(envs: &[String]) -> (String, Vec<u8>) {
    let mut text = envs.join("\n");
    text.push('\n');
    (ENVIRONMENTS_FILE.to_string(), text.into_bytes())
}

/// The no-op check: when `requested` (or, if empty, every environment of the last build) is
/// current by stat alone, the number of environments and of render units; else `None`.
pub fn up_to_date(
    root: &Path,
    cache_dir: &Path,
    out: &Path,
    requested: &[String],
) -> Option<(usize, usize)> {
    let text = std::fs::read_to_string(cache_dir.join(ENVIRONMENTS_FILE)).ok()?;
    let known: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let envs: Vec<String> = if requested.is_empty() {
        known.clone()
    } else {
        requested.to_vec()
    };
    // A build killed mid-write left temp files: the next build removes them.
    if envs.is_empty()
        || envs.iter().any(|e| !known.contains(e))
        || crate::fs::staging_left_over(root)
    {
        return None;
    }
    let mut units = 0;
    for env in &envs {
        let cache = load(cache_dir, env);
        if !cache.is_current(root, &out.join(env)) {
            return None;
        }
        units += cache.units.len();
    }
    Some((envs.len(), units))
}

/// The name of an environment's cache file in the cache folder.
pub fn cache_file_name(env: &str) -> String {
    format!("{env}.cache")
}

/// The cache file of an environment.
fn cache_path(cache_dir: &Path, env: &str) -> std::path::PathBuf {
    cache_dir.join(cache_file_name(env))
}

/// Loads an environment's cache; anything unreadable yields an empty cache.
pub fn load(cache_dir: &Path, env: &str) -> EnvCache {
    let Ok(bytes) = std::fs::read(cache_path(cache_dir, env)) else {
        return EnvCache::default();
    };
    decode(&bytes).unwrap_or_default()
}

/// Decodes a cache file written by [`save_file`]: `None` when it is damaged, truncated or
/// from another stackc.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let newline = bytes.iter().position(|b| *b == b'\n')?;
    let header = std::str::from_utf8(&bytes[..newline]).ok()?;
    let body = &bytes[newline + 1..];
    let mut parts = header.split(' ');
    let ok = parts.next() == Some(MAGIC)
        && parts.next() == Some(&FORMAT.to_string())
        && parts.next() == Some(env!("CARGO_PKG_VERSION"))
        && parts.next() == Some(blake3::hash(body).to_hex().as_str());
    if !ok {
        return None;
    }
    postcard::from_bytes(body).ok()
}

/// Saves an environment's cache atomically (outside a build; a build saves through its plan).
pub fn save(cache_dir: &Path, env: &str, cache: &mut EnvCache) -> Result<(), IoError> {
    cache.saved_at_ns = now_ns();
    save_file(&cache_path(cache_dir, env), cache)
}

/// A cache file's bytes: a header naming the format, the stackc version and the blake3 hash
/// of the body, then the body in postcard's compact binary form (decoding it is several
/// times cheaper than JSON, and it is an edit's biggest fixed cost).
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing maps with string keys and plain structs cannot fail.
    let body = postcard::to_stdvec(value).unwrap_or_default();
    let mut bytes = format!(
        "{MAGIC} {FORMAT} {} {}\n",
        env!("CARGO_PKG_VERSION"),
        blake3::hash(&body).to_hex()
    )
    .into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

/// Writes a cache file (see [`encode`]).
pub(crate) fn save_file<T: Serialize>(path: &Path, value: &T) -> Result<(), IoError> {
    crate::fs::write_file(path, &encode(value)).map_err(|e| match e {
        crate::fs::FsError::Io(e) => e,
        crate::fs::FsError::Symlink { path } => IoError::new(
            "write",
            &path,
            std::io::Error::other("a symbolic link is on the path"),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_cache_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = EnvCache::default();
        cache.units.insert(
            "web".into(),
            UnitRecord {
                source: String::new(),
                key: "k".into(),
                files: vec![("a.yaml".into(), "h".into())],
                objects: vec!["v1/ConfigMap/web/a".into()],
                ..UnitRecord::default()
            },
        );
        save(dir.path(), "dev", &mut cache).unwrap();
        assert_eq!(load(dir.path(), "dev").units, cache.units);
        let path = dir.path().join("dev.cache");
        let bytes = std::fs::read(&path).unwrap();
        for damaged in [
            bytes[..bytes.len() / 2].to_vec(),
            bytes
                .iter()
                .map(|b| if *b == b'k' { b'x' } else { *b })
                .collect(),
            b"garbage".to_vec(),
            Vec::new(),
            String::from_utf8_lossy(&bytes)
                .replace(env!("CARGO_PKG_VERSION"), "0.0.0-other")
                .into_bytes(),
        ] {
            std::fs::write(&path, damaged).unwrap();
            assert!(load(dir.path(), "dev").units.is_empty());
        }
    }
}
