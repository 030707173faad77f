//! What can be wrong with a declaration. Every variant points at the user's text.

use miette::{Diagnostic, NamedSource, SourceSpan};
use std::sync::Arc;
use thiserror::Error;

type Src = NamedSource<Arc<str>>;

/// A problem in `stacks.kdl` or an `environments/<env>.kdl` file.
#[derive(Debug, Error, Diagnostic)]
pub enum ModelError {
    #[error("{message}")]
    #[diagnostic(code(stackc::model::syntax))]
    Syntax {
        message: String,
        #[source_code]
        src: Src,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
        #[help]
        help: Option<String>,
    },

    #[error("unknown node `{name}` in {context}")]
    #[diagnostic(code(stackc::model::unknown_node))]
    UnknownNode {
        name: String,
        context: String,
        #[source_code]
        src: Src,
        #[label("not known here")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("unknown property `{name}` on `{node}`")]
    #[diagnostic(code(stackc::model::unknown_property))]
    UnknownProperty {
        name: String,
        node: String,
        #[source_code]
        src: Src,
        #[label("not a property of `{node}`")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("`{what}` must be {expected}, found {found}")]
    #[diagnostic(code(stackc::model::wrong_type))]
    WrongType {
        what: String,
        expected: String,
        found: String,
        #[source_code]
        src: Src,
        #[label("expected {expected}")]
        span: SourceSpan,
    },

    #[error("`{node}` needs {what}")]
    #[diagnostic(code(stackc::model::missing))]
    Missing {
        node: String,
        what: String,
        #[source_code]
        src: Src,
        #[label("{what} missing here")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("`{node}` takes {expected}")]
    #[diagnostic(code(stackc::model::unexpected))]
    Unexpected {
        node: String,
        expected: String,
        #[source_code]
        src: Src,
        #[label("unexpected")]
        span: SourceSpan,
    },

    #[error("`{what}` must be between {min} and {max}, found {found}")]
    #[diagnostic(code(stackc::model::out_of_range))]
    OutOfRange {
        what: String,
        min: i64,
        max: i64,
        found: String,
        #[source_code]
        src: Src,
        #[label("not between {min} and {max}")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("{kind} `{name}` is declared twice")]
    #[diagnostic(
        code(stackc::model::duplicate),
        help("names of {kind}s must be unique")
    )]
    Duplicate {
        kind: &'static str,
        name: String,
        #[source_code]
        src: Src,
        #[label("first declared here")]
        first: SourceSpan,
        #[label("declared again here")]
        second: SourceSpan,
    },

    #[error("invalid {kind} name `{name}`")]
    #[diagnostic(code(stackc::model::invalid_name))]
    InvalidName {
        kind: &'static str,
        name: String,
        #[source_code]
        src: Src,
        #[label("not a valid {kind} name")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("unknown {kind} `{name}`")]
    #[diagnostic(code(stackc::model::unknown_reference))]
    UnknownReference {
        kind: &'static str,
        name: String,
        #[source_code]
        src: Src,
        #[label("no {kind} of this name is declared")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("`depends-on` cycle between {kind}s: {cycle}")]
    #[diagnostic(
        code(stackc::model::cycle),
        help("a {kind} cannot depend on itself, directly or through others")
    )]
    Cycle {
        kind: &'static str,
        cycle: String,
        #[source_code]
        src: Src,
        #[label("this dependency closes the cycle")]
        span: SourceSpan,
    },

    #[error("{message}")]
    #[diagnostic(code(stackc::model::invalid))]
    Invalid {
        message: String,
        #[source_code]
        src: Src,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
        #[help]
        help: Option<String>,
    },

    #[error("blocks nest deeper than {limit} levels")]
    #[diagnostic(
        code(stackc::model::too_deep),
        help("settings never need this depth; a missing `}}` or a generated file gone wrong is likely")
    )]
    TooDeep {
        limit: usize,
        #[source_code]
        src: Src,
        #[label("this `{{` opens level {}", limit + 1)]
        span: SourceSpan,
    },

    #[error("one declaration takes more than {limit_kib} KiB")]
    #[diagnostic(
        code(stackc::model::too_large),
        help("a top-level node with its children and the comments after it must stay under {limit_kib} KiB; a missing `}}` (everything after it becomes one block) is likely")
    )]
    RunTooLarge {
        limit_kib: usize,
        #[source_code]
        src: Src,
        #[label("this declaration starts here")]
        span: SourceSpan,
    },

    #[error("{file} is larger than {limit} MiB")]
    #[diagnostic(
        code(stackc::model::too_large),
        help("a 10,000-service stack is about 7 MB; split generated input or check that the file is what you meant")
    )]
    TooLarge { file: String, limit: u64 },

    #[error("no stacks.kdl in `{dir}`")]
    #[diagnostic(
        code(stackc::model::no_stack),
        help("run stackc in the stack's root directory, or pass -C DIR")
    )]
    NoStack { dir: String },
}
