//! The `sops:` block of a document: the data key wrapped to each age recipient,
//! `lastmodified`, the encrypted MAC, the encryption rule and the sops version.
//!
//! Reading accepts the layouts sops 3.x writes (with or without the empty `kms`/`pgp`/... lists
//! of older releases). Writing uses the exact layout of sops 3.9.0, the version stackc claims.

use super::error::SealError;
use super::rule::{Rule, RULE_KEYS};
use crate::value::{Map, Value};

/// The sops release whose format stackc writes (and names in `version:`).
pub const SOPS_VERSION: &str = "3.9.0";

/// One age recipient and the data key wrapped to it (an armored age file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgeStanza {
    pub recipient: String,
    pub enc: String,
}

/// A parsed `sops:` block.
#[derive(Clone, Debug, PartialEq)]
pub struct Metadata {
    pub age: Vec<AgeStanza>,
    pub lastmodified: String,
    /// The encrypted MAC, `ENC[...]`.
    pub mac: String,
    pub rule: Rule,
    pub mac_only_encrypted: bool,
    pub version: String,
}

impl Metadata {
    /// Reads the `sops:` value of a document in file `file`.
    pub fn from_value(file: &str, value: &Value) -> Result<Self, SealError> {
        let bad = |reason: &str| SealError::malformed(file, reason);
        let map = value
            .as_map()
            .ok_or_else(|| bad("`sops` is not a mapping"))?;
        let text = |key: &str| -> Result<String, SealError> {
            match map.get(key) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(v) if v.is_scalar() && *v != Value::Null => Ok(v.to_display()),
                _ => Err(bad(&format!("`sops.{key}` is missing"))),
            }
        };
        for feature in [
            "encrypted_comment_regex",
            "unencrypted_comment_regex",
            "key_groups",
        ] {
            if map.get(feature).is_some_and(|v| *v != Value::Null) {
                return Err(SealError::Unsupported {
                    file: file.to_string(),
                    feature: format!("`sops.{feature}`"),
                });
            }
        }
        let mut rules = RULE_KEYS.iter().filter_map(|key| match map.get(*key) {
            Some(Value::String(s)) if !s.is_empty() => Some((*key, s.as_str())),
            _ => None,
        });
        let rule = match (rules.next(), rules.next()) {
            (None, _) => Rule::default(),
            (Some((key, value)), None) => Rule::from_metadata(key, value).map_err(|r| bad(&r))?,
            (Some(_), Some(_)) => return Err(bad("more than one encryption rule in `sops`")),
        };
        let age = match map.get("age") {
            Some(Value::List(items)) => items
                .iter()
                .map(|item| {
                    let stanza = item.as_map();
                    let field = |k: &str| {
                        stanza
                            .and_then(|m| m.get(k))
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    };
                    match (field("recipient"), field("enc")) {
                        (Some(recipient), Some(enc)) => Ok(AgeStanza { recipient, enc }),
                        _ => Err(bad("a `sops.age` entry lacks `recipient` or `enc`")),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => Vec::new(),
        };
        if age.is_empty() {
            return Err(SealError::Unsupported {
                file: file.to_string(),
                feature: "no age recipients (only other key types)".to_string(),
            });
        }
        let mac_only_encrypted = match map.get("mac_only_encrypted") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad("`sops.mac_only_encrypted` is not a boolean")),
        };
        Ok(Metadata {
            age,
            lastmodified: text("lastmodified")?,
            mac: text("mac")?,
            rule,
            mac_only_encrypted,
            version: text("version")?,
        })
    }

    /// The block as sops 3.9.0 writes it (empty lists of the other key types included).
    pub fn to_value(&self) -> Value {
        let empty = || Value::List(Vec::new());
        let mut map = Map::default();
        for key in ["kms", "gcp_kms", "azure_kv", "hc_vault"] {
            map.insert(key.to_string(), empty());
        }
        let age = self
            .age
            .iter()
            .map(|s| {
                crate::value::map([
                    ("recipient", Value::from(s.recipient.as_str())),
                    ("enc", Value::from(s.enc.as_str())),
                ])
            })
            .collect();
        map.insert("age".to_string(), Value::List(age));
        map.insert(
            "lastmodified".to_string(),
            Value::from(self.lastmodified.as_str()),
        );
        map.insert("mac".to_string(), Value::from(self.mac.as_str()));
        map.insert("pgp".to_string(), empty());
        if self.mac_only_encrypted {
            map.insert("mac_only_encrypted".to_string(), Value::Bool(true));
        }
        let (key, value) = self.rule.metadata_entry();
        map.insert(key.to_string(), Value::from(value));
        map.insert("version".to_string(), Value::from(self.version.as_str()));
        Value::Map(map)
    }

    /// The recipients, sorted.
    pub fn recipients(&self) -> Vec<String> {
        let mut out: Vec<String> = self.age.iter().map(|s| s.recipient.clone()).collect();
        out.sort();
        out.dedup();
        out
    }

    /// The MAC's additional data: `lastmodified` as Go's `time.Format(RFC3339)` prints it
    /// (fractional seconds dropped, a zero offset written `Z`).
    pub fn mac_aad(&self) -> String {
        let lm = self.lastmodified.as_str();
        let (main, zone) = match lm.rfind(['Z', '+', '-']) {
            Some(i) if i >= 19 => lm.split_at(i),
            _ => return lm.to_string(),
        };
        let main = main.split('.').next().unwrap_or(main);
        let zone = if matches!(zone, "+00:00" | "-00:00") {
            "Z"
        } else {
            zone
        };
        format!("{main}{zone}")
    }
}

/// `lastmodified` for now: RFC 3339, UTC, whole seconds (what sops writes).
pub fn now_lastmodified() -> Result<String, SealError> {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| SealError::internal(format!("formatting lastmodified: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_aad_follows_go_time_format() {
        let mut md = Metadata {
            age: vec![],
            lastmodified: String::new(),
            mac: String::new(),
            rule: Rule::default(),
            mac_only_encrypted: false,
            version: SOPS_VERSION.into(),
        };
        for (lm, aad) in [
            ("2024-11-12T13:33:42Z", "2024-11-12T13:33:42Z"),
            ("2024-11-12T13:33:42.123456Z", "2024-11-12T13:33:42Z"),
            ("2024-11-12T13:33:42+00:00", "2024-11-12T13:33:42Z"),
            ("2024-11-12T13:33:42+02:00", "2024-11-12T13:33:42+02:00"),
            ("2024-11-12T13:33:42.5-07:00", "2024-11-12T13:33:42-07:00"),
        ] {
            md.lastmodified = lm.into();
            assert_eq!(md.mac_aad(), aad);
        }
        let now = now_lastmodified().unwrap();
        assert!(now.ends_with('Z') && now.len() == 20, "{now}");
    }
}
