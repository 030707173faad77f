//! `disruption-budget min-available= | max-unavailable=`: a `PodDisruptionBudget` for every
//! workload that runs more than one replica (the autoscaler's minimum when it has one), so a
//! node drain never takes all of them at once.

use super::{count, flag, kube_object, selector, text};
use crate::model::Tracked;
use crate::object::ObjectId;
use crate::value::{map, Value};

/// The budget's rule as the template value `policy.disruption_budget` (`Null` when off).
pub fn rule(settings: &Tracked) -> Value {
    if flag(settings, "disruption_budget.enabled") == Some(false) {
        return Value::Null;
    }
    match (
        text(settings, "disruption_budget.rule"),
        count(settings, "disruption_budget.value"),
    ) {
        (Some((rule, _)), Some(value)) => map([(
            if rule == "min-available" {
                "minAvailable"
            } else {
                "maxUnavailable"
            },
            value,
        )]),
        _ => Value::Null,
    }
}

/// The `PodDisruptionBudget` of a unit, from its `policy` context.
pub fn object(name: &str, namespace: &str, policy: &Value) -> Option<(ObjectId, Value)> {
    let rule = policy.get_path("disruption_budget")?.as_map()?;
    let instance = policy
        .get_path("instance")
        .and_then(Value::as_str)
        .unwrap_or(name);
    let mut spec = rule.clone();
    spec.insert("selector".into(), selector(instance));
    Some(kube_object(
        "policy/v1",
        "PodDisruptionBudget",
        name,
        namespace,
        Value::Map(spec),
    ))
}
