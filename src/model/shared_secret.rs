//! `key "password" from="postgresql-credentials/password"`: a key whose value is another
//! declared key's, so one value (one entry in the store) is sealed into every namespace
//! that needs it. Parsing the key's source, and the whole-model checks: the source exists,
//! and following `from=` ends at a key with a value of its own (no cycle).

use super::parse::Parser;
use super::syntax::{Entry as KdlEntry, Node as KdlNode};
use super::{Model, ModelError, Named, SecretKeySource};
use crate::diagnostics::{did_you_mean, Diagnostics};
use crate::source::Sources;
use std::collections::BTreeSet;

impl Parser<'_> {
    /// Where a `key` node's value comes from: `generate=N`, `value="..."`, `from="s/k"`, or
    /// (none of them) the store. Two of them at once is an error at the second.
    pub(super) fn key_source(&mut self, node: &KdlNode) -> Option<SecretKeySource> {
        let given: Vec<&str> = ["generate", "value", "from"]
            .into_iter()
            .filter(|p| node.entry(p).is_some())
            .collect();
        if let [first, second, ..] = given[..] {
            let at = node.entry(second).map_or(node.span(), KdlEntry::span);
            self.errors.push(ModelError::Invalid {
                message: format!("a key takes one of `generate`, `value` and `from`, not `{first}` and `{second}`"),
                src: self.src(),
                span: self.at(at),
                label: format!("remove `{first}` or `{second}`"),
                help: (given.contains(&"from")).then(|| {
                    "`from=` takes the value of another key as it is; generate or set that key instead".to_string()
                }),
            });
            return None;
        }
        match given.first().copied() {
            Some("generate") => {
                let (n, _) = self.int_prop_of(node, "generate")?;
                usize::try_from(n).ok().map(SecretKeySource::Generate)
            }
            Some("value") => self
                .string_prop(node, "value")
                .map(|v| SecretKeySource::Literal(v.value)),
            Some(_) => {
                let from = self.string_prop(node, "from")?;
                match from.value.split_once('/') {
                    Some((secret, key))
                        if !secret.is_empty() && !key.is_empty() && !key.contains('/') =>
                    {
                        Some(SecretKeySource::From {
                            secret: Named {
                                value: secret.to_string(),
                                span: from.span,
                            },
                            key: Named {
                                value: key.to_string(),
                                span: from.span,
                            },
                        })
                    }
                    _ => {
                        self.errors.push(ModelError::Invalid {
                            message: format!(
                                "`from=\"{}\"` does not name a secret key",
                                from.value
                            ),
                            src: self.src(),
                            span: from.span.source_span(),
                            label: "expected `secret/key`".into(),
                            help: Some(
                                "`key \"password\" from=\"postgresql-credentials/password\"`"
                                    .into(),
                            ),
                        });
                        None
                    }
                }
            }
            None => Some(SecretKeySource::Store),
        }
    }

    fn int_prop_of(&mut self, node: &KdlNode, key: &str) -> Option<(i64, crate::source::Span)> {
        let entry = node.entry(key)?;
        self.int_entry(entry, key, super::ranges::GENERATE)
    }
}

/// Every `from=` names a declared key, and no chain of them loops.
pub(super) fn check(model: &Model, sources: &Sources) -> Diagnostics {
    let mut errors = Diagnostics::new();
    let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
    for secret in &model.secrets {
        for key in &secret.keys {
            let SecretKeySource::From {
                secret: from,
                key: from_key,
            } = &key.source
            else {
                continue;
            };
            let Some(source) = model.secret(&from.value) else {
                errors.push(ModelError::UnknownReference {
                    kind: "secret",
                    name: from.value.clone(),
                    src: sources.named(from.span.file),
                    span: from.span.source_span(),
                    help: did_you_mean(&from.value, model.secrets.iter().map(|s| s.name.as_str()))
                        .or_else(|| Some("`from=` names a `secret` declared in stacks.kdl, then one of its keys: `secret/key`".into())),
                });
                continue;
            };
            if !source.keys.iter().any(|k| k.name.value == from_key.value) {
                errors.push(ModelError::UnknownReference {
                    kind: "secret key",
                    name: format!("{}/{}", from.value, from_key.value),
                    src: sources.named(from_key.span.file),
                    span: from_key.span.source_span(),
                    help: did_you_mean(
                        &from_key.value,
                        source.keys.iter().map(|k| k.name.as_str()),
                    )
                    .map(|h| format!("{h} (keys of `{}`: {})", from.value, keys(source)))
                    .or_else(|| Some(format!("keys of `{}`: {}", from.value, keys(source)))),
                });
                continue;
            }
            // Follow the chain; coming back to this key is a cycle (reported once).
            let start = (secret.name.value.as_str(), key.name.value.as_str());
            let mut chain = vec![format!("{}/{}", start.0, start.1)];
            let mut at = (from.value.as_str(), from_key.value.as_str());
            while chain.len() <= model.secrets.len() * 64 {
                chain.push(format!("{}/{}", at.0, at.1));
                if at == start {
                    let mut members = chain.clone();
                    members.pop();
                    members.sort();
                    if reported.insert(members) {
                        errors.push(ModelError::Invalid {
                            message: format!("`from=` cycle: {}", chain.join(" -> ")),
                            src: sources.named(from.span.file),
                            span: from.span.source_span(),
                            label: "this `from=` closes the cycle".into(),
                            help: Some("one key of the chain must hold the value: give it `generate=`, `value=`, or set it in the store".into()),
                        });
                    }
                    break;
                }
                let next = model
                    .secret(at.0)
                    .and_then(|s| s.keys.iter().find(|k| k.name.value == at.1));
                match next.map(|k| &k.source) {
                    Some(SecretKeySource::From { secret, key }) => {
                        at = (secret.value.as_str(), key.value.as_str());
                    }
                    // A value of its own, or an unknown name (reported at its own key).
                    _ => break,
                }
                // A loop that does not pass through this key is reported at its own keys.
                if chain[1..].contains(&format!("{}/{}", at.0, at.1)) && at != start {
                    break;
                }
            }
        }
    }
    errors
}

fn keys(secret: &super::SecretDecl) -> String {
    secret
        .keys
        .iter()
        .map(|k| k.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
