//! Secrets in a diff: per-key statuses from the caller's digests, and redaction, so that no
//! secret value and no ciphertext ever reaches a report.
//!
//! A Secret's `data` and `stringData` are compared only through [`SecretView`] digests; the
//! SOPS metadata block (`sops`) is dropped from every object, since it changes on every
//! encryption; any SOPS `ENC[...]` string elsewhere is treated as opaque.

use super::report::{KeyStatus, SecretKeyDiff};
use super::side::{KeyDigest, SecretView};
use crate::object::ObjectId;
use crate::value::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What replaces a secret value or a ciphertext in every rendering.
pub(crate) const REDACTED: &str = "<redacted>";

/// Top-level fields never compared as ordinary fields in a Secret.
pub(crate) const SECRET_FIELDS: &[&str] = &["data", "stringData", "sops"];

/// Top-level fields never compared in any object.
pub(crate) const SOPS_FIELDS: &[&str] = &["sops"];

/// Whether an object is a core Secret.
pub(crate) fn is_secret(id: &ObjectId) -> bool {
    id.kind == "Secret" && id.api_version == "v1"
}

/// Whether a string is a SOPS ciphertext, which differs on every encryption of one value.
pub(crate) fn is_ciphertext(text: &str) -> bool {
    text.starts_with("ENC[") && text.ends_with(']')
}

/// The body with the `sops` block dropped, every ciphertext replaced and, for a Secret, every
/// `data`/`stringData` value replaced (key names are kept: they are not secret).
pub(crate) fn redact(body: &Value, secret: bool) -> Value {
    let Value::Map(map) = body else {
        return redact_ciphertext(body);
    };
    let mut out = Map::with_capacity_and_hasher(map.len(), crate::value::MapHasher);
    for (key, value) in map {
        match key.as_str() {
            "sops" => {}
            "data" | "stringData" if secret => {
                let hidden = match value {
                    Value::Map(entries) => Value::Map(
                        entries
                            .keys()
                            .map(|k| (k.clone(), Value::from(REDACTED)))
                            .collect(),
                    ),
                    Value::Null => Value::Null,
                    _ => Value::from(REDACTED),
                };
                out.insert(key.clone(), hidden);
            }
            _ => {
                out.insert(key.clone(), redact_ciphertext(value));
            }
        }
    }
    Value::Map(out)
}

/// The value with every ciphertext string replaced.
pub(crate) fn redact_ciphertext(value: &Value) -> Value {
    match value {
        Value::String(s) if is_ciphertext(s) => Value::from(REDACTED),
        Value::List(items) => Value::List(items.iter().map(redact_ciphertext).collect()),
        Value::Map(map) => Value::Map(
            map.iter()
                .map(|(k, v)| (k.clone(), redact_ciphertext(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What one side knows about one key.
enum Known<'a> {
    Digest(&'a [u8; 32]),
    Unknown(String),
}

/// The keys of one side's Secret: from its view when the caller gave one, else the key names
/// of the body (values unread).
fn side_keys<'a>(
    label: &str,
    view: Option<&'a SecretView>,
    body: &Value,
) -> BTreeMap<String, Known<'a>> {
    if let Some(view) = view {
        return view
            .keys
            .iter()
            .map(|(key, digest)| {
                let known = match digest {
                    KeyDigest::Known(bytes) => Known::Digest(bytes),
                    KeyDigest::Unknown { reason } => Known::Unknown(format!("{label}: {reason}")),
                };
                (key.clone(), known)
            })
            .collect();
    }
    ["data", "stringData"]
        .iter()
        .filter_map(|field| body.get_path(field).and_then(Value::as_map))
        .flat_map(Map::keys)
        .map(|key| {
            let reason = format!("{label}: no decrypted view of this secret was provided");
            (key.clone(), Known::Unknown(reason))
        })
        .collect()
}

/// One side of a Secret for key comparison: label, view (if any) and body.
pub(crate) struct SecretSide<'a> {
    pub label: &'a str,
    pub view: Option<&'a SecretView>,
    pub body: &'a Value,
}

/// Every key of either side, sorted, with its status.
pub(crate) fn compare_keys(
    a: Option<&SecretSide<'_>>,
    b: Option<&SecretSide<'_>>,
) -> Vec<SecretKeyDiff> {
    let keys_a = a
        .map(|s| side_keys(s.label, s.view, s.body))
        .unwrap_or_default();
    let keys_b = b
        .map(|s| side_keys(s.label, s.view, s.body))
        .unwrap_or_default();
    let names: BTreeSet<&String> = keys_a.keys().chain(keys_b.keys()).collect();
    names
        .into_iter()
        .map(|key| {
            let status = match (keys_a.get(key), keys_b.get(key)) {
                (Some(Known::Digest(x)), Some(Known::Digest(y))) if x == y => KeyStatus::Unchanged,
                (Some(Known::Digest(_)), Some(Known::Digest(_))) => KeyStatus::Changed,
                (Some(x), Some(y)) => {
                    let reasons: Vec<&str> = [x, y]
                        .into_iter()
                        .filter_map(|k| match k {
                            Known::Unknown(reason) => Some(reason.as_str()),
                            Known::Digest(_) => None,
                        })
                        .collect();
                    KeyStatus::NotCompared {
                        reason: reasons.join("; "),
                    }
                }
                (Some(_), None) => KeyStatus::Removed,
                // `names` holds only keys of either side, so this is `(None, Some(_))`.
                (None, _) => KeyStatus::Added,
            };
            SecretKeyDiff {
                key: key.clone(),
                status,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn view(keys: &[(&str, KeyDigest)]) -> SecretView {
        SecretView {
            id: ObjectId {
                api_version: "v1".into(),
                kind: "Secret".into(),
                namespace: "apps".into(),
                name: "db".into(),
            },
            keys: keys
                .iter()
                .map(|(k, d)| ((*k).to_string(), d.clone()))
                .collect(),
        }
    }

    fn known(byte: u8) -> KeyDigest {
        KeyDigest::Known([byte; 32])
    }

    fn unknown(reason: &str) -> KeyDigest {
        KeyDigest::Unknown {
            reason: reason.to_string(),
        }
    }

    #[test]
    fn key_statuses() {
        let va = view(&[
            ("same", known(1)),
            ("diff", known(1)),
            ("gone", known(1)),
            ("locked_a", unknown("no identity could decrypt")),
            ("locked_b", known(1)),
            ("locked_both", unknown("bad key")),
        ]);
        let vb = view(&[
            ("same", known(1)),
            ("diff", known(2)),
            ("new", unknown("whatever")),
            ("locked_a", known(1)),
            ("locked_b", unknown("no identity could decrypt")),
            ("locked_both", unknown("bad key")),
        ]);
        let body = Value::Null;
        let a = SecretSide {
            label: "staging",
            view: Some(&va),
            body: &body,
        };
        let b = SecretSide {
            label: "production",
            view: Some(&vb),
            body: &body,
        };
        let got: Vec<(String, KeyStatus)> = compare_keys(Some(&a), Some(&b))
            .into_iter()
            .map(|k| (k.key, k.status))
            .collect();
        let nc = |r: &str| KeyStatus::NotCompared {
            reason: r.to_string(),
        };
        let expected = vec![
            ("diff", KeyStatus::Changed),
            ("gone", KeyStatus::Removed),
            ("locked_a", nc("staging: no identity could decrypt")),
            ("locked_b", nc("production: no identity could decrypt")),
            ("locked_both", nc("staging: bad key; production: bad key")),
            ("new", KeyStatus::Added),
            ("same", KeyStatus::Unchanged),
        ];
        let expected: Vec<(String, KeyStatus)> = expected
            .into_iter()
            .map(|(k, s)| (k.to_string(), s))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn without_a_view_keys_come_from_the_body_and_are_not_compared() {
        let body = &parse_documents("data:\n  a: ENC[x]\nstringData:\n  b: ENC[y]\n").unwrap()[0];
        let a = SecretSide {
            label: "dev",
            view: None,
            body,
        };
        let got = compare_keys(Some(&a), Some(&a));
        assert_eq!(got.len(), 2);
        assert!(got
            .iter()
            .all(|k| matches!(k.status, KeyStatus::NotCompared { .. })));
        let only = compare_keys(Some(&a), None);
        assert!(only.iter().all(|k| k.status == KeyStatus::Removed));
    }

    #[test]
    fn redaction_hides_values_and_ciphertext_but_keeps_key_names() {
        let body = &parse_documents(
            "kind: Secret\ndata:\n  password: c2VjcmV0\nstringData:\n  token: ENC[AES256_GCM,data:abc,type:str]\n\
             metadata:\n  annotations:\n    x: ENC[AES256_GCM,data:def,type:str]\nsops:\n  mac: ENC[mac]\n",
        )
        .unwrap()[0];
        let redacted = crate::yaml::to_yaml(&redact(body, true));
        assert_eq!(
            redacted,
            "kind: Secret\ndata:\n  password: <redacted>\nstringData:\n  token: <redacted>\n\
             metadata:\n  annotations:\n    x: <redacted>\n"
        );
        let not_secret = crate::yaml::to_yaml(&redact(body, false));
        assert!(
            not_secret.contains("password: c2VjcmV0"),
            "only Secrets hide data"
        );
        assert!(!not_secret.contains("ENC["));
        assert!(!not_secret.contains("sops"));
    }
}
