//! Argo CD output: one Application per layer and environment in `out/<env>/argocd/`, with
//! sync waves from the environment's `wave` and the layer order, the sync policy defaults
//! per environment, every setting layered, and `kubectl kustomize` building both engines'
//! folders.

use crate::flux::refused;
use crate::harness::{example, kustomize, Test};

#[test]
fn the_example_emits_applications_with_waves_and_sync_options_per_environment() {
    let t = example();
    t.run(&["build", "--check"]).success();
    for (env, wave) in [("dev", 0), ("staging", 1), ("production", 2)] {
        let apps = kustomize(&t, &format!("out/{env}/argocd"));
        for (position, layer) in ["infrastructure", "databases", "apps"].iter().enumerate() {
            let want = format!(
                "argocd.argoproj.io/sync-wave: \"{}\"\n  name: {env}-{layer}\n",
                wave * 100 + position
            );
            assert!(apps.contains(&want), "{want}\n{apps}");
            assert!(
                apps.contains(&format!("path: out/{env}/{layer}\n")),
                "{apps}"
            );
        }
        assert!(
            apps.contains("repoURL: https://github.com/example/homelab.git"),
            "{apps}"
        );
        // Production is promoted by hand (`sync "manual"`): no automated policy there.
        assert_eq!(
            apps.contains("automated:\n      prune: true\n      selfHeal: true\n"),
            env != "production",
            "{apps}"
        );
        let promoted = env != "dev";
        for option in ["RespectIgnoreDifferences=true", "PruneLast=true"] {
            assert_eq!(apps.contains(option), promoted, "{env}: {option}\n{apps}");
        }
        assert_eq!(apps.matches("CreateNamespace=true").count(), 3, "{apps}");
        assert_eq!(apps.matches("ApplyOutOfSyncOnly=true").count(), 3, "{apps}");
        // Flux's folder and the environment itself build as before.
        assert!(kustomize(&t, &format!("out/{env}/flux-system")).contains("kind: Kustomization"));
        let all = kustomize(&t, &format!("out/{env}"));
        assert!(
            !all.contains("kind: Application"),
            "the layers do not hold the Applications"
        );
    }
}

#[test]
fn argo_settings_layer_per_environment() {
    let t = Test::basic();
    let text = t.read("stacks.kdl");
    t.write(
        "stacks.kdl",
        &format!(
            "{text}\ngitops \"argocd\" {{\n    argocd {{\n        repo-url \"https://git.example/stack.git\"\n        target-revision \"main\"\n        path \"deploy/{{env}}/{{layer}}\"\n    }}\n}}\n"
        ),
    );
    t.edit(
        "stacks.kdl",
        "environment \"production\" wave=2 promotes-from=\"dev\" {",
        "environment \"production\" wave=2 promotes-from=\"dev\" {\n    argocd { project \"prod\"; server \"https://prod.example:6443\"; destination-namespace \"web\"; }",
    );
    t.write(
        "environments/production.kdl",
        "argocd {\n    self-heal #false\n    sync-options \"ServerSideApply=true\"\n}\n",
    );
    t.write("environments/dev.kdl", "argocd { automated #false; }\n");
    t.run(&["build"]).success();
    assert!(
        !t.path().join("out/dev/flux-system").exists(),
        "Argo CD alone: no Flux objects"
    );
    assert_eq!(
        t.read("out/production/argocd/application-apps.yaml"),
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: production-apps
  namespace: argocd
  annotations:
    argocd.argoproj.io/sync-wave: \"200\"
spec:
  project: prod
  source:
    repoURL: https://git.example/stack.git
    targetRevision: main
    path: deploy/production/apps
  destination:
    server: https://prod.example:6443
    namespace: web
  syncPolicy:
    automated:
      prune: true
      selfHeal: false
    syncOptions:
      - ServerSideApply=true
"
    );
    let dev = t.read("out/dev/argocd/application-apps.yaml");
    assert!(
        !dev.contains("automated") && dev.contains("project: default"),
        "{dev}"
    );
    kustomize(&t, "out/dev/argocd");
    kustomize(&t, "out/dev");
}

#[test]
fn argo_without_a_repository_url_or_with_an_unknown_setting_is_refused() {
    let t = Test::basic();
    let text = t.read("stacks.kdl");
    t.write(
        "stacks.kdl",
        &format!("{text}\ngitops \"flux\" \"argocd\"\n"),
    );
    refused(&t, &["stackc::model::gitops::no_repo_url", "repo-url"]);
    t.write(
        "stacks.kdl",
        &format!(
            "{text}\ngitops \"argocd\" {{ argocd {{ repo-url \"x\"; self-heall #true; }}; }}\n"
        ),
    );
    refused(
        &t,
        &[
            "stackc::model::unknown_node",
            "self-heall",
            "did you mean `self-heal`",
            "stacks.kdl:22:",
        ],
    );
    t.write(
        "stacks.kdl",
        &format!("{text}\ngitops \"argocd\" {{ argocd {{ repo-url \"x\"; sync-options \"CreateNamespace\"; }}; }}\n"),
    );
    refused(&t, &["stackc::model::gitops::invalid", "not `Name=value`"]);
    // A block for an engine the stack does not write is refused, not silently ignored.
    t.write(
        "stacks.kdl",
        &format!("{text}\ngitops \"flux\" {{ argocd {{ repo-url \"x\"; }}; }}\n"),
    );
    refused(
        &t,
        &[
            "stackc::model::gitops::engine_off",
            "writes no argocd objects",
            "stacks.kdl:22:",
        ],
    );
    t.write(
        "stacks.kdl",
        &format!("{text}\ngitops \"argocd\" {{ argocd {{ repo-url \"x\"; }}; flux {{ prune #false; }}; }}\n"),
    );
    refused(
        &t,
        &[
            "stackc::model::gitops::engine_off",
            "writes no flux objects",
        ],
    );
}
