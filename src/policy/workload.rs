//! What a workload template receives about how its pods roll out and are checked:
//! `policy.strategy` from `rollout max-unavailable= max-surge=` (production: 0 and 1, zero
//! downtime) and `policy.probes` (readiness and liveness) from `probes` and the service's
//! declared `port`.

use super::{count, flag, int, located, text, OtherSpan, PolicyError};
use crate::diagnostics::Diagnostics;
use crate::model::Tracked;
use crate::source::Sources;
use crate::value::{map, Value};

/// `policy.strategy`: a Deployment's `spec.strategy`.
pub fn strategy(sources: &Sources, settings: &Tracked, unit: &str) -> Result<Value, Diagnostics> {
    let unavailable = count(settings, "rollout.max_unavailable").unwrap_or(Value::from("25%"));
    let surge = count(settings, "rollout.max_surge").unwrap_or(Value::from("25%"));
    let zero = |v: &Value| matches!(v, Value::Int(0)) || v.as_str() == Some("0%");
    if zero(&unavailable) && zero(&surge) {
        let spans = (
            super::get(settings, "rollout.max_unavailable").map(|t| t.span),
            super::get(settings, "rollout.max_surge").map(|t| t.span),
        );
        if let (Some(first), Some(second)) = spans {
            let at = located(sources, first);
            let other = located(sources, second);
            return Err(PolicyError::RolloutStuck {
                unit: unit.into(),
                src: at.source,
                span: at.span,
                other: vec![OtherSpan {
                    what: "max-surge 0 set here".into(),
                    src: other.source,
                    span: other.span,
                }],
            }
            .into());
        }
    }
    Ok(map([
        ("type", Value::from("RollingUpdate")),
        (
            "rollingUpdate",
            map([("maxUnavailable", unavailable), ("maxSurge", surge)]),
        ),
    ]))
}

/// `policy.probes`: `readiness` and `liveness` for the main container, an HTTP GET of
/// `probes path=` on the named port `http`, or a TCP check of the declared `port`; `Null`
/// with `probes enabled=#false` (or without a port to check).
pub fn probes(settings: &Tracked) -> Value {
    if flag(settings, "probes.enabled") == Some(false) {
        return Value::Null;
    }
    let Some((port, _)) = int(settings, "port") else {
        return Value::Null;
    };
    let check = match text(settings, "probes.path") {
        Some((path, _)) => (
            "httpGet",
            map([("path", Value::from(path)), ("port", Value::Int(port))]),
        ),
        None => ("tcpSocket", map([("port", Value::Int(port))])),
    };
    let probe = |failures: i64| {
        let mut fields = vec![(check.0, check.1.clone())];
        if let Some((delay, _)) = int(settings, "probes.delay") {
            fields.push(("initialDelaySeconds", Value::Int(delay)));
        }
        if let Some((period, _)) = int(settings, "probes.period") {
            fields.push(("periodSeconds", Value::Int(period)));
        }
        fields.push(("failureThreshold", Value::Int(failures)));
        map(fields)
    };
    // Liveness gives up later than readiness: a slow pod leaves the Service before a restart.
    map([("readiness", probe(3)), ("liveness", probe(6))])
}
