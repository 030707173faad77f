//! `notify provider="slack"|"generic" channel= secret= severity="info"|"error"`: a Flux
//! notification Provider and an Alert (notification.toolkit.fluxcd.io/v1beta3), so every
//! layer's Kustomization and every `HelmRelease` reports its events. The provider's address is
//! a sealed secret declared with `secret` (key `address`); the Provider and the Alert live in
//! its namespace (Flux reads a provider's secret from the provider's namespace), which may not
//! be `flux-system` (Flux's bootstrap owns that Namespace). A provider without one is refused.

use super::{kube_object, located, text, PolicyError};
use crate::diagnostics::{did_you_mean, Diagnostics};
use crate::model::{Stack, Tracked};
use crate::object::ObjectId;
use crate::value::{map, Value};
use std::collections::BTreeSet;

/// Where Flux runs: its Kustomizations are the alert's first event source.
const FLUX_NAMESPACE: &str = "flux-system";

/// The notification API the Provider and the Alert are written in.
const API: &str = "notification.toolkit.fluxcd.io/v1beta3";

/// The Provider and the Alert of an environment, if it sets `notify`.
pub fn objects(
    stack: &Stack,
    env: &str,
    settings: &Tracked,
) -> Result<Vec<(ObjectId, Value)>, Diagnostics> {
    let Some(node) = super::get(settings, "notify") else {
        return Ok(Vec::new());
    };
    let model = &stack.model;
    let provider = text(settings, "notify.provider").map_or("generic", |(p, _)| p);
    let example = format!(
        "declare `secret \"flux-notify\" namespace=\"flux-notify\" {{ key \"address\" }}`, set its address with `stackc secret set {env} flux-notify address`, and write `notify provider=\"{provider}\" secret=\"flux-notify\"`"
    );
    let Some((secret, span)) = text(settings, "notify.secret") else {
        let at = located(&stack.sources, node.span);
        return Err(PolicyError::NotifyNoSecret {
            env: env.into(),
            provider: provider.into(),
            src: at.source,
            span: at.span,
            help: example,
        }
        .into());
    };
    let Some(decl) = model.secret(secret) else {
        let at = located(&stack.sources, span);
        return Err(PolicyError::NotifyUnknownSecret {
            env: env.into(),
            name: secret.into(),
            src: at.source,
            span: at.span,
            help: did_you_mean(secret, model.secrets.iter().map(|s| s.name.as_str()))
                .unwrap_or(example),
        }
        .into());
    };
    let problem = if decl.namespace.value == FLUX_NAMESPACE {
        Some((
            format!("is in namespace `{FLUX_NAMESPACE}`"),
            format!("stackc writes a Namespace for every namespace its secrets live in, and Flux's bootstrap owns `{FLUX_NAMESPACE}`: declare the secret in a namespace of its own (namespace=\"flux-notify\"); the Provider and the Alert live beside it"),
        ))
    } else if !decl.keys.iter().any(|k| k.name.value == "address") {
        Some((
            "has no key `address`".to_string(),
            "Flux reads the webhook URL from the secret's `address` key: key \"address\""
                .to_string(),
        ))
    } else {
        None
    };
    if let Some((problem, help)) = problem {
        let at = located(&stack.sources, decl.span);
        return Err(PolicyError::NotifyBadSecret {
            env: env.into(),
            name: secret.into(),
            problem,
            src: at.source,
            span: at.span,
            help,
        }
        .into());
    }
    let namespace = decl.namespace.as_str();
    let mut provider_spec = vec![("type", Value::from(provider))];
    if let Some((channel, _)) = text(settings, "notify.channel") {
        provider_spec.push(("channel", Value::from(channel)));
    }
    provider_spec.push(("secretRef", map([("name", secret)])));
    // The same name in every environment, so `stackc diff` compares them field by field.
    let name = model.project.name.value.clone();
    let severity = text(settings, "notify.severity").map_or("info", |(s, _)| s);
    let namespaces: BTreeSet<&str> = model
        .services
        .iter()
        .filter(|s| {
            s.template
                .as_ref()
                .is_some_and(|t| t.value.ends_with("helm-release"))
        })
        .map(|s| s.namespace.as_str())
        .collect();
    let mut sources = vec![map([
        ("kind", Value::from("Kustomization")),
        ("name", Value::from("*")),
        ("namespace", Value::from(FLUX_NAMESPACE)),
    ])];
    for namespace in namespaces {
        sources.push(map([
            ("kind", Value::from("HelmRelease")),
            ("name", Value::from("*")),
            ("namespace", Value::from(namespace)),
        ]));
    }
    let alert_spec = map([
        ("providerRef", map([("name", name.as_str())])),
        ("eventSeverity", Value::from(severity)),
        ("eventSources", Value::List(sources)),
    ]);
    Ok(vec![
        kube_object(API, "Provider", &name, namespace, map(provider_spec)),
        kube_object(API, "Alert", &name, namespace, alert_spec),
    ])
}
