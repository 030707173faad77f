//! The result of a diff as a typed value: one entry per differing object, and a summary. The
//! renderings (`text`, `stat`, `json`, `unified`) only read it.
//!
//! The report never holds a secret value or a ciphertext: Secret `data`/`stringData` values
//! and SOPS `ENC[...]` strings are replaced with `<redacted>` before they enter it, so no
//! rendering can leak one.

use super::path::FieldPath;
use crate::object::ObjectId;
use crate::value::Value;

/// Everything one diff found.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffReport {
    /// The label of side A (`staging`).
    pub a: String,
    /// The label of side B (`production`).
    pub b: String,
    /// The differing objects, sorted by kind, namespace, name, then apiVersion.
    pub objects: Vec<ObjectDiff>,
    pub summary: Summary,
}

impl DiffReport {
    /// Whether any object differs (for the exit code: 0 none, 1 differences). Secret keys that
    /// could not be compared are not differences; see [`DiffReport::is_complete`].
    pub fn has_differences(&self) -> bool {
        !self.objects.is_empty()
    }

    /// Whether every secret key present on both sides could be compared.
    pub fn is_complete(&self) -> bool {
        self.summary.secret_keys.not_compared == 0
    }
}

/// How an object differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ObjectStatus {
    /// On both sides, with field or secret key differences.
    Changed,
    /// Only on side A.
    OnlyInA,
    /// Only on side B.
    OnlyInB,
}

impl ObjectStatus {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectStatus::Changed => "changed",
            ObjectStatus::OnlyInA => "only_in_a",
            ObjectStatus::OnlyInB => "only_in_b",
        }
    }
}

/// One differing object.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectDiff {
    pub status: ObjectStatus,
    /// The normalized identity both sides matched on.
    pub id: ObjectId,
    /// The service that rendered it (side A's when both say).
    pub service: Option<String>,
    /// The object as it is on side A, when it is there.
    pub a: Option<ObjectSnapshot>,
    /// The object as it is on side B, when it is there.
    pub b: Option<ObjectSnapshot>,
    /// Field changes in document order (A's order, then what only B has); empty unless
    /// `Changed`.
    pub changes: Vec<FieldChange>,
    /// Every key of a Secret, sorted by name; empty for other kinds.
    pub secret_keys: Vec<SecretKeyDiff>,
}

impl ObjectDiff {
    /// How many secret keys differ (changed, added or removed).
    pub fn secret_keys_differing(&self) -> usize {
        self.secret_keys
            .iter()
            .filter(|k| k.status.differs())
            .count()
    }
}

/// One side's copy of an object, already redacted.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectSnapshot {
    /// The id as written on this side (before normalization).
    pub id: ObjectId,
    /// Its file relative to `out/<env>/`.
    pub path: String,
    /// The body as written, redacted: kept for an object on one side only (the text rendering
    /// prints it); a changed object is described by its field changes instead.
    pub body: Option<Value>,
    /// The body after this side's normalization, redacted (what the unified diff shows);
    /// `None` with [`DiffOptions::skip_normalized_bodies`](super::DiffOptions).
    pub normalized: Option<Value>,
}

/// One changed field.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldChange {
    pub path: FieldPath,
    pub change: Change,
}

/// What happened to a field; values are each side's original (redacted) value.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// On both sides with different values (possibly of different types).
    Changed { a: Value, b: Value },
    /// Only on side B.
    Added { b: Value },
    /// Only on side A.
    Removed { a: Value },
}

impl Change {
    /// The name used in JSON.
    pub fn op(&self) -> &'static str {
        match self {
            Change::Changed { .. } => "changed",
            Change::Added { .. } => "added",
            Change::Removed { .. } => "removed",
        }
    }
}

/// One key of a Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretKeyDiff {
    pub key: String,
    pub status: KeyStatus,
}

/// How one secret key compares; values are never part of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    Changed,
    Unchanged,
    /// Only on side B.
    Added,
    /// Only on side A.
    Removed,
    /// On both sides, but at least one value could not be read.
    NotCompared {
        reason: String,
    },
}

impl KeyStatus {
    /// The name used in JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyStatus::Changed => "changed",
            KeyStatus::Unchanged => "unchanged",
            KeyStatus::Added => "added",
            KeyStatus::Removed => "removed",
            KeyStatus::NotCompared { .. } => "not_compared",
        }
    }

    /// Whether this is a proven difference.
    pub fn differs(&self) -> bool {
        matches!(
            self,
            KeyStatus::Changed | KeyStatus::Added | KeyStatus::Removed
        )
    }
}

/// Counts over every object that passed the filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub changed: usize,
    pub only_in_a: usize,
    pub only_in_b: usize,
    pub unchanged: usize,
    pub secret_keys: SecretKeyCounts,
    /// Secret keys that could not be compared, grouped by reason, sorted by reason.
    pub not_compared: Vec<NotCompared>,
}

/// Secret keys by status, over every Secret that passed the filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretKeyCounts {
    pub changed: usize,
    pub unchanged: usize,
    pub added: usize,
    pub removed: usize,
    pub not_compared: usize,
}

/// The secrets whose keys could not be compared for one reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotCompared {
    /// Why, prefixed by the side(s) concerned (`staging: no identity could decrypt`).
    pub reason: String,
    /// The secrets concerned (`Secret apps/db`), sorted.
    pub secrets: Vec<String>,
    /// How many keys, over all of them.
    pub keys: usize,
}
