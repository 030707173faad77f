//! Output roots: `gitops { output "infra" path="../infra-repo" { layer "infrastructure" } }`
//! writes that layer to another Git repository's tree, with its own Flux objects,
//! kustomizations and `.stackc-files`; an edit to one service rewrites only its root, prune
//! stays per root, and roots that clash, nest, sit on the stack or are links are refused
//! before anything is written.

use crate::harness::{tool, tree, Test};
use std::path::Path;

/// A temp folder with two Git repositories and a stack beside them.
struct Repos {
    _dir: tempfile::TempDir,
    infra: std::path::PathBuf,
    apps: std::path::PathBuf,
    stack: Test,
}

const OUTPUTS: &str = r#"
gitops "flux" {
    output "infra" path="../infra-repo" {
        layer "infrastructure"
    }
    output "apps" path="../apps-repo/clusters" {
        layer "apps"
    }
}
"#;

fn git_init(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let run = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(run.status.success());
}

/// The basic stack as `stack/`, with an infrastructure layer and service, and `outputs`.
fn repos(outputs: &str) -> Repos {
    let dir = tempfile::tempdir().expect("temp dir");
    let infra = dir.path().join("infra-repo");
    let apps = dir.path().join("apps-repo");
    git_init(&infra);
    git_init(&apps);
    std::fs::create_dir_all(apps.join("clusters")).unwrap();
    let basic = Test::basic();
    let mut stack = Test::new();
    stack.dir = tempfile::Builder::new()
        .prefix("stack")
        .tempdir_in(dir.path())
        .expect("stack dir");
    for (path, bytes) in basic.tree("") {
        stack.write(&path, &String::from_utf8(bytes).unwrap());
    }
    stack.edit(
        "stacks.kdl",
        "layer \"apps\"",
        "layer \"infrastructure\"\nlayer \"apps\" depends-on=\"infrastructure\"",
    );
    let text = stack.read("stacks.kdl");
    stack.write(
        "stacks.kdl",
        &format!(
            "{text}\nservice \"proxy\" layer=\"infrastructure\" namespace=\"proxy\" template=\"deployment\" {{\n    image \"traefik\" tag=\"3.2\"\n    values {{\n        labels {{ team \"platform\" }}\n    }}\n}}\n{outputs}"
        ),
    );
    Repos {
        _dir: dir,
        infra,
        apps,
        stack,
    }
}

fn kustomize(dir: &Path) -> String {
    let out = tool("kubectl")
        .args(["kustomize"])
        .arg(dir)
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn each_root_gets_its_layers_flux_objects_and_index() {
    let r = repos(OUTPUTS);
    r.stack.run(&["build"]).success();
    let infra = tree(&r.infra.join("dev"));
    let names: Vec<&str> = infra.keys().map(String::as_str).collect();
    assert!(names.contains(&".stackc-files"), "{names:?}");
    assert!(
        names.contains(&"flux-system/kustomization-infrastructure.yaml"),
        "{names:?}"
    );
    assert!(names.iter().all(|n| !n.starts_with("apps")), "{names:?}");
    assert_eq!(
        String::from_utf8_lossy(&infra["kustomization.yaml"]),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - infrastructure\n"
    );
    let ks = String::from_utf8_lossy(&infra["flux-system/kustomization-infrastructure.yaml"])
        .into_owned();
    assert!(ks.contains("path: ./dev/infrastructure\n"), "{ks}");
    let apps = r.apps.join("clusters/dev");
    let ks = std::fs::read_to_string(apps.join("flux-system/kustomization-apps.yaml")).unwrap();
    assert!(
        ks.contains("path: ./dev/apps\n")
            && ks.contains("dependsOn:\n    - name: infrastructure\n"),
        "{ks}"
    );
    // Nothing of the two layers is left in the stack's out/: only its own bookkeeping.
    let out = r.stack.tree("out/dev");
    assert!(
        out.keys()
            .all(|k| !k.starts_with("apps/") && !k.starts_with("infrastructure/")),
        "{:?}",
        out.keys()
    );
    for dir in [
        r.infra.join("dev"),
        r.infra.join("dev/flux-system"),
        apps.clone(),
        apps.join("flux-system"),
    ] {
        kustomize(&dir);
    }
    assert!(kustomize(&apps).contains("kind: Deployment"));
    // A second build changes nothing anywhere.
    let before = (tree(&r.infra), tree(&r.apps), r.stack.tree("out"));
    r.stack.run(&["build", "--check"]).success();
    r.stack.run(&["build"]).success();
    assert!(before == (tree(&r.infra), tree(&r.apps), r.stack.tree("out")));
}

#[test]
fn an_edit_rewrites_only_its_root_and_prune_stays_per_root() {
    let r = repos(OUTPUTS);
    r.stack.run(&["build"]).success();
    // Files of the repositories' own, beside stackc's.
    std::fs::write(r.infra.join("README.md"), "infra\n").unwrap();
    std::fs::write(r.infra.join("dev/notes.txt"), "mine\n").unwrap();
    let infra_before = tree(&r.infra);
    let out_before = r.stack.tree("out");
    let apps_before = tree(&r.apps);
    r.stack.edit("stacks.kdl", "tag=\"1.27\"", "tag=\"1.28\"");
    r.stack
        .run(&["build", "--check"])
        .status(1)
        .stdout_has(&["stale: ../apps-repo/clusters/dev/apps/web/"]);
    let json = r.stack.run(&["build", "--check", "--format", "json"]);
    json.status(1)
        .stdout_has(&["\"roots\"", "\"output\": \"apps\""]);
    r.stack.run(&["build"]).success();
    assert!(
        infra_before == tree(&r.infra),
        "the infra root is untouched"
    );
    assert!(out_before == r.stack.tree("out"), "out/ is untouched");
    let apps_after = tree(&r.apps);
    let changed: Vec<&String> = apps_after
        .iter()
        .filter(|(k, v)| apps_before.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        !changed.is_empty()
            && changed
                .iter()
                .all(|k| k.starts_with("clusters/dev/apps/web/")
                    || k.starts_with("clusters/production/apps/web/")
                    || k.ends_with(".stackc-files")),
        "{changed:?}"
    );
    // Moving the service to infrastructure prunes it from the apps root (only stackc's
    // files) and writes it into the infra root.
    r.stack.edit(
        "stacks.kdl",
        "service \"web\" layer=\"apps\"",
        "service \"web\" layer=\"infrastructure\"",
    );
    r.stack.run(&["build"]).success();
    assert!(!r.apps.join("clusters/dev/apps/web").exists());
    assert!(r.apps.join("clusters/dev/apps/kustomization.yaml").exists());
    assert!(r.infra.join("dev/infrastructure/web").is_dir());
    assert_eq!(
        std::fs::read_to_string(r.infra.join("dev/notes.txt")).unwrap(),
        "mine\n"
    );
    assert_eq!(
        std::fs::read_to_string(r.infra.join("README.md")).unwrap(),
        "infra\n"
    );
    assert!(r.infra.join(".git").is_dir() && !r.infra.join(".stackc-staging").exists());
    kustomize(&r.infra.join("dev"));
    kustomize(&r.apps.join("clusters/dev"));
}

/// Runs a build that must be refused: exit 2, `expected` in stderr, and the stack, both
/// repositories and out/ byte-identical.
#[track_caller]
fn refused(r: &Repos, expected: &[&str]) {
    let before = (tree(&r.infra), tree(&r.apps), r.stack.tree(""));
    let run = r.stack.run(&["build"]);
    assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
    run.status(2).stderr_has(expected);
    let mut after = (tree(&r.infra), tree(&r.apps), r.stack.tree(""));
    after.2.remove(".stackc-cache/build.lock");
    let mut before = before;
    before.2.remove(".stackc-cache/build.lock");
    assert!(before == after, "a refused build changed a file");
}

#[test]
fn roots_that_clash_nest_or_sit_on_the_stack_are_refused_with_their_spans() {
    let two = OUTPUTS.replace("../apps-repo/clusters", "../infra-repo");
    refused(
        &repos(&two),
        &[
            "stackc::emit::root::same_path",
            "outputs `infra` and `apps` write the same root",
            "stacks.kdl:",
        ],
    );
    let nested = OUTPUTS.replace("../apps-repo/clusters", "../infra-repo/apps");
    refused(
        &repos(&nested),
        &[
            "stackc::emit::root::nested",
            "output `apps` is inside output `infra`",
        ],
    );
    for (path, what) in [
        (".", "into the stack folder itself"),
        ("..", "into a folder that holds the stack"),
        ("out/infra", "into the stack's out/"),
        ("templates", "into the stack's templates/"),
    ] {
        let bad = OUTPUTS.replace("../apps-repo/clusters", path);
        refused(
            &repos(&bad),
            &["stackc::emit::root::on_the_stack", what, "stacks.kdl:"],
        );
    }
    let missing = OUTPUTS.replace("../apps-repo/clusters", "../no-such-repo");
    refused(
        &repos(&missing),
        &["stackc::emit::root::missing", "`../no-such-repo`"],
    );
}

#[test]
fn bad_output_declarations_are_refused() {
    let unknown = OUTPUTS.replace("layer \"apps\"\n", "layer \"aps\"\n");
    refused(
        &repos(&unknown),
        &["stackc::model::output::unknown_layer", "aps", "apps"],
    );
    let twice = OUTPUTS.replace("layer \"apps\"\n", "layer \"infrastructure\"\n");
    refused(
        &repos(&twice),
        &["stackc::model::output::layer_twice", "infrastructure"],
    );
    let no_path = OUTPUTS.replace(" path=\"../infra-repo\"", "");
    refused(&repos(&no_path), &["path"]);
    let empty = OUTPUTS.replace("        layer \"apps\"\n", "");
    refused(&repos(&empty), &["layer"]);
}

#[test]
fn a_link_in_a_root_is_refused_before_anything_is_written() {
    let r = repos(OUTPUTS);
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), r.infra.join("dev")).unwrap();
    refused(&r, &["stackc::fs::symlink", "../infra-repo/dev"]);
    assert!(tree(elsewhere.path()).is_empty());
    assert!(!r.stack.path().join("out/dev").exists());
}

#[test]
fn the_output_example_of_the_language_page_builds_with_both_engines() {
    let block = crate::patches::checked_block("tests/integration/output_roots.rs");
    let r = repos(&block);
    r.stack.run(&["build"]).success();
    let app = std::fs::read_to_string(r.infra.join("dev/argocd/application-infrastructure.yaml"))
        .unwrap();
    assert!(
        app.contains("repoURL: https://git.example/infra.git\n")
            && app.contains("path: dev/infrastructure\n"),
        "{app}"
    );
    let app =
        std::fs::read_to_string(r.apps.join("clusters/dev/argocd/application-apps.yaml")).unwrap();
    assert!(
        app.contains("repoURL: https://git.example/homelab.git\n"),
        "{app}"
    );
    for dir in ["dev/argocd", "dev/flux-system", "dev"] {
        kustomize(&r.infra.join(dir));
    }
    // The stack's own out/dev keeps no layer, and its engine folders list nothing of theirs.
    let flux = r.stack.read("out/dev/flux-system/kustomization.yaml");
    assert!(!flux.contains("kustomization-"), "{flux}");
}

#[test]
fn a_hand_edit_in_a_root_is_seen_by_check_and_restored_by_build() {
    let r = repos(OUTPUTS);
    r.stack.run(&["build"]).success();
    let file = r.infra.join("dev/kustomization.yaml");
    let good = std::fs::read(&file).unwrap();
    std::fs::write(&file, "edited\n").unwrap();
    r.stack
        .run(&["build", "--check"])
        .status(1)
        .stdout_has(&["stale: ../infra-repo/dev/kustomization.yaml"]);
    r.stack.run(&["build"]).success();
    assert_eq!(std::fs::read(&file).unwrap(), good);
    // Without outputs, the layers come back to out/ and the roots' files are left alone
    // (they belong to those repositories now; stackc prunes only inside a root it writes).
    let text = r.stack.read("stacks.kdl");
    let at = text.find("\ngitops \"flux\"").unwrap();
    r.stack.write("stacks.kdl", &text[..at]);
    r.stack.run(&["build"]).success();
    assert!(r.stack.path().join("out/dev/apps/web").is_dir());
    assert!(!r.stack.path().join(".stackc-cache/output-roots").exists());
    r.stack
        .run(&["build"])
        .success()
        .stderr_has(&["0 files written, 0 pruned"]);
}

/// Output roots declared on a stack already built into out/ alone: every file of their
/// layers moves to the roots (kept units included: their files in out/ are intact, but a
/// root has none of them yet), and out/ keeps only the rest.
#[test]
fn roots_declared_after_a_build_get_every_file_of_their_layers() {
    let r = repos("");
    r.stack.run(&["build"]).success();
    assert!(r
        .stack
        .path()
        .join("out/dev/infrastructure/proxy/proxy")
        .is_dir());
    let text = r.stack.read("stacks.kdl");
    r.stack.write("stacks.kdl", &format!("{text}{OUTPUTS}"));
    r.stack.run(&["build"]).success();
    r.stack.run(&["build", "--check"]).success();
    let infra = tree(&r.infra.join("dev/infrastructure/proxy/proxy"));
    assert!(
        infra.keys().any(|k| k.starts_with("deployment-")),
        "{infra:?}"
    );
    assert!(r.apps.join("clusters/dev/apps/web").is_dir());
    let left = tree(&r.stack.path().join("out/dev"));
    assert!(
        !left.keys().any(|k| k.starts_with("infrastructure/")),
        "{:?}",
        left.keys().collect::<Vec<_>>()
    );
    kustomize(&r.infra.join("dev"));
    kustomize(&r.apps.join("clusters/dev"));
}
