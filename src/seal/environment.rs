//! Sealing one environment of a stack: secret plans from the declarations, the environment's
//! recipients (checked against their spans), its store and identities, and the sealed Secret
//! manifests a build lays out. `build`, `diff` and the `secret` commands share it.

use crate::diagnostics::{Diagnostics, IoError};
use crate::model::{Model, SecretKeySource, Stack};
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

/// The secret plans of the stack (the same in every environment). A `from=` key takes the
/// source and store address of the key its chain ends at (validation refused cycles).
pub fn plans(stack: &Stack) -> Vec<SecretPlan> {
    let sources = &stack.sources;
    let model = &stack.model;
    model
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
                .map(|key| {
                    let (source, from) = origin(model, &key.source);
                    KeyPlan {
                        name: key.name.value.clone(),
                        source,
                        from,
                        declared_at: sources.locate(key.span),
                    }
                })
                .collect(),
        })
        .collect()
}

/// The source a key's value comes from, following `from=` to the key that holds it, and
/// that key's `(secret, key)` when it is another one.
fn origin(model: &Model, source: &SecretKeySource) -> (KeySource, Option<(String, String)>) {
    let mut source = source;
    let mut from = None;
    // Validation refused cycles and unknown names; the bound only keeps a bug finite.
    for _ in 0..=model.secrets.len() {
        let SecretKeySource::From { secret, key } = source else {
            break;
        };
        from = Some((secret.value.clone(), key.value.clone()));
        match model
            .secret(&secret.value)
            .and_then(|s| s.keys.iter().find(|k| k.name.value == key.value))
        {
            Some(next) => source = &next.source,
            None => break,
        }
    }
    let source = match source {
        SecretKeySource::Generate(n) => KeySource::Generate(*n),
        SecretKeySource::Literal(v) => KeySource::Literal(v.clone()),
        SecretKeySource::Store | SecretKeySource::From { .. } => KeySource::Store,
    };
    (source, from)
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

/// A new text for an environment's secret store, not yet written: sealing never writes, so a
/// build that fails afterwards changes no store. The build writes it (atomically, see
/// [`StoreUpdate::write`]) only once every environment planned.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreUpdate {
    /// The store file (`<root>/environments/<env>.secrets.sops.yaml`).
    pub path: PathBuf,
    /// Its new bytes (SOPS-encrypted: no plaintext).
    pub bytes: Vec<u8>,
}

impl StoreUpdate {
    /// Writes the new store atomically (temp file, sync, rename).
    pub fn write(&self) -> Result<(), IoError> {
        seal::store::write_file(&self.path, &self.bytes)
    }
}

// Ciphertext only, but long: a debug print says which file, not what.
impl std::fmt::Debug for StoreUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreUpdate")
            .field("path", &self.path)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// A sealed Secret in `out/` whose bytes are not the ones stackc recorded writing, with no
/// identity at hand to verify its MAC or to seal it again. Keeping it on the strength of its
/// (unauthenticated) annotation would let any edit of a value, `mac` or `lastmodified` pass.
#[derive(Debug, Error, Diagnostic)]
#[error("`{path}` changed since stackc sealed it, and no identity can verify or reseal it")]
#[diagnostic(
    code(stackc::seal::sealed_secret_changed),
    help("its bytes differ from the hash `.stackc-files` records for it; restore it (`git checkout -- {path}`), or build with an identity of the environment (`--identity FILE`, SOPS_AGE_KEY_FILE) so stackc seals it again; looked in: {looked_in}")
)]
pub struct SealedSecretChanged {
    pub path: String,
    pub looked_in: String,
}

/// An environment's sealed Secrets.
#[derive(Default)]
pub struct Sealed {
    /// (path under out/<env>/, bytes) of every Secret manifest.
    pub files: Vec<(String, Vec<u8>)>,
    /// With `check`: Secrets that changed but cannot be re-sealed without an identity. Their
    /// current bytes stand in `files`; `--check` reports them as stale.
    pub stale: Vec<String>,
    /// Of `stale`, the files whose bytes are not what stackc recorded writing (edited by hand).
    pub edited: Vec<String>,
    /// What sealing did to the store or could not do, for the user (never a value).
    pub notes: Vec<String>,
    /// The store's new text when generated values were filled in or it was re-encrypted to
    /// new recipients; the Secrets in `files` are sealed from it. `None`: unchanged.
    pub store: Option<StoreUpdate>,
}

/// The sealed Secret manifests of one environment. Fills missing `generate=N` values into
/// the store in memory (unless `check`) and returns the new store in [`Sealed::store`]: this
/// function writes nothing. With an identity that opens it, the store's MAC is verified
/// first, whether or not a value is needed.
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
    store.verify(&seal_env.identities)?;
    let missing_generated = plans.iter().any(|p| {
        p.keys.iter().any(|k| {
            let (secret, key) = k.stored_at(&p.name);
            matches!(k.source, KeySource::Generate(_)) && !store.contains(secret, key)
        })
    });
    let stale_recipients = store.exists() && store.recipients() != seal_env.recipients.to_vec();
    if !check && (missing_generated || stale_recipients) {
        match store.open(&seal_env.identities) {
            Ok(mut open) => {
                let generated = seal::fill_generated(&plans, &mut open)?;
                if let Some(updated) = open.updated(&seal_env.recipients)? {
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
                    out.store = Some(StoreUpdate {
                        path: updated.path().to_path_buf(),
                        bytes: updated.text().unwrap_or_default().as_bytes().to_vec(),
                    });
                    // Seal from the store as it will be, already open: no re-read, no identity.
                    store = updated;
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
    // What stackc recorded writing, for the Secrets only: no Secret, no read of the index (it
    // lists every file of the environment).
    let index = if plans.is_empty() {
        crate::emit::Index::default()
    } else {
        crate::emit::load_index(dir)?
    };
    let layout = crate::layout::Layout::new(stack);
    let mut errors = Diagnostics::new();
    for plan in &plans {
        let path = layout.secret_path(&plan.namespace, &plan.name);
        let existing = match std::fs::read(dir.join(&path)) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(IoError::new("read", dir.join(&path), e).into()),
        };
        // Bytes that are not what stackc recorded writing are vouched for only by their MAC.
        let changed = match (&existing, index.hash(&path)) {
            (Some(bytes), Some(recorded)) => blake3::hash(bytes) != recorded,
            _ => false,
        };
        let text = existing
            .as_deref()
            .and_then(|bytes| std::str::from_utf8(bytes).ok());
        let trusted = !changed || text.is_some_and(|t| opens(t, &path, &seal_env));
        let basis = if trusted { text } else { None };
        match seal::seal_secret(plan, &seal_env, &store, basis) {
            Ok(text) => out.files.push((path, text.into_bytes())),
            // `--check` needs no identity: a Secret that would change is simply stale.
            Err(seal::SealError::NeedIdentity(_)) if check => {
                out.files.push((path.clone(), existing.unwrap_or_default()));
                if changed {
                    out.edited.push(path.clone());
                }
                out.stale.push(path);
            }
            Err(seal::SealError::NeedIdentity(_)) if !trusted => {
                errors.push(SealedSecretChanged {
                    path: format!("out/{}/{path}", env.name),
                    looked_in: seal_env.identities.looked_in().join(", "),
                });
            }
            Err(e) => errors.push(e),
        }
    }
    errors.into_result(out)
}

/// Whether a sealed file opens with an identity and its MAC verifies.
fn opens(text: &str, path: &str, env: &SealEnv) -> bool {
    !env.identities.is_empty()
        && seal::SopsFile::parse(path, text)
            .and_then(|file| file.decrypt(&env.identities))
            .is_ok()
}
