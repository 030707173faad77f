//! The bottom of the write edge: every file a build writes, renames or removes goes through
//! folder handles opened from the stack root one component at a time with `O_NOFOLLOW`, and
//! every change is made relative to such a handle (`openat`, `mkdirat`, `renameat`,
//! `unlinkat`). A symbolic link anywhere below the stack root on a path stackc writes is
//! refused, even one swapped in after planning, so stackc never writes, renames or deletes
//! outside the folders it owns, whatever the tree looks like.
//!
//! New bytes are written to a temp file in one staging folder that stackc owns
//! (`.stackc-cache/staging/`, on the same file system as `out/`, so the rename into place is
//! atomic and a reader never sees half a file); a cold environment's files are written at
//! their paths in one temp folder there, renamed into place whole ([`StagedTree`]). A killed
//! build can leave temp files and folders only there; the next build removes them before it
//! writes anything, and removes the folder when it is done, so `out/` never holds a temp
//! file and `build --check` has none to see.

mod folders;
mod staged;

pub use folders::Folders;
pub use staged::{StagedTree, WrittenFile};

use crate::diagnostics::IoError;
use miette::Diagnostic;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use thiserror::Error;

/// The staging folder, relative to the stack root.
pub const STAGING: &str = ".stackc-cache/staging";

/// The name every temp file starts with, so that clearing a staging folder removes only them.
const TEMP_PREFIX: &str = ".stackc-tmp-";

/// Permissions of every file stackc writes (whatever the umask): manifests are not secret
/// (sealed Secrets hold ciphertext only) and tools run by other users read them.
const FILE_MODE: u32 = 0o644;
const DIR_MODE: u32 = 0o755;

/// Whether a file created with [`FILE_MODE`] keeps it under this process's umask, read once
/// from `/proc/self/status` (not known counts as no). Then the `fchmod` after each create is
/// skipped: it was one syscall of five per file written, 153,000 in a cold build at N = 10,000.
fn umask_keeps_file_mode() -> bool {
    static KEEPS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *KEEPS.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                let mask = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
                u32::from_str_radix(mask.trim(), 8).ok()
            })
            .is_some_and(|mask| mask & FILE_MODE == 0)
    })
}

/// Writes `pieces` into `file`, one stackc has just created, and gives it [`FILE_MODE`]
/// whatever the umask (a change of mode leaves the mtime alone).
fn fill(file: &mut std::fs::File, pieces: &[&[u8]]) -> std::io::Result<()> {
    for piece in pieces {
        file.write_all(piece)?;
    }
    if umask_keeps_file_mode() {
        return Ok(());
    }
    rustix::fs::fchmod(&*file, Mode::from_raw_mode(FILE_MODE)).map_err(Into::into)
}

/// This process's id, asked once: it names every temp file, and asking is a syscall.
fn process_id() -> u32 {
    static ID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *ID.get_or_init(std::process::id)
}

/// A failure at the write edge.
#[derive(Debug, Error, Diagnostic)]
pub enum FsError {
    /// A symbolic link where stackc would write.
    #[error("{path} is a symbolic link; stackc does not write through links")]
    #[diagnostic(
        code(stackc::fs::symlink),
        help("stackc writes only inside out/, environments/ and .stackc-cache/ of the stack, never through a link that could lead elsewhere; replace the link with a real folder or file (or remove it) and build again")
    )]
    Symlink { path: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
}

/// An open folder below the stack root, with its path (relative to the root) for messages.
pub struct DirHandle {
    fd: OwnedFd,
    path: String,
}

impl DirHandle {
    /// The folder's path relative to the stack root (`""` for the root itself).
    pub fn path(&self) -> &str {
        &self.path
    }

    fn child(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.path)
        }
    }
}

/// The stack root, opened for writing through handles, with its staging folder.
pub struct Tree {
    root: DirHandle,
    root_path: PathBuf,
    staging: DirHandle,
    next_temp: AtomicU64,
}

impl Tree {
    /// Opens the stack root (the one path followed as given: the user chose it) and creates
    /// the staging folder. A build then calls [`Tree::clear_staging`] under its lock.
    pub fn open(root: &Path) -> Result<Tree, FsError> {
        Tree::open_with_staging(root, STAGING)
    }

    /// Opens `root` with temp files staged in `staging` (relative to it; `"."` stages in
    /// the root itself, for a single file written outside a build).
    pub fn open_with_staging(root: &Path, staging: &str) -> Result<Tree, FsError> {
        let open = |path: &Path| {
            rustix::fs::open(
                path,
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| IoError::new("open", path, e.into()))
        };
        let root_handle = DirHandle {
            fd: open(root)?,
            path: String::new(),
        };
        let mut tree = Tree {
            staging: DirHandle {
                fd: open(root)?,
                path: String::new(),
            },
            root: root_handle,
            root_path: root.to_path_buf(),
            next_temp: AtomicU64::new(0),
        };
        tree.staging = tree.dir(staging)?;
        Ok(tree)
    }

    /// The stack root's path.
    pub fn root_path(&self) -> &Path {
        &self.root_path
    }

    /// The stack root's handle.
    pub fn root(&self) -> &DirHandle {
        &self.root
    }

    /// Opens (creating as needed) the folder at `rel` below the root.
    pub fn dir(&self, rel: &str) -> Result<DirHandle, FsError> {
        self.subdir(&self.root, rel)
    }

    /// Opens (creating as needed) the folder at `rel` below `base`, refusing a link at any
    /// component.
    pub fn subdir(&self, base: &DirHandle, rel: &str) -> Result<DirHandle, FsError> {
        let mut current: Option<DirHandle> = None;
        for name in rel.split('/').filter(|p| !p.is_empty() && *p != ".") {
            let parent = current.as_ref().unwrap_or(base);
            let next = self.open_child(parent, name, true)?;
            current = Some(next);
        }
        match current {
            Some(dir) => Ok(dir),
            None => Ok(DirHandle {
                fd: base
                    .fd
                    .try_clone()
                    .map_err(|e| IoError::new("open", self.full(&base.path), e))?,
                path: base.path.clone(),
            }),
        }
    }

    /// Opens the existing folder at `rel` below `base`; `None` when some component is missing.
    pub fn existing_subdir(
        &self,
        base: &DirHandle,
        rel: &str,
    ) -> Result<Option<DirHandle>, FsError> {
        let mut current: Option<DirHandle> = None;
        for name in rel.split('/').filter(|p| !p.is_empty() && *p != ".") {
            let parent = current.as_ref().unwrap_or(base);
            match self.open_child(parent, name, false) {
                Ok(next) => current = Some(next),
                Err(FsError::Io(e)) if e.source.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
        Ok(current)
    }

    fn open_child(
        &self,
        parent: &DirHandle,
        name: &str,
        create: bool,
    ) -> Result<DirHandle, FsError> {
        let path = parent.child(name);
        let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
        let opened = match rustix::fs::openat(&parent.fd, name, flags, Mode::empty()) {
            Err(rustix::io::Errno::NOENT) if create => {
                match rustix::fs::mkdirat(&parent.fd, name, Mode::from_raw_mode(DIR_MODE)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => {
                        return Err(IoError::new("create folder", self.full(&path), e.into()).into())
                    }
                }
                rustix::fs::openat(&parent.fd, name, flags, Mode::empty())
            }
            other => other,
        };
        match opened {
            Ok(fd) => Ok(DirHandle { fd, path }),
            Err(e) => {
                if is_symlink(parent.fd.as_fd(), name) {
                    Err(FsError::Symlink { path })
                } else {
                    Err(IoError::new("open folder", self.full(&path), e.into()).into())
                }
            }
        }
    }

    /// Replaces (or creates) the file `name` in `dir` with `bytes`, atomically: a temp file in
    /// the staging folder, then a rename into place (which replaces a link, never follows it).
    pub fn write(&self, dir: &DirHandle, name: &str, bytes: &[u8]) -> Result<(), FsError> {
        self.write_pieces(dir, name, &[bytes], None)
    }

    /// [`Tree::write`] of the file whose bytes are `pieces`, one after another, and whose
    /// modification time is `mtime_secs` (seconds since the epoch) when given: set before the
    /// file is renamed into place, so it never has any other.
    pub fn write_pieces(
        &self,
        dir: &DirHandle,
        name: &str,
        pieces: &[&[u8]],
        mtime_secs: Option<i64>,
    ) -> Result<(), FsError> {
        let temp = self.stage_pieces(&dir.child(name), pieces, mtime_secs)?;
        self.commit(&temp, dir, name)
    }

    /// The second half of [`Tree::write`]: renames the staged temp file `temp` to `name` in
    /// `dir` (replacing a link, never following it); on failure the temp file is removed.
    fn commit(&self, temp: &str, dir: &DirHandle, name: &str) -> Result<(), FsError> {
        let renamed = rustix::fs::renameat(&self.staging.fd, temp, &dir.fd, name)
            .map_err(|e| IoError::new("replace", self.full(&dir.child(name)), e.into()));
        if renamed.is_err() {
            let _ = rustix::fs::unlinkat(&self.staging.fd, temp, AtFlags::empty());
        }
        Ok(renamed?)
    }

    /// The first half of [`Tree::write_pieces`]: `pieces` in a new temp file of the staging
    /// folder, whose name is returned for [`Tree::commit`]. `target` (relative to the root)
    /// is the file it is for, named in messages. A temp file never committed is removed by
    /// [`Tree::finish`] (or by the next build's [`Tree::clear_staging`]).
    fn stage_pieces(
        &self,
        target: &str,
        pieces: &[&[u8]],
        mtime_secs: Option<i64>,
    ) -> Result<String, FsError> {
        let (temp_name, fd) = self.create_temp()?;
        let mut file = std::fs::File::from(fd);
        let written = fill(&mut file, pieces)
            .and_then(|()| match mtime_secs {
                Some(secs) => {
                    let at = rustix::fs::Timespec {
                        tv_sec: secs,
                        tv_nsec: 0,
                    };
                    let times = rustix::fs::Timestamps {
                        last_access: at,
                        last_modification: at,
                    };
                    rustix::fs::futimens(&file, &times).map_err(Into::into)
                }
                None => Ok(()),
            })
            .map_err(|e| IoError::new("write", self.full(target), e));
        drop(file);
        if written.is_err() {
            let _ = rustix::fs::unlinkat(&self.staging.fd, &temp_name, AtFlags::empty());
        }
        written?;
        Ok(temp_name)
    }

    fn create_temp(&self) -> Result<(String, OwnedFd), FsError> {
        loop {
            let n = self.next_temp.fetch_add(1, Ordering::Relaxed);
            let name = format!("{TEMP_PREFIX}{}-{n}", process_id());
            match rustix::fs::openat(
                &self.staging.fd,
                name.as_str(),
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(FILE_MODE),
            ) {
                Ok(fd) => return Ok((name, fd)),
                // A leftover of an earlier process with the same id: take the next name.
                Err(rustix::io::Errno::EXIST) => {}
                Err(e) => {
                    return Err(IoError::new(
                        "create a temp file in",
                        self.full(&self.staging.path),
                        e.into(),
                    )
                    .into())
                }
            }
        }
    }

    /// Removes the file `name` from `dir` (a link is removed, never followed); whether it was
    /// there.
    pub fn remove_file(&self, dir: &DirHandle, name: &str) -> Result<bool, FsError> {
        match rustix::fs::unlinkat(&dir.fd, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(IoError::new("remove", self.full(&dir.child(name)), e.into()).into()),
        }
    }

    /// Removes the folder `name` from `dir` when it is empty; whether it was removed.
    pub fn remove_empty_dir(&self, dir: &DirHandle, name: &str) -> bool {
        rustix::fs::unlinkat(&dir.fd, name, AtFlags::REMOVEDIR).is_ok()
    }

    /// Removes every temp file a killed build left in the staging folder (call it only under
    /// the build lock: another build's temp files are not leftovers).
    pub fn clear_staging(&self) -> Result<(), FsError> {
        let shown = if self.staging.path.is_empty() {
            ".".to_string()
        } else {
            self.staging.path.clone()
        };
        let fd = rustix::fs::openat(
            &self.staging.fd,
            ".",
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| IoError::new("open folder", self.full(&shown), e.into()))?;
        let entries = rustix::fs::Dir::read_from(&fd)
            .map_err(|e| IoError::new("read folder", self.full(&shown), e.into()))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| IoError::new("read folder", self.full(&shown), e.into()))?;
            let name = entry.file_name().to_bytes();
            if !name.starts_with(TEMP_PREFIX.as_bytes()) {
                continue;
            }
            let name = entry.file_name();
            // A staged tree (a cold environment's files) goes with everything in it.
            if staged::is_folder(self.staging.fd.as_fd(), &entry) {
                staged::remove_tree(self, self.staging.fd.as_fd(), "", name, 0)?;
                continue;
            }
            match rustix::fs::unlinkat(&self.staging.fd, name, AtFlags::empty()) {
                Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                Err(e) => {
                    let path = format!("{shown}/{}", name.to_string_lossy());
                    return Err(IoError::new("remove", self.full(&path), e.into()).into());
                }
            }
        }
        Ok(())
    }

    /// Removes the (now empty) staging folder of a build: a build that finished leaves none.
    pub fn finish(self) -> Result<(), FsError> {
        self.clear_staging()?;
        let Some((parent, name)) = STAGING.rsplit_once('/') else {
            return Ok(());
        };
        if self.staging.path == STAGING {
            if let Some(parent) = self.existing_subdir(&self.root, parent)? {
                self.remove_empty_dir(&parent, name);
            }
        }
        Ok(())
    }

    fn full(&self, rel: &str) -> PathBuf {
        self.root_path.join(rel)
    }
}

fn is_symlink(dir: BorrowedFd<'_>, name: &str) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
}

/// Whether a build left temp files behind (its staging folder exists): then the next build
/// is not a no-op, so that it removes them.
pub fn staging_left_over(root: &Path) -> bool {
    std::fs::symlink_metadata(root.join(STAGING)).is_ok()
}

/// The first symbolic link on the path `rel` below `root` (each component, the last one
/// included), as a path relative to the root; missing components end the walk. For planning:
/// refusing before anything is written.
pub fn first_symlink(root: &Path, rel: &str) -> Option<String> {
    let mut path = root.to_path_buf();
    let mut shown = String::new();
    for name in rel.split('/').filter(|p| !p.is_empty() && *p != ".") {
        path.push(name);
        if !shown.is_empty() {
            shown.push('/');
        }
        shown.push_str(name);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => return Some(shown),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

/// Refuses a link at `rel` (every component) below `root`.
pub fn refuse_symlink(root: &Path, rel: &str) -> Result<(), FsError> {
    match first_symlink(root, rel) {
        Some(path) => Err(FsError::Symlink { path }),
        None => Ok(()),
    }
}

/// Writes `bytes` to the file `path` atomically, outside a build (a cache file saved on its
/// own): the temp file sits beside it, under the reserved temp name.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Err(IoError::new(
            "write",
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
        )
        .into());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::create_dir_all(dir).map_err(|e| IoError::new("create folder", dir, e))?;
    let tree = Tree::open_with_staging(dir, ".")?;
    tree.write(tree.root(), name, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, tempfile::TempDir) {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("victim"), "outside").unwrap();
        (root, outside)
    }

    #[test]
    fn a_link_on_a_folder_path_is_refused_and_nothing_is_created_beyond_it() {
        let (root, outside) = setup();
        std::fs::create_dir(root.path().join("out")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out/dev")).unwrap();
        let tree = Tree::open(root.path()).unwrap();
        match tree.dir("out/dev/apps") {
            Err(FsError::Symlink { path }) => assert_eq!(path, "out/dev"),
            other => panic!("not refused: {:?}", other.err()),
        }
        assert!(!outside.path().join("apps").exists());
        assert_eq!(
            first_symlink(root.path(), "out/dev/apps").as_deref(),
            Some("out/dev")
        );
    }

    #[test]
    fn writing_over_a_link_replaces_the_link_and_never_follows_it() {
        let (root, outside) = setup();
        let tree = Tree::open(root.path()).unwrap();
        let dir = tree.dir("out/dev").unwrap();
        let link = root.path().join("out/dev/file.yaml");
        std::os::unix::fs::symlink(outside.path().join("victim"), &link).unwrap();
        tree.write(&dir, "file.yaml", b"mine").unwrap();
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "mine");
        assert!(!std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(
            std::fs::read_to_string(outside.path().join("victim")).unwrap(),
            "outside"
        );
        std::os::unix::fs::symlink(outside.path().join("victim"), root.path().join("out/dev/x"))
            .unwrap();
        assert!(tree.remove_file(&dir, "x").unwrap());
        assert!(outside.path().join("victim").exists());
    }

    #[test]
    fn a_link_swapped_in_after_a_folder_was_opened_is_not_followed() {
        let (root, outside) = setup();
        let tree = Tree::open(root.path()).unwrap();
        let dev = tree.dir("out/dev").unwrap();
        // Swap the folder for a link to the outside while the build holds its handle.
        std::fs::rename(root.path().join("out/dev"), root.path().join("out/moved")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out/dev")).unwrap();
        tree.write(&dev, "a.yaml", b"a").unwrap();
        assert!(root.path().join("out/moved/a.yaml").exists());
        assert!(!outside.path().join("a.yaml").exists());
        assert!(matches!(tree.dir("out/dev"), Err(FsError::Symlink { .. })));
    }

    #[test]
    fn clearing_the_staging_folder_removes_only_temp_files() {
        let (root, _outside) = setup();
        let tree = Tree::open(root.path()).unwrap();
        let staging = root.path().join(STAGING);
        std::fs::write(staging.join(".stackc-tmp-1-0"), "").unwrap();
        std::fs::write(staging.join("other"), "").unwrap();
        tree.clear_staging().unwrap();
        assert!(!staging.join(".stackc-tmp-1-0").exists());
        assert!(staging.join("other").exists());
        std::fs::remove_file(staging.join("other")).unwrap();
        tree.finish().unwrap();
        assert!(!staging_left_over(root.path()));
    }
}
