//! Layering: each service in each environment resolved through, lowest to highest,
//! built-in < `defaults` < environment < service < the service's `env` block <
//! `environments/<env>.kdl` (its environment-wide settings, then its `service` blocks), with
//! the provenance of every value kept.

mod merge;
mod provenance;

pub use merge::{join, merge, Clash};
pub use provenance::{Origin, Provenance};

use crate::diagnostics::Diagnostics;
use crate::model::{Model, Service, Settings, Stack, Tracked, TrackedValue};
use crate::source::{Sources, Span};
use crate::value::Value;
use miette::{Diagnostic, NamedSource, SourceSpan};
use std::sync::Arc;
use thiserror::Error;

/// Every environment of the stack, resolved.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub environments: Vec<ResolvedEnvironment>,
}

/// One environment and its services.
#[derive(Clone, Debug)]
pub struct ResolvedEnvironment {
    pub name: String,
    pub wave: i64,
    pub domain: String,
    pub promotes_from: Option<String>,
    /// age recipients, sorted and deduplicated (their order never matters).
    pub recipients: Vec<String>,
    pub services: Vec<ResolvedService>,
}

/// One service in one environment.
#[derive(Clone, Debug)]
pub struct ResolvedService {
    pub name: String,
    pub layer: String,
    pub namespace: String,
    pub template: Option<String>,
    pub depends_on: Vec<String>,
    pub secrets: Vec<String>,
    pub manifests: Vec<String>,
    /// Custom kinds the service declares cluster-scoped (`cluster-kinds`).
    pub cluster_kinds: Vec<String>,
    /// The merged settings; every node keeps the span of the layer that set it.
    pub settings: Tracked,
    /// Filled only by [`resolve_explained`]: building it costs more than resolving.
    pub provenance: Provenance,
    pub span: Span,
}

impl ResolvedService {
    /// The settings as a plain value.
    pub fn values(&self) -> Value {
        self.settings.to_value()
    }
}

/// A layer of values, lowest first, as `explain` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerLabel(pub String);

/// Two layers give a value different shapes.
#[derive(Debug, Error, Diagnostic)]
#[error(
    "`{path}` is {} {upper_type} here but {} {lower_type} in a lower layer",
    article(upper_type),
    article(lower_type)
)]
#[diagnostic(
    code(stackc::resolve::type_clash),
    help("maps merge with maps; lists and scalars replace each other only when both sides have the same shape (use #null to unset a value)")
)]
pub struct TypeClash {
    path: String,
    lower_type: &'static str,
    upper_type: &'static str,
    #[source_code]
    src: NamedSource<Arc<str>>,
    #[label("{upper_type} set here")]
    upper: SourceSpan,
    #[related]
    lower: Vec<LowerDefinition>,
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The other half of a [`TypeClash`].
#[derive(Debug, Error, Diagnostic)]
#[error("the lower layer's {kind}")]
#[diagnostic(severity(Advice))]
pub struct LowerDefinition {
    kind: &'static str,
    #[source_code]
    src: NamedSource<Arc<str>>,
    #[label("{kind} set here")]
    span: SourceSpan,
}

/// Resolves every service in every environment (in parallel; without provenance).
pub fn resolve(stack: &Stack) -> Result<Resolved, Diagnostics> {
    use rayon::prelude::*;
    let mut resolved = environments(stack);
    let mut errors = Diagnostics::new();
    for env in &mut resolved.environments {
        let results: Vec<Result<ResolvedService, Diagnostics>> = stack
            .model
            .services
            .par_iter()
            .map(|service| resolve_one(stack, &env.name, &service.name.value))
            .collect();
        for result in results {
            match result {
                Ok(service) => env.services.push(service),
                Err(e) => errors.extend(e),
            }
        }
    }
    errors.into_result(resolved)
}

/// The layers that apply to `service` in `env`, lowest first.
pub fn layers<'m>(model: &'m Model, env: &str, service: &str) -> Vec<(LayerLabel, &'m Settings)> {
    layers_of(model, env, service, model.service(service))
        .into_iter()
        .map(|(kind, settings)| (kind.label(env, service), settings))
        .collect()
}

/// Which layer a [`layers_of`] entry is; its [`LayerLabel`] is written only when asked for
/// (resolving a unit needs none).
#[derive(Clone, Copy)]
enum LayerKind {
    Builtin,
    Defaults,
    Environment,
    Service,
    ServiceEnv,
    Overlay,
    OverlayService,
}

impl LayerKind {
    fn label(self, env: &str, service: &str) -> LayerLabel {
        LayerLabel(match self {
            LayerKind::Builtin => "built-in".into(),
            LayerKind::Defaults => "defaults".into(),
            LayerKind::Environment => format!("environment {env}"),
            LayerKind::Service => format!("service {service}"),
            LayerKind::ServiceEnv => format!("service {service}, env {env}"),
            LayerKind::Overlay => format!("environments/{env}.kdl"),
            LayerKind::OverlayService => format!("environments/{env}.kdl, service {service}"),
        })
    }
}

/// The layers of the service `name` (`service`, when it is declared) in `env`.
fn layers_of<'m>(
    model: &'m Model,
    env: &str,
    name: &str,
    service: Option<&'m Service>,
) -> Vec<(LayerKind, &'m Settings)> {
    let mut out: Vec<(LayerKind, &Settings)> = vec![
        (LayerKind::Builtin, &model.builtin),
        (LayerKind::Defaults, &model.defaults),
    ];
    let environment = model.environment(env);
    if let Some(e) = environment {
        out.push((LayerKind::Environment, &e.settings));
    }
    if let Some(s) = service {
        out.push((LayerKind::Service, &s.settings));
        for block in s.env_blocks.iter().filter(|b| b.env.value == env) {
            out.push((LayerKind::ServiceEnv, &block.settings));
        }
    }
    // environments/<env>.kdl is the top layer, so a reviewed production file is the policy:
    // its environment-wide settings beat every service, its service blocks beat those.
    if let Some(overlay) = environment.and_then(|e| e.overlay.as_ref()) {
        out.push((LayerKind::Overlay, &overlay.settings));
        for o in overlay.services.iter().filter(|o| o.service.value == name) {
            out.push((LayerKind::OverlayService, &o.settings));
        }
    }
    out
}

/// Resolves one service in one environment.
pub fn resolve_one(
    stack: &Stack,
    env: &str,
    service: &str,
) -> Result<ResolvedService, Diagnostics> {
    resolve_service(&stack.model, &stack.sources, env, service, false)
}

/// The environments, with no service resolved yet (the build resolves units on demand).
pub fn environments(stack: &Stack) -> Resolved {
    let model = &stack.model;
    let environments = model
        .environments
        .iter()
        .map(|env| {
            let mut recipients: Vec<String> = env
                .recipients
                .iter()
                .chain(env.overlay.iter().flat_map(|o| &o.recipients))
                .map(|r| r.value.clone())
                .collect();
            recipients.sort();
            recipients.dedup();
            ResolvedEnvironment {
                name: env.name.value.clone(),
                wave: env.wave,
                domain: env
                    .domain
                    .as_ref()
                    .map_or_else(|| model.project.domain.value.clone(), |d| d.value.clone()),
                promotes_from: env.promotes_from.as_ref().map(|p| p.value.clone()),
                recipients,
                services: Vec::new(),
            }
        })
        .collect();
    Resolved { environments }
}

/// Resolves one service in one environment with the provenance of every value (`explain`).
pub fn resolve_explained(
    stack: &Stack,
    env: &str,
    service: &str,
) -> Result<ResolvedService, Diagnostics> {
    resolve_service(&stack.model, &stack.sources, env, service, true)
}

fn resolve_service(
    model: &Model,
    sources: &Sources,
    env: &str,
    name: &str,
    with_provenance: bool,
) -> Result<ResolvedService, Diagnostics> {
    let Some(service) = model.service(name) else {
        return Err(crate::diagnostics::Internal(format!(
            "service `{name}` vanished during resolution"
        ))
        .into());
    };
    let mut settings = Tracked::map(indexmap::IndexMap::default(), service.span);
    let mut provenance = Provenance::default();
    for (kind, layer) in layers_of(model, env, name, Some(service)) {
        if with_provenance {
            let upper = Tracked::map(layer.clone(), service.span);
            provenance.record(&kind.label(env, name), &upper);
        }
        // Each layer merges from where it is declared: only what lands in the result is copied.
        if let Err(clash) = merge::merge_entries(&mut settings, layer, service.span) {
            let lower_src = sources.named(clash.lower.0.file);
            return Err(TypeClash {
                path: clash.path,
                lower_type: clash.lower.1,
                upper_type: clash.upper.1,
                src: sources.named(clash.upper.0.file),
                upper: clash.upper.0.source_span(),
                lower: vec![LowerDefinition {
                    kind: clash.lower.1,
                    src: lower_src,
                    span: clash.lower.0.source_span(),
                }],
            }
            .into());
        }
    }
    settings.span = service.span;
    debug_assert!(matches!(settings.value, TrackedValue::Map(_)));
    Ok(ResolvedService {
        name: name.to_string(),
        layer: service.layer.value.clone(),
        namespace: service.namespace.value.clone(),
        template: service.template.as_ref().map(|t| t.value.clone()),
        depends_on: service.depends_on.iter().map(|d| d.value.clone()).collect(),
        secrets: service
            .uses_secrets
            .iter()
            .map(|s| s.value.clone())
            .collect(),
        manifests: service.manifests.iter().map(|m| m.value.clone()).collect(),
        cluster_kinds: service
            .cluster_kinds
            .iter()
            .map(|k| k.value.clone())
            .collect(),
        settings,
        provenance,
        span: service.span,
    })
}
