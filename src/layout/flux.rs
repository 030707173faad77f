//! Flux's objects in `out/<env>/flux-system/`: one `kustomize.toolkit.fluxcd.io/v1`
//! `Kustomization` per layer, applied in layer order through `dependsOn`, its fields from
//! the layer's layered `flux` settings over the built-in defaults.

use crate::model::gitops::{Decryption, FluxSettings, DEFAULT_DECRYPTION_SECRET};
use crate::value::{map, Map, Value};

/// One layer's Flux Kustomization, as the layout builds it.
pub struct FluxLayer<'a> {
    pub env: &'a str,
    pub layer: &'a str,
    /// The Kustomization names of the layers it depends on.
    pub depends_on: Vec<String>,
    /// Whether the layer holds sealed Secrets (Flux then needs to decrypt them).
    pub has_secrets: bool,
    pub settings: &'a FluxSettings,
}

/// The Kustomization name of a layer: its `name` setting, or the layer's name.
pub fn name<'a>(layer: &'a str, settings: &'a FluxSettings) -> &'a str {
    settings.name.as_deref().unwrap_or(layer)
}

/// The Kustomization object of one layer.
pub fn kustomization(layer: &FluxLayer<'_>) -> Value {
    let s = layer.settings;
    let path = s.path.as_deref().map_or_else(
        || format!("./out/{}/{}", layer.env, layer.layer),
        |p| {
            p.replace("{env}", layer.env)
                .replace("{layer}", layer.layer)
        },
    );
    let source = s.source.as_ref();
    let mut source_ref = Map::default();
    source_ref.insert(
        "kind".into(),
        Value::from(source.map_or("GitRepository", |r| r.kind.as_str())),
    );
    source_ref.insert(
        "name".into(),
        Value::from(source.map_or("flux-system", |r| r.name.as_str())),
    );
    if let Some(namespace) = source.and_then(|r| r.namespace.as_deref()) {
        source_ref.insert("namespace".into(), Value::from(namespace));
    }

    let mut spec = Map::default();
    let mut put = |key: &str, value: Value| {
        spec.insert(key.to_string(), value);
    };
    put(
        "interval",
        Value::from(s.interval.as_deref().unwrap_or("10m0s")),
    );
    if let Some(retry) = &s.retry_interval {
        put("retryInterval", Value::from(retry.as_str()));
    }
    if let Some(timeout) = &s.timeout {
        put("timeout", Value::from(timeout.as_str()));
    }
    put("path", Value::from(path));
    put("prune", Value::Bool(s.prune.unwrap_or(true)));
    put("wait", Value::Bool(s.wait.unwrap_or(true)));
    if let Some(force) = s.force {
        put("force", Value::Bool(force));
    }
    if let Some(suspend) = s.suspend {
        put("suspend", Value::Bool(suspend));
    }
    if let Some(namespace) = &s.target_namespace {
        put("targetNamespace", Value::from(namespace.as_str()));
    }
    if let Some(account) = &s.service_account {
        put("serviceAccountName", Value::from(account.as_str()));
    }
    put("sourceRef", Value::Map(source_ref));
    if !layer.depends_on.is_empty() {
        put(
            "dependsOn",
            Value::List(
                layer
                    .depends_on
                    .iter()
                    .map(|d| map([("name", d.as_str())]))
                    .collect(),
            ),
        );
    }
    if let Some(checks) = &s.health_checks {
        let checks = checks
            .iter()
            .map(|c| {
                let mut m = Map::default();
                if let Some(api) = &c.api_version {
                    m.insert("apiVersion".into(), Value::from(api.as_str()));
                }
                m.insert("kind".into(), Value::from(c.kind.as_str()));
                m.insert("name".into(), Value::from(c.name.as_str()));
                if let Some(ns) = &c.namespace {
                    m.insert("namespace".into(), Value::from(ns.as_str()));
                }
                Value::Map(m)
            })
            .collect();
        put("healthChecks", Value::List(checks));
    }
    if let Some(patches) = &s.patches {
        let patches = patches
            .iter()
            .map(|p| {
                let mut m = Map::default();
                m.insert("patch".into(), Value::from(p.patch.as_str()));
                if !p.target.is_empty() {
                    m.insert(
                        "target".into(),
                        Value::Map(
                            p.target
                                .iter()
                                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                                .collect(),
                        ),
                    );
                }
                Value::Map(m)
            })
            .collect();
        put("patches", Value::List(patches));
    }
    if !s.substitute.is_empty() {
        let vars: Map = s
            .substitute
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        put("postBuild", map([("substitute", Value::Map(vars))]));
    }
    let decryption = match &s.decryption {
        Some(Decryption::Off) => None,
        Some(Decryption::Sops(secret)) => Some(secret.as_str()),
        None => layer.has_secrets.then_some(DEFAULT_DECRYPTION_SECRET),
    };
    if let Some(secret) = decryption {
        put(
            "decryption",
            map([
                ("provider", Value::from("sops")),
                ("secretRef", map([("name", secret)])),
            ]),
        );
    }
    map([
        ("apiVersion", Value::from("kustomize.toolkit.fluxcd.io/v1")),
        ("kind", Value::from("Kustomization")),
        (
            "metadata",
            map([("name", name(layer.layer, s)), ("namespace", "flux-system")]),
        ),
        ("spec", Value::Map(spec)),
    ])
}
