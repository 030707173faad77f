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

/// Each namespace's home layer: the first layer (in dependency order) with a service in it.
pub fn namespace_homes(stack: &Stack) -> BTreeMap<String, String> {
    let mut homes = BTreeMap::new();
    for layer in stack.model.layer_order() {
        for service in stack
            .model
            .services
            .iter()
            .filter(|s| s.layer.value == layer)
        {
            homes
                .entry(service.namespace.value.clone())
                .or_insert_with(|| layer.to_string());
        }
    }
    let first = stack
        .model
        .layer_order()
        .first()
        .map(|l| (*l).to_string())
        .unwrap_or_default();
    for secret in &stack.model.secrets {
        homes
            .entry(secret.namespace.value.clone())
            .or_insert_with(|| first.clone());
    }
    homes
}
