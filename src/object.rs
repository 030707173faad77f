//! A rendered Kubernetes object: what templates produce, what `emit` writes one file each,
//! and what `diff` compares.

use crate::source::FileId;
use crate::value::Value;
use std::fmt;

/// How objects are matched across environments and runs: apiVersion/kind/namespace/name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId {
    pub api_version: String,
    pub kind: String,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl ObjectId {
    /// `apiVersion/kind/namespace/name`: how a unit's cache record lists its objects, and how
    /// the layout reads them back (from the right: an apiVersion may hold a `/`).
    pub fn record_key(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.api_version, self.kind, self.namespace, self.name
        )
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

impl ObjectId {
    /// Reads the identity fields of an object; `None` names the first one missing.
    pub fn of(body: &Value) -> Result<ObjectId, &'static str> {
        let text = |path: &'static str| {
            body.get_path(path)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or(path)
        };
        Ok(ObjectId {
            api_version: text("apiVersion")?.to_string(),
            kind: text("kind")?.to_string(),
            namespace: body
                .get_path("metadata.namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            name: text("metadata.name")?.to_string(),
        })
    }
}

/// One object of one environment, with where it came from and where it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedObject {
    pub id: ObjectId,
    pub body: Value,
    /// The service that rendered it; `None` for project-level objects (namespaces, Flux).
    pub service: Option<String>,
    /// Path of its file relative to `out/<env>/`, with `/` separators.
    pub path: String,
    /// The template or manifest document it came from; `None` for objects stackc generates
    /// (namespaces, Flux, sealed Secrets) or reads back from out/.
    pub origin: Option<Origin>,
}

/// Where a rendered object was written by the user: a document of a template or manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file as the user names it: `templates/deployment/web.yaml.j2`, `manifests/x.yaml`.
    pub name: String,
    /// The file in [`crate::source::Sources`], to show it in diagnostics.
    pub file: FileId,
    /// 1-based index of the document among the non-empty documents of the text.
    pub document: usize,
    /// Byte offset and length of the document in the file (for a template, of the source
    /// text that rendered it, as far as the `---` lines tell).
    pub span: (usize, usize),
}
