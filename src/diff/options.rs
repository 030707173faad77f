//! What to compare and how to show it: the filters applied before the summary, the output
//! format and whether to colour it.

/// Settings of one diff.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiffOptions {
    /// Keep only objects rendered by this service (on either side).
    pub service: Option<String>,
    /// Keep only objects of this kind (ASCII case-insensitive, on either side).
    pub kind: Option<String>,
    /// Emit ANSI colour codes; the CLI decides from `--color` and whether stdout is a terminal.
    pub color: bool,
    /// Keep no normalized body of a differing object (only the unified rendering prints
    /// them): on a diff of thousands of changed objects, that is most of its memory.
    pub skip_normalized_bodies: bool,
}

/// The four renderings of a [`DiffReport`](super::DiffReport).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Grouped by object, one line per field change, then the summary.
    #[default]
    Text,
    /// One line per differing object with its count of changes, then the summary.
    Stat,
    /// The stable JSON schema of `docs/diff-json.md`.
    Json,
    /// A unified diff of each differing object's YAML, for review tools.
    Unified,
}
