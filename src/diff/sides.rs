//! Building the two sides of a diff from a stack: environments rendered fresh in memory, or
//! what is in `out/<env>` (the committed files, sealed Secrets decrypted when an identity opens
//! them).
//!
//! Secrets are compared only through keyed digests: each plaintext value (from the
//! environment's store, a literal declaration, or a sealed Secret in `out/` that an identity
//! opens) is hashed with blake3 under a random key drawn once per process from the OS and
//! never stored or printed, so a digest proves equality without revealing a value, and no
//! plaintext or ciphertext reaches the report. A value that cannot be read becomes
//! [`KeyDigest::Unknown`] with the reason.

use super::compact::Compact;
use super::{KeyDigest, SecretView, Side};
use crate::diagnostics::{Diagnostics, IoError};
use crate::emit;
use crate::layout::{self, Layout};
use crate::model::Stack;
use crate::object::{ObjectId, RenderedObject};
use crate::resolve::{Resolved, ResolvedEnvironment};
use crate::seal::{self, Identities, KeySource, Node, SealError, SecretPlan, SopsFile, Store};
use crate::value::{map, Map, Value};
use miette::Diagnostic;
use std::collections::BTreeMap;
use std::path::Path;
use thiserror::Error;
use zeroize::Zeroizing;

/// A side that cannot be built.
#[derive(Debug, Error, Diagnostic)]
pub enum SidesError {
    #[error("cannot read `{path}` as Kubernetes objects: {reason}")]
    #[diagnostic(
        code(stackc::diff::bad_out_file),
        help("the file is generated; `stackc build` rewrites it")
    )]
    OutFile { path: String, reason: String },
    #[error("`{path}` is not what stackc sealed: {reason}")]
    #[diagnostic(
        code(stackc::diff::tampered_secret),
        help("restore it (`git checkout -- {path}`), or run `stackc build` with an identity of the environment to seal it again")
    )]
    TamperedSecret { path: String, reason: String },
    #[error("the operating system gave no randomness for the secret digest key: {0}")]
    #[diagnostic(code(stackc::diff::no_randomness))]
    NoRandomness(String),
}

/// Keyed digests of secret values under a key that lives only in this process's memory.
struct Digester {
    key: Zeroizing<[u8; 32]>,
}

impl Digester {
    fn new() -> Result<Digester, SidesError> {
        use rand::RngCore as _;
        let mut key = Zeroizing::new([0_u8; 32]);
        rand::rngs::OsRng
            .try_fill_bytes(key.as_mut())
            .map_err(|e| SidesError::NoRandomness(e.to_string()))?;
        Ok(Digester { key })
    }

    fn digest(&self, plaintext: &[u8]) -> KeyDigest {
        KeyDigest::of(&self.key, plaintext)
    }

    /// Digests of a decrypted Secret document's keys.
    fn node_digests(&self, body: &Value, node: Option<&Node>) -> BTreeMap<String, KeyDigest> {
        let mut keys = BTreeMap::new();
        for (field, names) in secret_fields(body) {
            for name in names {
                let digest = match node.and_then(|n| n.get(&[field, name.as_str()])) {
                    Some(Node::Secret(leaf)) => self.field_digest(field, leaf.plaintext.as_bytes()),
                    Some(Node::Clear(value)) => match seal::tree::scalar_text(value) {
                        Some((text, _)) => self.field_digest(field, text.as_bytes()),
                        None => self.digest(b""),
                    },
                    _ => KeyDigest::Unknown {
                        reason: "the decrypted Secret does not hold this key as a value"
                            .to_string(),
                    },
                };
                keys.insert(name.clone(), digest);
            }
        }
        keys
    }

    /// Digests of a Secret written in clear (not by stackc, but possible in `out/`).
    fn clear_digests(&self, body: &Value) -> BTreeMap<String, KeyDigest> {
        let mut keys = BTreeMap::new();
        for (field, names) in secret_fields(body) {
            for name in names {
                let value = body
                    .get_path(field)
                    .and_then(Value::as_map)
                    .and_then(|m| m.get(&name));
                let text = value
                    .and_then(seal::tree::scalar_text)
                    .map(|(t, _)| Zeroizing::new(t));
                let bytes = text.as_ref().map_or(&b""[..], |t| t.as_bytes());
                keys.insert(name.clone(), self.field_digest(field, bytes));
            }
        }
        keys
    }

    /// `data` holds base64: the digest is of the decoded bytes, as `stringData` holds them.
    fn field_digest(&self, field: &str, bytes: &[u8]) -> KeyDigest {
        use base64::Engine as _;
        if field == "data" {
            if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(bytes) {
                return self.digest(&Zeroizing::new(decoded));
            }
        }
        self.digest(bytes)
    }
}

/// What both kinds of diff share.
pub struct Sides<'a> {
    stack: &'a Stack,
    resolved: &'a Resolved,
    identities: &'a Identities,
    digester: Digester,
}

/// Whether a fresh side's Secrets carry the fingerprint annotation a build writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fingerprints {
    /// Compared with `out/`: the annotation is part of what a build would write.
    Include,
    /// Compared with another environment: the fingerprints always differ and say nothing.
    Omit,
}

impl<'a> Sides<'a> {
    /// Sides of `stack`, reading secrets with `identities`.
    pub fn new(
        stack: &'a Stack,
        resolved: &'a Resolved,
        identities: &'a Identities,
    ) -> Result<Self, SidesError> {
        Ok(Sides {
            stack,
            resolved,
            identities,
            digester: Digester::new()?,
        })
    }

    /// Two environments, each rendered fresh, with their domains (and `out/<env>/` paths)
    /// normalized so the same logical object pairs up.
    ///
    /// Of two large environments, only one is held as `Value` trees at a time: the first one's
    /// service bodies are encoded while the second renders, and each comes back when its pair
    /// is compared; a pair equal after normalization (most of them) drops both bodies, which
    /// the comparison never reads again.
    pub fn environments(&self, a: &str, b: &str) -> Result<(Side, Side), Diagnostics> {
        let (env_a, env_b) = (self.find(a)?, self.find(b)?);
        let engine = crate::build::Engine::new(self.stack)?;
        let mut errors = Diagnostics::new();
        let mut render = |env| {
            engine
                .objects_with(env, |o| Some(Compact::encode(&std::mem::take(&mut o.body))))
                .map_err(|e| errors.extend(e))
                .ok()
        };
        let (rendered_a, rendered_b) = (render(env_a), render(env_b));
        let (Some((objects_a, mut compact_a)), Some((objects_b, mut compact_b))) =
            (rendered_a, rendered_b)
        else {
            return Err(errors);
        };
        // Both sides get the same substitutions, so strings equal before normalization stay
        // equal after it: production's `example.org` is inside staging's
        // `staging.example.org`, and a plain `admin@example.org` in both must not differ.
        let mut substitutions: Vec<(String, String)> = Vec::new();
        for env in [env_a, env_b] {
            substitutions.push((env.domain.clone(), "<domain>".to_string()));
            substitutions.push((format!("out/{}/", env.name), "out/<env>/".to_string()));
        }
        // Longest first, so a domain is replaced before any domain it ends with.
        substitutions.sort_by(|x, y| y.0.len().cmp(&x.0.len()).then_with(|| x.0.cmp(&y.0)));
        substitutions.dedup();
        let side = |env: &ResolvedEnvironment, objects| -> Result<Side, Diagnostics> {
            let (objects, secrets) = self.fresh(env, objects, Fingerprints::Omit)?;
            let mut side = Side::new(env.name.clone(), objects).with_secrets(secrets);
            side.normalization.clone_from(&substitutions);
            Ok(side)
        };
        let mut side_a = side(env_a, objects_a)?;
        let mut side_b = side(env_b, objects_b)?;
        // `fresh` appended its objects after the services' ones: those it kept as values.
        compact_a.resize(side_a.objects.len(), None);
        compact_b.resize(side_b.objects.len(), None);
        for (i, j) in super::compare::pairs(&side_a, &side_b) {
            restore(&mut side_a.objects[i], &mut compact_a[i])?;
            restore(&mut side_b.objects[j], &mut compact_b[j])?;
            if super::compare::bodies_equal(&side_a, &side_b, i, j) {
                side_a.objects[i].body = Value::Null;
                side_b.objects[j].body = Value::Null;
            }
        }
        for (side, compact) in [(&mut side_a, compact_a), (&mut side_b, compact_b)] {
            for (object, mut bytes) in side.objects.iter_mut().zip(compact) {
                restore(object, &mut bytes)?;
            }
        }
        Ok((side_a, side_b))
    }

    /// The resolved environment `name`.
    fn find(&self, name: &str) -> Result<&'a ResolvedEnvironment, Diagnostics> {
        let resolved: &'a Resolved = self.resolved;
        resolved
            .environments
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| {
                crate::diagnostics::Internal(format!("environment {name} vanished")).into()
            })
    }

    /// One environment rendered fresh, as one side of a before/after comparison of the same
    /// environment (`stackc promote --dry-run`).
    pub fn environment(&self, name: &str) -> Result<Side, Diagnostics> {
        let rendered = self.render(&[name.to_string()])?;
        let (env, objects) = rendered.into_iter().next().ok_or_else(|| {
            crate::diagnostics::Internal(format!("environment {name} was not rendered"))
        })?;
        let (objects, secrets) = self.fresh(env, objects, Fingerprints::Omit)?;
        Ok(Side::new(name, objects).with_secrets(secrets))
    }

    /// `out/<env>` as it is on disk (side A) and what a build would write there (side B).
    pub fn out_with_build(&self, name: &str) -> Result<(Side, Side), Diagnostics> {
        let rendered = self.render(&[name.to_string()])?;
        let (env, objects) = rendered.into_iter().next().ok_or_else(|| {
            crate::diagnostics::Internal(format!("environment {name} was not rendered"))
        })?;
        let (fresh, fresh_secrets) = self.fresh(env, objects, Fingerprints::Include)?;
        let dir = self.stack.root.join("out").join(name);
        let (on_disk, disk_secrets) = self.on_disk(&dir, name)?;
        Ok((
            Side::new(format!("out/{name}"), on_disk).with_secrets(disk_secrets),
            Side::new(name, fresh).with_secrets(fresh_secrets),
        ))
    }

    /// Every service's objects of the environments named, rendered from scratch by the
    /// build's engine ([`crate::build::Engine::objects`]): a diff shows what a build writes.
    fn render(
        &self,
        names: &[String],
    ) -> Result<Vec<(&'a ResolvedEnvironment, Vec<RenderedObject>)>, Diagnostics> {
        let engine = crate::build::Engine::new(self.stack)?;
        let mut errors = Diagnostics::new();
        let mut out = Vec::new();
        for name in names {
            let Some(env) = self.resolved.environments.iter().find(|e| &e.name == name) else {
                return Err(
                    crate::diagnostics::Internal(format!("environment {name} vanished")).into(),
                );
            };
            match engine.objects(env) {
                Ok(objects) => out.push((env, objects)),
                Err(e) => errors.extend(e),
            }
        }
        errors.into_result(out)
    }

    /// A fresh side: the services' objects, the objects the layout adds (Namespaces, Flux
    /// Kustomizations) and one unsealed Secret per declared secret, with the secrets' views.
    fn fresh(
        &self,
        env: &ResolvedEnvironment,
        mut objects: Vec<RenderedObject>,
        fingerprints: Fingerprints,
    ) -> Result<(Vec<RenderedObject>, Vec<SecretView>), Diagnostics> {
        let rbac = Layout::new(self.stack).rbac_of_rendered(&env.name, &objects);
        objects.extend(layout_objects(self.stack, &env.name)?);
        objects.extend(rbac);
        let plans = crate::seal::environment::plans(self.stack);
        if plans.is_empty() {
            return Ok((objects, Vec::new()));
        }
        let store = crate::seal::environment::load_store(self.stack, &env.name)?;
        // A tampered store is an error, not a row of unknown values.
        store.verify(self.identities)?;
        let store_display = format!("environments/{}.secrets.sops.yaml", env.name);
        let layout = crate::layout::Layout::new(self.stack);
        let mut views = Vec::with_capacity(plans.len());
        for plan in &plans {
            let fingerprint = (fingerprints == Fingerprints::Include)
                .then(|| seal::manifest::fingerprint(plan, &store));
            let object = secret_object(plan, &layout, fingerprint);
            views.push(SecretView {
                id: object.id.clone(),
                keys: self.store_digests(plan, &store, &store_display),
            });
            objects.push(object);
        }
        Ok((objects, views))
    }

    /// The digest of each key of a declared secret, from its declaration or the store.
    fn store_digests(
        &self,
        plan: &SecretPlan,
        store: &Store,
        store_display: &str,
    ) -> BTreeMap<String, KeyDigest> {
        plan.keys
            .iter()
            .map(|key| {
                let digest = match &key.source {
                    KeySource::Literal(value) => self.digester.digest(value.as_bytes()),
                    KeySource::Store | KeySource::Generate(_) => {
                        let not_set = || KeyDigest::Unknown {
                            reason: format!("value not set in {store_display}"),
                        };
                        let (secret, name) = key.stored_at(&plan.name);
                        if store.contains(secret, name) {
                            match store.get(self.identities, secret, name) {
                                Ok(Some(value)) => self.digester.digest(value.as_bytes()),
                                Ok(None) => not_set(),
                                Err(e) => self.unreadable(store_display, &e),
                            }
                        } else {
                            not_set()
                        }
                    }
                };
                (key.name.clone(), digest)
            })
            .collect()
    }

    /// Why a SOPS file's values are unknown, without naming a value.
    fn unreadable(&self, what: &str, error: &SealError) -> KeyDigest {
        let reason = match error {
            SealError::NoIdentity { .. } => format!(
                "no identity opens {what} (looked in: {})",
                self.identities.looked_in().join(", ")
            ),
            other => format!("cannot decrypt {what}: {other}"),
        };
        KeyDigest::Unknown { reason }
    }

    /// The objects of the files stackc wrote into `dir` (its index), kustomization.yaml files
    /// aside, with a view of every Secret whose file an identity opens.
    fn on_disk(
        &self,
        dir: &Path,
        env: &str,
    ) -> Result<(Vec<RenderedObject>, Vec<SecretView>), Diagnostics> {
        let mut objects = Vec::new();
        let mut views = Vec::new();
        let mut errors = Diagnostics::new();
        let index = emit::load_index(dir)?;
        for path in index.paths() {
            if layout::is_kustomization(path) {
                continue;
            }
            let full = dir.join(path);
            let text = match std::fs::read_to_string(&full) {
                Ok(text) => text,
                // Listed but gone: the object is simply not on this side.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    errors.push(IoError::new("read", &full, e));
                    continue;
                }
            };
            let display = format!("out/{env}/{path}");
            // Not the bytes stackc recorded writing: a sealed file must then prove itself by
            // its MAC, since its annotation alone proves nothing.
            let changed = index
                .hash(path)
                .is_some_and(|recorded| recorded != blake3::hash(text.as_bytes()));
            match self.file_objects(&display, path, &text, changed) {
                Ok((found, found_views)) => {
                    objects.extend(found);
                    views.extend(found_views);
                }
                Err(e) => errors.push(e),
            }
        }
        errors.into_result((objects, views))
    }

    /// The objects of one out/ file (any number of documents) and its Secrets' views.
    fn file_objects(
        &self,
        display: &str,
        path: &str,
        text: &str,
        changed: bool,
    ) -> Result<(Vec<RenderedObject>, Vec<SecretView>), SidesError> {
        let bad = |reason: String| SidesError::OutFile {
            path: display.to_string(),
            reason,
        };
        let documents = crate::yaml::parse_documents(text)
            .map_err(|e| bad(format!("line {}: {}", e.line, e.message)))?;
        let mut sealed: Option<Result<seal::Opened, SealError>> = None;
        let mut objects = Vec::new();
        let mut views = Vec::new();
        for (index, body) in documents.into_iter().enumerate() {
            if body == Value::Null {
                continue;
            }
            let id = ObjectId::of(&body)
                .map_err(|missing| bad(format!("document {} has no `{missing}`", index + 1)))?;
            if diff_is_secret(&id) {
                let keys = if body.get_path("sops").is_some() {
                    let opened = sealed.get_or_insert_with(|| self.open_sealed(display, text));
                    match opened {
                        Ok(opened) => self
                            .digester
                            .node_digests(&body, opened.documents().get(index)),
                        Err(SealError::NoIdentity { .. }) if changed => {
                            return Err(SidesError::TamperedSecret {
                                path: display.to_string(),
                                reason: "its bytes differ from the hash `.stackc-files` records, and no identity can verify its MAC".to_string(),
                            })
                        }
                        Err(e @ SealError::NoIdentity { .. }) => {
                            let unknown = self.unreadable(&sealed_folder(display), e);
                            key_names(&body).map(|k| (k, unknown.clone())).collect()
                        }
                        // An identity opened it and it failed authentication.
                        Err(e) => {
                            return Err(SidesError::TamperedSecret {
                                path: display.to_string(),
                                reason: e.to_string(),
                            })
                        }
                    }
                } else {
                    self.digester.clear_digests(&body)
                };
                views.push(SecretView {
                    id: id.clone(),
                    keys,
                });
            }
            objects.push(RenderedObject {
                id,
                body,
                service: layout::service_of(path).map(str::to_string),
                path: path.to_string(),
                origin: None,
            });
        }
        Ok((objects, views))
    }

    /// The decrypted sealed file (its MAC verified).
    fn open_sealed(&self, display: &str, text: &str) -> Result<seal::Opened, SealError> {
        SopsFile::parse(display, text)?.decrypt(self.identities)
    }
}

/// What an unreadable sealed file's keys say: the folder, not the file, so one missing
/// identity is one group in the summary.
fn sealed_folder(display: &str) -> String {
    let folder = display.split('/').take(2).collect::<Vec<_>>().join("/");
    format!("the sealed Secrets in {folder}")
}

/// The engine's Secret test (core `v1 Secret`).
fn diff_is_secret(id: &ObjectId) -> bool {
    id.kind == "Secret" && id.api_version == "v1"
}

/// The key names of a Secret's `data` and `stringData`.
fn secret_fields(body: &Value) -> Vec<(&'static str, Vec<String>)> {
    ["data", "stringData"]
        .into_iter()
        .filter_map(|field| {
            let keys = body.get_path(field).and_then(Value::as_map)?;
            Some((field, keys.keys().cloned().collect()))
        })
        .collect()
}

fn key_names(body: &Value) -> impl Iterator<Item = String> {
    secret_fields(body).into_iter().flat_map(|(_, names)| names)
}

/// The objects the layout adds around the services' (Namespaces, namespace-wide policy
/// objects, Flux Kustomizations and notifications), from the same layout call a build uses,
/// so both sides agree on them.
fn layout_objects(stack: &Stack, env: &str) -> Result<Vec<RenderedObject>, Diagnostics> {
    let policy = crate::policy::EnvPolicy::of(stack, env)?;
    Ok(Layout::new(stack).generated_objects(env, &policy))
}

/// A declared secret as an unsealed `v1 Secret`: metadata, type and key names, no values.
fn secret_object(
    plan: &SecretPlan,
    layout: &Layout<'_>,
    fingerprint: Option<String>,
) -> RenderedObject {
    let mut metadata = vec![
        ("name", Value::from(plan.name.as_str())),
        ("namespace", Value::from(plan.namespace.as_str())),
    ];
    if let Some(fingerprint) = fingerprint {
        metadata.push((
            "annotations",
            map([(
                seal::manifest::FINGERPRINT_ANNOTATION,
                Value::from(fingerprint),
            )]),
        ));
    }
    let keys: Map = plan
        .keys
        .iter()
        .map(|k| (k.name.clone(), Value::Null))
        .collect();
    let body = map([
        ("apiVersion", Value::from("v1")),
        ("kind", Value::from("Secret")),
        ("metadata", map(metadata)),
        ("type", Value::from(plan.secret_type.as_str())),
        ("stringData", Value::Map(keys)),
    ]);
    RenderedObject {
        id: ObjectId {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: plan.namespace.clone(),
            name: plan.name.clone(),
        },
        body,
        service: None,
        path: layout.secret_path(&plan.namespace, &plan.name),
        origin: None,
    }
}

/// Puts an encoded body back into its object (once: the bytes are taken).
fn restore(object: &mut RenderedObject, bytes: &mut Option<Compact>) -> Result<(), Diagnostics> {
    if let Some(bytes) = bytes.take() {
        object.body = bytes.decode().ok_or_else(|| {
            crate::diagnostics::Internal(format!(
                "the encoded body of {} does not decode",
                object.id
            ))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_keyed_per_process() {
        let (one, two) = (Digester::new().unwrap(), Digester::new().unwrap());
        assert_eq!(one.digest(b"hunter2"), one.digest(b"hunter2"));
        assert_ne!(one.digest(b"hunter2"), one.digest(b"hunter3"));
        // A fresh key per process: a digest is worthless outside the run that made it.
        assert_ne!(one.digest(b"hunter2"), two.digest(b"hunter2"));
        assert_ne!(
            one.digest(b"hunter2"),
            KeyDigest::Known(*blake3::hash(b"hunter2").as_bytes())
        );
    }

    #[test]
    fn data_values_are_digested_decoded() {
        let digester = Digester::new().unwrap();
        let body = map([
            ("data", map([("a", "aHVudGVyMg==")])),
            ("stringData", map([("b", "hunter2")])),
        ]);
        let digests = digester.clear_digests(&body);
        assert_eq!(digests.len(), 2);
        assert_eq!(digests.get("a"), digests.get("b"));
    }
}
