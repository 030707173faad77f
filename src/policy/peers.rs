//! Which other service declarations a unit's policy reads: a service's `NetworkPolicy` names
//! the ports of the services it depends on, the labels of those that depend on it, the
//! ingress controller's namespace and the peers of its `allow from=` rules. A unit's cache
//! source must change when any of them changes, or an edit of one service's `port` would leave
//! another's rule stale.

use crate::model::{Model, Settings, Tracked, TrackedValue};
use std::collections::{BTreeMap, BTreeSet};

/// Folds into each service's source hash the hashes of the declarations its policy reads.
/// Without a `network-policy` anywhere the hashes are returned as they are.
pub fn with_peers(
    model: &Model,
    own: BTreeMap<String, blake3::Hash>,
) -> BTreeMap<String, blake3::Hash> {
    let mut everywhere = BTreeSet::new();
    let mut any = false;
    for layer in env_layers(model) {
        any |= collect(layer, &mut everywhere);
    }
    let mut per_service: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for service in &model.services {
        let names = per_service.entry(service.name.as_str()).or_default();
        for layer in service_layers(model, service) {
            any |= collect(layer, names);
        }
    }
    if !any {
        return own;
    }
    // Controllers: whichever service any layer names (a controller reaches every service).
    let controllers: BTreeSet<String> = everywhere
        .iter()
        .chain(per_service.values().flatten())
        .filter_map(|n| n.strip_prefix("controller:").map(str::to_string))
        .collect();
    // Each service's dependents, found once: scanning every service for each one is
    // quadratic (a hundred million comparisons at N=10,000).
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in &model.services {
        for d in &s.depends_on {
            dependents
                .entry(d.as_str())
                .or_default()
                .push(s.name.as_str());
        }
    }
    let mut out = BTreeMap::new();
    for service in &model.services {
        let name = service.name.as_str();
        let mut peers: BTreeSet<&str> = service
            .depends_on
            .iter()
            .map(crate::model::Named::as_str)
            .collect();
        peers.extend(dependents.get(name).into_iter().flatten().copied());
        peers.extend(controllers.iter().map(String::as_str));
        let named = everywhere
            .iter()
            .chain(per_service.get(name).into_iter().flatten());
        peers.extend(named.filter_map(|n| n.strip_prefix("from:")));
        if controllers.contains(name) {
            peers.extend(model.services.iter().map(|s| s.name.as_str()));
        }
        peers.remove(name);
        let mut hasher = blake3::Hasher::new();
        if let Some(hash) = own.get(name) {
            hasher.update(hash.as_bytes());
        }
        for peer in peers {
            if let Some(hash) = own.get(peer) {
                hasher.update(peer.as_bytes());
                hasher.update(hash.as_bytes());
            }
        }
        out.insert(name.to_string(), hasher.finalize());
    }
    out
}

fn env_layers(model: &Model) -> Vec<&Settings> {
    let mut layers = vec![&model.builtin, &model.defaults];
    for env in &model.environments {
        layers.push(&env.settings);
        if let Some(overlay) = &env.overlay {
            layers.push(&overlay.settings);
        }
    }
    layers
}

// The service itself, not its name: finding it by name is a scan of every service, once
// per service.
fn service_layers<'m>(model: &'m Model, s: &'m crate::model::Service) -> Vec<&'m Settings> {
    let service = s.name.as_str();
    let mut layers = vec![&s.settings];
    layers.extend(s.env_blocks.iter().map(|b| &b.settings));
    for env in &model.environments {
        if let Some(overlay) = &env.overlay {
            layers.extend(
                overlay
                    .services
                    .iter()
                    .filter(|o| o.service.value == service)
                    .map(|o| &o.settings),
            );
        }
    }
    layers
}

/// Adds `controller:<name>` and `from:<name>` for what a layer's `network-policy` names;
/// whether it has one.
fn collect(layer: &Settings, names: &mut BTreeSet<String>) -> bool {
    let Some(policy) = layer.get("network_policy") else {
        return false;
    };
    if let Some((controller, _)) = super::text(policy, "ingress_controller") {
        names.insert(format!("controller:{controller}"));
    }
    if let Some(Tracked {
        value: TrackedValue::List(rules),
        ..
    }) = super::get(policy, "allow")
    {
        for rule in rules {
            if let Some((from, _)) = super::text(rule, "from") {
                names.insert(format!("from:{from}"));
            }
        }
    }
    true
}
