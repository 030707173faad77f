//! `stackc diff` through the binary: two environments, `out/<env>` against a fresh build,
//! secrets compared without ever printing them, every format, filters and bad input.

use crate::harness::{Run, Test};

/// Two environments that differ only in their domains, with an Ingress on that domain.
const TWIN_STACK: &str = r#"project "demo" domain="example.org"

layer "apps"

defaults {
    replicas 2
}

environment "dev" wave=0 domain="dev.example.org"
environment "staging" wave=1 promotes-from="dev" domain="staging.example.org"

service "web" layer="apps" namespace="web" template="deployment" {
    image "nginx" tag="1.27"
    ingress host="web.{{ environment.domain }}" tls=#true
    values {
        labels { team "core" }
    }
}
"#;

const INGRESS_TEMPLATE: &str = r"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ service.name }}
  namespace: {{ service.namespace }}
spec:
  rules:
    - host: {{ service.ingress.host }}
";

/// A declared secret with one stored and one literal key, in both environments of the basic
/// stack, encrypted to `RECIPIENT`.
const SECRET_DECL: &str = r#"
secret "db" namespace="web" {
    key "password"
    key "user" value="app"
}
"#;

const DEV_VALUE: &str = "alpha-7Q2x-dev-plaintext";
const PROD_VALUE: &str = "omega-9Z4y-prod-plaintext";

fn twins() -> Test {
    Test::basic()
        .file("stacks.kdl", TWIN_STACK)
        .file("templates/deployment/ingress.yaml.j2", INGRESS_TEMPLATE)
}

/// The basic stack with production's resource limit raised.
fn basic_with_limits() -> Test {
    let t = Test::basic();
    t.edit(
        "stacks.kdl",
        "anti-affinity \"required\"",
        "anti-affinity \"required\"\n    resources cpu-limit=\"2000m\"",
    );
    t
}

/// The basic stack with a secret, a throwaway identity whose recipient both environments
/// use, and a different password set in each. Returns the stack and the key file's path.
fn with_secret() -> (Test, String) {
    let t = Test::basic();
    let key = t.path().join("key.txt").display().to_string();
    let run = t.run(&["keygen", "--output", &key]);
    run.success();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let recipient = run.stdout().trim().to_string();
    assert!(recipient.starts_with("age1"), "{recipient}");
    t.edit(
        "stacks.kdl",
        "environment \"dev\" wave=0 domain=\"dev.example.org\"",
        &format!("environment \"dev\" wave=0 domain=\"dev.example.org\" {{\n    recipients \"{recipient}\"\n}}"),
    );
    t.edit(
        "stacks.kdl",
        "anti-affinity \"required\"",
        &format!("anti-affinity \"required\"\n    recipients \"{recipient}\""),
    );
    t.write("stacks.kdl", &(t.read("stacks.kdl") + SECRET_DECL));
    for (env, value) in [("dev", DEV_VALUE), ("production", PROD_VALUE)] {
        t.run_with(
            &["secret", "set", env, "db", "password"],
            Some(value),
            &[("SOPS_AGE_KEY_FILE", &key)],
        )
        .success();
    }
    (t, key)
}

/// Asserts no secret value and no ciphertext reached the output.
#[track_caller]
fn reveals_nothing(run: &Run) {
    for stream in [run.stdout(), run.stderr()] {
        for secret in [DEV_VALUE, PROD_VALUE] {
            assert!(!stream.contains(secret), "a secret value leaked:\n{stream}");
        }
        assert!(!stream.contains("ENC["), "a ciphertext leaked:\n{stream}");
    }
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout())
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.stdout()))
}

#[test]
fn diff_of_identical_environments_exits_0_with_only_the_summary() {
    let t = twins();
    let run = t.run(&["diff", "dev", "staging"]);
    run.success();
    assert_eq!(
        run.stdout(),
        "0 objects changed, 0 only in dev, 0 only in staging (5 unchanged)\n"
    );
    assert_eq!(run.stderr(), "");
}

#[test]
fn diff_normalizes_domains_so_ingresses_pair_up() {
    let t = twins();
    let run = t.run(&["diff", "dev", "staging", "--kind", "Ingress"]);
    run.success();
    run.stdout_has(&["(1 unchanged)"]);
    // A real difference in the host still shows, with each side's own value.
    t.edit(
        "stacks.kdl",
        "ingress host=\"web.{{ environment.domain }}\" tls=#true",
        "ingress host=\"web.{{ environment.domain }}\" tls=#true\n    env \"staging\" { ingress host=\"www.{{ environment.domain }}\" }",
    );
    let run = t.run(&["diff", "dev", "staging", "--kind", "ingress"]);
    run.status(1);
    run.stdout_has(&[
        "~ Ingress web/web\n",
        "  - spec.rules[host=web.<domain>]: {host: web.dev.example.org}\n",
        "  + spec.rules[host=www.<domain>]: {host: www.staging.example.org}\n",
    ]);
}

#[test]
fn diff_reports_replicas_resources_and_anti_affinity_with_exact_paths() {
    let t = basic_with_limits();
    let run = t.run(&["diff", "dev", "production"]);
    run.status(1);
    run.stdout_has(&[
        "~ Deployment web/web\n",
        "    spec.replicas: 1 -> 3\n",
        "    spec.template.spec.containers[name=web].resources.limits.cpu: 500m -> 2000m\n",
        "  + spec.template.spec.affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution:",
        "1 object changed, 0 only in dev, 0 only in production",
    ]);
}

#[test]
fn diff_matches_containers_by_name_not_position() {
    let t = Test::basic();
    // Production gets a sidecar before the main container: the web container is still paired.
    t.edit(
        "templates/deployment/deployment.yaml.j2",
        "      containers:\n",
        "      containers:\n{% if environment.name == \"production\" %}\n        - name: proxy\n          image: envoy\n{% endif %}\n",
    );
    let run = t.run(&["diff", "dev", "production"]);
    run.status(1);
    run.stdout_has(&["  + spec.template.spec.containers[name=proxy]: {name: proxy, image: envoy}"]);
    assert!(
        !run.stdout().contains("containers[name=web].image"),
        "{}",
        run.stdout()
    );
}

#[test]
fn diff_lists_objects_only_on_one_side() {
    let t = Test::basic().file(
        "templates/deployment/configmap.yaml.j2",
        "{% if environment.name == \"production\" %}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tuning\n  namespace: web\ndata:\n  workers: \"8\"\n{% endif %}\n",
    );
    let run = t.run(&["diff", "dev", "production"]);
    run.status(1);
    run.stdout_has(&[
        "+ ConfigMap web/tuning (only in production)\n",
        "      workers: \"8\"",
        "0 only in dev, 1 only in production",
    ]);
    let run = t.run(&["diff", "production", "dev", "--stat"]);
    run.status(1);
    run.stdout_has(&[
        "- ConfigMap web/tuning",
        "only in production",
        "1 only in production, 0 only in dev",
    ]);
}

#[test]
fn diff_reports_a_changed_secret_without_revealing_it_in_any_format() {
    let (t, key) = with_secret();
    let env = [("SOPS_AGE_KEY_FILE", key.as_str())];
    let text = t.run_with(&["diff", "dev", "production"], None, &env);
    text.status(1);
    text.stdout_has(&[
        "~ Secret web/db\n",
        "    secret key password: changed\n",
        "secret keys: 1 changed, 0 added, 0 removed, 0 not compared (1 unchanged)",
    ]);
    reveals_nothing(&text);
    for format in ["text", "stat", "json", "unified"] {
        let run = t.run_with(
            &["diff", "dev", "production", "--format", format],
            None,
            &env,
        );
        run.status(1);
        reveals_nothing(&run);
    }
    let report = json(&t.run_with(
        &["diff", "dev", "production", "--format", "json"],
        None,
        &env,
    ));
    let secret = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "Secret")
        .expect("the Secret is listed");
    assert_eq!(
        secret["secret_keys"],
        serde_json::json!([
            { "key": "password", "status": "changed" },
            { "key": "user", "status": "unchanged" }
        ])
    );
    // Equal values are proven equal.
    t.run_with(
        &["secret", "set", "production", "db", "password"],
        Some(DEV_VALUE),
        &env,
    )
    .success();
    let run = t.run_with(
        &["diff", "dev", "production", "--kind", "secret"],
        None,
        &env,
    );
    run.success();
    run.stdout_has(&["secret keys: 0 changed, 0 added, 0 removed, 0 not compared (2 unchanged)"]);
    reveals_nothing(&run);
}

#[test]
fn diff_without_an_identity_says_why_secrets_were_not_compared() {
    let (t, _key) = with_secret();
    let run = t.run(&["diff", "dev", "production", "--kind", "Secret"]);
    // Not comparable is not a difference.
    run.success();
    run.stdout_has(&[
        "secret keys: 0 changed, 0 added, 0 removed, 1 not compared (1 unchanged)",
        "not compared (dev: no identity opens environments/dev.secrets.sops.yaml (looked in: SOPS_AGE_KEY_FILE (not set)",
        "production: no identity opens environments/production.secrets.sops.yaml",
        "): Secret web/db (1 key)",
    ]);
    reveals_nothing(&run);
    let report = json(&t.run(&["diff", "dev", "production", "--format", "json"]));
    let groups = report["summary"]["not_compared"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["secrets"], serde_json::json!(["Secret web/db"]));
}

#[test]
fn diff_json_follows_the_documented_schema() {
    let t = basic_with_limits();
    let run = t.run(&["diff", "dev", "production", "--format", "json"]);
    run.status(1);
    let report = json(&run);
    assert_eq!(report["version"], 1);
    assert_eq!(report["a"], "dev");
    assert_eq!(report["b"], "production");
    let summary = &report["summary"];
    for field in ["changed", "only_in_a", "only_in_b", "unchanged"] {
        assert!(summary[field].is_u64(), "summary.{field}: {summary}");
    }
    for field in ["changed", "unchanged", "added", "removed", "not_compared"] {
        assert!(
            summary["secret_keys"][field].is_u64(),
            "summary.secret_keys.{field}"
        );
    }
    assert!(summary["not_compared"].is_array());
    assert_eq!(summary["changed"], 1);
    let objects = report["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 1);
    let object = &objects[0];
    assert_eq!(object["status"], "changed");
    assert_eq!(object["apiVersion"], "apps/v1");
    assert_eq!(object["kind"], "Deployment");
    assert_eq!(object["namespace"], "web");
    assert_eq!(object["name"], "web");
    assert_eq!(object["service"], "web");
    assert_eq!(
        object["a"],
        serde_json::json!({ "namespace": "web", "name": "web", "path": "apps/web/web/deployment-web.yaml" })
    );
    assert!(object["b"].is_object());
    assert_eq!(object["secret_keys"], serde_json::json!([]));
    let changes = object["changes"].as_array().unwrap();
    assert!(changes.contains(
        &serde_json::json!({ "path": "spec.replicas", "op": "changed", "a": 1, "b": 3 })
    ));
    assert!(changes.contains(&serde_json::json!({
        "path": "spec.template.spec.containers[name=web].resources.limits.cpu",
        "op": "changed", "a": "500m", "b": "2000m"
    })));
    let added = changes
        .iter()
        .find(|c| c["path"] == "spec.template.spec.affinity")
        .expect("affinity added");
    assert_eq!(added["op"], "added");
    assert!(added.get("a").is_none() && added["b"].is_object());
}

#[test]
fn diff_unified_has_file_headers() {
    let t = Test::basic();
    let run = t.run(&["diff", "dev", "production", "--format", "unified"]);
    run.status(1);
    run.stdout_has(&[
        "--- a/dev/apps/web/web/deployment-web.yaml\n",
        "+++ b/production/apps/web/web/deployment-web.yaml\n",
        "-  replicas: 1\n",
        "+  replicas: 3\n",
    ]);
}

#[test]
fn diff_stat_is_one_line_per_object() {
    let t = basic_with_limits();
    for args in [
        &["diff", "dev", "production", "--stat"][..],
        &["diff", "dev", "production", "--format", "stat"],
    ] {
        let run = t.run(args);
        run.status(1);
        let out = run.stdout();
        let first = out.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("~ Deployment web/web") && first.ends_with("3 fields"),
            "{out}"
        );
        assert!(!out.contains("spec.replicas"), "{out}");
    }
    // --stat and --format together are a usage error.
    t.run(&["diff", "dev", "production", "--stat", "--format", "json"])
        .status(2);
}

#[test]
fn diff_filters_by_kind_and_service() {
    let t = basic_with_limits()
        .file(
            "templates/sidecar/configmap.yaml.j2",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service.name }}\n  namespace: web\ndata:\n  replicas: \"{{ service.replicas }}\"\n",
        );
    t.write(
        "stacks.kdl",
        &(t.read("stacks.kdl")
            + "\nservice \"cache\" layer=\"apps\" namespace=\"web\" template=\"sidecar\"\n"),
    );
    let all = t.run(&["diff", "dev", "production"]);
    all.status(1);
    all.stdout_has(&["~ Deployment web/web", "~ ConfigMap web/cache"]);

    let kind = t.run(&["diff", "dev", "production", "--kind", "configmap"]);
    kind.status(1);
    kind.stdout_has(&["~ ConfigMap web/cache", "1 object changed"]);
    assert!(!kind.stdout().contains("Deployment"), "{}", kind.stdout());

    let service = t.run(&["diff", "dev", "production", "--service", "web"]);
    service.status(1);
    service.stdout_has(&["~ Deployment web/web", "1 object changed"]);
    assert!(
        !service.stdout().contains("ConfigMap"),
        "{}",
        service.stdout()
    );

    t.run(&[
        "diff",
        "dev",
        "production",
        "--service",
        "web",
        "--kind",
        "Service",
    ])
    .success()
    .stdout_has(&["(1 unchanged)"]);

    t.run(&["diff", "dev", "production", "--service", "wbe"])
        .status(2)
        .stderr_has(&["unknown service `wbe`", "did you mean `web`?"]);
}

#[test]
fn diff_env_shows_unbuilt_edits_and_nothing_after_a_build() {
    let t = Test::basic();
    // Never built: everything would be added.
    let run = t.run(&["diff", "dev"]);
    run.status(1);
    run.stdout_has(&["+ Deployment web/web (only in dev)", "0 only in out/dev"]);

    t.run(&["build"]).success();
    let run = t.run(&["diff", "dev"]);
    run.success();
    assert_eq!(
        run.stdout(),
        "0 objects changed, 0 only in out/dev, 0 only in dev (4 unchanged)\n"
    );

    t.edit("stacks.kdl", "replicas 1", "replicas 2");
    let run = t.run(&["diff", "dev"]);
    run.status(1);
    run.stdout_has(&["~ Deployment web/web\n", "    spec.replicas: 1 -> 2\n"]);
    // Production's replicas come from its own block: unaffected.
    t.run(&["diff", "production"]).success();

    t.run(&["build"]).success();
    t.run(&["diff", "dev"]).success();
}

#[test]
fn diff_env_compares_sealed_secrets_in_out_through_the_identity() {
    let (t, key) = with_secret();
    let env = [("SOPS_AGE_KEY_FILE", key.as_str())];
    t.run_with(&["build"], None, &env).success();
    let run = t.run_with(&["diff", "production"], None, &env);
    run.success();
    run.stdout_has(&["secret keys: 0 changed, 0 added, 0 removed, 0 not compared (2 unchanged)"]);

    t.run_with(
        &["secret", "set", "production", "db", "password"],
        Some(DEV_VALUE),
        &env,
    )
    .success();
    let run = t.run_with(&["diff", "production"], None, &env);
    run.status(1);
    run.stdout_has(&["~ Secret web/db\n", "    secret key password: changed\n"]);
    reveals_nothing(&run);

    // Without the identity neither the store nor out/ opens: not compared, with both reasons.
    let run = t.run(&["diff", "production", "--kind", "secret"]);
    run.stdout_has(&[
        "out/production: no identity opens the sealed Secrets in out/production",
        "production: no identity opens environments/production.secrets.sops.yaml",
    ]);
    reveals_nothing(&run);
}

#[test]
fn diff_refuses_an_unknown_environment_with_a_suggestion() {
    let t = Test::basic();
    t.run(&["diff", "dev", "prod"])
        .status(2)
        .stderr_has(&["unknown environment `prod`", "did you mean `production`?"]);
    t.run(&["diff", "staging"])
        .status(2)
        .stderr_has(&["unknown environment `staging`"]);
}

#[test]
fn diff_refuses_the_same_environment_twice() {
    let t = Test::basic();
    t.run(&["diff", "dev", "dev"])
        .status(2)
        .stderr_has(&["environment `dev` is named twice", "stackc diff dev OTHER"]);
}

#[test]
fn diff_of_a_broken_stack_prints_its_diagnostics() {
    let t = Test::basic();
    t.edit("stacks.kdl", "layer=\"apps\"", "layer=\"nope\"");
    let run = t.run(&["diff", "dev", "production"]);
    run.status(2);
    assert_eq!(run.stdout(), "");
    run.stderr_has(&["nope"]);
}
