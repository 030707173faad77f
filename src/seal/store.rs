//! The per-environment secret store: `environments/<env>.secrets.sops.yaml`, one SOPS file
//! shaped `<secret-name>: {<key>: <value>}`, encrypted with sops' default rule to the
//! environment's recipients, so `sops -d` and `sops edit` work on it directly.
//!
//! [`Store`] is the file as read, without keys: enough for recipients and for
//! [`Store::fingerprint`], which hashes the stored ciphertexts (never plaintext) so that a
//! build with no identity can still tell whether a sealed Secret is current. [`OpenStore`] is
//! the decrypted store: get, set, generate, remove, and an atomic write that keeps the
//! ciphertext of every unchanged value.

use super::error::SealError;
use super::identity::Identities;
use super::plaintext::Plaintext;
use super::recipient::Recipients;
use super::rule::{Rule, DEFAULT_UNENCRYPTED_SUFFIX};
use super::sops::{encrypt_keeping_key, Opened, SopsFile};
use super::tree::Node;
use crate::diagnostics::IoError;
use crate::value::Value;
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::Rng as _;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The store's path for an environment, relative to the stack root.
pub fn store_path(root: &Path, env: &str) -> PathBuf {
    root.join("environments")
        .join(format!("{env}.secrets.sops.yaml"))
}

/// The store file as read (possibly not existing yet), decrypted lazily and at most once.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    text: Option<String>,
    sealed: Option<SopsFile>,
    opened: OnceLock<Opened>,
}

impl Store {
    /// Reads the store at `path`; a missing file is an empty store.
    pub fn load(path: &Path) -> Result<Self, SealError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(IoError::new("read", path, e).into()),
        };
        Self::from_text(path, text)
    }

    /// A store from its text (`None`: the file does not exist).
    pub fn from_text(path: &Path, text: Option<String>) -> Result<Self, SealError> {
        let sealed = match &text {
            Some(text) => {
                let file = SopsFile::parse(&path.display().to_string(), text)?;
                check_sealed_shape(&file)?;
                Some(file)
            }
            None => None,
        };
        Ok(Store {
            path: path.to_path_buf(),
            text,
            sealed,
            opened: OnceLock::new(),
        })
    }

    /// The path, for messages.
    pub fn display(&self) -> String {
        let path = self.path.strip_prefix(".").unwrap_or(&self.path);
        path.display().to_string()
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's text (`None`: the file does not exist).
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// Writes this store's text to its path, atomically (nothing for a store with no file).
    pub fn write(&self) -> Result<(), SealError> {
        if let Some(text) = &self.text {
            write_file(&self.path, text.as_bytes())?;
        }
        Ok(())
    }

    /// Decrypts the store and verifies its MAC when one of `identities` opens it, so that a
    /// tampered value, `mac` or `lastmodified` is an error even when nothing needs a value.
    /// `Ok(false)`: no identity opens it, so it could not be verified.
    pub fn verify(&self, identities: &Identities) -> Result<bool, SealError> {
        if identities.is_empty() || self.sealed.is_none() {
            return Ok(false);
        }
        match self.opened(identities) {
            Ok(_) => Ok(true),
            Err(SealError::NoIdentity { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether the file exists.
    pub fn exists(&self) -> bool {
        self.sealed.is_some()
    }

    /// The recipients it is encrypted to (empty when it does not exist).
    pub fn recipients(&self) -> Vec<String> {
        self.sealed
            .as_ref()
            .map(SopsFile::recipients)
            .unwrap_or_default()
    }

    /// The stored `ENC[...]` text of a value, if present (no identity needed).
    pub fn ciphertext(&self, secret: &str, key: &str) -> Option<&str> {
        self.sealed
            .as_ref()?
            .documents()
            .first()?
            .get(secret)?
            .as_map()?
            .get(key)?
            .as_str()
    }

    /// Whether a value is present (no identity needed).
    pub fn contains(&self, secret: &str, key: &str) -> bool {
        self.ciphertext(secret, key).is_some()
    }

    /// blake3 over the secret name, the key names and their stored ciphertexts (an absent key
    /// hashes as absent). Stable while the values are: unchanged values keep their ciphertext.
    pub fn fingerprint(&self, secret: &str, keys: &[&str]) -> String {
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        keys.dedup();
        let mut hasher =
            blake3::Hasher::new_derive_key("stackc.dev 2025 secret store fingerprint v1");
        field(&mut hasher, secret);
        for key in keys {
            field(&mut hasher, key);
            match self.ciphertext(secret, key) {
                Some(enc) => field(&mut hasher, enc),
                None => {
                    hasher.update(b"\xffabsent");
                }
            }
        }
        hasher.finalize().to_hex().to_string()
    }

    /// The decrypted file, decrypting it on first use; `None` when the store does not exist.
    pub fn opened(&self, identities: &Identities) -> Result<Option<&Opened>, SealError> {
        let Some(sealed) = &self.sealed else {
            return Ok(None);
        };
        if let Some(opened) = self.opened.get() {
            return Ok(Some(opened));
        }
        let opened = sealed.decrypt(identities)?;
        let _ = self.opened.set(opened);
        Ok(self.opened.get())
    }

    /// A plaintext value (decrypting the store on first use).
    pub fn get(
        &self,
        identities: &Identities,
        secret: &str,
        key: &str,
    ) -> Result<Option<&Plaintext>, SealError> {
        Ok(self
            .opened(identities)?
            .and_then(|o| o.documents().first())
            .and_then(|doc| doc.secret_at(&[secret, key])))
    }

    /// Opens the store for editing; a store that does not exist yet needs no identity.
    pub fn open(&self, identities: &Identities) -> Result<OpenStore, SealError> {
        let opened = self.opened(identities)?.cloned();
        let mut entries: BTreeMap<String, BTreeMap<String, Plaintext>> = BTreeMap::new();
        if let Some(doc) = opened.as_ref().and_then(|o| o.documents().first()) {
            let Node::Map(secrets) = doc else {
                return Err(self.shape("<root>", "not a mapping"));
            };
            for (secret, keys) in secrets {
                let Node::Map(keys) = keys else {
                    return Err(self.shape(secret, "not a mapping of keys"));
                };
                let slot = entries.entry(secret.clone()).or_default();
                for (key, value) in keys {
                    let Node::Secret(leaf) = value else {
                        return Err(
                            self.shape(&format!("{secret}.{key}"), "not an encrypted string")
                        );
                    };
                    slot.insert(key.clone(), leaf.plaintext.clone());
                }
            }
        }
        Ok(OpenStore {
            path: self.path.clone(),
            text: self.text.clone(),
            previous: opened,
            entries,
        })
    }

    fn shape(&self, path: &str, reason: &str) -> SealError {
        SealError::StoreShape {
            file: self.display(),
            path: path.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// The shape check that needs no key: one document, a map of maps of strings.
fn check_sealed_shape(file: &SopsFile) -> Result<(), SealError> {
    let shape = |path: &str, reason: &str| SealError::StoreShape {
        file: file.name().to_string(),
        path: path.to_string(),
        reason: reason.to_string(),
    };
    if file.documents().len() > 1 {
        return Err(shape("<root>", "more than one YAML document"));
    }
    for (secret, keys) in file.documents().iter().flatten() {
        let keys = keys
            .as_map()
            .ok_or_else(|| shape(secret, "not a mapping of keys"))?;
        for (key, value) in keys {
            if !matches!(value, Value::String(_)) {
                return Err(shape(&format!("{secret}.{key}"), "not a string"));
            }
        }
    }
    Ok(())
}

fn field(hasher: &mut blake3::Hasher, text: &str) {
    hasher.update(&(text.len() as u64).to_le_bytes());
    hasher.update(text.as_bytes());
}

/// The decrypted store, for editing.
#[derive(Debug)]
pub struct OpenStore {
    path: PathBuf,
    text: Option<String>,
    previous: Option<Opened>,
    entries: BTreeMap<String, BTreeMap<String, Plaintext>>,
}

impl OpenStore {
    /// A value.
    pub fn get(&self, secret: &str, key: &str) -> Option<&Plaintext> {
        self.entries.get(secret)?.get(key)
    }

    /// The secret names, sorted.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The key names of a secret, sorted.
    pub fn keys(&self, secret: &str) -> impl Iterator<Item = &str> {
        self.entries
            .get(secret)
            .into_iter()
            .flat_map(|k| k.keys().map(String::as_str))
    }

    /// Sets a value given by the caller.
    pub fn set(&mut self, secret: &str, key: &str, value: Plaintext) -> Result<(), SealError> {
        for name in [secret, key] {
            if name.is_empty() || name.ends_with(DEFAULT_UNENCRYPTED_SUFFIX) {
                return Err(SealError::StoreShape {
                    file: self.path.display().to_string(),
                    path: format!("{secret}.{key}"),
                    reason: format!(
                        "names must be non-empty and not end in `{DEFAULT_UNENCRYPTED_SUFFIX}`"
                    ),
                });
            }
        }
        self.entries
            .entry(secret.to_string())
            .or_default()
            .insert(key.to_string(), value);
        Ok(())
    }

    /// Sets a new random value of `length` ASCII letters and digits from the OS RNG.
    pub fn generate(&mut self, secret: &str, key: &str, length: usize) -> Result<(), SealError> {
        let value: String = OsRng
            .sample_iter(&Alphanumeric)
            .take(length)
            .map(char::from)
            .collect();
        self.set(secret, key, Plaintext::new(value))
    }

    /// Removes a value (and the secret, when it was its last key); whether it was there.
    pub fn remove(&mut self, secret: &str, key: &str) -> bool {
        let Some(keys) = self.entries.get_mut(secret) else {
            return false;
        };
        let removed = keys.remove(key).is_some();
        if keys.is_empty() {
            self.entries.remove(secret);
        }
        removed
    }

    /// The file text for these values and recipients: unchanged values keep their ciphertext,
    /// and nothing changes at all when neither values nor recipients did.
    pub fn render(&self, recipients: &Recipients) -> Result<String, SealError> {
        self.render_keeping_key(recipients).map(|(text, _)| text)
    }

    fn render_keeping_key(
        &self,
        recipients: &Recipients,
    ) -> Result<(String, super::cipher::DataKey), SealError> {
        let doc = Node::Map(
            self.entries
                .iter()
                .map(|(secret, keys)| {
                    let keys = keys
                        .iter()
                        .map(|(k, v)| (k.clone(), Node::secret(v.clone())))
                        .collect();
                    (secret.clone(), Node::Map(keys))
                })
                .collect(),
        );
        encrypt_keeping_key(
            &self.path.display().to_string(),
            &[doc],
            &Rule::default(),
            recipients,
            self.previous.as_ref(),
        )
    }

    /// The store these values and recipients make, in memory and already opened (sealing
    /// from it needs no identity, and nothing is read back from disk); `None` when the file
    /// would not change. Nothing is written: the caller decides when (after every check).
    pub fn updated(&self, recipients: &Recipients) -> Result<Option<Store>, SealError> {
        let (text, key) = self.render_keeping_key(recipients)?;
        if self.text.as_deref() == Some(text.as_str()) {
            return Ok(None);
        }
        let sealed = SopsFile::parse(&self.path.display().to_string(), &text)?;
        let opened = sealed.decrypt_with(key)?;
        Ok(Some(Store {
            path: self.path.clone(),
            text: Some(text),
            sealed: Some(sealed),
            opened: OnceLock::from(opened),
        }))
    }

    /// Writes the store atomically (temp file in the same directory, then rename); returns
    /// whether the file changed. Creates `environments/` when needed.
    pub fn write(&mut self, recipients: &Recipients) -> Result<bool, SealError> {
        let Some(updated) = self.updated(recipients)? else {
            return Ok(false);
        };
        updated.write()?;
        // Later writes in this session build on what is now on disk.
        self.previous = updated.opened.get().cloned();
        self.text = updated.text;
        Ok(true)
    }
}

/// Writes `bytes` to `path` atomically and durably: a temp file in the same folder (created
/// when needed), synced, then renamed over `path`. On error nothing at `path` changed.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| IoError::new("create", &dir, e))?;
    // The prefix out/'s temp files use, so one sweep finds what a killed run left behind.
    let mut temp = tempfile::Builder::new()
        .prefix(".stackc-")
        .tempfile_in(&dir)
        .map_err(|e| IoError::new("create a temporary file in", &dir, e))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| IoError::new("write", temp.path(), e))?;
    temp.persist(path)
        .map_err(|e| IoError::new("replace", path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests;
