//! Least-privilege RBAC for layers whose Flux Kustomization runs as its own service account
//! (`flux { service-account "apps-reconciler" }`): a `ServiceAccount` in `flux-system`, a
//! `Role` and `RoleBinding` in every namespace the layer's objects live in, allowing exactly
//! the API groups and resources the layer renders, and a `ClusterRole` and
//! `ClusterRoleBinding` only where it renders cluster-scoped objects. All of them go in
//! `flux-system/`, which Flux applies with its own rights before any layer; so do the
//! Namespace objects of the namespaces such a layer's services live in, because a
//! `RoleBinding` cannot be created before its namespace (Flux's multi-tenancy pattern: the
//! platform creates a tenant's namespaces and rights, the tenant's Kustomization the rest).

use super::{Layout, FLUX_DIR};
use crate::value::{map, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What a reconciler does to an object: apply it, watch its health, prune it.
pub const VERBS: &[&str] = &[
    "get", "list", "watch", "create", "update", "patch", "delete",
];

/// API group -> resources, both sorted.
type Grants = BTreeMap<String, BTreeSet<String>>;

/// The rights one service account needs in one environment.
#[derive(Default)]
struct Account {
    /// Namespace -> grants.
    namespaced: BTreeMap<String, Grants>,
    cluster: Grants,
}

impl Layout<'_> {
    /// The service account of one layer's Kustomization in `env`, if it has one.
    pub fn service_account(&self, env: &str, layer: &str) -> Option<String> {
        if !self.engines.flux {
            return None;
        }
        self.model.flux_settings(env, layer).service_account
    }

    /// The namespaces whose Namespace object goes in `flux-system/` in `env`: those of the
    /// services and Secrets of layers with a service account, and those such layers are
    /// home to.
    pub fn platform_namespaces(&self, env: &str) -> BTreeSet<String> {
        let restricted: BTreeSet<&str> = self
            .layers
            .iter()
            .map(|(layer, _)| *layer)
            .filter(|layer| self.service_account(env, layer).is_some())
            .collect();
        if restricted.is_empty() {
            return BTreeSet::new();
        }
        let services = self
            .model
            .services
            .iter()
            .filter(|s| restricted.contains(s.layer.as_str()))
            .map(|s| s.namespace.value.clone());
        let homed = self
            .homes
            .iter()
            .filter(|(_, layer)| restricted.contains(layer.as_str()))
            .map(|(namespace, _)| namespace.clone());
        services.chain(homed).collect()
    }

    /// The RBAC objects of `env`, by path under the environment folder. `unit_objects`
    /// holds each service's object identities (`apiVersion/kind/namespace/name`).
    pub fn rbac(
        &self,
        env: &str,
        unit_objects: &BTreeMap<&str, Vec<&str>>,
    ) -> Vec<(String, Value)> {
        let mut accounts: BTreeMap<String, Account> = BTreeMap::new();
        for (layer, _) in &self.layers {
            let Some(name) = self.service_account(env, layer) else {
                continue;
            };
            let account = accounts.entry(name).or_default();
            for service in self
                .model
                .services
                .iter()
                .filter(|s| s.layer.value == *layer)
            {
                let ids = unit_objects
                    .get(service.name.value.as_str())
                    .into_iter()
                    .flatten();
                for id in ids {
                    if let Some((group, kind, namespace)) = split_identity(id) {
                        let grants = if namespace.is_empty() {
                            &mut account.cluster
                        } else {
                            account.namespaced.entry(namespace.to_string()).or_default()
                        };
                        grants
                            .entry(group.to_string())
                            .or_default()
                            .insert(resource(kind));
                    }
                }
            }
            // The layer's sealed Secrets, in the namespaces it is home to.
            for secret in &self.model.secrets {
                let namespace = &secret.namespace.value;
                if self.homes.get(namespace).map(String::as_str) == Some(*layer) {
                    account
                        .namespaced
                        .entry(namespace.clone())
                        .or_default()
                        .entry(String::new())
                        .or_default()
                        .insert("secrets".into());
                }
            }
        }
        let mut out = Vec::new();
        for (name, account) in &accounts {
            out.push((
                format!("{FLUX_DIR}/serviceaccount-{name}.yaml"),
                object("v1", "ServiceAccount", metadata(name, Some(FLUX_DIR)), None),
            ));
            for (namespace, grants) in &account.namespaced {
                out.push((
                    format!("{FLUX_DIR}/role-{name}-{namespace}.yaml"),
                    object(
                        "rbac.authorization.k8s.io/v1",
                        "Role",
                        metadata(name, Some(namespace)),
                        Some(("rules", rules(grants))),
                    ),
                ));
                out.push((
                    format!("{FLUX_DIR}/rolebinding-{name}-{namespace}.yaml"),
                    binding("RoleBinding", "Role", name, Some(namespace)),
                ));
            }
            if !account.cluster.is_empty() {
                out.push((
                    format!("{FLUX_DIR}/clusterrole-{name}.yaml"),
                    object(
                        "rbac.authorization.k8s.io/v1",
                        "ClusterRole",
                        metadata(name, None),
                        Some(("rules", rules(&account.cluster))),
                    ),
                ));
                out.push((
                    format!("{FLUX_DIR}/clusterrolebinding-{name}.yaml"),
                    binding("ClusterRoleBinding", "ClusterRole", name, None),
                ));
            }
        }
        out
    }
}

impl Layout<'_> {
    /// [`Layout::rbac`] from rendered objects (for `diff`, which renders afresh), as
    /// objects with their paths.
    pub fn rbac_of_rendered(
        &self,
        env: &str,
        objects: &[crate::object::RenderedObject],
    ) -> Vec<crate::object::RenderedObject> {
        let keys: Vec<(&str, String)> = objects
            .iter()
            .filter_map(|o| Some((o.service.as_deref()?, o.id.record_key())))
            .collect();
        let mut unit_objects: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (service, key) in &keys {
            unit_objects.entry(service).or_default().push(key);
        }
        self.rbac(env, &unit_objects)
            .into_iter()
            .filter_map(|(path, body)| {
                Some(crate::object::RenderedObject {
                    id: crate::object::ObjectId::of(&body).ok()?,
                    body,
                    service: None,
                    path,
                    origin: None,
                })
            })
            .collect()
    }
}

/// `apps/v1/Deployment/web/web` -> (`apps`, `Deployment`, `web`); the core group is `""`.
/// The name, namespace and kind hold no `/`, so the rest is the apiVersion.
fn split_identity(id: &str) -> Option<(&str, &str, &str)> {
    let mut parts = id.rsplitn(4, '/');
    let _name = parts.next()?;
    let namespace = parts.next()?;
    let kind = parts.next()?;
    let api_version = parts.next()?;
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    Some((group, kind, namespace))
}

/// The resource name of a kind: lowercase and plural, as the API server names it.
pub fn resource(kind: &str) -> String {
    // Kinds whose resource is not the regular plural.
    const IRREGULAR: &[(&str, &str)] = &[("Endpoints", "endpoints")];
    if let Some((_, resource)) = IRREGULAR.iter().find(|(k, _)| *k == kind) {
        return (*resource).to_string();
    }
    let lower = kind.to_ascii_lowercase();
    let vowel_y = lower
        .strip_suffix('y')
        .is_some_and(|stem| stem.ends_with(['a', 'e', 'i', 'o', 'u']));
    if let Some(stem) = lower.strip_suffix('y').filter(|_| !vowel_y) {
        format!("{stem}ies")
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

fn rules(grants: &Grants) -> Value {
    Value::List(
        grants
            .iter()
            .map(|(group, resources)| {
                map([
                    ("apiGroups", Value::List(vec![Value::from(group.as_str())])),
                    (
                        "resources",
                        Value::List(resources.iter().map(|r| Value::from(r.as_str())).collect()),
                    ),
                    (
                        "verbs",
                        Value::List(VERBS.iter().map(|v| Value::from(*v)).collect()),
                    ),
                ])
            })
            .collect(),
    )
}

fn metadata(name: &str, namespace: Option<&str>) -> Value {
    let mut m = Map::default();
    m.insert("name".into(), Value::from(name));
    if let Some(namespace) = namespace {
        m.insert("namespace".into(), Value::from(namespace));
    }
    Value::Map(m)
}

fn object(api_version: &str, kind: &str, metadata: Value, body: Option<(&str, Value)>) -> Value {
    let mut m = Map::default();
    m.insert("apiVersion".into(), Value::from(api_version));
    m.insert("kind".into(), Value::from(kind));
    m.insert("metadata".into(), metadata);
    if let Some((key, value)) = body {
        m.insert(key.into(), value);
    }
    Value::Map(m)
}

fn binding(kind: &str, role_kind: &str, name: &str, namespace: Option<&str>) -> Value {
    let mut m = Map::default();
    m.insert(
        "apiVersion".into(),
        Value::from("rbac.authorization.k8s.io/v1"),
    );
    m.insert("kind".into(), Value::from(kind));
    m.insert("metadata".into(), metadata(name, namespace));
    m.insert(
        "roleRef".into(),
        map([
            ("apiGroup", "rbac.authorization.k8s.io"),
            ("kind", role_kind),
            ("name", name),
        ]),
    );
    m.insert(
        "subjects".into(),
        Value::List(vec![map([
            ("kind", "ServiceAccount"),
            ("name", name),
            ("namespace", FLUX_DIR),
        ])]),
    );
    Value::Map(m)
}

#[cfg(test)]
mod tests {
    use super::{resource, split_identity};

    #[test]
    fn kinds_become_their_resources() {
        for (kind, want) in [
            ("Deployment", "deployments"),
            ("Ingress", "ingresses"),
            ("NetworkPolicy", "networkpolicies"),
            ("HelmRepository", "helmrepositories"),
            ("Gateway", "gateways"),
            ("Endpoints", "endpoints"),
            ("ConfigMap", "configmaps"),
        ] {
            assert_eq!(resource(kind), want);
        }
    }

    #[test]
    fn identities_split_from_the_right() {
        assert_eq!(
            split_identity("apps/v1/Deployment/web/web"),
            Some(("apps", "Deployment", "web"))
        );
        assert_eq!(
            split_identity("v1/Namespace//web"),
            Some(("", "Namespace", ""))
        );
        assert_eq!(split_identity("nonsense"), None);
    }
}
