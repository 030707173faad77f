//! Cache keys: blake3 over a canonical serialization of a `#[derive(Serialize)]` struct
//! that names every input. Adding an input means adding a field, so none is forgotten, and no
//! key is hashed field by field.

use crate::model::TemplateFile;
use crate::value::Tagged;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A blake3 hash, raw.
pub type Hash32 = [u8; 32];

/// Everything a service x environment unit's output depends on.
#[derive(Serialize)]
pub struct UnitKey<'a> {
    /// Output format and rendering rules may change between releases.
    pub stackc: &'static str,
    /// The template fuel (a different limit can turn a render into an error).
    pub fuel: u64,
    /// The whole template context: project, environment, resolved service, secret declarations.
    pub context: Tagged<'a>,
    /// Every template file the unit reads (entry templates and what they include), by hash.
    pub templates: BTreeMap<&'a str, String>,
    /// Every plain manifest file, by hash.
    pub manifests: BTreeMap<&'a str, String>,
    /// The patches of the environment that may apply to the unit's objects, as declared.
    pub patches: Tagged<'a>,
}

/// What a unit was resolved and rendered from, as text: cheaper than [`UnitKey`] (no
/// resolving), so an unchanged declaration skips the unit before any work.
#[derive(Serialize)]
pub struct SourceKey<'a> {
    pub stackc: &'static str,
    /// Every input outside the service declarations ([`GlobalSource`]).
    pub global: &'a Hash32,
    pub env: &'a str,
    /// The hash of the service declaration's text.
    pub service: Option<&'a Hash32>,
}

/// Every input that is not a service declaration: `stacks.kdl` with the service
/// declarations cut out, every other file read (overlays, templates, manifests, the built-in
/// defaults), and the fuel (which changes rendering).
#[derive(Serialize)]
pub struct GlobalSource<'a> {
    pub stackc: &'static str,
    pub fuel: u64,
    /// Every source file but `stacks.kdl`: (name, text).
    pub files: Vec<(&'a str, &'a str)>,
    /// `stacks.kdl` between its service declarations.
    pub stack_outside_services: Vec<&'a str>,
}

/// The key of one unit (in postcard's form, the context [`Tagged`]: hashing the context is a
/// seventh of a cold build's instructions through JSON).
pub fn unit_key(key: &UnitKey<'_>) -> Option<Hash32> {
    Some(hash_typed(key))
}

/// The source key of one unit.
pub fn source_key(key: &SourceKey<'_>) -> Hash32 {
    hash_typed(key)
}

/// The hash of every input outside the service declarations.
pub fn global_source(key: &GlobalSource<'_>) -> Hash32 {
    hash_typed(key)
}

/// Hashes a key made of plain typed fields (no [`Value`](crate::value::Value)) in postcard's binary form: for a
/// fixed struct the encoding is injective, and several times cheaper than JSON (the source
/// key is computed for every unit of every build).
fn hash_typed<T: Serialize>(key: &T) -> Hash32 {
    let flavor = HashFlavor {
        hasher: blake3::Hasher::new(),
        buffer: Vec::with_capacity(BUFFER),
    };
    // The flavor never fails, and these structs hold nothing postcard cannot write.
    postcard::serialize_with_flavor(key, flavor).unwrap_or_default()
}

/// How much [`HashFlavor`] gathers before hashing: postcard writes a key as many small pieces
/// (a tag, a length, a short string), and each call into blake3 has a fixed cost far above
/// the cost of copying a few bytes. Under 1 KiB: glibc answers a larger request by first
/// consolidating its free lists, which costs more than the whole key of a unit.
const BUFFER: usize = 960;

/// A postcard output that hashes instead of storing (writes buffered).
struct HashFlavor {
    hasher: blake3::Hasher,
    buffer: Vec<u8>,
}

impl HashFlavor {
    fn flush(&mut self) {
        self.hasher.update(&self.buffer);
        self.buffer.clear();
    }
}

impl postcard::ser_flavors::Flavor for HashFlavor {
    type Output = Hash32;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        if self.buffer.len() == BUFFER {
            self.flush();
        }
        self.buffer.push(data);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if self.buffer.len() + data.len() > BUFFER {
            self.flush();
        }
        if data.len() >= BUFFER {
            self.hasher.update(data);
        } else {
            self.buffer.extend_from_slice(data);
        }
        Ok(())
    }

    fn finalize(mut self) -> postcard::Result<Hash32> {
        self.flush();
        Ok(*self.hasher.finalize().as_bytes())
    }
}

/// Which templates each template reads, found by scanning `include`, `import`, `from` and
/// `extends` tags. A tag whose target is not a string literal could read anything, so such a
/// template depends on every template.
pub struct TemplateDeps {
    hashes: BTreeMap<String, String>,
    direct: BTreeMap<String, Refs>,
}

enum Refs {
    Named(BTreeSet<String>),
    Anything,
}

impl TemplateDeps {
    /// Scans every template.
    pub fn new(templates: &BTreeMap<String, TemplateFile>) -> Self {
        TemplateDeps {
            hashes: templates
                .iter()
                .map(|(name, file)| {
                    (
                        name.clone(),
                        blake3::hash(file.text.as_bytes()).to_hex().to_string(),
                    )
                })
                .collect(),
            direct: templates
                .iter()
                .map(|(name, file)| (name.clone(), scan(&file.text)))
                .collect(),
        }
    }

    /// The hashes of `entries` and of every template they read, transitively.
    pub fn closure<'a>(&'a self, entries: &[&str]) -> BTreeMap<&'a str, String> {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut todo: Vec<&str> = entries.to_vec();
        while let Some(name) = todo.pop() {
            let Some((name, _)) = self.hashes.get_key_value(name) else {
                // A missing template fails the render; depend on its absence by name.
                continue;
            };
            if !seen.insert(name.as_str()) {
                continue;
            }
            match self.direct.get(name) {
                Some(Refs::Named(refs)) => todo.extend(refs.iter().map(String::as_str)),
                Some(Refs::Anything) => todo.extend(self.hashes.keys().map(String::as_str)),
                None => {}
            }
        }
        seen.into_iter()
            .filter_map(|name| self.hashes.get_key_value(name))
            .map(|(name, hash)| (name.as_str(), hash.clone()))
            .collect()
    }
}

fn scan(text: &str) -> Refs {
    let mut refs = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("{%") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("%}") else { break };
        let tag = after[..end].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        let word = tag.split_whitespace().next().unwrap_or("");
        if matches!(word, "include" | "import" | "from" | "extends") {
            let target = tag[word.len()..].trim_start();
            let literals = string_literals(target);
            // `include "a"`, `include ["a", "b"]`, `from "a" import x`: the target is literal.
            let literal_target = target.starts_with(['"', '\'']) || target.starts_with('[');
            if literals.is_empty() || !literal_target {
                return Refs::Anything;
            }
            refs.extend(literals);
        }
        rest = &after[end + 2..];
    }
    Refs::Named(refs)
}

fn string_literals(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '"' || c == '\'' {
            let literal: String = chars.by_ref().take_while(|x| *x != c).collect();
            out.push(literal);
        } else if c.is_alphabetic() && out.is_empty() {
            // An expression before any literal (`include name`): not a literal target.
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;
    use std::sync::Arc;

    fn templates(files: &[(&str, &str)]) -> BTreeMap<String, TemplateFile> {
        files
            .iter()
            .map(|(n, t)| {
                (
                    (*n).to_string(),
                    TemplateFile {
                        text: Arc::from(*t),
                        file: crate::source::FileId(0),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn closure_follows_includes_imports_and_extends() {
        let t = templates(&[
            (
                "web/a.yaml.j2",
                "{% include \"_shared/labels.j2\" %}\n{%- from '_shared/macros.j2' import m -%}",
            ),
            ("_shared/labels.j2", "{% extends \"_shared/base.j2\" %}"),
            ("_shared/macros.j2", "x"),
            ("_shared/base.j2", "y"),
            ("_shared/unused.j2", "z"),
        ]);
        let deps = TemplateDeps::new(&t);
        let names: Vec<&str> = deps.closure(&["web/a.yaml.j2"]).keys().copied().collect();
        assert_eq!(
            names,
            [
                "_shared/base.j2",
                "_shared/labels.j2",
                "_shared/macros.j2",
                "web/a.yaml.j2"
            ]
        );
    }

    #[test]
    fn dynamic_includes_depend_on_everything() {
        let t = templates(&[
            ("web/a.yaml.j2", "{% include service.extra %}"),
            ("other/b.j2", "b"),
        ]);
        let deps = TemplateDeps::new(&t);
        assert_eq!(deps.closure(&["web/a.yaml.j2"]).len(), 2);
    }

    #[test]
    fn keys_change_with_every_input() {
        let key =
            |replicas: i64, template: &str, manifests: &[(&'static str, &str)], patches: &Value| {
                let ctx = crate::value::map([("replicas", replicas)]);
                unit_key(&UnitKey {
                    stackc: "v",
                    fuel: 1,
                    context: Tagged(&ctx),
                    templates: BTreeMap::from([("t", template.to_string())]),
                    manifests: manifests
                        .iter()
                        .map(|(k, v)| (*k, (*v).to_string()))
                        .collect(),
                    patches: Tagged(patches),
                })
            };
        let none = Value::Null;
        let base = key(1, "h1", &[], &none);
        assert!(base.is_some());
        assert_eq!(base, key(1, "h1", &[], &none));
        assert_ne!(base, key(2, "h1", &[], &none));
        assert_ne!(base, key(1, "h2", &[], &none));
        assert_ne!(base, key(1, "h1", &[("m", "x")], &none));
        // A patch of the environment changes the unit's objects, so its key.
        let patch = Value::List(vec![Value::from("a patch")]);
        assert_ne!(base, key(1, "h1", &[], &patch));
    }

    /// Hashing through the buffered flavor is hashing postcard's bytes, small keys and keys
    /// larger than the buffer alike (the key of every cached unit stays what it was).
    #[test]
    fn the_hash_is_blake3_of_the_postcard_bytes() {
        use crate::value::{map, Value};
        let long = "x".repeat(BUFFER + 3);
        let items: Vec<Value> = (0..3000)
            .map(|i| Value::from(format!("item {i}")))
            .collect();
        for value in [
            Value::Null,
            map([("replicas", 3)]),
            map([
                ("long", Value::from(long.as_str())),
                ("after", Value::Int(1)),
            ]),
            Value::List(items),
        ] {
            let bytes = postcard::to_stdvec(&Tagged(&value)).unwrap();
            assert_eq!(
                hash_typed(&Tagged(&value)),
                *blake3::hash(&bytes).as_bytes()
            );
        }
    }
}
