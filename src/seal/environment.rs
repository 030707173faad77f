//! Sealing one environment of a stack: secret plans from the declarations, the environment's
//! recipients (checked against their spans), its store and identities, and the sealed Secret
//! manifests a build lays out. `build`, `diff` and the `secret` commands share it.

use crate::diagnostics::{Diagnostics, IoError};
use crate::model::{SecretKeySource, Stack};
use crate::resolve::ResolvedEnvironment;
use crate::seal::{self, Identities, KeyPlan, KeySource, Recipients, SealEnv, SecretPlan, Store};
use miette::Diagnostic;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Secrets are declared but the environment has no one to encrypt them to.
#[derive(Debug, Error, Diagnostic)]
#[error("environment `{env}` has secrets but no age recipients")]
#[diagnostic(
    code(stackc::seal::no_recipients),
    help("add `recipients \"age1...\"` to the environment (or to environments/{env}.kdl); `stackc keygen` makes an identity and prints its recipient")
)]
pub struct NoRecipients {
    pub env: String,
    #[source_code]
    pub src: miette::NamedSource<std::sync::Arc<str>>,
    #[label("this environment")]
    pub span: miette::SourceSpan,
}

/// A declared recipient that is not a valid age recipient. The model checks only the `age1`
/// prefix; the bech32 check happens here, where the declaration's span is still at hand.
#[derive(Debug, Error, Diagnostic)]
#[error("invalid age recipient `{recipient}`: {reason}")]
#[diagnostic(
    code(stackc::seal::invalid_recipient),
    help("an age recipient is `age1` followed by 58 characters; `age-keygen -y KEYFILE` prints it, `stackc keygen` makes a new one")
)]
pub struct InvalidRecipient {
    pub recipient: String,
    pub reason: String,
    #[source_code]
    pub src: miette::NamedSource<std::sync::Arc<str>>,
    #[label("not a valid age recipient")]
    pub span: miette::SourceSpan,
}

/// The secret plans of the stack (the same in every environment).
pub fn plans(stack: &Stack) -> Vec<SecretPlan> {
    let sources = &stack.sources;
    stack
        .model
        .secrets
        .iter()
        .map(|decl| SecretPlan {
            name: decl.name.value.clone(),
            namespace: decl.namespace.value.clone(),
            secret_type: decl.secret_type.clone(),
            declared_at: sources.locate(decl.span),
            keys: decl
                .keys
                .iter()
                .map(|key| KeyPlan {
                    name: key.name.value.clone(),
                    source: match &key.source {
                        SecretKeySource::Store => KeySource::Store,
                        SecretKeySource::Generate(n) => KeySource::Generate(*n),
                        SecretKeySource::Literal(v) => KeySource::Literal(v.clone()),
                    },
                    declared_at: sources.locate(key.span),
                })
                .collect(),
        })
        .collect()
}

/// What sealing needs for one environment: recipients, identities (from `identity_files`
/// and the usual places), store path.
pub fn seal_env(
    stack: &Stack,
    env: &ResolvedEnvironment,
    identity_files: &[PathBuf],
) -> Result<SealEnv, Diagnostics> {
    let decl = stack.model.environment(&env.name).ok_or_else(|| {
        crate::diagnostics::Internal(format!("environment {} vanished", env.name))
    })?;
    if env.recipients.is_empty() {
        let located = stack.sources.locate(decl.name.span);
        return Err(NoRecipients {
            env: env.name.clone(),
            src: located.source,
            span: located.span,
        }
        .into());
    }
    // Point at each declaration that age rejects (a typo keeps the `age1` prefix but breaks the checksum).
    let mut invalid = Diagnostics::new();
    for named in decl
        .recipients
        .iter()
        .chain(decl.overlay.iter().flat_map(|o| &o.recipients))
    {
        if let Err(seal::SealError::InvalidRecipient { recipient, reason }) =
            Recipients::parse([&named.value])
        {
            let located = stack.sources.locate(named.span);
            invalid.push(InvalidRecipient {
                recipient,
                reason,
                src: located.source,
                span: located.span,
            });
        }
    }
    invalid.into_result(())?;
    Ok(SealEnv {
        name: env.name.clone(),
        recipients: Recipients::parse(&env.recipients)?,
        store_display: format!("environments/{}.secrets.sops.yaml", env.name),
        out_display: format!("out/{}", env.name),
        identities: Identities::discover(identity_files)?,
    })
}

/// The environment's secret store.
pub fn load_store(stack: &Stack, env: &str) -> Result<Store, Diagnostics> {
    Ok(Store::load(&seal::store_path(&stack.root, env))?)
}

/// An environment's sealed Secrets.
#[derive(Default)]
pub struct Sealed {
    /// (path under out/<env>/, bytes) of every Secret manifest.
    pub files: Vec<(String, Vec<u8>)>,
    /// With `check`: Secrets that changed but cannot be re-sealed without an identity. Their
    /// current bytes stand in `files`; `--check` reports them as stale.
    pub stale: Vec<String>,
    /// What sealing did to the store or could not do, for the user (never a value).
    pub notes: Vec<String>,
    /// The store's new bytes, when sealing changed it (generated values, new recipients).
    /// Nothing is written here: the build writes it only once every environment planned.
    pub store: Option<StoreUpdate>,
}

/// A secret store to rewrite: its path and new bytes (ciphertext only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUpdate {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// The sealed Secret manifests of one environment. Fills missing `generate=N` values into
/// the store first (unless `check`), returning the store's new bytes: this writes nothing.
pub fn seal_environment(
    stack: &Stack,
    env: &ResolvedEnvironment,
    dir: &Path,
    identity_files: &[PathBuf],
    check: bool,
) -> Result<Sealed, Diagnostics> {
    let plans = plans(stack);
    let mut out = Sealed::default();
    if plans.is_empty() {
        return Ok(out);
    }
    let seal_env = seal_env(stack, env, identity_files)?;
    let mut store = load_store(stack, &env.name)?;
    let missing_generated = plans.iter().any(|p| {
        p.keys.iter().any(|k| {
            matches!(k.source, KeySource::Generate(_)) && !store.contains(&p.name, &k.name)
        })
    });
    let stale_recipients = store.exists() && store.recipients() != seal_env.recipients.to_vec();
    if !check && (missing_generated || stale_recipients) {
        match store.open(&seal_env.identities) {
            Ok(mut open) => {
                let generated = seal::fill_generated(&plans, &mut open)?;
                if !generated.is_empty() || stale_recipients {
                    let text = open.render(&seal_env.recipients)?;
                    let path = seal::store_path(&stack.root, &env.name);
                    for (secret, key) in &generated {
                        out.notes.push(format!(
                            "generated {}/{secret}/{key} into {}",
                            env.name, seal_env.store_display
                        ));
                    }
                    if stale_recipients {
                        out.notes.push(format!(
                            "re-encrypted {} to the environment's recipients",
                            seal_env.store_display
                        ));
                    }
                    // Sealing goes on from the new store, as if it were on disk already.
                    store = Store::from_text(&path, Some(text.clone()))?;
                    out.store = Some(StoreUpdate {
                        path,
                        bytes: text.into_bytes(),
                    });
                }
            }
            // Without an identity the store cannot change; sealing then says what is missing.
            Err(e) if !missing_generated => out.notes.push(format!(
                "warning: {} is not encrypted to the current recipients and no identity opens it ({e})",
                seal_env.store_display
            )),
            Err(e) => return Err(e.into()),
        }
    }
    let homes = crate::emit::namespace_homes(stack);
    let mut errors = Diagnostics::new();
    for plan in &plans {
        let layer = homes.get(&plan.namespace).cloned().unwrap_or_default();
        let path = crate::emit::secret_path(&layer, &plan.namespace, &plan.name);
        let existing = match std::fs::read_to_string(dir.join(&path)) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(IoError::new("read", dir.join(&path), e).into()),
        };
        match seal::seal_secret(plan, &seal_env, &store, existing.as_deref()) {
            Ok(text) => out.files.push((path, text.into_bytes())),
            // `--check` needs no identity: a Secret that would change is simply stale.
            Err(seal::SealError::NeedIdentity(_)) if check => {
                out.files
                    .push((path.clone(), existing.unwrap_or_default().into_bytes()));
                out.stale.push(path);
            }
            Err(e) => errors.push(e),
        }
    }
    errors.into_result(out)
}
