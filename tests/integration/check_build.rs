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
fn refused(t: &Test, rule: &str, line: usize) -> String {
    let before = files(t);
    let run = t.run(&["build"]);
    run.status(2).stderr_has(&[
        &format!("stackc::check::{rule}"),
        &format!("[stacks.kdl:{line}:"),
    ]);
    assert!(!run.stderr().contains("panicked"));
    assert!(before == files(t), "the refused build changed files");
    run.stderr()
}

/// [`refused`], and with exactly the diagnostics of a build with no cache (so no memo of
/// the environment-wide rules): the memo's digest covers what changed.
#[track_caller]
fn refused_as_without_a_cache(t: &Test, rule: &str, line: usize) {
    let kept = refused(t, rule, line);
    std::fs::remove_dir_all(t.path().join(".stackc-cache")).unwrap();
    let fresh = t.run(&["build"]);
    fresh.status(2);
    assert_eq!(kept, fresh.stderr());
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

// The environment-wide rules are skipped when their inputs digest as at the last clean
// build. Each test below changes one of those inputs without changing any unit's facts (or,
// the last, with): the build must refuse as one without a cache does.

const WEB2: &str = "\nservice \"web2\" layer=\"apps\" namespace=\"web\" template=\"builtin:deployment\" {\n    image \"nginx\" tag=\"1.27.3\"\n    port 80\n    ingress host=\"web.{{ environment.domain }}\" tls=#true\n    allow \"unique-hosts\" reason=\"a blue-green pair\"\n}\n";

#[test]
fn an_allow_removed_after_a_clean_build_stops_the_next() {
    let allowed = format!("{STACK}{WEB2}");
    let t = stack(&allowed);
    t.run(&["build"]).success();
    let text = allowed.replace(
        "    allow \"unique-hosts\" reason=\"a blue-green pair\"\n",
        "",
    );
    t.write("stacks.kdl", &text);
    refused_as_without_a_cache(&t, "unique-hosts", line_of(&text, "service \"web2\""));
}

#[test]
fn an_environment_allow_removed_after_a_clean_build_stops_the_next() {
    let allowed = format!(
        "{}{}",
        STACK.replace(
            "environment \"dev\" wave=0 domain=\"dev.example.org\"\n",
            "environment \"dev\" wave=0 domain=\"dev.example.org\" {\n    allow \"unique-hosts\" reason=\"a blue-green pair\"\n}\n",
        ),
        WEB2.replace("    allow \"unique-hosts\" reason=\"a blue-green pair\"\n", "")
            .replace("web.{{", "www.{{")
    );
    let t = stack(&allowed);
    t.run(&["build"]).success();
    // Claimed twice in dev only: production has no allow.
    let clash = allowed.replace("www.{{", "web.{{");
    t.write("stacks.kdl", &clash);
    refused(&t, "unique-hosts", line_of(&clash, "service \"web2\""));
    let allowed = clash.replace(
        "environment \"production\" wave=1 promotes-from=\"dev\" domain=\"example.org\" {\n",
        "environment \"production\" wave=1 promotes-from=\"dev\" domain=\"example.org\" {\n    allow \"unique-hosts\" reason=\"a blue-green pair\"\n",
    );
    t.write("stacks.kdl", &allowed);
    t.run(&["build"]).success();
    let text = allowed.replacen(
        "    allow \"unique-hosts\" reason=\"a blue-green pair\"\n",
        "",
        1,
    );
    t.write("stacks.kdl", &text);
    refused_as_without_a_cache(&t, "unique-hosts", line_of(&text, "service \"web2\""));
}

#[test]
fn a_depends_on_added_after_a_clean_build_is_checked() {
    let t = stack(STACK);
    t.run(&["build"]).success();
    let text = STACK.replace("    port 80\n", "    port 80\n    depends-on \"db\"\n");
    t.write("stacks.kdl", &text);
    refused_as_without_a_cache(&t, "depends-on", line_of(&text, "depends-on \"db\""));
}

#[test]
fn a_secret_key_removed_after_a_clean_build_is_checked() {
    let t = crate::harness::example();
    // The secret changes: resealing it needs the store's identity.
    let key = t.path().join("examples/keys/example.agekey");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let t = t.env("SOPS_AGE_KEY_FILE", &key.to_string_lossy());
    t.run(&["build"]).success();
    let text = t.read("stacks.kdl");
    let text = text.replace("    key \"bootstrap-password\" generate=24\n", "");
    t.write("stacks.kdl", &text);
    refused_as_without_a_cache(
        &t,
        "secret-reference",
        line_of(&text, "secret \"authentik-credentials\""),
    );
}

#[test]
fn a_kept_units_host_claimed_by_an_edited_unit_is_caught() {
    let other = format!("{STACK}{WEB2}")
        .replace(
            "    allow \"unique-hosts\" reason=\"a blue-green pair\"\n",
            "",
        )
        .replacen(
            "host=\"web.{{ environment.domain }}\"",
            "host=\"www.{{ environment.domain }}\"",
            2,
        )
        .replacen(
            "host=\"www.{{ environment.domain }}\"",
            "host=\"web.{{ environment.domain }}\"",
            1,
        );
    let t = stack(&other);
    t.run(&["build"]).success();
    let text = other.replace("www.{{", "web.{{");
    t.write("stacks.kdl", &text);
    refused_as_without_a_cache(&t, "unique-hosts", line_of(&text, "service \"web2\""));
}
