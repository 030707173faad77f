//! Which folders of `out/<env>/` do not exist, found top down: a file below a missing folder
//! is missing too, and neither reading it nor checking it for a link can say more. A cold
//! build (no `out/<env>/` yet) looks at one path instead of every file and folder it plans.

use rayon::prelude::*;
use std::collections::BTreeSet;
use std::path::Path;

/// The topmost missing folders among some candidates, relative to an environment's folder.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Absent {
    /// The environment's folder itself does not exist.
    all: bool,
    /// Missing folders, none below another, sorted.
    tops: Vec<String>,
    /// Candidates found to be symbolic links (nothing below them was looked at).
    links: Vec<String>,
}

impl Absent {
    /// The missing ones among `folders` (relative to `dir`) and their parents: each level is
    /// looked at (in parallel) only below the folders of the level above that exist (or could
    /// not be looked at). A file in a folder's place counts as present (a read below it
    /// fails as it would have); a link is reported in [`Absent::links`] for the caller to refuse, and what is below it
    /// counts as missing (stackc never writes through one).
    pub fn find<'a>(dir: &Path, folders: impl Iterator<Item = &'a str>) -> Absent {
        if std::fs::symlink_metadata(dir).is_err_and(|e| is_missing(&e)) {
            return Absent {
                all: true,
                ..Absent::default()
            };
        }
        let mut levels: Vec<BTreeSet<&str>> = Vec::new();
        for folder in folders.filter(|f| !f.is_empty()) {
            let mut at = Some(folder);
            while let Some(folder) = at {
                let depth = folder.matches('/').count();
                if levels.len() <= depth {
                    levels.resize_with(depth + 1, BTreeSet::new);
                }
                if !levels[depth].insert(folder) {
                    break;
                }
                at = folder.rsplit_once('/').map(|(parent, _)| parent);
            }
        }
        let mut absent = Absent::default();
        for level in levels {
            // `Some(true)`: missing; `Some(false)`: a link.
            let found: Vec<(&str, bool)> = level
                .into_par_iter()
                .filter(|folder| !absent.covers(folder))
                .filter_map(|folder| match std::fs::symlink_metadata(dir.join(folder)) {
                    Err(e) if is_missing(&e) => Some((folder, true)),
                    Ok(meta) if meta.file_type().is_symlink() => Some((folder, false)),
                    // A folder, a file in its place, or one that could not be looked at (not
                    // known to be missing: what is below it is looked at, and a read there
                    // reports what is wrong).
                    Ok(_) | Err(_) => None,
                })
                .collect();
            for (folder, missing) in found {
                if missing {
                    absent.tops.push(folder.to_string());
                } else {
                    // Below a link is another tree: treated as missing from here on.
                    absent.links.push(folder.to_string());
                    absent.tops.push(folder.to_string());
                }
            }
            absent.tops.sort();
        }
        absent.links.sort();
        absent
    }

    /// The candidate folders that are symbolic links, sorted (none below another).
    pub fn links(&self) -> &[String] {
        &self.links
    }

    /// Whether `path` (a file or folder relative to the environment's folder) is at or below
    /// a missing folder.
    pub fn covers(&self, path: &str) -> bool {
        if self.all {
            return true;
        }
        // The greatest missing folder not after `path`: the only one that can contain it.
        let at = self.tops.partition_point(|top| top.as_str() <= path);
        at > 0 && {
            let top = &self.tops[at - 1];
            path == top
                || path
                    .strip_prefix(top.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        }
    }
}

/// Whether a failed lstat says nothing is there: not found, or a file where a folder would be.
fn is_missing(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_topmost_missing_folders_are_kept_and_they_cover_what_is_below() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("apps/team-a/web")).unwrap();
        std::fs::create_dir_all(dir.path().join("apps/team-a-b")).unwrap();
        let absent = Absent::find(
            dir.path(),
            [
                "apps/team-a/web",
                "apps/team-a/api",
                "apps/team-b/web",
                "apps/team-a-b",
                "data/db/pg",
            ]
            .into_iter(),
        );
        assert_eq!(absent.tops, ["apps/team-a/api", "apps/team-b", "data"]);
        assert!(absent.covers("apps/team-b/web/deployment.yaml"));
        assert!(absent.covers("apps/team-b"));
        assert!(absent.covers("data/db/pg/x.yaml"));
        assert!(absent.covers("apps/team-a/api/service.yaml"));
        // A neighbour that only shares a prefix is not below a missing folder.
        assert!(!absent.covers("apps/team-bb/web.yaml"));
        assert!(!absent.covers("apps/team-a/web/deployment.yaml"));
        assert!(!absent.covers("apps/team-a-b/x.yaml"));
        assert!(!absent.covers("apps/kustomization.yaml"));
        assert!(!absent.covers("kustomization.yaml"));
        let none = Absent::find(&dir.path().join("out/dev"), ["apps"].into_iter());
        assert!(none.covers("apps/x.yaml") && none.covers("kustomization.yaml"));
    }

    #[test]
    fn a_link_or_a_file_in_a_folders_place_is_present() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("apps")).unwrap();
        std::fs::write(dir.path().join("data"), "not a folder").unwrap();
        let absent = Absent::find(dir.path(), ["apps/web", "data/db"].into_iter());
        // The link is reported and nothing below it looked at; the file is there.
        assert_eq!(absent.links(), ["apps"]);
        assert_eq!(absent.tops, ["apps", "data/db"]);
        assert!(!absent.covers("data"));
    }
}
