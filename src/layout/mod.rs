//! The output layout: the one place that decides every path of `out/<env>/` (object files,
//! namespace-level files, sealed Secrets, a `kustomization.yaml` at every level, the
//! `GitOps` engines' folders) and builds the objects stackc adds around the services'
//! (Namespaces, Flux Kustomizations). Render, seal, emit and diff ask it; none of them
//! builds an out/ path or parses one back.

mod argocd;
mod flux;
mod namespaces;
mod paths;
mod placement;
mod rbac;
mod roots;
mod scope;
mod tree;

pub use paths::{
    file_name, is_kustomization, namespace_path, object_file, object_path, secret_path,
    service_dir, service_of, ARGOCD_DIR, FLUX_DIR, INDEX_FILE, KUSTOMIZATION,
};
pub use placement::{layer_plan, namespace_homes};
pub use roots::RootFiles;
pub use scope::{check_scope, is_cluster_scoped, ScopeCheck, ScopeError, CLUSTER_SCOPED};
pub use tree::{kustomization, unit_kustomizations, Content, Files, Hashed};

use crate::model::gitops::FluxSettings;
use crate::model::{Model, Stack};
use crate::policy::EnvPolicy;
use crate::value::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The layout of a stack's environments, decided once from the model.
pub struct Layout<'s> {
    model: &'s Model,
    engines: Engines,
    /// Layers in dependency order, with the layers each depends on.
    layers: Vec<(&'s str, Vec<&'s str>)>,
    /// Each namespace's home layer (where its Namespace object and Secrets live).
    homes: BTreeMap<String, String>,
    /// The layers holding sealed Secrets.
    secret_layers: BTreeSet<String>,
}

/// The engines an environment's tree has objects for.
#[derive(Clone, Copy)]
struct Engines {
    flux: bool,
    argocd: bool,
}

/// What one environment's tree is made of besides what the layout adds itself.
pub struct EnvFiles<'a> {
    /// The files of every service's objects (rendered now, or kept from the last build),
    /// with the kustomizations of their folders where the units brought them.
    pub object_files: Files,
    /// Sealed Secret manifests: (path, bytes), already encrypted.
    pub secrets: Vec<(String, Vec<u8>)>,
    /// Whether `flux bootstrap --path=out/<env>/flux-system` put Flux's own manifests in
    /// `flux-system/flux-system/`: they must stay in the kustomization, or Flux would stop
    /// managing itself.
    pub flux_bootstrapped: bool,
    /// The environment's namespace-wide policy (issue 14): Namespace labels, the objects
    /// every namespace gets, the Flux notifications.
    pub policy: EnvPolicy,
    /// Each service's object identities (`apiVersion/kind/namespace/name`), from which
    /// the RBAC of layers with a service account is computed.
    pub unit_objects: BTreeMap<&'a str, Vec<&'a str>>,
}

impl<'s> Layout<'s> {
    /// The layout of `stack`.
    pub fn new(stack: &'s Stack) -> Self {
        let homes = namespace_homes(stack);
        let secret_layers = stack
            .model
            .secrets
            .iter()
            .filter_map(|s| homes.get(&s.namespace.value).cloned())
            .collect();
        Layout {
            model: &stack.model,
            engines: Engines {
                flux: stack.model.uses_engine("flux"),
                argocd: stack.model.uses_engine("argocd"),
            },
            layers: layer_plan(stack),
            homes,
            secret_layers,
        }
    }

    /// Layers in dependency order, with the layers each depends on.
    pub fn layers(&self) -> &[(&'s str, Vec<&'s str>)] {
        &self.layers
    }

    /// The namespaces stackc writes a Namespace object for in some environment.
    pub fn generated_namespaces(&self) -> BTreeSet<String> {
        self.homes
            .keys()
            .filter(|ns| {
                self.model
                    .environments
                    .iter()
                    .any(|e| self.model.namespace_settings(&e.name.value, ns).managed)
            })
            .cloned()
            .collect()
    }

    /// Where the sealed Secret `name` of `namespace` is written.
    pub fn secret_path(&self, namespace: &str, name: &str) -> String {
        let layer = self.homes.get(namespace).map_or("", String::as_str);
        secret_path(layer, namespace, name)
    }

    /// Whether `flux-system/` of an environment folder holds Flux's own bootstrap manifests.
    pub fn flux_bootstrapped(env_dir: &std::path::Path) -> bool {
        env_dir
            .join(FLUX_DIR)
            .join(FLUX_DIR)
            .join(KUSTOMIZATION)
            .is_file()
    }

    /// The objects the layout adds to an environment, by path: Namespaces, the
    /// namespace-wide policy objects and the `GitOps` engines' objects.
    pub fn generated(&self, env: &str, policy: &EnvPolicy) -> Vec<(String, Value)> {
        let mut out = namespaces::policy_objects(&self.homes, policy);
        let platform = self.platform_namespaces(env);
        for (namespace, layer) in &self.homes {
            let settings = self.model.namespace_settings(env, namespace);
            if !settings.managed {
                continue;
            }
            let object =
                namespaces::namespace_object(namespace, &settings, policy.namespace_labels());
            // An owned Namespace goes with its service, in the service's folder; one a
            // layer with its own service account needs goes before it (see rbac.rs).
            let path = match self.model.namespace_owner(namespace) {
                _ if platform.contains(namespace) => {
                    format!("{FLUX_DIR}/namespace-{namespace}.yaml")
                }
                Some(owner) => {
                    let id = crate::object::ObjectId {
                        api_version: "v1".into(),
                        kind: "Namespace".into(),
                        namespace: String::new(),
                        name: namespace.clone(),
                    };
                    object_path(&owner.layer.value, namespace, Some(&owner.name.value), &id)
                }
                None => namespace_path(layer, namespace),
            };
            out.push((path, object));
        }
        if self.engines.flux {
            let settings: BTreeMap<&str, FluxSettings> = self
                .layers
                .iter()
                .map(|(layer, _)| (*layer, self.model.flux_settings(env, layer)))
                .collect();
            for (layer, depends_on) in &self.layers {
                let Some(own) = settings.get(layer) else {
                    continue;
                };
                let object = flux::kustomization(&flux::FluxLayer {
                    env,
                    layer,
                    depends_on: depends_on
                        .iter()
                        .map(|d| settings.get(d).map_or(*d, |s| flux::name(d, s)).to_string())
                        .collect(),
                    has_secrets: self.secret_layers.contains(*layer),
                    settings: own,
                });
                out.push((format!("{FLUX_DIR}/kustomization-{layer}.yaml"), object));
            }
        }
        if self.engines.argocd {
            let environment = self.model.environment(env);
            let wave = environment.map_or(0, |e| e.wave);
            let promoted = environment.is_some_and(|e| e.promotes_from.is_some());
            for (position, (layer, _)) in self.layers.iter().enumerate() {
                let settings = self.model.argocd_layer_settings(env, layer);
                let object = argocd::application(&argocd::ArgoLayer {
                    env,
                    wave,
                    layer,
                    position,
                    promoted,
                    settings: &settings,
                });
                out.push((format!("{ARGOCD_DIR}/application-{layer}.yaml"), object));
            }
        }
        out
    }

    /// [`Layout::generated`] as objects of no service, as diff and check read them beside
    /// the rendered ones.
    pub fn generated_objects(
        &self,
        env: &str,
        policy: &EnvPolicy,
    ) -> Vec<crate::object::RenderedObject> {
        self.generated(env, policy)
            .into_iter()
            .filter_map(|(path, body)| {
                let id = crate::object::ObjectId::of(&body).ok()?;
                Some(crate::object::RenderedObject {
                    id,
                    body,
                    service: None,
                    path,
                    origin: None,
                })
            })
            .collect()
    }

    /// Every file of one environment.
    pub fn env_files(&self, env: &str, input: EnvFiles<'_>) -> Files {
        let mut files = input.object_files;
        let mut flux_files = Vec::new();
        let mut argo_files = Vec::new();
        let mut generated = self.generated(env, &input.policy);
        generated.extend(self.rbac(env, &input.unit_objects));
        for (path, object) in generated {
            if let Some(file) = path.strip_prefix(&format!("{FLUX_DIR}/")) {
                flux_files.push(file.to_string());
            } else if let Some(file) = path.strip_prefix(&format!("{ARGOCD_DIR}/")) {
                argo_files.push(file.to_string());
            } else if service_of(&path).is_some() {
                // In a unit's folder (an owned Namespace): that folder's list changes.
                if let Some((folder, _)) = path.rsplit_once('/') {
                    files.remove(&format!("{folder}/{KUSTOMIZATION}"));
                }
            }
            files.insert(
                path,
                Content::bytes(crate::yaml::to_yaml(&object).into_bytes()),
            );
        }
        for (path, bytes) in input.secrets {
            files.insert(path, Content::bytes(bytes));
        }
        let layers: Vec<&str> = self.layers.iter().map(|(l, _)| *l).collect();
        // One per folder; the top level's and flux-system's are set below, in layer order.
        tree::add_kustomizations(&mut files, &layers);
        files.insert(
            KUSTOMIZATION.into(),
            Content::bytes(kustomization(layers.iter().copied())),
        );
        if self.engines.flux {
            if input.flux_bootstrapped {
                flux_files.insert(0, FLUX_DIR.to_string());
            }
            files.insert(
                format!("{FLUX_DIR}/{KUSTOMIZATION}"),
                Content::bytes(kustomization(flux_files.iter().map(String::as_str))),
            );
        }
        // Argo CD's Applications in layer order; not part of the environment's own
        // kustomization (Argo applies the layers through them).
        if self.engines.argocd {
            files.insert(
                format!("{ARGOCD_DIR}/{KUSTOMIZATION}"),
                Content::bytes(kustomization(argo_files.iter().map(String::as_str))),
            );
        }
        files
    }
}
