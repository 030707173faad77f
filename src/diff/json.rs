//! The JSON rendering, a stable schema for scripts and CI (also in `docs/diff-json.md`).
//!
//! ```json
//! {
//!   "version": 1,
//!   "a": "staging",
//!   "b": "production",
//!   "summary": {
//!     "changed": 1, "only_in_a": 0, "only_in_b": 1, "unchanged": 40,
//!     "secret_keys": {"changed": 1, "unchanged": 3, "added": 0, "removed": 0, "not_compared": 2},
//!     "not_compared": [
//!       {"reason": "production: no identity could decrypt", "secrets": ["Secret apps/db"], "keys": 2}
//!     ]
//!   },
//!   "objects": [
//!     {
//!       "status": "changed",
//!       "apiVersion": "apps/v1", "kind": "Deployment", "namespace": "apps", "name": "web",
//!       "service": "web",
//!       "a": {"namespace": "apps", "name": "web", "path": "apps/web/deployment.yaml"},
//!       "b": {"namespace": "apps", "name": "web", "path": "apps/web/deployment.yaml"},
//!       "changes": [{"path": "spec.replicas", "op": "changed", "a": 2, "b": 3}],
//!       "secret_keys": []
//!     }
//!   ]
//! }
//! ```
//!
//! Rules: `version` changes only when a field is removed or changes meaning (new fields may
//! be added). `objects` lists differing objects only, sorted by kind, namespace, name,
//! apiVersion. The identity fields are the normalized ones both sides matched on; `a`/`b`
//! give each side's own name, namespace and file (relative to `out/<env>/`), or `null` when
//! the object is not on that side. `namespace` is `null` for cluster-scoped objects.
//! `changes` are in document order; a change has `a` unless `op` is `added` and `b` unless
//! `op` is `removed`, as JSON values. `secret_keys` lists every key of a Secret (sorted, with
//! `reason` only when `status` is `not_compared`) and is empty for other kinds. No secret
//! value or ciphertext ever appears: they read `"<redacted>"`.

use super::report::{Change, DiffReport, KeyStatus, ObjectDiff, ObjectSnapshot, SecretKeyCounts};
use crate::value::Value;
use serde::Serialize;

/// The schema version written as `version`.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// The error of the JSON rendering.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DiffError {
    /// Serialization failed; the report types cannot cause this, so it is a bug.
    #[error("could not serialize the diff report as JSON: {0}")]
    #[diagnostic(
        code(stackc::diff::json),
        help("this is a bug in stackc; please report it")
    )]
    Json(#[from] serde_json::Error),
}

/// Renders the report as pretty-printed JSON, ending with a newline.
pub(crate) fn render(report: &DiffReport) -> Result<String, DiffError> {
    let mut text = serde_json::to_string_pretty(&JsonReport::from(report))?;
    text.push('\n');
    Ok(text)
}

/// The top level (`docs/diff-json.md`).
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    /// Always [`JSON_SCHEMA_VERSION`].
    pub version: u32,
    /// Label of side A.
    pub a: &'a str,
    /// Label of side B.
    pub b: &'a str,
    pub summary: JsonSummary<'a>,
    pub objects: Vec<JsonObject<'a>>,
}

/// Counts over every object that passed the filters.
#[derive(Debug, Serialize)]
pub struct JsonSummary<'a> {
    pub changed: usize,
    pub only_in_a: usize,
    pub only_in_b: usize,
    pub unchanged: usize,
    pub secret_keys: JsonKeyCounts,
    pub not_compared: Vec<JsonNotCompared<'a>>,
}

/// Secret keys by status.
#[derive(Debug, Serialize)]
pub struct JsonKeyCounts {
    pub changed: usize,
    pub unchanged: usize,
    pub added: usize,
    pub removed: usize,
    pub not_compared: usize,
}

/// Secrets whose keys could not be compared, for one reason.
#[derive(Debug, Serialize)]
pub struct JsonNotCompared<'a> {
    pub reason: &'a str,
    /// `Secret <namespace>/<name>`, sorted.
    pub secrets: &'a [String],
    pub keys: usize,
}

/// One differing object.
#[derive(Debug, Serialize)]
pub struct JsonObject<'a> {
    /// `changed`, `only_in_a` or `only_in_b`.
    pub status: &'static str,
    #[serde(rename = "apiVersion")]
    pub api_version: &'a str,
    pub kind: &'a str,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub service: Option<&'a str>,
    pub a: Option<JsonSide<'a>>,
    pub b: Option<JsonSide<'a>>,
    pub changes: Vec<JsonChange<'a>>,
    pub secret_keys: Vec<JsonSecretKey<'a>>,
}

/// The object as one side has it.
#[derive(Debug, Serialize)]
pub struct JsonSide<'a> {
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    /// Relative to `out/<env>/`.
    pub path: &'a str,
}

/// One changed field.
#[derive(Debug, Serialize)]
pub struct JsonChange<'a> {
    /// As in the text rendering: `spec.template.spec.containers[name=web].image`.
    pub path: String,
    /// `changed`, `added` or `removed`.
    pub op: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b: Option<&'a Value>,
}

/// One key of a Secret.
#[derive(Debug, Serialize)]
pub struct JsonSecretKey<'a> {
    pub key: &'a str,
    /// `changed`, `unchanged`, `added`, `removed` or `not_compared`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

impl<'a> From<&'a DiffReport> for JsonReport<'a> {
    fn from(report: &'a DiffReport) -> Self {
        let s = &report.summary;
        let SecretKeyCounts {
            changed,
            unchanged,
            added,
            removed,
            not_compared,
        } = s.secret_keys;
        JsonReport {
            version: JSON_SCHEMA_VERSION,
            a: &report.a,
            b: &report.b,
            summary: JsonSummary {
                changed: s.changed,
                only_in_a: s.only_in_a,
                only_in_b: s.only_in_b,
                unchanged: s.unchanged,
                secret_keys: JsonKeyCounts {
                    changed,
                    unchanged,
                    added,
                    removed,
                    not_compared,
                },
                not_compared: s
                    .not_compared
                    .iter()
                    .map(|g| JsonNotCompared {
                        reason: &g.reason,
                        secrets: &g.secrets,
                        keys: g.keys,
                    })
                    .collect(),
            },
            objects: report.objects.iter().map(JsonObject::from).collect(),
        }
    }
}

impl<'a> From<&'a ObjectDiff> for JsonObject<'a> {
    fn from(object: &'a ObjectDiff) -> Self {
        let side = |s: &'a ObjectSnapshot| JsonSide {
            namespace: non_empty(&s.id.namespace),
            name: &s.id.name,
            path: &s.path,
        };
        JsonObject {
            status: object.status.as_str(),
            api_version: &object.id.api_version,
            kind: &object.id.kind,
            namespace: non_empty(&object.id.namespace),
            name: &object.id.name,
            service: object.service.as_deref(),
            a: object.a.as_ref().map(side),
            b: object.b.as_ref().map(side),
            changes: object
                .changes
                .iter()
                .map(|c| {
                    let (a, b) = match &c.change {
                        Change::Changed { a, b } => (Some(a), Some(b)),
                        Change::Added { b } => (None, Some(b)),
                        Change::Removed { a } => (Some(a), None),
                    };
                    JsonChange {
                        path: c.path.to_string(),
                        op: c.change.op(),
                        a,
                        b,
                    }
                })
                .collect(),
            secret_keys: object
                .secret_keys
                .iter()
                .map(|k| JsonSecretKey {
                    key: &k.key,
                    status: k.status.as_str(),
                    reason: match &k.status {
                        KeyStatus::NotCompared { reason } => Some(reason),
                        _ => None,
                    },
                })
                .collect(),
        }
    }
}
