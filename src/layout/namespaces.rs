//! The namespace-level objects stackc generates: one Namespace per managed namespace, with
//! the labels and annotations its `namespace` blocks give it in that environment over the
//! policy's Pod Security labels, and the policy objects every namespace gets (default-deny,
//! quota, limit range) with the Flux notifications, in the namespace's home folder.

use super::paths::object_path;
use crate::model::namespaces::NamespaceSettings;
use crate::policy::EnvPolicy;
use crate::value::{map, Map, Value};
use std::collections::BTreeMap;

/// The label stackc marks its Namespaces with, unless `managed-by-label #false`.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "stackc");

/// The Namespace object of one namespace. A label its `namespace` blocks declare wins over
/// the policy's label of the same key (docs/policy.md): the block names this namespace, the
/// policy every namespace.
pub fn namespace_object(
    name: &str,
    settings: &NamespaceSettings,
    policy_labels: &BTreeMap<String, String>,
) -> Value {
    let mut labels: BTreeMap<&str, &str> = policy_labels
        .iter()
        .chain(&settings.labels)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if settings.managed_by_label {
        labels.entry(MANAGED_BY.0).or_insert(MANAGED_BY.1);
    }
    let mut metadata = Map::default();
    metadata.insert("name".into(), Value::from(name));
    if !labels.is_empty() {
        metadata.insert("labels".into(), string_map(&labels));
    }
    if !settings.annotations.is_empty() {
        let annotations: BTreeMap<&str, &str> = settings
            .annotations
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        metadata.insert("annotations".into(), string_map(&annotations));
    }
    map([
        ("apiVersion", Value::from("v1")),
        ("kind", Value::from("Namespace")),
        ("metadata", Value::Map(metadata)),
    ])
}

/// The policy objects of every namespace with a home, by path: managed or not, since the
/// stack's workloads run there either way; the Flux notifications go to the home of their
/// own namespace.
pub fn policy_objects(
    homes: &BTreeMap<String, String>,
    policy: &EnvPolicy,
) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (namespace, layer) in homes {
        let environment = policy
            .environment_objects()
            .iter()
            .filter(|(id, _)| id.namespace == *namespace)
            .cloned();
        for (id, body) in policy
            .namespace_objects(namespace)
            .into_iter()
            .chain(environment)
        {
            out.push((object_path(layer, namespace, None, &id), body));
        }
    }
    out
}

fn string_map(pairs: &BTreeMap<&str, &str>) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), Value::from(*v)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn a_namespace_label_wins_over_the_policy_label() {
        const ENFORCE: &str = "pod-security.kubernetes.io/enforce";
        type Labels = &'static [(&'static str, &'static str)];
        // (policy labels, the block's labels, managed-by label, the labels written)
        let cases: &[(Labels, Labels, bool, Labels)] = &[
            (&[], &[], true, &[MANAGED_BY]),
            (
                &[(ENFORCE, "restricted")],
                &[],
                true,
                &[MANAGED_BY, (ENFORCE, "restricted")],
            ),
            (
                &[(ENFORCE, "restricted")],
                &[(ENFORCE, "privileged")],
                false,
                &[(ENFORCE, "privileged")],
            ),
            (
                &[(ENFORCE, "baseline")],
                &[("team", "web")],
                true,
                &[MANAGED_BY, (ENFORCE, "baseline"), ("team", "web")],
            ),
        ];
        for (policy, declared, managed_by_label, want) in cases {
            let settings = NamespaceSettings {
                labels: labels(declared),
                annotations: BTreeMap::new(),
                managed: true,
                managed_by_label: *managed_by_label,
            };
            let object = namespace_object("web", &settings, &labels(policy));
            let got = object
                .get_path("metadata.labels")
                .and_then(Value::as_map)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect::<BTreeMap<_, _>>()
                })
                .unwrap_or_default();
            assert_eq!(got, labels(want), "{policy:?} under {declared:?}");
        }
    }
}
