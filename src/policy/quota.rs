//! `quota cpu= memory= cpu-limit= memory-limit= pods=`: a `ResourceQuota` in every namespace
//! of the environment, checked against what the stack declares: the requests of every
//! service of the namespace, times its replicas (an autoscaler's maximum), must fit.

use super::quantity::{milli, show_cpu, show_memory};
use super::{int, kube_object, located, text, PolicyError};
use crate::diagnostics::Diagnostics;
use crate::model::{Stack, Tracked};
use crate::value::{Map, Value};
use std::collections::BTreeMap;

/// The quota's entries: setting key, `spec.hard` key, whether it is CPU.
const HARD: &[(&str, &str, bool)] = &[
    ("cpu", "requests.cpu", true),
    ("memory", "requests.memory", false),
    ("cpu_limit", "limits.cpu", true),
    ("memory_limit", "limits.memory", false),
];

/// The `ResourceQuota` every namespace gets, if the environment sets one; refused when the
/// services of a namespace request more than it allows.
pub fn object(stack: &Stack, env: &str, settings: &Tracked) -> Result<Option<Value>, Diagnostics> {
    if super::get(settings, "quota").is_none() {
        return Ok(None);
    }
    let mut errors = Diagnostics::new();
    let mut hard = Map::default();
    let mut limits: Vec<(&str, &str, bool, u128, crate::source::Span)> = Vec::new();
    for (key, field, cpu) in HARD {
        let Some((value, span)) = text(settings, &format!("quota.{key}")) else {
            continue;
        };
        match milli(value) {
            Some(amount) => limits.push((key, field, *cpu, amount, span)),
            None => {
                let at = located(&stack.sources, span);
                errors.push(PolicyError::Quantity {
                    what: format!("quota {}", key.replace('_', "-")),
                    text: value.into(),
                    src: at.source,
                    span: at.span,
                });
            }
        }
        hard.insert((*field).into(), Value::from(value));
    }
    let pods = int(settings, "quota.pods");
    if let Some((pods, _)) = pods {
        hard.insert("pods".into(), Value::Int(pods));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // What each namespace's services declare, summed over their replicas.
    let mut needed: BTreeMap<String, Needs> = BTreeMap::new();
    for service in &stack.model.services {
        let resolved = crate::resolve::resolve_one(stack, env, &service.name.value)?;
        let s = &resolved.settings;
        let replicas = if super::get(s, "autoscale").is_some()
            && super::flag(s, "autoscale.enabled") != Some(false)
        {
            int(s, "autoscale.max")
        } else {
            int(s, "replicas")
        }
        .map_or(1, |(r, _)| r);
        let replicas = u128::try_from(replicas).unwrap_or(0);
        if service.template.is_none() {
            continue;
        }
        let entry = needed.entry(resolved.namespace.clone()).or_default();
        entry.pods += replicas;
        for (i, path) in [
            "resources.requests.cpu",
            "resources.requests.memory",
            "resources.limits.cpu",
            "resources.limits.memory",
        ]
        .iter()
        .enumerate()
        {
            let Some((value, span)) = text(s, path) else {
                continue;
            };
            let Some(amount) = milli(value) else {
                let at = located(&stack.sources, span);
                errors.push(PolicyError::Quantity {
                    what: (*path).to_string(),
                    text: value.into(),
                    src: at.source,
                    span: at.span,
                });
                continue;
            };
            entry.amounts[i] = entry.amounts[i].saturating_add(amount.saturating_mul(replicas));
            entry.parts[i].push(format!("{} {replicas} × {value}", resolved.name));
        }
    }
    for (namespace, need) in &needed {
        for (key, field, cpu, quota, span) in &limits {
            let index = HARD.iter().position(|(k, ..)| k == key).unwrap_or(0);
            let want = need.amounts[index];
            if want > *quota {
                let show = |v| if *cpu { show_cpu(v) } else { show_memory(v) };
                let at = located(&stack.sources, *span);
                errors.push(PolicyError::QuotaTooSmall {
                    resource: (*field).to_string(),
                    quota: show(*quota),
                    needed: show(want),
                    namespace: namespace.clone(),
                    env: env.into(),
                    src: at.source,
                    span: at.span,
                    help: format!(
                        "{}; raise the quota or lower the services' resources or replicas",
                        need.parts[index].join(" + ")
                    ),
                });
            }
        }
        if let Some((pods, span)) = pods {
            if need.pods > u128::try_from(pods).unwrap_or(0) {
                let at = located(&stack.sources, span);
                errors.push(PolicyError::QuotaTooSmall {
                    resource: "pods".into(),
                    quota: pods.to_string(),
                    needed: need.pods.to_string(),
                    namespace: namespace.clone(),
                    env: env.into(),
                    src: at.source,
                    span: at.span,
                    help: "replicas (an autoscaler's max) of every service in the namespace; raise the quota".into(),
                });
            }
        }
    }
    let spec = crate::value::map([("hard", Value::Map(hard))]);
    errors.into_result(Some(
        kube_object("v1", "ResourceQuota", "quota", "", spec).1,
    ))
}

/// What the services of one namespace declare: CPU and memory requests and limits (in the
/// order of [`HARD`]), with the terms for the message, and pods.
#[derive(Default)]
struct Needs {
    amounts: [u128; 4],
    parts: [Vec<String>; 4],
    pods: u128,
}
