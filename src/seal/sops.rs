//! SOPS documents as a whole: parse a (multi-document) SOPS YAML file without any key
//! ([`SopsFile`]), open it with age identities ([`SopsFile::decrypt`] -> [`Opened`]: data key
//! unwrapped, every value decrypted, MAC verified), and write one ([`encrypt`], [`rekey`]).
//!
//! No churn by construction: encrypting with the previous [`Opened`] file reuses its data key
//! and the exact `ENC[...]` text (same IV) of every value whose location and plaintext did not
//! change; a changed value always gets a fresh IV. `lastmodified` and the MAC are renewed only
//! when the written values changed, so re-encrypting unchanged input rewrites nothing.
//!
//! The MAC is SHA-512 over the text of every non-null leaf in document order (only the
//! encrypted ones with `mac_only_encrypted`), in uppercase hex, encrypted with
//! `lastmodified` as its additional data. YAML comments are not read, so sops' encrypted
//! comments are dropped when a foreign file is rewritten.

use super::cipher::{self, CipherError, DataKey, LeafType};
use super::error::SealError;
use super::identity::Identities;
use super::metadata::{now_lastmodified, AgeStanza, Metadata, SOPS_VERSION};
use super::plaintext::Plaintext;
use super::recipient::{wrap_key, Recipients};
use super::rule::Rule;
use super::tree::{scalar_text, Location, Node, SecretLeaf, Step};
use crate::value::{Map, Value};
use sha2::{Digest as _, Sha256, Sha512};
use std::collections::HashMap;
use std::io::Read as _;

/// A SOPS file read without keys: the documents as stored (values still `ENC[...]`) and the
/// metadata. Enough for recipients and ciphertext fingerprints.
#[derive(Clone, Debug)]
pub struct SopsFile {
    name: String,
    documents: Vec<Map>,
    metadata: Metadata,
}

/// A decrypted SOPS file: its data key, plaintext tree, and for every encrypted leaf the
/// stored `ENC[...]` text with its plaintext, so re-encryption can keep unchanged ciphertexts.
#[derive(Clone, Debug)]
pub struct Opened {
    sealed: SopsFile,
    key: DataKey,
    documents: Vec<Node>,
    leaves: HashMap<Location, (String, SecretLeaf)>,
    mac: Plaintext,
}

impl SopsFile {
    /// Parses SOPS YAML text; `name` is used in errors (a path, or `out/prod/...`).
    pub fn parse(name: &str, text: &str) -> Result<Self, SealError> {
        let values = crate::yaml::parse_documents(text)
            .map_err(|e| SealError::malformed(name, format!("line {}: {}", e.line, e.message)))?;
        let mut documents = Vec::with_capacity(values.len());
        let mut metadata: Option<Metadata> = None;
        for (index, value) in values.into_iter().enumerate() {
            let Value::Map(mut map) = value else {
                return Err(SealError::malformed(
                    name,
                    format!("document {} is not a mapping", index + 1),
                ));
            };
            let block = map.shift_remove("sops");
            match (block, &metadata) {
                (Some(block), None) => metadata = Some(Metadata::from_value(name, &block)?),
                (Some(block), Some(first)) => {
                    if Metadata::from_value(name, &block)? != *first {
                        return Err(SealError::malformed(
                            name,
                            format!("document {} has a different `sops` block", index + 1),
                        ));
                    }
                }
                (None, _) => {}
            }
            documents.push(map);
        }
        let metadata = metadata.ok_or_else(|| SealError::NotSops {
            file: name.to_string(),
        })?;
        Ok(SopsFile {
            name: name.to_string(),
            documents,
            metadata,
        })
    }

    /// The name used in errors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The documents as stored, without their `sops` blocks.
    pub fn documents(&self) -> &[Map] {
        &self.documents
    }

    /// The metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The recipients the data key is wrapped to, sorted.
    pub fn recipients(&self) -> Vec<String> {
        self.metadata.recipients()
    }

    /// Unwraps the data key with any of the identities.
    pub fn data_key(&self, identities: &Identities) -> Result<DataKey, SealError> {
        for stanza in &self.metadata.age {
            let reader = age::armor::ArmoredReader::new(stanza.enc.as_bytes());
            let Ok(decryptor) = age::Decryptor::new(reader) else {
                continue;
            };
            let Ok(mut stream) = decryptor.decrypt(identities.as_dyn()) else {
                continue;
            };
            let mut bytes = Vec::with_capacity(32);
            if stream.read_to_end(&mut bytes).is_err() {
                continue;
            }
            return DataKey::from_bytes(bytes).ok_or_else(|| {
                SealError::malformed(
                    &self.name,
                    "the age stanza does not hold a 32-byte data key",
                )
            });
        }
        Err(SealError::NoIdentity {
            file: self.name.clone(),
            recipients: self.recipients(),
            looked_in: identities.looked_in().to_vec(),
        })
    }

    /// Decrypts every value and verifies the MAC.
    pub fn decrypt(&self, identities: &Identities) -> Result<Opened, SealError> {
        let key = self.data_key(identities)?;
        self.decrypt_with(key)
    }

    /// Decrypts with a data key already at hand (one this process just encrypted with).
    pub(crate) fn decrypt_with(&self, key: DataKey) -> Result<Opened, SealError> {
        let mut walk = DecryptWalk {
            file: self,
            key: &key,
            mac: Mac::new(self.metadata.mac_only_encrypted),
            leaves: HashMap::new(),
        };
        let mut documents = Vec::with_capacity(self.documents.len());
        for (index, doc) in self.documents.iter().enumerate() {
            let root = Location {
                document: index,
                steps: Vec::new(),
            };
            documents.push(walk.map(doc, &root)?);
        }
        let computed = walk.mac.finish();
        let leaves = walk.leaves;
        let (stored, _) = cipher::decrypt(&key, &self.metadata.mac, &self.metadata.mac_aad())
            .map_err(|_| SealError::MacTampered {
                file: self.name.clone(),
            })?;
        if stored.expose() != computed.expose() {
            return Err(SealError::MacMismatch {
                file: self.name.clone(),
            });
        }
        Ok(Opened {
            sealed: self.clone(),
            key,
            documents,
            leaves,
            mac: computed,
        })
    }
}

struct DecryptWalk<'a> {
    file: &'a SopsFile,
    key: &'a DataKey,
    mac: Mac,
    leaves: HashMap<Location, (String, SecretLeaf)>,
}

impl DecryptWalk<'_> {
    fn map(&mut self, map: &Map, at: &Location) -> Result<Node, SealError> {
        let mut out = indexmap::IndexMap::with_capacity(map.len());
        for (key, value) in map {
            out.insert(
                key.clone(),
                self.value(value, &at.child(Step::Key(key.clone())))?,
            );
        }
        Ok(Node::Map(out))
    }

    fn value(&mut self, value: &Value, at: &Location) -> Result<Node, SealError> {
        match value {
            Value::Map(map) => self.map(map, at),
            Value::List(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| self.value(item, &at.child(Step::Index(i))))
                .collect::<Result<_, _>>()
                .map(Node::List),
            Value::Null => Ok(Node::Clear(Value::Null)),
            scalar if !self.file.metadata.rule.encrypts(&at.keys()) => {
                if let Some((text, _)) = scalar_text(scalar) {
                    self.mac.add(text.as_bytes(), false);
                }
                Ok(Node::Clear(scalar.clone()))
            }
            Value::String(s) if s.is_empty() => Ok(Node::secret(Plaintext::default())),
            Value::String(s) => {
                let (plaintext, ty) =
                    cipher::decrypt(self.key, s, &at.aad()).map_err(|e| match e {
                        CipherError::Auth => SealError::ValueTampered {
                            file: self.file.name.clone(),
                            path: at.display(),
                        },
                        CipherError::Format(reason) => SealError::BadValue {
                            file: self.file.name.clone(),
                            path: at.display(),
                            reason,
                        },
                    })?;
                self.mac.add(plaintext.as_bytes(), true);
                let leaf = SecretLeaf { plaintext, ty };
                self.leaves.insert(at.clone(), (s.clone(), leaf.clone()));
                Ok(Node::Secret(leaf))
            }
            other => Err(SealError::BadValue {
                file: self.file.name.clone(),
                path: at.display(),
                reason: format!("a {} where an encrypted value belongs", other.type_name()),
            }),
        }
    }
}

impl Opened {
    /// The plaintext documents.
    pub fn documents(&self) -> &[Node] {
        &self.documents
    }

    /// The file as stored.
    pub fn sealed(&self) -> &SopsFile {
        &self.sealed
    }

    /// The data key (kept to re-encrypt without churn).
    pub fn data_key(&self) -> &DataKey {
        &self.key
    }

    /// The stored `ENC[...]` text at a location, with its plaintext.
    pub fn leaf(&self, at: &Location) -> Option<(&str, &SecretLeaf)> {
        self.leaves.get(at).map(|(enc, leaf)| (enc.as_str(), leaf))
    }
}

/// The running MAC.
struct Mac {
    hash: Sha512,
    only_encrypted: bool,
}

impl Mac {
    fn new(only_encrypted: bool) -> Self {
        let mut hash = Sha512::new();
        if only_encrypted {
            // sops seeds the hash this way so the two MAC kinds can never collide.
            hash.update(Sha256::digest(b"sops"));
        }
        Mac {
            hash,
            only_encrypted,
        }
    }

    fn add(&mut self, bytes: &[u8], encrypted: bool) {
        if encrypted || !self.only_encrypted {
            self.hash.update(bytes);
        }
    }

    fn finish(self) -> Plaintext {
        use std::fmt::Write as _;
        let digest = self.hash.finalize();
        let mut hex = String::with_capacity(digest.len() * 2);
        for byte in digest {
            let _ = write!(hex, "{byte:02X}");
        }
        Plaintext::new(hex)
    }
}

/// Encrypts plaintext documents (each a [`Node::Map`]) to `recipients` under `rule`.
///
/// With `previous` (the same file, opened), its data key is reused, unchanged values keep
/// their ciphertext, recipients that stay keep their wrapped key, and `lastmodified` and the
/// MAC stay as they were unless a written value changed. A [`Node::Secret`] leaf that the rule
/// does not encrypt is refused: it would be written in clear.
pub fn encrypt(
    name: &str,
    documents: &[Node],
    rule: &Rule,
    recipients: &Recipients,
    previous: Option<&Opened>,
) -> Result<String, SealError> {
    encrypt_keeping_key(name, documents, rule, recipients, previous).map(|(text, _)| text)
}

/// [`encrypt`], also returning the data key used (to keep editing the file without churn).
pub(crate) fn encrypt_keeping_key(
    name: &str,
    documents: &[Node],
    rule: &Rule,
    recipients: &Recipients,
    previous: Option<&Opened>,
) -> Result<(String, DataKey), SealError> {
    if recipients.is_empty() {
        return Err(SealError::NoRecipients {
            file: name.to_string(),
        });
    }
    // A recipient that was removed must not read anything written from now on: with one gone,
    // the file gets a fresh data key and fresh ciphertexts (`sops rotate`), not just new stanzas.
    let previous = previous.filter(|p| !drops_a_recipient(p, recipients));
    let key = previous.map_or_else(DataKey::generate, |p| p.key.clone());
    let mut walk = EncryptWalk {
        rule,
        key: &key,
        previous,
        mac: Mac::new(false),
    };
    let mut stored = Vec::with_capacity(documents.len());
    for (index, doc) in documents.iter().enumerate() {
        let root = Location {
            document: index,
            steps: Vec::new(),
        };
        match walk.node(doc, &root)? {
            Value::Map(map) => stored.push(map),
            _ => {
                return Err(SealError::internal(format!(
                    "document {} of {name} is not a mapping",
                    index + 1
                )))
            }
        }
    }
    let mac = walk.mac.finish();
    let unchanged = previous.filter(|p| {
        p.sealed.documents == stored
            && p.sealed.metadata.rule == *rule
            && !p.sealed.metadata.mac_only_encrypted
            && p.mac == mac
    });
    let (lastmodified, mac) = if let Some(p) = unchanged {
        (
            p.sealed.metadata.lastmodified.clone(),
            p.sealed.metadata.mac.clone(),
        )
    } else {
        let lastmodified = now_lastmodified()?;
        let enc = cipher::encrypt(&key, mac.as_bytes(), &lastmodified, LeafType::Str);
        (lastmodified, enc)
    };
    let metadata = Metadata {
        age: stanzas(&key, recipients, previous.map(|p| &p.sealed.metadata))?,
        lastmodified,
        mac,
        rule: rule.clone(),
        mac_only_encrypted: false,
        version: SOPS_VERSION.to_string(),
    };
    Ok((emit(&stored, &metadata), key))
}

/// Whether `recipients` leaves out a recipient the opened file was encrypted to.
fn drops_a_recipient(opened: &Opened, recipients: &Recipients) -> bool {
    let wanted = recipients.to_vec();
    opened
        .sealed
        .metadata
        .age
        .iter()
        .any(|stanza| !wanted.contains(&stanza.recipient))
}

/// Re-wraps the data key of an opened file to new recipients, keeping every value,
/// `lastmodified` and the MAC (sops `updatekeys`). Recipients that stay keep their stanza.
/// When a recipient is removed, the data key is rotated instead: every value is encrypted
/// again under a fresh key, so the removed identity cannot read the file's future versions.
pub fn rekey(opened: &Opened, recipients: &Recipients) -> Result<String, SealError> {
    if recipients.is_empty() {
        return Err(SealError::NoRecipients {
            file: opened.sealed.name.clone(),
        });
    }
    let old = &opened.sealed.metadata;
    if drops_a_recipient(opened, recipients) {
        return encrypt(
            &opened.sealed.name,
            opened.documents(),
            &old.rule,
            recipients,
            None,
        );
    }
    let metadata = Metadata {
        age: stanzas(&opened.key, recipients, Some(old))?,
        ..old.clone()
    };
    Ok(emit(&opened.sealed.documents, &metadata))
}

fn stanzas(
    key: &DataKey,
    recipients: &Recipients,
    previous: Option<&Metadata>,
) -> Result<Vec<AgeStanza>, SealError> {
    recipients
        .iter()
        .map(|(text, recipient)| {
            let kept = previous.and_then(|md| md.age.iter().find(|s| s.recipient == *text));
            Ok(AgeStanza {
                recipient: text.clone(),
                enc: match kept {
                    Some(stanza) => stanza.enc.clone(),
                    None => wrap_key(key, recipient)?,
                },
            })
        })
        .collect()
}

fn emit(documents: &[Map], metadata: &Metadata) -> String {
    let block = metadata.to_value();
    let full: Vec<Value> = documents
        .iter()
        .map(|doc| {
            let mut doc = doc.clone();
            doc.insert("sops".to_string(), block.clone());
            Value::Map(doc)
        })
        .collect();
    crate::yaml::to_yaml_documents(&full)
}

struct EncryptWalk<'a> {
    rule: &'a Rule,
    key: &'a DataKey,
    previous: Option<&'a Opened>,
    mac: Mac,
}

impl EncryptWalk<'_> {
    fn node(&mut self, node: &Node, at: &Location) -> Result<Value, SealError> {
        let encrypts = self.rule.encrypts(&at.keys());
        match node {
            Node::Map(map) => {
                let mut out = Map::with_capacity_and_hasher(map.len(), crate::value::MapHasher);
                for (key, child) in map {
                    out.insert(
                        key.clone(),
                        self.node(child, &at.child(Step::Key(key.clone())))?,
                    );
                }
                Ok(Value::Map(out))
            }
            Node::List(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| self.node(item, &at.child(Step::Index(i))))
                .collect::<Result<_, _>>()
                .map(Value::List),
            Node::Clear(Value::Null) => Ok(Value::Null),
            Node::Clear(scalar) if !encrypts => {
                if let Some((text, _)) = scalar_text(scalar) {
                    self.mac.add(text.as_bytes(), false);
                }
                Ok(scalar.clone())
            }
            Node::Clear(scalar) => {
                let (text, ty) = scalar_text(scalar)
                    .ok_or_else(|| SealError::internal("a list or map stored as a clear leaf"))?;
                Ok(Value::String(self.seal(
                    &SecretLeaf {
                        plaintext: Plaintext::new(text),
                        ty,
                    },
                    at,
                )))
            }
            Node::Secret(_) if !encrypts => Err(SealError::internal(format!(
                "the secret at `{}` is outside the encryption rule; refusing to write it in clear",
                at.display()
            ))),
            Node::Secret(leaf) => Ok(Value::String(self.seal(leaf, at))),
        }
    }

    fn seal(&mut self, leaf: &SecretLeaf, at: &Location) -> String {
        self.mac.add(leaf.plaintext.as_bytes(), true);
        if leaf.plaintext.is_empty() && leaf.ty == LeafType::Str {
            return String::new(); // sops leaves empty strings as they are
        }
        let kept = self
            .previous
            .and_then(|p| p.leaf(at))
            .filter(|(_, old)| *old == leaf)
            .map(|(enc, _)| enc.to_string());
        kept.unwrap_or_else(|| {
            cipher::encrypt(self.key, leaf.plaintext.as_bytes(), &at.aad(), leaf.ty)
        })
    }
}

#[cfg(test)]
mod tests;
