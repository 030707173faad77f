//! `--format json` of `build --check` and `explain`: documents that parse, with the fields
//! their help text names.

use crate::harness::Test;
use serde_json::Value as Json;

fn json(out: &str) -> Json {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

#[test]
fn build_check_json_lists_stale_missing_extra_and_edited_files() {
    let t = Test::basic();
    t.run(&["build"]).success();
    let run = t.run(&["build", "--check", "--format", "json"]);
    run.success();
    let doc = json(&run.stdout());
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["clean"], true);
    assert_eq!(doc["environments"][0]["name"], "dev");

    t.edit("stacks.kdl", "replicas 3", "replicas 4");
    let deployment = "out/production/apps/web/web/deployment-web.yaml";
    t.write("out/dev/apps/web/web/service-web.yaml", "edited: by hand\n");
    std::fs::remove_file(t.path().join("out/dev/apps/web/web/deployment-web.yaml")).unwrap();
    let run = t.run(&["build", "--check", "--format", "json"]);
    run.status(1);
    let doc = json(&run.stdout());
    assert_eq!(doc["clean"], false);
    let envs = doc["environments"].as_array().unwrap();
    let dev = envs.iter().find(|e| e["name"] == "dev").unwrap();
    let production = envs.iter().find(|e| e["name"] == "production").unwrap();
    assert!(production["stale"]
        .as_array()
        .unwrap()
        .contains(&Json::from(deployment)));
    assert!(dev["missing"]
        .as_array()
        .unwrap()
        .contains(&Json::from("out/dev/apps/web/web/deployment-web.yaml")));
    assert!(dev["edited"]
        .as_array()
        .unwrap()
        .contains(&Json::from("out/dev/apps/web/web/service-web.yaml")));
    // --format is a listing of --check only.
    t.run(&["build", "--format", "json"]).status(2);
}

#[test]
fn explain_json_gives_every_layer_with_its_file_and_line() {
    let t = Test::basic();
    let run = t.run(&[
        "explain",
        "production",
        "web",
        "replicas",
        "--format",
        "json",
    ]);
    run.success();
    let doc = json(&run.stdout());
    assert_eq!(doc["environment"], "production");
    assert_eq!(doc["service"], "web");
    let value = &doc["values"][0];
    assert_eq!(value["path"], "replicas");
    assert_eq!(value["value"], 3);
    let layers = value["layers"].as_array().unwrap();
    let last = layers.last().unwrap();
    assert_eq!(last["layer"], "environment production");
    assert_eq!(last["file"], "stacks.kdl");
    let line = crate::harness::BASIC_STACK
        .lines()
        .position(|l| l.contains("replicas 3"))
        .unwrap()
        + 1;
    assert_eq!(last["line"], line);
    assert_eq!(last["value"], 3);
}
