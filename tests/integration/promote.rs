//! `stackc promote`: pinned versions move dev -> staging -> production by editing the KDL in
//! place, every comment kept, in the layer the target takes the value from.

use crate::harness::Test;

const STACK: &str = r#"project "shop" domain="example.org"

layer "apps"

environment "dev" wave=0
environment "staging" wave=1 promotes-from="dev"
environment "production" wave=2 promotes-from="staging"

service "web" layer="apps" namespace="web" template="web" {
    image "nginx" tag="1.27"
    promotable "values.app.version"
    values {
        app version="1.0.0"
    }
    // dev runs the next release
    env "dev" {
        image tag="1.28" // the candidate
        values {
            app version="1.1.0"
        }
    }
}

service "api" layer="apps" namespace="web" template="web" {
    image "api" tag="2.0"
    values {
        app version="2.0.0"
    }
    env "dev" {
        image tag="2.1"
    }
    env "staging" {
        // staging pins its own tag here
        image tag="2.0"
    }
}
"#;

const OVERLAY: &str =
    "// Staging overrides: reviewed by the platform team.\n\nreplicas 2 // two of everything\n";

const TEMPLATE: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ service.name }}\n  namespace: {{ service.namespace }}\n  annotations:\n    version: \"{{ service.values.app.version | default('none') }}\"\nspec:\n  replicas: {{ service.replicas }}\n  template:\n    spec:\n      containers:\n        - name: {{ service.name }}\n          image: \"{{ service.image.repository }}:{{ service.image.tag }}\"\n";

fn stack() -> Test {
    let t = Test::new()
        .file("stacks.kdl", STACK)
        .file("environments/staging.kdl", OVERLAY)
        .file("templates/web/deployment.yaml.j2", TEMPLATE);
    t.run(&["build"]).success();
    t
}

/// The lines that differ between two texts, as (removed, added).
fn changed_lines(before: &str, after: &str) -> (Vec<String>, Vec<String>) {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut removed = Vec::new();
    let mut added = Vec::new();
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Delete => removed.push(change.value().to_string()),
            similar::ChangeTag::Insert => added.push(change.value().to_string()),
            similar::ChangeTag::Equal => {}
        }
    }
    (removed, added)
}

#[test]
fn promote_writes_exactly_the_expected_lines_and_keeps_every_comment() {
    let t = stack();
    let stack_before = t.read("stacks.kdl");
    t.run(&["promote", "web", "--from", "dev", "--to", "staging"])
        .success()
        .stderr_has(&[
            "promoted web image.tag: 1.27 -> 1.28 into environments/staging.kdl",
            "promoted web values.app.version: 1.0.0 -> 1.1.0 into environments/staging.kdl",
        ]);
    assert_eq!(t.read("stacks.kdl"), stack_before, "stacks.kdl changed");
    let overlay = t.read("environments/staging.kdl");
    assert_eq!(
        overlay,
        format!(
            "{OVERLAY}\nservice \"web\" {{\n    image tag=\"1.28\"\n    values {{\n        app version=\"1.1.0\"\n    }}\n}}\n"
        )
    );
    let (removed, _) = changed_lines(OVERLAY, &overlay);
    assert!(removed.is_empty(), "{removed:?}");

    // A second promotion has nothing to do and changes nothing.
    t.run(&["promote", "web", "--from", "dev", "--to", "staging"])
        .success()
        .stderr_has(&["nothing to promote"]);
    assert_eq!(t.read("environments/staging.kdl"), overlay);
}

#[test]
fn the_next_build_moves_the_version_into_the_target_environment_only() {
    let t = stack();
    let before = t.tree("out");
    t.run(&["promote", "web", "--from", "dev", "--to", "staging"])
        .success();
    t.run(&["build"]).success();
    let after = t.tree("out");
    let changed: Vec<&String> = after
        .iter()
        .filter(|(path, bytes)| before.get(*path) != Some(*bytes))
        .map(|(path, _)| path)
        .collect();
    // The deployment, and at most the index that records its new hash.
    assert!(
        changed.contains(&&"staging/apps/web/web/deployment-web.yaml".to_string()),
        "{changed:?}"
    );
    assert!(
        changed.iter().all(|p| [
            "staging/apps/web/web/deployment-web.yaml",
            "staging/.stackc-files"
        ]
        .contains(&p.as_str())),
        "{changed:?}"
    );
    let deployment = t.read("out/staging/apps/web/web/deployment-web.yaml");
    assert!(deployment.contains("image: nginx:1.28"), "{deployment}");
    assert!(deployment.contains("version: 1.1.0"), "{deployment}");
    assert!(t
        .read("out/production/apps/web/web/deployment-web.yaml")
        .contains("image: nginx:1.27"));
}

#[test]
fn a_value_set_in_the_target_env_block_is_edited_there() {
    let t = stack();
    let before = t.read("stacks.kdl");
    t.run(&["promote", "api", "--from", "dev", "--to", "staging"])
        .success()
        .stderr_has(&["promoted api image.tag: 2.0 -> 2.1 into stacks.kdl"]);
    let after = t.read("stacks.kdl");
    let (removed, added) = changed_lines(&before, &after);
    assert_eq!(removed, ["        image tag=\"2.0\"\n"]);
    assert_eq!(added, ["        image tag=\"2.1\"\n"]);
    assert!(after.contains("// staging pins its own tag here"));
    assert_eq!(t.read("environments/staging.kdl"), OVERLAY);
}

#[test]
fn promotion_follows_promotes_from_unless_told_otherwise() {
    let t = stack();
    let inputs = (t.read("stacks.kdl"), t.read("environments/staging.kdl"));
    t.run(&["promote", "web", "--from", "dev", "--to", "production"])
        .status(2)
        .stderr_has(&[
            "stackc::promote::out_of_order",
            "`production` is not promoted from `dev`",
            "`production` is promoted from `staging`",
            "stacks.kdl:7",
            "--skip-order",
        ]);
    assert_eq!(
        (t.read("stacks.kdl"), t.read("environments/staging.kdl")),
        inputs
    );
    assert!(!t.path().join("environments/production.kdl").exists());
    t.run(&[
        "promote",
        "web",
        "--from",
        "dev",
        "--to",
        "production",
        "--skip-order",
    ])
    .success();
    assert!(t
        .read("environments/production.kdl")
        .contains("image tag=\"1.28\""));
}

#[test]
fn dry_run_prints_the_kdl_edit_and_the_rendered_change_and_writes_nothing() {
    let t = stack();
    let tree = t.tree(".");
    let run = t.run(&[
        "promote",
        "web",
        "--from",
        "dev",
        "--to",
        "staging",
        "--dry-run",
    ]);
    run.success().stdout_has(&[
        "--- a/environments/staging.kdl\n+++ b/environments/staging.kdl\n",
        "+service \"web\" {\n+    image tag=\"1.28\"\n",
        "Deployment web/web",
        "nginx:1.27",
        "nginx:1.28",
    ]);
    let mut after = t.tree(".");
    after.retain(|p, _| !p.starts_with(".stackc-cache"));
    let mut before = tree;
    before.retain(|p, _| !p.starts_with(".stackc-cache"));
    assert_eq!(before, after, "--dry-run changed a file");
}

#[test]
fn all_promotes_every_service_that_differs() {
    let t = stack();
    t.run(&["promote", "--all", "--from", "dev", "--to", "staging"])
        .success()
        .stderr_has(&[
            "promoted web image.tag",
            "promoted web values.app.version",
            "promoted api image.tag: 2.0 -> 2.1 into stacks.kdl",
        ]);
    t.run(&["promote", "--all", "--from", "dev", "--to", "staging"])
        .success()
        .stderr_has(&["nothing to promote"]);
}

#[test]
fn bad_requests_are_refused_and_change_nothing() {
    let t = stack();
    let snapshot = || {
        let mut tree = t.tree(".");
        tree.retain(|p, _| !p.starts_with(".stackc-cache"));
        tree
    };
    let before = snapshot();
    t.run(&["promote", "wbe", "--from", "dev", "--to", "staging"])
        .status(2)
        .stderr_has(&["unknown service `wbe`", "did you mean `web`?"]);
    t.run(&["promote", "web", "--from", "dev", "--to", "stagign"])
        .status(2)
        .stderr_has(&["unknown environment `stagign`", "did you mean `staging`?"]);
    t.run(&["promote", "web", "--from", "staging", "--to", "staging"])
        .status(2)
        .stderr_has(&["stackc::promote::same_environment"]);
    t.run(&[
        "promote", "web", "--from", "dev", "--to", "staging", "--only", "replicas",
    ])
    .status(2)
    .stderr_has(&[
        "`replicas` is not a promotable value of service `web`",
        "image.tag, chart.version, values.app.version",
    ]);
    assert_eq!(snapshot(), before);

    // A target file with a syntax error: the stack does not load, nothing is written.
    t.write("environments/staging.kdl", "replicas 2 {\n");
    let broken = snapshot();
    t.run(&["promote", "web", "--from", "dev", "--to", "staging"])
        .status(2)
        .stderr_has(&["environments/staging.kdl"]);
    assert_eq!(snapshot(), broken);
}
