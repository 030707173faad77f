//! Comparing `out/<env>/` with the wanted state: which files are missing, stale, edited by
//! hand, or extra (written by stackc before, listed in `.stackc-files`, and no longer
//! produced: the only files a build prunes). Writing is `apply`'s.
//!
//! `.stackc-files` (the index) is committed with `out/` and records the blake3 hash of every
//! file stackc wrote. It is what makes `build --check` catch any byte change on a fresh clone
//! with no cache and no identity, and what decides "edited by hand" by content: a file that
//! differs from the wanted bytes is edited only when it also differs from the bytes stackc
//! (or a teammate's stackc) recorded there. Stat data only decides whether to read a file.

use crate::diagnostics::{Diagnostics, IoError};
use crate::layout::{Content, Files, Hashed, INDEX_FILE};
use std::borrow::Cow;
use std::path::Path;

/// What differs between the wanted tree and the disk.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EnvChanges {
    pub env: String,
    /// Wanted files that do not exist yet (the index among them, when it is missing).
    pub missing: Vec<String>,
    /// Files whose bytes differ from what a build would write (the index among them, when
    /// it would change).
    pub stale: Vec<String>,
    /// Of the stale ones, files whose bytes are not what stackc recorded writing there in the
    /// index (edited by hand).
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

/// What memory of earlier writes tells of a file on disk, without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Unchanged since stackc wrote the wanted bytes there: right as it is.
    Wanted,
    /// Unchanged since stackc wrote other bytes there: stale, and not edited by hand.
    Outdated,
}

/// How to tell, without reading a file, that it is what stackc last wrote.
pub trait WrittenBefore: Sync {
    /// What is known of the file at `path` (see [`Written`]), given `wanted`, the wanted
    /// bytes' hash (taken once, when they were made); `None` when nothing is: never
    /// written, or changed since. Only a known file saves a read: a change in stat data
    /// alone never makes a file "edited" (a `cp -a` or a `git pull` changes stat data, not
    /// content), so such a file is read and compared.
    fn check(&self, path: &str, wanted: blake3::Hash) -> Option<Written>;

    /// The index on disk, when this memory vouches that it is still the one stackc wrote and
    /// knows what it lists: then it need not be read and parsed (at 10,000 services it is a
    /// 5.7 MB file, and an edit rewrites it).
    fn index(&self) -> Option<Index<'_>> {
        None
    }
}

/// No memory of earlier writes: every file is read and compared.
pub struct NoMemory;

impl WrittenBefore for NoMemory {
    fn check(&self, _: &str, _: blake3::Hash) -> Option<Written> {
        None
    }
}

/// Compares the wanted files with `dir` (`out/<env>`), the index included (`index`: the
/// wanted index and its hash, from [`index_file`]). When `memory` vouches that the index on disk
/// already is `index`, it is not read: the paths it lists are then exactly the wanted ones
/// (no extra files), and what it records for a file is the file's wanted hash. When it
/// vouches for the index on disk being an older one it knows ([`WrittenBefore::index`]),
/// that one is used instead of reading the file.
pub fn compare(
    env: &str,
    dir: &Path,
    files: &Files,
    index: &Hashed,
    memory: &dyn WrittenBefore,
) -> Result<EnvChanges, Diagnostics> {
    use rayon::prelude::*;
    let index_current = memory.check(INDEX_FILE, index.hash()) == Some(Written::Wanted);
    // `vouched`: the old index is known from memory, and its bytes on disk are not `index`.
    let (old_index, vouched) = if index_current {
        (None, false)
    } else if let Some(known) = memory.index() {
        (Some(known), true)
    } else {
        (Some(load_index(dir)?), false)
    };
    let recorded = |path: &str, wanted: &Content| match &old_index {
        Some(index) => index.hash(path),
        None => Some(wanted.hash()),
    };
    // What memory cannot vouch for is read, except below a folder that does not exist; what
    // it knows to be outdated is stale without a read (an edit of a template used by every
    // service rewrites a file per unit: at N = 10,000, 30,000 reads).
    let checked: Vec<(&String, &Content, bool)> = files
        .par_iter()
        .filter_map(|(path, content)| match content {
            // The caller verified it against the cache's stat data.
            Content::Kept(_) => None,
            Content::Bytes(_) | Content::Staged(_) => match memory.check(path, content.hash()) {
                Some(Written::Wanted) => None,
                known => Some((path, content, known == Some(Written::Outdated))),
            },
        })
        .collect();
    let (outdated, unknown): (Vec<_>, Vec<_>) = checked
        .into_iter()
        .partition(|(_, _, is_outdated)| *is_outdated);
    let unknown: Vec<(&String, &Content)> = unknown.into_iter().map(|(p, c, _)| (p, c)).collect();
    let folders = unknown
        .iter()
        .filter_map(|(path, _)| path.rsplit_once('/').map(|(folder, _)| folder));
    let absent = super::absent::Absent::find(dir, folders);
    let results: Vec<(&String, FileState)> = unknown
        .into_par_iter()
        .filter_map(|(path, content)| {
            if absent.covers(path) {
                return Some((path, FileState::Missing));
            }
            // Staged bytes are on disk already, as their hash here.
            let is_wanted = |current: &[u8]| match content {
                Content::Bytes(bytes) => current == bytes.as_slice(),
                _ => blake3::hash(current) == content.hash(),
            };
            let state = match std::fs::read(dir.join(path)) {
                Ok(current) if is_wanted(&current) => return None,
                Ok(current) => match recorded(path, content) {
                    Some(recorded) if recorded != blake3::hash(&current) => FileState::Edited,
                    // What stackc wrote, only outdated (or no record to tell by).
                    _ => FileState::Stale,
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileState::Missing,
                Err(_) => FileState::Stale,
            };
            Some((path, state))
        })
        .collect();
    let mut changes = EnvChanges {
        env: env.to_string(),
        unchanged: files.len() - results.len() - outdated.len(),
        ..EnvChanges::default()
    };
    let outdated = outdated
        .into_iter()
        .map(|(path, _, _)| (path, FileState::Stale));
    // In the files' order, as the results are.
    let mut states: Vec<(&String, FileState)> = results.into_iter().chain(outdated).collect();
    states.sort_by(|a, b| a.0.cmp(b.0));
    for (path, state) in states {
        match state {
            FileState::Missing => changes.missing.push(path.clone()),
            FileState::Stale => changes.stale.push(path.clone()),
            FileState::Edited => {
                changes.edited.push(path.clone());
                changes.stale.push(path.clone());
            }
        }
    }
    let Some(old_index) = old_index else {
        return Ok(changes);
    };
    let mut wanted = files.keys().peekable();
    for old in old_index.paths() {
        // Both sorted: one merge tells which old paths are no longer wanted.
        while wanted.next_if(|w| w.as_str() < old).is_some() {}
        let still_wanted = wanted.next_if(|w| w.as_str() == old).is_some();
        if !still_wanted && dir.join(old).exists() {
            changes.extra.push(old.to_string());
        }
    }
    // The index is a file stackc writes too: an edit to it (or an index of the old format)
    // is a difference `--check` must report.
    if vouched {
        // What stackc wrote, by stat and hash, and not the wanted bytes.
        changes.stale.push(INDEX_FILE.to_string());
        return Ok(changes);
    }
    match std::fs::read(dir.join(INDEX_FILE)) {
        Ok(current) if current == index.as_slice() => {}
        Ok(_) => changes.stale.push(INDEX_FILE.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            changes.missing.push(INDEX_FILE.to_string());
        }
        Err(e) => return Err(IoError::new("read", dir.join(INDEX_FILE), e).into()),
    }
    Ok(changes)
}

enum FileState {
    Missing,
    Stale,
    Edited,
}

/// `.stackc-files` as read: every file stackc wrote into `out/<env>/`, with the blake3 hash of
/// the bytes it wrote (`None` for an entry of the older format, which listed paths only),
/// sorted by path. It borrows its paths when it comes from the cache (see
/// [`WrittenBefore::index`]) instead of the file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Index<'a> {
    files: Vec<(Cow<'a, str>, Option<blake3::Hash>)>,
}

impl Index<'_> {
    /// Parses the index text. Lines are `<blake3 hex> <path>` (or `<path>` in the older
    /// format); comments and blank lines are skipped, and an entry that would lead out of the
    /// tree is dropped, whatever the file says. A path listed twice keeps its last entry.
    pub fn parse(text: &str) -> Index<'static> {
        let mut files: Vec<(Cow<'static, str>, Option<blake3::Hash>)> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|line| match line.split_once(' ') {
                Some((hex, path)) if hex.len() == 64 => match blake3::Hash::from_hex(hex) {
                    Ok(hash) => (path.trim(), Some(hash)),
                    Err(_) => (line, None),
                },
                _ => (line, None),
            })
            .filter(|(path, _)| is_safe_relative(path))
            .map(|(path, hash)| (Cow::Owned(path.to_string()), hash))
            .collect();
        // Reversed, then a stable sort: of two entries for one path the last comes first,
        // and the dedup keeps it.
        files.reverse();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        files.dedup_by(|later, first| later.0 == first.0);
        Index { files }
    }

    /// The hash stackc recorded for `path`, when the index has one.
    pub fn hash(&self, path: &str) -> Option<blake3::Hash> {
        self.entry(path).and_then(|(_, hash)| *hash)
    }

    /// Whether the index lists `path`.
    pub fn contains(&self, path: &str) -> bool {
        self.entry(path).is_some()
    }

    fn entry(&self, path: &str) -> Option<&(Cow<'_, str>, Option<blake3::Hash>)> {
        self.files
            .binary_search_by(|(p, _)| p.as_ref().cmp(path))
            .ok()
            .map(|i| &self.files[i])
    }

    /// Every path listed, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(path, _)| path.as_ref())
    }
}

impl<'a> Index<'a> {
    /// The index of these entries, sorted by path with no path twice (as the cache's stat
    /// section keeps its stamps), each with the hash stackc wrote.
    pub fn from_sorted(files: impl Iterator<Item = (&'a str, [u8; 32])>) -> Index<'a> {
        Index {
            files: files
                .map(|(path, hash)| (Cow::Borrowed(path), Some(blake3::Hash::from(hash))))
                .collect(),
        }
    }
}

/// Reads `out/<env>/.stackc-files` (`dir` is `out/<env>`); a missing index is empty.
pub fn load_index(dir: &Path) -> Result<Index<'static>, Diagnostics> {
    let path = dir.join(INDEX_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Index::parse(&String::from_utf8_lossy(&bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Index::default()),
        Err(e) => Err(IoError::new("read", &path, e).into()),
    }
}

/// The files stackc wrote last time, from `out/<env>/.stackc-files`.
pub fn read_index(dir: &Path) -> Result<Vec<String>, Diagnostics> {
    Ok(load_index(dir)?.paths().map(str::to_string).collect())
}

fn is_safe_relative(path: &str) -> bool {
    !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// The index file for a set of files, hashed once (the comparison with out/ and the next
/// cache's stamp both need its hash: 5.7 MB per environment at N = 10,000).
pub fn index_file(files: &Files) -> Hashed {
    Hashed::new(index_bytes(files))
}

/// The index file's bytes for a set of files: one `<blake3 hex> <path>` line per file.
fn index_bytes(files: &Files) -> Vec<u8> {
    const HEADER: &str =
        "# Files written by stackc, with the blake3 hash of each; it prunes only these, and\n\
         # `stackc build --check` reports any that no longer has its hash. Do not edit.\n";
    // Sized up front: grown by doubling, 5.7 MB of index at N = 10,000 was copied on the way
    // and could take twice its size.
    let size = HEADER.len() + files.keys().map(|path| 64 + 2 + path.len()).sum::<usize>();
    let mut out = String::with_capacity(size);
    out.push_str(HEADER);
    for (path, content) in files {
        out.push_str(content.hash().to_hex().as_str());
        out.push(' ');
        out.push_str(path);
        out.push('\n');
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_reads_both_formats_and_never_leaves_the_tree() {
        let hash = blake3::hash(b"kind: Namespace\n");
        let hex = hash.to_hex();
        let text = format!(
            "# comment\n\n{hex} apps/web/namespace.yaml\nold/format.yaml\n{hex} ../escape.yaml\n\
             {hex} /etc/passwd\nnothex{} apps/odd.yaml\n{hex}  apps/spaced.yaml\n",
            "0".repeat(58)
        );
        let index = Index::parse(&text);
        let cases: [(&str, bool, Option<blake3::Hash>); 6] = [
            ("apps/web/namespace.yaml", true, Some(hash)),
            ("old/format.yaml", true, None),
            ("apps/spaced.yaml", true, Some(hash)),
            ("../escape.yaml", false, None),
            ("/etc/passwd", false, None),
            ("apps/odd.yaml", false, None),
        ];
        for (path, listed, recorded) in cases {
            assert_eq!(index.contains(path), listed, "{path}");
            assert_eq!(index.hash(path), recorded, "{path}");
        }
    }

    #[test]
    fn index_bytes_round_trip() {
        let files: Files = [
            ("b/two.yaml".to_string(), Content::bytes(b"two\n".to_vec())),
            (
                "a/one.yaml".to_string(),
                Content::Kept(crate::cache::Stamp {
                    size: 4,
                    mtime_ns: 0,
                    inode: 1,
                    hash: *blake3::hash(b"one\n").as_bytes(),
                }),
            ),
        ]
        .into_iter()
        .collect();
        let bytes = index_bytes(&files);
        let index = Index::parse(std::str::from_utf8(&bytes).unwrap());
        assert_eq!(
            index.paths().collect::<Vec<_>>(),
            ["a/one.yaml", "b/two.yaml"]
        );
        assert_eq!(index.hash("a/one.yaml"), Some(blake3::hash(b"one\n")));
        assert_eq!(index.hash("b/two.yaml"), Some(blake3::hash(b"two\n")));
    }

    #[test]
    fn edited_is_decided_by_content_not_stat_data() {
        let dir = tempfile::tempdir().unwrap();
        let old: Files = [
            ("same.yaml", "a\n"),
            ("stale.yaml", "old\n"),
            ("edited.yaml", "old\n"),
        ]
        .into_iter()
        .map(|(p, b)| (p.to_string(), Content::bytes(b.as_bytes().to_vec())))
        .collect();
        for (path, content) in &old {
            let Content::Bytes(bytes) = content else {
                unreachable!()
            };
            std::fs::write(dir.path().join(path), bytes.as_slice()).unwrap();
        }
        std::fs::write(dir.path().join(INDEX_FILE), index_bytes(&old)).unwrap();
        std::fs::write(dir.path().join("edited.yaml"), "by hand\n").unwrap();
        let wanted: Files = [
            ("same.yaml", "a\n"),
            ("stale.yaml", "new\n"),
            ("edited.yaml", "new\n"),
            ("missing.yaml", "new\n"),
        ]
        .into_iter()
        .map(|(p, b)| (p.to_string(), Content::bytes(b.as_bytes().to_vec())))
        .collect();
        let changes = compare("dev", dir.path(), &wanted, &index_file(&wanted), &NoMemory).unwrap();
        assert_eq!(changes.missing, ["missing.yaml"]);
        assert_eq!(changes.edited, ["edited.yaml"]);
        assert_eq!(changes.stale, ["edited.yaml", "stale.yaml", INDEX_FILE]);
        assert_eq!(changes.unchanged, 1);
    }

    /// A memory that knows `outdated.yaml` is as stackc last wrote it, and other bytes than
    /// the wanted ones.
    struct KnowsOutdated;

    impl WrittenBefore for KnowsOutdated {
        fn check(&self, path: &str, _: blake3::Hash) -> Option<Written> {
            (path == "outdated.yaml").then_some(Written::Outdated)
        }
    }

    #[test]
    fn a_file_memory_knows_is_outdated_is_stale_without_being_read() {
        let dir = tempfile::tempdir().unwrap();
        // Both differ from what the index records: read, each would be "edited".
        std::fs::write(dir.path().join("edited.yaml"), "by hand\n").unwrap();
        std::fs::write(dir.path().join("outdated.yaml"), "by hand too\n").unwrap();
        let old: Files = [("edited.yaml", "old\n"), ("outdated.yaml", "old\n")]
            .into_iter()
            .map(|(p, b)| (p.to_string(), Content::bytes(b.as_bytes().to_vec())))
            .collect();
        std::fs::write(dir.path().join(INDEX_FILE), index_bytes(&old)).unwrap();
        let wanted: Files = [("edited.yaml", "new\n"), ("outdated.yaml", "new\n")]
            .into_iter()
            .map(|(p, b)| (p.to_string(), Content::bytes(b.as_bytes().to_vec())))
            .collect();
        let index = index_file(&wanted);
        let changes = compare("dev", dir.path(), &wanted, &index, &KnowsOutdated).unwrap();
        assert_eq!(changes.stale, ["edited.yaml", "outdated.yaml", INDEX_FILE]);
        assert_eq!(changes.edited, ["edited.yaml"]);
        assert_eq!(changes.unchanged, 0);
    }
}
