//! Writing output roots other than `out/`: each root's `<env>/` folder is compared with what
//! the layout split off for it ([`crate::layout::Layout::split_outputs`]) and written with
//! the same guarantees as `out/<env>/`: planned before anything is written, links refused on
//! every path, new bytes staged in the root's own `.stackc-staging/` and renamed into place
//! (the same file system), its own `.stackc-files` index, and pruning limited to what that
//! index says stackc wrote. Where a root may be is checked first: declared roots may lie
//! outside the stack folder (the point of the feature), but not on the stack's own files.

use super::write::{compare, index_file, EnvChanges, NoMemory};
use crate::diagnostics::Diagnostics;
use crate::fs::{FsError, Tree};
use crate::layout::{Content, Files, Hashed, RootFiles, INDEX_FILE};
use crate::model::Stack;
use miette::{Diagnostic, NamedSource, SourceSpan};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

/// A file in `.stackc-cache/` saying the last build wrote output roots: the no-op shortcut
/// (stat data of `out/` alone) cannot vouch for them, so it is skipped while this exists.
pub const ROOTS_MARKER: &str = "output-roots";

/// The staging folder of an output root, relative to it.
pub const ROOT_STAGING: &str = ".stackc-staging";

/// Folders of the stack a root may not be or lie in.
const STACK_FOLDERS: &[&str] = &[
    "out",
    "environments",
    "templates",
    "manifests",
    ".stackc-cache",
    ".git",
];

/// One output root of one environment, planned.
pub struct RootPlan {
    pub output: String,
    /// The root folder (the stack folder joined with the declared path).
    pub root: PathBuf,
    /// `<declared path>/<env>`, for messages.
    pub shown: String,
    pub env: String,
    pub files: Files,
    /// The root's index (`.stackc-files`) for `files`, made once for the plan and the write.
    pub index: Hashed,
    pub changes: EnvChanges,
}

/// An output root stackc refuses to write.
#[derive(Debug, Error, Diagnostic)]
pub enum RootError {
    #[error("outputs `{first_name}` and `{second_name}` write the same root `{path}`")]
    #[diagnostic(
        code(stackc::emit::root::same_path),
        help(
            "each output needs its own folder: two outputs in one would prune each other's files"
        )
    )]
    SamePath {
        first_name: String,
        second_name: String,
        path: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("first here")]
        first: SourceSpan,
        #[label("again here")]
        second: SourceSpan,
    },

    #[error("output `{inner_name}` is inside output `{outer_name}`")]
    #[diagnostic(
        code(stackc::emit::root::nested),
        help(
            "roots may not nest: the outer root's environment folders could hold the inner one's"
        )
    )]
    Nested {
        inner_name: String,
        outer_name: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("this root")]
        inner: SourceSpan,
        #[label("is inside this one")]
        outer: SourceSpan,
    },

    #[error("output `{name}` would write {what}")]
    #[diagnostic(
        code(stackc::emit::root::on_the_stack),
        help("put the root outside the stack folder (e.g. path=\"../infra-repo\"), or in a folder of its own that is not out/, environments/, templates/, manifests/ or .stackc-cache/")
    )]
    OnTheStack {
        name: String,
        what: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("this root")]
        span: SourceSpan,
    },

    #[error("output root `{path}` of output `{name}` is not a folder")]
    #[diagnostic(
        code(stackc::emit::root::missing),
        help("create it (a checkout of the repository it belongs to) and build again; stackc does not create repositories")
    )]
    Missing {
        name: String,
        path: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("declared here")]
        span: SourceSpan,
    },
}

/// `path` with `.` and `..` resolved without touching the disk.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The stack folder, absolute and resolved.
fn stack_dir(stack: &Stack) -> PathBuf {
    let root = std::path::absolute(&stack.root).unwrap_or_else(|_| stack.root.clone());
    lexical(&root)
}

/// Refuses roots that share a path, nest, or lie on the stack's own files, and roots that
/// are not existing folders (or are links). Once per build, before any environment.
pub fn check(stack: &Stack) -> Result<(), Diagnostics> {
    let outputs = &stack.model.gitops.outputs;
    let mut errors = Diagnostics::new();
    if outputs.is_empty() {
        return Ok(());
    }
    let base = stack_dir(stack);
    let resolved: Vec<PathBuf> = outputs
        .iter()
        .map(|o| lexical(&base.join(&o.path.value)))
        .collect();
    let src = |o: &crate::model::outputs::Output| stack.sources.named(o.path.span.file);
    for (i, (output, root)) in outputs.iter().zip(&resolved).enumerate() {
        let on_stack = if *root == base {
            Some("into the stack folder itself".to_string())
        } else if base.starts_with(root) {
            Some("into a folder that holds the stack".to_string())
        } else {
            STACK_FOLDERS
                .iter()
                .find(|f| root.starts_with(base.join(f)))
                .map(|f| format!("into the stack's {f}/"))
        };
        if let Some(what) = on_stack {
            errors.push(RootError::OnTheStack {
                name: output.name.value.clone(),
                what,
                src: src(output),
                span: output.path.span.source_span(),
            });
            continue;
        }
        for (other, other_root) in outputs.iter().zip(&resolved).take(i) {
            if root == other_root {
                errors.push(RootError::SamePath {
                    first_name: other.name.value.clone(),
                    second_name: output.name.value.clone(),
                    path: output.path.value.clone(),
                    src: src(output),
                    first: other.path.span.source_span(),
                    second: output.path.span.source_span(),
                });
            } else if root.starts_with(other_root) || other_root.starts_with(root) {
                let (inner, outer) = if root.starts_with(other_root) {
                    (output, other)
                } else {
                    (other, output)
                };
                errors.push(RootError::Nested {
                    inner_name: inner.name.value.clone(),
                    outer_name: outer.name.value.clone(),
                    src: src(output),
                    inner: inner.path.span.source_span(),
                    outer: outer.path.span.source_span(),
                });
            }
        }
        let is_dir = std::fs::symlink_metadata(root).is_ok_and(|m| m.file_type().is_dir());
        if !is_dir && errors.is_empty() {
            errors.push(RootError::Missing {
                name: output.name.value.clone(),
                path: output.path.value.clone(),
                src: src(output),
                span: output.path.span.source_span(),
            });
        }
    }
    errors.into_result(())
}

/// Plans the output roots of one environment: compares each with its folder (reading every
/// file: the build cache describes `out/` only) and refuses links on the paths it would
/// write, prune or compare through.
pub fn plan(stack: &Stack, env: &str, roots: Vec<RootFiles>) -> Result<Vec<RootPlan>, Diagnostics> {
    let base = stack_dir(stack);
    let mut plans = Vec::new();
    for split in roots {
        let root = lexical(&base.join(&split.path));
        let shown = format!("{}/{env}", split.path.trim_end_matches('/'));
        let declared = split.path.trim_end_matches('/');
        refuse_links(&root, env, declared, &split.files)?;
        let dir = root.join(env);
        let index = index_file(&split.files);
        let changes = compare(env, &dir, &split.files, &index, &NoMemory)?;
        if !changes.extra.is_empty() {
            let extra: Files = changes
                .extra
                .iter()
                .map(|p| (p.clone(), Content::bytes(Vec::new())))
                .collect();
            refuse_links(&root, env, declared, &extra)?;
        }
        plans.push(RootPlan {
            output: split.output,
            root,
            shown,
            env: env.to_string(),
            files: split.files,
            index,
            changes,
        });
    }
    Ok(plans)
}

/// Refuses a link on `<env>/`, any folder of `files` and any of its files, the index and
/// the staging folder; links are named by the declared root path.
fn refuse_links(root: &Path, env: &str, declared: &str, files: &Files) -> Result<(), Diagnostics> {
    let mut candidates: BTreeSet<String> = BTreeSet::new();
    candidates.insert(format!("{env}/{INDEX_FILE}"));
    candidates.insert(ROOT_STAGING.to_string());
    for path in files.keys() {
        candidates.insert(format!("{env}/{path}"));
    }
    let mut errors = Diagnostics::new();
    let mut seen = BTreeSet::new();
    for rel in &candidates {
        if let Some(link) = crate::fs::first_symlink(root, rel) {
            if seen.insert(link.clone()) {
                errors.push(FsError::Symlink {
                    path: format!("{declared}/{link}"),
                });
            }
        }
    }
    errors.into_result(())
}

/// Writes one environment's output roots: missing and stale files, prunes, the index. Returns
/// the paths written and pruned, as `<declared path>/<env>/<file>`.
pub fn apply(plans: &[RootPlan]) -> Result<(Vec<String>, Vec<String>), Diagnostics> {
    let (mut written, mut pruned) = (Vec::new(), Vec::new());
    for plan in plans {
        let changes = &plan.changes;
        if changes.is_clean() {
            continue;
        }
        let tree = Tree::open_with_staging(&plan.root, ROOT_STAGING)?;
        tree.clear_staging()?;
        let env_dir = tree.dir(&plan.env)?;
        let mut by_folder: BTreeMap<&str, Vec<(&str, &[u8])>> = BTreeMap::new();
        for path in changes.missing.iter().chain(&changes.stale) {
            if let Some(Content::Bytes(bytes)) = plan.files.get(path.as_str()) {
                let (folder, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
                by_folder
                    .entry(folder)
                    .or_default()
                    .push((name, bytes.as_slice()));
                written.push(format!("{}/{path}", plan.shown));
            }
        }
        for (folder, files) in by_folder {
            let dir = tree.subdir(&env_dir, folder)?;
            for (name, bytes) in files {
                tree.write(&dir, name, bytes)?;
            }
        }
        let mut emptied = BTreeSet::new();
        for path in &changes.extra {
            let (folder, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            if let Some(dir) = tree.existing_subdir(&env_dir, folder)? {
                tree.remove_file(&dir, name)?;
            }
            pruned.push(format!("{}/{path}", plan.shown));
            // Every parent, deepest first, is tried once.
            let mut parent = folder;
            while !parent.is_empty() {
                emptied.insert(parent.to_string());
                parent = parent.rsplit_once('/').map_or("", |(p, _)| p);
            }
        }
        let mut emptied: Vec<String> = emptied.into_iter().collect();
        emptied.sort_by_key(|f| std::cmp::Reverse(f.matches('/').count()));
        for folder in &emptied {
            let (parent, name) = folder.rsplit_once('/').unwrap_or(("", folder.as_str()));
            if let Some(dir) = tree.existing_subdir(&env_dir, parent)? {
                tree.remove_empty_dir(&dir, name);
            }
        }
        tree.write(&env_dir, INDEX_FILE, plan.index.as_slice())?;
        tree.clear_staging()?;
        tree.remove_empty_dir(tree.root(), ROOT_STAGING);
    }
    Ok((written, pruned))
}
