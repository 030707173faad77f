//! The incremental engine: skipped units, minimal writes, pruning, hand edits, the cache and
//! `build --check`.

use crate::harness::Test;
use std::time::Duration;

/// Waits past the racy window (stamps taken within a timestamp tick of the cache save are
/// verified by content, so a rebuild at once would re-render; correct, but not what we test).
/// A second covers file systems with whole-second timestamps too.
fn settle() {
    std::thread::sleep(Duration::from_millis(1100));
}

/// The basic stack plus a second service on another template, so one change can be shown
/// to touch only its own unit.
fn two_services() -> Test {
    let t = Test::basic()
        .file("templates/worker/deployment.yaml.j2", "{% include \"_shared/labels.j2\" %}")
        .file(
            "templates/_shared/labels.j2",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ service.name }}\n  namespace: {{ service.namespace }}\nspec:\n  replicas: {{ service.replicas }}\n",
        );
    let stack = format!(
        "{}service \"worker\" layer=\"apps\" namespace=\"jobs\" template=\"worker\"\n",
        crate::harness::BASIC_STACK
    );
    t.write("stacks.kdl", &stack);
    t
}

fn changed(
    before: &std::collections::BTreeMap<String, std::time::SystemTime>,
    after: &std::collections::BTreeMap<String, std::time::SystemTime>,
) -> Vec<String> {
    let mut out: Vec<String> = after
        .iter()
        .filter(|(path, mtime)| before.get(*path) != Some(mtime))
        .map(|(path, _)| path.clone())
        .collect();
    out.extend(before.keys().filter(|p| !after.contains_key(*p)).cloned());
    out.sort();
    out
}

#[test]
fn a_no_op_build_skips_every_unit_and_writes_nothing() {
    let t = two_services();
    t.run(&["build"]).success();
    settle();
    let before = t.mtimes("out");
    t.run(&["build"])
        .success()
        .stderr_has(&["0 units rendered, 4 skipped; 0 files written, 0 pruned"]);
    assert_eq!(changed(&before, &t.mtimes("out")), Vec::<String>::new());
}

#[test]
fn changing_one_service_rewrites_only_its_files_in_the_affected_environment() {
    let t = two_services();
    t.run(&["build"]).success();
    settle();
    let before = t.mtimes("out");
    t.edit(
        "stacks.kdl",
        "template=\"worker\"",
        "template=\"worker\" {\n    env \"production\" { replicas 7 }\n}",
    );
    t.run(&["build"])
        .success()
        .stderr_has(&["1 units rendered, 3 skipped; 1 files written"]);
    assert_eq!(
        changed(&before, &t.mtimes("out")),
        // The index records every file's hash, so it changes with the file.
        [
            "production/.stackc-files",
            "production/apps/jobs/worker/deployment-worker.yaml"
        ]
    );
    assert!(t
        .read("out/production/apps/jobs/worker/deployment-worker.yaml")
        .contains("replicas: 7"));
}

/// Each build after an edit writes the units section from the last one (kept units' entries
/// are ranges of the old cache file): edit after edit, only the edited unit renders, and the
/// tree is the one a cold build of the final stack writes.
#[test]
fn edit_after_edit_renders_only_the_edited_unit_and_ends_where_a_cold_build_does() {
    let t = two_services();
    t.run(&["build"]).success();
    let edits = [
        (
            "template=\"worker\"",
            "template=\"worker\" {\n    env \"production\" { replicas 7 }\n}",
            "1 units rendered, 3 skipped",
        ),
        ("replicas 7", "replicas 8", "1 units rendered, 3 skipped"),
        // web's image: its unit in both environments.
        (
            "tag=\"1.27\"",
            "tag=\"1.28\"",
            "2 units rendered, 2 skipped",
        ),
        ("replicas 8", "replicas 9", "1 units rendered, 3 skipped"),
    ];
    for (from, to, rendered) in edits {
        settle();
        t.edit("stacks.kdl", from, to);
        t.run(&["build"]).success().stderr_has(&[rendered]);
    }
    settle();
    t.run(&["build"])
        .success()
        .stderr_has(&["0 units rendered"]);
    t.run(&["build", "--check"]).success();
    let production = crate::harness::kustomize(&t, "out/production");
    assert!(production.contains("replicas: 9"), "{production}");
    assert!(production.contains("nginx:1.28"), "{production}");
    let cold = two_services();
    cold.write("stacks.kdl", &t.read("stacks.kdl"));
    cold.run(&["build"]).success();
    assert_eq!(cold.tree("out"), t.tree("out"));
}

#[test]
fn changing_a_template_rerenders_exactly_the_units_that_read_it() {
    let t = two_services();
    t.run(&["build"]).success();
    settle();
    let before = t.mtimes("out");
    // A partial, reached only through an include: the worker units must notice.
    t.edit(
        "templates/_shared/labels.j2",
        "spec:\n",
        "  labels:\n    tier: batch\nspec:\n",
    );
    t.run(&["build"])
        .success()
        .stderr_has(&["2 units rendered, 2 skipped; 2 files written"]);
    assert_eq!(
        changed(&before, &t.mtimes("out")),
        [
            "dev/.stackc-files",
            "dev/apps/jobs/worker/deployment-worker.yaml",
            "production/.stackc-files",
            "production/apps/jobs/worker/deployment-worker.yaml"
        ]
    );
    settle();
    let before = t.mtimes("out");
    t.edit(
        "templates/deployment/service.yaml.j2",
        "port: 80",
        "port: 8080",
    );
    t.run(&["build"])
        .success()
        .stderr_has(&["2 units rendered, 2 skipped; 2 files written"]);
    assert_eq!(
        changed(&before, &t.mtimes("out")),
        [
            "dev/.stackc-files",
            "dev/apps/web/web/service-web.yaml",
            "production/.stackc-files",
            "production/apps/web/web/service-web.yaml"
        ]
    );
}

#[test]
fn removing_a_service_prunes_its_files_and_folders_but_never_foreign_files() {
    let t = two_services();
    t.run(&["build"]).success();
    t.write("out/dev/README.md", "notes a human keeps here\n");
    t.write("out/dev/apps/jobs/worker/notes.txt", "also not ours\n");
    t.write("stacks.kdl", crate::harness::BASIC_STACK);
    t.run(&["build", "-v"]).success().stderr_has(&[
        "pruned out/dev/apps/jobs/worker/deployment-worker.yaml",
        "pruned out/dev/apps/jobs/namespace.yaml",
    ]);
    assert!(
        !t.path().join("out/production/apps/jobs").exists(),
        "empty folders are pruned"
    );
    assert_eq!(t.read("out/dev/README.md"), "notes a human keeps here\n");
    assert_eq!(
        t.read("out/dev/apps/jobs/worker/notes.txt"),
        "also not ours\n"
    );
    assert!(!t
        .path()
        .join("out/dev/apps/jobs/worker/deployment-worker.yaml")
        .exists());
    assert!(!t.read("out/dev/.stackc-files").contains("jobs"));
    t.run(&["build", "--check"]).success();
}

/// The index is dated two seconds back when written, so the cache can trust it by stat at
/// once (it is not read and hashed by the next build); a hand edit right after the build
/// still gives it a new mtime, and is caught.
#[test]
fn the_index_is_dated_before_its_build_and_an_edit_right_after_it_is_caught() {
    let t = two_services();
    t.run(&["build"]).success();
    let index = t.path().join("out/dev/.stackc-files");
    let age = std::time::SystemTime::now()
        .duration_since(std::fs::metadata(&index).unwrap().modified().unwrap())
        .unwrap();
    assert!(
        age >= Duration::from_secs(1),
        "index mtime only {age:?} ago"
    );
    // No pause: the same size, one hash digit changed, within the second of the build.
    let original = t.read("out/dev/.stackc-files");
    let at = original.find(|c: char| c.is_ascii_hexdigit()).unwrap();
    let digit = if &original[at..=at] == "0" { "1" } else { "0" };
    let edited = format!("{}{digit}{}", &original[..at], &original[at + 1..]);
    assert_eq!(edited.len(), original.len());
    t.write("out/dev/.stackc-files", &edited);
    t.run(&["build", "--check"])
        .status(1)
        .stdout_has(&["stale: out/dev/.stackc-files"]);
    t.run(&["build"]).success();
    assert_eq!(t.read("out/dev/.stackc-files"), original);
    t.run(&["build", "--check"]).success();
}

/// After an edit, the cache's stamps stand for the index (it is not read); once the index is
/// edited by hand they no longer do, and the index on disk decides what stackc wrote.
#[test]
fn pruning_follows_the_index_whether_the_cache_stands_for_it_or_it_was_edited() {
    let t = two_services();
    t.run(&["build"]).success();
    t.edit("stacks.kdl", "tag=\"1.27\"", "tag=\"1.28\"");
    t.run(&["build"]).success();
    let with_worker = t.read("stacks.kdl");
    t.write("stacks.kdl", crate::harness::BASIC_STACK);
    t.run(&["build", "-v"])
        .success()
        .stderr_has(&["pruned out/dev/apps/jobs/worker/deployment-worker.yaml"]);
    assert!(!t.read("out/dev/.stackc-files").contains("worker"));

    t.write("stacks.kdl", &with_worker);
    t.run(&["build"]).success();
    settle();
    // The index no longer lists the worker's files: stackc must not prune what it has no
    // record of writing, whatever its cache remembers.
    let index = t.read("out/dev/.stackc-files");
    let edited: String = index
        .lines()
        .filter(|l| !l.contains("worker"))
        .flat_map(|l| [l, "\n"])
        .collect();
    assert_ne!(edited, index);
    t.write("out/dev/.stackc-files", &edited);
    t.write("stacks.kdl", crate::harness::BASIC_STACK);
    t.run(&["build"]).success();
    assert!(t
        .path()
        .join("out/dev/apps/jobs/worker/deployment-worker.yaml")
        .exists());
    assert!(!t
        .path()
        .join("out/staging/apps/jobs/worker/deployment-worker.yaml")
        .exists());
    t.run(&["build", "--check"]).success();
}

#[test]
fn a_hand_edited_output_is_reported_by_check_and_restored_by_build() {
    let t = two_services();
    t.run(&["build"]).success();
    settle();
    let original = t.read("out/dev/apps/web/web/service-web.yaml");
    t.write(
        "out/dev/apps/web/web/service-web.yaml",
        &original.replace("port: 80", "port: 81"),
    );
    t.run(&["build", "--check"])
        .status(1)
        .stdout_has(&["stale: out/dev/apps/web/web/service-web.yaml (edited by hand)"]);
    t.run(&["build"]).success().stderr_has(&[
        "out/dev/apps/web/web/service-web.yaml was edited by hand; restoring it",
        "1 files written",
    ]);
    assert_eq!(t.read("out/dev/apps/web/web/service-web.yaml"), original);
}

#[test]
fn check_fails_on_every_kind_of_staleness_and_writes_nothing() {
    let t = two_services();
    t.run(&["build"]).success();
    t.run(&["build", "--check"]).success();

    std::fs::remove_file(t.path().join("out/dev/apps/web/web/service-web.yaml")).unwrap();
    let before = t.tree("out");
    t.run(&["build", "--check"])
        .status(1)
        .stdout_has(&["missing: out/dev/apps/web/web/service-web.yaml"]);
    assert_eq!(before, t.tree("out"));
    t.run(&["build"]).success();

    t.edit("stacks.kdl", "replicas 1\n}", "replicas 2\n}");
    t.run(&["build", "--check"])
        .status(1)
        .stdout_has(&["stale: out/dev/apps/web/web/deployment-web.yaml"]);
    t.run(&["build"]).success();

    t.write("stacks.kdl", crate::harness::BASIC_STACK);
    let run = t.run(&["build", "--check"]);
    run.status(1).stdout_has(&[
        "extra: out/dev/apps/jobs/worker/deployment-worker.yaml",
        "extra: out/production/apps/jobs/namespace.yaml",
    ]);
    run.stderr_has(&["run `stackc build`"]);
}

#[test]
fn check_works_without_a_cache() {
    let t = two_services();
    t.run(&["build"]).success();
    std::fs::remove_dir_all(t.path().join(".stackc-cache")).unwrap();
    t.run(&["build", "--check"]).success();
    assert!(
        !t.path().join(".stackc-cache/dev.cache").exists(),
        "--check writes no cache"
    );
}

#[test]
fn a_corrupt_truncated_or_foreign_cache_is_rebuilt_silently() {
    let t = two_services();
    t.run(&["build"]).success();
    let expected = t.tree("out");
    let cache = t.path().join(".stackc-cache/dev.cache");
    let bytes = std::fs::read(&cache).unwrap();
    let header = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
    // One bit flipped in the stat section's body, and one in the units section's last byte:
    // each section is verified by its own hash.
    let flip = |at: usize| {
        let mut b = bytes.clone();
        b[at] ^= 1;
        b
    };
    for damaged in [
        b"not a cache at all".to_vec(),
        bytes[..bytes.len() / 3].to_vec(),
        String::from_utf8_lossy(&bytes)
            .replacen("stackc-cache 4", "stackc-cache 99", 1)
            .into_bytes(),
        Vec::new(),
        flip(header + 40),
        flip(bytes.len() - 1),
        [bytes.as_slice(), b"trailing"].concat(),
    ] {
        std::fs::write(&cache, damaged).unwrap();
        // Also disturb an output so a wrong trust in the cache would show.
        t.write("out/dev/apps/web/web/service-web.yaml", "garbage: true\n");
        let run = t.run(&["build"]);
        run.success();
        assert!(!run.stderr().contains("panicked"));
        assert_eq!(t.tree("out"), expected);
    }
}

#[test]
fn a_kustomization_deleted_or_edited_by_hand_is_restored_though_no_path_moved() {
    // The layout is kept from the cache when no path moved: only while its files are intact.
    let t = two_services();
    t.run(&["build"]).success();
    let expected = t.tree("out");
    settle();
    std::fs::remove_file(t.path().join("out/dev/apps/kustomization.yaml")).unwrap();
    t.write(
        "out/production/apps/web/kustomization.yaml",
        "resources: []\n",
    );
    t.run(&["build", "--check"]).status(1).stdout_has(&[
        "missing: out/dev/apps/kustomization.yaml",
        "stale: out/production/apps/web/kustomization.yaml (edited by hand)",
    ]);
    t.run(&["build"]).success();
    assert_eq!(t.tree("out"), expected);
    settle();
    t.run(&["build", "--check"]).success();
}

#[test]
fn a_failed_build_leaves_out_and_the_cache_as_they_were() {
    let t = two_services();
    t.run(&["build"]).success();
    let out = t.tree("out");
    let cache = t.tree(".stackc-cache");
    t.edit(
        "templates/_shared/labels.j2",
        "{{ service.replicas }}",
        "{{ service.nope }}",
    );
    t.run(&["build"]).status(2);
    assert_eq!(out, t.tree("out"));
    assert_eq!(
        cache.keys().collect::<Vec<_>>(),
        t.tree(".stackc-cache").keys().collect::<Vec<_>>()
    );
    assert_eq!(
        cache.get("dev.cache"),
        t.tree(".stackc-cache").get("dev.cache")
    );
}

#[test]
fn a_second_concurrent_build_is_refused_with_a_clear_message() {
    let t = two_services();
    t.run(&["build"]).success();
    let lock = t.path().join(".stackc-cache/build.lock");
    // `flock` (util-linux) holds the same advisory lock stackc takes.
    let mut holder = std::process::Command::new("flock")
        .arg("-o")
        .arg(&lock)
        .args(["sleep", "5"])
        .spawn()
        .expect("flock");
    std::thread::sleep(Duration::from_millis(300));
    let before = t.tree("out");
    t.run(&["build"])
        .status(2)
        .stderr_has(&["another stackc build is running", "build.lock"]);
    assert_eq!(before, t.tree("out"));
    // --check never takes the lock: it writes nothing.
    t.run(&["build", "--check"]).success();
    let _ = holder.kill();
    let _ = holder.wait();
    t.run(&["build"]).success();
}

#[test]
fn jobs_flag_gives_the_same_bytes() {
    let a = two_services();
    let b = two_services();
    a.run(&["build", "-j", "1"]).success();
    b.run(&["build", "-j", "2"]).success();
    assert_eq!(a.tree("out"), b.tree("out"));
}

#[test]
fn a_no_op_build_is_decided_by_stat_alone() {
    let t = two_services();
    t.run(&["build"]).success();
    settle();
    // The first build read inputs written a moment before it began (as this test does), so
    // it cannot vouch for them by stat; the next one can.
    t.run(&["build"]).success();
    t.run(&["build"])
        .success()
        .stderr_has(&["(nothing changed)", "4 skipped"]);
    t.run(&["build", "--check"])
        .success()
        .stderr_has(&["out/ is up to date"]);
}

/// A no-op may save the cache's stat sections again (racy stamps that have settled), never
/// out/; once saved, the next no-op leaves the cache as it is, and edits are still caught.
#[test]
fn a_no_op_touches_only_the_cache_settles_it_once_and_still_catches_edits() {
    let t = two_services();
    t.run(&["build"]).success();
    settle();
    t.run(&["build"]).success();
    settle();
    // Inputs settled, one output edited: the build restores it right before saving its
    // cache, so that file's stamp is racy.
    let out = t.tree("out");
    t.write("out/dev/apps/web/web/deployment-web.yaml", "edited\n");
    t.run(&["build"]).success();
    assert_eq!(out, t.tree("out"));
    settle();
    t.run(&["build"])
        .success()
        .stderr_has(&["(nothing changed)"]);
    let settled = t.tree(".stackc-cache");
    t.run(&["build"])
        .success()
        .stderr_has(&["(nothing changed)"]);
    assert_eq!(
        settled,
        t.tree(".stackc-cache"),
        "a second no-op saved again"
    );
    assert_eq!(out, t.tree("out"));
    t.write(
        "out/dev/apps/web/web/deployment-web.yaml",
        "edited by hand\n",
    );
    t.run(&["build", "--check"])
        .status(1)
        .stdout_has(&["out/dev/apps/web/web/deployment-web.yaml (edited by hand)"]);
    t.run(&["build"]).success();
    assert_eq!(out, t.tree("out"));
}

#[test]
fn new_input_files_are_noticed_by_the_no_op_check() {
    let t = two_services();
    t.run(&["build"]).success();
    settle();
    // A new template in an existing folder: only the folder's mtime says so.
    t.write("templates/deployment/configmap.yaml.j2", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service.name }}\n  namespace: {{ service.namespace }}\n");
    t.run(&["build"])
        .success()
        .stderr_has(&["2 units rendered"]);
    assert!(t
        .path()
        .join("out/production/apps/web/web/configmap-web.yaml")
        .exists());
    settle();
    // A new overlay file where none existed.
    t.write(
        "environments/production.kdl",
        "service \"worker\" {\n    replicas 9\n}\n",
    );
    t.run(&["build"]).success();
    assert!(t
        .read("out/production/apps/jobs/worker/deployment-worker.yaml")
        .contains("replicas: 9"));
}

#[test]
fn a_deleted_or_edited_output_is_restored_even_with_unchanged_inputs() {
    let t = two_services();
    t.run(&["build"]).success();
    settle();
    let original = t.read("out/dev/apps/web/web/service-web.yaml");
    std::fs::remove_file(t.path().join("out/dev/apps/web/web/service-web.yaml")).unwrap();
    t.run(&["build"]).success().stderr_has(&["1 files written"]);
    assert_eq!(t.read("out/dev/apps/web/web/service-web.yaml"), original);
    settle();
    t.write("out/dev/.stackc-files", "# emptied by hand\n");
    t.run(&["build"]).success();
    assert!(t
        .read("out/dev/.stackc-files")
        .contains("apps/web/web/service-web.yaml"));
}

/// The 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).expect("needle in text")]
        .matches('\n')
        .count()
        + 1
}

#[test]
fn declarations_point_at_the_right_lines_after_an_edit_moves_them() {
    let t = two_services();
    t.run(&["build"]).success();
    // Push every declaration down, then break a reference inside one a build has seen.
    let stack = t.read("stacks.kdl");
    t.write(
        "stacks.kdl",
        &format!("// a comment\n// that moves every line\n{stack}"),
    );
    t.run(&["build"]).success();
    t.edit("stacks.kdl", "layer \"apps\"\n", "layer \"applications\"\n");
    let stack = t.read("stacks.kdl");
    let line = line_of(&stack, "service \"web\"");
    t.run(&["build"])
        .status(2)
        .stderr_has(&["unknown layer `apps`", &format!("[stacks.kdl:{line}:")]);
    t.edit("stacks.kdl", "layer \"applications\"\n", "layer \"apps\"\n");
    let replicas = line_of(&t.read("stacks.kdl"), "replicas 3");
    t.run(&["explain", "production", "web", "replicas"])
        .success()
        .stdout_has(&[&format!("stacks.kdl:{replicas}")]);
}
