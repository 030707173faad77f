//! One side of a comparison: a label, the rendered objects, what the caller could learn about
//! each Secret's values without handing us the values, and the substitutions that make the
//! same logical object look the same across environments.

use crate::object::{ObjectId, RenderedObject};
use std::collections::BTreeMap;
use std::fmt;

/// One side of a diff (an environment's build, or what is on disk in `out/<env>`).
#[derive(Clone, Debug, Default)]
pub struct Side {
    /// How the side is named in output: an environment name or `out/dev`.
    pub label: String,
    /// Its rendered objects, in any order.
    pub objects: Vec<RenderedObject>,
    /// What is known about each Secret's values, matched to objects by their (original) id.
    pub secrets: Vec<SecretView>,
    /// `(from, to)` substitutions applied, in order, to every string of ids and bodies before
    /// matching and comparing (`staging.example.org` -> `<domain>`). Empty `from`s are ignored.
    pub normalization: Vec<(String, String)>,
}

impl Side {
    /// A side with objects only; add secrets and substitutions with the builder methods.
    pub fn new(label: impl Into<String>, objects: Vec<RenderedObject>) -> Side {
        Side {
            label: label.into(),
            objects,
            secrets: Vec::new(),
            normalization: Vec::new(),
        }
    }

    /// The same side under another label.
    #[must_use]
    pub fn relabel(mut self, label: impl Into<String>) -> Side {
        self.label = label.into();
        self
    }

    /// Adds the secret views.
    #[must_use]
    pub fn with_secrets(mut self, secrets: Vec<SecretView>) -> Side {
        self.secrets = secrets;
        self
    }

    /// Adds one substitution.
    #[must_use]
    pub fn normalize(mut self, from: impl Into<String>, to: impl Into<String>) -> Side {
        self.normalization.push((from.into(), to.into()));
        self
    }
}

/// The per-key identities of one Secret's values, computed by the caller from the plaintext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretView {
    /// The Secret object this describes, as it is on this side (not normalized).
    pub id: ObjectId,
    /// One entry per key of `data` and `stringData`.
    pub keys: BTreeMap<String, KeyDigest>,
}

/// What is known about one secret value.
#[derive(Clone, PartialEq, Eq)]
pub enum KeyDigest {
    /// A keyed blake3 digest of the plaintext under a random per-process key: equal digests
    /// mean equal values, and the digest reveals nothing that outlives the process.
    Known([u8; 32]),
    /// The value could not be read (no identity could decrypt it), and why.
    Unknown { reason: String },
}

impl KeyDigest {
    /// The digest of `plaintext` under `key`, as callers are expected to compute it.
    pub fn of(key: &[u8; 32], plaintext: &[u8]) -> KeyDigest {
        KeyDigest::Known(*blake3::keyed_hash(key, plaintext).as_bytes())
    }
}

// Digests are not secrets, but there is no reason for them to reach a log either.
impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyDigest::Known(_) => f.write_str("Known(..)"),
            KeyDigest::Unknown { reason } => {
                f.debug_struct("Unknown").field("reason", reason).finish()
            }
        }
    }
}
