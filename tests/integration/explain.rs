//! `stackc explain`: final values and the `file:line` of every layer that set them.

use crate::harness::Test;

#[test]
fn explain_lists_every_layer_that_set_a_value() {
    let t = Test::basic().file(
        "environments/production.kdl",
        "service \"web\" {\n    replicas 6\n}\n",
    );
    let run = t.run(&["explain", "production", "web", "replicas"]);
    run.success();
    let out = run.stdout();
    assert!(out.starts_with("replicas = 6\n"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[1].contains("built-in") && lines[1].contains("<built-in>:1"),
        "{out}"
    );
    assert!(
        lines[2].contains("defaults") && lines[2].contains("stacks.kdl:6"),
        "{out}"
    );
    assert!(
        lines[3].contains("environment production") && lines[3].contains("stacks.kdl:11"),
        "{out}"
    );
    assert!(
        lines[4].contains("environments/production.kdl, service web")
            && lines[4].contains("environments/production.kdl:2"),
        "{out}"
    );
    assert!(
        lines[4].trim_start().starts_with('*'),
        "the winning layer is marked: {out}"
    );
}

#[test]
fn explain_without_a_path_lists_all_values_with_interpolation_applied() {
    let t = Test::basic();
    t.edit(
        "stacks.kdl",
        "image \"nginx\" tag=\"1.27\"",
        "image \"nginx\" tag=\"1.27\"\n    ingress host=\"web.{{ environment.domain }}\"",
    );
    let run = t.run(&["explain", "dev", "web"]);
    run.success().stdout_has(&[
        "replicas = 1",
        "image.tag = 1.27",
        "resources.limits.cpu = 500m",
        "values.labels.team = core",
        "ingress.host = web.dev.example.org",
        "web.{{ environment.domain }}",
    ]);
}

#[test]
fn explain_accepts_kdl_spelling_of_setting_names() {
    let t = Test::basic();
    t.run(&["explain", "production", "web", "anti-affinity"])
        .success()
        .stdout_has(&["anti_affinity = required", "environment production"]);
}

#[test]
fn explain_rejects_unknown_names_with_suggestions() {
    let t = Test::basic();
    t.run(&["explain", "prod", "web"])
        .status(2)
        .stderr_has(&["unknown environment `prod`", "production"]);
    t.run(&["explain", "dev", "wbe"])
        .status(2)
        .stderr_has(&["unknown service `wbe`", "did you mean `web`?"]);
    t.run(&["explain", "dev", "web", "replica"])
        .status(2)
        .stderr_has(&["unknown value path", "did you mean `replicas`?"]);
}
