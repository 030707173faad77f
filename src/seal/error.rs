//! The one error type of the seal stage. Every variant names the file (and, where it helps,
//! the value path) it is about, but never a plaintext value or a secret key line: errors end up
//! in terminals and CI logs.

use crate::diagnostics::IoError;
use miette::{Diagnostic, NamedSource, SourceSpan};
use std::sync::Arc;

/// Everything that can go wrong while sealing, opening or storing secrets.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum SealError {
    /// The YAML has no top-level `sops:` block.
    #[error("`{file}` is not a SOPS-encrypted file (no top-level `sops:` metadata)")]
    #[diagnostic(
        code(stackc::seal::not_sops),
        help("encrypt it with `sops -e`, or let stackc write it")
    )]
    NotSops { file: String },

    /// The file cannot be read as SOPS YAML (syntax error, truncated, missing fields).
    #[error("`{file}` is not a well-formed SOPS file: {reason}")]
    #[diagnostic(
        code(stackc::seal::malformed),
        help("the file may be truncated or edited by hand; restore it from version control")
    )]
    Malformed { file: String, reason: String },

    /// The metadata uses a SOPS feature stackc does not implement.
    #[error("`{file}` uses {feature}, which stackc does not support")]
    #[diagnostic(
        code(stackc::seal::unsupported),
        help("decrypt and re-encrypt it with `sops`")
    )]
    Unsupported { file: String, feature: String },

    /// None of the identities could unwrap the data key.
    #[error("no age identity could decrypt `{file}`; looked in: {}", looked_in.join(", "))]
    #[diagnostic(
        code(stackc::seal::no_identity),
        help(
            "the file is encrypted to: {}; pass `--identity FILE`, or set SOPS_AGE_KEY_FILE or \
             SOPS_AGE_KEY to a matching key",
            recipients.join(", ")
        )
    )]
    NoIdentity {
        file: String,
        recipients: Vec<String>,
        looked_in: Vec<String>,
    },

    /// An encrypted value failed authentication (wrong key, moved or tampered value).
    #[error("the encrypted value at `{path}` in `{file}` failed authentication")]
    #[diagnostic(
        code(stackc::seal::value_tampered),
        help("the value was modified, or moved from another key; restore the file from version control")
    )]
    ValueTampered { file: String, path: String },

    /// A value is not in sops' `ENC[AES256_GCM,...]` form where one is required.
    #[error("the value at `{path}` in `{file}` is not a valid SOPS encrypted value: {reason}")]
    #[diagnostic(code(stackc::seal::bad_value))]
    BadValue {
        file: String,
        path: String,
        reason: String,
    },

    /// The stored MAC itself does not decrypt (tampered MAC or lastmodified).
    #[error("the MAC of `{file}` cannot be decrypted (tampered `mac` or `lastmodified`)")]
    #[diagnostic(code(stackc::seal::mac_tampered))]
    MacTampered { file: String },

    /// The stored MAC does not match the values.
    #[error("MAC mismatch in `{file}`: its values are not the ones that were encrypted")]
    #[diagnostic(
        code(stackc::seal::mac_mismatch),
        help("values were added, removed, reordered or edited outside sops; restore the file")
    )]
    MacMismatch { file: String },

    /// A recipient string is not an age X25519 recipient.
    #[error("invalid age recipient `{recipient}`: {reason}")]
    #[diagnostic(
        code(stackc::seal::invalid_recipient),
        help("an age recipient looks like `age1` followed by 58 characters (`age-keygen -y KEYFILE` prints it)")
    )]
    InvalidRecipient { recipient: String, reason: String },

    /// Encrypting needs at least one recipient.
    #[error("no age recipients for `{file}`")]
    #[diagnostic(
        code(stackc::seal::no_recipients),
        help("declare the environment's recipients (`age1...`)")
    )]
    NoRecipients { file: String },

    /// A key file is readable by other users.
    #[error("age key file `{path}` is readable by other users (mode {mode:o})")]
    #[diagnostic(
        code(stackc::seal::key_file_permissions),
        help("run `chmod 600 {path}`")
    )]
    KeyFilePermissions { path: String, mode: u32 },

    /// A key file (or `SOPS_AGE_KEY`) holds something that is not an age identity.
    #[error("`{origin}` line {line}: not an age identity (expected `AGE-SECRET-KEY-1...`, a `#` comment or a blank line)")]
    #[diagnostic(code(stackc::seal::bad_key_file))]
    BadKeyFile { origin: String, line: usize },

    /// A key file holds no identity at all.
    #[error("`{origin}` holds no age identity")]
    #[diagnostic(code(stackc::seal::empty_key_file))]
    EmptyKeyFile { origin: String },

    /// `keygen` refuses to overwrite a key.
    #[error("`{path}` already exists; refusing to overwrite an age key")]
    #[diagnostic(
        code(stackc::seal::key_file_exists),
        help("choose another path, or delete the old key first if you are sure it is unused")
    )]
    KeyFileExists { path: String },

    /// The secret store does not have the `<secret>: {<key>: <string>}` shape.
    #[error("secret store `{file}` has an unexpected shape at `{path}`: {reason}")]
    #[diagnostic(
        code(stackc::seal::store_shape),
        help(
            "the store holds `<secret-name>: {{<key>: <string value>}}`; fix it with `sops edit`"
        )
    )]
    StoreShape {
        file: String,
        path: String,
        reason: String,
    },

    /// A declared store key has no value in the store.
    #[error(transparent)]
    #[diagnostic(transparent)]
    MissingStoreKey(Box<MissingStoreKey>),

    /// Sealing needs an identity (store or existing manifest) and none works.
    #[error(transparent)]
    #[diagnostic(transparent)]
    NeedIdentity(Box<NeedIdentity>),

    /// A file could not be read or written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),

    /// A broken invariant inside the seal stage.
    #[error("internal error in seal: {0}")]
    #[diagnostic(
        code(stackc::internal),
        help("this is a bug in stackc; please report it with the command you ran")
    )]
    Internal(String),
}

/// A secret key declared to come from the store has no value there.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("secret `{secret}` key `{key}` has no value in `{store}`")]
#[diagnostic(
    code(stackc::seal::missing_store_key),
    help(
        "set it with `stackc secret set {env} {secret} {key}`, or declare `generate=N` to have \
         stackc generate it"
    )
)]
pub struct MissingStoreKey {
    pub env: String,
    pub secret: String,
    pub key: String,
    pub store: String,
    #[source_code]
    pub source_code: NamedSource<Arc<str>>,
    #[label("declared here")]
    pub span: SourceSpan,
}

/// Sealing a secret needs an identity and none of the discovered ones works.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error(
    "cannot seal secret `{secret}` for environment `{env}`: {reason}; store `{store}`, output \
     {out}; looked for an age identity in: {}",
    looked_in.join(", ")
)]
#[diagnostic(
    code(stackc::seal::need_identity),
    help(
        "`{undecryptable}` is encrypted to: {}; pass `--identity FILE`, or set \
         SOPS_AGE_KEY_FILE or SOPS_AGE_KEY, with a key for one of them",
        encrypted_to.join(", ")
    )
)]
pub struct NeedIdentity {
    pub env: String,
    pub secret: String,
    pub store: String,
    pub out: String,
    pub reason: String,
    pub looked_in: Vec<String>,
    /// The file no identity opened, and its recipients: an identity may have been found that
    /// is simply not one of them (a store encrypted to other keys).
    pub undecryptable: String,
    pub encrypted_to: Vec<String>,
}

impl SealError {
    pub(crate) fn malformed(file: &str, reason: impl Into<String>) -> Self {
        SealError::Malformed {
            file: file.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn internal(what: impl Into<String>) -> Self {
        SealError::Internal(what.into())
    }

    /// The miette code, for tests and callers that branch on the kind.
    pub fn code_str(&self) -> String {
        self.code().map(|c| c.to_string()).unwrap_or_default()
    }
}
