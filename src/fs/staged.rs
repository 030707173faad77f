//! A whole folder staged at once. A cold build's environment has no folder in `out/` yet, so
//! its rendered files are written straight to their own paths inside one temp folder of the
//! staging folder, and applying renames that folder into place: one rename for the
//! environment instead of one per file (at N = 10,000, 153,000 renames, all taking the lock
//! of the one staging folder they left), and each file's stat data taken from the open file
//! as it is written instead of from a stat of its path afterwards.
//!
//! The temp folder's name starts like every temp file's, so [`Tree::clear_staging`] removes
//! a killed build's leftover folder too.

use super::{DirHandle, Folders, FsError, Tree, DIR_MODE, FILE_MODE, TEMP_PREFIX};
use crate::diagnostics::IoError;
use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use std::ffi::{CStr, CString};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// How deep [`remove_tree`] goes into a leftover folder before it gives up: stackc's own
/// layout is a few folders deep, and every level holds a handle open.
const MAX_REMOVE_DEPTH: usize = 64;

/// What a file looked like right after it was written: its size, mtime (ns) and inode.
/// Renaming the file keeps all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenFile {
    pub size: u64,
    pub mtime_ns: i128,
    pub inode: u64,
}

/// A temp folder of the staging folder that files are written into at their own paths
/// ([`StagedTree::write_files`]), for [`Tree::commit_tree`] to move into place as a whole.
pub struct StagedTree<'t> {
    tree: &'t Tree,
    name: String,
    /// The temp folder's folders (a layer, a namespace: shared by every unit below it).
    folders: Folders<'t>,
}

impl Tree {
    /// A new, empty temp folder in the staging folder for the files of `target` (relative to
    /// the root; named in messages).
    pub fn stage_tree(&self, target: &str) -> Result<StagedTree<'_>, FsError> {
        loop {
            let n = self.next_temp.fetch_add(1, Ordering::Relaxed);
            let name = format!("{TEMP_PREFIX}{}-tree-{n}", super::process_id());
            match rustix::fs::mkdirat(
                &self.staging.fd,
                name.as_str(),
                Mode::from_raw_mode(DIR_MODE),
            ) {
                Ok(()) => {
                    let root = self.open_child(&self.staging, &name, false)?;
                    return Ok(StagedTree {
                        tree: self,
                        name,
                        folders: self.folders(root),
                    });
                }
                // A leftover of an earlier process with the same id: take the next name.
                Err(rustix::io::Errno::EXIST) => {}
                Err(e) => {
                    return Err(IoError::new(
                        "create a temp folder for",
                        self.full(target),
                        e.into(),
                    )
                    .into())
                }
            }
        }
    }

    /// Moves the staged tree `name` (see [`StagedTree::name`]) to `target` in `dir`, which
    /// must not exist: one rename. Where something is there by now (or the file system
    /// cannot rename without replacing), each of `files` (paths inside the tree) is renamed
    /// into place on its own instead, as [`Tree::write`] would, and the emptied tree removed.
    pub fn commit_tree<'f>(
        &self,
        name: &str,
        dir: &DirHandle,
        target: &str,
        files: impl Iterator<Item = &'f str>,
    ) -> Result<(), FsError> {
        let renamed = rustix::fs::renameat_with(
            &self.staging.fd,
            name,
            &dir.fd,
            target,
            RenameFlags::NOREPLACE,
        );
        if renamed.is_ok() {
            return Ok(());
        }
        let staged = self.open_child(&self.staging, name, false)?;
        let into = self.subdir(dir, target)?;
        let mut open: Option<(&str, DirHandle, DirHandle)> = None;
        for path in files {
            let (folder, file) = path.rsplit_once('/').unwrap_or(("", path));
            if open.as_ref().is_none_or(|(f, _, _)| *f != folder) {
                // (`existing_subdir` of "" is no folder: the tree itself is `subdir`'s.)
                let from = if folder.is_empty() {
                    self.subdir(&staged, folder)?
                } else {
                    self.existing_subdir(&staged, folder)?
                        .ok_or_else(|| missing(self, &staged.child(path)))?
                };
                open = Some((folder, from, self.subdir(&into, folder)?));
            }
            if let Some((_, from, to)) = &open {
                rustix::fs::renameat(&from.fd, file, &to.fd, file)
                    .map_err(|e| IoError::new("replace", self.full(&to.child(file)), e.into()))?;
            }
        }
        drop(open);
        let name =
            CString::new(name).map_err(|e| IoError::new("remove", self.full(name), e.into()))?;
        remove_tree(self, self.staging.fd.as_fd(), "", &name, 0)
    }
}

fn missing(tree: &Tree, path: &str) -> FsError {
    IoError::new(
        "move",
        tree.full(path),
        std::io::Error::from(std::io::ErrorKind::NotFound),
    )
    .into()
}

impl StagedTree<'_> {
    /// The temp folder's name in the staging folder, for [`Tree::commit_tree`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes `files` (paths inside the tree, and bytes) at their paths, creating folders as
    /// needed; what each file looked like once written, in order. Each folder is opened
    /// once for a run of its files (a unit's files share one).
    pub fn write_files(&self, files: &[(&str, &[u8])]) -> Result<Vec<WrittenFile>, FsError> {
        let mut written = Vec::with_capacity(files.len());
        let mut open: Option<(&str, Arc<DirHandle>)> = None;
        for (path, bytes) in files {
            let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
            let dir = match &open {
                Some((at, dir)) if *at == folder => Arc::clone(dir),
                _ => {
                    let dir = self.folders.open(folder)?;
                    open = Some((folder, Arc::clone(&dir)));
                    dir
                }
            };
            written.push(self.write_file(&dir, name, bytes)?);
        }
        Ok(written)
    }

    fn write_file(
        &self,
        dir: &DirHandle,
        name: &str,
        bytes: &[u8],
    ) -> Result<WrittenFile, FsError> {
        let path = dir.child(name);
        let fd = rustix::fs::openat(
            &dir.fd,
            name,
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(FILE_MODE),
        )
        .map_err(|e| IoError::new("create", self.tree.full(&path), e.into()))?;
        let mut file = std::fs::File::from(fd);
        let written = super::fill(&mut file, &[bytes])
            .and_then(|()| rustix::fs::fstat(&file).map_err(Into::into))
            .map_err(|e| IoError::new("write", self.tree.full(&path), e))?;
        let mtime_ns =
            i128::from(written.st_mtime) * 1_000_000_000 + i128::from(written.st_mtime_nsec);
        Ok(WrittenFile {
            size: u64::try_from(written.st_size).unwrap_or_default(),
            mtime_ns,
            inode: written.st_ino,
        })
    }
}

/// Whether the entry `entry` of the folder `dir` is a folder (not a link to one).
pub(super) fn is_folder(dir: BorrowedFd<'_>, entry: &rustix::fs::DirEntry) -> bool {
    match entry.file_type() {
        FileType::Directory => true,
        // Some file systems do not say in the listing.
        FileType::Unknown => rustix::fs::statat(dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory),
        _ => false,
    }
}

/// Removes the folder `name` of `parent` and everything in it, following no link (a link is
/// removed as a file). `parent` is the folder at `within` in the staging folder (`""` for
/// the staging folder itself), for messages. Gives up past [`MAX_REMOVE_DEPTH`] levels.
pub(super) fn remove_tree(
    tree: &Tree,
    parent: BorrowedFd<'_>,
    within: &str,
    name: &CStr,
    depth: usize,
) -> Result<(), FsError> {
    let name_shown = name.to_string_lossy();
    let here = if within.is_empty() {
        name_shown.into_owned()
    } else {
        format!("{within}/{name_shown}")
    };
    let shown = || tree.full(&format!("{}/{here}", tree.staging.path));
    if depth >= MAX_REMOVE_DEPTH {
        return Err(IoError::new(
            "remove",
            shown(),
            std::io::Error::other(format!("more than {MAX_REMOVE_DEPTH} folders deep")),
        )
        .into());
    }
    let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(parent, name, flags, Mode::empty())
        .map_err(|e| IoError::new("open folder", shown(), e.into()))?;
    // Listed first, removed after: the listing is not read while it changes.
    let mut entries = Vec::new();
    for entry in rustix::fs::Dir::read_from(&fd)
        .map_err(|e| IoError::new("read folder", shown(), e.into()))?
    {
        let entry = entry.map_err(|e| IoError::new("read folder", shown(), e.into()))?;
        let entry_name = entry.file_name().to_bytes();
        if entry_name == b"." || entry_name == b".." {
            continue;
        }
        entries.push((entry.file_name().to_owned(), is_folder(fd.as_fd(), &entry)));
    }
    for (entry, is_dir) in entries {
        let removed = if is_dir {
            remove_tree(tree, fd.as_fd(), &here, &entry, depth + 1)
        } else {
            match rustix::fs::unlinkat(&fd, entry.as_c_str(), AtFlags::empty()) {
                Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
                Err(e) => Err(IoError::new("remove", shown(), e.into()).into()),
            }
        };
        removed?;
    }
    drop(fd);
    match rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(IoError::new("remove", shown(), e.into()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::folders::MAX_OPEN_PARENTS;
    use super::super::STAGING;
    use super::*;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    /// Every entry below `dir`, as sorted relative paths.
    fn listing(dir: &Path) -> Vec<String> {
        let mut found = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(at) = stack.pop() {
            for entry in std::fs::read_dir(&at).unwrap() {
                let path = entry.unwrap().path();
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
                if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                    stack.push(path);
                }
            }
        }
        found.sort();
        found
    }

    /// `files` staged in a new tree for out/dev: the tree's name, and what was written.
    fn stage(tree: &Tree, files: &[(&str, &[u8])]) -> (String, Vec<WrittenFile>) {
        let staged = tree.stage_tree("out/dev").unwrap();
        let written = staged.write_files(files).unwrap();
        (staged.name().to_string(), written)
    }

    /// The staged tree `name` committed as out/dev.
    fn commit(tree: &Tree, name: &str, files: &[(&str, &[u8])]) {
        let out = tree.dir("out").unwrap();
        tree.commit_tree(name, &out, "dev", files.iter().map(|(p, _)| *p))
            .unwrap();
    }

    #[test]
    fn a_staged_tree_becomes_the_folder_with_the_stamps_its_files_were_written_with() {
        let root = tempfile::tempdir().unwrap();
        let tree = Tree::open(root.path()).unwrap();
        let files: [(&str, &[u8]); 4] = [
            ("apps/kustomization.yaml", b"k"),
            ("apps/web/a.yaml", b"a"),
            ("apps/web/b.yaml", b"bb"),
            ("top.yaml", b"top"),
        ];
        let (name, written) = stage(&tree, &files);
        commit(&tree, &name, &files);
        let dev = root.path().join("out/dev");
        for ((path, bytes), file) in files.iter().zip(written) {
            assert_eq!(std::fs::read(dev.join(path)).unwrap(), *bytes);
            let (size, mtime_ns, inode) = crate::cache::stat(&dev.join(path)).unwrap();
            assert_eq!(
                file,
                WrittenFile {
                    size,
                    mtime_ns,
                    inode
                },
                "{path}"
            );
        }
        assert!(listing(&root.path().join(STAGING)).is_empty());
        tree.finish().unwrap();
        assert!(!root.path().join(STAGING).exists());
    }

    #[test]
    fn a_folder_there_by_commit_time_gets_the_staged_files_one_by_one() {
        let root = tempfile::tempdir().unwrap();
        let tree = Tree::open(root.path()).unwrap();
        let files: [(&str, &[u8]); 3] = [
            ("apps/web/a.yaml", b"new a"),
            ("apps/web/b.yaml", b"new b"),
            ("z.yaml", b"z"),
        ];
        let (name, _) = stage(&tree, &files);
        // Made by someone else after planning: an old copy of one file, and one of theirs.
        std::fs::create_dir_all(root.path().join("out/dev/apps/web")).unwrap();
        std::fs::write(root.path().join("out/dev/apps/web/a.yaml"), "old a").unwrap();
        std::fs::write(root.path().join("out/dev/theirs.yaml"), "theirs").unwrap();
        commit(&tree, &name, &files);
        let dev = root.path().join("out/dev");
        assert_eq!(read(&dev.join("apps/web/a.yaml")), "new a");
        assert_eq!(read(&dev.join("apps/web/b.yaml")), "new b");
        assert_eq!(read(&dev.join("z.yaml")), "z");
        assert_eq!(read(&dev.join("theirs.yaml")), "theirs");
        assert!(listing(&root.path().join(STAGING)).is_empty());
    }

    #[test]
    fn folders_past_the_kept_parents_are_opened_each_time() {
        let root = tempfile::tempdir().unwrap();
        let tree = Tree::open(root.path()).unwrap();
        let staged = tree.stage_tree("out/dev").unwrap();
        let paths: Vec<String> = (0..MAX_OPEN_PARENTS + 20)
            .map(|i| format!("layer/ns-{i}/svc/file.yaml"))
            .collect();
        let files: Vec<(&str, &[u8])> = paths.iter().map(|p| (p.as_str(), &b"x"[..])).collect();
        assert_eq!(staged.write_files(&files).unwrap().len(), paths.len());
        assert!(staged.folders.parents.lock().unwrap().len() <= MAX_OPEN_PARENTS);
        let at = root.path().join(STAGING).join(staged.name());
        assert!(paths.iter().all(|p| at.join(p).is_file()));
    }

    #[test]
    fn clearing_removes_a_leftover_tree_without_following_its_links() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(outside.path().join("kept")).unwrap();
        std::fs::write(outside.path().join("kept/victim"), "outside").unwrap();
        let tree = Tree::open(root.path()).unwrap();
        let leftover = root.path().join(STAGING).join(".stackc-tmp-1-tree-0");
        std::fs::create_dir_all(leftover.join("apps/web")).unwrap();
        std::fs::write(leftover.join("apps/web/a.yaml"), "a").unwrap();
        std::os::unix::fs::symlink(outside.path().join("kept"), leftover.join("apps/link"))
            .unwrap();
        // A name that is not UTF-8 is removed by its bytes, not by a lossy copy of them.
        let odd = std::ffi::OsStr::from_bytes(b"odd-\xff");
        std::fs::create_dir(leftover.join(odd)).unwrap();
        std::fs::write(leftover.join(odd).join(odd), "x").unwrap();
        // Not stackc's: left alone.
        std::fs::create_dir(root.path().join(STAGING).join("mine")).unwrap();
        tree.clear_staging().unwrap();
        assert!(!leftover.exists());
        assert_eq!(read(&outside.path().join("kept/victim")), "outside");
        assert_eq!(listing(&root.path().join(STAGING)), ["mine"]);
    }

    #[test]
    fn a_leftover_tree_too_deep_to_clear_is_an_error_not_a_crash() {
        let root = tempfile::tempdir().unwrap();
        let tree = Tree::open(root.path()).unwrap();
        let mut deep = root.path().join(STAGING).join(".stackc-tmp-1-tree-0");
        for _ in 0..=MAX_REMOVE_DEPTH {
            deep.push("d");
        }
        std::fs::create_dir_all(&deep).unwrap();
        let error = tree.clear_staging().unwrap_err().to_string();
        assert!(error.contains("more than 64 folders deep"), "{error}");
        // The folder given up on, by its path below the staging folder.
        let below = format!(".stackc-tmp-1-tree-0{}`", "/d".repeat(MAX_REMOVE_DEPTH));
        assert!(error.contains(&below), "{error}");
    }
}
