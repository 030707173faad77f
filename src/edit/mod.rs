//! Editing KDL in place: a parsed `kdl::KdlDocument` kept next to the typed model, changed
//! node by node so that every comment, blank line and piece of formatting the user wrote
//! survives, and turned back into text. `promote` is its user.

mod document;

pub use document::{kdl_string, EditError, KdlFile, Scope};
