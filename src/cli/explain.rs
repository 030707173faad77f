//! `stackc explain`.

use super::GlobalArgs;
use crate::diagnostics::Diagnostics;
use clap::Args;
use std::process::ExitCode;

/// Arguments of `stackc explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {}

/// Runs `stackc explain`.
pub fn run(_global: &GlobalArgs, _args: &ExplainArgs) -> Result<ExitCode, Diagnostics> {
    Ok(ExitCode::SUCCESS)
}
