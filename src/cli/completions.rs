//! `stackc completions SHELL` and `stackc man`: shell completions and the man page, both
//! generated from the same clap definitions as the parser, so they never drift from it.

use super::Cli;
use crate::diagnostics::{Diagnostics, IoError};
use clap::{Args, CommandFactory as _};
use clap_complete::Shell;
use std::process::ExitCode;

/// Arguments of `stackc completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script for a shell to standard output.
pub fn run(args: &CompletionsArgs) -> Result<ExitCode, Diagnostics> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "stackc", &mut out);
    write_stdout(&out)
}

/// Prints the man page (roff) to standard output: `stackc man > stackc.1`.
pub fn man() -> Result<ExitCode, Diagnostics> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| IoError::new("render", "the man page", e))?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<ExitCode, Diagnostics> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| IoError::new("write", "standard output", e))?;
    Ok(ExitCode::SUCCESS)
}
