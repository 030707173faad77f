//! Our own KDL v2 parser for the typed model: linear time, no recursion (nesting is capped at
//! [`MAX_DEPTH`]), no panic on any input, and every syntax error as data with a span. It
//! produces a light [`Document`] (names, entries, values, children, spans; no formatting) with
//! the accessors the model uses from the `kdl` crate, which stays for format-preserving edits.
//!
//! `lexer` reads tokens (strings, numbers, keywords, whitespace and comments), `parser` the
//! node grammar on an explicit stack, `tree` holds the result and `error` the diagnostics.
//! The differential tests in `oracle` hold it to the `kdl` crate on a corpus and on mutations.
//!
//! Where it differs from the `kdl` crate, on purpose:
//! - an integer literal outside `i128` is a value, [`Value::IntegerTooLarge`], not a syntax
//!   error, so the model can point at the one bad setting;
//! - kdl lets a node end without a terminator where a slashdashed node may begin (after a
//!   keyword glued to `/-`, after a slashdashed node's or children block's `}`); we ask for
//!   the newline. Every text we accept, kdl accepts too (and reads the same way);
//! - spans: names and entries span what kdl's do; a node's stops at its last entry or `}`
//!   (kdl adds the trailing whitespace), and a children block's is the whole `{...}` (kdl's
//!   covers only the nodes inside).

mod chars;
mod error;
mod lexer;
mod parser;
mod tree;

#[cfg(test)]
mod oracle;
#[cfg(test)]
mod tests;

pub use error::{SyntaxDiagnostic, SyntaxError};
pub use parser::MAX_DEPTH;
pub use tree::{Document, Entry, Ident, Node, Value};
