//! `stackc bootstrap ENV`: the `sops-age` Secret Flux decrypts with, to standard output only.

use super::{GlobalArgs, Session};
use crate::diagnostics::{Diagnostics, IoError};
use crate::seal::Plaintext;
use clap::Args;
use miette::Diagnostic;
use std::io::Write as _;
use std::process::ExitCode;
use thiserror::Error;

/// Arguments of `stackc bootstrap`.
#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// The environment whose cluster gets the identity.
    pub environment: String,
}

/// `bootstrap` needs exactly one identity file.
#[derive(Debug, Error, Diagnostic)]
#[error("`stackc bootstrap` needs the identity to install: pass `--identity FILE`")]
#[diagnostic(
    code(stackc::bootstrap::no_identity),
    help("the file is an age identity as `stackc keygen --output FILE` writes it")
)]
pub struct NeedIdentityFile;

/// The identity does not decrypt for the environment.
#[derive(Debug, Error, Diagnostic)]
#[error("the identity in {file} is not one of environment `{env}`'s recipients")]
#[diagnostic(code(stackc::bootstrap::not_a_recipient), help("Flux could not decrypt this environment's secrets with it; its recipients are: {recipients}"))]
pub struct NotARecipient {
    file: String,
    env: String,
    recipients: String,
}

/// Runs `stackc bootstrap`.
pub fn run(global: &GlobalArgs, args: &BootstrapArgs) -> Result<ExitCode, Diagnostics> {
    let [file] = global.identities.as_slice() else {
        return Err(NeedIdentityFile.into());
    };
    let session = Session::open(global)?;
    session.select_environments(std::slice::from_ref(&args.environment))?;
    let env = session
        .resolved
        .environments
        .iter()
        .find(|e| e.name == args.environment)
        .ok_or_else(|| crate::diagnostics::Internal("selected environment vanished".into()))?;
    // Reads and checks the file (permissions, contents) the way every identity is read.
    let keys = crate::seal::identity::read_key_file(file)?;
    let text =
        Plaintext::from_bytes(std::fs::read(file).map_err(|e| IoError::new("read", file, e))?)
            .ok_or_else(|| {
                crate::diagnostics::Internal(
                    "identity file is not UTF-8 after passing validation".into(),
                )
            })?;
    let ours: Vec<String> = keys.iter().map(|k| k.to_public().to_string()).collect();
    if !ours.iter().any(|r| env.recipients.contains(r)) {
        return Err(NotARecipient {
            file: file.display().to_string(),
            env: env.name.clone(),
            recipients: env.recipients.join(", "),
        }
        .into());
    }
    let secret = crate::seal::bootstrap_secret(&text);
    let _ = std::io::stdout().lock().write_all(secret.as_bytes());
    Ok(ExitCode::SUCCESS)
}
