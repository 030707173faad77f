//! Flux's per-layer Kustomizations from settings: every field, layered from the `gitops`
//! block to `environments/<env>.kdl`, decryption only where a layer holds sealed Secrets,
//! and unknown or malformed settings refused before anything is written.

use crate::harness::{tree, Test};
use crate::hostile_model::stack_tree;

/// Runs `stackc build` on a stack that must be refused: exit 2, every one of `expected` in
/// stderr, no panic, and no file of the stack (out/ included) or outside it changed.
#[track_caller]
pub fn refused(t: &Test, expected: &[&str]) -> String {
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("keep.txt"), "outside\n").unwrap();
    let stack_before = stack_tree(t);
    let outside_before = tree(outside.path());
    let run = t.run(&["build"]);
    let stderr = run.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    run.status(2).stderr_has(expected);
    assert!(
        stack_before == stack_tree(t),
        "a refused build changed the stack"
    );
    assert!(
        outside_before == tree(outside.path()),
        "a refused build changed a file outside"
    );
    stderr
}

/// The example's public test recipient (examples/keys/example.agekey).
const RECIPIENT: &str = "age13zz8d57nutfp2effe6ztlyfxdf5akt9q0ltnefswtnlchfq66uvsl4zkex";

/// The basic stack with two layers and `extra` appended.
fn layered(extra: &str) -> Test {
    let t = Test::basic();
    t.edit(
        "stacks.kdl",
        "layer \"apps\"",
        "layer \"infrastructure\"\nlayer \"apps\" depends-on=\"infrastructure\"",
    );
    let text = t.read("stacks.kdl");
    t.write("stacks.kdl", &format!("{text}\n{extra}\n"));
    t
}

#[test]
fn defaults_are_the_built_in_kustomization() {
    let t = layered("");
    t.run(&["build"]).success();
    assert_eq!(
        t.read("out/dev/flux-system/kustomization-apps.yaml"),
        "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./out/dev/apps
  prune: true
  wait: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  dependsOn:
    - name: infrastructure
"
    );
    assert_eq!(
        t.read("out/dev/flux-system/kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - kustomization-infrastructure.yaml
  - kustomization-apps.yaml
"
    );
}

#[test]
fn every_field_is_settable_and_layers_from_stack_to_overlay() {
    let t = layered(
        r#"gitops "flux" {
    flux {
        source kind="OCIRepository" name="homelab" namespace="flux-system"
        path "./{layer}"
        interval "5m"
    }
}"#,
    );
    t.edit(
        "stacks.kdl",
        "layer \"apps\" depends-on=\"infrastructure\"",
        r#"layer "apps" depends-on="infrastructure" {
    flux {
        name "tenant-apps"
        retry-interval "1m"
        timeout "3m"
        wait #false
        force #true
        target-namespace "web"
        health-check api-version="apps/v1" kind="Deployment" name="web" namespace="web"
        patch "- op: add\n  path: /metadata/labels/tier\n  value: web\n" kind="Deployment" name="web"
        substitute cluster_name="dev" region="eu"
    }
}"#,
    );
    t.edit(
        "stacks.kdl",
        "environment \"production\" wave=2 promotes-from=\"dev\" {",
        r#"environment "production" wave=2 promotes-from="dev" {
    flux { interval "1h"; }
    flux layer="apps" { suspend #true; substitute cluster_name="production"; }"#,
    );
    t.write(
        "environments/production.kdl",
        "flux layer=\"apps\" {\n    prune #false\n    decryption secret=\"sops-prod\"\n}\n",
    );
    t.run(&["build"]).success();
    assert_eq!(
        t.read("out/production/flux-system/kustomization-apps.yaml"),
        "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: tenant-apps
  namespace: flux-system
spec:
  interval: 1h
  retryInterval: 1m
  timeout: 3m
  path: ./apps
  prune: false
  wait: false
  force: true
  suspend: true
  targetNamespace: web
  sourceRef:
    kind: OCIRepository
    name: homelab
    namespace: flux-system
  dependsOn:
    - name: infrastructure
  healthChecks:
    - apiVersion: apps/v1
      kind: Deployment
      name: web
      namespace: web
  patches:
    - patch: |
        - op: add
          path: /metadata/labels/tier
          value: web
      target:
        kind: Deployment
        name: web
  postBuild:
    substitute:
      cluster_name: production
      region: eu
  decryption:
    provider: sops
    secretRef:
      name: sops-prod
"
    );
    // dev keeps the stack-wide and layer settings, not production's.
    let dev = t.read("out/dev/flux-system/kustomization-apps.yaml");
    assert!(
        dev.contains("interval: 5m\n") && dev.contains("cluster_name: dev"),
        "{dev}"
    );
    assert!(
        !dev.contains("suspend") && !dev.contains("decryption"),
        "{dev}"
    );
    // The stack-wide path reaches every layer.
    let infra = t.read("out/production/flux-system/kustomization-infrastructure.yaml");
    assert!(infra.contains("path: ./infrastructure\n"), "{infra}");
}

#[test]
fn a_stack_in_a_subfolder_of_its_repository_gets_paths_below_it() {
    let t = layered(r#"gitops { flux { path "./clusters/homelab/out/{env}/{layer}"; }; }"#);
    t.run(&["build"]).success();
    let apps = t.read("out/production/flux-system/kustomization-apps.yaml");
    assert!(
        apps.contains("path: ./clusters/homelab/out/production/apps\n"),
        "{apps}"
    );
    // A renamed layer is depended on by its new name.
    t.edit(
        "stacks.kdl",
        "layer \"infrastructure\"",
        "layer \"infrastructure\" { flux { name \"infra\"; }; }",
    );
    t.run(&["build"]).success();
    let apps = t.read("out/production/flux-system/kustomization-apps.yaml");
    assert!(apps.contains("dependsOn:\n    - name: infra\n"), "{apps}");
    let infra = t.read("out/production/flux-system/kustomization-infrastructure.yaml");
    assert!(infra.contains("  name: infra\n"), "{infra}");
}

#[test]
fn decryption_is_only_where_a_layer_holds_sealed_secrets_unless_set() {
    let t = layered(
        "secret \"token\" namespace=\"infra\" {\n    key \"value\" value=\"not-secret\"\n}\nservice \"ops\" layer=\"infrastructure\" namespace=\"infra\" template=\"deployment\" {\n    image \"nginx\" tag=\"1\"\n    values { labels { team \"ops\"; }; }\n}",
    );
    for env in ["dev", "production"] {
        t.write(
            &format!("environments/{env}.kdl"),
            &format!("recipients \"{RECIPIENT}\"\n"),
        );
    }
    t.run(&["build"]).success();
    let infra = t.read("out/dev/flux-system/kustomization-infrastructure.yaml");
    assert!(
        infra.contains("decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n"),
        "{infra}"
    );
    let apps = t.read("out/dev/flux-system/kustomization-apps.yaml");
    assert!(!apps.contains("decryption"), "{apps}");

    t.edit(
        "stacks.kdl",
        "layer \"infrastructure\"",
        "layer \"infrastructure\" { flux { decryption #false; }; }",
    );
    t.edit(
        "stacks.kdl",
        "layer \"apps\" depends-on=\"infrastructure\"",
        "layer \"apps\" depends-on=\"infrastructure\" { flux { decryption #true; }; }",
    );
    t.run(&["build"]).success();
    let infra = t.read("out/dev/flux-system/kustomization-infrastructure.yaml");
    assert!(!infra.contains("decryption"), "{infra}");
    let apps = t.read("out/dev/flux-system/kustomization-apps.yaml");
    assert!(apps.contains("name: sops-age"), "{apps}");
}

#[test]
fn an_unknown_flux_setting_is_refused_with_did_you_mean() {
    let t = layered("");
    t.run(&["build"]).success();
    t.edit(
        "stacks.kdl",
        "layer \"infrastructure\"",
        "layer \"infrastructure\" {\n    flux { intervall \"5m\"; }\n}",
    );
    let stderr = refused(
        &t,
        &[
            "stackc::model::unknown_node",
            "intervall",
            "did you mean `interval`",
            "stacks.kdl:4:",
        ],
    );
    assert!(stderr.contains("a flux block"), "{stderr}");
}

#[test]
fn an_unknown_setting_in_an_environment_file_is_refused_too() {
    let t = layered("");
    t.run(&["build"]).success();
    t.write(
        "environments/production.kdl",
        "flux layer=\"apps\" {\n    sustpend #true\n}\nargocd { repourl \"x\"; }\n",
    );
    refused(
        &t,
        &[
            "environments/production.kdl:2:5",
            "did you mean `suspend`",
            "environments/production.kdl:4:10",
            "did you mean `repo-url`",
        ],
    );
}

#[test]
fn malformed_flux_settings_are_refused_at_their_span() {
    let t = layered("");
    t.run(&["build"]).success();
    let cases: &[(&str, &[&str])] = &[
        (
            "flux { interval \"5 minutes\"; }",
            &["stackc::model::gitops::invalid", "not a duration"],
        ),
        (
            "flux { source kind=\"OCIRepo\" name=\"x\"; }",
            &["not a Flux source kind", "OCIRepository"],
        ),
        (
            "flux { path \"../{cluster}\"; }",
            &["not a path inside the source"],
        ),
        (
            "flux { patch \"a: [\" kind=\"Deployment\"; }",
            &["invalid patch", "not YAML"],
        ),
        (
            "flux { substitute \"9lives\"=\"x\"; }",
            &["not a variable name"],
        ),
        ("flux { wait \"yes\"; }", &["stackc::model::wrong_type"]),
        ("flux { source name=\"x\"; }", &["a `kind` property"]),
    ];
    for (block, expected) in cases {
        let text = t.read("stacks.kdl");
        t.edit(
            "stacks.kdl",
            "layer \"infrastructure\"",
            &format!("layer \"infrastructure\" {{\n    {block}\n}}"),
        );
        let mut expected = expected.to_vec();
        expected.push("stacks.kdl:4:");
        refused(&t, &expected);
        t.write("stacks.kdl", &text);
    }
}

#[test]
fn flux_for_an_unknown_layer_or_engine_is_refused() {
    let t = layered("environment \"staging\" { flux layer=\"aps\" { prune #false; }; }");
    refused(
        &t,
        &[
            "stackc::model::gitops::unknown_layer",
            "did you mean `apps`",
        ],
    );
    let t = layered("gitops \"flux\" \"argo\"");
    refused(
        &t,
        &[
            "stackc::model::gitops::unknown_engine",
            "did you mean `argocd`",
        ],
    );
    let t = layered("gitops \"flux\"\ngitops \"flux\"");
    refused(&t, &["stackc::model::duplicate"]);
    let t = layered("gitops { flux { name \"all\"; }; }");
    refused(
        &t,
        &[
            "stackc::model::gitops::duplicate_name",
            "layers `infrastructure` and `apps` both have the Flux Kustomization name `all`",
        ],
    );
}
