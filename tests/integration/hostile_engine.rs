//! The write edge against a hostile or broken tree: symbolic links on output paths, builds
//! killed at random moments, failed builds that must change nothing (the secret stores
//! included), and `-q`. Every refusal: exit 2, a diagnostic naming the path, no panic, and
//! `out/`, the stores, the cache and a folder outside the stack byte-identical.

use crate::harness::{tree, Test};
use std::collections::BTreeMap;
use std::path::Path;

#[path = "../../examples/gen_stack.rs"]
#[allow(dead_code, clippy::all, clippy::pedantic)]
mod gen_stack;

/// Every file under `root`, links included as links (never followed), with its bytes or its
/// link target: so a test sees what stackc did to the stack itself. The build lock (an empty
/// file in the gitignored cache folder, taken before anything is read) is not counted.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = snapshot_all(root);
    out.remove(".stackc-cache/build.lock");
    if out
        .keys()
        .filter(|k| k.starts_with(".stackc-cache/"))
        .count()
        == 1
    {
        out.remove(".stackc-cache/");
    }
    out
}

fn snapshot_all(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = entry.unwrap();
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if entry.path_is_symlink() {
            let target = std::fs::read_link(entry.path()).unwrap();
            out.insert(rel, format!("-> {}", target.display()).into_bytes());
        } else if entry.file_type().is_file() {
            out.insert(rel, std::fs::read(entry.path()).unwrap());
        } else if entry.file_type().is_dir() {
            out.insert(format!("{rel}/"), Vec::new());
        }
    }
    out
}

/// Asserts a refused build: exit 2, the diagnostic naming `path`, no panic.
#[track_caller]
fn assert_refused(run: &crate::harness::Run, path: &str) {
    run.status(2)
        .stderr_has(&["stackc::fs::symlink", &format!("{path} is a symbolic link")]);
    assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
}

/// Moves `rel` (a folder or file of the built stack) outside and puts a link to it in its
/// place, the way a hostile checkout would; returns the outside folder.
fn link_out(t: &Test, rel: &str) -> tempfile::TempDir {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("moved");
    std::fs::rename(t.path().join(rel), &target).unwrap();
    std::os::unix::fs::symlink(&target, t.path().join(rel)).unwrap();
    outside
}

#[test]
fn a_symlink_at_any_level_of_an_output_path_is_refused_and_nothing_is_touched() {
    for rel in [
        "out",
        "out/dev",
        "out/dev/apps",
        "out/dev/apps/web",
        "out/dev/apps/web/web",
        "out/dev/apps/web/web/deployment-web.yaml",
        ".stackc-cache",
    ] {
        let t = Test::basic();
        t.run(&["build"]).success();
        let outside = link_out(&t, rel);
        // A change, so the build has files to write into the linked folder.
        t.edit("stacks.kdl", "tag=\"1.27\"", "tag=\"1.28\"");
        let inside = snapshot(t.path());
        let beyond = snapshot(outside.path());
        let run = t.run(&["build"]);
        assert_refused(&run, rel);
        assert_eq!(snapshot(t.path()), inside, "{rel}: the stack changed");
        assert_eq!(snapshot(outside.path()), beyond, "{rel}: outside changed");
    }
}

#[test]
fn pruning_through_a_symlinked_service_folder_is_refused() {
    let t = Test::basic();
    t.run(&["build"]).success();
    let outside = link_out(&t, "out/dev/apps/web/web");
    // Renaming the service turns every file of the linked folder into one to prune.
    t.edit("stacks.kdl", "service \"web\"", "service \"api\"");
    let inside = snapshot(t.path());
    let beyond = snapshot(outside.path());
    assert_refused(&t.run(&["build"]), "out/dev/apps/web/web");
    assert_eq!(snapshot(t.path()), inside);
    assert_eq!(snapshot(outside.path()), beyond);
}

#[test]
fn a_symlink_into_an_empty_outside_folder_gets_no_file_on_a_first_build() {
    let t = Test::basic();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("out")).unwrap();
    std::os::unix::fs::symlink(outside.path(), t.path().join("out/dev")).unwrap();
    assert_refused(&t.run(&["build"]), "out/dev");
    assert!(
        snapshot(outside.path()).len() <= 1,
        "files were written outside"
    );
    assert!(!t.path().join("out/production").exists());
}

/// A stack with `staging` and `production` encrypted to one fresh key in `key.txt`, and a
/// Secret with a generated value.
fn secret_stack() -> Test {
    let t = Test::new();
    let run = t.run(&["keygen", "--output", "key.txt"]);
    run.success();
    let recipient = run.stdout().trim().to_string();
    t.write(
        "stacks.kdl",
        &format!(
            r#"project "demo" domain="example.org"

layer "apps"

environment "staging" wave=0 {{
    recipients "{recipient}"
}}
environment "production" wave=1 {{
    recipients "{recipient}"
}}

secret "creds" namespace="web" {{
    key "password" generate=32
}}

service "web" layer="apps" namespace="web" template="config" {{
    uses-secret "creds"
}}
"#
        ),
    );
    t.write(
        "templates/config/configmap.yaml.j2",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service.name }}\n  namespace: {{ service.namespace }}\ndata:\n  greeting: hello\n",
    );
    t
}

#[test]
fn a_failed_build_that_had_to_generate_values_changes_no_store() {
    let t = secret_stack();
    t.run(&["build", "--identity", "key.txt"]).success();
    // A new generated key forces a reseal of both stores; the template then fails.
    t.edit(
        "stacks.kdl",
        "key \"password\" generate=32",
        "key \"password\" generate=32\n    key \"api\" generate=16",
    );
    t.edit(
        "templates/config/configmap.yaml.j2",
        "greeting: hello",
        "greeting: {{ service.nope }}",
    );
    let before = snapshot(t.path());
    let run = t.run(&["build", "--identity", "key.txt"]);
    run.status(2);
    assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
    assert!(!run.stderr().contains("generated"), "{}", run.stderr());
    assert_eq!(snapshot(t.path()), before);
    // Once the template is mended, the same build generates into both stores.
    t.edit(
        "templates/config/configmap.yaml.j2",
        "greeting: {{ service.nope }}",
        "greeting: hello",
    );
    t.run(&["build", "--identity", "key.txt"])
        .success()
        .stderr_has(&[
            "generated staging/creds/api",
            "generated production/creds/api",
        ]);
    for env in ["staging", "production"] {
        let store = format!("environments/{env}.secrets.sops.yaml");
        assert_ne!(before.get(&store), snapshot(t.path()).get(&store));
    }
}

#[test]
fn a_symlinked_environments_folder_is_refused_before_a_store_is_written() {
    let t = secret_stack();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), t.path().join("environments")).unwrap();
    let inside = snapshot(t.path());
    assert_refused(&t.run(&["build", "--identity", "key.txt"]), "environments");
    assert_eq!(snapshot(t.path()), inside);
    assert!(
        snapshot(outside.path()).len() <= 1,
        "a store was written outside"
    );
}

#[test]
fn quiet_prints_no_warning() {
    let t = Test::basic();
    t.run(&["build"]).success();
    let file = "out/dev/apps/web/web/service-web.yaml";
    t.write(file, "edited: by hand\n");
    let run = t.run(&["-q", "build"]);
    run.success();
    assert_eq!(run.stderr(), "", "-q printed something");
    assert!(t.read(file).contains("kind: Service"));
    // Without -q the same restoration is reported.
    t.write(file, "edited: by hand\n");
    t.run(&["build"])
        .success()
        .stderr_has(&["warning: out/dev/apps/web/web/service-web.yaml was edited by hand"]);
}

/// No temp file anywhere in the stack, and no staging folder.
#[track_caller]
fn assert_no_temp_files(root: &Path) {
    let temps: Vec<String> = snapshot_all(root)
        .into_keys()
        .filter(|p| {
            p.contains(".stackc-tmp-") || p.starts_with(".stackc-cache/staging/") || is_old_temp(p)
        })
        .collect();
    assert!(temps.is_empty(), "temp files left: {temps:?}");
}

/// The temp names of the `tempfile` crate stackc used before (`.stackc-XXXXXX`).
fn is_old_temp(path: &str) -> bool {
    path.rsplit('/').next().is_some_and(|name| {
        name.len() == ".stackc-".len() + 6
            && name.starts_with(".stackc-")
            && name != ".stackc-files"
            && name != ".stackc-cache"
    })
}

#[test]
fn leftovers_of_a_killed_build_are_removed_and_not_seen_by_check() {
    let t = Test::basic();
    t.run(&["build"]).success();
    let staging = t.path().join(".stackc-cache/staging");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join(".stackc-tmp-1-0"), "").unwrap();
    t.run(&["build", "--check"]).success();
    t.run(&["build"]).success();
    assert_no_temp_files(t.path());
}

/// A cold build killed while staging leaves a temp folder of rendered files: the next build
/// removes it (without following a link planted in it) before it stages its own.
#[test]
fn a_staged_tree_left_by_a_killed_cold_build_is_removed_by_the_next_build() {
    let t = Test::basic();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("victim"), "outside").unwrap();
    let leftover = t.path().join(".stackc-cache/staging/.stackc-tmp-1-tree-0");
    std::fs::create_dir_all(leftover.join("apps/web/web")).unwrap();
    std::fs::write(leftover.join("apps/web/web/service-web.yaml"), "half").unwrap();
    std::os::unix::fs::symlink(outside.path(), leftover.join("apps/link")).unwrap();
    t.run(&["build", "--check"]).status(1);
    assert!(leftover.exists(), "--check wrote something");
    t.run(&["build"]).success();
    assert_no_temp_files(t.path());
    assert_eq!(
        std::fs::read_to_string(outside.path().join("victim")).unwrap(),
        "outside"
    );
    assert!(t
        .read("out/dev/apps/web/web/service-web.yaml")
        .contains("kind: Service"));
    t.run(&["build", "--check"]).success();
}

/// A leftover temp folder deeper than stackc ever stages is not cleared blindly: the build
/// stops with a diagnostic naming it, before anything is written.
#[test]
fn a_leftover_too_deep_to_clear_stops_the_build_with_out_unchanged() {
    let t = Test::basic();
    t.run(&["build"]).success();
    t.write(
        "stacks.kdl",
        &t.read("stacks.kdl").replace("replicas 1", "replicas 2"),
    );
    let mut deep = t.path().join(".stackc-cache/staging/.stackc-tmp-1-tree-0");
    for _ in 0..70 {
        deep.push("d");
    }
    std::fs::create_dir_all(&deep).unwrap();
    let out = t.tree("out");
    let run = t.run(&["build"]);
    assert_ne!(run.code(), 0);
    run.stderr_has(&[
        "stackc::io",
        "more than 64 folders deep",
        ".stackc-tmp-1-tree-0/d/d",
    ]);
    assert_eq!(t.tree("out"), out);
}

/// Ten builds of a generated stack, each killed (SIGKILL) at a seeded random moment, then one more
/// build: it leaves no temp file anywhere and its `out/` equals a clean build's byte for
/// byte. The stack has 100 services (x 3 environments, about 1,600 files): a cold debug build
/// of it costs under 2 s of CPU, so the twelve builds stay under a minute on two busy cores
/// (250 services took two minutes there). The 1,000-service figure of issue 9 is measured by
/// hand with the release binary.
#[test]
fn after_ten_kills_at_random_moments_the_next_build_is_clean() {
    use rand::{Rng, SeedableRng};
    let services: Vec<gen_stack::Service> = (0..100).map(gen_stack::service).collect();
    let clean = Test::new();
    gen_stack::stackc(clean.path(), &services).unwrap();
    let started = std::time::Instant::now();
    clean.run(&["build"]).success();
    // Only to spread the kills over a build; nothing is asserted on time.
    let cold = started.elapsed();
    let expected = clean.tree("out");

    let t = Test::new();
    gen_stack::stackc(t.path(), &services).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let envs = ["dev", "staging", "production"];
    let mut killed_while_writing = 0;
    for _ in 0..10 {
        // Lose one environment's output (or none), so every build has files to write.
        let gone = envs[rng.gen_range(0..envs.len())];
        if rng.gen_bool(0.7) {
            let _ = std::fs::remove_dir_all(t.path().join("out").join(gone));
        }
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stackc"))
            .arg("build")
            .current_dir(t.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let at = cold.mul_f64(rng.gen_range(0.05..1.0));
        std::thread::sleep(at);
        // SIGKILL: no chance to clean up.
        let _ = child.kill();
        let _ = child.wait();
        if t.path().join(".stackc-cache/staging").exists() {
            killed_while_writing += 1;
        }
    }
    // Not asserted (when a kill lands is up to the scheduler), but shown with --nocapture.
    eprintln!("{killed_while_writing} of 10 kills left a staging folder behind");
    t.run(&["build"]).success();
    assert_no_temp_files(t.path());
    assert_eq!(t.tree("out"), expected);
    t.run(&["build", "--check"]).success();
    // Every file of a clean out/ is in place, and nothing more.
    assert_eq!(tree(&t.path().join("out")).len(), expected.len());
}

/// A cold build writes each rendered file to its place in a temp folder of its staging folder
/// as soon as the unit renders (so the bytes are not held until apply). When the plan fails after that (here
/// one object from two services, found only once every unit has rendered), the build leaves
/// nothing: no out/, no temp file, no staging folder, the stack as it was.
#[test]
fn a_cold_build_that_fails_after_staging_its_files_leaves_nothing_behind() {
    let t = Test::basic();
    // A second service whose manifest is the first one's Service: a clash between units.
    t.write(
        "manifests/web-service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: web\nspec:\n  ports:\n    - port: 81\n",
    );
    let stack = t.read("stacks.kdl");
    t.write(
        "stacks.kdl",
        &format!(
            "{stack}\nservice \"copy\" layer=\"apps\" namespace=\"web\" {{\n    manifests \"manifests/web-service.yaml\"\n}}\n"
        ),
    );
    let before = snapshot(t.path());
    t.run(&["build"])
        .status(2)
        .stderr_has(&["Service web/web is rendered twice in environment"]);
    assert_no_temp_files(t.path());
    assert!(!t.path().join("out").exists());
    assert_eq!(snapshot(t.path()), before);
    // Without the clash, the same cold build stages, commits and cleans up.
    t.write("stacks.kdl", &stack);
    t.run(&["build"]).success();
    assert_no_temp_files(t.path());
    t.run(&["build", "--check"]).success();
}

/// A cold environment is staged while the others, already built, are planned as usual; a
/// template change then rewrites only what changed, and every file is as a clean build's.
#[test]
fn a_cold_environment_beside_built_ones_builds_like_a_clean_build() {
    let services: Vec<gen_stack::Service> = (0..30).map(gen_stack::service).collect();
    let clean = Test::new();
    gen_stack::stackc(clean.path(), &services).unwrap();
    clean.run(&["build"]).success();
    let t = Test::new();
    gen_stack::stackc(t.path(), &services).unwrap();
    t.run(&["build"]).success();
    std::fs::remove_dir_all(t.path().join("out/staging")).unwrap();
    t.run(&["build"]).success();
    assert_no_temp_files(t.path());
    assert_eq!(t.tree("out"), clean.tree("out"));
    t.run(&["build", "--check"]).success();
}

/// A cold build stages its files while planning: a link planted where the staging folder
/// goes is refused before anything is staged, and the folder it points to gets nothing.
#[test]
fn a_linked_staging_folder_is_refused_before_a_cold_build_stages_a_file() {
    let t = Test::basic();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join(".stackc-cache")).unwrap();
    std::os::unix::fs::symlink(outside.path(), t.path().join(".stackc-cache/staging")).unwrap();
    assert_refused(&t.run(&["build"]), ".stackc-cache/staging");
    assert!(
        snapshot_all(outside.path()).keys().all(|k| k == "/"),
        "outside changed"
    );
    assert!(!t.path().join("out").exists());
}
