//! The incremental engine's memory, per environment: for every render unit the blake3 keys of
//! its inputs and the files it produced, and for every file of `out/` the stat data and hash
//! of what stackc last wrote there (as git's index does), so a no-op build reads no file.
//!
//! A cache file is a header line and two sections, each carrying its own checksum and
//! length: the stat section (inputs and out/ stamps, all a no-op build reads) and the units
//! section (unit records, read only when something changed). A section
//! is verified when it is read and decoded in place (strings borrow from the file's bytes),
//! so the no-op never touches the unit records and nothing is decoded twice into owned data.
//! Each unit record is its own length-prefixed bytes: decoded when its unit is looked up,
//! and copied as it is into the next cache when the unit is kept.
//!
//! The cache is an optimisation only: a missing, corrupt, truncated or other-version cache is
//! ignored and rebuilt, and it never holds plaintext (only hashes of rendered, non-secret
//! files and of sealed ciphertext files).

mod borrow;
mod inputs;
mod key;
mod section;
mod units;

pub use inputs::InputStamps;
pub use key::{
    global_source, source_key, unit_key, GlobalSource, Hash32, SourceKey, TemplateDeps, UnitKey,
};
pub use units::{encode_units, EncodedUnits};

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::path::Path;

const MAGIC: &str = "stackc-cache";
// 5: unit records carry the check gate's memo (rules and facts).
// 6: the units section carries the gate's environment memo.
// 7: the stat section says whether its stamps are the index; sections are framed by xxh3.
// 8: each unit record is its own length-prefixed bytes (decoded on lookup, copied if kept).
const FORMAT: u32 = 8;

/// One environment's cache file as read: the header was checked; each section is verified
/// by its hash when it is read (see [`EnvCache::stat`] and [`EnvCache::units`]).
#[derive(Debug, Default)]
pub struct EnvCache {
    bytes: Vec<u8>,
    sections: Vec<std::ops::Range<usize>>,
    /// Each section's hash check, done once: a build decodes the stat section twice (to
    /// plan, and to reuse stamps when saving), and hashing it is a megabyte at N=1000.
    verified: [std::sync::OnceLock<bool>; 2],
}

/// The stat section: everything the no-op check reads.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StatSection<'a> {
    /// When the cache was saved (ns since the epoch): a file modified in the second before
    /// could be modified again without its mtime moving, so it is verified by content.
    pub saved_at_ns: i128,
    /// Every input the build read, so a no-op build is decided by stat alone.
    pub inputs: InputStamps,
    /// How many render units the units section holds (for the no-op's summary line).
    pub units: usize,
    /// Stat data of every file written, by path relative to `out/<env>/`, sorted by path.
    #[serde(borrow, deserialize_with = "borrow::pairs")]
    pub stamps: Vec<(Cow<'a, str>, Stamp)>,
    /// Whether the stamps (the index's own aside) are exactly the entries of the index that
    /// the index's stamp describes, path for path and hash for hash: then, while that stamp
    /// holds, the index need not be read to know what it lists.
    pub stamps_are_index: bool,
}

/// The fields a [`StatSection`] begins with: decoded alone, they tell an edited input
/// without decoding the stamp of every file written (tens of thousands, read twice on
/// every edit otherwise: once here, once by the build).
#[derive(Deserialize)]
struct StatInputs {
    saved_at_ns: i128,
    inputs: InputStamps,
}

impl StatInputs {
    fn unchanged(&self, root: &Path) -> bool {
        self.inputs.unchanged(root, self.saved_at_ns)
    }
}

impl StatSection<'_> {
    /// The stamp recorded for `path`.
    pub fn stamp(&self, path: &str) -> Option<&Stamp> {
        self.stamps
            .binary_search_by(|(p, _)| p.as_ref().cmp(path))
            .ok()
            .map(|i| &self.stamps[i].1)
    }

    /// Whether `out/<env>` (`dir`) did not change since this cache was saved: with the
    /// inputs unchanged too ([`StatInputs::unchanged`]), a build has nothing to do, and
    /// nothing needs to be parsed to know it.
    fn outputs_current(&self, dir: &Path) -> bool {
        use rayon::prelude::*;
        !self.stamps.is_empty() && {
            let dir = StatDir::open(dir);
            self.stamps
                .par_iter()
                .all(|(path, stamp)| stamp.verify_in(&dir, path, self.saved_at_ns))
        }
    }

    /// Whether a stamp that was racy at the save (verified by content on every check since)
    /// is no longer racy at `at`: a section saved again as of `at` would trust it by stat.
    fn settles_by(&self, at: i128) -> bool {
        let settles = |stamp: &Stamp| stamp.is_racy(self.saved_at_ns) && !stamp.is_racy(at);
        self.stamps.iter().any(|(_, stamp)| settles(stamp))
            || self.inputs.files.values().any(settles)
    }

    /// The stamps of `files` when every one is in the cache and still on disk (in `dir`) as
    /// recorded, with its hash; `None` at the first that is not. A unit's files share a folder, so
    /// sorted they are neighbours among the stamps too: each is looked for right after the
    /// one before it, and searched for only when it is not there (one search per unit, not
    /// one per file, among the 40,000 stamps of a large environment).
    pub fn intact_stamps(
        &self,
        dir: &StatDir,
        files: &[(Cow<'_, str>, Hash32)],
    ) -> Option<Vec<Stamp>> {
        let mut next = None;
        files
            .iter()
            .map(|(path, hash)| {
                let path = path.as_ref();
                let at = next
                    .filter(|&i: &usize| self.stamps.get(i).is_some_and(|(p, _)| p == path))
                    .or_else(|| {
                        self.stamps
                            .binary_search_by(|(p, _)| p.as_ref().cmp(path))
                            .ok()
                    });
                let at = at?;
                next = Some(at + 1);
                let stamp = self.stamps[at].1;
                (stamp.hash == *hash && stamp.verify_in(dir, path, self.saved_at_ns))
                    .then_some(stamp)
            })
            .collect()
    }
}

/// The units section: what each unit rendered. Each record is stored as its own
/// length-prefixed bytes, so the section is split without decoding any record: a record is
/// decoded when its unit is looked up, and a kept unit's record is copied into the next
/// cache as the bytes it was read from (at N = 10,000 re-encoding every record was a twentieth
/// of an edit).
#[derive(Debug, Default, Deserialize)]
pub struct UnitsSection<'a> {
    /// Render units by name (a service name), sorted by name, each with its record's bytes.
    #[serde(borrow)]
    units: Vec<(&'a str, &'a [u8])>,
    /// `check::gate`'s digest of the environment-wide rules' inputs at a clean outcome.
    pub check_env: Option<Hash32>,
}

impl<'a> UnitsSection<'a> {
    /// The record of unit `name`, decoded (its strings borrowed from the cache); `None` when
    /// there is none, or its bytes do not decode (a unit with no record is rendered).
    pub fn unit(&self, name: &str) -> Option<UnitRecord<'a>> {
        let at = self.units.binary_search_by(|(n, _)| (*n).cmp(name)).ok()?;
        let stored = self.units[at].1;
        let record: UnitRecord<'a> = postcard::from_bytes(stored).ok()?;
        Some(UnitRecord {
            stored: Some(stored),
            ..record
        })
    }
}

/// A render unit's keys and the files it produced (path and blake3 of the bytes).
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnitRecord<'a> {
    /// The unit's source key ([`SourceKey`]): equal source keys skip even resolving the unit.
    pub source: Hash32,
    /// The unit key ([`unit_key`]); `None` when the context could not be hashed.
    pub key: Option<Hash32>,
    #[serde(borrow, deserialize_with = "borrow::pairs")]
    pub files: Vec<(Cow<'a, str>, Hash32)>,
    /// The identity (`apiVersion/kind/namespace/name`) of every object the unit renders, so
    /// that two units rendering one object are caught even when one of them is kept.
    #[serde(borrow, deserialize_with = "borrow::strs")]
    pub objects: Vec<Cow<'a, str>>,
    /// What `check::gate` remembers of the unit: the unit-scope rules that found something
    /// (before allows) and the facts of its objects (opaque text to the cache).
    pub check_rules: Vec<String>,
    #[serde(borrow)]
    pub check_facts: Cow<'a, str>,
    /// The bytes this record was decoded from: the next cache copies them instead of
    /// encoding the record again. Private, so that only [`UnitsSection::unit`] sets it and
    /// [`UnitRecord::with_source`], the one change a kept record sees, drops it.
    #[serde(skip)]
    stored: Option<&'a [u8]>,
}

impl<'a> UnitRecord<'a> {
    /// The record of a unit rendered now: what it was rendered from and what it produced.
    pub fn rendered(
        source: Hash32,
        key: Option<Hash32>,
        files: Vec<(Cow<'a, str>, Hash32)>,
        objects: Vec<Cow<'a, str>>,
        check_rules: Vec<String>,
        check_facts: Cow<'a, str>,
    ) -> Self {
        UnitRecord {
            source,
            key,
            files,
            objects,
            check_rules,
            check_facts,
            stored: None,
        }
    }

    /// The same record under a new source key (a unit kept by its unit key although its
    /// declaration's text changed): encoded anew, no longer copied as stored.
    #[must_use]
    pub fn with_source(self, source: Hash32) -> Self {
        UnitRecord {
            source,
            stored: None,
            ..self
        }
    }
}

impl EnvCache {
    /// Loads an environment's cache; anything unreadable yields an empty cache.
    pub fn load(cache_dir: &Path, env: &str) -> EnvCache {
        std::fs::read(cache_dir.join(cache_file_name(env)))
            .ok()
            .and_then(EnvCache::from_bytes)
            .unwrap_or_default()
    }

    /// The header and the stat section of an environment's cache, not its units section
    /// (two thirds of the file): what the no-op check reads. Its [`EnvCache::units`] is
    /// `None`; [`EnvCache::with_units`] reads the rest.
    pub fn load_stat(cache_dir: &Path, env: &str) -> EnvCache {
        read_head(&cache_dir.join(cache_file_name(env)))
            .and_then(|bytes| EnvCache::from_sections(bytes, 1))
            .unwrap_or_default()
    }

    /// The whole cache this [`EnvCache::load_stat`] read the head of: `None` when the file
    /// no longer begins with that head.
    pub fn with_units(&self, cache_dir: &Path, env: &str) -> Option<EnvCache> {
        let full = EnvCache::load(cache_dir, env);
        (!self.bytes.is_empty() && full.bytes.starts_with(&self.bytes)).then_some(full)
    }

    /// A cache from a file's bytes: `None` when the header is not this stackc's.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<EnvCache> {
        EnvCache::from_sections(bytes, 2)
    }

    /// A cache from the first `count` sections of a file (its bytes end with the last).
    fn from_sections(bytes: Vec<u8>, count: usize) -> Option<EnvCache> {
        let newline = bytes.iter().position(|b| *b == b'\n')?;
        let header = std::str::from_utf8(&bytes[..newline]).ok()?;
        let mut parts = header.split(' ');
        let ok = parts.next() == Some(MAGIC)
            && parts.next() == Some(FORMAT.to_string().as_str())
            && parts.next() == Some(env!("CARGO_PKG_VERSION"))
            && parts.next().is_none();
        if !ok {
            return None;
        }
        let sections = section::split(&bytes, newline + 1, count)?;
        Some(EnvCache {
            bytes,
            sections,
            verified: Default::default(),
        })
    }

    /// The stat section, verified and decoded; `None` when damaged (or there is no cache).
    pub fn stat(&self) -> Option<StatSection<'_>> {
        self.section(0)
    }

    /// The units section, verified and decoded; `None` when damaged (or there is no cache).
    pub fn units(&self) -> Option<UnitsSection<'_>> {
        self.section(1)
    }

    /// The file's bytes, which a next units section borrows its kept entries from
    /// ([`encode_units`]).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The units section's bytes as framed in the file (checksum and length included), for
    /// a cache saved again with a new stat section and the same units.
    fn units_framed(&self) -> Option<&[u8]> {
        self.bytes.get(self.sections.get(1)?.clone())
    }

    fn section<'a, T: Deserialize<'a>>(&'a self, i: usize) -> Option<T> {
        let range = self.sections.get(i)?;
        let verified = self.verified.get(i)?;
        if !*verified.get_or_init(|| section::verify(&self.bytes, range)) {
            return None;
        }
        section::decode_verified(&self.bytes, range)
    }
}

/// The bytes of a cache file up to the end of its first section (the header line, then the
/// stat section): `None` when the file is shorter than its frames say, or is not a cache.
fn read_head(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read as _;
    // The header line is a few dozen bytes; a stat section, kilobytes to megabytes.
    const FIRST: usize = 4096;
    let file = std::fs::File::open(path).ok()?;
    let size = file.metadata().ok()?.len();
    let mut bytes = Vec::with_capacity(FIRST);
    let mut file = file.take(FIRST as u64);
    file.read_to_end(&mut bytes).ok()?;
    let at = bytes.iter().position(|b| *b == b'\n')? + 1;
    let len = section::body_len(bytes.get(at..at + section::FRAME)?)?;
    // Bounded by the file's size: a damaged length never makes a large allocation.
    let end = u64::try_from(at + section::FRAME).ok()?.checked_add(len)?;
    if end > size {
        return None;
    }
    let end = usize::try_from(end).ok()?;
    if end <= bytes.len() {
        bytes.truncate(end);
        return Some(bytes);
    }
    // Read into the spare capacity (not zeroed first): exactly the rest of the section.
    bytes.reserve_exact(end - bytes.len());
    let rest = u64::try_from(end - bytes.len()).ok()?;
    file.into_inner().take(rest).read_to_end(&mut bytes).ok()?;
    (bytes.len() == end).then_some(bytes)
}

/// A cache file's bytes: the header line naming the format and the stackc version, then the
/// stat section and the (already encoded, see [`encode_units`]) units section.
pub fn encode(stat: &StatSection<'_>, units: &[u8]) -> Vec<u8> {
    let mut bytes = encode_head(stat);
    bytes.extend_from_slice(units);
    bytes
}

/// A cache file's bytes up to its units section: what [`encode`] writes before `units`.
pub fn encode_head(stat: &StatSection<'_>) -> Vec<u8> {
    let mut bytes = format!("{MAGIC} {FORMAT} {}\n", env!("CARGO_PKG_VERSION")).into_bytes();
    // The section is most of the file: its stamps' size, reserved once.
    bytes.reserve(stat.stamps.len() * (STAMP_BYTES + 64) + 1024);
    let section_at = section::begin(&mut bytes);
    // Plain structs, vectors and strings always serialize; if not, no cache is saved (an
    // empty file is no cache).
    if !section::append(&mut bytes, stat) {
        return Vec::new();
    }
    section::end(&mut bytes, section_at);
    bytes
}

/// Appends `n` as postcard writes a length: 7 bits a byte, low bits first.
fn push_varint(out: &mut Vec<u8>, mut n: usize) {
    let low7 = |n: usize| u8::try_from(n & 0x7f).unwrap_or_default();
    while n >= 0x80 {
        out.push(0x80 | low7(n));
        n >>= 7;
    }
    out.push(low7(n));
}

/// What a file looked like right after stackc wrote or verified it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: i128,
    pub inode: u64,
    pub hash: [u8; 32],
}

/// A stamp's bytes in the cache: size, mtime and inode little-endian, then the hash.
const STAMP_BYTES: usize = 8 + 16 + 8 + 32;

// A stamp is one fixed-size byte string, not four fields: decoding 15,000 of them is then a
// copy each, which is most of what a no-op build does.
impl Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut bytes = [0_u8; STAMP_BYTES];
        bytes[..8].copy_from_slice(&self.size.to_le_bytes());
        bytes[8..24].copy_from_slice(&self.mtime_ns.to_le_bytes());
        bytes[24..32].copy_from_slice(&self.inode.to_le_bytes());
        bytes[32..].copy_from_slice(&self.hash);
        serializer.serialize_bytes(&bytes)
    }
}

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = Stamp;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{STAMP_BYTES} bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Stamp, E> {
                let bytes: &[u8; STAMP_BYTES] = v
                    .try_into()
                    .map_err(|_| E::invalid_length(v.len(), &self))?;
                let (size, rest) = bytes.split_at(8);
                let (mtime, rest) = rest.split_at(16);
                let (inode, hash) = rest.split_at(8);
                let array = |b: &[u8]| -> Result<[u8; 8], E> {
                    b.try_into().map_err(|_| E::invalid_length(b.len(), &self))
                };
                Ok(Stamp {
                    size: u64::from_le_bytes(array(size)?),
                    mtime_ns: i128::from_le_bytes(
                        mtime.try_into().map_err(|_| E::invalid_length(16, &self))?,
                    ),
                    inode: u64::from_le_bytes(array(inode)?),
                    hash: hash.try_into().map_err(|_| E::invalid_length(32, &self))?,
                })
            }
        }
        deserializer.deserialize_bytes(Bytes)
    }
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

    /// [`Stamp::verify`] for the file `rel` of `dir`.
    pub fn verify_in(&self, dir: &StatDir, rel: &str, saved_at_ns: i128) -> bool {
        if dir.stat(rel) != Some((self.size, self.mtime_ns, self.inode)) {
            return false;
        }
        !self.is_racy(saved_at_ns)
            || std::fs::read(dir.path.join(rel))
                .is_ok_and(|bytes| *blake3::hash(&bytes).as_bytes() == self.hash)
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

/// A folder opened once, so that the thousands of files below it are stat'ed relative to it
/// (no path joined and walked from the root per file). The folder itself is opened without
/// following a link; a folder that cannot be opened has no files.
pub struct StatDir {
    fd: Option<rustix::fd::OwnedFd>,
    path: std::path::PathBuf,
}

impl StatDir {
    /// Opens `path` for stat'ing below it.
    pub fn open(path: &Path) -> StatDir {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        StatDir {
            fd: rustix::fs::open(path, flags, Mode::empty()).ok(),
            path: path.to_path_buf(),
        }
    }

    /// A regular file's size, mtime (ns) and inode, by its path relative to the folder (a
    /// link at the last component is not followed); `None` for anything else.
    pub fn stat(&self, rel: &str) -> Option<(u64, i128, u64)> {
        use rustix::fs::{AtFlags, FileType};
        let st = rustix::fs::statat(self.fd.as_ref()?, rel, AtFlags::SYMLINK_NOFOLLOW).ok()?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return None;
        }
        let mtime = i128::from(st.st_mtime) * 1_000_000_000 + i128::from(st.st_mtime_nsec);
        Some((u64::try_from(st.st_size).ok()?, mtime, st.st_ino))
    }
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

/// The file listing every environment of the stack at the last build.
const ENVIRONMENTS_FILE: &str = "environments";

/// The environments file's name and bytes: the stack's environments, so a no-op `stackc
/// build` knows them without parsing.
pub fn environments_file(envs: &[String]) -> (String, Vec<u8>) {
    let mut text = envs.join("\n");
    text.push('\n');
    (ENVIRONMENTS_FILE.to_string(), text.into_bytes())
}

/// A cache file's name in the cache folder, and its bytes.
pub type CacheFile = (String, Vec<u8>);

/// What the no-op check found when nothing changed.
pub struct UpToDate {
    /// How many environments, and how many render units they hold.
    pub envs: usize,
    pub units: usize,
    /// Cache files (by name in the cache folder) worth saving again: their stat section as
    /// of this check. A build that wrote files right before saving its cache leaves their
    /// stamps racy (within a timestamp tick of the save), so every later check would read and
    /// hash them; once they are older than that, a section saved as of the check trusts them
    /// by stat, as git refreshes its index. Only stat sections change; out/ is not touched.
    pub refreshed: Vec<CacheFile>,
}

/// The no-op check: when `requested` (or, if empty, every environment of the last build) is
/// current by stat alone, what [`UpToDate`] says; else `None`. Only the stat sections are
/// read.
pub fn up_to_date(
    root: &Path,
    cache_dir: &Path,
    out: &Path,
    requested: &[String],
) -> Option<UpToDate> {
    use rayon::prelude::*;
    // Before anything is checked: a file changed after this moment has a later mtime than
    // any stamp that is not racy as of it.
    let checked_at = now_ns();
    let text = std::fs::read_to_string(cache_dir.join(ENVIRONMENTS_FILE)).ok()?;
    let known: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let envs: Vec<&str> = if requested.is_empty() {
        known.clone()
    } else {
        requested.iter().map(String::as_str).collect()
    };
    // A build killed mid-write left temp files: the next build removes them.
    if envs.is_empty()
        || envs.iter().any(|e| !known.contains(e))
        || crate::fs::staging_left_over(root)
    {
        return None;
    }
    // Environments side by side: one's cache is read and verified while another's files
    // are stat'ed (a no-op is mostly waiting on those two).
    let current: Option<Vec<(usize, Option<CacheFile>)>> = envs
        .par_iter()
        .map(|env| {
            let head = EnvCache::load_stat(cache_dir, env);
            if !head.section::<StatInputs>(0)?.unchanged(root) {
                return None;
            }
            let stat = head.stat()?;
            if !stat.outputs_current(&out.join(env)) {
                return None;
            }
            let units = stat.units;
            let refreshed = if stat.settles_by(checked_at) {
                let cache = head.with_units(cache_dir, env)?;
                let units_framed = cache.units_framed()?;
                let stat = StatSection {
                    saved_at_ns: checked_at,
                    ..stat
                };
                Some((cache_file_name(env), encode(&stat, units_framed)))
            } else {
                None
            };
            Some((units, refreshed))
        })
        .collect();
    let current = current?;
    Some(UpToDate {
        envs: envs.len(),
        units: current.iter().map(|(units, _)| units).sum(),
        refreshed: current.into_iter().filter_map(|(_, r)| r).collect(),
    })
}

/// The name of an environment's cache file in the cache folder.
pub fn cache_file_name(env: &str) -> String {
    format!("{env}.cache")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let stat = StatSection {
            saved_at_ns: 7,
            units: 1,
            stamps: vec![(
                "a.yaml".into(),
                Stamp {
                    size: 1,
                    mtime_ns: 2,
                    inode: 3,
                    hash: [4; 32],
                },
            )],
            ..StatSection::default()
        };
        let units = vec![(
            Cow::Borrowed("web"),
            UnitRecord {
                source: [1; 32],
                key: Some([2; 32]),
                files: vec![("a.yaml".into(), [4; 32])],
                objects: vec!["v1/ConfigMap/web/a".into()],
                check_rules: vec!["replicas".into()],
                check_facts: "facts".into(),
                stored: None,
            },
        )];
        encode(
            &stat,
            &encode_units(&units, Some(&[5; 32]), &[]).to_vec(&[]),
        )
    }

    #[test]
    fn a_kept_record_is_copied_as_stored_and_a_changed_one_is_encoded_anew() {
        let bytes = sample();
        let cache = EnvCache::from_bytes(bytes.clone()).unwrap();
        let units = cache.units().unwrap();
        let web = units.unit("web").unwrap();
        assert!(web.stored.is_some());
        assert!(units.unit("api").is_none());
        // Copied as stored: the same section, byte for byte, as the one it came from.
        let kept = vec![(Cow::Borrowed("web"), web.clone())];
        let section =
            encode_units(&kept, units.check_env.as_ref(), cache.bytes()).to_vec(cache.bytes());
        assert!(bytes.ends_with(&section));
        // Encoded anew, with what the record now says (stored bytes dropped with the change).
        let changed = vec![(Cow::Borrowed("web"), web.clone().with_source([9; 32]))];
        assert!(changed[0].1.stored.is_none());
        let stat = cache.stat().unwrap();
        let again = encode_units(&changed, None, cache.bytes()).to_vec(cache.bytes());
        let again = EnvCache::from_bytes(encode(&stat, &again)).unwrap();
        let units = again.units().unwrap();
        let web_again = units.unit("web").unwrap();
        assert_eq!(web_again.source, [9; 32]);
        assert_eq!((web_again.key, &web_again.files), (web.key, &web.files));
        assert_eq!(units.check_env, None);
        // A record whose stored bytes do not decode is no record: its unit is rendered.
        let broken = vec![(
            Cow::Borrowed("web"),
            UnitRecord {
                stored: Some(&[0xff, 0xff, 0xff][..]),
                ..web.clone()
            },
        )];
        let broken = encode_units(&broken, None, cache.bytes()).to_vec(cache.bytes());
        let broken = EnvCache::from_bytes(encode(&stat, &broken)).unwrap();
        assert!(broken.units().unwrap().unit("web").is_none());
    }

    #[test]
    fn the_inputs_decode_alone_from_the_start_of_the_stat_section() {
        let mut stat = StatSection {
            saved_at_ns: 11,
            ..StatSection::default()
        };
        stat.inputs.files.insert(
            "stacks.kdl".into(),
            Stamp {
                size: 5,
                mtime_ns: 6,
                inode: 7,
                hash: [8; 32],
            },
        );
        stat.inputs
            .absent
            .push("environments/dev.secrets.sops.yaml".into());
        let stamp = Stamp {
            size: 1,
            mtime_ns: 2,
            inode: 3,
            hash: [4; 32],
        };
        stat.stamps.push(("a.yaml".into(), stamp));
        let cache = EnvCache::from_sections(encode(&stat, &[]), 1).unwrap();
        let prefix: StatInputs = cache.section(0).unwrap();
        assert_eq!(prefix.saved_at_ns, 11);
        assert_eq!(prefix.inputs.files.len(), 1);
        assert_eq!(prefix.inputs.files["stacks.kdl"].size, 5);
        assert_eq!(prefix.inputs.absent, stat.inputs.absent);
    }

    #[test]
    fn lengths_are_written_as_postcard_writes_them() {
        for n in [0, 1, 127, 128, 300, 16_383, 16_384, 70_000, 3_000_000] {
            let mut ours = Vec::new();
            push_varint(&mut ours, n);
            let theirs = postcard::to_stdvec(&vec![0_u8; n]).unwrap();
            assert_eq!(ours, theirs[..theirs.len() - n], "length {n}");
        }
    }

    #[test]
    fn a_stamp_racy_at_the_save_settles_once_a_tick_has_passed() {
        let saved_at = 1_700_000_000_123_456_789_i128;
        let stamp = |mtime_ns| Stamp {
            size: 1,
            mtime_ns,
            inode: 1,
            hash: [0; 32],
        };
        let section = |mtime_ns| StatSection {
            saved_at_ns: saved_at,
            stamps: vec![("a.yaml".into(), stamp(mtime_ns))],
            ..StatSection::default()
        };
        // Written 5 ms before the save: racy then, settled 100 ms later, not at the save.
        let racy = section(saved_at - 5_000_000);
        assert!(!racy.settles_by(saved_at));
        assert!(racy.settles_by(saved_at + 100_000_000));
        // Trusted by stat already: nothing to settle.
        let settled = section(saved_at - 500_000_000);
        assert!(!settled.settles_by(saved_at + 100_000_000));
        // A racy input file counts too.
        let mut input = section(saved_at - 500_000_000);
        input
            .inputs
            .files
            .insert("stacks.kdl".into(), stamp(saved_at - 1_000_000));
        assert!(input.settles_by(saved_at + 100_000_000));
    }

    #[test]
    fn a_cache_round_trips_and_a_damaged_one_is_ignored() {
        let bytes = sample();
        let cache = EnvCache::from_bytes(bytes.clone()).unwrap();
        assert_eq!(cache.stat().unwrap().stamp("a.yaml").unwrap().inode, 3);
        assert_eq!(
            cache.units().unwrap().unit("web").unwrap().key,
            Some([2; 32])
        );
        let units = cache.units().unwrap();
        let web = units.unit("web").unwrap();
        assert_eq!(
            (web.check_rules.as_slice(), web.check_facts.as_ref()),
            (&["replicas".to_string()][..], "facts")
        );
        assert_eq!(units.check_env, Some([5; 32]));
        let header = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let mut flipped_stat = bytes.clone();
        flipped_stat[header + 40] ^= 1;
        let damaged: Vec<Vec<u8>> = vec![
            bytes[..bytes.len() / 2].to_vec(),
            b"garbage".to_vec(),
            Vec::new(),
            String::from_utf8_lossy(&bytes)
                .replace(env!("CARGO_PKG_VERSION"), "0.0.0-other")
                .into_bytes(),
            flipped_stat,
        ];
        for bytes in damaged {
            let cache = EnvCache::from_bytes(bytes).unwrap_or_default();
            assert!(cache.stat().is_none() || cache.units().is_none());
        }
        // A damaged units section still leaves the stat section usable, and is not trusted.
        let cache = EnvCache::from_bytes(flipped).unwrap();
        assert!(cache.units().is_none());
    }

    /// A kept unit's files carry the stamps that verified them into the plan (and from there
    /// into the next cache): every one in the record's order, or none at all.
    #[test]
    fn intact_stamps_are_the_stamps_of_every_file_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["a/one.yaml", "a/two.yaml", "b/three.yaml"];
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::create_dir_all(dir.path().join("b")).unwrap();
        let mut stamps = Vec::new();
        for name in names {
            let bytes = name.as_bytes();
            std::fs::write(dir.path().join(name), bytes).unwrap();
            let stamp = Stamp::take(&dir.path().join(name), blake3::hash(bytes)).unwrap();
            stamps.push((Cow::Borrowed(name), stamp));
        }
        // Saved well after the writes: no stamp is racy.
        let stat = StatSection {
            saved_at_ns: now_ns() + 10_000_000_000,
            stamps: stamps.clone(),
            ..StatSection::default()
        };
        let stat_dir = StatDir::open(dir.path());
        let files = |names: &[&'static str]| -> Vec<(Cow<'static, str>, Hash32)> {
            names
                .iter()
                .map(|n| (Cow::Borrowed(*n), *blake3::hash(n.as_bytes()).as_bytes()))
                .collect()
        };
        let wanted: Vec<Stamp> = stamps.iter().map(|(_, s)| *s).collect();
        assert_eq!(
            stat.intact_stamps(&stat_dir, &files(&names)),
            Some(wanted.clone())
        );
        // Out of the stamps' order (each is searched for), and a subset.
        assert_eq!(
            stat.intact_stamps(&stat_dir, &files(&["b/three.yaml", "a/one.yaml"])),
            Some(vec![wanted[2], wanted[0]])
        );
        // Unknown to the cache, wanted with another hash, or changed on disk: none.
        assert_eq!(
            stat.intact_stamps(&stat_dir, &files(&["a/one.yaml", "c.yaml"])),
            None
        );
        let mut other = files(&names);
        other[1].1 = [9; 32];
        assert_eq!(stat.intact_stamps(&stat_dir, &other), None);
        std::fs::write(dir.path().join("a/two.yaml"), "changed, and longer").unwrap();
        assert_eq!(stat.intact_stamps(&stat_dir, &files(&names)), None);
    }

    #[test]
    fn the_stat_section_alone_is_read_as_the_whole_file_has_it() {
        let dir = tempfile::tempdir().unwrap();
        // A stat section longer than the first read, and one shorter.
        for stamps in [1, 2_000] {
            let stat = StatSection {
                saved_at_ns: 7,
                units: 1,
                stamps: (0..stamps)
                    .map(|i| {
                        let stamp = Stamp {
                            size: i,
                            mtime_ns: 2,
                            inode: 3,
                            hash: [4; 32],
                        };
                        (Cow::Owned(format!("apps/web/{i:05}.yaml")), stamp)
                    })
                    .collect(),
                ..StatSection::default()
            };
            let full = EnvCache::from_bytes(sample()).unwrap();
            let units = full.units_framed().unwrap();
            let bytes = encode(&stat, units);
            std::fs::write(dir.path().join("dev.cache"), &bytes).unwrap();
            let head = EnvCache::load_stat(dir.path(), "dev");
            let read = head.stat().unwrap();
            assert_eq!(read.stamps, stat.stamps);
            assert_eq!(read.saved_at_ns, 7);
            assert!(head.units().is_none(), "the units section is not read");
            let whole = head.with_units(dir.path(), "dev").unwrap();
            assert_eq!(
                whole.units().unwrap().unit("web").unwrap().key,
                Some([2; 32])
            );
            // The file changed under it: the rest is not spliced onto the old head.
            let mut other = bytes.clone();
            let header = other.iter().position(|b| *b == b'\n').unwrap() + 1;
            other[header + 30] ^= 1;
            std::fs::write(dir.path().join("dev.cache"), &other).unwrap();
            assert!(head.with_units(dir.path(), "dev").is_none());
        }
        // A length past the file's end, a huge one, a truncated file: nothing read or allocated.
        let bytes = sample();
        let header = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
        let mut huge = bytes.clone();
        huge[header + 16..header + 24].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
        for damaged in [huge, bytes[..header + 10].to_vec(), b"no newline".to_vec()] {
            std::fs::write(dir.path().join("dev.cache"), &damaged).unwrap();
            assert!(EnvCache::load_stat(dir.path(), "dev").stat().is_none());
        }
        assert!(EnvCache::load_stat(dir.path(), "missing").stat().is_none());
    }
}
