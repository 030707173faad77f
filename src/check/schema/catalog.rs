//! The API schemas compiled into stackc (`schemas/*.json`, written by
//! `scripts/regenerate-schemas`): one document per Kubernetes version for the built-in
//! kinds, one for the CRD kinds. The first few objects of a kind a process checks are
//! checked with the kind's schema cut down to their own fields ([`prune`](super::prune)):
//! an edit re-renders a few objects, and compiling a Deployment's whole schema cost more
//! than the rest of checking them. Past those, the kind's whole validator is compiled,
//! once per process, from only the definitions it reaches.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The Kubernetes versions stackc has schemas for, oldest first.
pub const VERSIONS: &[&str] = &["1.33", "1.34", "1.35", "1.36", "1.37"];

/// How many objects of a kind a process checks with cut schemas before it compiles the
/// kind's whole schema (a cut costs a small part of a whole compile, and a build that checks
/// more objects than this checks many more).
const CUT_PER_KIND: usize = 4;

/// The version checked when the stack does not say (`policy kubernetes="..."`): the newest.
pub const DEFAULT_VERSION: &str = "1.37";

const BUILTIN: &[&str] = &[
    include_str!("../../../schemas/kubernetes-1.33.json"),
    include_str!("../../../schemas/kubernetes-1.34.json"),
    include_str!("../../../schemas/kubernetes-1.35.json"),
    include_str!("../../../schemas/kubernetes-1.36.json"),
    include_str!("../../../schemas/kubernetes-1.37.json"),
];

const CRDS: &str = include_str!("../../../schemas/crds.json");

/// One document, its definitions kept as text until a kind's validator needs them, and its
/// validators, each compiled on first use (a build checks a few kinds of the hundreds
/// defined: parsing every definition was most of the cost of the first lookup).
pub struct Catalog {
    /// `group/version/Kind` (`v1/Service` for the core group) -> definition name.
    kinds: BTreeMap<String, String>,
    defs: BTreeMap<&'static str, &'static RawValue>,
    validators: BTreeMap<String, OnceLock<Result<jsonschema::Validator, String>>>,
    /// How many objects of each kind were checked with a cut schema.
    cuts: BTreeMap<String, AtomicUsize>,
    /// The definitions cuts have reached, parsed once.
    parsed: BTreeMap<&'static str, OnceLock<Option<Value>>>,
    /// Where the document came from, for messages (`k8s-openapi 0.29 (Kubernetes 1.37)`).
    pub source: String,
}

/// A schema document as written by `scripts/regenerate-schemas`.
#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    source: String,
    #[serde(default)]
    kinds: BTreeMap<String, String>,
    #[serde(rename = "$defs", default, borrow)]
    defs: BTreeMap<&'static str, &'static RawValue>,
}

/// What the schemas know about a kind.
pub enum Lookup<'c> {
    /// A schema for exactly this apiVersion and kind, in this catalog, under this key.
    Known(&'c Catalog, String),
    /// The kind is known under other apiVersions only (a removed or mistyped version).
    OtherVersions(Vec<String>),
    /// No schema: a kind stackc has no schema for is not checked.
    Unknown,
}

/// The validator one object is checked with: its kind's whole one, or one cut to it.
pub enum Checker<'c> {
    Whole(&'c jsonschema::Validator),
    Cut(jsonschema::Validator),
}

impl std::ops::Deref for Checker<'_> {
    type Target = jsonschema::Validator;

    fn deref(&self) -> &jsonschema::Validator {
        match self {
            Checker::Whole(validator) => validator,
            Checker::Cut(validator) => validator,
        }
    }
}

impl Catalog {
    fn parse(text: &'static str) -> Catalog {
        // The documents are compiled in and tested, so a parse failure is an empty catalog
        // (and the unit tests fail), never a panic at a user's.
        let doc: Document = serde_json::from_str(text).unwrap_or(Document {
            source: String::new(),
            kinds: BTreeMap::new(),
            defs: BTreeMap::new(),
        });
        let validators = doc
            .kinds
            .keys()
            .map(|k| (k.clone(), OnceLock::new()))
            .collect();
        let cuts = doc
            .kinds
            .keys()
            .map(|k| (k.clone(), AtomicUsize::new(0)))
            .collect();
        let parsed = doc
            .defs
            .keys()
            .map(|name| (*name, OnceLock::new()))
            .collect();
        Catalog {
            kinds: doc.kinds,
            defs: doc.defs,
            validators,
            cuts,
            parsed,
            source: doc.source,
        }
    }

    /// The definition `name`, parsed.
    fn def(&self, name: &str) -> Option<Value> {
        serde_json::from_str(self.defs.get(name)?.get()).ok()
    }

    /// The definition `name`, parsed the first time it is asked for.
    fn parsed_def(&self, name: &str) -> Option<&Value> {
        self.parsed
            .get(name)?
            .get_or_init(|| self.def(name))
            .as_ref()
    }

    fn validator(&self, key: &str) -> Option<&Result<jsonschema::Validator, String>> {
        let def = self.kinds.get(key)?;
        Some(self.validators.get(key)?.get_or_init(|| self.compile(def)))
    }

    /// The validator to check `instance`, an object of kind `key`, with: the kind's whole
    /// one once it is compiled or the kind's cuts are used up, else one cut to `instance`
    /// (the same errors for it). `Err`: the embedded schema does not compile, a bug.
    pub fn checker(&self, key: &str, instance: &Value) -> Result<Checker<'_>, String> {
        let slot = self
            .validators
            .get(key)
            .ok_or_else(|| format!("no schema for {key}"))?;
        // Once compiled (a cold build's many objects), the whole validator, at no more cost.
        if let Some(compiled) = slot.get() {
            return compiled.as_ref().map(Checker::Whole).map_err(Clone::clone);
        }
        let cut_allowed = self
            .cuts
            .get(key)
            .is_some_and(|n| n.fetch_add(1, Ordering::Relaxed) < CUT_PER_KIND);
        if let Some(def) = self.kinds.get(key).filter(|_| cut_allowed) {
            let cut = super::prune::prune(&|name| self.parsed_def(name), def, instance)
                .and_then(|schema| build(&schema).ok());
            if let Some(validator) = cut {
                return Ok(Checker::Cut(validator));
            }
        }
        match self.validator(key) {
            Some(Ok(validator)) => Ok(Checker::Whole(validator)),
            Some(Err(message)) => Err(message.clone()),
            None => Err(format!("no schema for {key}")),
        }
    }

    /// A schema of `def` with the definitions it reaches, and its validator.
    fn compile(&self, def: &str) -> Result<jsonschema::Validator, String> {
        let mut reached: BTreeMap<String, Option<Value>> = BTreeMap::new();
        let mut todo = vec![def.to_string()];
        while let Some(name) = todo.pop() {
            if reached.contains_key(&name) {
                continue;
            }
            let schema = self.def(&name);
            if let Some(schema) = &schema {
                refs(schema, &mut todo);
            }
            reached.insert(name, schema);
        }
        let defs: Map<String, Value> = reached
            .into_iter()
            .filter_map(|(name, schema)| Some((name, schema?)))
            .collect();
        let schema = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("#/$defs/{def}"),
            "$defs": defs,
        });
        build(&schema)
    }

    /// The schema of the property `name` of the object schema at `path` under the kind's
    /// definition, following `$ref`s: what "did you mean" draws its candidates from.
    pub fn properties_at(&self, key: &str, path: &[String]) -> Vec<String> {
        let Some(mut schema) = self.kinds.get(key).and_then(|d| self.def(d)) else {
            return Vec::new();
        };
        for segment in path {
            schema = self.deref(schema);
            let next = if segment.parse::<usize>().is_ok() {
                schema.get("items")
            } else {
                schema
                    .get("properties")
                    .and_then(|p| p.get(segment))
                    .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()))
            };
            match next.cloned() {
                Some(next) => schema = next,
                None => return Vec::new(),
            }
        }
        self.deref(schema)
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn deref(&self, mut schema: Value) -> Value {
        for _ in 0..16 {
            match schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
                .and_then(|name| self.def(name))
            {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }
}

/// A validator of `schema`, as every schema here is compiled: draft 2020-12, formats not
/// checked.
fn build(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(false)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// Every `#/$defs/NAME` that `schema` refers to.
fn refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref" {
                    if let Some(name) = value.as_str().and_then(|r| r.strip_prefix("#/$defs/")) {
                        out.push(name.to_string());
                    }
                } else {
                    refs(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
        _ => {}
    }
}

fn builtin(version: &str) -> Option<&'static Catalog> {
    static CATALOGS: OnceLock<Vec<OnceLock<Catalog>>> = OnceLock::new();
    let index = VERSIONS.iter().position(|v| *v == version)?;
    let catalogs = CATALOGS.get_or_init(|| VERSIONS.iter().map(|_| OnceLock::new()).collect());
    let text = BUILTIN.get(index)?;
    Some(catalogs.get(index)?.get_or_init(|| Catalog::parse(text)))
}

fn crds() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::parse(CRDS))
}

/// The key of an object's kind: `apps/v1/Deployment`.
pub fn key(api_version: &str, kind: &str) -> String {
    format!("{api_version}/{kind}")
}

/// What the schemas of Kubernetes `version` (and the CRDs) say about `apiVersion` `kind`.
pub fn lookup(version: &str, api_version: &str, kind: &str) -> Lookup<'static> {
    let key = key(api_version, kind);
    // The CRDs' document is read only for a kind the version's does not define.
    let catalogs = || {
        builtin(version)
            .into_iter()
            .chain(std::iter::once_with(crds))
    };
    if let Some(catalog) = catalogs().find(|c| c.kinds.contains_key(&key)) {
        return Lookup::Known(catalog, key);
    }
    let catalogs: Vec<&'static Catalog> = catalogs().collect();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let others: Vec<String> = catalogs
        .iter()
        .flat_map(|c| c.kinds.keys())
        .filter_map(|k| {
            let (api, k_kind) = k.rsplit_once('/')?;
            let k_group = api.rsplit_once('/').map_or("", |(g, _)| g);
            // Only Kubernetes' own versions are known to be all there are: a CRD version
            // newer than the compiled-in schemas (Flux's `source.toolkit.fluxcd.io/v1`
            // OCIRepository) is unchecked, not wrong.
            (k_kind == kind && is_builtin_group(group) && is_builtin_group(k_group))
                .then(|| api.to_string())
        })
        .collect();
    if others.is_empty() {
        Lookup::Unknown
    } else {
        Lookup::OtherVersions(others)
    }
}

/// Groups only Kubernetes itself serves (the core group, `apps`, `*.k8s.io`, ...); a kind of
/// them under another of them is the old name of the same API (`extensions/v1beta1` Ingress).
fn is_builtin_group(group: &str) -> bool {
    group.is_empty() || group == "extensions" || group.ends_with(".k8s.io") || !group.contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_document_parses_and_compiles() {
        for version in VERSIONS {
            let catalog = builtin(version).expect("a catalog per version");
            assert!(
                catalog.kinds.len() >= 40,
                "{version}: {}",
                catalog.kinds.len()
            );
            for key in catalog.kinds.keys() {
                assert!(
                    matches!(catalog.validator(key), Some(Ok(_))),
                    "{version} {key}"
                );
            }
        }
        let crds = crds();
        for key in crds.kinds.keys() {
            assert!(matches!(crds.validator(key), Some(Ok(_))), "{key}");
        }
        assert!(crds
            .kinds
            .contains_key("kustomize.toolkit.fluxcd.io/v1/Kustomization"));
    }

    /// Each error as the findings read it: where, and what.
    fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
        validator
            .iter_errors(instance)
            .map(|e| format!("{} {e}", e.instance_path()))
            .collect()
    }

    #[test]
    fn a_cut_schema_finds_what_the_whole_one_finds_in_real_kinds() {
        let catalog = builtin(DEFAULT_VERSION).expect("the default version");
        let container = serde_json::json!({
            "name": "web", "image": "nginx:1", "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 10},
            "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "128Mi"}},
            "env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
        });
        let mut broken = container.clone();
        broken["imagePullPolicy"] = serde_json::json!(3);
        broken["readinessProbe"]["httpGet"]["prot"] = serde_json::json!(1);
        broken["env"][0]["valueFrom"] = serde_json::json!({"secretKeyRef": {"key": 1}});
        broken.as_object_mut().unwrap().remove("name");
        let deployment = |containers: Value, replicas: Value| {
            serde_json::json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"a": "b"}},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": "web"}},
                    "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": containers, "affinity": {"podAntiAffinity": {}}},
                    },
                },
            })
        };
        let cases = [
            (
                "apps/v1/Deployment",
                deployment(serde_json::json!([container]), 2.into()),
            ),
            (
                "apps/v1/Deployment",
                deployment(serde_json::json!([container, broken]), "two".into()),
            ),
            (
                "apps/v1/Deployment",
                serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"templat": {}}}),
            ),
            (
                "v1/Service",
                serde_json::json!({"spec": {"ports": [{"port": "x", "targetPort": "http"}], "type": 1}}),
            ),
            (
                "v1/ConfigMap",
                serde_json::json!({"metadata": {"name": "c"}, "data": {"a": "b", "c": 1}}),
            ),
        ];
        for (key, instance) in &cases {
            let Some(Ok(whole)) = catalog.validator(key) else {
                panic!("{key} compiles");
            };
            let schema = super::super::prune::prune(
                &|n| catalog.parsed_def(n),
                &catalog.kinds[*key],
                instance,
            )
            .expect("the cut succeeds");
            let cut = build(&schema).expect("the cut compiles");
            assert_eq!(
                errors(&cut, instance),
                errors(whole, instance),
                "{key} {instance}"
            );
            assert_eq!(cut.is_valid(instance), whole.is_valid(instance));
        }
        // The broken Deployment has errors to agree on.
        assert!(!errors(
            catalog
                .validator("apps/v1/Deployment")
                .unwrap()
                .as_ref()
                .unwrap(),
            &cases[1].1
        )
        .is_empty());
    }

    #[test]
    fn a_kind_is_checked_with_cuts_and_then_with_its_whole_validator() {
        // A catalog of its own: other tests compile the shared ones' validators.
        let catalog = Catalog::parse(CRDS);
        let key = "source.toolkit.fluxcd.io/v1/GitRepository";
        let instance = serde_json::json!({"spec": {"url": 1}});
        for _ in 0..CUT_PER_KIND {
            assert!(matches!(
                catalog.checker(key, &instance),
                Ok(Checker::Cut(_))
            ));
        }
        assert!(matches!(
            catalog.checker(key, &instance),
            Ok(Checker::Whole(_))
        ));
        assert!(matches!(
            catalog.checker(key, &instance),
            Ok(Checker::Whole(_))
        ));
    }

    #[test]
    fn a_removed_api_version_names_the_served_one() {
        match lookup(DEFAULT_VERSION, "extensions/v1beta1", "Ingress") {
            Lookup::OtherVersions(v) => assert_eq!(v, ["networking.k8s.io/v1"]),
            _ => panic!("expected other versions"),
        }
        assert!(matches!(
            lookup(DEFAULT_VERSION, "example.com/v1", "Widget"),
            Lookup::Unknown
        ));
    }
}
