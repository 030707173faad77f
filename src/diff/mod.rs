//! `stackc diff`: how two sets of rendered objects differ, semantically.
//!
//! [`diff`] pairs the objects of two [`Side`]s (two environments, or a build and what is in
//! `out/<env>`) on their normalized id, compares each pair field by field (list items matched
//! by `name` and friends, see [`fields`]), compares Secrets only through the caller's keyed
//! digests, and returns a typed [`DiffReport`]. [`DiffReport::render`] turns it into text,
//! stat, JSON (`docs/diff-json.md`) or a unified diff. No secret value or ciphertext ever
//! enters the report.

mod compact;
mod compare;
pub mod fields;
mod json;
mod normalize;
mod options;
mod path;
mod report;
mod secret;
mod side;
pub mod sides;
mod stat;
mod style;
mod text;
mod unified;

#[cfg(test)]
mod tests;

pub use compare::diff;
pub use json::{
    DiffError, JsonChange, JsonKeyCounts, JsonNotCompared, JsonObject, JsonReport, JsonSecretKey,
    JsonSide, JsonSummary, JSON_SCHEMA_VERSION,
};
pub use options::{DiffOptions, Format};
pub use path::{FieldPath, Segment};
pub use report::{
    Change, DiffReport, FieldChange, KeyStatus, NotCompared, ObjectDiff, ObjectSnapshot,
    ObjectStatus, SecretKeyCounts, SecretKeyDiff, Summary,
};
pub use side::{KeyDigest, SecretView, Side};
pub use sides::{Sides, SidesError};

impl DiffReport {
    /// Renders the report in `format`, coloured when `options.color` is set (JSON never is).
    pub fn render(&self, format: Format, options: &DiffOptions) -> Result<String, DiffError> {
        Ok(match format {
            Format::Text => self.to_text(options.color),
            Format::Stat => self.to_stat(options.color),
            Format::Json => self.to_json()?,
            Format::Unified => self.to_unified(options.color),
        })
    }

    /// The text rendering: per object a header and its field changes, then the summary.
    pub fn to_text(&self, color: bool) -> String {
        text::render(self, color)
    }

    /// The stat rendering: one line per differing object, then the summary.
    pub fn to_stat(&self, color: bool) -> String {
        stat::render(self, color)
    }

    /// The JSON rendering (schema version [`JSON_SCHEMA_VERSION`]).
    pub fn to_json(&self) -> Result<String, DiffError> {
        json::render(self)
    }

    /// The unified diff of each differing object's YAML.
    pub fn to_unified(&self, color: bool) -> String {
        unified::render(self, color)
    }
}
