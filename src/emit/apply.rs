//! A build's plan and the one function that carries it out. Planning (`build::Engine::plan`)
//! reads the stack, the caches and `out/` and decides everything: the wanted files of each
//! environment and how they differ from disk, the secret stores to rewrite, the caches to
//! save and what to tell the user. [`apply`] then does all the writing to the stack, and
//! nothing else does: so a build that fails anywhere in planning changes no file at all. The
//! one write planning makes is to the build's own staging folder (`.stackc-cache/staging/`):
//! a cold environment's rendered files go to their paths in a temp folder there as soon as
//! they are rendered ([`Content::Staged`]), so that their bytes are not held until apply;
//! [`apply`] renames that folder into place as the environment's, and a failed plan removes
//! it ([`abandon`]).
//!
//! Writing goes through [`crate::fs::Tree`] (folder handles opened without following links,
//! temp files in a staging folder, renames into place): stores first, then each
//! environment's files, prunes and index, then the caches (which describe what was written,
//! so they come last; a build killed before them only costs the next build some checking).

use super::write::EnvChanges;
use crate::cache::{EnvCache, InputStamps, Stamp, StatSection};
use crate::diagnostics::Diagnostics;
use crate::fs::{DirHandle, FsError, Tree};
use crate::layout::{Content, Files, Hashed, INDEX_FILE};
use crate::seal::environment::StoreUpdate;
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

/// One environment, planned: its wanted files, how `out/<env>` differs from them, and what
/// the cache should remember.
pub struct EnvPlan {
    pub env: String,
    pub files: Files,
    /// What differs between `files` and `out/<env>`.
    pub changes: EnvChanges,
    pub rendered: usize,
    pub skipped: usize,
    /// How many render units the environment has.
    pub unit_count: usize,
    /// The index (`.stackc-files`) for `files`, hashed.
    pub index: Hashed,
    /// The next cache's units section (unit records), already encoded against `old_cache`.
    pub units_section: crate::cache::EncodedUnits,
    /// The cache this environment was planned against (its stamps are reused).
    pub old_cache: EnvCache,
    /// The environment's folders in other output roots (`gitops { output ... }`).
    pub roots: Vec<super::roots::RootPlan>,
    /// The temp folder in the staging folder holding the [`Content::Staged`] files at their
    /// paths, when the environment had no folder in out/ (see [`crate::fs::StagedTree`]).
    pub staged: Option<String>,
}

/// Everything a build changes, decided before anything is written.
pub struct Plan {
    /// The stack root: every path below is relative to it.
    pub root: PathBuf,
    pub envs: Vec<EnvPlan>,
    /// Secret stores to rewrite (generated values, new recipients).
    pub stores: Vec<StoreUpdate>,
    /// Cache files other than the environments' (by name in `.stackc-cache/`).
    pub caches: Vec<(String, Vec<u8>)>,
    /// The inputs the build read, for the next no-op check.
    pub inputs: InputStamps,
    /// What to tell the user, in a fixed order (environment order, then as found).
    pub notes: Vec<String>,
}

/// What [`apply`] did to one environment.
pub struct Applied {
    pub env: String,
    pub written: Vec<String>,
    pub pruned: Vec<String>,
}

/// Carries out a plan: the only function of a build that writes. Returns what it did per
/// environment, and notes (caches that could not be saved cost only speed, so they are
/// warnings, not errors).
pub fn apply(plan: &Plan, tree: Tree) -> Result<(Vec<Applied>, Vec<String>), Diagnostics> {
    match apply_to(plan, &tree) {
        Ok(done) => {
            tree.finish()?;
            Ok(done)
        }
        Err(e) => {
            // What was staged and not committed goes; what was committed stays (the next
            // build, planned against it, finishes the job).
            abandon(tree);
            Err(e)
        }
    }
}

fn apply_to(plan: &Plan, tree: &Tree) -> Result<(Vec<Applied>, Vec<String>), Diagnostics> {
    let mut inputs = plan.inputs.clone();
    for store in &plan.stores {
        let rel = store.path.strip_prefix(&plan.root).unwrap_or(&store.path);
        let rel = rel.to_string_lossy().replace('\\', "/");
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
        let handle = tree.dir(dir)?;
        tree.write(&handle, name, &store.bytes)?;
        inputs.restamp(&plan.root, &rel, blake3::hash(&store.bytes));
    }
    let mut applied = Vec::new();
    for env in &plan.envs {
        let mut done = apply_env(tree, env)?;
        let (written, pruned) = super::roots::apply(&env.roots)?;
        done.written.extend(written);
        done.pruned.extend(pruned);
        applied.push(done);
    }
    let mut notes = Vec::new();
    let saved_at = crate::cache::now_ns();
    // Each environment's cache: its new stat section, then the units section as planned
    // (written after it, not copied behind it).
    let heads: Vec<(String, Vec<u8>)> = plan
        .envs
        .par_iter()
        .zip(&applied)
        .map(|(env, done)| {
            let dir = plan.root.join("out").join(&env.env);
            (
                crate::cache::cache_file_name(&env.env),
                next_cache_head(env, &dir, &done.written, &inputs, saved_at),
            )
        })
        .collect();
    if plan.envs.iter().all(|e| e.roots.is_empty()) {
        // No output roots any more: the no-op shortcut may vouch for out/ again.
        if let Ok(cache_dir) = tree.dir(crate::CACHE_DIR) {
            let _ = tree.remove_file(&cache_dir, super::roots::ROOTS_MARKER);
        }
    }
    let others = plan
        .caches
        .iter()
        .map(|(name, bytes)| (name.as_str(), vec![bytes.as_slice()]));
    let envs = heads.iter().zip(&plan.envs).map(|((name, head), env)| {
        let mut pieces = vec![head.as_slice()];
        pieces.extend(env.units_section.pieces(env.old_cache.bytes()));
        (name.as_str(), pieces)
    });
    notes.extend(write_caches(tree, others.chain(envs)));
    Ok((applied, notes))
}

/// Writes cache files (by name, each in pieces written one after another) into
/// `.stackc-cache/`. A cache that cannot be saved only costs speed next time: each failure is
/// a warning, not an error.
fn write_caches<'a>(
    tree: &Tree,
    caches: impl Iterator<Item = (&'a str, Vec<&'a [u8]>)>,
) -> Vec<String> {
    let cache_dir = match tree.dir(crate::CACHE_DIR) {
        Ok(dir) => dir,
        Err(e) => return vec![format!("warning: {e}")],
    };
    caches
        .filter_map(|(name, pieces)| tree.write_pieces(&cache_dir, name, &pieces, None).err())
        .map(|e| format!("warning: {e}"))
        .collect()
}

/// Saves cache files (by name in `.stackc-cache/`) outside a build's apply: the no-op's
/// refreshed stat sections (`cache::UpToDate`), written as `apply` writes them (staged,
/// renamed into place, never through a link). They only save time next build, so a failure
/// leaves the old cache and says nothing.
pub fn save_caches(root: &Path, caches: &[(String, Vec<u8>)]) {
    if let Ok(tree) = Tree::open(root) {
        let pieces = caches
            .iter()
            .map(|(name, bytes)| (name.as_str(), vec![bytes.as_slice()]));
        let _ = write_caches(&tree, pieces);
        let _ = tree.finish();
    }
}

/// A build's write edge, opened for planning: the stack root with its staging folder, cleared
/// of what a killed build left there. Planning may stage files in it ([`Content::Staged`]);
/// [`apply`] commits them, and a plan that fails hands it to [`abandon`].
pub fn open_tree(root: &Path) -> Result<Tree, Diagnostics> {
    let tree = Tree::open(root)?;
    tree.clear_staging()?;
    Ok(tree)
}

/// Removes what a failed plan staged, and the staging folder: nothing is left of the build.
pub fn abandon(tree: Tree) {
    let _ = tree.finish();
}

/// A file's name in its folder, and its new bytes.
type NamedBytes<'a> = (&'a str, &'a [u8]);

/// Writes one environment's missing and stale files, prunes its extra ones and rewrites its
/// index.
fn apply_env(tree: &Tree, env: &EnvPlan) -> Result<Applied, Diagnostics> {
    let changes = &env.changes;
    if let Some(staged) = &env.staged {
        // The staged tree becomes the environment's folder, with every rendered file in it.
        let staged_files = env
            .files
            .iter()
            .filter(|(_, content)| matches!(content, Content::Staged(_)))
            .map(|(path, _)| path.as_str());
        tree.commit_tree(staged, &tree.dir("out")?, &env.env, staged_files)?;
    }
    // Each changed file's folder is opened by path, with the folders above it opened once.
    let env_folders = tree.folders(tree.dir(&format!("out/{}", env.env))?);
    let env_dir = env_folders.base();
    let to_write: Vec<&String> = changes.missing.iter().chain(&changes.stale).collect();
    // One folder handle per folder, opened once for all its files; folders in parallel.
    let mut by_folder: BTreeMap<&str, Vec<NamedBytes<'_>>> = BTreeMap::new();
    for path in &to_write {
        let Some(Content::Bytes(bytes)) = env.files.get(path.as_str()) else {
            continue;
        };
        let (folder, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        by_folder
            .entry(folder)
            .or_default()
            .push((name, bytes.as_slice()));
    }
    let folders: Vec<(&str, Vec<NamedBytes<'_>>)> = by_folder.into_iter().collect();
    let errors: Vec<FsError> = folders
        .par_iter()
        .filter_map(|(folder, files)| {
            let write = || -> Result<(), FsError> {
                let dir = env_folders.open(folder)?;
                for (name, bytes) in files {
                    tree.write(&dir, name, bytes)?;
                }
                Ok(())
            };
            write().err()
        })
        .collect();
    let mut diagnostics = Diagnostics::new();
    for e in errors {
        diagnostics.push(e);
    }
    diagnostics.into_result(())?;
    let mut emptied: BTreeSet<&str> = BTreeSet::new();
    for path in &changes.extra {
        let (folder, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if let Some(dir) = tree.existing_subdir(env_dir, folder)? {
            tree.remove_file(&dir, name)?;
        }
        if !folder.is_empty() {
            emptied.insert(folder);
        }
    }
    // Deepest first, so a folder is tried after its subfolders.
    let mut emptied: Vec<&str> = emptied.into_iter().collect();
    emptied.sort_by_key(|f| std::cmp::Reverse(f.matches('/').count()));
    let mut tried = BTreeSet::new();
    for folder in emptied {
        remove_empty_parents(tree, env_dir, folder, &mut tried)?;
    }
    // The plan compared the index on disk with the wanted one.
    if changes
        .missing
        .iter()
        .chain(&changes.stale)
        .any(|p| p == INDEX_FILE)
    {
        // Dated in the past: a file written just before the cache is saved has a racy stamp
        // (a write in the same timestamp tick would not move its mtime), and every later
        // build would read and hash the index (5.7 MB per environment at N = 10,000) to
        // trust it. Any later write gives it the time of that write, which is not this one.
        let backdated = crate::cache::now_ns() / 1_000_000_000 - 2;
        let backdated = i64::try_from(backdated).unwrap_or_default();
        tree.write_pieces(
            env_dir,
            INDEX_FILE,
            &[env.index.as_slice()],
            Some(backdated),
        )?;
    }
    Ok(Applied {
        env: env.env.clone(),
        // The index is bookkeeping, written above: the count is of the environment's files.
        written: to_write
            .into_iter()
            .filter(|path| path.as_str() != INDEX_FILE)
            .cloned()
            .collect(),
        pruned: changes.extra.clone(),
    })
}

/// Removes `folder` (relative to `env_dir`) and its parents while they are empty.
fn remove_empty_parents<'a>(
    tree: &Tree,
    env_dir: &DirHandle,
    folder: &'a str,
    tried: &mut BTreeSet<&'a str>,
) -> Result<(), FsError> {
    let mut current = folder;
    loop {
        if !tried.insert(current) {
            return Ok(());
        }
        let (parent, name) = current.rsplit_once('/').unwrap_or(("", current));
        let Some(dir) = tree.existing_subdir(env_dir, parent)? else {
            return Ok(());
        };
        if !tree.remove_empty_dir(&dir, name) || parent.is_empty() {
            return Ok(());
        }
        current = parent;
    }
}

/// The cache file after `env` was applied to `dir`: the planned units section, and stamps
/// for every file (fresh ones only for files written or not verified by stat).
fn next_cache_head(
    env: &EnvPlan,
    dir: &Path,
    written: &[String],
    inputs: &InputStamps,
    saved_at_ns: i128,
) -> Vec<u8> {
    // Looked up once per file (all of them in a cold build), never iterated.
    let written: HashSet<&str> = written.iter().map(String::as_str).collect();
    let mut stamps: Vec<(Cow<'_, str>, Stamp)> = env
        .files
        .par_iter()
        .filter_map(|(path, content)| {
            // A kept file carries the stamp that verified it in the plan, and a staged one
            // the stamp taken as it was written; any other file (rendered, generated, or
            // written now) is stat'ed afresh.
            let stamp = match content {
                Content::Kept(stamp) if !written.contains(path.as_str()) => *stamp,
                Content::Staged(stamp) => *stamp,
                _ => Stamp::take(&dir.join(path), content.hash())?,
            };
            Some((Cow::Borrowed(path.as_str()), stamp))
        })
        .collect();
    let every_file_stamped = stamps.len() == env.files.len();
    // The planned index is on disk now: written above, or found there by the plan. (It is
    // not read back: a write by anyone else since gives the file a time within a tick of
    // this save, and the next build checks such a stamp by content.)
    let mut stamps_are_index = false;
    if let Some(stamp) = Stamp::take(&dir.join(INDEX_FILE), env.index.hash()) {
        // The files come sorted (a map by path, collected in order): the index goes in at
        // its place. (Sorting all again held a scratch copy of the stamps, 4.9 MB per
        // environment at N = 10,000, at the build's peak.)
        let at = stamps.partition_point(|(path, _)| path.as_ref() < INDEX_FILE);
        // One more than collected: without this, the insert doubles the vector.
        stamps.reserve_exact(1);
        stamps.insert(at, (Cow::Borrowed(INDEX_FILE), stamp));
        // The planned index lists every file with the hash its stamp has.
        stamps_are_index = every_file_stamped;
    }
    debug_assert!(stamps.is_sorted_by(|a, b| a.0 <= b.0));
    crate::cache::encode_head(&StatSection {
        saved_at_ns,
        inputs: inputs.clone(),
        units: env.unit_count,
        stamps,
        stamps_are_index,
    })
}
