//! `ingress-tls`: every Ingress serves each of its hosts over TLS from cert-manager.

use crate::check::context::{object_label, setting};
use crate::check::{Context, EnvCheck, Finding};
use crate::value::Value;
use std::collections::BTreeSet;

const ISSUER_ANNOTATIONS: [&str; 2] = ["cert-manager.io/cluster-issuer", "cert-manager.io/issuer"];

fn strings<'v>(value: Option<&'v Value>, key: &str) -> Vec<&'v str> {
    match value {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|i| i.get_path(key).and_then(Value::as_str))
            .collect(),
        _ => Vec::new(),
    }
}

/// TLS for each host, the cert-manager annotation, and a Certificate or an issuer.
pub fn tls(ctx: &Context<'_>, env: &EnvCheck<'_>) -> Vec<Finding> {
    // Indexed once: an environment has an Ingress per service, and as many Certificates.
    let certificates: BTreeSet<(&str, &str)> = env
        .objects_of("Certificate")
        .filter_map(|c| {
            let secret = c.body.get_path("spec.secretName").and_then(Value::as_str)?;
            Some((c.id.namespace.as_str(), secret))
        })
        .collect();
    let issuers: BTreeSet<(&str, &str)> = env
        .objects_of("Issuer")
        .map(|i| (i.id.namespace.as_str(), i.id.name.as_str()))
        .collect();
    let cluster_issuers: BTreeSet<&str> = env
        .objects_of("ClusterIssuer")
        .map(|i| i.id.name.as_str())
        .collect();
    let mut out = Vec::new();
    for ingress in env.objects_of("Ingress") {
        let service = ingress.service.as_deref().unwrap_or_default();
        let span = ctx
            .stack
            .model
            .service(service)
            .map(|s| s.span)
            .and_then(|fallback| {
                env.services()
                    .iter()
                    .find(|r| r.name == service)
                    .map(|r| setting(r, "ingress").map_or(fallback, |i| i.span))
            });
        let finding = |message: String, help: &str| {
            let mut f = Finding::new(message)
                .service(service)
                .object(object_label(ingress))
                .help(help);
            f.span = span;
            f
        };
        let hosts = strings(ingress.body.get_path("spec.rules"), "host");
        let tls = ingress.body.get_path("spec.tls");
        let covered: Vec<&str> = match tls {
            Some(Value::List(items)) => items
                .iter()
                .filter_map(|t| match t.get_path("hosts") {
                    Some(Value::List(h)) => Some(h.iter().filter_map(Value::as_str)),
                    _ => None,
                })
                .flatten()
                .collect(),
            _ => Vec::new(),
        };
        for host in &hosts {
            if !covered.contains(host) {
                out.push(finding(
                    format!("host `{host}` is served without TLS"),
                    "set `ingress ... tls=#true` (the template lists the host under spec.tls)",
                ));
            }
        }
        let annotations = ingress.body.get_path("metadata.annotations");
        let issuer = ISSUER_ANNOTATIONS.iter().find_map(|a| {
            annotations
                .and_then(Value::as_map)
                .and_then(|m| m.get(*a))
                .and_then(Value::as_str)
                .map(|name| (*a, name))
        });
        let Some((annotation, issuer)) = issuer else {
            out.push(finding(
                "has no cert-manager annotation".to_string(),
                "annotate it with `cert-manager.io/cluster-issuer: <issuer>` so cert-manager issues its certificate",
            ));
            continue;
        };
        let namespace = ingress.id.namespace.as_str();
        let certificate = strings(tls, "secretName")
            .into_iter()
            .any(|secret| certificates.contains(&(namespace, secret)));
        let issuer_kind = if annotation.ends_with("cluster-issuer") {
            "ClusterIssuer"
        } else {
            "Issuer"
        };
        let issuer_exists = if issuer_kind == "ClusterIssuer" {
            cluster_issuers.contains(issuer)
        } else {
            issuers.contains(&(namespace, issuer))
        };
        if !certificate && !issuer_exists {
            out.push(finding(
                format!("has neither a Certificate for its TLS secret nor the {issuer_kind} `{issuer}` in this environment"),
                "render a Certificate for the TLS secret, or declare the issuer (e.g. a ClusterIssuer in `manifests`)",
            ));
        }
    }
    out
}
