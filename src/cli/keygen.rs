//! `stackc keygen`: a new age identity.

use super::GlobalArgs;
use crate::diagnostics::Diagnostics;
use clap::Args;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `stackc keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the identity to this file (mode 0600, never overwriting); without it, the
    /// identity goes to standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `stackc keygen`: prints the recipient (`age1...`).
pub fn run(global: &GlobalArgs, args: &KeygenArgs) -> Result<ExitCode, Diagnostics> {
    let key = crate::seal::keygen(args.output.as_deref())?;
    match (&args.output, &key.file_text) {
        (Some(path), _) => {
            println!("{}", key.recipient);
            if !global.quiet {
                eprintln!("wrote {} (mode 0600); add the recipient above to an environment's `recipients`", path.display());
            }
        }
        (None, Some(text)) => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            eprintln!("Public key: {}", key.recipient);
        }
        (None, None) => println!("{}", key.recipient),
    }
    Ok(ExitCode::SUCCESS)
}
