//! `stackc bootstrap ENV`: the `sops-age` Secret Flux decrypts with, to standard output only.

use super::{GlobalArgs, Session};
use crate::diagnostics::Diagnostics;
use crate::seal::Identities;
use clap::Args;
use miette::Diagnostic;
use std::io::Write as _;
use std::process::ExitCode;
use thiserror::Error;

/// Arguments of `stackc bootstrap`.
#[derive(Debug, Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub identity: super::IdentityArgs,
    /// The environment whose cluster gets the identity.
    pub environment: String,
}

/// No identity was found at all.
#[derive(Debug, Error, Diagnostic)]
#[error("`stackc bootstrap` found no identity to install")]
#[diagnostic(
    code(stackc::bootstrap::no_identity),
    help("pass `--identity FILE` (an age identity as `stackc keygen --output FILE` writes it), or keep it where sops looks: SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, ~/.config/sops/age/keys.txt")
)]
pub struct NeedIdentityFile;

/// No identity found decrypts for the environment.
#[derive(Debug, Error, Diagnostic)]
#[error("no identity in {looked_in} is one of environment `{env}`'s recipients")]
#[diagnostic(code(stackc::bootstrap::not_a_recipient), help("Flux could not decrypt this environment's secrets with it; its recipients are: {recipients}"))]
pub struct NotARecipient {
    looked_in: String,
    env: String,
    recipients: String,
}

/// Runs `stackc bootstrap`: only the identities of this environment's recipients go into the
/// Secret, so a `keys.txt` holding every environment's keys installs production's alone.
pub fn run(global: &GlobalArgs, args: &BootstrapArgs) -> Result<ExitCode, Diagnostics> {
    let session = Session::open(global)?;
    session.select_environments(std::slice::from_ref(&args.environment))?;
    let env = session
        .resolved
        .environments
        .iter()
        .find(|e| e.name == args.environment)
        .ok_or_else(|| crate::diagnostics::Internal("selected environment vanished".into()))?;
    let identities = Identities::discover(&args.identity.identities)?;
    if identities.is_empty() {
        return Err(NeedIdentityFile.into());
    }
    let Some(text) = identities.key_file_for(&env.recipients) else {
        return Err(NotARecipient {
            looked_in: identities
                .looked_in()
                .iter()
                .filter(|l| !l.ends_with("(not found)") && !l.ends_with("(not set)"))
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            env: env.name.clone(),
            recipients: env.recipients.join(", "),
        }
        .into());
    };
    let secret = crate::seal::bootstrap_secret(&text);
    let _ = std::io::stdout().lock().write_all(secret.as_bytes());
    Ok(ExitCode::SUCCESS)
}
