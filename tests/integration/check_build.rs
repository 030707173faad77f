//! `stackc build` runs the rules of `stackc check` and writes nothing when one finds an error
//! (exit 2, the finding printed as `check` prints it), also for a unit kept from the cache:
//! its record remembers which rules found something and the facts the environment-wide rules
//! need, so an allow removed later, or a second unit claiming a kept unit's host, still stops
//! the build.

use crate::harness::Test;

/// A stack with the build's rule gate on (the harness switches it off for other fixtures).
fn stack(text: &str) -> Test {
    Test::new()
        .env("STACKC_BUILD_RULES", "on")
        .file("stacks.kdl", text)
}

const STACK: &str = r#"project "shop" domain="example.org"

layer "apps"

defaults {
    resources cpu="100m" memory="128Mi" cpu-limit="500m" memory-limit="256Mi"
}

environment "dev" wave=0 domain="dev.example.org"

environment "production" wave=1 promotes-from="dev" domain="example.org" {
    replicas 3
    anti-affinity "required"
}

service "web" layer="apps" namespace="web" template="builtin:deployment" {
    image "nginx" tag="1.27.3"
    port 80
    ingress host="web.{{ environment.domain }}" tls=#true
}
"#;

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

/// Every file of the stack but the build's lock (which any build takes, refused or not).
fn files(t: &Test) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut tree = t.tree(".");
    tree.remove(".stackc-cache/build.lock");
    tree
}

/// Runs `build`, asserting it stops with `rule` at `stacks.kdl:line` and changes no file
/// of the stack (out/, the cache, the stores).
#[track_caller]
fn refused(t: &Test, rule: &str, line: usize) {
    let before = files(t);
    let run = t.run(&["build"]);
    run.status(2).stderr_has(&[
        &format!("stackc::check::{rule}"),
        &format!("[stacks.kdl:{line}:"),
    ]);
    assert!(!run.stderr().contains("panicked"));
    assert!(before == files(t), "the refused build changed files");
}

#[test]
fn build_refuses_to_write_when_a_rule_finds_an_error() {
    let text = STACK.replace("tag=\"1.27.3\"", "tag=\"latest\"");
    let t = stack(&text);
    t.write("../outside/keep.txt", "untouched\n");
    refused(&t, "pinned", line_of(&text, "tag=\"latest\""));
    assert!(!t.path().join("out").exists());
    assert_eq!(t.read("../outside/keep.txt"), "untouched\n");
    // `build --check` reports the same.
    t.run(&["build", "--check"])
        .status(2)
        .stderr_has(&["stackc::check::pinned"]);
}

#[test]
fn a_schema_error_in_a_template_stops_the_build_at_the_template_line() {
    let t = stack(&STACK.replace("builtin:deployment", "web"))
        .file(
            "templates/web/service.yaml.j2",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ service.name }}\n  namespace: {{ service.namespace }}\nspec:\n  ports:\n    - port: \"{{ service.port }}\"\n",
        );
    let before = files(&t);
    t.run(&["build"]).status(2).stderr_has(&[
        "stackc::check::schema",
        "[templates/web/service.yaml.j2:8:",
        "field `spec.ports[0].port` is a string",
    ]);
    assert!(before == files(&t));
}

#[test]
fn a_kept_unit_still_reports_once_its_allow_is_removed() {
    let allowed = STACK.replace(
        "    image \"nginx\" tag=\"1.27.3\"",
        "    image \"nginx\" tag=\"latest\"\n    allow \"pinned\" reason=\"tracking upstream\"",
    );
    let t = stack(&allowed);
    t.run(&["build"]).success();
    // The unit's render key does not depend on the allow: the unit is kept from the cache,
    // and its record says `pinned` found something.
    let text = allowed.replace("\n    allow \"pinned\" reason=\"tracking upstream\"", "");
    t.write("stacks.kdl", &text);
    refused(&t, "pinned", line_of(&text, "tag=\"latest\""));
    // Allowed again, it builds (nothing to write).
    t.write("stacks.kdl", &allowed);
    t.run(&["build"]).success();
}

#[test]
fn a_new_unit_clashing_with_a_kept_unit_is_caught_from_the_kept_units_facts() {
    let t = stack(STACK);
    t.run(&["build"]).success();
    let text = format!(
        "{STACK}\nservice \"web2\" layer=\"apps\" namespace=\"web\" template=\"builtin:deployment\" {{\n    image \"nginx\" tag=\"1.27.3\"\n    port 80\n    ingress host=\"web.{{{{ environment.domain }}}}\" tls=#true\n}}\n"
    );
    t.write("stacks.kdl", &text);
    refused(&t, "unique-hosts", line_of(&text, "service \"web2\""));
}

#[test]
fn the_switch_lets_a_stack_that_fails_check_build() {
    let text = STACK.replace("tag=\"1.27.3\"", "tag=\"latest\"");
    let t = stack(&text);
    t.run_with(&["build"], None, &[("STACKC_BUILD_RULES", "off")])
        .success();
    t.run(&["check"]).status(1);
}

#[test]
fn a_clean_stack_builds_and_a_second_build_keeps_every_unit() {
    let t = stack(STACK);
    t.run(&["build"]).success();
    t.run(&["build"])
        .success()
        .stderr_has(&["0 units rendered, 2 skipped"]);
}
