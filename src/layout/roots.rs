//! Splitting an environment's files between output roots: the layers of an `output` go to
//! `<root>/<env>/` with their folders, their Flux Kustomizations and Argo CD Applications,
//! and a `kustomization.yaml` at the top and in each engine folder listing only what that
//! root holds; the rest stays in `out/<env>/`. RBAC and the Namespaces it needs stay in the
//! stack's `flux-system/`, the one the platform applies first.

use super::{kustomization, Content, Files, Layout, ARGOCD_DIR, FLUX_DIR, KUSTOMIZATION};
use std::collections::BTreeSet;

/// The files of one output root in one environment.
pub struct RootFiles {
    /// The output's name.
    pub output: String,
    /// The root as declared (relative to the stack folder, or absolute).
    pub path: String,
    pub files: Files,
}

impl Layout<'_> {
    /// Moves the files of every output's layers out of `files` (one environment's whole
    /// tree), one [`RootFiles`] per output in declaration order.
    pub fn split_outputs(&self, files: &mut Files) -> Vec<RootFiles> {
        let outputs = &self.model.gitops.outputs;
        if outputs.is_empty() {
            return Vec::new();
        }
        let order: Vec<&str> = self.layers.iter().map(|(l, _)| *l).collect();
        let mut roots = Vec::new();
        for output in outputs {
            let mine: BTreeSet<&str> = output
                .layers
                .iter()
                .map(crate::model::Named::as_str)
                .collect();
            let moved: Vec<String> = files
                .keys()
                .filter(|path| belongs(path, &mine))
                .cloned()
                .collect();
            let mut own = Files::new();
            for path in moved {
                if let Some(content) = files.remove(&path) {
                    own.insert(path, content);
                }
            }
            let layers: Vec<&str> = order.iter().copied().filter(|l| mine.contains(l)).collect();
            own.insert(
                KUSTOMIZATION.into(),
                Content::bytes(kustomization(layers.iter().copied())),
            );
            for dir in [FLUX_DIR, ARGOCD_DIR] {
                relist(dir, files, &mut own);
            }
            roots.push(RootFiles {
                output: output.name.value.clone(),
                path: output.path.value.clone(),
                files: own,
            });
        }
        let left: Vec<&str> = order
            .iter()
            .copied()
            .filter(|l| self.model.output_of(l).is_none())
            .collect();
        files.insert(
            KUSTOMIZATION.into(),
            Content::bytes(kustomization(left.iter().copied())),
        );
        roots
    }
}

/// Whether `path` is one of the layers' files: under a layer's folder, or the layer's
/// Kustomization or Application.
fn belongs(path: &str, layers: &BTreeSet<&str>) -> bool {
    let (first, rest) = path.split_once('/').unwrap_or((path, ""));
    if layers.contains(first) {
        return true;
    }
    let object = match first {
        FLUX_DIR => rest.strip_prefix("kustomization-"),
        ARGOCD_DIR => rest.strip_prefix("application-"),
        _ => None,
    };
    object
        .and_then(|r| r.strip_suffix(".yaml"))
        .is_some_and(|layer| layers.contains(layer))
}

/// Rewrites the `kustomization.yaml` of the engine folder `dir` in both trees: each lists the
/// entries of the stack's list (its order kept) that it still holds.
fn relist(dir: &str, stack: &mut Files, own: &mut Files) {
    let list = format!("{dir}/{KUSTOMIZATION}");
    let Some(Content::Bytes(bytes)) = stack.get(&list) else {
        return;
    };
    let entries: Vec<String> =
        crate::yaml::parse_documents(&String::from_utf8_lossy(bytes.as_slice()))
            .ok()
            .and_then(|docs| docs.into_iter().next())
            .and_then(|doc| match doc.get_path("resources") {
                Some(crate::value::Value::List(l)) => Some(
                    l.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .unwrap_or_default();
    let holds = |files: &Files, entry: &str| {
        let path = format!("{dir}/{entry}");
        let folder = format!("{path}/");
        files.contains_key(&path) || files.keys().any(|p| p.starts_with(&folder))
    };
    let theirs: Vec<&str> = entries
        .iter()
        .map(String::as_str)
        .filter(|e| holds(own, e))
        .collect();
    if !theirs.is_empty() {
        own.insert(
            list.clone(),
            Content::bytes(kustomization(theirs.into_iter())),
        );
    }
    let ours: Vec<&str> = entries
        .iter()
        .map(String::as_str)
        .filter(|e| holds(stack, e) || !holds(own, e))
        .collect();
    stack.insert(list, Content::bytes(kustomization(ours.into_iter())));
}
