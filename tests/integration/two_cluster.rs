//! `tests/stacks/two-cluster/` re-expresses a two-cluster Flux repository (infrastructure
//! controllers -> configs -> apps, `HelmRepository` and `OCIRepository` chart sources,
//! `HelmRelease`s with per-cluster values, a `ClusterIssuer` whose ACME server differs per
//! cluster, Gateway API objects, tenant labels on a namespace) with no hand-written Flux
//! object. What it renders must equal, object by object and field by field, the YAML in
//! `expected/` written by hand from what Flux would apply; `diff` lists exactly what differs.

use crate::harness::{repo_root, tool, tree, Test};
use stackc::value::Value;
use std::collections::BTreeMap;

/// A copy of the test stack (its inputs only) in a temp dir.
fn two_cluster() -> Test {
    let t = Test::new();
    let root = repo_root().join("tests/stacks/two-cluster");
    for (path, bytes) in tree(&root) {
        if path.starts_with("out/") || path.starts_with(".stackc-cache/") {
            continue;
        }
        let to = t.path().join(&path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, bytes).unwrap();
    }
    t
}

/// Objects by `apiVersion kind namespace/name`.
fn objects(texts: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (origin, text) in texts {
        for body in stackc::yaml::parse_documents(&text)
            .unwrap_or_else(|e| panic!("{origin}: {}", e.message))
        {
            let field = |p: &str| {
                body.get_path(p)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let key = format!(
                "{} {} {}/{}",
                field("apiVersion"),
                field("kind"),
                field("metadata.namespace"),
                field("metadata.name")
            );
            assert!(
                out.insert(key.clone(), body).is_none(),
                "{key} twice ({origin})"
            );
        }
    }
    out
}

/// The paths at which two values differ.
fn differences(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Map(a), Value::Map(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    Some(vb) => differences(&format!("{path}.{k}"), va, vb, out),
                    None => out.push(format!("{path}.{k}: only rendered")),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{path}.{k}: only expected"));
            }
        }
        (Value::List(a), Value::List(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                differences(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        _ if a == b => {}
        _ => out.push(format!("{path}: rendered {a:?}, expected {b:?}")),
    }
}

#[test]
fn the_two_cluster_stack_renders_what_flux_would_apply() {
    let t = two_cluster();
    // No Flux object is written by hand: the Kustomizations come from settings.
    for (path, bytes) in tree(t.path()) {
        if !path.starts_with("expected/") {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains("kustomize.toolkit.fluxcd.io"),
                "{path} holds a Flux object"
            );
        }
    }
    t.run(&["build"]).success();
    for env in ["staging", "production"] {
        let rendered = objects(
            t.tree(&format!("out/{env}"))
                .into_iter()
                .filter(|(path, _)| {
                    path.ends_with(".yaml") && !path.ends_with("kustomization.yaml")
                })
                .map(|(path, bytes)| (path, String::from_utf8(bytes).unwrap())),
        );
        let expected = objects([(
            format!("expected/{env}.yaml"),
            t.read(&format!("expected/{env}.yaml")),
        )]);
        assert_eq!(
            rendered.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{env}: the objects differ"
        );
        let mut found = Vec::new();
        for (key, body) in &rendered {
            differences(key, body, &expected[key], &mut found);
        }
        assert!(found.is_empty(), "{env}:\n{}", found.join("\n"));

        let built = tool("kubectl")
            .args(["kustomize", &format!("out/{env}")])
            .current_dir(t.path())
            .output()
            .expect("kubectl");
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let flux = tool("kubectl")
            .args(["kustomize", &format!("out/{env}/flux-system")])
            .current_dir(t.path())
            .output()
            .expect("kubectl");
        assert!(
            flux.status.success(),
            "{}",
            String::from_utf8_lossy(&flux.stderr)
        );
    }
    // Cluster-scoped objects sit in a folder that says so.
    assert!(t
        .path()
        .join(
            "out/production/infra-configs/_cluster/cluster-issuers/clusterissuer-letsencrypt.yaml"
        )
        .is_file());
}

#[test]
fn diff_of_staging_and_production_lists_exactly_the_fields_that_differ() {
    let t = two_cluster();
    let run = t.run(&["diff", "staging", "production"]);
    run.status(1);
    // Domains and out/<env>/ paths are abstracted by diff (docs/diff.md); what is left is
    // the ACME server and its key, the replicas, production's redis and substitution.
    assert_eq!(
        run.stdout(),
        "~ ClusterIssuer letsencrypt
    spec.acme.server: https://acme-staging-v02.api.letsencrypt.org/directory -> https://acme-v02.api.letsencrypt.org/directory
    spec.acme.privateKeySecretRef.name: letsencrypt-staging -> letsencrypt-production
~ HelmRelease cert-manager/cert-manager
    spec.values.replicaCount: 1 -> 2
~ HelmRelease podinfo/podinfo
    spec.values.replicaCount: 1 -> 2
  + spec.values.redis: {enabled: true}
~ Kustomization flux-system/apps
  + spec.postBuild: {substitute: {cluster_env: production}}

4 objects changed, 0 only in staging, 0 only in production (9 unchanged)
"
    );
}
