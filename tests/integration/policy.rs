//! Environment policy as generated objects (issue 14, docs/policy.md) through the binary: the
//! example's production is strict and its dev relaxed, the objects build with kustomize and
//! validate against the Kubernetes schemas, `diff` shows the differences, `explain` where
//! they come from, a peer's edit re-renders the rules that name it, and every bad policy is
//! refused with exit 2, a diagnostic at its text, and nothing written.

use crate::harness::{example, repo_root, require_tool, tool, tree, Test};
use crate::hostile_model::stack_tree;

/// `file:line:` of the first line of `file` that contains `needle`, as miette prints it.
#[track_caller]
fn at(t: &Test, file: &str, needle: &str) -> String {
    let text = t.read(file);
    let line = text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{file} lacks {needle:?}"));
    format!("{file}:{}:", line + 1)
}

/// Breaks the example with `break_it`, then asserts `stackc build` refuses it: exit 2, each of
/// `expected` in stderr (the locations `locate` computes after the edit), no panic, and the
/// stack (out/, stores, cache) and a folder outside it byte-identical.
#[track_caller]
fn refused(
    break_it: impl FnOnce(&Test),
    locate: impl FnOnce(&Test) -> Vec<String>,
    expected: &[&str],
) -> String {
    // With the example identity, so that a changed secret would be sealable: the refusal must
    // come from the policy, not from a missing key.
    let keys = tempfile::tempdir().expect("temp dir");
    let key = keys.path().join("example.agekey");
    std::fs::copy(repo_root().join("examples/keys/example.agekey"), &key).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let t = example().env("SOPS_AGE_KEY_FILE", key.to_str().unwrap_or_default());
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("keep.txt"), "outside\n").unwrap();
    break_it(&t);
    let spans = locate(&t);
    let before = stack_tree(&t);
    let outside_before = tree(outside.path());
    let run = t.run(&["build"]);
    let stderr = run.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    run.status(2).stderr_has(expected);
    for span in &spans {
        assert!(
            stderr.contains(span.as_str()),
            "stderr lacks {span}:\n{stderr}"
        );
    }
    assert!(
        before == stack_tree(&t),
        "a refused build changed the stack"
    );
    assert!(
        outside_before == tree(outside.path()),
        "a refused build changed a file outside the stack"
    );
    stderr
}

#[test]
fn example_production_is_strict_and_dev_relaxed() {
    let t = example();
    let ns = |env: &str| t.read(&format!("out/{env}/flux-system/namespace-web.yaml"));
    assert!(ns("dev").contains("pod-security.kubernetes.io/enforce: baseline"));
    assert!(ns("staging").contains("pod-security.kubernetes.io/warn: restricted"));
    assert!(ns("production").contains("pod-security.kubernetes.io/enforce: restricted"));

    let exists = |path: &str| t.path().join(path).is_file();
    // Default-deny where the environment denies; nothing of it in dev.
    assert!(!exists("out/dev/apps/web/networkpolicy-default-deny.yaml"));
    assert!(exists(
        "out/staging/apps/web/networkpolicy-default-deny.yaml"
    ));
    let deny = t.read("out/production/apps/web/networkpolicy-default-deny.yaml");
    assert!(
        deny.contains("- Ingress") && deny.contains("- Egress"),
        "{deny}"
    );
    // Quota and limits in production only.
    assert!(!exists(
        "out/staging/database/database/resourcequota-quota.yaml"
    ));
    let quota = t.read("out/production/databases/database/resourcequota-quota.yaml");
    assert!(quota.contains("requests.cpu: \"4\""), "{quota}");
    assert!(exists(
        "out/production/databases/database/limitrange-defaults.yaml"
    ));
    // Disruption budgets where there is more than one replica.
    assert!(!exists(
        "out/dev/apps/web/whoami/poddisruptionbudget-whoami.yaml"
    ));
    assert!(exists(
        "out/staging/apps/web/whoami/poddisruptionbudget-whoami.yaml"
    ));
    // The autoscaler owns production's replicas.
    let hpa = t.read("out/production/apps/web/whoami/horizontalpodautoscaler-whoami.yaml");
    assert!(
        hpa.contains("minReplicas: 3") && hpa.contains("maxReplicas: 6"),
        "{hpa}"
    );
    assert!(!exists(
        "out/staging/apps/web/whoami/horizontalpodautoscaler-whoami.yaml"
    ));
    let prod = t.read("out/production/apps/web/whoami/deployment-whoami.yaml");
    for part in [
        "maxUnavailable: 0",
        "maxSurge: 1",
        "readOnlyRootFilesystem: true",
        "runAsNonRoot: true",
        "- ALL",
        "path: /health",
        "livenessProbe:",
    ] {
        assert!(prod.contains(part), "{part}: {prod}");
    }
    assert!(!prod.contains("replicas:"), "{prod}");
    let dev = t.read("out/dev/apps/web/whoami/deployment-whoami.yaml");
    assert!(dev.contains("replicas: 1") && dev.contains("maxUnavailable: 25%"));
    assert!(!dev.contains("readOnlyRootFilesystem"), "{dev}");
    // Alerts: every environment, severity by environment, the sealed address beside them.
    let alert = t.read("out/production/infrastructure/flux-notify/alert-homelab.yaml");
    assert!(alert.contains("eventSeverity: error"), "{alert}");
    let alert = t.read("out/dev/infrastructure/flux-notify/alert-homelab.yaml");
    assert!(alert.contains("eventSeverity: info"), "{alert}");
    let provider = t.read("out/dev/infrastructure/flux-notify/provider-homelab.yaml");
    assert!(
        provider.contains("type: slack") && provider.contains("name: flux-notify"),
        "{provider}"
    );
    assert!(exists(
        "out/dev/infrastructure/flux-notify/secret-flux-notify.yaml"
    ));
}

#[test]
fn network_policies_follow_the_declaration() {
    let t = example();
    let postgres =
        t.read("out/production/databases/database/postgresql/networkpolicy-postgresql.yaml");
    // authentik depends on postgresql: it may reach the database port; traefik routes TCP.
    let want = "    - from:\n        - namespaceSelector:\n            matchLabels:\n              kubernetes.io/metadata.name: auth\n          podSelector:\n            matchLabels:\n              app.kubernetes.io/instance: authentik\n      ports:\n        - protocol: TCP\n          port: 5432\n";
    assert!(postgres.contains(want), "{postgres}");
    assert!(
        postgres.contains("kubernetes.io/metadata.name: traefik"),
        "{postgres}"
    );
    let authentik = t.read("out/production/apps/auth/authentik/networkpolicy-authentik.yaml");
    for part in [
        // Egress: DNS, its dependencies on their ports, the declared extra rule.
        "k8s-app: kube-dns",
        "app.kubernetes.io/instance: postgresql",
        "port: 6379",
        "cidr: 0.0.0.0/0",
        "port: 443",
    ] {
        assert!(authentik.contains(part), "{part}: {authentik}");
    }
    // traefik opts out (its load balancer takes traffic from anywhere), by its chart's label.
    let traefik =
        t.read("out/production/infrastructure/traefik/traefik/networkpolicy-traefik.yaml");
    assert!(
        traefik.contains("app.kubernetes.io/instance: traefik-traefik")
            && traefik.contains("ingress:\n    - {}"),
        "{traefik}"
    );
    // Staging denies ingress only: no egress rules.
    let staging = t.read("out/staging/apps/auth/authentik/networkpolicy-authentik.yaml");
    assert!(!staging.contains("egress"), "{staging}");
}

#[test]
fn generated_objects_validate_against_the_kubernetes_schemas() {
    let t = example();
    let mut files: Vec<String> = Vec::new();
    for env in ["dev", "staging", "production"] {
        for (path, _) in t.tree(&format!("out/{env}")) {
            let name = path.rsplit('/').next().unwrap_or_default();
            if [
                "networkpolicy-",
                "resourcequota-",
                "limitrange-",
                "poddisruptionbudget-",
                "horizontalpodautoscaler-",
                "namespace.yaml",
                "deployment-",
            ]
            .iter()
            .any(|p| name.starts_with(p))
            {
                files.push(format!("out/{env}/{path}"));
            }
        }
    }
    assert!(files.len() > 40, "{files:?}");
    let out = tool("kubernetes-validate")
        .current_dir(t.path())
        .args(["--strict", "--quiet"])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And every environment still builds as one kustomization.
    require_tool("kubectl");
    for env in ["dev", "staging", "production"] {
        let out = tool("kubectl")
            .current_dir(t.path())
            .args(["kustomize", &format!("out/{env}")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{env}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        if env == "production" {
            for kind in [
                "kind: HorizontalPodAutoscaler",
                "kind: NetworkPolicy",
                "kind: ResourceQuota",
                "kind: LimitRange",
                "kind: PodDisruptionBudget",
                "kind: Alert",
                "kind: Provider",
            ] {
                assert!(text.contains(kind), "{kind}");
            }
        }
    }
}

#[test]
fn diff_dev_production_shows_the_policy_differences() {
    let t = example();
    let run = t.run(&["diff", "dev", "production"]);
    run.stdout_has(&[
        "+ HorizontalPodAutoscaler web/whoami (only in production)",
        "+ NetworkPolicy database/default-deny (only in production)",
        "+ ResourceQuota web/quota (only in production)",
        "+ PodDisruptionBudget web/whoami (only in production)",
        "metadata.labels[\"pod-security.kubernetes.io/enforce\"]: baseline -> restricted",
        "spec.eventSeverity: info -> error",
        "spec.strategy.rollingUpdate.maxUnavailable: 25% -> 0",
        "- spec.replicas: 1",
    ]);
}

#[test]
fn explain_shows_where_each_policy_value_is_set() {
    let t = example();
    t.run(&["explain", "production", "whoami"])
        .success()
        .stdout_has(&[
            "autoscale.max = 6",
            "service whoami, env production",
            "network_policy.egress = deny",
            "environments/production.kdl",
            "rollout.max_unavailable = 0",
            "built-in",
        ]);
}

#[test]
fn a_peer_port_edit_rerenders_the_rules_that_name_it() {
    let t = example();
    t.run(&["build"]).success();
    t.edit("stacks.kdl", "    port 5432\n", "    port 5433\n");
    t.run(&["build"]).success();
    let authentik = t.read("out/production/apps/auth/authentik/networkpolicy-authentik.yaml");
    assert!(authentik.contains("port: 5433"), "{authentik}");
    t.run(&["build", "--check"]).success();
}

#[test]
fn builtin_deployment_leaves_replicas_to_the_autoscaler() {
    let t = Test::new().file(
        "stacks.kdl",
        r#"project "demo" domain="example.org"
layer "apps"
environment "dev" wave=0 {
    recipients "age13zz8d57nutfp2effe6ztlyfxdf5akt9q0ltnefswtnlchfq66uvsl4zkex"
}
service "web" layer="apps" namespace="web" template="builtin:deployment" {
    image "nginx" tag="1.27"
    replicas 2
    autoscale min=2 max=4
    disruption-budget min-available="50%"
    rollout max-unavailable=0 max-surge=1
    probes path="/healthz"
    pod-security "restricted"
}
"#,
    );
    // pod-security is namespace-wide: refused in a service.
    t.run(&["build"])
        .status(2)
        .stderr_has(&["stackc::policy::namespace_setting", "stacks.kdl:13:"]);
    t.edit("stacks.kdl", "    pod-security \"restricted\"\n", "");
    t.run(&["build"]).success();
    let deployment = t.read("out/dev/apps/web/web/deployment-web.yaml");
    assert!(!deployment.contains("replicas:"), "{deployment}");
    assert!(
        deployment.contains("maxUnavailable: 0") && deployment.contains("path: /healthz"),
        "{deployment}"
    );
    let pdb = t.read("out/dev/apps/web/web/poddisruptionbudget-web.yaml");
    assert!(pdb.contains("minAvailable: 50%"), "{pdb}");
    let hpa = t.read("out/dev/apps/web/web/horizontalpodautoscaler-web.yaml");
    assert!(hpa.contains("averageUtilization: 80"), "{hpa}");
}

// ---------------------------------------------------------------- bad input

#[test]
fn autoscale_min_above_max_names_both() {
    refused(
        |t| {
            t.edit(
                "environments/production.kdl",
                "service \"traefik\" {",
                "service \"whoami\" {\n    autoscale min=8\n}\n\nservice \"traefik\" {",
            );
        },
        |t| {
            vec![
                at(t, "environments/production.kdl", "autoscale min=8"),
                at(t, "stacks.kdl", "autoscale min=3 max=6"),
            ]
        },
        &[
            "stackc::policy::autoscale_bounds",
            "min 8 is above max 6",
            "service whoami in environment production",
            "max 6 set here",
        ],
    );
}

#[test]
fn a_quota_below_the_declared_requests_is_refused() {
    let stderr = refused(
        |t| {
            t.edit(
                "environments/production.kdl",
                "quota cpu=\"4\"",
                "quota cpu=\"2\"",
            );
        },
        |t| vec![at(t, "environments/production.kdl", "quota cpu=")],
        &[
            "stackc::policy::quota_too_small",
            "requests.cpu 2 is below the 3 the services of namespace `database` request in environment production",
            "postgresql 3 × 500m + redis 3 × 500m",
        ],
    );
    // The web namespace counts the autoscaler's maximum: 6 × 500m.
    assert!(stderr.contains("namespace `web`"), "{stderr}");
    refused(
        |t| {
            t.edit(
                "environments/production.kdl",
                "memory=\"8Gi\"",
                "memory=\"8 gigs\"",
            );
        },
        |t| vec![at(t, "environments/production.kdl", "quota cpu=")],
        &["stackc::policy::quantity", "`8 gigs`"],
    );
}

#[test]
fn a_rule_naming_an_unknown_service_or_port_is_refused() {
    refused(
        |t| {
            t.edit(
                "stacks.kdl",
                "allow cidr=\"0.0.0.0/0\" port=443",
                "allow cidr=\"0.0.0.0/0\" port=443\n        allow from=\"postgress\"",
            );
        },
        |t| vec![at(t, "stacks.kdl", "allow from=\"postgress\"")],
        &[
            "stackc::policy::unknown_service",
            "unknown service `postgress`",
            "did you mean `postgresql`?",
        ],
    );
    refused(
        |t| {
            t.edit(
                "stacks.kdl",
                "allow cidr=\"0.0.0.0/0\" port=443",
                "allow cidr=\"0.0.0.0/0\" port=443\n        allow from=\"whoami\" port=8443",
            );
        },
        |t| vec![at(t, "stacks.kdl", "allow from=\"whoami\" port=8443")],
        &[
            "stackc::policy::unknown_port",
            "allows port 8443, which the service does not serve",
            "authentik serves 80",
        ],
    );
    refused(
        |t| {
            t.edit(
                "stacks.kdl",
                "ingress-controller=\"traefik\"",
                "ingress-controller=\"traefk\"",
            );
        },
        |t| vec![at(t, "stacks.kdl", "ingress-controller=")],
        &["unknown service `traefk`", "did you mean `traefik`?"],
    );
}

#[test]
fn a_notify_provider_without_its_secret_is_refused() {
    refused(
        |t| {
            t.edit(
                "stacks.kdl",
                " secret=\"flux-notify\" severity",
                " severity",
            );
        },
        |t| vec![at(t, "stacks.kdl", "notify provider=")],
        &[
            "stackc::policy::notify_secret",
            "`notify` in environment dev has no `secret`",
            "key \"address\"",
        ],
    );
    refused(
        |t| {
            t.edit(
                "stacks.kdl",
                "secret=\"flux-notify\" severity",
                "secret=\"flux-notfy\" severity",
            );
        },
        |t| vec![at(t, "stacks.kdl", "notify provider=")],
        &["unknown secret `flux-notfy`", "did you mean `flux-notify`?"],
    );
    refused(
        |t| {
            t.edit(
                "stacks.kdl",
                "    key \"address\"\n",
                "    key \"url\" value=\"https://example.org/hook\"\n",
            );
        },
        |t| vec![at(t, "stacks.kdl", "secret \"flux-notify\"")],
        &["has no key `address`"],
    );
}

#[test]
fn policy_settings_of_the_wrong_shape_are_refused_where_written() {
    for (from, to, expected) in [
        (
            "pod-security \"restricted\"",
            "pod-security \"strict\"",
            "one of \"privileged\", \"baseline\", \"restricted\"",
        ),
        (
            "rollout max-unavailable=0 max-surge=1",
            "rollout max-unavailable=0 max-surge=0",
            "stackc::policy::rollout_stuck",
        ),
        (
            "rollout max-unavailable=0 max-surge=1",
            "rollout max-unavailable=\"150%\"",
            "a non-negative integer or a percentage",
        ),
        (
            "notify severity=\"error\"",
            "notify severity=\"error\"\nnetwork-policy egress=\"block\"",
            "one of \"allow\", \"deny\"",
        ),
        (
            "limit-range cpu=",
            "limit-range cpus=",
            "stackc::model::unknown_property",
        ),
        (
            "notify severity=\"error\"",
            "notify severity=\"error\"\ndisruption-budget min-available=1 max-unavailable=1",
            "disruption-budget rule `min-available / max-unavailable` is declared twice",
        ),
        (
            "notify severity=\"error\"",
            "notify severity=\"error\"\nnetwork-policy {\n    allow cidr=\"10.0.0.0/33\"\n}",
            "an address range like",
        ),
        (
            "notify severity=\"error\"",
            "notify severity=\"error\"\nnetwork-policy {\n    allow port=80\n}",
            "exactly one of from, namespace, cidr",
        ),
        (
            "notify severity=\"error\"",
            "notify severity=\"error\"\nservice \"authentik\" {\n    autoscale min=2\n}",
            "stackc::policy::autoscale_max",
        ),
        (
            "notify severity=\"error\"",
            "notify severity=\"error\"\nservice \"redis\" {\n    quota pods=3\n}",
            "`quota` is a namespace-wide policy; it cannot be set for service redis",
        ),
        (
            "notify severity=\"error\"",
            "notify severity=\"error\"\nautoscale min=0 max=2",
            "`min` must be an integer from 1 to 10000",
        ),
    ] {
        let last = to
            .lines()
            .rev()
            .find(|l| l.trim() != "}")
            .unwrap_or(to)
            .to_string();
        refused(
            |t| t.edit("environments/production.kdl", from, to),
            |t| vec![at(t, "environments/production.kdl", &last)],
            &[expected],
        );
    }
}

// ---------------------------------------------------------------- docs/policy.md

/// The fenced blocks of a Markdown text: (info string, the line before the fence, body).
fn fenced(text: &str) -> Vec<(String, String, String)> {
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    let mut previous = "";
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```").filter(|i| !i.is_empty()) {
            let mut body = String::new();
            for inner in lines.by_ref() {
                if inner == "```" {
                    break;
                }
                body.push_str(inner);
                body.push('\n');
            }
            blocks.push((info.to_string(), previous.to_string(), body));
        }
        previous = line;
    }
    blocks
}

#[test]
fn docs_policy_shows_what_the_example_renders() {
    let doc = std::fs::read_to_string(repo_root().join("docs/policy.md")).unwrap();
    let t = example();
    let mut rendered = 0;
    for (info, before, body) in fenced(&doc) {
        if info != "yaml" {
            continue;
        }
        let Some(path) = before
            .strip_prefix("<!-- ")
            .and_then(|p| p.strip_suffix(" -->"))
        else {
            continue;
        };
        assert_eq!(
            body,
            t.read(path),
            "docs/policy.md's {path} is not what the example renders"
        );
        rendered += 1;
    }
    assert_eq!(rendered, 3);
}

#[test]
fn docs_policy_snippets_parse() {
    let doc = std::fs::read_to_string(repo_root().join("docs/policy.md")).unwrap();
    let mut checked = 0;
    for (info, _, body) in fenced(&doc) {
        if info != "kdl" {
            continue;
        }
        let first = body.lines().next().unwrap_or_default();
        let overlay = match first {
            "// environment-wide" => body.clone(),
            // postgresql: the network-policy snippet's rules are a database's.
            "// a service" => format!("service \"postgresql\" {{\n{body}}}\n"),
            _ => continue,
        };
        let t = example();
        let dev = t.read("environments/dev.kdl");
        t.write("environments/dev.kdl", &format!("{dev}\n{overlay}"));
        let run = t.run(&["explain", "dev", "postgresql"]);
        assert_eq!(run.code(), 0, "{body}\n{}", run.stderr());
        checked += 1;
    }
    assert!(checked >= 8, "{checked}");
}
