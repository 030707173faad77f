//! The output layout: cluster-scoped services in `<layer>/_cluster/<service>/`, objects
//! placed against their scope, and a service folder's kustomization kept with its unit.

use crate::flux::refused;
use crate::harness::{example, tool, Test};

const ISSUER: &str = "apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: letsencrypt
spec:
  acme:
    server: https://acme-v02.api.letsencrypt.org/directory
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: traefik
spec:
  controllerName: traefik.io/gateway-controller
---
apiVersion: example.org/v1
kind: Tenant
metadata:
  name: core
";

fn cluster_stack(manifest: &str) -> Test {
    let t = Test::basic();
    let text = t.read("stacks.kdl");
    t.write(
        "stacks.kdl",
        &format!("{text}\nservice \"issuers\" layer=\"apps\" {{\n    manifests \"manifests/cluster.yaml\"\n    cluster-kinds \"Tenant\"\n}}\n"),
    );
    t.write("manifests/cluster.yaml", manifest);
    t
}

#[test]
fn a_service_without_a_namespace_is_placed_in_a_cluster_folder() {
    let t = cluster_stack(ISSUER);
    t.run(&["build"]).success();
    for file in [
        "clusterissuer-letsencrypt.yaml",
        "gatewayclass-traefik.yaml",
        "tenant-core.yaml",
    ] {
        assert!(
            t.path()
                .join("out/dev/apps/_cluster/issuers")
                .join(file)
                .is_file(),
            "{file}"
        );
    }
    let apps = t.read("out/dev/apps/kustomization.yaml");
    assert!(
        apps.contains("- _cluster\n") && apps.contains("- web\n"),
        "{apps}"
    );
    let out = tool("kubectl")
        .args(["kustomize", "out/dev"])
        .current_dir(t.path())
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("kind: ClusterIssuer"));
    // No Namespace is generated for a service that has none.
    assert!(!t
        .path()
        .join("out/dev/apps/_cluster/namespace.yaml")
        .exists());
    // diff knows the cluster folder: only the Deployment differs.
    t.run(&["diff", "dev", "production"])
        .status(1)
        .stdout_has(&["1 object changed", "(6 unchanged)"]);
}

#[test]
fn a_cluster_scoped_object_given_a_namespace_is_refused_at_its_line() {
    let t = cluster_stack(&ISSUER.replace(
        "  name: traefik\n",
        "  name: traefik\n  namespace: traefik\n",
    ));
    refused(
        &t,
        &[
            "stackc::layout::cluster_scoped_namespace",
            "GatewayClass `traefik` is cluster-scoped but is given the namespace `traefik`",
            "manifests/cluster.yaml:13:3",
        ],
    );
}

#[test]
fn a_namespaced_object_in_a_service_without_a_namespace_is_refused() {
    let t = cluster_stack(&format!(
        "{ISSUER}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
    ));
    refused(
        &t,
        &[
            "stackc::layout::namespaced_in_cluster_service",
            "ConfigMap `settings`",
            "cluster-kinds",
            "manifests/cluster.yaml:",
        ],
    );
}

#[test]
fn a_unit_folder_kustomization_is_written_with_the_unit() {
    let t = example();
    t.run(&["build"]).success();
    let before = t.mtimes("out");
    // Editing one service rewrites its own folder's files only, not its neighbours'.
    t.edit("stacks.kdl", "tag=\"v1.10.3\"", "tag=\"v1.10.4\"");
    t.run(&["build"]).success();
    let after = t.mtimes("out");
    let changed: Vec<&String> = after
        .iter()
        .filter(|(path, time)| before.get(*path) != Some(*time))
        .map(|(path, _)| path)
        .collect();
    assert!(
        changed
            .iter()
            .all(|p| p.contains("/whoami/") || p.ends_with(".stackc-files")),
        "{changed:?}"
    );
    let list = t.read("out/staging/apps/web/whoami/kustomization.yaml");
    assert!(list.contains("- deployment-whoami.yaml\n"), "{list}");
}
