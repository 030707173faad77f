//! The `schema` rule beyond what templates render: the objects stackc generates itself around
//! the services (Namespaces, Flux Kustomizations, Argo CD Applications) are validated in
//! every environment of the example, and the CRD kinds added for them and for what users
//! write beside them (Flux notification Provider and Alert, Argo CD Application and
//! `AppProject`, Gateway API Gateway and `HTTPRoute`) are checked in a manifest.

use crate::harness::{example, Test};
use serde_json::Value as Json;

/// `stackc check --format json [ENV]`: exit code and document.
fn check_json(t: &Test, envs: &[&str]) -> (i32, Json) {
    let mut args = vec!["check", "--format", "json"];
    args.extend_from_slice(envs);
    let run = t.run(&args);
    let doc = serde_json::from_str(&run.stdout())
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", run.stdout(), run.stderr()));
    (run.code(), doc)
}

/// The files stackc generates in `out/<env>`: Namespace documents, the Flux
/// Kustomizations and the Argo CD Applications.
fn generated_in_out(t: &Test, env: &str) -> usize {
    t.tree(&format!("out/{env}"))
        .iter()
        .filter(|(path, _)| {
            let parts: Vec<&str> = path.split('/').collect();
            match parts.as_slice() {
                ["flux-system", file] => {
                    file.starts_with("kustomization-") || file.starts_with("namespace-")
                }
                ["argocd", file] => file.starts_with("application-"),
                // A namespace's own files: its Namespace and policy objects (default-deny,
                // quota, limits, Flux notifications), not its sealed Secrets.
                [_layer, _namespace, file] => {
                    *file != "kustomization.yaml" && !file.starts_with("secret-")
                }
                _ => false,
            }
        })
        .count()
}

#[test]
fn every_generated_object_of_the_example_is_validated() {
    let t = example();
    let mut total = 0;
    for env in ["dev", "staging", "production"] {
        let (code, doc) = check_json(&t, &[env]);
        assert_eq!(code, 0, "{doc:#}");
        let validated = doc["summary"]["generated_objects"]
            .as_u64()
            .unwrap_or_else(|| panic!("no summary.generated_objects: {doc:#}"));
        let in_out = generated_in_out(&t, env);
        // Every Namespace, policy object, Kustomization and Application in out/ was checked:
        // none is of a kind without a schema.
        assert!(validated > 0, "{env}: nothing validated");
        assert_eq!(validated, in_out as u64, "{env}");
        total += validated;
    }
    let (code, doc) = check_json(&t, &[]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["summary"]["generated_objects"], total);
}

const STACK: &str = r#"project "shop" domain="example.org"

layer "apps"

environment "dev" wave=0 domain="dev.example.org"

service "web" layer="apps" namespace="web" {
    manifests "manifests/extra.yaml"
}
"#;

/// One document per new CRD kind, valid.
const VALID: &str = "apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: slack
  namespace: web
spec:
  type: slack
  channel: alerts
  secretRef:
    name: slack-url
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: web
  namespace: web
spec:
  providerRef:
    name: slack
  eventSeverity: error
  eventSources:
    - kind: Kustomization
      name: apps
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  namespace: web
spec:
  project: default
  destination:
    server: https://kubernetes.default.svc
    namespace: web
  source:
    repoURL: https://github.com/example/shop.git
    path: out/dev/apps
    targetRevision: main
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
---
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: shop
  namespace: web
spec:
  sourceRepos: ['*']
  destinations:
    - server: https://kubernetes.default.svc
      namespace: web
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: web
  namespace: web
spec:
  gatewayClassName: traefik
  listeners:
    - name: http
      protocol: HTTP
      port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
  namespace: web
spec:
  parentRefs:
    - name: web
  hostnames: [web.dev.example.org]
  rules:
    - backendRefs:
        - name: web
          port: 80
";

fn schema_findings(t: &Test) -> Vec<Json> {
    let (_, doc) = check_json(t, &[]);
    doc["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f["rule"] == "schema")
        .collect()
}

#[test]
fn the_new_crd_kinds_validate_and_a_misspelt_field_in_each_is_found() {
    let t = Test::new()
        .file("stacks.kdl", STACK)
        .file("manifests/extra.yaml", VALID);
    let found = schema_findings(&t);
    assert!(found.is_empty(), "{found:#?}");

    // One misspelt field per document, each on its own line.
    let broken = VALID
        .replace("  channel: alerts", "  chanel: alerts")
        .replace("  eventSeverity: error", "  eventSeverty: error")
        .replace("    targetRevision: main", "    targetRevison: main")
        .replace("  sourceRepos: ['*']", "  sourceRepo: ['*']")
        .replace("  gatewayClassName: traefik", "  gatewayClass: traefik")
        .replace(
            "  hostnames: [web.dev.example.org]",
            "  hostname: [web.dev.example.org]",
        );
    t.write("manifests/extra.yaml", &broken);
    let run = t.run(&["check", "--format", "json"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let found = schema_findings(&t);
    let line = |needle: &str| {
        broken
            .lines()
            .position(|l| l.contains(needle))
            .map(|i| i as u64 + 1)
    };
    for (field, kind, needle) in [
        (
            "spec.chanel",
            "notification.toolkit.fluxcd.io/v1beta3 Provider",
            "chanel:",
        ),
        (
            "spec.eventSeverty",
            "notification.toolkit.fluxcd.io/v1beta3 Alert",
            "eventSeverty:",
        ),
        (
            "spec.source.targetRevison",
            "argoproj.io/v1alpha1 Application",
            "targetRevison:",
        ),
        (
            "spec.sourceRepo",
            "argoproj.io/v1alpha1 AppProject",
            "sourceRepo:",
        ),
        (
            "spec.gatewayClass",
            "gateway.networking.k8s.io/v1 Gateway",
            "gatewayClass:",
        ),
        (
            "spec.hostname",
            "gateway.networking.k8s.io/v1 HTTPRoute",
            "hostname:",
        ),
    ] {
        let message = format!("unknown field `{field}` in the schema of {kind}");
        assert!(
            found.iter().any(|f| f["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(&message))
                && f["file"] == "manifests/extra.yaml"
                && f["line"].as_u64() == line(needle)),
            "{message}: {found:#?}"
        );
    }
    // Gateway's listeners are required (a Gateway with none is refused by the API).
    t.write(
        "manifests/extra.yaml",
        &VALID.replace(
            "  listeners:\n    - name: http\n      protocol: HTTP\n      port: 80\n",
            "",
        ),
    );
    let found = schema_findings(&t);
    assert!(
        found.iter().any(|f| f["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("missing required field `spec.listeners`"))),
        "{found:#?}"
    );
}
