//! `stackc diff`: what differs between two environments (`stackc diff staging production`),
//! or what a build would change in `out/<env>` (`stackc diff dev`).
//!
//! Both sides are rendered fresh in memory (no cache, nothing written); `diff::sides` builds
//! them, `diff::diff` compares them, and this file turns flags into options and the report
//! into output and an exit code.

use super::{GlobalArgs, Session, UnknownName};
use crate::diagnostics::{did_you_mean, Diagnostics, IoError};
use crate::diff::{self, DiffOptions, Format, Sides};
use crate::seal::Identities;
use clap::{Args, ValueEnum};
use miette::Diagnostic;
use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use thiserror::Error;

/// Arguments of `stackc diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub identity: super::IdentityArgs,
    /// Two environments to compare, or one to compare out/ENV with what a build would write.
    #[arg(value_name = "ENV", required = true, num_args = 1..=2)]
    pub environments: Vec<String>,
    /// One line per differing object (the same as `--format stat`).
    #[arg(long, conflicts_with = "format")]
    pub stat: bool,
    /// How to print the differences.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<FormatArg>,
    /// When to colour the output (`auto`: when stdout is a terminal and `NO_COLOR` is unset).
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    pub color: ColorArg,
    /// Only objects rendered by this service.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Only objects of this kind (case-insensitive: `deployment`, `Ingress`).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
}

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Grouped by object, one line per field change.
    Text,
    /// One line per differing object.
    Stat,
    /// The stable JSON schema of docs/diff-json.md.
    Json,
    /// A unified diff of each differing object's YAML.
    Unified,
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

/// A `diff` invocation that cannot run.
#[derive(Debug, Error, Diagnostic)]
pub enum DiffCommandError {
    #[error("environment `{env}` is named twice; a diff needs two different environments")]
    #[diagnostic(
        code(stackc::diff::same_environment),
        help("name two environments (`stackc diff {env} OTHER`), or one alone to compare out/{env} with what a build would write")
    )]
    SameEnvironment { env: String },
}

/// Runs `stackc diff`.
pub fn run(global: &GlobalArgs, args: &DiffArgs) -> Result<ExitCode, Diagnostics> {
    // Units are resolved as the build resolves them, one by one: only the two environments
    // compared are resolved at all.
    let session = Session::open_lazy(global)?;
    let names = session.select_environments(&args.environments)?;
    if let [a, b] = names.as_slice() {
        if a == b {
            return Err(DiffCommandError::SameEnvironment { env: a.clone() }.into());
        }
    }
    check_service(&session, args.service.as_deref())?;
    let (format, options) = settings(args);
    let identities = Identities::discover(&args.identity.identities)?;
    let sides = Sides::new(&session.stack, &session.resolved, &identities)?;
    let (a, b) = match names.as_slice() {
        [a, b] => sides.environments(a, b)?,
        [env] => sides.out_with_build(env)?,
        _ => {
            return Err(crate::diagnostics::Internal(format!(
                "diff takes one or two environments, got {}",
                names.len()
            ))
            .into())
        }
    };
    let report = diff::diff(&a, &b, &options);
    let text = report.render(format, &options)?;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // A reader that stopped early (`| head`) is not an error of ours.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(IoError::new("write", "standard output", e).into());
        }
    }
    Ok(if report.has_differences() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The validated settings: the rendering and the engine's options.
fn settings(args: &DiffArgs) -> (Format, DiffOptions) {
    let format = match (args.stat, args.format) {
        (true, _) | (false, Some(FormatArg::Stat)) => Format::Stat,
        (false, Some(FormatArg::Json)) => Format::Json,
        (false, Some(FormatArg::Unified)) => Format::Unified,
        (false, Some(FormatArg::Text) | None) => Format::Text,
    };
    let color = match args.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let options = DiffOptions {
        service: args.service.clone(),
        kind: args.kind.clone(),
        color,
        skip_normalized_bodies: format != Format::Unified,
    };
    (format, options)
}

/// `--service` must name a declared service.
fn check_service(session: &Session, service: Option<&str>) -> Result<(), Diagnostics> {
    let Some(name) = service else { return Ok(()) };
    let model = &session.stack.model;
    if model.service(name).is_some() {
        return Ok(());
    }
    let names: Vec<&str> = model.services.iter().map(|s| s.name.as_str()).collect();
    Err(UnknownName {
        kind: "service",
        name: name.to_string(),
        help: did_you_mean(name, names.iter().copied())
            .or_else(|| Some(format!("services: {}", names.join(", ")))),
    }
    .into())
}
