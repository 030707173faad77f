//! Argo CD's objects in `out/<env>/argocd/`: one `Application` per layer, pointing at the
//! layer's folder, ordered by `argocd.argoproj.io/sync-wave` (the environment's `wave`
//! times 100, plus the layer's position), with the environment's sync policy.

use crate::model::gitops::ArgoSettings;
use crate::value::{map, Map, Value};

/// How far apart two environments' waves are: room for this many layers each.
pub const WAVE_STRIDE: i64 = 100;

/// One layer's Application, as the layout builds it.
pub struct ArgoLayer<'a> {
    pub env: &'a str,
    pub wave: i64,
    pub layer: &'a str,
    /// The layer's position in dependency order.
    pub position: usize,
    /// Whether the environment promotes from another (staging, production): their
    /// defaults add `RespectIgnoreDifferences` and `PruneLast`.
    pub promoted: bool,
    pub settings: &'a ArgoSettings,
}

/// The sync options of an environment unless set.
pub fn default_sync_options(promoted: bool) -> Vec<&'static str> {
    let mut options = vec!["CreateNamespace=true", "ApplyOutOfSyncOnly=true"];
    if promoted {
        options.extend(["RespectIgnoreDifferences=true", "PruneLast=true"]);
    }
    options
}

/// The Application object of one layer.
pub fn application(layer: &ArgoLayer<'_>) -> Value {
    let s = layer.settings;
    let path = s.path.as_deref().map_or_else(
        || format!("out/{}/{}", layer.env, layer.layer),
        |p| {
            p.replace("{env}", layer.env)
                .replace("{layer}", layer.layer)
        },
    );
    let offset = i64::try_from(layer.position).unwrap_or(WAVE_STRIDE - 1);
    let wave = layer
        .wave
        .saturating_mul(WAVE_STRIDE)
        .saturating_add(offset);

    let mut destination = Map::default();
    destination.insert(
        "server".into(),
        Value::from(
            s.server
                .as_deref()
                .unwrap_or("https://kubernetes.default.svc"),
        ),
    );
    if let Some(namespace) = &s.destination_namespace {
        destination.insert("namespace".into(), Value::from(namespace.as_str()));
    }
    let mut policy = Map::default();
    if s.automated.unwrap_or(true) {
        policy.insert(
            "automated".into(),
            map([
                ("prune", Value::Bool(s.prune.unwrap_or(true))),
                ("selfHeal", Value::Bool(s.self_heal.unwrap_or(true))),
            ]),
        );
    }
    let options: Vec<Value> = match &s.sync_options {
        Some(options) => options.iter().map(|o| Value::from(o.as_str())).collect(),
        None => default_sync_options(layer.promoted)
            .into_iter()
            .map(Value::from)
            .collect(),
    };
    if !options.is_empty() {
        policy.insert("syncOptions".into(), Value::List(options));
    }
    map([
        ("apiVersion", Value::from("argoproj.io/v1alpha1")),
        ("kind", Value::from("Application")),
        (
            "metadata",
            map([
                (
                    "name",
                    Value::from(format!("{}-{}", layer.env, layer.layer)),
                ),
                (
                    "namespace",
                    Value::from(s.namespace.as_deref().unwrap_or("argocd")),
                ),
                (
                    "annotations",
                    map([(
                        "argocd.argoproj.io/sync-wave",
                        Value::from(wave.to_string()),
                    )]),
                ),
            ]),
        ),
        (
            "spec",
            map([
                (
                    "project",
                    Value::from(s.project.as_deref().unwrap_or("default")),
                ),
                (
                    "source",
                    map([
                        (
                            "repoURL",
                            Value::from(s.repo_url.as_deref().unwrap_or_default()),
                        ),
                        (
                            "targetRevision",
                            Value::from(s.target_revision.as_deref().unwrap_or("HEAD")),
                        ),
                        ("path", Value::from(path)),
                    ]),
                ),
                ("destination", Value::Map(destination)),
                ("syncPolicy", Value::Map(policy)),
            ]),
        ),
    ])
}
