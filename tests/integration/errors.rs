//! Bad input: every case is a miette diagnostic with a labelled span, exit code 2, no panic,
//! and out/ exactly as it was.

use crate::harness::Test;

/// Builds the basic stack, applies `break_it`, and asserts the build is refused with every
/// one of `expected` in stderr while out/ stays byte-identical.
#[track_caller]
fn refused(break_it: impl FnOnce(&Test), expected: &[&str]) -> String {
    let t = Test::basic();
    t.run(&["build"]).success();
    let before = t.tree("out");
    break_it(&t);
    let run = t.run(&["build"]);
    run.status(2).stderr_has(expected);
    let stderr = run.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(before, t.tree("out"), "a failed build changed out/");
    stderr
}

fn stack(t: &Test, from: &str, to: &str) {
    t.edit("stacks.kdl", from, to);
}

#[test]
fn build_refuses_kdl_syntax_errors() {
    let err = refused(
        |t| stack(t, "replicas 1\n}", "replicas 1\n"),
        &["stackc::model::syntax", "stacks.kdl:"],
    );
    assert!(
        err.contains('╭') || err.contains("-->") || err.contains("[stacks.kdl"),
        "{err}"
    );
}

#[test]
fn build_refuses_unknown_nodes_with_did_you_mean() {
    refused(
        |t| stack(t, "service \"web\"", "servce \"web\""),
        &[
            "stackc::model::unknown_node",
            "unknown node `servce`",
            "did you mean `service`?",
        ],
    );
    refused(
        |t| stack(t, "replicas 1\n}", "replcas 1\n}"),
        &["unknown node `replcas`", "did you mean `replicas`?"],
    );
}

#[test]
fn build_refuses_unknown_properties_with_did_you_mean() {
    refused(
        |t| stack(t, "namespace=\"web\"", "namespce=\"web\""),
        &[
            "stackc::model::unknown_property",
            "unknown property `namespce`",
            "did you mean `namespace`?",
        ],
    );
}

#[test]
fn build_refuses_wrong_value_types() {
    refused(
        |t| stack(t, "replicas 1\n}", "replicas \"one\"\n}"),
        &[
            "stackc::model::wrong_type",
            "`replicas` must be a non-negative integer",
            "the string \"one\"",
        ],
    );
    refused(
        |t| stack(t, "anti-affinity \"required\"", "anti-affinity \"always\""),
        &[
            "stackc::model::wrong_type",
            "\"none\", \"preferred\", \"required\"",
        ],
    );
}

#[test]
fn build_refuses_missing_required_properties() {
    refused(
        |t| stack(t, " layer=\"apps\" namespace=\"web\"", " namespace=\"web\""),
        &[
            "stackc::model::missing",
            "`service` needs a `layer` property",
        ],
    );
}

#[test]
fn build_refuses_duplicate_names_pointing_at_both() {
    for (kind, extra) in [
        (
            "service",
            "service \"web\" layer=\"apps\" namespace=\"web\" template=\"deployment\"\n",
        ),
        ("environment", "environment \"dev\"\n"),
        ("layer", "layer \"apps\"\n"),
        (
            "secret",
            "secret \"s\" namespace=\"web\"\nsecret \"s\" namespace=\"web\"\n",
        ),
    ] {
        let err = refused(
            |t| {
                t.write(
                    "stacks.kdl",
                    &format!("{}{extra}", crate::harness::BASIC_STACK),
                );
            },
            &["stackc::model::duplicate", &format!("{kind} `")],
        );
        assert!(
            err.contains("first declared here") && err.contains("declared again here"),
            "{err}"
        );
    }
}

/// A free-form map is built from its properties and its children: a key written twice,
/// among the children or as a property and a child, points at both; distinct keys in both
/// places make one map, properties first.
#[test]
fn build_refuses_a_value_key_written_twice_pointing_at_both() {
    for labels in [
        "labels { team \"core\"; team \"edge\" }",
        "labels team=\"core\" { team \"edge\" }",
    ] {
        let err = refused(
            |t| stack(t, "labels { team \"core\" }", labels),
            &["stackc::model::duplicate", "value `team` is declared twice"],
        );
        assert!(
            err.contains("first declared here") && err.contains("declared again here"),
            "{labels}: {err}"
        );
    }
    let t = Test::basic();
    t.edit(
        "stacks.kdl",
        "labels { team \"core\" }",
        "labels team=\"core\" { tier \"web\" }",
    );
    t.run(&["build"]).success();
    let deployment = t
        .tree("out/dev")
        .into_values()
        .map(|bytes| String::from_utf8(bytes).unwrap())
        .find(|text| text.contains("kind: Deployment"))
        .expect("a Deployment in out/dev");
    let (team, tier) = (
        deployment.find("team: core").expect("the property's label"),
        deployment.find("tier: web").expect("the child's label"),
    );
    assert!(team < tier, "{deployment}");
}

#[test]
fn build_refuses_unknown_references() {
    refused(
        |t| stack(t, "layer=\"apps\" namespace", "layer=\"aps\" namespace"),
        &["unknown layer `aps`", "did you mean `apps`?"],
    );
    refused(
        |t| {
            stack(
                t,
                "tag=\"1.27\"",
                "tag=\"1.27\"\n    env \"prod\" { replicas 2 }",
            );
        },
        &["unknown environment `prod`", "did you mean `production`?"],
    );
    // A service's `depends-on` is a rule of `stackc check` (which a build runs too).
    let t = Test::basic();
    stack(&t, "tag=\"1.27\"", "tag=\"1.27\"\n    depends-on \"db\"");
    t.run(&["check"]).status(1).stderr_has(&[
        "stackc::check::depends-on",
        "depends on `db`, which is not a service",
    ]);
    refused(
        |t| stack(t, "tag=\"1.27\"", "tag=\"1.27\"\n    uses-secret \"creds\""),
        &["unknown secret `creds`"],
    );
    refused(
        |t| stack(t, "template=\"deployment\"", "template=\"deploymnt\""),
        &["unknown template `deploymnt`", "did you mean `deployment`?"],
    );
    refused(
        |t| stack(t, "promotes-from=\"dev\"", "promotes-from=\"qa\""),
        &["unknown environment `qa`"],
    );
    refused(
        |t| t.write("environments/qa.kdl", "replicas 2\n"),
        &["unknown environment `qa`", "environments/qa.kdl"],
    );
    refused(
        |t| t.write("environments/dev.kdl", "service \"api\" { replicas 2 }\n"),
        &["unknown service `api`", "environments/dev.kdl"],
    );
}

#[test]
fn build_refuses_depends_on_cycles_and_shows_the_cycle() {
    // Services: a rule of `stackc check` (which a build runs too).
    let extra = "service \"a\" layer=\"apps\" namespace=\"web\" template=\"builtin:deployment\" {\n    image \"nginx\" tag=\"1.27\"\n    depends-on \"b\"\n}\nservice \"b\" layer=\"apps\" namespace=\"web\" template=\"builtin:deployment\" {\n    image \"nginx\" tag=\"1.27\"\n    depends-on \"c\"\n}\nservice \"c\" layer=\"apps\" namespace=\"web\" template=\"builtin:deployment\" {\n    image \"nginx\" tag=\"1.27\"\n    depends-on \"a\"\n}\n";
    let t = Test::basic();
    t.write(
        "stacks.kdl",
        &format!("{}{extra}", crate::harness::BASIC_STACK),
    );
    t.run(&["check"]).status(1).stderr_has(&[
        "stackc::check::depends-on",
        "depends-on cycle: a -> b -> c -> a",
    ]);
    // Layers: the stack's layout itself, refused while it is read.
    refused(
        |t| stack(t, "layer \"apps\"", "layer \"apps\" depends-on=\"apps\""),
        &["cycle between layers: apps -> apps"],
    );
}

#[test]
fn build_refuses_names_that_are_not_dns_labels_or_escape_out() {
    refused(
        |t| stack(t, "service \"web\"", "service \"../x\""),
        &[
            "stackc::model::invalid_name",
            "invalid service name `../x`",
            "escape",
        ],
    );
    refused(
        |t| stack(t, "namespace=\"web\"", "namespace=\"/etc\""),
        &["invalid namespace name `/etc`", "escape"],
    );
    refused(
        |t| stack(t, "service \"web\"", "service \"Web\""),
        &["invalid service name `Web`", "lowercase"],
    );
    refused(
        |t| stack(t, "environment \"dev\"", "environment \"dev_1\""),
        &["invalid environment name `dev_1`"],
    );
    refused(
        |t| {
            stack(
                t,
                "tag=\"1.27\"",
                "tag=\"1.27\"\n    manifests \"../outside.yaml\"",
            );
        },
        &["leaves the stack"],
    );
}

#[test]
fn build_refuses_template_syntax_errors_with_file_line_service_and_environment() {
    refused(
        |t| {
            t.edit(
                "templates/deployment/service.yaml.j2",
                "{{ service.name }}\n  namespace",
                "{{ service.name }\n  namespace",
            );
        },
        &[
            "stackc::render::template",
            "templates/deployment/service.yaml.j2:4",
            "used by service web in environment dev, production",
            "syntax error",
        ],
    );
}

#[test]
fn build_refuses_undefined_variables() {
    let err = refused(
        |t| {
            t.edit(
                "templates/deployment/service.yaml.j2",
                "{{ service.port }}",
                "{{ service.prot }}",
            );
        },
        &[
            "stackc::render::template",
            "undefined",
            "templates/deployment/service.yaml.j2:11",
            "service web in environment",
        ],
    );
    assert!(err.contains("service.prot"), "{err}");
}

#[test]
fn build_refuses_rendered_output_that_is_not_yaml() {
    refused(
        |t| {
            t.edit(
                "templates/deployment/service.yaml.j2",
                "  selector:",
                "  selector: [unclosed\n  other:",
            );
        },
        &[
            "stackc::render::invalid_yaml",
            "templates/deployment/service.yaml.j2",
            "service web in environment",
        ],
    );
}

#[test]
fn build_refuses_documents_that_are_not_objects() {
    refused(
        |t| t.write("templates/deployment/extra.yaml.j2", "just: a map\n"),
        &[
            "stackc::render::not_an_object",
            "apiVersion",
            "[templates/deployment/extra.yaml.j2 (rendered):1:1]",
            "this document",
        ],
    );
}

#[test]
fn build_refuses_object_names_that_are_not_kubernetes_names() {
    refused(
        |t| {
            t.write(
                "manifests/bad.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ../escape\n",
            );
            t.edit(
                "stacks.kdl",
                "tag=\"1.27\"",
                "tag=\"1.27\"\n    manifests \"manifests/bad.yaml\"",
            );
        },
        &[
            "stackc::render::invalid_object_name",
            "ConfigMap/../escape",
            "[manifests/bad.yaml:4:9]",
            "this name",
        ],
    );
}

#[test]
fn build_stops_runaway_templates() {
    refused(
        |t| {
            t.write(
                "templates/deployment/loop.yaml.j2",
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            );
        },
        &["stackc::render::template", "fuel", "runaway"],
    );
}

#[test]
fn templates_cannot_read_files_outside_templates() {
    refused(
        |t| {
            t.write(
                "templates/deployment/leak.yaml.j2",
                "{% include \"../stacks.kdl\" %}",
            );
        },
        &["stackc::render::template", "not found"],
    );
    refused(
        |t| {
            t.write(
                "templates/deployment/leak.yaml.j2",
                "{% include \"/etc/passwd\" %}",
            );
        },
        &["not found"],
    );
}

#[cfg(unix)]
#[test]
fn template_symlinks_are_refused() {
    refused(
        |t| {
            std::os::unix::fs::symlink(
                "/etc/hostname",
                t.path().join("templates/deployment/link.yaml.j2"),
            )
            .unwrap();
        },
        &["stackc::model::template_symlink"],
    );
}

#[test]
fn build_refuses_type_clashes_between_layers() {
    refused(
        |t| {
            t.write(
                "environments/production.kdl",
                "service \"web\" {\n    values { labels \"flat\" }\n}\n",
            );
        },
        &["stackc::resolve::type_clash", "`values.labels`", "map"],
    );
}

#[test]
fn build_refuses_objects_rendered_twice() {
    refused(
        |t| {
            t.write("templates/deployment/again.yaml.j2", "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ service.name }}\n  namespace: {{ service.namespace }}\n");
        },
        &["stackc::render::duplicate_object", "Service web/web"],
    );
}

#[test]
fn build_refuses_bad_interpolation_in_settings() {
    refused(
        |t| stack(t, "tag=\"1.27\"", "tag=\"{{ environment.nope }}\""),
        &["stackc::render::interpolation", "image.tag"],
    );
}

/// A setting string that does not compile as a template (the loader gives up on it, and
/// it renders through `render_str`) is refused like one that fails to render, at its span.
#[test]
fn build_refuses_a_setting_string_that_is_not_a_template() {
    let err = refused(
        |t| stack(t, "tag=\"1.27\"", "tag=\"{{ environment.domain\""),
        &[
            "stackc::render::interpolation",
            "image.tag",
            "syntax error",
            "in this value",
        ],
    );
    assert!(err.contains("stacks.kdl:"), "{err}");
}

/// A free-form value node is either values or properties and children, and a block is either
/// `-` items or named entries: each mix is refused at the node that mixes them.
#[test]
fn build_refuses_a_setting_that_mixes_shapes() {
    let err = refused(
        |t| {
            stack(
                t,
                "labels { team \"core\" }",
                "labels { team \"core\" }\n        ports 80 { http 8080 }",
            );
        },
        &[
            "stackc::model::unexpected",
            "`ports` takes either values (`key 1 2`) or properties and children",
        ],
    );
    assert!(err.contains("stacks.kdl:"), "{err}");
    refused(
        |t| {
            stack(
                t,
                "labels { team \"core\" }",
                "labels { team \"core\" }\n        hosts {\n            - \"a\"\n            b \"x\"\n        }",
            );
        },
        &[
            "stackc::model::unexpected",
            "`hosts` takes either `-` list items or named entries, not both",
        ],
    );
}

#[test]
fn build_refuses_unknown_environment_on_the_command_line() {
    let t = Test::basic();
    t.run(&["build", "prod"])
        .status(2)
        .stderr_has(&["unknown environment `prod`", "did you mean `production`?"]);
    assert!(!t.path().join("out").exists());
}

#[test]
fn build_without_a_stack_says_where_it_looked() {
    let t = Test::new();
    t.run(&["build"])
        .status(2)
        .stderr_has(&["no stacks.kdl in", "-C DIR"]);
}

#[test]
fn many_independent_errors_are_reported_together() {
    let t = Test::basic();
    t.edit(
        "stacks.kdl",
        "service \"web\" layer=\"apps\" namespace=\"web\"",
        "service \"web\" layer=\"nope\" namespace=\"Web\"",
    );
    t.run(&["build"]).status(2).stderr_has(&[
        "unknown layer `nope`",
        "invalid namespace name `Web`",
        "2 problems found",
    ]);
}
