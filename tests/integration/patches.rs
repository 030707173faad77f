//! `patch`: per-environment changes to rendered objects, as a merge (the rules of values) or
//! as JSON6902 operations, shown by `explain`, part of the unit cache key, and refused with a
//! span when they match nothing, clash with the object's shape, or address what is not there.

use crate::harness::Test;
use crate::untouched::{refused, refused_now};

const DEPLOYMENT: &str = "out/production/apps/web/web/deployment-web.yaml";
const SERVICE: &str = "out/production/apps/web/web/service-web.yaml";

/// The basic stack with `patches` added to the production environment block.
fn with_production_patches(patches: &str) -> Test {
    let t = Test::basic();
    t.edit(
        "stacks.kdl",
        "    anti-affinity \"required\"\n",
        &format!("    anti-affinity \"required\"\n{patches}"),
    );
    t
}

fn yaml(t: &Test, path: &str) -> serde_json::Value {
    let text = t.read(path);
    let docs = stackc::yaml::parse_documents(&text).unwrap_or_else(|e| panic!("{path}: {e:?}"));
    serde_json::to_value(&docs[0]).expect("json")
}

#[test]
fn merge_patch_sets_fields_in_one_environment_only() {
    let t = with_production_patches(
        "    patch kind=\"Deployment\" name=\"web\" {\n        metadata { labels { tier \"prod\" } }\n        spec { strategy { type \"Recreate\" }; replicas #null }\n    }\n",
    );
    t.run(&["build"]).success();
    let prod = yaml(&t, DEPLOYMENT);
    assert_eq!(prod["metadata"]["labels"]["tier"], "prod");
    assert_eq!(prod["metadata"]["labels"]["team"], "core", "maps merge");
    assert_eq!(prod["spec"]["strategy"]["type"], "Recreate");
    assert!(
        prod["spec"].get("replicas").is_none(),
        "#null removes: {prod}"
    );
    assert!(prod["spec"]["template"].is_object(), "the rest stays");
    let dev = yaml(&t, "out/dev/apps/web/web/deployment-web.yaml");
    assert!(dev["metadata"]["labels"].get("tier").is_none());
    assert_eq!(dev["spec"]["replicas"], 1);
}

#[test]
fn merge_patch_replaces_lists_whole() {
    let t = with_production_patches(
        "    patch kind=\"Service\" name=\"web\" {\n        spec { ports { - port=8443 } }\n    }\n",
    );
    t.run(&["build"]).success();
    let ports = &yaml(&t, SERVICE)["spec"]["ports"];
    assert_eq!(ports, &serde_json::json!([{"port": 8443}]));
}

#[test]
fn json6902_operations_apply_in_order() {
    let t = with_production_patches(concat!(
        "    patch kind=\"Service\" name=\"web\" api-version=\"v1\" namespace=\"web\" {\n",
        "        op \"test\" path=\"/spec/ports/0/port\" value=80\n",
        "        op \"replace\" path=\"/spec/ports/0/port\" value=8080\n",
        "        op \"add\" path=\"/spec/ports/-\" { value port=9090 name=\"metrics\" }\n",
        "        op \"add\" path=\"/metadata/annotations\" { value { example.com~1owner \"x\" } }\n",
        "        op \"add\" path=\"/metadata/annotations/a~1b~0c\" value=\"escaped\"\n",
        "        op \"copy\" from=\"/metadata/name\" path=\"/metadata/labels\" \n",
        "        op \"remove\" path=\"/metadata/labels\"\n",
        "        op \"move\" from=\"/spec/selector\" path=\"/spec/chosen\"\n",
        "    }\n",
    ));
    t.run(&["build"]).success();
    let service = yaml(&t, SERVICE);
    assert_eq!(service["spec"]["ports"][0]["port"], 8080);
    assert_eq!(service["spec"]["ports"][1]["name"], "metrics");
    assert_eq!(service["metadata"]["annotations"]["a/b~c"], "escaped");
    assert_eq!(
        service["metadata"]["annotations"]["example.com~1owner"], "x",
        "a KDL key is not a pointer"
    );
    assert!(service["metadata"].get("labels").is_none());
    assert!(service["spec"].get("selector").is_none());
    assert_eq!(service["spec"]["chosen"]["app"], "web");
}

#[test]
fn patches_in_the_overlay_file_and_the_env_block_apply_lowest_first() {
    let t = Test::basic().file(
        "environments/production.kdl",
        "patch kind=\"Deployment\" name=\"web\" {\n    metadata { labels { tier \"overlay\" } }\n}\nservice \"web\" {\n    patch kind=\"Deployment\" name=\"web\" {\n        metadata { labels { owner \"overlay-service\" } }\n    }\n}\n",
    );
    t.edit(
        "stacks.kdl",
        "    image \"nginx\" tag=\"1.27\"\n",
        "    image \"nginx\" tag=\"1.27\"\n    env \"production\" {\n        patch kind=\"Deployment\" name=\"web\" {\n            metadata { labels { tier \"env-block\"; owner \"env-block\" } }\n        }\n    }\n",
    );
    t.run(&["build"]).success();
    let labels = &yaml(&t, DEPLOYMENT)["metadata"]["labels"];
    assert_eq!(
        labels["tier"], "overlay",
        "the overlay file is the top layer"
    );
    assert_eq!(labels["owner"], "overlay-service");
    let run = t.run(&[
        "explain",
        "production",
        "web",
        "Deployment/web.metadata.labels",
    ]);
    run.success().stdout_has(&[
        "Deployment/web.metadata.labels.tier = overlay",
        "service web, env production",
        "stacks.kdl:",
        "environments/production.kdl:2",
        "Deployment/web.metadata.labels.owner = overlay-service",
        "environments/production.kdl, service web",
        "environments/production.kdl:6",
    ]);
}

#[test]
fn explain_shows_the_file_and_line_of_patched_fields() {
    let t = with_production_patches(concat!(
        "    patch kind=\"Deployment\" name=\"web\" {\n",
        "        spec { revisionHistoryLimit 3 }\n",
        "    }\n",
        "    patch kind=\"Service\" name=\"web\" {\n",
        "        op \"remove\" path=\"/spec/selector\"\n",
        "    }\n",
    ));
    let run = t.run(&["explain", "production", "web"]);
    run.success().stdout_has(&[
        "replicas = 3",
        "# fields of rendered objects set by patches",
        "Deployment/web.spec.revisionHistoryLimit = 3",
        "environment production  stacks.kdl:14",
        "Service/web.spec.selector = (unset)",
        "stacks.kdl:17",
    ]);
    let json: serde_json::Value = serde_json::from_str(
        &t.run(&[
            "explain",
            "production",
            "web",
            "Deployment/web",
            "--format",
            "json",
        ])
        .stdout(),
    )
    .expect("json");
    assert_eq!(json["values"], serde_json::json!([]));
    assert_eq!(
        json["patched"][0]["path"],
        "Deployment/web.spec.revisionHistoryLimit"
    );
    assert_eq!(json["patched"][0]["layers"][0]["line"], 14);
    // No patch in dev: explain lists values only.
    let dev = t.run(&["explain", "dev", "web"]);
    assert!(!dev.stdout().contains("patches"), "{}", dev.stdout());
}

#[test]
fn changing_a_patch_renders_the_unit_again() {
    let t = with_production_patches(
        "    patch kind=\"Deployment\" name=\"web\" {\n        spec { minReadySeconds 5 }\n    }\n",
    );
    t.run(&["build"]).success();
    assert_eq!(yaml(&t, DEPLOYMENT)["spec"]["minReadySeconds"], 5);
    t.edit("stacks.kdl", "minReadySeconds 5", "minReadySeconds 9");
    t.run(&["build"]).success();
    assert_eq!(yaml(&t, DEPLOYMENT)["spec"]["minReadySeconds"], 9);
    // In the overlay file too (a file the unit's own source does not include).
    t.write(
        "environments/production.kdl",
        "patch kind=\"Deployment\" name=\"web\" {\n    spec { minReadySeconds 11 }\n}\n",
    );
    t.run(&["build"]).success();
    assert_eq!(yaml(&t, DEPLOYMENT)["spec"]["minReadySeconds"], 11);
    t.write("environments/production.kdl", "");
    t.run(&["build"]).success();
    assert_eq!(yaml(&t, DEPLOYMENT)["spec"]["minReadySeconds"], 9);
    t.run(&["build", "--check"]).success();
}

// ------------------------------------------------------------------------- bad input

#[test]
fn a_patch_matching_no_object_is_refused_with_a_suggestion() {
    let t = Test::basic();
    let stderr = refused(
        &t,
        |t| {
            t.edit(
                "stacks.kdl",
                "    anti-affinity \"required\"\n",
                "    anti-affinity \"required\"\n    patch kind=\"Deployment\" name=\"wbe\" {\n        spec { paused #true }\n    }\n",
            );
        },
        &["build"],
        &[
            "stackc::render::patch_no_match",
            "patch of Deployment wbe matches no object in environment production",
            "stacks.kdl:13",
            "did you mean `web`",
        ],
    );
    assert!(stderr.contains("matches nothing"), "{stderr}");
    // check and diff render through the same engine and refuse it the same way.
    for args in [&["check"][..], &["diff", "production"][..]] {
        t.run(args).status(2).stderr_has(&[
            "stackc::render::patch_no_match",
            "patch of Deployment wbe matches no object in environment production",
            "stacks.kdl:13",
        ]);
    }
}

#[test]
fn a_service_patch_matching_none_of_its_objects_is_refused() {
    let t = Test::basic();
    refused(
        &t,
        |t| {
            t.write(
                "environments/production.kdl",
                "service \"web\" {\n    patch kind=\"HelmRelease\" name=\"web\" {\n        spec { interval \"5m\" }\n    }\n}\n",
            );
        },
        &["build"],
        &[
            "stackc::render::patch_no_match",
            "patch of HelmRelease web matches no object of service web in environment production",
            "environments/production.kdl:2",
            "kinds rendered: Deployment, Service",
        ],
    );
}

#[test]
fn a_patch_whose_type_clashes_with_the_object_names_both_spans() {
    let t = Test::basic();
    refused(
        &t,
        |t| {
            t.edit(
                "stacks.kdl",
                "    anti-affinity \"required\"\n",
                "    anti-affinity \"required\"\n    patch kind=\"Deployment\" name=\"web\" {\n        spec { selector \"all\" }\n    }\n",
            );
        },
        &["build"],
        &[
            "stackc::render::patch_type_clash",
            "`spec.selector` is string in the patch but map in the object",
            "stacks.kdl:14",
            "string set here",
            "templates/deployment/deployment.yaml.j2:1",
            "map rendered here",
        ],
    );
}

#[test]
fn a_json6902_path_that_does_not_exist_is_refused_at_the_op() {
    let t = Test::basic();
    refused(
        &t,
        |t| {
            t.edit(
                "stacks.kdl",
                "    anti-affinity \"required\"\n",
                "    anti-affinity \"required\"\n    patch kind=\"Service\" name=\"web\" {\n        op \"replace\" path=\"/spec/ports/3/port\" value=1\n    }\n",
            );
        },
        &["build"],
        &[
            "stackc::render::patch_op_failed",
            "`op \"replace\"` failed: `/spec/ports/3` does not exist in the object",
            "stacks.kdl:14",
            "this operation",
        ],
    );
}

#[test]
fn a_failed_test_op_is_refused() {
    let t = Test::basic();
    refused(
        &t,
        |t| {
            t.edit(
                "stacks.kdl",
                "    anti-affinity \"required\"\n",
                "    anti-affinity \"required\"\n    patch kind=\"Service\" name=\"web\" {\n        op \"test\" path=\"/spec/ports/0/port\" value=443\n        op \"remove\" path=\"/spec/ports\"\n    }\n",
            );
        },
        &["build"],
        &[
            "stackc::render::patch_op_failed",
            "`op \"test\"` failed",
            "stacks.kdl:14",
        ],
    );
}

#[test]
fn a_bad_json_pointer_is_refused_at_parse_time() {
    for (pointer, reason) in [
        ("spec/x", "a JSON pointer starts with `/`"),
        ("/spec/a~2", "`~` must be followed by 0"),
        ("", "names the whole object"),
    ] {
        let t = Test::basic();
        t.run(&["build"]).success();
        refused_now(
            &t,
            |t| {
                t.edit(
                    "stacks.kdl",
                    "    anti-affinity \"required\"\n",
                    &format!("    anti-affinity \"required\"\n    patch kind=\"Service\" name=\"web\" {{\n        op \"remove\" path=\"{pointer}\"\n    }}\n"),
                );
            },
            &["build"],
            &[
                "stackc::model::invalid",
                "is not a JSON pointer",
                reason,
                "stacks.kdl:14",
            ],
        );
    }
}

#[test]
fn malformed_patches_are_refused_with_spans() {
    let cases: &[(&str, &[&str])] = &[
        (
            "    patch kind=\"Service\" {\n        spec { x 1 }\n    }\n",
            &["stackc::model::missing", "`kind` and `name` properties", "stacks.kdl:13"],
        ),
        (
            "    patch kind=\"Service\" name=\"web\" {\n        op \"upsert\" path=\"/spec\" value=1\n    }\n",
            &["stackc::model::invalid", "`upsert` is not a JSON6902 operation", "stacks.kdl:14"],
        ),
        (
            "    patch kind=\"Service\" name=\"web\" {\n        op \"add\" path=\"/spec/x\"\n    }\n",
            &["stackc::model::missing", "a `value` property", "stacks.kdl:14"],
        ),
        (
            "    patch kind=\"Service\" name=\"web\" {\n        op \"remove\" path=\"/spec\" value=1\n    }\n",
            &["stackc::model::invalid", "`remove` takes no `value`", "stacks.kdl:14"],
        ),
        (
            "    patch kind=\"Service\" name=\"web\" {\n        op \"remove\" path=\"/spec\"\n        spec { x 1 }\n    }\n",
            &["stackc::model::invalid", "either fields to merge or a list of `op` nodes", "stacks.kdl:15"],
        ),
        (
            "    patch kind=\"Service\" name=\"web\" kinds=\"x\" {\n        spec { x 1 }\n    }\n",
            &["stackc::model::unknown_property", "did you mean `kind`"],
        ),
    ];
    for (patch, expected) in cases {
        let t = Test::basic();
        t.run(&["build"]).success();
        refused_now(
            &t,
            |t| {
                t.edit(
                    "stacks.kdl",
                    "    anti-affinity \"required\"\n",
                    &format!("    anti-affinity \"required\"\n{patch}"),
                );
            },
            &["build"],
            expected,
        );
    }
}

#[test]
fn a_patch_may_not_rename_its_object() {
    let t = Test::basic();
    refused(
        &t,
        |t| {
            t.edit(
                "stacks.kdl",
                "    anti-affinity \"required\"\n",
                "    anti-affinity \"required\"\n    patch kind=\"Service\" name=\"web\" {\n        metadata { name \"other\" }\n    }\n",
            );
        },
        &["build"],
        &[
            "stackc::render::patch_op_failed",
            "changes the object's apiVersion, kind, metadata.name",
        ],
    );
}

// ------------------------------------------------------------------------- docs

/// The `kdl` block of docs/language.md that follows the marker naming `checker`.
pub fn checked_block(checker: &str) -> String {
    let page = std::fs::read_to_string(crate::harness::repo_root().join("docs/language.md"))
        .expect("docs/language.md");
    let marker = format!("<!-- checked: {checker}");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker} in docs/language.md"));
    let rest = &page[at..];
    let start = rest.find("```kdl\n").expect("a kdl block after the marker") + "```kdl\n".len();
    let end = rest[start..].find("```").expect("the block's end");
    rest[start..start + end].to_string()
}

#[test]
fn the_patch_example_of_the_language_page_builds_on_the_example_stack() {
    let block = checked_block("tests/integration/patches.rs");
    let (head, body) = block.split_once('\n').expect("a block");
    let t = crate::harness::example();
    let stack = t.read("stacks.kdl");
    let opening = format!("{head}\n");
    assert!(stack.contains(&opening), "the example declares `{head}`");
    let inner = body.trim_end().strip_suffix('}').expect("the block closes");
    let at = stack.find(&opening).unwrap() + opening.len();
    let close = at + stack[at..].find("\n}\n").unwrap() + 1;
    t.write(
        "stacks.kdl",
        &format!("{}{inner}{}", &stack[..close], &stack[close..]),
    );
    t.run(&["build"]).success();
    let release = yaml(
        &t,
        "out/production/apps/auth/authentik/helmrelease-authentik.yaml",
    );
    assert_eq!(release["spec"]["releaseName"], "authentik-production");
    assert_eq!(release["spec"]["interval"], "1h");
    assert_eq!(release["spec"]["test"]["enable"], true);
    assert!(
        release["spec"]["install"].get("remediation").is_none(),
        "{release}"
    );
    assert_eq!(
        release["spec"]["install"]["crds"], "CreateReplace",
        "the rest stays"
    );
    let whoami = yaml(&t, "out/production/apps/web/whoami/deployment-whoami.yaml");
    let container = &whoami["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["imagePullPolicy"], "Always");
    assert_eq!(container["ports"][0]["name"], "web");
    assert_eq!(container["args"], serde_json::json!(["--verbose"]));
    assert_eq!(
        whoami["metadata"]["annotations"]["example.com/owner"],
        "web-team"
    );
    // Staging has no patch: its objects are the templates' own.
    let staging = yaml(
        &t,
        "out/staging/apps/auth/authentik/helmrelease-authentik.yaml",
    );
    assert_eq!(staging["spec"]["releaseName"], "authentik");
    let explained = t.run(&[
        "explain",
        "production",
        "authentik",
        "HelmRelease/authentik.spec",
    ]);
    explained.success().stdout_has(&[
        "HelmRelease/authentik.spec.releaseName = authentik-production",
        "environment production",
        "HelmRelease/authentik.spec.interval = 1h",
        "environments/production.kdl, service authentik",
    ]);
}
