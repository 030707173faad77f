//! What can go wrong while rendering: template errors (syntax, undefined variables, runaway
//! loops), output that is not YAML, and objects that cannot be placed in out/.

use miette::{Diagnostic, NamedSource, SourceSpan};
use std::sync::Arc;
use thiserror::Error;

type Src = NamedSource<Arc<str>>;

/// A rendering problem, always naming the service and environment it happened in.
#[derive(Debug, Error, Diagnostic)]
pub enum RenderError {
    #[error("template error in {template} ({unit}): {message}")]
    #[diagnostic(code(stackc::render::template))]
    Template {
        template: String,
        unit: String,
        message: String,
        #[source_code]
        src: Src,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
        #[help]
        help: Option<String>,
    },

    #[error("{template} rendered invalid YAML ({unit}): {message}")]
    #[diagnostic(
        code(stackc::render::invalid_yaml),
        help("the rendered text is shown; fix the template so that it emits valid YAML (the `to_yaml(indent=N)` filter emits a value as a YAML block)")
    )]
    InvalidYaml {
        template: String,
        unit: String,
        message: String,
        #[source_code]
        src: Src,
        #[label("here")]
        span: SourceSpan,
    },

    #[error("{origin} ({unit}): document {index} is not a Kubernetes object: {reason}")]
    #[diagnostic(
        code(stackc::render::not_an_object),
        help("every document must be a map with apiVersion, kind and metadata.name")
    )]
    NotAnObject {
        origin: String,
        unit: String,
        index: usize,
        reason: String,
        #[source_code]
        src: Src,
        #[label("this document")]
        span: SourceSpan,
    },

    #[error("{origin} ({unit}): object name `{name}` is not a valid Kubernetes name")]
    #[diagnostic(
        code(stackc::render::invalid_object_name),
        help("object names become file names under out/: lowercase letters, digits, '-' and '.', at most 253 characters")
    )]
    InvalidObjectName {
        origin: String,
        unit: String,
        name: String,
        #[source_code]
        src: Src,
        #[label("this name")]
        span: SourceSpan,
    },

    #[error("setting `{path}` ({unit}): {message}")]
    #[diagnostic(code(stackc::render::interpolation))]
    Interpolation {
        path: String,
        unit: String,
        message: String,
        #[source_code]
        src: Src,
        #[label("in this value")]
        span: SourceSpan,
    },

    #[error("{object} is rendered twice in environment {env}: by {first} and by {second}")]
    #[diagnostic(
        code(stackc::render::duplicate_object),
        help("two objects with the same apiVersion, kind, namespace and name would overwrite each other")
    )]
    DuplicateObject {
        object: String,
        env: String,
        first: String,
        second: String,
    },

    /// Two documents of the stack render the same object; both are shown, each in its file.
    #[error("{object} is rendered twice in environment {env}: by {first} and by {second}")]
    #[diagnostic(
        code(stackc::render::duplicate_object),
        help("two objects with the same kind, namespace and name would overwrite each other (and `kubectl kustomize` refuses them); remove one")
    )]
    Duplicate {
        object: String,
        env: String,
        first: String,
        second: String,
        #[source_code]
        src: Src,
        #[label("rendered again here")]
        span: SourceSpan,
        #[related]
        sites: Vec<Site>,
    },

    #[error(
        "{origin} ({unit}): document {index} is the Namespace `{name}`, which stackc generates"
    )]
    #[diagnostic(
        code(stackc::render::generated_namespace),
        help("stackc writes one Namespace object for every namespace its services and secrets use; remove this one from {origin}")
    )]
    GeneratedNamespace {
        origin: String,
        unit: String,
        index: usize,
        name: String,
        #[source_code]
        src: Src,
        #[label("this document")]
        span: SourceSpan,
        #[related]
        sites: Vec<Site>,
    },

    #[error("{origin} ({unit}): document {index} is {name}, which stackc did not seal: {problem}")]
    #[diagnostic(
        code(stackc::render::plaintext_secret),
        help("declare it in stacks.kdl with `secret \"name\" namespace=... {{ key ... }}` and set its values with `stackc secret set`, so that stackc seals it; or adopt an existing SOPS-encrypted manifest, encrypted to this environment's recipients")
    )]
    PlaintextSecret {
        origin: String,
        unit: String,
        index: usize,
        name: String,
        problem: String,
        /// The document with its values blanked: a diagnostic never shows a secret.
        #[source_code]
        src: Src,
        #[label("this Secret")]
        span: SourceSpan,
    },
}

/// A place shown beside a diagnostic, in its own file.
#[derive(Debug, Error, Diagnostic)]
#[error("{message}")]
pub struct Site {
    pub message: String,
    #[source_code]
    pub src: Src,
    #[label("{label}")]
    pub span: SourceSpan,
    pub label: String,
}
