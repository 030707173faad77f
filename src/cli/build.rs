//! `stackc build`.

use super::GlobalArgs;
use crate::diagnostics::Diagnostics;
use clap::Args;
use std::process::ExitCode;

/// Arguments of `stackc build`.
#[derive(Debug, Args)]
pub struct BuildArgs {}

/// Runs `stackc build`.
pub fn run(_global: &GlobalArgs, _args: &BuildArgs) -> Result<ExitCode, Diagnostics> {
    Ok(ExitCode::SUCCESS)
}
