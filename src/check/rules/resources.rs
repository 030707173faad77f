//! `resources`: every container asks for CPU and memory and is capped, requests <= limits.

use crate::check::context::{object_label, setting};
use crate::check::{Context, EnvCheck, Finding};
use crate::value::Value;

/// The pod spec of a workload object, if it is one.
fn pod_spec(kind: &str, body: &Value) -> Option<Value> {
    let path = match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => "spec.template.spec",
        "CronJob" => "spec.jobTemplate.spec.template.spec",
        "Pod" => "spec",
        _ => return None,
    };
    body.get_path(path).cloned()
}

/// A quantity in base units (cores, bytes); `None` when it cannot be read.
pub fn quantity(text: &str) -> Option<f64> {
    let suffixes: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, factor) in suffixes {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    text.parse::<f64>().ok()
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

/// Checks one `resources` map; the problems found.
fn problems(resources: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    for resource in ["cpu", "memory"] {
        let request = text(resources.and_then(|r| r.get_path(&format!("requests.{resource}"))));
        let limit = text(resources.and_then(|r| r.get_path(&format!("limits.{resource}"))));
        match (&request, &limit) {
            (None, _) => out.push(format!("no {resource} request")),
            (_, None) => out.push(format!("no {resource} limit")),
            (Some(r), Some(l)) => match (quantity(r), quantity(l)) {
                (Some(rq), Some(lq)) if rq > lq => {
                    out.push(format!("its {resource} request {r} exceeds its limit {l}"));
                }
                (None, _) => out.push(format!("its {resource} request `{r}` is not a quantity")),
                (_, None) => out.push(format!("its {resource} limit `{l}` is not a quantity")),
                _ => {}
            },
        }
    }
    out
}

/// Every container of every workload, and every service's `resources` setting.
pub fn resources(ctx: &Context<'_>, env: &EnvCheck<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for service in env.services() {
        if let Some(tracked) = setting(service, "resources") {
            let value = tracked.to_value();
            for problem in problems(Some(&value))
                .into_iter()
                .filter(|p| p.contains("exceeds") || p.contains("not a quantity"))
            {
                out.push(
                    Finding::new(format!("`resources`: {problem}"))
                        .service(&service.name)
                        .at(ctx.user_span(service, tracked.span))
                        .help("a request must not exceed its limit (resources cpu=\"100m\" cpu-limit=\"500m\")"),
                );
            }
        }
    }
    for object in env.objects.iter() {
        let Some(spec) = pod_spec(&object.id.kind, &object.body) else {
            continue;
        };
        let service = object.service.as_deref().unwrap_or_default();
        let span = env
            .service(service)
            .map(|s| setting(s, "resources").map_or(s.span, |t| ctx.user_span(s, t.span)));
        for list in ["containers", "initContainers"] {
            let Some(Value::List(containers)) = spec.get_path(list) else {
                continue;
            };
            for container in containers {
                let name = container
                    .get_path("name")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                for problem in problems(container.get_path("resources")) {
                    let mut finding = Finding::new(format!("container `{name}` has {problem}"))
                        .service(service)
                        .object(object_label(object))
                        .help("give every container requests and limits: `resources cpu=\"100m\" memory=\"128Mi\" cpu-limit=\"500m\" memory-limit=\"256Mi\"` and `resources: {{ service.resources | to_yaml }}` in the template");
                    finding.span = span;
                    out.push(finding);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::quantity;

    #[test]
    fn quantities_are_read_in_base_units() {
        assert_eq!(quantity("100m"), Some(0.1));
        assert_eq!(quantity("2"), Some(2.0));
        assert_eq!(quantity("1Gi"), Some(1024.0 * 1024.0 * 1024.0));
        assert_eq!(quantity("512M"), Some(512e6));
        assert!(quantity("lots").is_none());
    }
}
