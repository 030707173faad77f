//! The Namespace objects stackc generates, one per managed namespace, with the labels and
//! annotations its `namespace` blocks give it in that environment.

use crate::model::namespaces::NamespaceSettings;
use crate::value::{map, Map, Value};
use std::collections::BTreeMap;

/// The label stackc marks its Namespaces with, unless `managed-by-label #false`.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "stackc");

/// The Namespace object of one namespace.
pub fn namespace_object(name: &str, settings: &NamespaceSettings) -> Value {
    let mut labels: BTreeMap<&str, &str> = settings
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if settings.managed_by_label {
        labels.entry(MANAGED_BY.0).or_insert(MANAGED_BY.1);
    }
    let mut metadata = Map::new();
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

fn string_map(pairs: &BTreeMap<&str, &str>) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), Value::from(*v)))
            .collect(),
    )
}
