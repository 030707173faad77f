//! `stackc check`: every rule fails on a stack that breaks it (pointing at the KDL line),
//! passes on one that does not, and can be allowed with a reason; the example and a new
//! `stackc init` stack pass; the JSON and GitHub outputs have their documented shape.

use crate::harness::{example, Test};
use serde_json::Value as Json;

/// A stack that passes every rule in every environment.
const GOOD: &str = r#"project "shop" domain="example.org"

layer "apps"

defaults {
    resources cpu="100m" memory="128Mi" cpu-limit="500m" memory-limit="256Mi"
}

environment "dev" wave=0 domain="dev.example.org" {
    debug #true
}
environment "staging" wave=1 promotes-from="dev" domain="staging.example.org" {
    replicas 2
    anti-affinity "preferred"
}
environment "production" wave=2 promotes-from="staging" {
    replicas 3
    anti-affinity "required"
    debug #false
}

service "web" layer="apps" namespace="web" template="builtin:deployment" {
    image "nginx" tag="1.27.3"
    port 80
    ingress host="web.{{ environment.domain }}" tls=#true
}
"#;

fn stack(text: &str) -> Test {
    Test::new().file("stacks.kdl", text)
}

/// The findings of `stackc check --format json` (and its exit code).
fn findings(t: &Test) -> (i32, Vec<Json>) {
    let run = t.run(&["check", "--format", "json"]);
    let doc: Json = serde_json::from_str(&run.stdout())
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", run.stdout(), run.stderr()));
    assert_eq!(doc["version"], 1);
    (
        run.code(),
        doc["findings"].as_array().cloned().unwrap_or_default(),
    )
}

/// The findings of one rule.
fn of_rule<'a>(all: &'a [Json], rule: &str) -> Vec<&'a Json> {
    all.iter().filter(|f| f["rule"] == rule).collect()
}

/// The line (1-based) of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> u64 {
    text.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1
}

/// Asserts `rule` fails for `text` in `env`, at the line holding `at`, and passes once allowed.
#[track_caller]
fn fails_then_allowed(text: &str, rule: &str, env: &str, at: &str, allow_in: &str) {
    let t = stack(text);
    let (code, all) = findings(&t);
    let found = of_rule(&all, rule);
    assert_eq!(code, 1, "{all:#?}");
    let hit = found
        .iter()
        .find(|f| f["environment"] == env)
        .unwrap_or_else(|| panic!("{rule} did not fire in {env}: {all:#?}"));
    assert_eq!(hit["code"], format!("stackc::check::{rule}"));
    assert_eq!(hit["file"], "stacks.kdl", "{hit:#}");
    assert_eq!(hit["line"], line_of(text, at), "{hit:#}");
    // Text output names the rule id and the file:line.
    t.run(&["check"]).status(1).stderr_has(&[
        &format!("stackc::check::{rule}"),
        &format!("[stacks.kdl:{}:", line_of(text, at)),
    ]);
    // Allowed with a reason, the rule says nothing more.
    let allowed = text.replacen(
        allow_in,
        &format!("{allow_in}\n    allow \"{rule}\" reason=\"tested\""),
        1,
    );
    let (_, all) = findings(&stack(&allowed));
    assert!(of_rule(&all, rule).is_empty(), "allowed, but: {all:#?}");
}

#[test]
fn the_good_stack_passes_every_rule() {
    let t = stack(GOOD);
    let (code, all) = findings(&t);
    assert_eq!((code, all.len()), (0, 0), "{all:#?}");
    t.run(&["check"])
        .success()
        .stderr_has(&["checked 3 environments: 0 errors, 0 warnings"]);
}

#[test]
fn the_example_and_a_new_init_stack_pass_check() {
    let t = example();
    let (code, all) = findings(&t);
    assert_eq!((code, all.len()), (0, 0), "{all:#?}");

    let t = Test::new();
    t.run(&["init", "app", "--keys"]).success();
    t.run(&["-C", "app", "build"]).success();
    t.run(&["-C", "app", "check"]).success();
}

#[test]
fn replicas_and_anti_affinity_follow_the_environment() {
    let text = GOOD.replace(
        "    image \"nginx\" tag=\"1.27.3\"",
        "    image \"nginx\" tag=\"1.27.3\"\n    env \"production\" {\n        replicas 1\n    }",
    );
    fails_then_allowed(&text, "replicas", "production", "replicas 1", "    port 80");
    let text = GOOD.replace("    anti-affinity \"preferred\"\n", "");
    fails_then_allowed(
        &text,
        "replicas",
        "staging",
        "service \"web\"",
        "    port 80",
    );
    // A threshold set per environment.
    let text = GOOD.replace(
        "environment \"dev\" wave=0 domain=\"dev.example.org\" {",
        "environment \"dev\" wave=0 domain=\"dev.example.org\" {\n    policy min-replicas=2",
    );
    let (_, all) = findings(&stack(&text));
    let hit = of_rule(&all, "replicas");
    assert_eq!(hit.len(), 1, "{all:#?}");
    assert_eq!(hit[0]["environment"], "dev");
}

#[test]
fn no_debug_in_production() {
    let text = GOOD.replace(
        "    port 80\n",
        "    port 80\n    env \"production\" {\n        debug #true\n    }\n",
    );
    fails_then_allowed(
        &text,
        "no-debug",
        "production",
        "        debug #true",
        "    port 80",
    );
}

#[test]
fn images_and_charts_are_pinned_outside_dev() {
    let text = GOOD.replace("tag=\"1.27.3\"", "tag=\"latest\"");
    fails_then_allowed(&text, "pinned", "staging", "tag=\"latest\"", "    port 80");
    let text = format!(
        "{GOOD}\nservice \"chart\" layer=\"apps\" namespace=\"web\" template=\"builtin:helm-release\" {{\n    chart \"podinfo\" repo=\"https://stefanprodan.github.io/podinfo\" version=\"^6.0\"\n}}\n"
    );
    fails_then_allowed(
        &text,
        "pinned",
        "production",
        "version=\"^6.0\"",
        "template=\"builtin:helm-release\" {",
    );
}

#[test]
fn containers_have_requests_and_limits_and_requests_fit_the_limits() {
    let text = GOOD.replace("cpu-limit=\"500m\"", "cpu-limit=\"50m\"");
    fails_then_allowed(
        &text,
        "resources",
        "dev",
        "cpu-limit=\"50m\"",
        "    port 80",
    );
}

#[test]
fn ingress_needs_tls_and_cert_manager() {
    let text = GOOD.replace(" tls=#true", "");
    // Without tls the template renders no `tls:` block for the host.
    let t = stack(&text);
    t.write(
        "templates/web/ingress.yaml.j2",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {{ service.name }}\n  namespace: {{ service.namespace }}\nspec:\n  rules:\n    - host: {{ service.ingress.host }}\n",
    );
    let text = text.replace("template=\"builtin:deployment\"", "template=\"web\"");
    t.write("stacks.kdl", &text);
    let (code, all) = findings(&t);
    assert_eq!(code, 1);
    let hits = of_rule(&all, "ingress-tls");
    assert!(
        hits.iter().any(|f| f["message"]
            .as_str()
            .unwrap()
            .contains("is served without TLS")),
        "{all:#?}"
    );
    assert!(hits
        .iter()
        .any(|f| f["message"] == "has no cert-manager annotation"));
    assert!(hits
        .iter()
        .all(|f| f["line"] == line_of(&text, "ingress host=")));
    let allowed = text.replace(
        "    port 80",
        "    port 80\n    allow \"ingress-tls\" reason=\"internal only\"",
    );
    t.write("stacks.kdl", &allowed);
    assert!(of_rule(&findings(&t).1, "ingress-tls").is_empty());
}

#[test]
fn databases_need_persistence_and_a_tcp_route() {
    let text = format!(
        "{GOOD}\nservice \"db\" layer=\"apps\" namespace=\"data\" template=\"builtin:helm-release\" {{\n    chart \"postgresql\" repo=\"https://charts.bitnami.com/bitnami\" version=\"16.4.5\"\n}}\n"
    );
    fails_then_allowed(
        &text,
        "persistence",
        "dev",
        "chart \"postgresql\"",
        "template=\"builtin:helm-release\" {",
    );
    fails_then_allowed(
        &text,
        "tcp-route",
        "dev",
        "chart \"postgresql\"",
        "template=\"builtin:helm-release\" {",
    );
    let fixed = text.replace(
        "version=\"16.4.5\"",
        "version=\"16.4.5\"\n    persistence size=\"20Gi\"\n    tcp-route host=\"db.{{ environment.domain }}\" port=5432",
    );
    let (_, all) = findings(&stack(&fixed));
    assert!(
        of_rule(&all, "persistence").is_empty() && of_rule(&all, "tcp-route").is_empty(),
        "{all:#?}"
    );
}

#[test]
fn referenced_secrets_must_be_declared_with_their_keys() {
    let base = format!(
        "{GOOD}\nservice \"api\" layer=\"apps\" namespace=\"web\" template=\"builtin:helm-release\" {{\n    chart \"api\" repo=\"https://charts.example.org\" version=\"1.0.0\"\n    values {{\n        auth existingSecret=\"api-credentials\"\n    }}\n}}\n"
    );
    fails_then_allowed(
        &base,
        "secret-reference",
        "dev",
        "service \"api\"",
        "template=\"builtin:helm-release\" {",
    );
}

#[test]
fn hosts_are_unique_in_an_environment() {
    let text = format!(
        "{GOOD}\nservice \"web2\" layer=\"apps\" namespace=\"web\" template=\"builtin:deployment\" {{\n    image \"nginx\" tag=\"1.27.3\"\n    port 80\n    ingress host=\"web.{{{{ environment.domain }}}}\" tls=#true\n}}\n"
    );
    fails_then_allowed(
        &text,
        "unique-hosts",
        "dev",
        "service \"web2\"",
        "service \"web2\" layer=\"apps\" namespace=\"web\" template=\"builtin:deployment\" {",
    );
}

#[test]
fn every_secret_in_out_is_sealed() {
    let t = stack(GOOD);
    t.run(&["build"]).success();
    t.write(
        "out/dev/apps/web/secret-leak.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leak\nstringData:\n  password: plain-do-not-print\n",
    );
    let (code, all) = findings(&t);
    assert_eq!(code, 1);
    let hit = of_rule(&all, "secret-encrypted");
    assert_eq!(hit.len(), 1, "{all:#?}");
    assert_eq!(hit[0]["file"], "out/dev/apps/web/secret-leak.yaml");
    assert_eq!(hit[0]["line"], 5);
    let run = t.run(&["check"]);
    run.status(1).stderr_has(&[
        "stackc::check::secret-encrypted",
        "out/dev/apps/web/secret-leak.yaml:5",
    ]);
    assert!(!run.stderr().contains("plain-do-not-print"));
    // An allow on the environment, with its reason.
    let allowed = GOOD.replace(
        "    debug #true\n",
        "    debug #true\n    allow \"secret-encrypted\" reason=\"a test fixture\"\n",
    );
    t.write("stacks.kdl", &allowed);
    assert!(of_rule(&findings(&t).1, "secret-encrypted").is_empty());
}

#[test]
fn an_allow_must_name_a_rule_and_give_a_reason() {
    let t = stack(&GOOD.replace(
        "    port 80",
        "    port 80\n    allow \"replica\" reason=\"x\"",
    ));
    t.run(&["check"]).status(2).stderr_has(&[
        "stackc::check::unknown_rule",
        "unknown rule `replica`",
        "did you mean `replicas`?",
    ]);
    let t = stack(&GOOD.replace("    port 80", "    port 80\n    allow \"replicas\""));
    t.run(&["check"])
        .status(2)
        .stderr_has(&["stackc::check::allow_without_reason"]);
}

#[test]
fn github_annotations_have_the_documented_form() {
    let text = GOOD.replace("tag=\"1.27.3\"", "tag=\"latest\"");
    let t = stack(&text);
    let run = t.run(&["check", "--format", "github"]);
    run.status(1);
    let line = line_of(&text, "tag=\"latest\"");
    let pattern = regex::Regex::new(
        r"^::(error|warning) file=[^,]+,line=\d+,col=\d+,title=stackc%3A%3Acheck%3A%3A[a-z-]+::.+$",
    )
    .unwrap();
    for l in run.stdout().lines() {
        assert!(pattern.is_match(l), "{l}");
    }
    assert!(run.stdout().contains(&format!(
        "::error file=stacks.kdl,line={line},col=19,title=stackc%3A%3Acheck%3A%3Apinned::image is `latest` (service web, environment staging)"
    )), "{}", run.stdout());
}

#[test]
fn list_prints_every_rule() {
    let run = Test::new().run(&["check", "--list"]);
    run.success();
    for rule in [
        "secret-encrypted",
        "secret-reference",
        "persistence",
        "tcp-route",
        "ingress-tls",
        "replicas",
        "no-debug",
        "resources",
        "pinned",
        "unique-hosts",
        "schema",
        "dns-names",
        "depends-on",
        "placement",
    ] {
        assert!(run.stdout().lines().any(|l| l.starts_with(rule)), "{rule}");
    }
}

#[test]
fn service_names_must_be_rfc_1035_labels_and_labels_valid() {
    // `1web` is a DNS-1123 label (stackc takes it as a folder) but not a Service name.
    let text = GOOD.replace("service \"web\"", "service \"1web\"");
    fails_then_allowed(&text, "dns-names", "dev", "service \"1web\"", "    port 80");
    // A label value in a template, pointed at in the template.
    let t = stack(&GOOD.replace("template=\"builtin:deployment\"", "template=\"web\""));
    let template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service.name }}\n  namespace: {{ service.namespace }}\n  labels:\n    team: \"core team\"\n";
    t.write("templates/web/configmap.yaml.j2", template);
    let (code, all) = findings(&t);
    assert_eq!(code, 1);
    let hit = of_rule(&all, "dns-names");
    assert!(!hit.is_empty(), "{all:#?}");
    assert_eq!(hit[0]["file"], "templates/web/configmap.yaml.j2");
    assert_eq!(hit[0]["line"], 6, "{:#}", hit[0]);
    assert!(hit[0]["message"].as_str().unwrap().contains("`core team`"));
}

#[test]
fn depends_on_names_real_services_without_a_cycle() {
    let text = GOOD.replace("    port 80\n", "    port 80\n    depends-on \"db\"\n");
    fails_then_allowed(
        &text,
        "depends-on",
        "dev",
        "depends-on \"db\"",
        "    port 80",
    );
    let cycle = format!(
        "{GOOD}\nservice \"a\" layer=\"apps\" namespace=\"web\" template=\"builtin:deployment\" {{\n    image \"nginx\" tag=\"1.27.3\"\n    depends-on \"b\"\n}}\nservice \"b\" layer=\"apps\" namespace=\"web\" template=\"builtin:deployment\" {{\n    image \"nginx\" tag=\"1.27.3\"\n    depends-on \"a\"\n}}\n"
    );
    let (code, all) = findings(&stack(&cycle));
    assert_eq!(code, 1);
    let hit = of_rule(&all, "depends-on");
    assert_eq!(hit.len(), 1, "{all:#?}");
    assert_eq!(hit[0]["message"], "depends-on cycle: a -> b -> a");
    assert_eq!(hit[0]["line"], line_of(&cycle, "depends-on \"a\""));
    fails_then_allowed(
        &cycle,
        "depends-on",
        "dev",
        "depends-on \"a\"",
        "service \"b\" layer=\"apps\" namespace=\"web\" template=\"builtin:deployment\" {",
    );
}

#[test]
fn objects_sit_in_their_services_folder_and_namespace() {
    let text = GOOD.replace(
        "    port 80\n",
        "    port 80\n    manifests \"manifests/other.yaml\"\n",
    );
    let t = stack(&text);
    t.write(
        "manifests/other.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: elsewhere\n  namespace: other\ndata:\n  a: b\n",
    );
    let (code, all) = findings(&t);
    assert_eq!(code, 1);
    let hit = of_rule(&all, "placement");
    assert!(!hit.is_empty(), "{all:#?}");
    assert!(hit[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("is in namespace `other`, but its service `web` is in `web`"));
    assert_eq!(hit[0]["line"], line_of(&text, "service \"web\""));
    let allowed = text.replace(
        "    port 80\n",
        "    port 80\n    allow \"placement\" reason=\"tested\"\n",
    );
    t.write("stacks.kdl", &allowed);
    assert!(of_rule(&findings(&t).1, "placement").is_empty());
}
