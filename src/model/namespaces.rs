//! `namespace "name" { label k="v"; annotation k="v"; managed #false; managed-by-label #false }`:
//! what stackc writes into a generated Namespace object, or that it writes none (someone else
//! manages the namespace). In `stacks.kdl`, inside an `environment`, and in
//! `environments/<env>.kdl`, layered in that order: labels and annotations merge, the
//! switches replace. A service can own its Namespace object (`owns-namespace`): the object
//! then lives in the service's folder and goes with it.

use super::parse::Parser;
use super::syntax::{Node as KdlNode, Value as KdlValue};
use super::{Model, Named};
use crate::source::Span;
use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use thiserror::Error;

const NAMESPACE_NODES: &[&str] = &["label", "annotation", "managed", "managed-by-label"];

/// One `namespace` block.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NamespaceDecl {
    pub name: Named,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `managed #false`: no Namespace object; someone else creates the namespace.
    pub managed: Option<bool>,
    /// `managed-by-label #false`: no `app.kubernetes.io/managed-by: stackc` label.
    pub managed_by_label: Option<bool>,
    pub span: Span,
}

/// What the generated Namespace of one environment carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceSettings {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub managed: bool,
    pub managed_by_label: bool,
}

impl Model {
    /// The namespaces declared anywhere (stack, environments, overlays), by name.
    pub fn declared_namespaces(&self) -> Vec<&Named> {
        let mut names: Vec<&Named> = self.namespaces.iter().map(|n| &n.name).collect();
        for env in &self.environments {
            names.extend(env.namespaces.iter().map(|n| &n.name));
            if let Some(overlay) = &env.overlay {
                names.extend(overlay.namespaces.iter().map(|n| &n.name));
            }
        }
        names
    }

    /// The Namespace settings of `namespace` in `env`, every scope laid over the last.
    pub fn namespace_settings(&self, env: &str, namespace: &str) -> NamespaceSettings {
        let mut out = NamespaceSettings {
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            managed: true,
            managed_by_label: true,
        };
        let mut scopes: Vec<&[NamespaceDecl]> = vec![&self.namespaces];
        if let Some(e) = self.environment(env) {
            scopes.push(&e.namespaces);
            if let Some(overlay) = &e.overlay {
                scopes.push(&overlay.namespaces);
            }
        }
        for decl in scopes
            .into_iter()
            .flatten()
            .filter(|d| d.name.value == namespace)
        {
            out.labels.extend(decl.labels.clone());
            out.annotations.extend(decl.annotations.clone());
            if let Some(managed) = decl.managed {
                out.managed = managed;
            }
            if let Some(label) = decl.managed_by_label {
                out.managed_by_label = label;
            }
        }
        out
    }

    /// The service that owns the Namespace object of `namespace`, if one does.
    pub fn namespace_owner(&self, namespace: &str) -> Option<&super::Service> {
        self.services
            .iter()
            .find(|s| s.owns_namespace.is_some() && s.namespace.value == namespace)
    }
}

/// A namespace declaration the model refuses.
#[derive(Debug, Error, Diagnostic)]
pub enum NamespaceError {
    #[error("services `{first}` and `{second}` both own the Namespace `{namespace}`")]
    #[diagnostic(
        code(stackc::model::namespace::two_owners),
        help("one service owns a namespace's Namespace object; remove `owns-namespace` from one of them")
    )]
    TwoOwners {
        namespace: String,
        first: String,
        second: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("owned here")]
        span: SourceSpan,
        #[related]
        other: Vec<OwnedHere>,
    },

    #[error("invalid {what} `{key}`: {reason}")]
    #[diagnostic(code(stackc::model::namespace::invalid_label))]
    InvalidLabel {
        what: &'static str,
        key: String,
        reason: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("here")]
        span: SourceSpan,
    },
}

/// The first owner of a Namespace, in its own file.
#[derive(Debug, Error, Diagnostic)]
#[error("`{service}` owns it too")]
#[diagnostic(code(stackc::model::namespace::two_owners))]
pub struct OwnedHere {
    pub service: String,
    #[source_code]
    pub src: NamedSource<Arc<str>>,
    #[label("first owner")]
    pub span: SourceSpan,
}

/// Cross-checks: one owner per namespace.
pub(super) fn check(
    model: &Model,
    sources: &crate::source::Sources,
) -> crate::diagnostics::Diagnostics {
    let mut errors = crate::diagnostics::Diagnostics::new();
    let mut owners: BTreeMap<&str, (&super::Service, Span)> = BTreeMap::new();
    for service in &model.services {
        let Some(span) = service.owns_namespace else {
            continue;
        };
        match owners.get(service.namespace.as_str()) {
            Some((first, first_span)) => errors.push(NamespaceError::TwoOwners {
                namespace: service.namespace.value.clone(),
                first: first.name.value.clone(),
                second: service.name.value.clone(),
                src: sources.named(span.file),
                span: span.source_span(),
                other: vec![OwnedHere {
                    service: first.name.value.clone(),
                    src: sources.named(first_span.file),
                    span: first_span.source_span(),
                }],
            }),
            None => {
                owners.insert(service.namespace.as_str(), (service, span));
            }
        }
    }
    errors
}

/// Whether `key` is a Kubernetes label or annotation key: an optional DNS prefix and `/`,
/// then a name of at most 63 characters.
fn key_problem(key: &str) -> Option<String> {
    let (prefix, name) = key.rsplit_once('/').unwrap_or(("", key));
    if !prefix.is_empty() && !prefix.split('.').all(super::is_dns_label) {
        return Some("the prefix is not a DNS subdomain".into());
    }
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    (!name_ok).then(|| {
        "at most 63 letters, digits, `-`, `_` or `.`, starting and ending alphanumeric".into()
    })
}

impl Parser<'_> {
    /// `namespace "name" { ... }`.
    pub(super) fn namespace_decl(&mut self, node: &KdlNode) -> Option<NamespaceDecl> {
        self.shape_with_children(node, 1, &[])?;
        let name = self.string_arg(node, 0, "namespace")?;
        let mut decl = NamespaceDecl {
            name,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            managed: None,
            managed_by_label: None,
            span: self.span(node.span()),
        };
        for child in node.iter_children() {
            let what = child.name().value();
            match what {
                "label" | "annotation" => {
                    let keys: Vec<String> = child
                        .entries()
                        .iter()
                        .filter_map(|e| e.name().map(|n| n.value().to_string()))
                        .collect();
                    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                    if self.only_args(child, 0, &keys).is_none() {
                        continue;
                    }
                    for entry in child.entries() {
                        let Some(key) = entry.name() else {
                            continue;
                        };
                        let span = self.span(entry.span());
                        let kind = if what == "label" {
                            "label"
                        } else {
                            "annotation"
                        };
                        if let Some(reason) = key_problem(key.value()) {
                            self.errors.push(NamespaceError::InvalidLabel {
                                what: kind,
                                key: key.value().to_string(),
                                reason,
                                src: self.src(),
                                span: span.source_span(),
                            });
                            continue;
                        }
                        match entry.value() {
                            KdlValue::String(v) => {
                                if what == "label" && v.len() > 63 {
                                    self.errors.push(NamespaceError::InvalidLabel {
                                        what: kind,
                                        key: key.value().to_string(),
                                        reason: "a label value has at most 63 characters".into(),
                                        src: self.src(),
                                        span: span.source_span(),
                                    });
                                    continue;
                                }
                                let map = if what == "label" {
                                    &mut decl.labels
                                } else {
                                    &mut decl.annotations
                                };
                                map.insert(key.value().to_string(), v.clone());
                            }
                            other => self.wrong_type(key.value(), "a string", other, span),
                        }
                    }
                }
                "managed" | "managed-by-label" => {
                    if self.only_args(child, 1, &[]).is_none() {
                        continue;
                    }
                    let value = self.bool_arg(child, 0, what).map(|(b, _)| b);
                    if what == "managed" {
                        decl.managed = value;
                    } else {
                        decl.managed_by_label = value;
                    }
                }
                other => self.unknown_node(child, other, "a namespace", NAMESPACE_NODES),
            }
        }
        Some(decl)
    }
}

#[cfg(test)]
mod tests {
    use super::key_problem;

    #[test]
    fn label_keys_follow_kubernetes() {
        for ok in [
            "team",
            "app.kubernetes.io/part-of",
            "toolkit.fluxcd.io/tenant",
            "a_b.c",
        ] {
            assert_eq!(key_problem(ok), None, "{ok}");
        }
        for bad in ["", "-team", "team-", "Bad_Prefix/x", "a/", &"x".repeat(64)] {
            assert!(key_problem(bad).is_some(), "{bad}");
        }
    }
}
