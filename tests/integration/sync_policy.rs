//! Sync policy per environment: reconcile intervals (the example's dev every minute,
//! production every 30 minutes) and `sync "manual"`, which Flux's output expresses as
//! suspended Kustomizations and Argo CD's as no `automated` policy; explicit settings still
//! win over the mode, and an unknown mode is refused before anything is written.

use crate::flux::refused;
use crate::harness::{example, kustomize, Test};

#[test]
fn the_example_syncs_dev_fast_and_promotes_production_by_hand() {
    let t = example();
    t.run(&["build", "--check"]).success();
    for (env, interval, manual) in [
        ("dev", "1m", false),
        ("staging", "10m0s", false),
        ("production", "30m", true),
    ] {
        let flux = kustomize(&t, &format!("out/{env}/flux-system"));
        assert_eq!(flux.matches("kind: Kustomization").count(), 3, "{flux}");
        assert_eq!(
            flux.matches(&format!("interval: {interval}\n")).count(),
            3,
            "{env}\n{flux}"
        );
        let suspended = if manual { 3 } else { 0 };
        assert_eq!(
            flux.matches("suspend: true\n").count(),
            suspended,
            "{env}\n{flux}"
        );
        let argo = kustomize(&t, &format!("out/{env}/argocd"));
        assert_eq!(argo.matches("kind: Application").count(), 3, "{argo}");
        let automated = if manual { 0 } else { 3 };
        assert_eq!(
            argo.matches("automated:").count(),
            automated,
            "{env}\n{argo}"
        );
        kustomize(&t, &format!("out/{env}"));
    }
}

/// The basic stack with both engines and `extra` inside the production environment.
fn both_engines(production: &str) -> Test {
    let t = Test::basic();
    let text = t.read("stacks.kdl");
    t.write(
        "stacks.kdl",
        &format!(
            "{text}\ngitops \"flux\" \"argocd\" {{\n    argocd {{ repo-url \"https://git.example/stack.git\"; }}\n}}\n"
        ),
    );
    t.edit(
        "stacks.kdl",
        "environment \"production\" wave=2 promotes-from=\"dev\" {",
        &format!("environment \"production\" wave=2 promotes-from=\"dev\" {{\n{production}"),
    );
    t
}

#[test]
fn manual_sync_suspends_flux_and_drops_argo_automation_only_where_set() {
    let t = both_engines("    sync \"manual\"\n");
    t.run(&["build"]).success();
    assert_eq!(
        t.read("out/production/flux-system/kustomization-apps.yaml"),
        "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./out/production/apps
  prune: true
  wait: true
  suspend: true
  sourceRef:
    kind: GitRepository
    name: flux-system
"
    );
    let argo = t.read("out/production/argocd/application-apps.yaml");
    assert!(
        argo.contains("  syncPolicy:\n    syncOptions:\n") && !argo.contains("automated"),
        "{argo}"
    );
    // dev keeps the default: automatic.
    let dev = t.read("out/dev/flux-system/kustomization-apps.yaml");
    assert!(!dev.contains("suspend"), "{dev}");
    let dev = t.read("out/dev/argocd/application-apps.yaml");
    assert!(dev.contains("automated:\n      prune: true\n"), "{dev}");
}

#[test]
fn explicit_settings_win_over_the_mode_and_the_overlay_has_the_last_word() {
    // The environment is manual, but one layer is explicitly not suspended and Argo CD is
    // explicitly automated in the environment's own block.
    let t = both_engines(
        "    sync \"manual\"\n    flux layer=\"apps\" { suspend #false; }\n    argocd { automated #true; }\n",
    );
    t.run(&["build"]).success();
    let flux = t.read("out/production/flux-system/kustomization-apps.yaml");
    assert!(flux.contains("suspend: false\n"), "{flux}");
    let argo = t.read("out/production/argocd/application-apps.yaml");
    assert!(argo.contains("automated:"), "{argo}");

    // The overlay file is a higher layer: its `sync "manual"` lays over dev's default.
    t.write("environments/dev.kdl", "sync \"manual\"\n");
    t.run(&["build"]).success();
    let flux = t.read("out/dev/flux-system/kustomization-apps.yaml");
    assert!(flux.contains("suspend: true\n"), "{flux}");
    let argo = t.read("out/dev/argocd/application-apps.yaml");
    assert!(!argo.contains("automated"), "{argo}");

    // And `sync "automatic"` in production's overlay undoes the environment's manual mode
    // (the explicit per-layer `suspend #false` stays).
    t.write("environments/production.kdl", "sync \"automatic\"\n");
    t.run(&["build"]).success();
    let argo = t.read("out/production/argocd/application-apps.yaml");
    assert!(argo.contains("automated:"), "{argo}");
}

#[test]
fn an_unknown_sync_mode_is_refused_with_its_span() {
    let t = both_engines("    sync \"manul\"\n");
    let stderr = refused(
        &t,
        &[
            "stackc::model::gitops::invalid",
            "`manul` is not a sync mode",
            "manual",
            "stacks.kdl:",
        ],
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn sync_is_an_environment_setting_not_a_stack_wide_one() {
    let t = Test::basic();
    let text = t.read("stacks.kdl");
    t.write(
        "stacks.kdl",
        &format!("{text}\ngitops \"flux\" {{\n    sync \"manual\"\n}}\n"),
    );
    refused(&t, &["sync"]);
    let t = Test::basic();
    t.write("environments/dev.kdl", "sync \"automatic\" \"manual\"\n");
    refused(&t, &["sync"]);
}

#[test]
fn the_sync_example_of_the_language_page_is_the_example_stack() {
    let block = crate::patches::checked_block("tests/integration/sync_policy.rs");
    let stack = example().read("stacks.kdl");
    // Each line of the page's block is in the example's environments, in that order.
    let mut at = 0;
    for line in block.lines().map(str::trim) {
        let line = line.split(" wave=").next().unwrap_or(line);
        let found = stack[at..]
            .find(line)
            .unwrap_or_else(|| panic!("the example has no `{line}` after byte {at}"));
        at += found + line.len();
    }
    // And it builds on its own.
    let t = Test::basic();
    let text = t.read("stacks.kdl");
    let start = text.find("environment \"dev\"").unwrap();
    let end = text.find("\nservice ").unwrap();
    t.write(
        "stacks.kdl",
        &format!("{}{block}{}", &text[..start], &text[end..]),
    );
    t.run(&["build"]).success();
    let production = t.read("out/production/flux-system/kustomization-apps.yaml");
    assert!(
        production.contains("interval: 30m\n") && production.contains("suspend: true\n"),
        "{production}"
    );
}

#[test]
fn diff_shows_the_sync_policy_between_dev_and_production() {
    let t = example();
    let run = t.run(&["diff", "dev", "production"]);
    run.stdout_has(&[
        "~ Kustomization flux-system/apps\n    spec.interval: 1m -> 30m\n  + spec.suspend: true\n",
    ]);
}
