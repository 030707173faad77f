//! RBAC for layers whose Flux Kustomization runs as its own service account: the
//! Kustomization's `serviceAccountName`, a `ServiceAccount` in flux-system, a `Role` and
//! `RoleBinding` per namespace with exactly the kinds the layer renders, a `ClusterRole`
//! only for cluster-scoped objects, the Namespaces moved to flux-system so that the bindings can
//! be applied before the layer, per-environment overrides, pruning when the setting goes,
//! and bad names refused before anything is written.

use crate::flux::refused;
use crate::harness::{example, kustomize, require_tool, Test};

const VERBS: &str = "    verbs:
      - get
      - list
      - watch
      - create
      - update
      - patch
      - delete
";

#[test]
fn the_example_apps_layer_runs_as_its_own_account_with_the_kinds_it_renders() {
    let t = example();
    t.run(&["build", "--check"]).success();
    for env in ["dev", "staging", "production"] {
        let flux = kustomize(&t, &format!("out/{env}/flux-system"));
        assert_eq!(
            flux.matches("serviceAccountName: apps-reconciler\n")
                .count(),
            1,
            "only the apps layer: {flux}"
        );
        assert!(
            flux.contains("kind: ServiceAccount\nmetadata:\n  name: apps-reconciler\n  namespace: flux-system\n"),
            "{flux}"
        );
        for namespace in ["auth", "web"] {
            assert!(
                flux.contains(&format!(
                    "kind: Role\nmetadata:\n  name: apps-reconciler\n  namespace: {namespace}\n"
                )),
                "{env} {namespace}: {flux}"
            );
            // The Namespace moves to flux-system with its RoleBinding (its policy labels too).
            assert!(
                flux.split("---\n")
                    .any(|doc| doc.starts_with("apiVersion: v1\nkind: Namespace\n")
                        && doc.contains("    app.kubernetes.io/managed-by: stackc\n")
                        && doc.contains(&format!("\n  name: {namespace}\n"))),
                "the Namespace comes before its RoleBinding: {flux}"
            );
            assert!(!t
                .path()
                .join(format!("out/{env}/apps/{namespace}/namespace.yaml"))
                .exists());
        }
        assert_eq!(flux.matches("kind: RoleBinding").count(), 2, "{flux}");
        // The apps render no cluster-scoped objects; the other layers no RBAC at all.
        assert!(!flux.contains("ClusterRole"), "{flux}");
        assert!(!flux.contains("namespace: database\nrules"), "{flux}");
        // The whole environment still builds, every object once.
        let all = kustomize(&t, &format!("out/{env}"));
        assert!(
            !all.contains("kind: Role"),
            "RBAC is not in the layers: {all}"
        );
    }
    let web = t.read("out/dev/flux-system/role-apps-reconciler-web.yaml");
    assert!(
        web.contains(&format!(
            "  - apiGroups:\n      - apps\n    resources:\n      - deployments\n{VERBS}"
        )),
        "{web}"
    );
    assert!(!web.contains("secrets"), "web holds no Secret: {web}");
    let auth = t.read("out/dev/flux-system/role-apps-reconciler-auth.yaml");
    assert!(
        auth.contains(&format!(
            "  - apiGroups:\n      - \"\"\n    resources:\n      - secrets\n{VERBS}"
        )) && auth.contains("      - helmreleases\n"),
        "{auth}"
    );
}

/// The basic stack with a cluster-scoped `PriorityClass` among web's objects.
fn with_cluster_object() -> Test {
    let t = Test::basic().file(
        "templates/deployment/priorityclass.yaml.j2",
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: {{ service.name }}-high\nvalue: 1000\n",
    );
    t.edit(
        "stacks.kdl",
        "layer \"apps\"",
        "layer \"apps\" {\n    flux { service-account \"apps\"; }\n}",
    );
    t
}

#[test]
fn cluster_scoped_objects_get_a_cluster_role_and_environments_override_the_account() {
    let t = with_cluster_object();
    t.write(
        "environments/production.kdl",
        "flux layer=\"apps\" { service-account \"prod-apps\"; }\n",
    );
    t.run(&["build"]).success();
    assert_eq!(
        t.read("out/dev/flux-system/clusterrole-apps.yaml"),
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: apps
rules:
  - apiGroups:
      - scheduling.k8s.io
    resources:
      - priorityclasses
{VERBS}"
        )
    );
    assert_eq!(
        t.read("out/dev/flux-system/clusterrolebinding-apps.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: apps
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: apps
subjects:
  - kind: ServiceAccount
    name: apps
    namespace: flux-system
"
    );
    assert_eq!(
        t.read("out/dev/flux-system/role-apps-web.yaml"),
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: apps
  namespace: web
rules:
  - apiGroups:
      - \"\"
    resources:
      - services
{VERBS}  - apiGroups:
      - apps
    resources:
      - deployments
{VERBS}"
        )
    );
    let prod = t.read("out/production/flux-system/kustomization-apps.yaml");
    assert!(prod.contains("serviceAccountName: prod-apps\n"), "{prod}");
    assert!(t
        .path()
        .join("out/production/flux-system/rolebinding-prod-apps-web.yaml")
        .exists());
    assert!(!t
        .path()
        .join("out/production/flux-system/serviceaccount-apps.yaml")
        .exists());
    for env in ["dev", "production"] {
        kustomize(&t, &format!("out/{env}/flux-system"));
        kustomize(&t, &format!("out/{env}"));
    }
}

#[test]
fn dropping_the_account_prunes_its_rbac_and_moves_the_namespace_back() {
    let t = with_cluster_object();
    t.run(&["build"]).success();
    assert!(t
        .path()
        .join("out/dev/flux-system/namespace-web.yaml")
        .exists());
    t.edit(
        "stacks.kdl",
        "layer \"apps\" {\n    flux { service-account \"apps\"; }\n}",
        "layer \"apps\"",
    );
    t.run(&["build"]).success();
    let flux = t.tree("out/dev/flux-system");
    assert_eq!(
        flux.keys().map(String::as_str).collect::<Vec<_>>(),
        ["kustomization-apps.yaml", "kustomization.yaml"],
        "only stackc's own RBAC files were pruned"
    );
    assert!(t.path().join("out/dev/apps/web/namespace.yaml").exists());
    let ks = t.read("out/dev/flux-system/kustomization-apps.yaml");
    assert!(!ks.contains("serviceAccountName"), "{ks}");
    kustomize(&t, "out/dev");
}

#[test]
fn a_bad_service_account_name_is_refused_with_its_span() {
    let t = Test::basic();
    t.edit(
        "stacks.kdl",
        "layer \"apps\"",
        "layer \"apps\" {\n    flux { service-account \"Apps_Reconciler\"; }\n}",
    );
    refused(
        &t,
        &[
            "stackc::model::gitops::invalid",
            "`Apps_Reconciler` is not a DNS label",
            "stacks.kdl:4:",
        ],
    );
    let t = Test::basic();
    t.write("environments/dev.kdl", "flux { service-account; }\n");
    refused(&t, &["service-account", "environments/dev.kdl:1:"]);
    let t = Test::basic();
    t.write("environments/dev.kdl", "flux { service-account 7; }\n");
    refused(&t, &["service-account", "environments/dev.kdl:1:"]);
}

#[test]
fn the_rbac_example_of_the_language_page_is_the_example_stack() {
    let block = crate::patches::checked_block("tests/integration/rbac.rs");
    let stack = example().read("stacks.kdl");
    let mut at = 0;
    for line in block.lines().map(str::trim) {
        let found = stack[at..]
            .find(line)
            .unwrap_or_else(|| panic!("the example has no `{line}` after byte {at}"));
        at += found + line.len();
    }
}

#[test]
fn the_rbac_objects_validate_and_diff_sees_them_on_both_sides() {
    let t = with_cluster_object();
    t.run(&["build"]).success();
    let validator = require_tool("kubernetes-validate");
    let flux = t.tree("out/dev/flux-system");
    let files: Vec<&String> = flux
        .keys()
        .filter(|f| !f.starts_with("kustomization"))
        .collect();
    assert_eq!(files.len(), 6, "{files:?}");
    for file in files {
        let run = std::process::Command::new(&validator)
            .args(["--strict", "--kubernetes-version", "1.37.0"])
            .arg(t.path().join("out/dev/flux-system").join(file))
            .output()
            .expect("kubernetes-validate runs");
        assert!(
            run.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&run.stdout)
        );
    }
    // A fresh render has the same RBAC as out/dev: nothing to report.
    t.run(&["diff", "dev"]).success();
}
