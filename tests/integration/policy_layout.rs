//! Policy (issue 14) through the output layout (issue 11): a `namespace` block's label wins
//! over the environment's Pod Security default, a `managed #false` namespace gets no
//! Namespace but still its default-deny, quota and limit range in its home folder, and
//! diff, check and kustomize see what the build writes, and a cluster-scoped service gets no
//! workload policy objects (docs/policy.md).

use crate::harness::{example, tool};

/// The example with production's `web` namespace opened for privileged pods and its `auth`
/// namespace created by someone else.
fn example_with_namespace_blocks() -> crate::harness::Test {
    let t = example();
    let env = t.read("environments/production.kdl");
    t.write(
        "environments/production.kdl",
        &format!(
            "{env}namespace \"web\" {{\n    label \"pod-security.kubernetes.io/enforce\"=\"privileged\"\n}}\nnamespace \"auth\" {{\n    managed #false\n}}\n"
        ),
    );
    t
}

#[test]
fn a_namespace_label_wins_over_the_pod_security_default() {
    let t = example_with_namespace_blocks();
    t.run(&["diff", "production"]).status(1).stdout_has(&[
        "~ Namespace web",
        "metadata.labels[\"pod-security.kubernetes.io/enforce\"]: restricted -> privileged",
    ]);
    t.run(&["build"]).success();
    let web = t.read("out/production/flux-system/namespace-web.yaml");
    // The block's label replaces the enforced level; warn and audit keep the policy's.
    assert!(
        web.contains("pod-security.kubernetes.io/enforce: privileged")
            && web.contains("pod-security.kubernetes.io/warn: restricted")
            && web.contains("app.kubernetes.io/managed-by: stackc"),
        "{web}"
    );
    let database = t.read("out/production/databases/database/namespace.yaml");
    assert!(
        database.contains("pod-security.kubernetes.io/enforce: restricted"),
        "{database}"
    );
    t.run(&["diff", "production"])
        .success()
        .stdout_has(&["0 objects changed, 0 only in out/production, 0 only in production"]);
}

#[test]
fn an_unmanaged_namespace_keeps_its_policy_objects_but_gets_no_namespace() {
    let t = example_with_namespace_blocks();
    t.run(&["diff", "production"])
        .status(1)
        .stdout_has(&["- Namespace auth (only in out/production)"]);
    t.run(&["build"]).success();
    let exists = |path: &str| t.path().join(path).is_file();
    assert!(!exists("out/production/apps/auth/namespace.yaml"));
    assert!(!exists("out/production/flux-system/namespace-auth.yaml"));
    for file in [
        "networkpolicy-default-deny.yaml",
        "resourcequota-quota.yaml",
        "limitrange-defaults.yaml",
    ] {
        assert!(
            exists(&format!("out/production/apps/auth/{file}")),
            "{file}"
        );
    }
    let listed = t.read("out/production/apps/auth/kustomization.yaml");
    assert!(
        listed.contains("- networkpolicy-default-deny.yaml") && !listed.contains("namespace.yaml"),
        "{listed}"
    );
    t.run(&["check", "production"]).success();
    let built = tool("kubectl")
        .args(["kustomize"])
        .arg(t.path().join("out/production"))
        .output()
        .expect("kubectl");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let built = String::from_utf8_lossy(&built.stdout);
    let documents: Vec<&str> = built.split("\n---\n").collect();
    assert!(
        documents
            .iter()
            .any(|d| d.contains("kind: NetworkPolicy") && d.contains("namespace: auth")),
        "{built}"
    );
    assert!(
        !documents
            .iter()
            .any(|d| d.contains("kind: Namespace\n") && d.contains("  name: auth\n")),
        "{built}"
    );
    t.run(&["diff", "production"]).success();
}

#[test]
fn a_cluster_scoped_service_gets_no_workload_policy_objects() {
    let t = crate::harness::Test::new();
    let root = crate::harness::repo_root().join("tests/stacks/two-cluster");
    for (path, bytes) in crate::harness::tree(&root) {
        if path.starts_with("out/") || path.starts_with(".stackc-cache/") {
            continue;
        }
        let to = t.path().join(&path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, bytes).unwrap();
    }
    t.edit(
        "stacks.kdl",
        "defaults {\n    replicas 1\n",
        "defaults {\n    replicas 1\n    disruption-budget max-unavailable=1\n    \
         network-policy ingress=\"deny\" egress=\"deny\"\n    autoscale min=2 max=4 cpu=70\n",
    );
    t.run(&["build"]).success();
    let cluster = t.tree("out/production/infra-configs/_cluster");
    let files: Vec<&String> = cluster.keys().collect();
    assert!(
        files.iter().all(|f| !f.contains("networkpolicy-")
            && !f.contains("poddisruptionbudget-")
            && !f.contains("horizontalpodautoscaler-")),
        "{files:?}"
    );
    // The namespaced services keep theirs.
    let gateway = t.tree("out/production/infra-configs/gateway");
    assert!(
        gateway
            .keys()
            .any(|f| f.contains("networkpolicy-default-deny")),
        "{:?}",
        gateway.keys().collect::<Vec<_>>()
    );
}

#[test]
fn a_manifest_that_is_a_generated_policy_object_is_refused_at_its_document() {
    let t = example();
    t.write(
        "manifests/deny.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n  namespace: web\nspec:\n  podSelector: {}\n",
    );
    t.edit(
        "stacks.kdl",
        "service \"whoami\" layer=\"apps\" namespace=\"web\" template=\"deployment\" {\n",
        "service \"whoami\" layer=\"apps\" namespace=\"web\" template=\"deployment\" {\n    manifests \"manifests/deny.yaml\"\n",
    );
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("keep.txt"), "outside\n").unwrap();
    let before = crate::hostile_model::stack_tree(&t);
    let outside_before = crate::harness::tree(outside.path());
    let run = t.run(&["build"]);
    assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
    // Staging and production deny by default; dev writes no default-deny, so no clash there.
    run.status(2).stderr_has(&[
        "stackc::render::duplicate_object",
        "NetworkPolicy web/default-deny is rendered twice in environment production: by stackc and by service whoami (manifests/deny.yaml, document 1)",
        "manifests/deny.yaml:1:1",
    ]);
    assert!(
        before == crate::hostile_model::stack_tree(&t),
        "a refused build changed the stack"
    );
    assert!(
        outside_before == crate::harness::tree(outside.path()),
        "a refused build changed a file outside the stack"
    );
    // check and diff see the same clash (they render through the build's engine).
    for args in [
        &["check", "production"][..],
        &["diff", "staging", "production"][..],
    ] {
        t.run(args).status(2).stderr_has(&[
            "stackc::render::duplicate_object",
            "NetworkPolicy web/default-deny is rendered twice",
            "manifests/deny.yaml:1:1",
        ]);
    }
    assert!(
        before == crate::hostile_model::stack_tree(&t),
        "check and diff changed the stack"
    );
}
