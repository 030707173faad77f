//! [`Node`]: a YAML document whose secret leaves are [`Plaintext`], not ordinary strings.
//!
//! A decrypted SOPS file reads into this tree and the encrypter takes it, so the type itself
//! says which leaves are secret: a `Node::Secret` outside the encryption rule is refused rather
//! than written in clear, and turning a tree back into a plain [`Value`] is one explicitly
//! named call ([`Node::expose`]).

use super::cipher::{bool_text, go_float_text, parse_go_bool, parse_go_float, LeafType};
use super::plaintext::Plaintext;
use crate::value::Value;
use indexmap::IndexMap;
use std::fmt::Write as _;

/// A secret leaf: its text as sops encrypts it, and the type it reads back as.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretLeaf {
    pub plaintext: Plaintext,
    pub ty: LeafType,
}

impl SecretLeaf {
    /// A secret string.
    pub fn string(plaintext: Plaintext) -> Self {
        SecretLeaf {
            plaintext,
            ty: LeafType::Str,
        }
    }
}

/// A document tree with clear and secret leaves.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A scalar written as is (never a list or map).
    Clear(Value),
    /// A leaf that is written encrypted.
    Secret(SecretLeaf),
    Map(IndexMap<String, Node>),
    List(Vec<Node>),
}

impl Node {
    /// A secret string leaf.
    pub fn secret(plaintext: Plaintext) -> Self {
        Node::Secret(SecretLeaf::string(plaintext))
    }

    /// A clear tree from a plain value (nothing in it is secret).
    pub fn clear(value: Value) -> Self {
        match value {
            Value::Map(map) => {
                Node::Map(map.into_iter().map(|(k, v)| (k, Node::clear(v))).collect())
            }
            Value::List(items) => Node::List(items.into_iter().map(Node::clear).collect()),
            scalar => Node::Clear(scalar),
        }
    }

    /// Follows a path of map keys.
    pub fn get(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| match node {
            Node::Map(map) => map.get(*key),
            _ => None,
        })
    }

    /// The secret at a path of map keys, if that leaf is secret.
    pub fn secret_at(&self, path: &[&str]) -> Option<&Plaintext> {
        match self.get(path)? {
            Node::Secret(leaf) => Some(&leaf.plaintext),
            _ => None,
        }
    }

    /// The whole tree as a plain [`Value`], secrets included as their typed values.
    /// This reveals every secret: only for `sops -d`-like output and for tests.
    pub fn expose(&self) -> Value {
        match self {
            Node::Clear(value) => value.clone(),
            Node::Secret(leaf) => {
                let text = leaf.plaintext.expose();
                match leaf.ty {
                    LeafType::Str => Value::String(text.to_string()),
                    LeafType::Int => text
                        .parse()
                        .map_or_else(|_| Value::String(text.to_string()), Value::Int),
                    LeafType::Float => parse_go_float(text)
                        .map_or_else(|| Value::String(text.to_string()), Value::Float),
                    LeafType::Bool => parse_go_bool(text)
                        .map_or_else(|| Value::String(text.to_string()), Value::Bool),
                }
            }
            Node::Map(map) => {
                Value::Map(map.iter().map(|(k, v)| (k.clone(), v.expose())).collect())
            }
            Node::List(items) => Value::List(items.iter().map(Node::expose).collect()),
        }
    }
}

/// The text sops encrypts (and hashes into the MAC) for a clear scalar, with its type;
/// `None` for null, which is neither encrypted nor hashed.
pub fn scalar_text(value: &Value) -> Option<(String, LeafType)> {
    Some(match value {
        Value::Null | Value::List(_) | Value::Map(_) => return None,
        Value::Bool(b) => (bool_text(*b).to_string(), LeafType::Bool),
        Value::Int(i) => (i.to_string(), LeafType::Int),
        Value::Float(f) => (go_float_text(*f), LeafType::Float),
        Value::String(s) => (s.clone(), LeafType::Str),
    })
}

/// One step of a leaf's location: a map key or a list index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// Where a leaf sits: document number and steps from the root. Unlike the AAD path, this
/// includes list indices, so every leaf has its own location.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub document: usize,
    pub steps: Vec<Step>,
}

impl Location {
    /// The map keys of the path (what the rule and the AAD look at).
    pub fn keys(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Key(k) => Some(k.as_str()),
                Step::Index(_) => None,
            })
            .collect()
    }

    /// The AAD of a value here: every map key followed by `:`.
    pub fn aad(&self) -> String {
        let mut out = String::new();
        for key in self.keys() {
            out.push_str(key);
            out.push(':');
        }
        out
    }

    /// A readable path for messages (`stringData.password`, `list[2]`).
    pub fn display(&self) -> String {
        let mut out = String::new();
        for step in &self.steps {
            match step {
                Step::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Step::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        if out.is_empty() {
            "<root>".to_string()
        } else {
            out
        }
    }

    pub(crate) fn child(&self, step: Step) -> Location {
        let mut steps = self.steps.clone();
        steps.push(step);
        Location {
            document: self.document,
            steps,
        }
    }
}
