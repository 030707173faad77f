//! The files of `out/<env>/` around the objects: a Namespace at each namespace's level, a
//! `kustomization.yaml` at every level so `kubectl kustomize out/<env>` builds the whole
//! environment, and the `GitOps` engines' folders. A service folder's kustomization is a
//! function of that unit's files alone ([`unit_kustomizations`]), so a kept unit keeps it.

use super::paths::KUSTOMIZATION;
use crate::cache::Stamp;
use crate::value::{map, Value};
use rustc_hash::FxHashSet;
use std::collections::{BTreeMap, BTreeSet};

/// A file's wanted content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Bytes made by this build, with their hash.
    Bytes(Hashed),
    /// Bytes made by this build and already written at their path in the environment's
    /// staged tree (a cold build's rendered files: held in memory until apply, they were
    /// most of its peak), with the stamp taken as they were written (renaming the tree into
    /// place keeps it true). Applying moves the whole tree.
    Staged(Stamp),
    /// Kept from the last build: the file on disk was verified by its stamp in the last
    /// cache to hold bytes with the stamp's hash. The next cache keeps the stamp as it is
    /// (so applying needs no second decode of the old cache's stamps).
    Kept(Stamp),
}

impl Content {
    /// New bytes, hashed once here.
    pub fn bytes(bytes: Vec<u8>) -> Content {
        Content::Bytes(Hashed::new(bytes))
    }

    /// The hash of the content.
    pub fn hash(&self) -> blake3::Hash {
        match self {
            Content::Bytes(bytes) => bytes.hash(),
            Content::Staged(stamp) | Content::Kept(stamp) => stamp.hash.into(),
        }
    }
}

/// Bytes and their blake3 hash, taken once. The index, the comparison with out/ and the
/// next cache's stamps each need a rendered file's hash: hashed on each use, every rendered
/// byte went through blake3 three or four times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    bytes: Vec<u8>,
    hash: blake3::Hash,
}

impl Hashed {
    /// `bytes`, hashed.
    pub fn new(bytes: Vec<u8>) -> Hashed {
        let hash = blake3::hash(&bytes);
        Hashed { bytes, hash }
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    pub fn hash(&self) -> blake3::Hash {
        self.hash
    }
}

/// The files of one environment, by path relative to `out/<env>/`.
pub type Files = BTreeMap<String, Content>;

/// The kustomization of each folder holding a unit's files, from those files alone.
pub fn unit_kustomizations<'a>(paths: impl Iterator<Item = &'a str>) -> Vec<(String, Vec<u8>)> {
    let mut folders: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for path in paths {
        if let Some((folder, file)) = path.rsplit_once('/') {
            if file != KUSTOMIZATION {
                folders.entry(folder).or_default().insert(file);
            }
        }
    }
    folders
        .into_iter()
        .map(|(folder, entries)| {
            let mut entries: Vec<&str> = entries.into_iter().collect();
            sort_entries(&mut entries);
            (
                format!("{folder}/{KUSTOMIZATION}"),
                kustomization(entries.into_iter()),
            )
        })
        .collect()
}

/// Adds a kustomization to every folder of `files` that has none yet (a unit brings its
/// own), listing its files and subfolders; the layers are listed even when empty.
pub(super) fn add_kustomizations(files: &mut Files, layers: &[&str]) {
    // Borrowed slices of the paths: this runs over every file of an environment on every
    // build, kept or not, so it allocates only for the folders it writes.
    let made: Vec<(String, Content)> = {
        let mut folders: BTreeMap<&str, BTreeSet<&str>> =
            layers.iter().map(|l| (*l, BTreeSet::new())).collect();
        // Only looked up (once per run of a folder's files), never iterated.
        let have: FxHashSet<&str> = files
            .keys()
            .filter_map(|p| p.strip_suffix(KUSTOMIZATION)?.strip_suffix('/'))
            .collect();
        // Paths are sorted, so a folder's files are adjacent (its subfolders' files may come
        // between two runs of them): its ancestors and whether it has a kustomization are
        // looked up once per run, not once per file.
        let mut last: Option<&str> = None;
        let mut listed = false;
        for path in files.keys() {
            let Some((folder, file)) = path.rsplit_once('/') else {
                continue;
            };
            if last != Some(folder) {
                let previous = last.replace(folder);
                listed = !have.contains(folder);
                // Each `/` enters `parent -> child`. The last folder entered the same ones
                // down to where the two paths part (a shared prefix of whole components):
                // only the entries below that are looked up, one or two per unit folder.
                let mut sharing = previous.is_some();
                let mut start = 0;
                while let Some(at) = folder[start..].find('/') {
                    let slash = start + at;
                    let (parent, rest) = (&folder[..slash], &folder[slash + 1..]);
                    let child = rest.split('/').next().unwrap_or(rest);
                    let end = slash + 1 + child.len();
                    sharing = sharing
                        && previous.is_some_and(|p| {
                            p.get(..end) == Some(&folder[..end])
                                && matches!(p.as_bytes().get(end), None | Some(b'/'))
                        });
                    if !sharing {
                        folders.entry(parent).or_default().insert(child);
                    }
                    start = slash + 1;
                }
            }
            if listed && file != KUSTOMIZATION {
                folders.entry(folder).or_default().insert(file);
            }
        }
        folders
            .into_iter()
            .filter(|(folder, _)| !have.contains(folder))
            .map(|(folder, entries)| {
                let mut entries: Vec<&str> = entries.into_iter().collect();
                sort_entries(&mut entries);
                (
                    format!("{folder}/{KUSTOMIZATION}"),
                    Content::bytes(kustomization(entries.into_iter())),
                )
            })
            .collect()
    };
    files.extend(made);
}

/// Namespace first, then the namespace-wide objects, then service folders.
fn sort_entries(entries: &mut [&str]) {
    entries.sort_by_key(|e| (*e != "namespace.yaml", !e.ends_with(".yaml"), *e));
}

/// A kustomize `Kustomization` listing these resources.
pub fn kustomization<'a>(resources: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let resources: Vec<Value> = resources.map(Value::from).collect();
    crate::yaml::to_yaml(&map([
        ("apiVersion", Value::from("kustomize.config.k8s.io/v1beta1")),
        ("kind", Value::from("Kustomization")),
        ("resources", Value::List(resources)),
    ]))
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_folder_lists_its_files_sorted() {
        let made = unit_kustomizations(
            ["apps/web/w/service-w.yaml", "apps/web/w/deployment-w.yaml"].into_iter(),
        );
        assert_eq!(made.len(), 1);
        assert_eq!(made[0].0, "apps/web/w/kustomization.yaml");
        let text = String::from_utf8(made[0].1.clone()).unwrap();
        assert!(text.find("deployment-w").unwrap() < text.find("service-w").unwrap());
    }

    /// Folders whose paths share a prefix that is not a whole component (`apps/a`,
    /// `apps/a-b`, `apps/ab`), and a folder whose files come before and after its
    /// subfolder's: each parent still lists every child once.
    #[test]
    fn every_folder_lists_its_children_whatever_prefix_its_neighbours_share() {
        let mut files = Files::new();
        for path in [
            "apps/a-b/n/one.yaml",
            "apps/a/x/a.yaml",
            "apps/a/x/sub/b.yaml",
            "apps/a/x/z.yaml",
            "apps/a/w/c.yaml",
            "apps/ab/z/d.yaml",
            "data/a/x/e.yaml",
        ] {
            files.insert(path.into(), Content::bytes(b"x".to_vec()));
        }
        add_kustomizations(&mut files, &["apps", "data"]);
        let listed = |folder: &str| -> Vec<String> {
            let Content::Bytes(bytes) = &files[&format!("{folder}/kustomization.yaml")] else {
                unreachable!("made by add_kustomizations")
            };
            String::from_utf8(bytes.as_slice().to_vec())
                .unwrap()
                .lines()
                .filter_map(|l| l.trim_start().strip_prefix("- "))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(listed("apps"), ["a", "a-b", "ab"]);
        assert_eq!(listed("apps/a"), ["w", "x"]);
        assert_eq!(listed("apps/a/x"), ["a.yaml", "z.yaml", "sub"]);
        assert_eq!(listed("apps/a/x/sub"), ["b.yaml"]);
        assert_eq!(listed("apps/ab"), ["z"]);
        assert_eq!(listed("data"), ["a"]);
        assert_eq!(listed("data/a"), ["x"]);
    }

    #[test]
    fn folders_with_a_kustomization_are_left_alone() {
        let mut files = Files::new();
        files.insert("apps/web/w/a.yaml".into(), Content::bytes(b"x".to_vec()));
        files.insert(
            "apps/web/w/kustomization.yaml".into(),
            Content::bytes(b"mine".to_vec()),
        );
        files.insert(
            "apps/web/namespace.yaml".into(),
            Content::bytes(b"n".to_vec()),
        );
        add_kustomizations(&mut files, &["apps", "empty"]);
        assert_eq!(
            files["apps/web/w/kustomization.yaml"],
            Content::bytes(b"mine".to_vec())
        );
        let web = match &files["apps/web/kustomization.yaml"] {
            Content::Bytes(b) => String::from_utf8(b.as_slice().to_vec()).unwrap(),
            other => panic!("a generated kustomization is bytes, not {other:?}"),
        };
        assert!(web.find("namespace.yaml").unwrap() < web.find("- w").unwrap());
        assert!(files.contains_key("empty/kustomization.yaml"));
        assert!(files.contains_key("apps/kustomization.yaml"));
    }
}
