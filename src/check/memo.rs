//! The gate's memo of an environment: a digest of everything the environment-scope rules
//! and the schema check of the layout's generated objects read. A build whose digest equals
//! the last clean build's has the same (empty) outcome, so it neither decodes the units'
//! facts nor runs those rules. Only a clean outcome is remembered: findings carry spans,
//! which the digest leaves out on purpose (moving a declaration must not re-run the rules).

use super::gate::GateUnit;
use super::{Scope, RULES};
use crate::model::{Named, Stack};
use crate::object::RenderedObject;
use crate::resolve::ResolvedEnvironment;
use crate::value::Tagged;
use serde::Serialize;

/// Every input of the environment's rules, as one derived struct: a new input is a new
/// field, so none can be forgotten silently.
#[derive(Serialize)]
struct EnvInputs<'a> {
    stackc: &'static str,
    /// The environment-scope rules and their severities (their set is the rules' version).
    rules: Vec<(&'static str, bool)>,
    env: &'a str,
    /// The rules the environment allows (its declaration and its overlay).
    env_allows: Vec<&'a str>,
    /// Each unit's service and its facts, as its record keeps them.
    units: Vec<(&'a str, &'a str)>,
    /// What the rules read of the service declarations.
    services: Vec<ServiceInputs<'a>>,
    /// The declared secrets and their keys.
    secrets: Vec<SecretInputs<'a>>,
    /// The Kubernetes version the generated objects are validated against.
    version: &'a str,
    /// The layout's generated objects, each as identity, path and body.
    generated: Vec<GeneratedInput<'a>>,
}

#[derive(Serialize)]
struct ServiceInputs<'a> {
    name: &'a str,
    namespace: &'a str,
    depends_on: Vec<&'a str>,
    uses_secrets: Vec<&'a str>,
    allows: Vec<&'a str>,
}

#[derive(Serialize)]
struct SecretInputs<'a> {
    name: &'a str,
    namespace: &'a str,
    keys: Vec<&'a str>,
}

#[derive(Serialize)]
struct GeneratedInput<'a> {
    id: [&'a str; 4],
    service: Option<&'a str>,
    path: &'a str,
    body: Tagged<'a>,
}

fn names(list: &[Named]) -> Vec<&str> {
    list.iter().map(|n| n.value.as_str()).collect()
}

/// The digest of `env`'s environment-scope inputs: its `units`, the declarations the rules
/// read, the Kubernetes `version` and the `generated` objects.
pub fn digest(
    stack: &Stack,
    env: &ResolvedEnvironment,
    units: &[GateUnit<'_>],
    version: &str,
    generated: &[RenderedObject],
) -> Option<[u8; 32]> {
    let model = &stack.model;
    let environment = model.environment(&env.name);
    let inputs = EnvInputs {
        stackc: env!("CARGO_PKG_VERSION"),
        rules: RULES
            .iter()
            .filter(|r| r.scope == Scope::Environment || r.id == "schema")
            .map(|r| (r.id, r.severity == super::Severity::Error))
            .collect(),
        env: &env.name,
        env_allows: environment
            .map(|e| {
                super::allow::environment_allows(e)
                    .map(|a| a.rule.value.as_str())
                    .collect()
            })
            .unwrap_or_default(),
        units: units.iter().map(|u| (u.service, u.facts)).collect(),
        services: model
            .services
            .iter()
            .map(|s| ServiceInputs {
                name: &s.name.value,
                namespace: &s.namespace.value,
                depends_on: names(&s.depends_on),
                uses_secrets: names(&s.uses_secrets),
                allows: s.allows.iter().map(|a| a.rule.value.as_str()).collect(),
            })
            .collect(),
        secrets: model
            .secrets
            .iter()
            .map(|s| SecretInputs {
                name: &s.name.value,
                namespace: &s.namespace.value,
                keys: s.keys.iter().map(|k| k.name.value.as_str()).collect(),
            })
            .collect(),
        version,
        generated: generated
            .iter()
            .map(|o| GeneratedInput {
                id: [&o.id.api_version, &o.id.kind, &o.id.namespace, &o.id.name],
                service: o.service.as_deref(),
                path: &o.path,
                body: Tagged(&o.body),
            })
            .collect(),
    };
    // Written whole, then hashed once: postcard writes a field at a time, and a hasher
    // fed a few bytes per call costs more than the copy. Were writing to fail, there is no
    // memo (the rules run).
    let bytes = postcard::to_stdvec(&inputs).ok()?;
    Some(*blake3::hash(&bytes).as_bytes())
}
