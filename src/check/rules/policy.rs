//! `replicas` and `no-debug`: the environment's policy, by its name (production, staging) or
//! by an explicit `policy min-replicas=N anti-affinity="..."` setting.

use super::{tier, Tier};
use crate::check::context::{setting, setting_value};
use crate::check::{Context, EnvCheck, Finding};
use crate::value::Value;

fn rank(anti_affinity: &str) -> u8 {
    match anti_affinity {
        "required" => 2,
        "preferred" => 1,
        _ => 0,
    }
}

/// Replicas and anti-affinity at least the policy's.
pub fn replicas(ctx: &Context<'_>, env: &EnvCheck<'_>) -> Vec<Finding> {
    let (default_min, default_aff) = match tier(&env.env.name) {
        Tier::Production => (3, "required"),
        Tier::Staging => (2, "preferred"),
        Tier::Other => (0, "none"),
    };
    let mut out = Vec::new();
    for service in env.services() {
        let min = setting_value(service, "policy.min_replicas")
            .and_then(|v| if let Value::Int(i) = v { Some(i) } else { None })
            .unwrap_or(default_min);
        let wanted = setting_value(service, "policy.anti_affinity")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| default_aff.to_string());
        if let Some(tracked) = setting(service, "replicas") {
            if let Value::Int(n) = tracked.to_value() {
                if n < min {
                    out.push(
                        Finding::new(format!("runs {n} replicas; environment `{}` needs at least {min}", env.env.name))
                            .service(&service.name)
                            .at(ctx.user_span(service, tracked.span))
                            .help(format!("set `replicas {min}` (or lower the environment's `policy min-replicas=`)")),
                    );
                }
            }
        }
        let actual = setting_value(service, "anti_affinity")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "none".to_string());
        if rank(&actual) < rank(&wanted) {
            let span = setting(service, "anti_affinity")
                .map_or(service.span, |t| ctx.user_span(service, t.span));
            out.push(
                Finding::new(format!(
                    "has anti-affinity `{actual}`; environment `{}` needs at least `{wanted}`",
                    env.env.name
                ))
                .service(&service.name)
                .at(span)
                .help(format!("set `anti-affinity \"{wanted}\"`")),
            );
        }
    }
    out
}

/// `debug #false` everywhere in production.
pub fn no_debug(_: &Context<'_>, env: &EnvCheck<'_>) -> Vec<Finding> {
    if tier(&env.env.name) != Tier::Production {
        return Vec::new();
    }
    env.services()
        .iter()
        .filter_map(|service| {
            let tracked = setting(service, "debug")?;
            (tracked.to_value() == Value::Bool(true)).then(|| {
                Finding::new("has debug on in production")
                    .service(&service.name)
                    .at(tracked.span)
                    .help("remove `debug #true`, or set `debug #false` in environments/production.kdl")
            })
        })
        .collect()
}
