//! Promotion: which pinned values of a service move from one environment to the next, and
//! where in the target environment's layers each one is written. A pure function of the
//! loaded stack; `cli/promote.rs` applies the plan through `edit` and writes the files.
//!
//! A service's promotable values are its image tag, its chart version and every path it
//! lists with `promotable "values.app.version"`. The value goes where the target
//! environment takes it from today: the service's `env "<to>"` block when that block sets
//! it, otherwise the service's block in `environments/<to>.kdl` (created when missing), the
//! layer that outranks every other.

use crate::diagnostics::{did_you_mean, Diagnostics};
use crate::edit::Scope;
use crate::model::{Settings, Stack, TrackedValue};
use crate::value::Value;
use miette::{Diagnostic, NamedSource, SourceSpan};
use std::sync::Arc;
use thiserror::Error;

/// The values every service can promote.
pub const PINNED: &[&str] = &["image.tag", "chart.version"];

/// What to promote.
#[derive(Debug, Clone)]
pub struct Request {
    pub from: String,
    pub to: String,
    /// The services; empty means every service (`--all`).
    pub services: Vec<String>,
    /// Only these paths (`--only`); empty means every promotable path.
    pub only: Vec<String>,
    /// Allow a promotion that does not follow `promotes-from`.
    pub skip_order: bool,
}

/// One value to copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Promotion {
    pub service: String,
    /// The setting path as templates see it (`image.tag`, `values.app.version`).
    pub path: String,
    pub value: Value,
    /// The target's value before the promotion (`None`: not set).
    pub previous: Option<Value>,
    /// The file the value is written to, relative to the stack root.
    pub file: String,
    pub scope: Scope,
}

impl Promotion {
    /// The path as KDL node names (`tcp_route.entry_point` is written `tcp-route entry-point=`).
    pub fn kdl_path(&self) -> Vec<String> {
        setting_segments(&self.path, '_', '-')
    }
}

/// A promotion that cannot be planned.
#[derive(Debug, Error, Diagnostic)]
pub enum PromoteError {
    #[error("cannot promote from `{env}` to itself")]
    #[diagnostic(
        code(stackc::promote::same_environment),
        help("name the environment the values come from with --from and another with --to")
    )]
    SameEnvironment { env: String },

    #[error("`{to}` is not promoted from `{from}`")]
    #[diagnostic(code(stackc::promote::out_of_order))]
    OutOfOrder {
        from: String,
        to: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
        #[help]
        help: String,
    },

    #[error("`{path}` is not a promotable value of service `{service}`")]
    #[diagnostic(code(stackc::promote::not_promotable))]
    NotPromotable {
        service: String,
        path: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("this service")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error(
        "`{path}` of service `{service}` in `{env}` is a {kind}; only single values are promoted"
    )]
    #[diagnostic(
        code(stackc::promote::not_a_value),
        help("list the leaves instead, e.g. `promotable \"{path}.version\"`")
    )]
    NotAValue {
        service: String,
        path: String,
        env: String,
        kind: &'static str,
    },
}

/// Plans the promotion; every environment and service name has been checked.
pub fn plan(stack: &Stack, request: &Request) -> Result<Vec<Promotion>, Diagnostics> {
    let model = &stack.model;
    if request.from == request.to {
        return Err(PromoteError::SameEnvironment {
            env: request.from.clone(),
        }
        .into());
    }
    let target = model
        .environment(&request.to)
        .ok_or_else(|| crate::diagnostics::Internal(format!("no environment {}", request.to)))?;
    let follows = target
        .promotes_from
        .as_ref()
        .is_some_and(|p| p.value == request.from);
    if !follows && !request.skip_order {
        let (span, label, help) = match &target.promotes_from {
            Some(p) => (
                p.span,
                format!("`{}` is promoted from `{}`", request.to, p.value),
                format!(
                    "promote into `{}` from `{}`, or pass --skip-order to promote from `{}` anyway",
                    request.to, p.value, request.from
                ),
            ),
            None => (
                target.name.span,
                format!("`{}` has no `promotes-from`", request.to),
                format!(
                    "declare `promotes-from=\"{}\"` on environment `{}`, or pass --skip-order",
                    request.from, request.to
                ),
            ),
        };
        let located = stack.sources.locate(span);
        return Err(PromoteError::OutOfOrder {
            from: request.from.clone(),
            to: request.to.clone(),
            src: located.source,
            span: located.span,
            label,
            help,
        }
        .into());
    }
    let services: Vec<&crate::model::Service> = if request.services.is_empty() {
        model.services.iter().collect()
    } else {
        request
            .services
            .iter()
            .filter_map(|name| model.service(name))
            .collect()
    };
    let mut errors = Diagnostics::new();
    let mut out = Vec::new();
    for service in services {
        let name = service.name.as_str();
        let mut promotable: Vec<String> = PINNED.iter().map(|p| (*p).to_string()).collect();
        promotable.extend(service.promotable.iter().map(|p| model_path(&p.value)));
        let paths: Vec<String> = if request.only.is_empty() {
            promotable.clone()
        } else {
            let mut chosen = Vec::new();
            for path in &request.only {
                let path = model_path(path);
                if promotable.contains(&path) {
                    chosen.push(path);
                } else if !request.services.is_empty() {
                    let located = stack.sources.locate(service.name.span);
                    errors.push(PromoteError::NotPromotable {
                        service: name.to_string(),
                        path: path.clone(),
                        src: located.source,
                        span: located.span,
                        help: format!(
                            "promotable values of `{name}`: {}{}; mark another with `promotable \"{path}\"` in the service",
                            promotable.join(", "),
                            did_you_mean(&path, promotable.iter().map(String::as_str))
                                .map(|d| format!(" ({d})"))
                                .unwrap_or_default()
                        ),
                    });
                }
            }
            chosen
        };
        let source = crate::resolve::resolve_one(stack, &request.from, name)?.values();
        let current = crate::resolve::resolve_one(stack, &request.to, name)?.values();
        for path in paths {
            let Some(value) = source.get_path(&path) else {
                continue;
            };
            if !value.is_scalar() {
                errors.push(PromoteError::NotAValue {
                    service: name.to_string(),
                    path: path.clone(),
                    env: request.from.clone(),
                    kind: value.type_name(),
                });
                continue;
            }
            let previous = current.get_path(&path).cloned();
            if previous.as_ref() == Some(value) {
                continue;
            }
            let in_env_block = service
                .env_blocks
                .iter()
                .any(|b| b.env.value == request.to && sets(&b.settings, &path));
            let in_overlay = target.overlay.as_ref().is_some_and(|o| {
                o.services
                    .iter()
                    .any(|s| s.service.value == name && sets(&s.settings, &path))
            });
            let (file, scope) = if in_env_block && !in_overlay {
                (
                    "stacks.kdl".to_string(),
                    Scope::EnvBlock {
                        service: name.to_string(),
                        env: request.to.clone(),
                    },
                )
            } else {
                (
                    format!("environments/{}.kdl", request.to),
                    Scope::OverlayService(name.to_string()),
                )
            };
            out.push(Promotion {
                service: name.to_string(),
                path,
                value: value.clone(),
                previous,
                file,
                scope,
            });
        }
    }
    errors.into_result(out)
}

/// A path as the user writes it (`tcp-route.entry-point`) in the model's keys.
fn model_path(path: &str) -> String {
    setting_segments(path, '-', '_').join(".")
}

/// A dotted path's segments with `from` replaced by `to` in the names stackc owns: the
/// setting (`tcp-route`) and a record setting's property (`entry-point`), never the keys
/// of free-form `values`, which are the user's.
fn setting_segments(path: &str, from: char, to: char) -> Vec<String> {
    let segments: Vec<&str> = path.split('.').collect();
    let record = segments.first().is_some_and(|s| *s != "values");
    segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if i == 0 || (i == 1 && record) {
                s.replace(from, &to.to_string())
            } else {
                (*s).to_string()
            }
        })
        .collect()
}

/// Whether a layer's settings set `path`.
fn sets(settings: &Settings, path: &str) -> bool {
    let mut segments = path.split('.');
    let Some(first) = segments.next() else {
        return false;
    };
    let Some(mut node) = settings.get(first) else {
        return false;
    };
    for segment in segments {
        match &node.value {
            TrackedValue::Map(entries) => match entries.get(segment) {
                Some(next) => node = next,
                None => return false,
            },
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_move_between_kdl_names_and_model_keys() {
        assert_eq!(model_path("tcp-route.entry-point"), "tcp_route.entry_point");
        assert_eq!(model_path("values.app-version"), "values.app-version");
        let promotion = Promotion {
            service: "s".into(),
            path: "tcp_route.entry_point".into(),
            value: Value::from("x"),
            previous: None,
            file: String::new(),
            scope: Scope::OverlayService("s".into()),
        };
        assert_eq!(promotion.kdl_path(), ["tcp-route", "entry-point"]);
    }
}
