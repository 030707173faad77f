//! `persistence` and `tcp-route`: what stateful and database services need.

use super::DATABASE_CHARTS;
use crate::check::context::{setting, setting_value};
use crate::check::{Context, EnvCheck, Finding};
use crate::resolve::ResolvedService;
use crate::value::Value;

fn chart_name(service: &ResolvedService) -> Option<String> {
    setting_value(service, "chart.name").and_then(|v| v.as_str().map(str::to_string))
}

fn is_database(service: &ResolvedService) -> bool {
    chart_name(service).is_some_and(|c| DATABASE_CHARTS.contains(&c.as_str()))
}

/// Stateful services have `persistence size=`.
pub fn persistence(_: &Context<'_>, env: &EnvCheck<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for service in env.services() {
        let declared = setting(service, "persistence");
        if declared.is_none() && !is_database(service) {
            continue;
        }
        let size = setting_value(service, "persistence.size");
        if size
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            continue;
        }
        let span = declared
            .or_else(|| setting(service, "chart"))
            .map_or(service.span, |p| p.span);
        out.push(
            Finding::new(if declared.is_some() {
                "persistence has no size".to_string()
            } else {
                format!(
                    "is a database (chart `{}`) without persistence",
                    chart_name(service).unwrap_or_default()
                )
            })
            .service(&service.name)
            .at(span)
            .help("declare the volume: `persistence size=\"20Gi\"`"),
        );
    }
    out
}

/// Database services have a `tcp-route`.
pub fn tcp_route(_: &Context<'_>, env: &EnvCheck<'_>) -> Vec<Finding> {
    env.services()
        .iter()
        .filter(|s| is_database(s) && setting(s, "tcp_route").is_none())
        .map(|s| {
            Finding::new(format!(
                "is a database (chart `{}`) without a TCP route",
                chart_name(s).unwrap_or_default()
            ))
            .service(&s.name)
            .at(setting(s, "chart").map_or(s.span, |c| c.span))
            .help("route it: `tcp-route host=\"db.{{ environment.domain }}\" port=5432`")
        })
        .collect()
}
