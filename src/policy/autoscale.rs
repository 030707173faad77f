//! `autoscale min= max= cpu= target=`: a `HorizontalPodAutoscaler` (autoscaling/v2) on CPU
//! utilisation, which then owns the replica count (templates see `policy.autoscaled` and
//! leave `replicas` out, so a sync does not fight the autoscaler).

use super::{flag, int, kube_object, located, text, OtherSpan, PolicyError};
use crate::diagnostics::Diagnostics;
use crate::model::Tracked;
use crate::object::ObjectId;
use crate::source::Sources;
use crate::value::{map, Value};

/// The resolved bounds of an autoscaler.
pub struct Bounds {
    pub min: i64,
    pub max: i64,
    pub cpu: i64,
    /// `Deployment/<service>` unless `target=` names another workload.
    pub kind: String,
    pub target: String,
}

impl Bounds {
    /// As the template value `policy.autoscale`.
    pub fn to_value(&self) -> Value {
        map([
            ("min", Value::Int(self.min)),
            ("max", Value::Int(self.max)),
            ("cpu", Value::Int(self.cpu)),
            ("kind", Value::from(self.kind.as_str())),
            ("target", Value::from(self.target.as_str())),
        ])
    }
}

/// The service's autoscaler, if it has one (`enabled=#false` switches a lower layer's off).
pub fn bounds(
    sources: &Sources,
    settings: &Tracked,
    service: &str,
    unit: &str,
) -> Result<Option<Bounds>, Diagnostics> {
    let Some(node) = super::get(settings, "autoscale") else {
        return Ok(None);
    };
    if flag(settings, "autoscale.enabled") == Some(false) {
        return Ok(None);
    }
    let Some((max, max_span)) = int(settings, "autoscale.max") else {
        let at = located(sources, node.span);
        return Err(PolicyError::AutoscaleMax {
            unit: unit.into(),
            src: at.source,
            span: at.span,
        }
        .into());
    };
    let (min, min_span) = int(settings, "autoscale.min").unwrap_or((1, node.span));
    if min > max {
        let at = located(sources, min_span);
        let other = located(sources, max_span);
        return Err(PolicyError::AutoscaleBounds {
            min,
            max,
            unit: unit.into(),
            src: at.source,
            span: at.span,
            other: vec![OtherSpan {
                what: format!("max {max} set here"),
                src: other.source,
                span: other.span,
            }],
        }
        .into());
    }
    let (kind, target) = match text(settings, "autoscale.target") {
        Some((t, _)) => match t.split_once('/') {
            Some((kind, name)) => (kind.to_string(), name.to_string()),
            None => ("Deployment".to_string(), t.to_string()),
        },
        None => ("Deployment".to_string(), service.to_string()),
    };
    Ok(Some(Bounds {
        min,
        max,
        cpu: int(settings, "autoscale.cpu").map_or(80, |(c, _)| c),
        kind,
        target,
    }))
}

/// The `HorizontalPodAutoscaler` of a unit, from its `policy` context.
pub fn object(name: &str, namespace: &str, policy: &Value) -> Option<(ObjectId, Value)> {
    let bounds = policy.get_path("autoscale")?.as_map()?;
    let spec = map([
        (
            "scaleTargetRef",
            map([
                ("apiVersion", Value::from("apps/v1")),
                ("kind", bounds.get("kind")?.clone()),
                ("name", bounds.get("target")?.clone()),
            ]),
        ),
        ("minReplicas", bounds.get("min")?.clone()),
        ("maxReplicas", bounds.get("max")?.clone()),
        (
            "metrics",
            Value::List(vec![map([
                ("type", Value::from("Resource")),
                (
                    "resource",
                    map([
                        ("name", Value::from("cpu")),
                        (
                            "target",
                            map([
                                ("type", Value::from("Utilization")),
                                ("averageUtilization", bounds.get("cpu")?.clone()),
                            ]),
                        ),
                    ]),
                ),
            ])]),
        ),
    ]);
    Some(kube_object(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        name,
        namespace,
        spec,
    ))
}
