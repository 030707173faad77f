//! `stackc graph [ENV] [--format text|dot|mermaid]`: layers, services, `depends-on` edges,
//! the secrets each service uses, and the environments' waves.

use super::{GlobalArgs, Session};
use crate::diagnostics::Diagnostics;
use clap::{Args, ValueEnum};
use std::process::ExitCode;

/// Arguments of `stackc graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Show only this environment's wave (every environment when omitted).
    #[arg(value_name = "ENV")]
    pub environment: Option<String>,
    /// How to print the graph.
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub format: GraphFormat,
}

/// The renderings of a graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Indented plain text.
    Text,
    /// Graphviz DOT (`stackc graph --format dot | dot -Tsvg`).
    Dot,
    /// A Mermaid flowchart (renders in GitHub and GitLab markdown).
    Mermaid,
}

/// Runs `stackc graph`.
pub fn run(global: &GlobalArgs, args: &GraphArgs) -> Result<ExitCode, Diagnostics> {
    let session = Session::open_lazy(global)?;
    if let Some(env) = &args.environment {
        session.select_environments(std::slice::from_ref(env))?;
    }
    let graph = crate::graph::graph(&session.stack.model, args.environment.as_deref());
    let text = match args.format {
        GraphFormat::Text => graph.to_text(),
        GraphFormat::Dot => graph.to_dot(),
        GraphFormat::Mermaid => graph.to_mermaid(),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
