//! Where things go in `out/<env>/`, decided from the model: the layers in dependency order
//! and the layer each namespace (its Namespace object and Secrets) lives in.

use crate::model::Stack;
use std::collections::BTreeMap;

/// The layers in dependency order, each with the layers it depends on.
pub fn layer_plan(stack: &Stack) -> Vec<(&str, Vec<&str>)> {
    let model = &stack.model;
    model
        .layer_order()
        .into_iter()
        .map(|name| {
            let deps = model
                .layers
                .iter()
                .find(|l| l.name.value == name)
                .map(|l| {
                    l.depends_on
                        .iter()
                        .map(crate::model::Named::as_str)
                        .collect()
                })
                .unwrap_or_default();
            (name, deps)
        })
        .collect()
}

/// Each namespace's home layer: its owner's layer, else the first layer (in dependency
/// order) with a service in it; a namespace only a secret or a `namespace` block names
/// lives in the first layer. Cluster-scoped services have no namespace.
pub fn namespace_homes(stack: &Stack) -> BTreeMap<String, String> {
    let model = &stack.model;
    let mut homes = BTreeMap::new();
    for service in model.services.iter().filter(|s| s.owns_namespace.is_some()) {
        homes.insert(service.namespace.value.clone(), service.layer.value.clone());
    }
    for layer in model.layer_order() {
        for service in model
            .services
            .iter()
            .filter(|s| s.layer.value == layer && !s.is_cluster_scoped())
        {
            homes
                .entry(service.namespace.value.clone())
                .or_insert_with(|| layer.to_string());
        }
    }
    let first = model
        .layer_order()
        .first()
        .map(|l| (*l).to_string())
        .unwrap_or_default();
    let named = model
        .secrets
        .iter()
        .map(|s| &s.namespace)
        .chain(model.declared_namespaces());
    for namespace in named {
        homes
            .entry(namespace.value.clone())
            .or_insert_with(|| first.clone());
    }
    homes
}
