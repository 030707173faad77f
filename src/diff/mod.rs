//! `stackc diff`: how two sets of rendered objects differ, semantically.
//!
//! [`diff`] pairs the objects of two [`Side`]s (two environments, or a build and what is in
//! `out/<env>`) on their normalized id, compares each pair field by field (list items matched
//! by `name` and friends, see [`fields`]), compares Secrets only through the caller's keyed
//! digests, and returns a typed [`DiffReport`]. [`DiffReport::render`] turns it into text,
//! stat, JSON (`docs/diff-json.md`) or a unified diff. No secret value or ciphertext ever
//! enters the report.

mod compare;
pub mod fields;
mod normalize;
mod options;
mod path;
mod report;
mod secret;
mod side;

pub use compare::diff;
pub use options::{DiffOptions, Format};
pub use path::{FieldPath, Segment};
pub use report::{
    Change, DiffReport, FieldChange, KeyStatus, NotCompared, ObjectDiff, ObjectSnapshot,
    ObjectStatus, SecretKeyCounts, SecretKeyDiff, Summary,
};
pub use side::{KeyDigest, SecretView, Side};
