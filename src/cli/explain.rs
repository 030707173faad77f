//! `stackc explain ENV SERVICE [PATH]`: every resolved value and the layers that set it.

use super::{GlobalArgs, Session};
use crate::diagnostics::Diagnostics;
use crate::render::Renderer;
use crate::resolve::Origin;
use crate::value::Value;
use clap::Args;
use std::fmt::Write as _;
use std::process::ExitCode;

/// Arguments of `stackc explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The environment.
    pub environment: String,
    /// The service.
    pub service: String,
    /// Only values at or under this dotted path (`resources.limits`, `anti-affinity`).
    pub path: Option<String>,
    /// `json`: one document on standard output (`{"version", "environment", "service",
    /// "values": [{"path", "value", "layers": [{"layer", "file", "line", "value"}]}]}`).
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
}

/// The renderings of `explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainFormat {
    /// Aligned columns, the value's layers lowest first, `*` on the one that wins.
    Text,
    /// JSON, for tools.
    Json,
}

/// Runs `stackc explain`.
pub fn run(global: &GlobalArgs, args: &ExplainArgs) -> Result<ExitCode, Diagnostics> {
    let session = Session::open(global)?;
    let envs = session.select_environments(std::slice::from_ref(&args.environment))?;
    let env = session
        .resolved
        .environments
        .iter()
        .find(|e| envs.contains(&e.name))
        .ok_or_else(|| crate::diagnostics::Internal("selected environment vanished".into()))?;
    let Some(service) = env.services.iter().find(|s| s.name == args.service) else {
        return Err(super::UnknownName {
            kind: "service",
            name: args.service.clone(),
            help: crate::diagnostics::did_you_mean(
                &args.service,
                env.services.iter().map(|s| s.name.as_str()),
            ),
        }
        .into());
    };
    let service = &crate::resolve::resolve_explained(&session.stack, &env.name, &service.name)?;
    let raw_prefix = args.path.as_deref().unwrap_or("");
    let prefix = raw_prefix.replace('-', "_");
    let renderer = Renderer::new(&session.stack);
    let context = renderer.context(env, service)?;
    let sources = &session.stack.sources;
    let settings = context.get_path("service");
    // Every explained leaf: its path, its final value, and the layers that set it.
    let mut rows: Vec<(String, Option<Value>, &[Origin])> = service
        .provenance
        .under(&prefix)
        .map(|(path, origins)| {
            let value = settings.and_then(|s| lookup(s, path)).cloned();
            (path.clone(), value, origins.as_slice())
        })
        .collect();
    // Fields of rendered objects that patches set, as `Kind/name.field` (only rendered when
    // the environment has patches for the service).
    let model = &session.stack.model;
    let mut patched_rows: Vec<(String, Option<Value>, Vec<Origin>)> = Vec::new();
    if !crate::render::patch::declared(model, &env.name, Some(&service.name)).is_empty() {
        let objects = renderer.render_with_context(env, service, &context)?;
        let fields = crate::render::patch::provenance(model, &env.name, &service.name, &objects);
        for (object, provenance) in fields {
            let body = objects
                .iter()
                .find(|o| format!("{}/{}", o.id.kind, o.id.name) == object)
                .map(|o| &o.body);
            for (path, origins) in provenance.paths {
                let full = format!("{object}.{path}");
                if under(&full, raw_prefix) {
                    let value = body.and_then(|b| lookup(b, &path)).cloned();
                    patched_rows.push((full, value, origins));
                }
            }
        }
    }
    rows.extend(
        patched_rows
            .iter()
            .map(|(p, v, o)| (p.clone(), v.clone(), o.as_slice())),
    );
    let layer_width = rows
        .iter()
        .flat_map(|(_, _, o)| o.iter())
        .map(|o| o.layer.0.len())
        .max()
        .unwrap_or(0);
    let location_width = rows
        .iter()
        .flat_map(|(_, _, o)| o.iter())
        .map(|o| sources.location(o.span).len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let mut json_values = Vec::new();
    let mut json_patched = Vec::new();
    let patched_from = rows.len() - patched_rows.len();
    for (index, (path, value, origins)) in rows.iter().enumerate() {
        let final_value = value
            .as_ref()
            .map_or_else(|| "(unset)".to_string(), Value::to_display);
        let entry = serde_json::json!({
            "path": path,
            "value": value
                .as_ref()
                .map_or(serde_json::Value::Null, |v| serde_json::to_value(v).unwrap_or_default()),
            "layers": origins.iter().map(|o| {
                let location = sources.location(o.span);
                let (file, line) = location.rsplit_once(':').map_or((location.as_str(), ""), |(f, l)| (f, l));
                serde_json::json!({
                    "layer": o.layer.0,
                    "file": file,
                    "line": line.parse::<u64>().ok(),
                    "value": serde_json::to_value(&o.value).unwrap_or_default(),
                })
            }).collect::<Vec<_>>(),
        });
        if index < patched_from {
            json_values.push(entry);
        } else {
            json_patched.push(entry);
        }
        if index == patched_from {
            let _ = writeln!(out, "# fields of rendered objects set by patches");
        }
        let _ = writeln!(out, "{path} = {final_value}");
        let last = origins.len().saturating_sub(1);
        for (i, origin) in origins.iter().enumerate() {
            let marker = if i == last { "*" } else { " " };
            let _ = writeln!(
                out,
                "  {marker} {:<layer_width$}  {:<location_width$}  {}",
                origin.layer.0,
                sources.location(origin.span),
                origin.value.to_display()
            );
        }
    }
    if rows.is_empty() {
        return Err(super::UnknownName {
            kind: "value path",
            name: prefix.clone(),
            help: crate::diagnostics::did_you_mean(
                &prefix,
                service.provenance.paths.keys().map(String::as_str),
            )
            .or_else(|| Some("run without a path to list every value".into())),
        }
        .into());
    }
    match args.format {
        ExplainFormat::Text => print!("{out}"),
        ExplainFormat::Json => {
            let doc = serde_json::json!({
                "version": 1,
                "environment": env.name,
                "service": service.name,
                "values": json_values,
                "patched": json_patched,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Follows a provenance path (dotted, with `"quoted.keys"`; a number indexes a list) into a
/// value.
fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let mut current = value;
    for key in split_path(path) {
        current = match current {
            Value::List(items) => items.get(key.parse::<usize>().ok()?)?,
            other => other.as_map()?.get(&key)?,
        };
    }
    Some(current)
}

/// Whether `path` is `prefix` or under it (every path when `prefix` is empty).
fn under(path: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

fn split_path(path: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in path.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
}
