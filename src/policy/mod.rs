//! Environment policy as generated objects (issue 14): from the resolved policy settings
//! (`network-policy`, `quota`, `limit-range`, `autoscale`, `disruption-budget`, `rollout`,
//! `probes`, `pod-security`, `notify`; parsed in `model/policy.rs`) to `NetworkPolicies`,
//! `ResourceQuotas`, `LimitRanges`, `HorizontalPodAutoscalers`, `PodDisruptionBudgets`, Pod Security
//! labels and Flux notifications, and to the values templates receive as `policy`.
//!
//! Per-service objects are a pure function of the unit's template context
//! ([`service_objects`] of what [`context`] computed), so the build caches them with the unit
//! and a change to anything they depend on (a peer's port) changes the unit's key.
//! Namespace- and environment-wide objects come from [`EnvPolicy`], which reads the
//! environment-wide layers only (built-in, `defaults`, `environment`, environments/<env>.kdl).

mod autoscale;
mod disruption;
mod error;
mod limit_range;
mod network;
mod notify;
mod peers;
mod pod_security;
mod quantity;
mod quota;
mod workload;

pub use error::{OtherSpan, PolicyError};
pub use peers::with_peers;

use crate::diagnostics::Diagnostics;
use crate::model::{Model, Settings, Stack, Tracked, TrackedValue};
use crate::object::ObjectId;
use crate::resolve::{ResolvedEnvironment, ResolvedService};
use crate::source::{Sources, Span};
use crate::value::{map, Map, Value};
use std::collections::BTreeMap;

/// The label every generated selector matches: the Helm release or the built-in
/// deployment's instance.
const INSTANCE: &str = "app.kubernetes.io/instance";

/// The values a unit's templates receive as `policy`: `strategy`, `probes`,
/// `security_context`, `pod_security_context`, `autoscaled` and `replicas`, plus what
/// [`service_objects`] turns into the HPA, the PDB and the service's `NetworkPolicy`.
/// `env_settings` is the environment's policy layers ([`env_settings`]), merged once per
/// environment by the caller.
pub fn context(
    stack: &Stack,
    env: &ResolvedEnvironment,
    env_settings: &Tracked,
    service: &ResolvedService,
) -> Result<Value, Diagnostics> {
    let unit = crate::render::unit_label(env, service);
    let settings = &service.settings;
    let mut errors = Diagnostics::new();
    let mut out = Map::default();
    let autoscale = autoscale::bounds(&stack.sources, settings, &service.name, &unit)
        .unwrap_or_else(|e| {
            errors.extend(e);
            None
        });
    let replicas = int(settings, "replicas").map_or(1, |(r, _)| r);
    let effective = autoscale.as_ref().map_or(replicas, |a| a.min);
    // The label every generated selector matches (`network-policy instance=`).
    out.insert(
        "instance".into(),
        Value::from(
            text(settings, "network_policy.instance").map_or(service.name.as_str(), |(i, _)| i),
        ),
    );
    out.insert("autoscaled".into(), Value::Bool(autoscale.is_some()));
    out.insert(
        "replicas".into(),
        if autoscale.is_some() {
            Value::Null
        } else {
            Value::Int(replicas)
        },
    );
    out.insert(
        "autoscale".into(),
        autoscale
            .as_ref()
            .map_or(Value::Null, autoscale::Bounds::to_value),
    );
    let workload = service.template.is_some();
    out.insert(
        "disruption_budget".into(),
        if workload && effective > 1 {
            disruption::rule(settings)
        } else {
            Value::Null
        },
    );
    match workload::strategy(&stack.sources, settings, &unit) {
        Ok(strategy) => {
            out.insert("strategy".into(), strategy);
        }
        Err(e) => errors.extend(e),
    }
    out.insert("probes".into(), workload::probes(settings));
    let level = text(env_settings, "pod_security.enforce").map(|(l, _)| l.to_string());
    out.insert(
        "pod_security".into(),
        level.as_deref().map_or(Value::Null, Value::from),
    );
    out.insert(
        "security_context".into(),
        pod_security::container_context(level.as_deref()),
    );
    out.insert(
        "pod_security_context".into(),
        pod_security::pod_context(level.as_deref()),
    );
    match network::rules(stack, env, service, env_settings, &unit) {
        Ok(rules) => {
            out.insert("network".into(), rules);
        }
        Err(e) => errors.extend(e),
    }
    errors.into_result(Value::Map(out))
}

/// The objects a unit adds to what its templates render, from its template context: the
/// `HorizontalPodAutoscaler`, the `PodDisruptionBudget` and the service's `NetworkPolicy`.
pub fn service_objects(ctx: &Value) -> Vec<(ObjectId, Value)> {
    let name = ctx.get_path("service.name").and_then(Value::as_str);
    let namespace = ctx.get_path("service.namespace").and_then(Value::as_str);
    let (Some(name), Some(namespace), Some(policy)) = (name, namespace, ctx.get_path("policy"))
    else {
        return Vec::new();
    };
    // A cluster-scoped service (no namespace) runs no pods of its own: an HPA, PDB or
    // NetworkPolicy there would be a namespaced object with no namespace.
    if namespace.is_empty() {
        return Vec::new();
    }
    [
        autoscale::object(name, namespace, policy),
        disruption::object(name, namespace, policy),
        network::service_object(name, namespace, policy),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The namespace- and environment-wide policy of one environment.
#[derive(Clone, Debug, Default)]
pub struct EnvPolicy {
    /// Labels for each namespace's Namespace object (Pod Security Admission).
    labels: BTreeMap<String, String>,
    /// Objects every namespace gets (default-deny, quota, limits), without `metadata.namespace`.
    per_namespace: Vec<Value>,
    /// Flux notification objects, with their namespace.
    environment: Vec<(ObjectId, Value)>,
}

impl EnvPolicy {
    /// Reads and checks the environment-wide policy of `env`: a quota below the declared
    /// requests or a notify provider without its secret is an error here.
    pub fn of(stack: &Stack, env: &str) -> Result<EnvPolicy, Diagnostics> {
        let model = &stack.model;
        let settings = env_settings(model, env);
        let mut errors = Diagnostics::new();
        namespace_settings_in_services(stack, env, &mut errors);
        let mut per_namespace = Vec::new();
        per_namespace.extend(network::default_deny(&settings));
        match quota::object(stack, env, &settings) {
            Ok(found) => per_namespace.extend(found),
            Err(e) => errors.extend(e),
        }
        per_namespace.extend(limit_range::object(&settings));
        let environment = notify::objects(stack, env, &settings).unwrap_or_else(|e| {
            errors.extend(e);
            Vec::new()
        });
        errors.into_result(EnvPolicy {
            labels: pod_security::labels(&settings),
            per_namespace,
            environment,
        })
    }

    /// The labels stackc puts on a Namespace it generates.
    pub fn namespace_labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// The objects of one namespace.
    pub fn namespace_objects(&self, namespace: &str) -> Vec<(ObjectId, Value)> {
        self.per_namespace
            .iter()
            .filter_map(|body| {
                let mut body = body.clone();
                if let Value::Map(m) = &mut body {
                    if let Some(Value::Map(meta)) = m.get_mut("metadata") {
                        // After the name, where every other object has it.
                        meta.shift_insert(1, "namespace".into(), Value::from(namespace));
                    }
                }
                Some((ObjectId::of(&body).ok()?, body))
            })
            .collect()
    }

    /// The environment-wide objects (Flux Provider and Alert), each with its namespace.
    pub fn environment_objects(&self) -> &[(ObjectId, Value)] {
        &self.environment
    }
}

/// The policy settings of the environment-wide layers, merged (policy keys only: their shapes
/// never clash, so merging them cannot fail).
/// The policy settings of `env`: the built-in, default, environment and overlay layers.
pub fn env_settings(model: &Model, env: &str) -> Tracked {
    let environment = model.environment(env);
    let layers: Vec<&Settings> = [Some(&model.builtin), Some(&model.defaults)]
        .into_iter()
        .chain([environment.map(|e| &e.settings)])
        .chain([environment
            .and_then(|e| e.overlay.as_ref())
            .map(|o| &o.settings)])
        .flatten()
        .collect();
    let span = model.project.span;
    let mut merged = Tracked::map(indexmap::IndexMap::default(), span);
    for layer in layers {
        let policy: crate::model::TrackedMap = layer
            .iter()
            .filter(|(k, _)| is_policy_key(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // Policy settings are maps at every layer (the parser makes them so).
        let _ = crate::resolve::merge(&mut merged, &Tracked::map(policy, span), "");
    }
    merged
}

fn is_policy_key(key: &str) -> bool {
    crate::model::POLICY_NODES
        .iter()
        .any(|n| n.replace('-', "_") == key)
}

/// Settings that shape a whole namespace, refused in a service's layers.
const NAMESPACE_WIDE: &[&str] = &["quota", "limit_range", "pod_security", "notify"];

fn namespace_settings_in_services(stack: &Stack, env: &str, errors: &mut Diagnostics) {
    let model = &stack.model;
    // A service's own settings hold in every environment: report them once, with the first.
    let first = model
        .environments
        .first()
        .is_some_and(|e| e.name.value == env);
    for service in &model.services {
        let mut layers: Vec<&Settings> = Vec::new();
        if first {
            layers.push(&service.settings);
        }
        layers.extend(
            service
                .env_blocks
                .iter()
                .filter(|b| b.env.value == env)
                .map(|b| &b.settings),
        );
        if let Some(overlay) = model.environment(env).and_then(|e| e.overlay.as_ref()) {
            layers.extend(
                overlay
                    .services
                    .iter()
                    .filter(|o| o.service.value == service.name.value)
                    .map(|o| &o.settings),
            );
        }
        for layer in layers {
            for key in NAMESPACE_WIDE {
                if let Some(found) = layer.get(*key) {
                    let at = stack.sources.locate(found.span);
                    errors.push(PolicyError::NamespaceSetting {
                        setting: key.replace('_', "-"),
                        service: service.name.value.clone(),
                        src: at.source,
                        span: at.span,
                    });
                }
            }
        }
    }
}

/// The node at a dotted path of a settings tree (`#null` counts as unset).
fn get<'t>(tree: &'t Tracked, path: &str) -> Option<&'t Tracked> {
    path.split('.')
        .try_fold(tree, |t, key| match &t.value {
            TrackedValue::Map(m) => m.get(key),
            _ => None,
        })
        .filter(|t| !matches!(t.value, TrackedValue::Scalar(Value::Null)))
}

fn int(tree: &Tracked, path: &str) -> Option<(i64, Span)> {
    match get(tree, path)? {
        Tracked {
            value: TrackedValue::Scalar(Value::Int(i)),
            span,
        } => Some((*i, *span)),
        _ => None,
    }
}

fn text<'t>(tree: &'t Tracked, path: &str) -> Option<(&'t str, Span)> {
    match get(tree, path)? {
        Tracked {
            value: TrackedValue::Scalar(Value::String(s)),
            span,
        } => Some((s.as_str(), *span)),
        _ => None,
    }
}

fn flag(tree: &Tracked, path: &str) -> Option<bool> {
    match get(tree, path)?.value {
        TrackedValue::Scalar(Value::Bool(b)) => Some(b),
        _ => None,
    }
}

/// A count or a percentage as Kubernetes takes it (`1`, `"25%"`).
fn count(tree: &Tracked, path: &str) -> Option<Value> {
    match &get(tree, path)?.value {
        TrackedValue::Scalar(v @ (Value::Int(_) | Value::String(_))) => Some(v.clone()),
        _ => None,
    }
}

/// An object's body with its identity and stackc's label.
fn kube_object(
    api_version: &str,
    kind: &str,
    name: &str,
    namespace: &str,
    spec: Value,
) -> (ObjectId, Value) {
    let mut metadata = vec![("name", Value::from(name))];
    if !namespace.is_empty() {
        metadata.push(("namespace", Value::from(namespace)));
    }
    metadata.push(("labels", map([("app.kubernetes.io/managed-by", "stackc")])));
    let body = map([
        ("apiVersion", Value::from(api_version)),
        ("kind", Value::from(kind)),
        ("metadata", map(metadata)),
        ("spec", spec),
    ]);
    let id = ObjectId {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
    };
    (id, body)
}

/// The selector of a service's pods.
fn selector(instance: &str) -> Value {
    map([("matchLabels", map([(INSTANCE, instance)]))])
}

fn located(sources: &Sources, span: Span) -> crate::source::Located {
    sources.locate(span)
}

#[cfg(test)]
mod tests {
    use super::{context, EnvPolicy};
    use crate::value::Value;

    /// A one-service stack with `defaults`, a dev and a production block, and the service.
    fn stack(defaults: &str, production: &str, service: &str) -> crate::model::Stack {
        let text = format!(
            r#"project "p" domain="example.org"
layer "apps"
defaults {{
{defaults}
}}
environment "dev" wave=0 {{
    recipients "age13zz8d57nutfp2effe6ztlyfxdf5akt9q0ltnefswtnlchfq66uvsl4zkex"
}}
environment "production" wave=1 {{
    recipients "age13zz8d57nutfp2effe6ztlyfxdf5akt9q0ltnefswtnlchfq66uvsl4zkex"
{production}
}}
service "web" layer="apps" namespace="web" template="builtin:deployment" {{
    image "nginx" tag="1"
{service}
}}
"#
        );
        match crate::model::load_text(text.as_bytes(), &[]) {
            Ok(stack) => stack,
            Err(e) => panic!("{e:?}"),
        }
    }

    fn policy(stack: &crate::model::Stack, env: &str) -> Value {
        let resolved = crate::resolve::environments(stack);
        let env = resolved
            .environments
            .iter()
            .find(|e| e.name == env)
            .expect("environment");
        let service = crate::resolve::resolve_one(stack, &env.name, "web").expect("resolved");
        let settings = super::env_settings(&stack.model, &env.name);
        context(stack, env, &settings, &service).expect("policy")
    }

    fn yaml(value: Option<&Value>) -> String {
        value.map_or_else(
            || "absent".into(),
            |v| crate::yaml::to_yaml(v).trim().to_string(),
        )
    }

    #[test]
    fn policy_values_layer_like_every_setting() {
        // (defaults, production block, service, environment, path, expected YAML)
        let cases = [
            (
                "rollout max-unavailable=1",
                "rollout max-surge=2",
                "",
                "production",
                "strategy.rollingUpdate",
                "maxUnavailable: 1\nmaxSurge: 2",
            ),
            (
                "rollout max-unavailable=1",
                "rollout max-surge=2",
                "",
                "dev",
                "strategy.rollingUpdate",
                "maxUnavailable: 1\nmaxSurge: 25%",
            ),
            // One budget rule: the higher layer's replaces the lower's.
            (
                "disruption-budget max-unavailable=1",
                "",
                "replicas 2\n    disruption-budget min-available=\"50%\"",
                "dev",
                "disruption_budget",
                "minAvailable: 50%",
            ),
            (
                "disruption-budget max-unavailable=1",
                "",
                "",
                "dev",
                "disruption_budget",
                "null",
            ),
            (
                "disruption-budget max-unavailable=1",
                "replicas 3",
                "",
                "production",
                "disruption_budget",
                "maxUnavailable: 1",
            ),
            // The autoscaler's minimum counts, and it owns the replicas.
            (
                "disruption-budget max-unavailable=1",
                "",
                "autoscale min=2 max=3",
                "dev",
                "disruption_budget",
                "maxUnavailable: 1",
            ),
            ("", "", "autoscale min=2 max=3", "dev", "replicas", "null"),
            (
                "",
                "",
                "autoscale min=2 max=3",
                "dev",
                "autoscale.cpu",
                "80",
            ),
            (
                "",
                "autoscale enabled=#false",
                "autoscale min=2 max=3",
                "production",
                "autoscaled",
                "false",
            ),
            (
                "",
                "",
                "probes path=\"/ready\"",
                "dev",
                "probes.readiness.httpGet.path",
                "/ready",
            ),
            ("", "", "probes enabled=#false", "dev", "probes", "null"),
            ("", "", "", "dev", "probes.liveness.tcpSocket.port", "8080"),
            (
                "pod-security \"baseline\"",
                "pod-security \"restricted\"",
                "",
                "production",
                "security_context.readOnlyRootFilesystem",
                "true",
            ),
            (
                "pod-security \"baseline\"",
                "pod-security \"restricted\"",
                "",
                "dev",
                "security_context",
                "allowPrivilegeEscalation: false",
            ),
            ("", "", "", "dev", "network", "null"),
            // A service can lock down its own pods where the namespace does not.
            (
                "",
                "",
                "network-policy ingress=\"deny\"",
                "dev",
                "network.ingress",
                "[]",
            ),
            (
                "",
                "",
                "network-policy ingress=\"deny\"",
                "dev",
                "network.egress",
                "absent",
            ),
            (
                "network-policy ingress=\"deny\"",
                "",
                "network-policy instance=\"web-x\"",
                "dev",
                "network.instance",
                "web-x",
            ),
        ];
        for (defaults, production, service, env, path, want) in cases {
            let stack = stack(defaults, production, service);
            let got = yaml(policy(&stack, env).get_path(path));
            assert_eq!(
                got, want,
                "{defaults} / {production} / {service} in {env}: {path}"
            );
        }
    }

    #[test]
    fn namespace_labels_follow_the_environment() {
        let stack = stack(
            "pod-security \"baseline\" warn=\"restricted\"",
            "pod-security \"restricted\"",
            "",
        );
        let labels = |env: &str| match EnvPolicy::of(&stack, env) {
            Ok(p) => p
                .namespace_labels()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(labels("dev"), "pod-security.kubernetes.io/audit=baseline,pod-security.kubernetes.io/enforce=baseline,pod-security.kubernetes.io/warn=restricted");
        // A higher layer's level replaces the lower one's fields it sets, and keeps the rest.
        assert_eq!(labels("production"), "pod-security.kubernetes.io/audit=restricted,pod-security.kubernetes.io/enforce=restricted,pod-security.kubernetes.io/warn=restricted");
    }
}
