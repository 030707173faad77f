//! Generated Namespace objects: labels and annotations per namespace and per environment,
//! the managed-by label switched off, a namespace left to someone else, a service owning
//! its Namespace, and two owners refused with both spans.

use crate::flux::refused;
use crate::harness::Test;

fn stack(extra: &str) -> Test {
    let t = Test::basic();
    let text = t.read("stacks.kdl");
    t.write("stacks.kdl", &format!("{text}\n{extra}\n"));
    t
}

#[test]
fn labels_and_annotations_layer_per_environment() {
    let t = stack(
        r#"namespace "web" {
    label "toolkit.fluxcd.io/tenant"="core" team="web"
    annotation "owner.example/contact"="ops@example.org"
}"#,
    );
    t.edit(
        "stacks.kdl",
        "environment \"production\" wave=2 promotes-from=\"dev\" {",
        "environment \"production\" wave=2 promotes-from=\"dev\" {\n    namespace \"web\" { label team=\"web-prod\"; }",
    );
    t.write(
        "environments/production.kdl",
        "namespace \"web\" {\n    label tier=\"critical\"\n    managed-by-label #false\n}\n",
    );
    t.run(&["build"]).success();
    assert_eq!(
        t.read("out/dev/apps/web/namespace.yaml"),
        "apiVersion: v1
kind: Namespace
metadata:
  name: web
  labels:
    app.kubernetes.io/managed-by: stackc
    team: web
    toolkit.fluxcd.io/tenant: core
  annotations:
    owner.example/contact: ops@example.org
"
    );
    assert_eq!(
        t.read("out/production/apps/web/namespace.yaml"),
        "apiVersion: v1
kind: Namespace
metadata:
  name: web
  labels:
    team: web-prod
    tier: critical
    toolkit.fluxcd.io/tenant: core
  annotations:
    owner.example/contact: ops@example.org
"
    );
}

#[test]
fn an_unmanaged_namespace_gets_no_namespace_object() {
    let t = stack("namespace \"web\" { managed #false; }");
    t.run(&["build"]).success();
    assert!(!t.path().join("out/dev/apps/web/namespace.yaml").exists());
    let list = t.read("out/dev/apps/web/kustomization.yaml");
    assert!(!list.contains("namespace.yaml"), "{list}");
    // Someone else's Namespace may then come from a manifest of the stack.
    let t = stack("namespace \"web\" { managed #false; }");
    t.write(
        "manifests/ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n",
    );
    t.edit(
        "stacks.kdl",
        "image \"nginx\" tag=\"1.27\"",
        "image \"nginx\" tag=\"1.27\"\n    manifests \"manifests/ns.yaml\"",
    );
    t.run(&["build"]).success();
    assert!(t
        .path()
        .join("out/dev/apps/web/web/namespace-web.yaml")
        .exists());
}

#[test]
fn a_service_owns_its_namespace_object() {
    let t = stack("");
    t.edit(
        "stacks.kdl",
        "image \"nginx\" tag=\"1.27\"",
        "image \"nginx\" tag=\"1.27\"\n    owns-namespace",
    );
    t.run(&["build"]).success();
    assert!(!t.path().join("out/dev/apps/web/namespace.yaml").exists());
    let owned = t.read("out/dev/apps/web/web/namespace-web.yaml");
    assert!(
        owned.contains("kind: Namespace\nmetadata:\n  name: web\n"),
        "{owned}"
    );
    let list = t.read("out/dev/apps/web/web/kustomization.yaml");
    assert!(list.contains("- namespace-web.yaml\n"), "{list}");
    let out = crate::harness::tool("kubectl")
        .args(["kustomize", "out/dev"])
        .current_dir(t.path())
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("kind: Namespace")
            .count(),
        1
    );
    // A second build keeps everything (the owner's folder list included).
    let again = t.run(&["build"]);
    again.success();
    assert!(
        again.stdout().contains("0 files written") || again.stderr().contains("0 files written"),
        "{}",
        again.stderr()
    );
}

#[test]
fn two_services_owning_one_namespace_are_refused_with_both_spans() {
    let t = stack(
        "service \"api\" layer=\"apps\" namespace=\"web\" template=\"deployment\" {\n    owns-namespace\n    image \"nginx\" tag=\"1\"\n    values { labels { team \"api\"; }; }\n}",
    );
    t.edit(
        "stacks.kdl",
        "image \"nginx\" tag=\"1.27\"",
        "image \"nginx\" tag=\"1.27\"\n    owns-namespace",
    );
    let stderr = refused(
        &t,
        &[
            "stackc::model::namespace::two_owners",
            "services `web` and `api` both own the Namespace `web`",
            "first owner",
            "owned here",
        ],
    );
    assert!(
        stderr.contains("stacks.kdl:17:") && stderr.contains("stacks.kdl:24:"),
        "{stderr}"
    );
}

#[test]
fn bad_namespace_blocks_are_refused_at_their_span() {
    let cases: &[(&str, &[&str])] = &[
        (
            "namespace \"web\" { labels team=\"x\"; }",
            &["stackc::model::unknown_node", "did you mean `label`"],
        ),
        (
            "namespace \"web\" { label \"-bad\"=\"x\"; }",
            &["stackc::model::namespace::invalid_label", "-bad"],
        ),
        (
            "namespace \"web\" { managed \"no\"; }",
            &["stackc::model::wrong_type"],
        ),
    ];
    for (block, expected) in cases {
        let t = stack(block);
        let mut expected = expected.to_vec();
        expected.push("stacks.kdl:22:");
        refused(&t, &expected);
    }
}
