//! `stackc build` on small stacks: layout, layering, determinism, kustomize.

use crate::harness::Test;

#[test]
fn build_writes_one_file_per_object_in_layer_namespace_service_folders() {
    let t = Test::basic();
    t.run(&["build"]).success();
    let tree = t.tree("out/dev");
    for path in [
        "kustomization.yaml",
        "apps/kustomization.yaml",
        "apps/web/kustomization.yaml",
        "apps/web/namespace.yaml",
        "apps/web/web/kustomization.yaml",
        "apps/web/web/deployment-web.yaml",
        "apps/web/web/service-web.yaml",
        "flux-system/kustomization.yaml",
        "flux-system/kustomization-apps.yaml",
        ".stackc-files",
    ] {
        assert!(
            tree.contains_key(path),
            "missing out/dev/{path}; tree: {:?}",
            tree.keys()
        );
    }
}

#[test]
fn build_applies_environment_layers() {
    let t = Test::basic();
    t.run(&["build"]).success();
    let dev = t.read("out/dev/apps/web/web/deployment-web.yaml");
    let prod = t.read("out/production/apps/web/web/deployment-web.yaml");
    assert!(dev.contains("replicas: 1\n"), "{dev}");
    assert!(!dev.contains("podAntiAffinity"), "{dev}");
    assert!(prod.contains("replicas: 3\n"), "{prod}");
    assert!(
        prod.contains("requiredDuringSchedulingIgnoredDuringExecution"),
        "{prod}"
    );
    assert!(prod.contains("team: core"), "{prod}");
}

#[test]
fn build_layers_follow_the_documented_order() {
    // built-in < defaults < environment < service < env block < environments/<env>.kdl
    let t = Test::basic().file(
        "environments/production.kdl",
        "replicas 4\nservice \"web\" {\n    values { labels { tier \"gold\" } }\n}\n",
    );
    t.edit(
        "stacks.kdl",
        "image \"nginx\" tag=\"1.27\"",
        "image \"nginx\" tag=\"1.27\"\n    port 9090\n    env \"production\" { replicas 5 }",
    );
    t.run(&["build"]).success();
    let prod = t.read("out/production/apps/web/web/deployment-web.yaml");
    // The overlay file is the top layer: its environment-wide value (4) beats the env block (5),
    // which beats the environment (3).
    assert!(prod.contains("replicas: 4\n"), "{prod}");
    // The overlay's service block is the top layer and merges maps deeply.
    assert!(
        prod.contains("team: core") && prod.contains("tier: gold"),
        "{prod}"
    );
    let service = t.read("out/production/apps/web/web/service-web.yaml");
    assert!(service.contains("targetPort: 9090"), "{service}");
    let dev = t.read("out/dev/apps/web/web/deployment-web.yaml");
    assert!(
        dev.contains("replicas: 1\n") && !dev.contains("tier: gold"),
        "{dev}"
    );
}

#[test]
fn settings_can_interpolate_project_and_environment() {
    let t = Test::basic().file(
        "templates/deployment/ingress.yaml.j2",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {{ service.name }}\n  namespace: {{ service.namespace }}\nspec:\n  rules:\n    - host: {{ service.ingress.host }}\n",
    );
    t.edit(
        "stacks.kdl",
        "image \"nginx\" tag=\"1.27\"",
        "image \"nginx\" tag=\"1.27\"\n    ingress host=\"web.{{ environment.domain }}\" tls=#true",
    );
    t.run(&["build"]).success();
    assert!(t
        .read("out/dev/apps/web/web/ingress-web.yaml")
        .contains("host: web.dev.example.org"));
    assert!(t
        .read("out/production/apps/web/web/ingress-web.yaml")
        .contains("host: web.example.org"));
}

#[test]
fn plain_manifests_are_emitted_without_jinja() {
    let t = Test::basic().file(
        "manifests/netpol.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny-all\n  namespace: web\n  annotations:\n    note: \"{{ not a template }}\"\nspec:\n  podSelector: {}\n",
    );
    t.edit(
        "stacks.kdl",
        "image \"nginx\" tag=\"1.27\"",
        "image \"nginx\" tag=\"1.27\"\n    manifests \"manifests/netpol.yaml\"",
    );
    t.run(&["build"]).success();
    let netpol = t.read("out/dev/apps/web/web/networkpolicy-deny-all.yaml");
    assert!(
        netpol.contains("note: \"{{ not a template }}\""),
        "{netpol}"
    );
    assert!(netpol.contains("podSelector: {}"), "{netpol}");
}

#[test]
fn build_output_is_deterministic_across_copies() {
    let a = Test::basic();
    let b = Test::basic();
    a.run(&["build"]).success();
    b.run(&["build", "-j", "1"]).success();
    assert_eq!(a.tree("out"), b.tree("out"));
}

#[test]
fn build_of_one_environment_leaves_the_others_alone() {
    let t = Test::basic();
    t.run(&["build", "dev"]).success();
    assert!(t.path().join("out/dev/kustomization.yaml").exists());
    assert!(!t.path().join("out/production").exists());
}

#[test]
fn kubectl_kustomize_builds_every_environment() {
    let t = Test::basic();
    t.run(&["build"]).success();
    for env in ["dev", "production"] {
        let out = crate::harness::tool("kubectl")
            .args(["kustomize", &format!("out/{env}")])
            .current_dir(t.path())
            .output()
            .expect("kubectl");
        assert!(
            out.status.success(),
            "kubectl kustomize out/{env}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("kind: Deployment") && text.contains("kind: Namespace"),
            "{text}"
        );
        let flux = crate::harness::tool("kubectl")
            .args(["kustomize", &format!("out/{env}/flux-system")])
            .current_dir(t.path())
            .output()
            .expect("kubectl");
        assert!(flux.status.success());
        let flux = String::from_utf8_lossy(&flux.stdout);
        assert!(
            // No sealed Secret in the basic stack: no layer needs decryption.
            !flux.contains("decryption") && flux.contains(&format!("path: ./out/{env}/apps")),
            "{flux}"
        );
    }
}

#[test]
fn flux_kustomizations_depend_on_earlier_layers() {
    let t = Test::basic();
    t.edit("stacks.kdl", "layer \"apps\"", "layer \"infrastructure\"\nlayer \"databases\" depends-on=\"infrastructure\"\nlayer \"apps\" depends-on=\"databases\"");
    t.run(&["build"]).success();
    let apps = t.read("out/dev/flux-system/kustomization-apps.yaml");
    assert!(
        apps.contains("dependsOn:\n    - name: databases\n"),
        "{apps}"
    );
    let infra = t.read("out/dev/flux-system/kustomization-infrastructure.yaml");
    assert!(!infra.contains("dependsOn"), "{infra}");
    // Decryption only where a layer holds sealed Secrets (this stack has none).
    assert!(!infra.contains("decryption"), "{infra}");
    let root = t.read("out/dev/kustomization.yaml");
    assert!(
        root.contains("  - infrastructure\n  - databases\n  - apps\n"),
        "{root}"
    );
}

#[test]
fn help_is_available_for_every_command() {
    let t = Test::new();
    t.run(&["--help"])
        .success()
        .stdout_has(&["build", "explain"]);
    t.run(&["build", "--help"])
        .success()
        .stdout_has(&["--check", "--jobs"]);
}

/// Every file of out/ is 0644 whatever the umask: with one that would strip bits the mode
/// is set after each create; with one that keeps them the create alone gives it.
#[test]
fn out_files_are_0644_under_any_umask() {
    use std::os::unix::fs::PermissionsExt;
    for umask in ["077", "022", "0"] {
        let t = Test::basic();
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("umask {umask} && exec \"$0\" -q build"))
            .arg(env!("CARGO_BIN_EXE_stackc"))
            .current_dir(t.path())
            .env("STACKC_BUILD_RULES", "off")
            .env("HOME", t.path().join(".home"))
            .status()
            .unwrap();
        assert!(status.success(), "umask {umask}: {status}");
        let mut files = 0;
        for entry in walkdir::WalkDir::new(t.path().join("out")) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() {
                let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o644, "umask {umask}: {}", entry.path().display());
                files += 1;
            }
        }
        assert!(files > 5, "umask {umask}: only {files} files");
    }
}

/// `STACKC_TIMINGS=1` names each phase of a build in order, with the time since the start
/// and the resident memory then (what docs/benchmark.md reads an edit's phases from), and
/// prints nothing of the kind without it.
#[test]
fn timings_name_each_phase_with_its_time_and_resident_memory() {
    let t = Test::basic();
    let run = t.run_with(&["build"], None, &[("STACKC_TIMINGS", "1")]);
    run.success();
    let phases: Vec<(f64, String, u64)> = run
        .stderr()
        .lines()
        .filter_map(|line| {
            let (ms, rest) = line.strip_prefix('[')?.split_once(" ms] ")?;
            let (name, mib) = rest.strip_suffix(" MiB resident)")?.rsplit_once(" (")?;
            Some((ms.trim().parse().ok()?, name.to_string(), mib.parse().ok()?))
        })
        .collect();
    let names: Vec<&str> = phases.iter().map(|(_, name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["start", "no-op check", "load", "plan", "apply", "exit"],
        "{}",
        run.stderr()
    );
    assert!(
        phases.windows(2).all(|w| w[0].0 <= w[1].0),
        "times go forward: {phases:?}"
    );
    assert!(
        phases.iter().all(|(_, _, mib)| *mib > 0),
        "a process is resident: {phases:?}"
    );
    let quiet = t.run(&["build"]);
    quiet.success();
    assert!(
        !quiet.stderr().contains("MiB resident"),
        "{}",
        quiet.stderr()
    );
}
