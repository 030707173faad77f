//! The declared stack: `stacks.kdl` and `environments/<env>.kdl` parsed into typed, spanned
//! declarations. Nothing here is resolved yet: settings are still per-layer trees.

pub mod builtin_templates;
mod chunks;
mod cycles;
mod error;
mod fragment;
pub mod gitops;
mod limits;
mod load;
mod names;
pub mod namespaces;
pub mod outputs;
mod parse;
mod patch;
mod policy;
pub mod ranges;
mod runs;
mod settings;
mod shared_secret;
pub mod syntax;
mod validate;

pub use cycles::cycles;
pub use error::ModelError;
pub use gitops::{GitOps, GitOpsScope};
pub use limits::{MAX_DEPTH, MAX_FILE_BYTES};
pub use load::{load, load_text, Stack, TemplateFile};
pub use names::{check_label, is_dns_label};
pub use patch::{OpKind, Patch, PatchBody, PatchOp, PatchTarget, Pointer};
pub use policy::POLICY_NODES;
pub use settings::{Tracked, TrackedMap, TrackedValue};

use crate::source::Span;
use serde::{Deserialize, Serialize};

/// A string as written, with its span.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub value: String,
    pub span: Span,
}

impl Named {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

/// Layered settings of one layer (defaults, an environment, a service, ...): top-level keys
/// are setting names as templates see them (`replicas`, `anti_affinity`, `values`).
pub type Settings = TrackedMap;

/// Everything `stacks.kdl` and the overlay files declare.
#[derive(Clone, Debug)]
pub struct Model {
    pub project: Project,
    pub layers: Vec<Layer>,
    /// The built-in defaults (a KDL snippet compiled into stackc, with its own source).
    pub builtin: Settings,
    pub defaults: Settings,
    pub environments: Vec<Environment>,
    pub secrets: Vec<SecretDecl>,
    pub services: Vec<Service>,
    /// `gitops "flux" "argocd" { ... }`: the engines and their stack-wide settings.
    pub gitops: GitOps,
    /// `namespace "name" { ... }` blocks of `stacks.kdl`.
    pub namespaces: Vec<namespaces::NamespaceDecl>,
    /// Where each service is in `services`, for [`Model::service`].
    pub service_index: ServiceIndex,
}

/// Each service's position in [`Model::services`] by name, built on the first lookup. A build
/// looks up every unit's service several times (to resolve it, to key its patches, to lay
/// it out): a search through 10,000 declarations per lookup made a cold build quadratic.
/// A hit is checked against the declaration it points at and anything else is searched for,
/// so a list changed after the first lookup is still answered right.
#[derive(Clone, Debug, Default)]
pub struct ServiceIndex(std::sync::OnceLock<std::collections::HashMap<String, usize>>);

/// `project "name" domain="..."`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Project {
    pub name: Named,
    pub domain: Named,
    pub span: Span,
}

/// `layer "name" depends-on="other" { flux { ... } }`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Layer {
    pub name: Named,
    pub depends_on: Vec<Named>,
    /// The layer's Flux Kustomization settings.
    pub flux: Vec<gitops::FluxBlock>,
    pub span: Span,
}

/// `allow "rule-id" reason="why"`: a `stackc check` rule switched off for one service or one
/// environment, with the reason written down.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Allow {
    pub rule: Named,
    pub reason: Option<Named>,
    pub span: Span,
}

/// `environment "name" wave=N promotes-from="env" domain="..." { recipients ...; settings }`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Environment {
    pub name: Named,
    pub wave: i64,
    pub promotes_from: Option<Named>,
    pub domain: Option<Named>,
    pub recipients: Vec<Named>,
    pub settings: Settings,
    pub overlay: Option<Overlay>,
    /// Rules allowed for the whole environment.
    pub allows: Vec<Allow>,
    /// The environment's `flux` and `argocd` blocks.
    pub gitops: GitOpsScope,
    /// The environment's `namespace` blocks.
    pub namespaces: Vec<namespaces::NamespaceDecl>,
    /// Patches of rendered objects in this environment.
    pub patches: Vec<Patch>,
    pub span: Span,
}

/// `environments/<env>.kdl`: environment-wide settings and per-service overrides, the highest
/// layer, so a team can require review on one file per environment.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Overlay {
    pub settings: Settings,
    pub recipients: Vec<Named>,
    pub services: Vec<ServiceOverride>,
    /// Rules allowed for the whole environment (in the reviewed file).
    pub allows: Vec<Allow>,
    /// The file's `flux` and `argocd` blocks.
    pub gitops: GitOpsScope,
    /// The file's `namespace` blocks.
    pub namespaces: Vec<namespaces::NamespaceDecl>,
    /// Patches of rendered objects, environment-wide.
    pub patches: Vec<Patch>,
}

/// `service "name" { settings }` inside an overlay file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceOverride {
    pub service: Named,
    pub settings: Settings,
    /// Patches of this service's objects.
    #[serde(default)]
    pub patches: Vec<Patch>,
}

/// `secret "name" namespace="ns" { key ... }`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SecretDecl {
    pub name: Named,
    pub namespace: Named,
    pub secret_type: String,
    pub keys: Vec<SecretKey>,
    pub span: Span,
}

/// `key "name" generate=N` / `key "name" value="literal"` / `key "name"` (from the store).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SecretKey {
    pub name: Named,
    pub source: SecretKeySource,
    pub span: Span,
}

/// Where a secret key's value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecretKeySource {
    /// Set with `stackc secret set`; lives encrypted in the environment's store.
    Store,
    /// A random value of this many characters, generated once into the store.
    Generate(usize),
    /// A non-secret value written in stacks.kdl (a user name, a database name).
    Literal(String),
    /// `from="secret/key"`: the value of another declared key in the same environment, so
    /// one value is sealed into every namespace that needs it.
    From { secret: Named, key: Named },
}

/// `service "name" layer=".." namespace=".." template=".." { ... }`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Service {
    pub name: Named,
    pub layer: Named,
    /// Empty (spanning the service's name) for a cluster-scoped service, which has none.
    pub namespace: Named,
    /// `owns-namespace`: the Namespace object lives in this service's folder.
    pub owns_namespace: Option<Span>,
    /// `cluster-kinds "ClusterIssuer" ...`: custom kinds of this service that are
    /// cluster-scoped, besides the built-in ones.
    pub cluster_kinds: Vec<Named>,
    pub template: Option<Named>,
    pub depends_on: Vec<Named>,
    pub uses_secrets: Vec<Named>,
    /// Plain manifest files (no Jinja) emitted as they are, paths relative to the stack root.
    pub manifests: Vec<Named>,
    /// Dotted setting paths (`values.app.version`) that `stackc promote` copies between
    /// environments, besides the image tag and the chart version.
    pub promotable: Vec<Named>,
    /// Rules allowed for this service in every environment.
    pub allows: Vec<Allow>,
    pub settings: Settings,
    pub env_blocks: Vec<EnvBlock>,
    pub span: Span,
}

/// `env "name" { settings }` inside a service.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnvBlock {
    pub env: Named,
    pub settings: Settings,
    /// Patches of this service's objects in this environment.
    #[serde(default)]
    pub patches: Vec<Patch>,
    pub span: Span,
}

impl Service {
    /// Whether the service has no namespace: all its objects are cluster-scoped.
    pub fn is_cluster_scoped(&self) -> bool {
        self.namespace.value.is_empty()
    }
}

impl Model {
    /// The environment with this name.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name.value == name)
    }

    /// The service with this name.
    pub fn service(&self, name: &str) -> Option<&Service> {
        let index = self.service_index.0.get_or_init(|| {
            let mut index = std::collections::HashMap::with_capacity(self.services.len());
            for (at, service) in self.services.iter().enumerate() {
                // The first declaration of a name, as a search would find it.
                index.entry(service.name.value.clone()).or_insert(at);
            }
            index
        });
        index
            .get(name)
            .and_then(|&at| self.services.get(at))
            .filter(|s| s.name.value == name)
            .or_else(|| self.services.iter().find(|s| s.name.value == name))
    }

    /// The secret with this name.
    pub fn secret(&self, name: &str) -> Option<&SecretDecl> {
        self.secrets.iter().find(|s| s.name.value == name)
    }

    /// Layer names in dependency order (a layer after everything it depends on; ties keep
    /// declaration order). Validation has already refused cycles.
    pub fn layer_order(&self) -> Vec<&str> {
        let mut done: Vec<&str> = Vec::new();
        while done.len() < self.layers.len() {
            let before = done.len();
            for layer in &self.layers {
                let name = layer.name.as_str();
                if !done.contains(&name)
                    && layer.depends_on.iter().all(|d| {
                        done.contains(&d.as_str())
                            || self.layers.iter().all(|l| l.name.value != d.value)
                    })
                {
                    done.push(name);
                }
            }
            if done.len() == before {
                // A cycle slipped through: fall back to declaration order for the rest.
                for layer in &self.layers {
                    if !done.contains(&layer.name.as_str()) {
                        done.push(layer.name.as_str());
                    }
                }
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    const STACK: &str = r#"project "shop" domain="shop.example"
layer "apps"
environment "dev" wave=0
service "web" layer="apps" namespace="web" template="builtin:deployment" {
    image "nginx" tag="1"
}
service "api" layer="apps" namespace="api" template="builtin:deployment" {
    image "nginx" tag="1"
}
"#;

    #[test]
    fn services_are_found_by_name_and_still_found_after_the_list_changes() {
        let mut model = super::load_text(STACK.as_bytes(), &[])
            .unwrap_or_else(|e| panic!("{e:?}"))
            .model;
        // The first lookup builds the index.
        assert_eq!(
            model.service("api").map(|s| s.namespace.as_str()),
            Some("api")
        );
        assert!(model.service("worker").is_none());
        // Reordered and extended after the index was built: hits are checked against the
        // declaration they point at, misses searched for.
        model.services.reverse();
        let mut worker = model.services[0].clone();
        worker.name.value = "worker".into();
        model.services.push(worker);
        assert_eq!(model.service("web").map(|s| s.name.as_str()), Some("web"));
        assert_eq!(model.service("api").map(|s| s.name.as_str()), Some("api"));
        assert_eq!(
            model.service("worker").map(|s| s.name.as_str()),
            Some("worker")
        );
        assert!(model.service("db").is_none());
    }
}
