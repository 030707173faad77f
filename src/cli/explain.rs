//! `stackc explain ENV SERVICE [PATH]`: every resolved value and the layers that set it.

use super::{GlobalArgs, Session};
use crate::diagnostics::Diagnostics;
use crate::render::Renderer;
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
    let prefix = args.path.as_deref().unwrap_or("").replace('-', "_");
    let context = Renderer::new(&session.stack).context(env, service)?;
    let sources = &session.stack.sources;
    let mut out = String::new();
    let mut found = false;
    let mut json_values = Vec::new();
    let layer_width = service
        .provenance
        .under(&prefix)
        .flat_map(|(_, o)| o)
        .map(|o| o.layer.0.len())
        .max()
        .unwrap_or(0);
    let location_width = service
        .provenance
        .under(&prefix)
        .flat_map(|(_, o)| o)
        .map(|o| sources.location(o.span).len())
        .max()
        .unwrap_or(0);
    for (path, origins) in service.provenance.under(&prefix) {
        let final_value = context
            .get_path("service")
            .and_then(|s| lookup(s, path))
            .map_or_else(|| "(unset)".to_string(), crate::value::Value::to_display);
        found = true;
        json_values.push(serde_json::json!({
            "path": path,
            "value": context
                .get_path("service")
                .and_then(|s| lookup(s, path))
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
        }));
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
    if !found {
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
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Follows a provenance path (dotted, with `"quoted.keys"`) into a value.
fn lookup<'v>(value: &'v crate::value::Value, path: &str) -> Option<&'v crate::value::Value> {
    let mut current = value;
    for key in split_path(path) {
        current = current.as_map()?.get(&key)?;
    }
    Some(current)
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
