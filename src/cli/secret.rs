//! `stackc secret set|get|rotate ENV SECRET KEY`: the per-environment secret store.

use super::{GlobalArgs, Session, UnknownName};
use crate::diagnostics::{did_you_mean, Diagnostics};
use crate::model::SecretKeySource;
use crate::seal::Plaintext;
use clap::{Args, Subcommand};
use miette::Diagnostic;
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::process::ExitCode;
use thiserror::Error;

/// Arguments of `stackc secret`.
#[derive(Debug, Args)]
pub struct SecretArgs {
    #[command(flatten)]
    pub identity: super::IdentityArgs,
    #[command(subcommand)]
    pub action: SecretAction,
}

/// What to do with a secret value.
#[derive(Debug, Subcommand)]
pub enum SecretAction {
    /// Set a value, read from standard input (never from the command line).
    Set(SecretKeyArgs),
    /// Print a value to standard output.
    Get(SecretKeyArgs),
    /// Replace a generated value (`generate=N`) with a new random one.
    Rotate(SecretKeyArgs),
}

/// Which value.
#[derive(Debug, Args)]
pub struct SecretKeyArgs {
    /// The environment.
    pub environment: String,
    /// The secret, as declared in stacks.kdl.
    pub secret: String,
    /// The key in the secret.
    pub key: String,
}

/// A `secret` command that cannot work on this key.
#[derive(Debug, Error, Diagnostic)]
pub enum SecretCommandError {
    #[error("`{secret}/{key}` is declared with a literal value in stacks.kdl; it is not stored")]
    #[diagnostic(
        code(stackc::secret::literal_key),
        help("change the `value=` in stacks.kdl instead")
    )]
    Literal { secret: String, key: String },
    #[error(
        "`{secret}/{key}` takes its value from `{from}` (`from=` in stacks.kdl); it is not stored"
    )]
    #[diagnostic(
        code(stackc::secret::shared_key),
        help("work on the source key instead: `stackc secret ... ENV {from_args}`")
    )]
    Shared {
        secret: String,
        key: String,
        from: String,
        from_args: String,
    },
    #[error("`{secret}/{key}` is not generated, so it cannot be rotated")]
    #[diagnostic(
        code(stackc::secret::not_generated),
        help(
            "set a new value with `stackc secret set {env} {secret} {key}` (reads standard input)"
        )
    )]
    NotGenerated {
        env: String,
        secret: String,
        key: String,
    },
    #[error("no value on standard input")]
    #[diagnostic(
        code(stackc::secret::empty_value),
        help("pipe the value in: `printf %s \"$VALUE\" | stackc secret set ENV SECRET KEY`")
    )]
    Empty,
    #[error("standard input is not UTF-8 text (invalid byte at offset {offset})")]
    #[diagnostic(
        code(stackc::secret::not_utf8),
        help("a secret value is text; for binary data, pipe it through `base64` and decode it where it is used")
    )]
    NotUtf8 { offset: usize },
    #[error("`{secret}/{key}` has no value in environment `{env}` yet")]
    #[diagnostic(code(stackc::secret::unset), help("`stackc secret set {env} {secret} {key}` sets it; a `generate=N` key is filled by `stackc build`"))]
    Unset {
        env: String,
        secret: String,
        key: String,
    },
}

/// Runs `stackc secret ...`.
pub fn run(global: &GlobalArgs, args: &SecretArgs) -> Result<ExitCode, Diagnostics> {
    let (SecretAction::Set(target) | SecretAction::Get(target) | SecretAction::Rotate(target)) =
        &args.action;
    let session = Session::open(global)?;
    session.select_environments(std::slice::from_ref(&target.environment))?;
    let source = declared_key(&session, &target.secret, &target.key)?;
    if let SecretKeySource::Literal(_) = source {
        return Err(SecretCommandError::Literal {
            secret: target.secret.clone(),
            key: target.key.clone(),
        }
        .into());
    }
    if let SecretKeySource::From { secret, key } = &source {
        return Err(SecretCommandError::Shared {
            secret: target.secret.clone(),
            key: target.key.clone(),
            from: format!("{}/{}", secret.value, key.value),
            from_args: format!("{} {}", secret.value, key.value),
        }
        .into());
    }
    let env = session
        .resolved
        .environments
        .iter()
        .find(|e| e.name == target.environment)
        .ok_or_else(|| crate::diagnostics::Internal("selected environment vanished".into()))?;
    let seal_env =
        crate::seal::environment::seal_env(&session.stack, env, &args.identity.identities)?;
    let store = crate::seal::environment::load_store(&session.stack, &env.name)?;
    match &args.action {
        SecretAction::Get(_) => {
            let open = store.open(&seal_env.identities)?;
            let Some(value) = open.get(&target.secret, &target.key) else {
                return Err(SecretCommandError::Unset {
                    env: env.name.clone(),
                    secret: target.secret.clone(),
                    key: target.key.clone(),
                }
                .into());
            };
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(value.as_bytes());
            if std::io::stdout().is_terminal() {
                let _ = stdout.write_all(b"\n");
            }
        }
        SecretAction::Set(_) => {
            let value = read_stdin()?;
            let mut open = store.open(&seal_env.identities)?;
            open.set(&target.secret, &target.key, value)?;
            write_store(&open, &seal_env.recipients)?;
            if !global.quiet {
                eprintln!(
                    "set {}/{}/{} in {}; run `stackc build` to seal it into out/",
                    env.name, target.secret, target.key, seal_env.store_display
                );
            }
        }
        SecretAction::Rotate(_) => {
            let SecretKeySource::Generate(length) = source else {
                return Err(SecretCommandError::NotGenerated {
                    env: env.name.clone(),
                    secret: target.secret.clone(),
                    key: target.key.clone(),
                }
                .into());
            };
            let mut open = store.open(&seal_env.identities)?;
            open.generate(&target.secret, &target.key, length)?;
            write_store(&open, &seal_env.recipients)?;
            if !global.quiet {
                eprintln!("rotated {}/{}/{} ({length} characters) in {}; run `stackc build` to seal it into out/", env.name, target.secret, target.key, seal_env.store_display);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The declared source of `secret/key`, or an unknown-name error with a suggestion.
fn declared_key(
    session: &Session,
    secret: &str,
    key: &str,
) -> Result<SecretKeySource, Diagnostics> {
    let model = &session.stack.model;
    let Some(decl) = model.secret(secret) else {
        return Err(UnknownName {
            kind: "secret",
            name: secret.to_string(),
            help: did_you_mean(secret, model.secrets.iter().map(|s| s.name.as_str())),
        }
        .into());
    };
    let Some(found) = decl.keys.iter().find(|k| k.name.value == key) else {
        return Err(UnknownName {
            kind: "secret key",
            name: format!("{secret}/{key}"),
            help: did_you_mean(key, decl.keys.iter().map(|k| k.name.as_str())).or_else(|| {
                Some(format!(
                    "keys of `{secret}`: {}",
                    decl.keys
                        .iter()
                        .map(|k| k.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }),
        }
        .into());
    };
    Ok(found.source.clone())
}

/// Writes the edited store: everything is encrypted and checked in memory first, then one
/// atomic write, so an error leaves the file as it was.
fn write_store(
    open: &crate::seal::OpenStore,
    recipients: &crate::seal::Recipients,
) -> Result<(), Diagnostics> {
    if let Some(updated) = open.updated(recipients)? {
        updated.write()?;
    }
    Ok(())
}

/// The value from standard input, without one trailing newline.
fn read_stdin() -> Result<Plaintext, Diagnostics> {
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| crate::diagnostics::IoError::new("read", "standard input", e))?;
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    // Say where the text breaks, never what the bytes are.
    if let Err(e) = std::str::from_utf8(&bytes) {
        return Err(SecretCommandError::NotUtf8 {
            offset: e.valid_up_to(),
        }
        .into());
    }
    match Plaintext::from_bytes(std::mem::take(&mut *bytes)) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(SecretCommandError::Empty.into()),
    }
}
