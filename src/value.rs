//! The one tree of data that flows through stackc: values declared in KDL, resolved settings,
//! template context, rendered Kubernetes objects and SOPS documents are all a [`Value`].
//!
//! Maps keep insertion order (the order the user or the template wrote), which is what makes
//! emitted YAML read naturally; everything that needs a canonical order sorts explicitly.

use indexmap::IndexMap;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// The hasher of every map of values and of settings: ahash, keyed at random per process as
/// std's `SipHash` is (keys come from user files: a fixed key would let them be chosen to
/// collide), and several times faster on the short keys these maps hold (`SipHash` was a
/// fourteenth of a cold build: every rendered document is parsed into these maps).
///
/// One key for the whole process, not one per map: `ahash::RandomState` is 32 bytes, and a
/// stack of 10,000 services holds several hundred thousand maps (a tenth of the settings
/// model's memory was their hashers' keys), each a field wider in every value that nests it.
#[derive(Clone, Copy, Debug, Default)]
pub struct MapHasher;

impl MapHasher {
    fn keys() -> &'static ahash::RandomState {
        static KEYS: std::sync::OnceLock<ahash::RandomState> = std::sync::OnceLock::new();
        KEYS.get_or_init(ahash::RandomState::new)
    }
}

impl std::hash::BuildHasher for MapHasher {
    type Hasher = ahash::AHasher;

    #[inline]
    fn build_hasher(&self) -> ahash::AHasher {
        Self::keys().build_hasher()
    }

    #[inline]
    fn hash_one<T: std::hash::Hash>(&self, x: T) -> u64 {
        Self::keys().hash_one(x)
    }
}

/// An ordered map of string keys, as YAML and KDL documents write them.
pub type Map = IndexMap<String, Value, MapHasher>;

/// A YAML-shaped value.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Value>),
    Map(Map),
}

impl Value {
    /// The value as a map, if it is one.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    /// The value as a string slice, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Follows a dotted path of map keys (`spec.replicas`).
    pub fn get_path(&self, path: &str) -> Option<&Value> {
        path.split('.')
            .filter(|segment| !segment.is_empty())
            .try_fold(self, |value, key| value.as_map()?.get(key))
    }

    /// A short name for the kind of value, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// Whether this is a scalar (not a map or list).
    pub fn is_scalar(&self) -> bool {
        !matches!(self, Value::List(_) | Value::Map(_))
    }

    /// The scalar rendered as plain text (how `explain` and `diff` show a leaf).
    pub fn to_display(&self) -> String {
        match self {
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => crate::yaml::format_float(*f),
            Value::String(s) => s.clone(),
            Value::List(_) | Value::Map(_) => crate::yaml::to_flow(self),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<Map> for Value {
    fn from(map: Map) -> Self {
        Value::Map(map)
    }
}

impl From<Vec<Value>> for Value {
    fn from(list: Vec<Value>) -> Self {
        Value::List(list)
    }
}

impl From<serde_json::Value> for Value {
    fn from(json: serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(items) => {
                Value::List(items.into_iter().map(Value::from).collect())
            }
            serde_json::Value::Object(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, Value::from(v)))
                    .collect(),
            ),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::String(s) => serializer.serialize_str(s),
            Value::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Builds a [`Map`] from `(key, value)` pairs; keeps call sites that assemble objects short.
pub fn map<K: Into<String>, V: Into<Value>>(pairs: impl IntoIterator<Item = (K, V)>) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
    )
}

/// A [`Value`] written with a tag before every node (`Value`'s own form is untagged: `1` and
/// `true` could write the same bytes), so a binary, not self-describing encoding of it is
/// still injective; floats by their bits.
#[derive(Clone, Copy)]
pub struct Tagged<'a>(pub &'a Value);

impl Serialize for Tagged<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit_variant("V", 0, "Null"),
            Value::Bool(b) => s.serialize_newtype_variant("V", 1, "Bool", b),
            Value::Int(i) => s.serialize_newtype_variant("V", 2, "Int", i),
            Value::Float(f) => s.serialize_newtype_variant("V", 3, "Float", &f.to_bits()),
            Value::String(text) => s.serialize_newtype_variant("V", 4, "String", text),
            Value::List(items) => s.serialize_newtype_variant("V", 5, "List", &TaggedList(items)),
            Value::Map(map) => {
                struct Entries<'a>(&'a Map);
                impl Serialize for Entries<'_> {
                    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                        let mut seq = s.serialize_seq(Some(self.0.len()))?;
                        for (k, v) in self.0 {
                            seq.serialize_element(&(k, Tagged(v)))?;
                        }
                        seq.end()
                    }
                }
                s.serialize_newtype_variant("V", 6, "Map", &Entries(map))
            }
        }
    }
}

struct TaggedList<'a>(&'a [Value]);

impl Serialize for TaggedList<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&Tagged(item))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_values_never_write_the_same_bytes() {
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Int(1),
            Value::Int(-1),
            Value::Float(1.0),
            Value::String("\u{1}".into()),
            Value::String(String::new()),
            Value::List(vec![Value::Int(-1)]),
            Value::List(vec![]),
            map([("a", 1)]),
            map([("a", Value::List(vec![]))]),
        ];
        let bytes: std::collections::BTreeSet<Vec<u8>> = values
            .iter()
            .map(|v| postcard::to_stdvec(&Tagged(v)).unwrap())
            .collect();
        assert_eq!(bytes.len(), values.len());
    }
}
