//! The `schema` rule over the objects stackc generates itself around the services: the
//! layout's Namespaces, Flux Kustomizations and Argo CD Applications
//! ([`Layout::generated`]). No template wrote them, so a finding points at the KDL block
//! that configured the object (a `namespace`, `flux` or `argocd` block, the most specific
//! one that applies), else the `gitops` node, else the environment's declaration. They are
//! few per environment, so `check` and the build's gate both validate all of them, every
//! time (no cache).

use super::{catalog, check_object};
use crate::check::context::setting_value;
use crate::check::Finding;
use crate::layout::{Layout, ARGOCD_DIR, FLUX_DIR};
use crate::model::gitops::{FluxBlock, GitOpsScope};
use crate::model::{Model, Stack};
use crate::object::RenderedObject;
use crate::resolve::ResolvedService;
use crate::source::Span;
use crate::value::Value;

/// The objects the layout generates for `env`, as the rules see objects.
pub fn objects(stack: &Stack, env: &str) -> Vec<RenderedObject> {
    // A policy that does not resolve is the build's and check's error to report, at its span.
    let Ok(policy) = crate::policy::EnvPolicy::of(stack, env) else {
        return Vec::new();
    };
    Layout::new(stack).generated_objects(env, &policy)
}

/// The schema findings of the generated objects of `env` against the schemas of Kubernetes
/// `version` (allows not applied).
pub fn findings(stack: &Stack, env: &str, version: &str) -> Vec<Finding> {
    findings_of(stack, env, version, &objects(stack, env))
}

/// [`findings`] of `generated`, the [`objects`] of `env` computed once by the caller.
pub fn findings_of(
    stack: &Stack,
    env: &str,
    version: &str,
    generated: &[RenderedObject],
) -> Vec<Finding> {
    let mut out = Vec::new();
    for object in generated {
        let span = origin(&stack.model, env, object);
        out.extend(check_object(object, version, &|_| span));
    }
    out
}

/// How many of the generated objects of `env` have a schema (and so are validated): all of
/// them, unless a kind lost its schema; `check --format json` reports it.
pub fn validated(stack: &Stack, env: &str, version: &str) -> usize {
    objects(stack, env)
        .iter()
        .filter(|o| {
            matches!(
                catalog::lookup(version, &o.id.api_version, &o.id.kind),
                catalog::Lookup::Known(..)
            )
        })
        .count()
}

/// The Kubernetes version of an environment's generated objects: the first one its
/// services set (the built-in kind among them, `v1 Namespace`, is the same in every version
/// stackc knows), else the default.
pub fn version(services: &[ResolvedService]) -> String {
    services
        .iter()
        .find_map(|s| match setting_value(s, "policy.kubernetes") {
            Some(Value::String(v)) if catalog::VERSIONS.contains(&v.as_str()) => Some(v),
            _ => None,
        })
        .unwrap_or_else(|| catalog::DEFAULT_VERSION.to_string())
}

/// The KDL that produced a generated object.
fn origin(model: &Model, env: &str, object: &RenderedObject) -> Option<Span> {
    let environment = model.environment(env)?;
    let overlay = environment.overlay.as_ref();
    let gitops = model.gitops.span;
    let found = if let Some(layer) = between(&object.path, FLUX_DIR, "kustomization-") {
        let mut scopes: Vec<&[FluxBlock]> = Vec::new();
        scopes.extend(overlay.map(|o| o.gitops.flux.as_slice()));
        scopes.push(&environment.gitops.flux);
        if let Some(l) = model.layers.iter().find(|l| l.name.value == layer) {
            scopes.push(&l.flux);
        }
        scopes.push(&model.gitops.scope.flux);
        scopes
            .into_iter()
            .find_map(|blocks| flux_block(blocks, layer))
            .or(gitops)
    } else if between(&object.path, ARGOCD_DIR, "application-").is_some() {
        let scopes: Vec<&GitOpsScope> = overlay
            .map(|o| &o.gitops)
            .into_iter()
            .chain([&environment.gitops, &model.gitops.scope])
            .collect();
        scopes
            .into_iter()
            .find_map(|s| s.argocd.last().map(|b| b.span))
            .or(gitops)
    } else if object.id.kind == "Namespace" {
        overlay
            .map(|o| o.namespaces.as_slice())
            .into_iter()
            .chain([
                environment.namespaces.as_slice(),
                model.namespaces.as_slice(),
            ])
            .find_map(|decls| {
                decls
                    .iter()
                    .rev()
                    .find(|d| d.name.value == object.id.name)
                    .map(|d| d.span)
            })
    } else {
        None
    };
    Some(found.unwrap_or(environment.span))
}

/// The layer-specific block of `layer` in one scope, else its stack-wide one (the last
/// written wins, as in [`Model::flux_settings`]).
fn flux_block(blocks: &[FluxBlock], layer: &str) -> Option<Span> {
    let last = |specific: bool| {
        blocks
            .iter()
            .rev()
            .find(|b| match &b.layer {
                Some(l) => specific && l.value == layer,
                None => !specific,
            })
            .map(|b| b.span)
    };
    last(true).or_else(|| last(false))
}

/// `apps` of `flux-system/kustomization-apps.yaml`.
fn between<'p>(path: &'p str, dir: &str, prefix: &str) -> Option<&'p str> {
    path.strip_prefix(dir)?
        .strip_prefix('/')?
        .strip_prefix(prefix)?
        .strip_suffix(".yaml")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{map, Map};

    fn object(body: Value, path: &str) -> RenderedObject {
        RenderedObject {
            id: crate::object::ObjectId::of(&body).expect("id"),
            body,
            service: None,
            path: path.into(),
            origin: None,
        }
    }

    fn kustomization(spec: Vec<(&str, Value)>) -> Value {
        map([
            ("apiVersion", Value::from("kustomize.toolkit.fluxcd.io/v1")),
            ("kind", Value::from("Kustomization")),
            (
                "metadata",
                map([
                    ("name", Value::from("apps")),
                    ("namespace", Value::from("flux-system")),
                ]),
            ),
            ("spec", map(spec)),
        ])
    }

    fn valid_spec() -> Vec<(&'static str, Value)> {
        vec![
            ("interval", Value::from("10m")),
            ("path", Value::from("./out/dev/apps")),
            ("prune", Value::Bool(true)),
            (
                "sourceRef",
                map([
                    ("kind", Value::from("GitRepository")),
                    ("name", Value::from("flux-system")),
                ]),
            ),
        ]
    }

    fn messages(body: Value) -> Vec<String> {
        let object = object(body, "flux-system/kustomization-apps.yaml");
        check_object(&object, catalog::DEFAULT_VERSION, &|_| None)
            .into_iter()
            .map(|f| f.message)
            .collect()
    }

    #[test]
    fn a_valid_generated_kustomization_has_no_finding() {
        assert_eq!(messages(kustomization(valid_spec())), Vec::<String>::new());
    }

    #[test]
    fn a_broken_generated_kustomization_is_found() {
        let mut spec = valid_spec();
        spec.retain(|(k, _)| *k != "sourceRef");
        spec.push(("prune", Value::from("yes")));
        spec.push(("intervall", Value::from("10m")));
        let found = messages(kustomization(spec));
        assert!(
            found
                .iter()
                .any(|m| m.contains("unknown field `spec.intervall`")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|m| m.contains("missing required field `spec.sourceRef`")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|m| m.contains("field `spec.prune` is a string")),
            "{found:?}"
        );
    }

    #[test]
    fn a_broken_generated_namespace_and_application_are_found() {
        let namespace = map([
            ("apiVersion", Value::from("v1")),
            ("kind", Value::from("Namespace")),
            (
                "metadata",
                map([("name", Value::from("web")), ("labels", Value::from("x"))]),
            ),
        ]);
        let found = messages(namespace);
        assert!(
            found.iter().any(|m| m.contains("`metadata.labels`")),
            "{found:?}"
        );
        let application = map([
            ("apiVersion", Value::from("argoproj.io/v1alpha1")),
            ("kind", Value::from("Application")),
            ("metadata", map([("name", Value::from("dev-apps"))])),
            (
                "spec",
                map([
                    ("destination", Value::Map(Map::default())),
                    ("projekt", Value::from("default")),
                ]),
            ),
        ]);
        let found = messages(application);
        assert!(
            found
                .iter()
                .any(|m| m.contains("unknown field `spec.projekt`")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|m| m.contains("missing required field `spec.project`")),
            "{found:?}"
        );
    }

    /// The line of `span` in its file.
    fn line(stack: &Stack, span: Span) -> usize {
        let text = &stack.sources.file(span.file).text;
        text[..span.offset].matches('\n').count() + 1
    }

    #[test]
    fn a_generated_object_points_at_the_block_that_configured_it() {
        let text = r#"project "shop" domain="example.org"
gitops "flux" "argocd" {
    flux { interval "5m"; }
    argocd { repo-url "https://example.org/shop.git"; }
}
layer "infra"
layer "apps" depends-on="infra"
environment "dev" wave=0 domain="dev.example.org" {
    flux layer="apps" { prune #false; }
    namespace "web" { label team="web"; }
}
service "web" layer="apps" namespace="web" template="web" {
    image "nginx" tag="1.27.3"
}
service "db" layer="infra" namespace="db" template="web" {
    image "postgres" tag="17.2"
}
"#;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("stacks.kdl"), text).expect("write");
        std::fs::create_dir_all(dir.path().join("templates/web")).expect("mkdir");
        std::fs::write(
            dir.path().join("templates/web/configmap.yaml.j2"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        )
        .expect("write");
        let stack = crate::model::load(dir.path()).expect("stack");
        let lines: std::collections::BTreeMap<String, usize> = objects(&stack, "dev")
            .iter()
            .map(|o| {
                let span = origin(&stack.model, "dev", o).expect("span");
                (o.path.clone(), line(&stack, span))
            })
            .collect();
        let at = |path: &str| lines.get(path).copied();
        assert_eq!(
            at("flux-system/kustomization-apps.yaml"),
            Some(9),
            "{lines:?}"
        );
        assert_eq!(
            at("flux-system/kustomization-infra.yaml"),
            Some(3),
            "{lines:?}"
        );
        assert_eq!(at("argocd/application-apps.yaml"), Some(4), "{lines:?}");
        let namespace = |name: &str| {
            lines
                .iter()
                .find(|(p, _)| p.contains(name) && p.contains("amespace"))
                .map(|(_, l)| *l)
        };
        assert_eq!(namespace("web"), Some(10), "{lines:?}");
        // Nothing configured `db`'s Namespace: the environment's declaration.
        assert_eq!(namespace("db"), Some(8), "{lines:?}");
        let version = version(&[]);
        assert_eq!(validated(&stack, "dev", &version), lines.len());
        assert!(findings(&stack, "dev", &version).is_empty());
    }

    #[test]
    fn paths_name_their_layer() {
        assert_eq!(
            between(
                "flux-system/kustomization-apps.yaml",
                FLUX_DIR,
                "kustomization-"
            ),
            Some("apps")
        );
        assert_eq!(
            between("argocd/application-infra.yaml", ARGOCD_DIR, "application-"),
            Some("infra")
        );
        assert_eq!(
            between("apps/web/namespace.yaml", FLUX_DIR, "kustomization-"),
            None
        );
    }
}
