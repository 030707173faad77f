//! Output roots: `output "infra" path="../infra-repo" { layer "infrastructure" }` inside
//! `gitops` writes those layers to `<path>/<env>/` instead of `out/<env>/`, each root with
//! its own Flux and Argo CD objects, `kustomization.yaml`s and `.stackc-files` index, so that
//! infrastructure and applications can live in two Git repositories. Here: the declaration
//! and the checks that need only the model (layers known, each in one output, names
//! unique); where a root may be on disk is checked by the emit step, which knows the stack
//! folder.

use super::parse::Parser;
use super::syntax::Node as KdlNode;
use super::{Model, Named};
use crate::diagnostics::{did_you_mean, Diagnostics};
use crate::source::{Sources, Span};
use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use thiserror::Error;

/// One output root and the layers written there.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Output {
    pub name: Named,
    /// The root as written: relative to the stack folder, or absolute.
    pub path: Named,
    /// The repository URL Argo CD reads these layers from (`repo-url=`), if not the stack's.
    pub repo_url: Option<String>,
    pub layers: Vec<Named>,
    pub span: Span,
}

/// An output declaration the model refuses.
#[derive(Debug, Error, Diagnostic)]
pub enum OutputError {
    #[error("output `{output}` names the unknown layer `{name}`")]
    #[diagnostic(code(stackc::model::output::unknown_layer))]
    UnknownLayer {
        output: String,
        name: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("no such layer")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("layer `{name}` is written to two outputs")]
    #[diagnostic(
        code(stackc::model::output::layer_twice),
        help("a layer has one output root: remove it from one of them")
    )]
    LayerTwice {
        name: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("first here")]
        first: SourceSpan,
        #[label("again here")]
        second: SourceSpan,
    },

    #[error("two outputs are named `{name}`")]
    #[diagnostic(
        code(stackc::model::output::duplicate),
        help("names of outputs must be unique")
    )]
    Duplicate {
        name: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("first declared here")]
        first: SourceSpan,
        #[label("declared again here")]
        second: SourceSpan,
    },
}

impl Model {
    /// The output root a layer is written to, if not the stack's `out/`.
    pub fn output_of(&self, layer: &str) -> Option<&Output> {
        self.gitops
            .outputs
            .iter()
            .find(|o| o.layers.iter().any(|l| l.value == layer))
    }
}

/// Cross-references of the `output` nodes: every layer exists and has one output, names are
/// unique.
pub(super) fn check(model: &Model, sources: &Sources) -> Diagnostics {
    let mut errors = Diagnostics::new();
    let layers: Vec<&str> = model.layers.iter().map(|l| l.name.as_str()).collect();
    let mut names: BTreeMap<&str, Span> = BTreeMap::new();
    let mut taken: BTreeMap<&str, Span> = BTreeMap::new();
    for output in &model.gitops.outputs {
        if let Some(first) = names.insert(output.name.as_str(), output.name.span) {
            errors.push(OutputError::Duplicate {
                name: output.name.value.clone(),
                src: sources.named(output.name.span.file),
                first: first.source_span(),
                second: output.name.span.source_span(),
            });
        }
        for layer in &output.layers {
            if !layers.contains(&layer.as_str()) {
                errors.push(OutputError::UnknownLayer {
                    output: output.name.value.clone(),
                    name: layer.value.clone(),
                    src: sources.named(layer.span.file),
                    span: layer.span.source_span(),
                    help: did_you_mean(&layer.value, layers.iter().copied()),
                });
            } else if let Some(first) = taken.insert(layer.as_str(), layer.span) {
                errors.push(OutputError::LayerTwice {
                    name: layer.value.clone(),
                    src: sources.named(layer.span.file),
                    first: first.source_span(),
                    second: layer.span.source_span(),
                });
            }
        }
    }
    errors
}

impl Parser<'_> {
    /// `output "name" path="..." repo-url="..." { layer "x"; ... }`.
    pub(super) fn output(&mut self, node: &KdlNode) -> Option<Output> {
        self.shape_with_children(node, 1, &["path", "repo-url"])?;
        let name = self.string_arg(node, 0, "output name")?;
        if node.entry("path").is_none() {
            self.missing(
                node,
                "a `path` property",
                Some("the root folder, e.g. path=\"../infra-repo\"".into()),
            );
            return None;
        }
        let path = self.string_prop(node, "path")?;
        let repo_url = self.string_prop(node, "repo-url").map(|n| n.value);
        let mut layers = Vec::new();
        for child in node.iter_children() {
            if child.name().value() != "layer" {
                self.unknown_node(child, child.name().value(), "an output", &["layer"]);
                continue;
            }
            if self.only_args(child, 1, &[]).is_none() {
                continue;
            }
            layers.extend(self.string_arg(child, 0, "layer"));
        }
        if layers.is_empty() {
            self.missing(
                node,
                "at least one `layer \"name\"` child",
                Some("the layers written to this root".into()),
            );
            return None;
        }
        Some(Output {
            name,
            path,
            repo_url,
            layers,
            span: self.span(node.span()),
        })
    }
}
