//! `pod-security "restricted" audit= warn=`: the Pod Security Admission labels on every
//! Namespace stackc generates, and the securityContext templates give their pods and
//! containers (`policy.pod_security_context`, `policy.security_context`) so that what they
//! render passes the level the namespace enforces.

use super::text;
use crate::model::Tracked;
use crate::value::{map, Value};
use std::collections::BTreeMap;

/// `pod-security.kubernetes.io/<mode>: <level>` for enforce, audit and warn (audit and warn
/// default to the enforced level).
pub fn labels(settings: &Tracked) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some((enforce, _)) = text(settings, "pod_security.enforce") else {
        return out;
    };
    for mode in ["enforce", "audit", "warn"] {
        let level = text(settings, &format!("pod_security.{mode}")).map_or(enforce, |(l, _)| l);
        out.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            level.to_string(),
        );
    }
    out
}

/// A container's securityContext at `level`: non-root, read-only root filesystem, no
/// privilege escalation and no capabilities when restricted; no privilege escalation when
/// baseline; nothing otherwise.
pub fn container_context(level: Option<&str>) -> Value {
    match level {
        Some("restricted") => map([
            ("allowPrivilegeEscalation", Value::Bool(false)),
            ("readOnlyRootFilesystem", Value::Bool(true)),
            ("runAsNonRoot", Value::Bool(true)),
            (
                "capabilities",
                map([("drop", Value::List(vec![Value::from("ALL")]))]),
            ),
            ("seccompProfile", map([("type", "RuntimeDefault")])),
        ]),
        Some("baseline") => map([("allowPrivilegeEscalation", Value::Bool(false))]),
        _ => Value::Map(crate::value::Map::default()),
    }
}

/// A pod's securityContext at `level` (restricted: a non-root user and the runtime's
/// seccomp profile).
pub fn pod_context(level: Option<&str>) -> Value {
    match level {
        Some("restricted") => map([
            ("runAsNonRoot", Value::Bool(true)),
            ("runAsUser", Value::Int(65_534)),
            ("runAsGroup", Value::Int(65_534)),
            ("fsGroup", Value::Int(65_534)),
            ("seccompProfile", map([("type", "RuntimeDefault")])),
        ]),
        _ => Value::Map(crate::value::Map::default()),
    }
}
