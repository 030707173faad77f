//! The shape of `out/<env>/`: one file per object under `<layer>/<namespace>/<service>/`,
//! namespace-wide objects (the Namespace, sealed Secrets) at the namespace level, a
//! `kustomization.yaml` at every level so `kubectl kustomize out/<env>` builds the whole
//! environment, and `flux-system/` with one Flux `Kustomization` per layer (the path Flux
//! bootstraps from).

use crate::object::ObjectId;
use crate::value::{map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Everything that goes into one environment's tree, before it becomes bytes.
pub struct EnvLayout<'a> {
    pub env: &'a str,
    /// Layers in dependency order, with the layers each depends on.
    pub layers: Vec<(&'a str, Vec<&'a str>)>,
    /// The Namespace objects, each placed in the first layer that uses it.
    pub namespaces: Vec<(String, String)>,
    /// The files of every service's objects (rendered now, or kept from the last build).
    pub object_files: BTreeMap<String, Content>,
    /// Sealed Secret manifests: (path, bytes), already encrypted.
    pub secrets: Vec<(String, Vec<u8>)>,
    /// Whether `flux bootstrap --path=out/<env>/flux-system` put Flux's own manifests in
    /// `flux-system/flux-system/`: they must stay in the kustomization, or Flux would stop
    /// managing itself.
    pub flux_bootstrapped: bool,
    /// Namespace- and environment-wide policy objects and Namespace labels.
    pub policy: &'a crate::policy::EnvPolicy,
}

/// A file's wanted content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Bytes rendered by this build.
    Bytes(Vec<u8>),
    /// Kept from the last build: the file on disk was verified to hold bytes with this hash.
    Kept(blake3::Hash),
}

impl Content {
    /// The hash of the content.
    pub fn hash(&self) -> blake3::Hash {
        match self {
            Content::Bytes(bytes) => blake3::hash(bytes),
            Content::Kept(hash) => *hash,
        }
    }
}

/// The files of one environment, by path relative to `out/<env>/`.
pub type Files = BTreeMap<String, Content>;

/// The name of the file listing what stackc wrote, so it prunes only its own files.
pub const INDEX_FILE: &str = ".stackc-files";

/// Lays out every file of an environment.
pub fn layout(env: EnvLayout<'_>) -> Files {
    let mut files: Files = env.object_files;
    for (layer, namespace) in &env.namespaces {
        let id = ObjectId {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: String::new(),
            name: namespace.clone(),
        };
        files.insert(
            namespace_path(layer, namespace),
            Content::Bytes(crate::yaml::to_yaml(&namespace_object(&id, env.policy)).into_bytes()),
        );
    }
    files.extend(policy_files(&env.namespaces, env.policy));
    for (path, bytes) in env.secrets {
        files.insert(path, Content::Bytes(bytes));
    }

    // A kustomization.yaml in every folder, listing its files and subfolders.
    let mut folders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (layer, _) in &env.layers {
        folders.entry((*layer).to_string()).or_default();
    }
    for path in files.keys() {
        let mut parent = String::new();
        for part in path.split('/') {
            let child = if parent.is_empty() {
                part.to_string()
            } else {
                format!("{parent}/{part}")
            };
            if !parent.is_empty() {
                folders
                    .entry(parent.clone())
                    .or_default()
                    .insert(part.to_string());
            }
            parent = child;
        }
    }
    for (folder, entries) in &folders {
        let mut entries: Vec<&String> = entries.iter().collect();
        // Namespace first, then the namespace-wide objects, then service folders.
        entries.sort_by_key(|e| {
            (
                e.as_str() != "namespace.yaml",
                !e.ends_with(".yaml"),
                e.as_str(),
            )
        });
        let bytes = kustomization(entries.iter().map(|e| e.as_str()));
        files.insert(format!("{folder}/kustomization.yaml"), bytes);
    }
    files.insert(
        "kustomization.yaml".into(),
        kustomization(env.layers.iter().map(|(l, _)| *l)),
    );

    for (layer, depends_on) in &env.layers {
        files.insert(
            format!("flux-system/kustomization-{layer}.yaml"),
            Content::Bytes(
                crate::yaml::to_yaml(&flux_kustomization(env.env, layer, depends_on)).into_bytes(),
            ),
        );
    }
    let mut flux_files: Vec<String> = env
        .layers
        .iter()
        .map(|(l, _)| format!("kustomization-{l}.yaml"))
        .collect();
    if env.flux_bootstrapped {
        flux_files.insert(0, "flux-system".to_string());
    }
    files.insert(
        "flux-system/kustomization.yaml".into(),
        kustomization(flux_files.iter().map(String::as_str)),
    );
    files
}

/// Where a namespace's Namespace object lives.
pub fn namespace_path(layer: &str, namespace: &str) -> String {
    format!("{layer}/{namespace}/namespace.yaml")
}

/// Where a sealed Secret lives.
pub fn secret_path(layer: &str, namespace: &str, name: &str) -> String {
    format!("{layer}/{namespace}/secret-{name}.yaml")
}

/// The policy objects (issue 14) beside each namespace's Namespace object; the Flux
/// notification objects go to the home of `flux-system` (where their secret is sealed).
fn policy_files(namespaces: &[(String, String)], policy: &crate::policy::EnvPolicy) -> Files {
    let mut files = Files::new();
    let mut place = |layer: &str, id: &ObjectId, body: &Value| {
        let path = crate::render::object_path(layer, &id.namespace, None, id);
        files.insert(
            path,
            Content::Bytes(crate::yaml::to_yaml(body).into_bytes()),
        );
    };
    for (layer, namespace) in namespaces {
        for (id, body) in policy.namespace_objects(namespace) {
            place(layer, &id, &body);
        }
        for (id, body) in policy.environment_objects() {
            if id.namespace == *namespace {
                place(layer, id, body);
            }
        }
    }
    files
}

fn namespace_object(id: &ObjectId, policy: &crate::policy::EnvPolicy) -> Value {
    let mut labels = crate::value::Map::new();
    labels.insert("app.kubernetes.io/managed-by".into(), Value::from("stackc"));
    for (key, value) in policy.namespace_labels() {
        labels.insert(key.clone(), Value::from(value.as_str()));
    }
    map([
        ("apiVersion", Value::from(id.api_version.as_str())),
        ("kind", Value::from(id.kind.as_str())),
        (
            "metadata",
            map([
                ("name", Value::from(id.name.as_str())),
                ("labels", Value::Map(labels)),
            ]),
        ),
    ])
}

fn kustomization<'a>(resources: impl Iterator<Item = &'a str>) -> Content {
    let resources: Vec<Value> = resources.map(Value::from).collect();
    let bytes = crate::yaml::to_yaml(&map([
        ("apiVersion", Value::from("kustomize.config.k8s.io/v1beta1")),
        ("kind", Value::from("Kustomization")),
        ("resources", Value::List(resources)),
    ]))
    .into_bytes();
    Content::Bytes(bytes)
}

fn flux_kustomization(env: &str, layer: &str, depends_on: &[&str]) -> Value {
    let mut spec = vec![
        ("interval", Value::from("10m0s")),
        ("path", Value::from(format!("./out/{env}/{layer}"))),
        ("prune", Value::Bool(true)),
        ("wait", Value::Bool(true)),
        (
            "sourceRef",
            map([("kind", "GitRepository"), ("name", "flux-system")]),
        ),
    ];
    if !depends_on.is_empty() {
        spec.push((
            "dependsOn",
            Value::List(depends_on.iter().map(|d| map([("name", *d)])).collect()),
        ));
    }
    spec.push((
        "decryption",
        map([
            ("provider", Value::from("sops")),
            ("secretRef", map([("name", "sops-age")])),
        ]),
    ));
    map([
        ("apiVersion", Value::from("kustomize.toolkit.fluxcd.io/v1")),
        ("kind", Value::from("Kustomization")),
        (
            "metadata",
            map([("name", layer), ("namespace", "flux-system")]),
        ),
        ("spec", map(spec)),
    ])
}
