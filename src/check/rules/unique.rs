//! `unique-hosts`: one Ingress per host, one TCP route per (entry point, match) pair.

use crate::check::context::object_label;
use crate::check::{Context, EnvCheck, Finding};
use crate::value::Value;
use std::collections::BTreeMap;

/// Hosts and TCP routes claimed twice in an environment.
pub fn hosts(ctx: &Context<'_>, env: &EnvCheck<'_>) -> Vec<Finding> {
    let mut claims: BTreeMap<String, Vec<&crate::object::RenderedObject>> = BTreeMap::new();
    for ingress in env.objects_of("Ingress") {
        if let Some(Value::List(rules)) = ingress.body.get_path("spec.rules") {
            let mut hosts: Vec<&str> = rules
                .iter()
                .filter_map(|r| r.get_path("host").and_then(Value::as_str))
                .collect();
            hosts.dedup();
            for host in hosts {
                claims
                    .entry(format!("host `{host}`"))
                    .or_default()
                    .push(ingress);
            }
        }
    }
    for route in env.objects_of("IngressRouteTCP") {
        let entry_points = route
            .body
            .get_path("spec.entryPoints")
            .map(crate::yaml::to_flow)
            .unwrap_or_default();
        if let Some(Value::List(routes)) = route.body.get_path("spec.routes") {
            for r in routes {
                if let Some(rule) = r.get_path("match").and_then(Value::as_str) {
                    claims
                        .entry(format!("TCP route `{rule}` on entry points {entry_points}"))
                        .or_default()
                        .push(route);
                }
            }
        }
    }
    let mut out = Vec::new();
    for (what, objects) in claims {
        if objects.len() < 2 {
            continue;
        }
        let names: Vec<String> = objects.iter().map(|o| object_label(o)).collect();
        for object in &objects[1..] {
            let service = object.service.as_deref().unwrap_or_default();
            let mut finding = Finding::new(format!("{what} is also claimed by {}", names[0]))
                .service(service)
                .object(object_label(object))
                .help("each host and each TCP route may be served by one object per environment");
            finding.span = ctx.stack.model.service(service).map(|s| s.span);
            out.push(finding);
        }
        let _ = names;
    }
    out
}
