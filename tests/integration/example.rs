//! The example stack at the repository root: it builds, it is current, Kustomize accepts
//! every environment, its policy shows, and every secret decrypts.

use crate::harness::{example, sops_decrypt, tool, Test};
use std::process::Command;

#[test]
fn example_out_is_current_on_a_fresh_clone_without_identity_or_cache() {
    let t = example();
    let committed = t.tree("out");
    t.run(&["build", "--check"]).success();
    t.run(&["build"]).success();
    assert_eq!(
        committed,
        t.tree("out"),
        "a build of the example changed the committed out/"
    );
}

#[test]
fn example_builds_with_kustomize_in_every_environment() {
    let t = example();
    for env in ["dev", "staging", "production"] {
        for dir in [format!("out/{env}"), format!("out/{env}/flux-system")] {
            let out = tool("kubectl")
                .args(["kustomize", &dir])
                .current_dir(t.path())
                .output()
                .expect("kubectl");
            assert!(
                out.status.success(),
                "kubectl kustomize {dir}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn example_web_deployment_follows_the_environment_policy() {
    let t = example();
    let dev = t.read("out/dev/apps/web/whoami/deployment-whoami.yaml");
    let staging = t.read("out/staging/apps/web/whoami/deployment-whoami.yaml");
    let prod = t.read("out/production/apps/web/whoami/deployment-whoami.yaml");
    assert!(
        dev.contains("replicas: 1\n") && !dev.contains("podAntiAffinity"),
        "{dev}"
    );
    assert!(
        staging.contains("replicas: 2\n")
            && staging.contains("preferredDuringSchedulingIgnoredDuringExecution"),
        "{staging}"
    );
    // Production's replicas belong to the autoscaler (docs/policy.md).
    assert!(
        !prod.contains("replicas:")
            && prod.contains("requiredDuringSchedulingIgnoredDuringExecution"),
        "{prod}"
    );
    for (text, cpu, memory) in [
        (&dev, "500m", "256Mi"),
        (&staging, "1000m", "512Mi"),
        (&prod, "2000m", "1Gi"),
    ] {
        assert!(
            text.contains(&format!("cpu: {cpu}")) && text.contains(&format!("memory: {memory}")),
            "{text}"
        );
    }
}

#[test]
fn example_secrets_decrypt_with_the_example_identity() {
    let t = example();
    let key = t.path().join("examples/keys/example.agekey");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut checked = 0;
    for (path, bytes) in t.tree("out").into_iter().chain(
        t.tree("environments")
            .into_iter()
            .map(|(p, b)| (format!("../environments/{p}"), b)),
    ) {
        if !String::from_utf8_lossy(&bytes).contains("\nsops:\n") {
            continue;
        }
        // Real sops opens it with the example identity, MAC included.
        sops_decrypt(&t.path().join("out").join(&path), &key);
        checked += 1;
    }
    assert_eq!(checked, 18, "15 sealed Secrets and 3 stores");
    t.env("SOPS_AGE_KEY_FILE", key.to_str().unwrap())
        .run(&["secret", "get", "dev", "cloudflare-api-token", "api-token"])
        .success()
        .stdout_has(&["example-cloudflare-token-dev"]);
}

#[test]
fn example_builds_are_byte_identical_in_two_clones() {
    let a = example();
    let b = example();
    for t in [&a, &b] {
        std::fs::remove_dir_all(t.path().join("out")).unwrap_or(());
    }
    // Without out/ there is nothing to keep the sealed secrets' bytes; give both the identity
    // so the rendered (non-secret) files can be compared.
    for t in [&a, &b] {
        let key = t.path().join("examples/keys/example.agekey");
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
    }
    let run = |t: &Test| {
        let key = t.path().join("examples/keys/example.agekey");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackc"));
        cmd.arg("build")
            .current_dir(t.path())
            .env("SOPS_AGE_KEY_FILE", key);
        assert!(cmd.status().unwrap().success());
    };
    run(&a);
    run(&b);
    let strip = |tree: std::collections::BTreeMap<String, Vec<u8>>| -> std::collections::BTreeMap<String, Vec<u8>> {
        // The index records the sealed Secrets' hashes too, so it differs with them.
        tree.into_iter().filter(|(p, _)| !p.contains("/secret-") && !p.ends_with("/.stackc-files")).collect()
    };
    assert_eq!(strip(a.tree("out")), strip(b.tree("out")));
}
