//! Sealing one Kubernetes Secret manifest per declared secret per environment: the API the
//! build calls. The result is a `v1 Secret` whose `stringData` is SOPS-encrypted with
//! `encrypted_regex: ^(data|stringData)$`, ready for Flux's kustomize-controller.
//!
//! No churn: the manifest carries `stackc.dev/fingerprint`, a blake3 hash of everything that
//! decides its content. When the existing out/ file has the same fingerprint and the same
//! recipients it is returned byte for byte, with no identity needed.
//!
//! What the fingerprint hashes, and why it leaks nothing: the declaration (name, namespace,
//! type, each key's name and source) and, for store and generated keys, the store's
//! fingerprint, which hashes the stored *ciphertexts*, never plaintext. A literal value is
//! hashed as declared: it is written in clear in `stacks.kdl`, so its hash reveals nothing the
//! repository does not already show. Recipients are deliberately not hashed: they are compared
//! with the `sops.age` list directly, so that a recipient change is a pure rekey that keeps
//! values, `lastmodified` and the MAC (the annotation is inside the MAC, so it must not change).

use super::error::{MissingStoreKey, NeedIdentity, SealError};
use super::identity::Identities;
use super::plaintext::Plaintext;
use super::recipient::Recipients;
use super::rule::Rule;
use super::sops::{encrypt, rekey, SopsFile};
use super::store::{OpenStore, Store};
use super::tree::Node;
use crate::source::Located;
use crate::value::{map, Value};
use indexmap::IndexMap;

/// The annotation that holds a sealed Secret's fingerprint.
pub const FINGERPRINT_ANNOTATION: &str = "stackc.dev/fingerprint";

/// One declared secret, resolved for one environment.
#[derive(Clone, Debug)]
pub struct SecretPlan {
    pub name: String,
    pub namespace: String,
    /// The Kubernetes Secret `type` (`Opaque`, `kubernetes.io/tls`, ...).
    pub secret_type: String,
    pub keys: Vec<KeyPlan>,
    pub declared_at: Located,
}

/// One key of a declared secret.
#[derive(Clone, Debug)]
pub struct KeyPlan {
    pub name: String,
    /// Where the value comes from; for a `from=` key, the source of the key it names.
    pub source: KeySource,
    /// `from="secret/key"`, followed to the key that holds the value: `(secret, key)`.
    pub from: Option<(String, String)>,
    pub declared_at: Located,
}

impl KeyPlan {
    /// Where the key's value lives in the store: `(secret, key)`, the source's for `from=`.
    pub fn stored_at<'a>(&'a self, secret: &'a str) -> (&'a str, &'a str) {
        match &self.from {
            Some((secret, key)) => (secret, key),
            None => (secret, &self.name),
        }
    }
}

/// Where a key's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// Declared in clear in `stacks.kdl` (`value="..."`).
    Literal(String),
    /// Set by the user in the store (`stackc secret set`).
    Store,
    /// Generated into the store (N alphanumeric characters) when missing.
    Generate(usize),
}

impl KeySource {
    fn is_stored(&self) -> bool {
        !matches!(self, KeySource::Literal(_))
    }
}

/// What sealing needs to know about the environment.
#[derive(Debug)]
pub struct SealEnv {
    pub name: String,
    /// The environment's recipients (validated, sorted).
    pub recipients: Recipients,
    /// The store's path as users see it (`environments/prod.secrets.sops.yaml`).
    pub store_display: String,
    /// The output directory as users see it (`out/prod`), for messages.
    pub out_display: String,
    /// The identities discovered (possibly none) and the places looked.
    pub identities: Identities,
}

/// The fingerprint a sealed Secret for `plan` must carry, given the store as it is now.
pub fn fingerprint(plan: &SecretPlan, store: &Store) -> String {
    let mut hasher = blake3::Hasher::new_derive_key("stackc.dev 2025 sealed secret fingerprint v1");
    let mut field = |text: &str| {
        hasher.update(&(text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    };
    field(&plan.name);
    field(&plan.namespace);
    field(&plan.secret_type);
    for key in &plan.keys {
        field(&key.name);
        // Only keys with `from=` hash where they read: every other fingerprint stays as it was.
        if let Some((secret, source)) = &key.from {
            field("from");
            field(secret);
            field(source);
        }
        match &key.source {
            KeySource::Literal(value) => {
                field("literal");
                field(value);
            }
            KeySource::Store => field("store"),
            KeySource::Generate(length) => {
                field("generate");
                field(&length.to_string());
            }
        }
    }
    let stored: Vec<&str> = plan
        .keys
        .iter()
        .filter(|k| k.source.is_stored() && k.from.is_none())
        .map(|k| k.name.as_str())
        .collect();
    field(&store.fingerprint(&plan.name, &stored));
    for key in plan.keys.iter().filter(|k| k.source.is_stored()) {
        if let Some((secret, source)) = &key.from {
            field(&store.fingerprint(secret, &[source.as_str()]));
        }
    }
    hasher.finalize().to_hex().to_string()
}

/// Seals the Secret for `plan`. `existing` is the current out/ file, if any.
///
/// Returns `existing` unchanged when its fingerprint and recipients are current (no identity
/// needed; when an identity opens it, it must also decrypt with a valid MAC); rekeys it when
/// only the recipients changed; otherwise decrypts the store and encrypts, reusing the
/// existing file's data key and unchanged ciphertexts when an identity opens it.
pub fn seal_secret(
    plan: &SecretPlan,
    env: &SealEnv,
    store: &Store,
    existing: Option<&str>,
) -> Result<String, SealError> {
    let wanted = fingerprint(plan, store);
    let out_name = format!(
        "{} (Secret {}/{})",
        env.out_display, plan.namespace, plan.name
    );
    // An unreadable out/ file is generated output: it is simply replaced.
    let current = existing.and_then(|text| SopsFile::parse(&out_name, text).ok());
    if let (Some(text), Some(file)) = (existing, &current) {
        let same_recipients = file.recipients() == env.recipients.to_vec();
        if annotation(file) == Some(wanted.as_str()) {
            // Without an identity the file cannot be authenticated and is kept (no churn); with
            // one, a file that no longer opens (edited by hand, damaged) is sealed afresh below
            // instead of being kept forever because its annotation still matches.
            match (same_recipients, file.decrypt(&env.identities)) {
                (true, Ok(_) | Err(SealError::NoIdentity { .. })) => return Ok(text.to_string()),
                (false, Ok(opened)) => return rekey(&opened, &env.recipients),
                (false, Err(e @ SealError::NoIdentity { .. })) => {
                    return Err(need_identity(
                        plan,
                        env,
                        &out_name,
                        e,
                        "the recipients changed, and re-wrapping the data key needs an identity that opens the existing Secret",
                    ))
                }
                // A damaged out/ file is sealed afresh below.
                (_, Err(_)) => {}
            }
        }
    }

    let doc = build(plan, env, store, &out_name)?;
    let previous = current.and_then(|file| file.decrypt(&env.identities).ok());
    let text = encrypt(
        &out_name,
        &[doc],
        &Rule::kubernetes_secret(),
        &env.recipients,
        previous.as_ref(),
    )?;
    assert_sealed(&text, &out_name)?;
    Ok(text)
}

/// The plaintext Secret document.
fn build(
    plan: &SecretPlan,
    env: &SealEnv,
    store: &Store,
    out_name: &str,
) -> Result<Node, SealError> {
    let needs_store = plan.keys.iter().any(|k| k.source.is_stored());
    let opened = if needs_store {
        store.opened(&env.identities).map_err(|e| {
            need_identity(
                plan,
                env,
                out_name,
                e,
                "its values are new or changed and the store must be decrypted",
            )
        })?
    } else {
        None
    };
    let stored = |key: &KeyPlan| {
        let (secret, key) = key.stored_at(&plan.name);
        opened
            .and_then(|o| o.documents().first())
            .and_then(|doc| doc.secret_at(&[secret, key]))
    };
    let mut data = IndexMap::new();
    for key in &plan.keys {
        let value = match &key.source {
            KeySource::Literal(value) => Plaintext::new(value.clone()),
            KeySource::Store | KeySource::Generate(_) => match stored(key) {
                Some(value) => value.clone(),
                None => {
                    let (secret, missing) = key.stored_at(&plan.name);
                    return Err(SealError::MissingStoreKey(Box::new(MissingStoreKey {
                        env: env.name.clone(),
                        secret: secret.to_string(),
                        key: missing.to_string(),
                        store: env.store_display.clone(),
                        source_code: key.declared_at.source.clone(),
                        span: key.declared_at.span,
                    })));
                }
            },
        };
        data.insert(key.name.clone(), Node::secret(value));
    }
    let metadata = map([
        ("name", Value::from(plan.name.as_str())),
        ("namespace", Value::from(plan.namespace.as_str())),
        (
            "annotations",
            map([(
                FINGERPRINT_ANNOTATION,
                Value::from(fingerprint(plan, store)),
            )]),
        ),
    ]);
    Ok(Node::Map(IndexMap::from([
        ("apiVersion".to_string(), Node::Clear("v1".into())),
        ("kind".to_string(), Node::Clear("Secret".into())),
        ("metadata".to_string(), Node::clear(metadata)),
        (
            "type".to_string(),
            Node::Clear(plan.secret_type.as_str().into()),
        ),
        ("stringData".to_string(), Node::Map(data)),
    ])))
}

/// Generates the missing values of `generate=N` keys into the opened store; returns the
/// `(secret, key)` pairs generated (the caller writes the store when there are any).
pub fn fill_generated(
    plans: &[SecretPlan],
    store: &mut OpenStore,
) -> Result<Vec<(String, String)>, SealError> {
    let mut generated = Vec::new();
    for plan in plans {
        // A `from=` key is generated as its source key, in that key's own plan.
        for key in plan.keys.iter().filter(|k| k.from.is_none()) {
            if let KeySource::Generate(length) = key.source {
                if store.get(&plan.name, &key.name).is_none() {
                    store.generate(&plan.name, &key.name, length)?;
                    generated.push((plan.name.clone(), key.name.clone()));
                }
            }
        }
    }
    Ok(generated)
}

/// The `sops-age` Secret Flux decrypts with, holding an identity file: for stdout only.
pub fn bootstrap_secret(identity_file_text: &Plaintext) -> Plaintext {
    let doc = map([
        ("apiVersion", Value::from("v1")),
        ("kind", Value::from("Secret")),
        (
            "metadata",
            map([("name", "sops-age"), ("namespace", "flux-system")]),
        ),
        ("type", Value::from("Opaque")),
        (
            "stringData",
            map([("age.agekey", identity_file_text.expose())]),
        ),
    ]);
    Plaintext::new(crate::yaml::to_yaml(&doc))
}

fn annotation(file: &SopsFile) -> Option<&str> {
    file.documents()
        .first()?
        .get("metadata")?
        .as_map()?
        .get("annotations")?
        .as_map()?
        .get(FINGERPRINT_ANNOTATION)?
        .as_str()
}

/// Turns "no identity opens this file" into the error that names everything involved; other
/// errors pass through.
fn need_identity(
    plan: &SecretPlan,
    env: &SealEnv,
    out_name: &str,
    cause: SealError,
    reason: &str,
) -> SealError {
    match cause {
        SealError::NoIdentity {
            file, recipients, ..
        } => SealError::NeedIdentity(Box::new(NeedIdentity {
            env: env.name.clone(),
            secret: plan.name.clone(),
            store: env.store_display.clone(),
            out: out_name.to_string(),
            reason: reason.to_string(),
            looked_in: env.identities.looked_in().to_vec(),
            undecryptable: file,
            encrypted_to: recipients,
        })),
        other => other,
    }
}

/// The last line of defence: every `stringData`/`data` value in the output is encrypted.
fn assert_sealed(text: &str, out_name: &str) -> Result<(), SealError> {
    let file = SopsFile::parse(out_name, text)?;
    for doc in file.documents() {
        for section in ["stringData", "data"] {
            let Some(values) = doc.get(section).and_then(Value::as_map) else {
                continue;
            };
            for (key, value) in values {
                let sealed = matches!(value, Value::String(s) if s.is_empty() || super::cipher::is_encrypted(s));
                if !sealed {
                    return Err(SealError::internal(format!(
                        "`{section}.{key}` of {out_name} would be written unencrypted"
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
