//! The git pre-commit hook, in real temporary git repositories: `stackc hook install`, a real
//! `git commit` running it, linked worktrees, `core.hooksPath`, and the pre-commit framework
//! through `.pre-commit-hooks.yaml`.

use crate::harness::{require_tool as tool, Test};
use std::path::Path;
use std::process::{Command, Output};

fn git_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(tool("git"))
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir.join(".home"))
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .output()
        .expect("git")
}

#[track_caller]
fn git(t: &Test, args: &[&str]) -> Output {
    let out = git_in(t.path(), args);
    assert!(
        out.status.success(),
        "git {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The basic stack, built and committed in a fresh repository.
fn repo() -> Test {
    let t = Test::basic().file(".gitignore", ".home/\n.stackc-cache/\n");
    git(&t, &["init", "-q", "-b", "main"]);
    t.run(&["build"]).success();
    git(&t, &["add", "-A"]);
    git(&t, &["commit", "-q", "-m", "init"]);
    t
}

const PLAIN_SECRET: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: leak\nstringData:\n  password: hunter2-do-not-print\n";

#[test]
fn install_is_idempotent_refuses_a_foreign_hook_and_uninstall_restores_it() {
    let t = repo();
    t.run(&["hook", "install"])
        .success()
        .stderr_has(&["installed", ".git/hooks/pre-commit"]);
    let hook = t.path().join(".git/hooks/pre-commit");
    let first = std::fs::read(&hook).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&hook).unwrap().permissions().mode() & 0o111,
            0o111
        );
    }
    t.run(&["hook", "install"])
        .success()
        .stderr_has(&["already stackc's hook"]);
    assert_eq!(std::fs::read(&hook).unwrap(), first);

    std::fs::write(&hook, "#!/bin/sh\necho mine\n").unwrap();
    t.run(&["hook", "install"])
        .status(2)
        .stderr_has(&["stackc::hook::foreign_hook", "--force"]);
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    t.run(&["hook", "install", "--force"])
        .success()
        .stderr_has(&["pre-commit.before-stackc"]);
    assert_eq!(std::fs::read(&hook).unwrap(), first);
    t.run(&["hook", "uninstall"])
        .success()
        .stderr_has(&["removed"]);
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    t.run(&["hook", "uninstall"])
        .status(2)
        .stderr_has(&["stackc did not write"]);
}

#[test]
fn the_hook_blocks_plaintext_secrets_in_out_and_anywhere_else() {
    let t = repo();
    t.run(&["hook", "install"]).success();
    for path in ["out/dev/apps/web/secret-leak.yaml", "deploy/k8s/app.yaml"] {
        t.write(path, PLAIN_SECRET);
        git(&t, &["add", path]);
        let out = git_in(t.path(), &["commit", "-q", "-m", "leak"]);
        assert!(!out.status.success(), "the commit of {path} went through");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{path}:10: document 2 is a Kubernetes Secret")),
            "{err}"
        );
        assert!(
            !err.contains("hunter2"),
            "the value reached the output: {err}"
        );
        git(&t, &["rm", "-q", "--cached", path]);
        std::fs::remove_file(t.path().join(path)).unwrap();
    }
    // A plaintext secrets store is refused too.
    t.write("environments/dev.secrets.sops.yaml", "db:\n  password: x\n");
    git(&t, &["add", "environments/dev.secrets.sops.yaml"]);
    let out = git_in(t.path(), &["commit", "-q", "-m", "store"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("environments/dev.secrets.sops.yaml:1: a secrets store that is not an encrypted SOPS file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_hook_blocks_a_stale_out_and_allows_the_commit_after_a_build() {
    let t = repo();
    t.run(&["hook", "install"]).success();
    t.edit("stacks.kdl", "replicas 3", "replicas 4");
    git(&t, &["add", "stacks.kdl"]);
    let out = git_in(t.path(), &["commit", "-q", "-m", "more replicas"]);
    assert!(!out.status.success(), "a stale out/ was committed");
    let err = stderr(&out);
    assert!(err.contains("stackc::hook::stale_out"), "{err}");
    // git shows a hook's standard output on its standard error.
    assert!(
        err.contains("stale: out/production/apps/web/web/deployment-web.yaml"),
        "{err}"
    );

    // Built but not staged: what would be committed is still stale (the index is checked).
    t.run(&["build"]).success();
    let out = git_in(t.path(), &["commit", "-q", "-m", "more replicas"]);
    assert!(
        !out.status.success(),
        "the unstaged build let a stale out/ through"
    );

    git(&t, &["add", "-A"]);
    git(&t, &["commit", "-q", "-m", "more replicas"]);
    // Nothing relevant staged: the hook passes (a README change).
    t.write("README.md", "hello\n");
    git(&t, &["add", "README.md"]);
    git(&t, &["commit", "-q", "-m", "readme"]);
}

#[test]
fn the_hook_works_from_a_linked_worktree_and_with_core_hooks_path() {
    let t = repo();
    let linked = t.path().join(".home/linked");
    git(&t, &["worktree", "add", "-q", linked.to_str().unwrap()]);
    let run = Command::new(env!("CARGO_BIN_EXE_stackc"))
        .args(["-C", linked.to_str().unwrap(), "hook", "install"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    // Linked worktrees share the repository's hooks folder.
    assert!(t.path().join(".git/hooks/pre-commit").is_file());
    std::fs::write(linked.join("leak.yaml"), PLAIN_SECRET).unwrap();
    assert!(git_in(&linked, &["add", "leak.yaml"]).status.success());
    let out = git_in(&linked, &["commit", "-q", "-m", "leak"]);
    assert!(!out.status.success(), "the worktree commit went through");
    assert!(stderr(&out).contains("leak.yaml:10"), "{}", stderr(&out));

    let t = repo();
    git(&t, &["config", "core.hooksPath", "githooks"]);
    t.run(&["hook", "install"])
        .success()
        .stderr_has(&["githooks/pre-commit"]);
    t.write("leak.yaml", PLAIN_SECRET);
    git(&t, &["add", "leak.yaml"]);
    assert!(!git_in(t.path(), &["commit", "-q", "-m", "leak"])
        .status
        .success());
}

/// `pre-commit try-repo` with the repository's `.pre-commit-hooks.yaml`.
fn pre_commit(t: &Test, hooks_repo: &Path) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_stackc")).parent().unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin.to_path_buf()).chain(
            std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                .unwrap_or_default(),
        ),
    )
    .unwrap();
    Command::new(tool("pre-commit"))
        .args([
            "try-repo",
            hooks_repo.to_str().unwrap(),
            "stackc",
            "--verbose",
        ])
        .current_dir(t.path())
        .env("PATH", path)
        .env("HOME", t.path().join(".home"))
        .env("PRE_COMMIT_HOME", t.path().join(".home/pre-commit"))
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .output()
        .expect("pre-commit")
}

#[test]
fn the_pre_commit_framework_runs_the_same_checks() {
    let hooks = Test::new();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
        hooks.path().join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    git(&hooks, &["init", "-q", "-b", "main"]);
    git(&hooks, &["add", ".pre-commit-hooks.yaml"]);
    git(&hooks, &["commit", "-q", "-m", "hooks"]);

    let t = repo();
    t.write("deploy/app.yaml", PLAIN_SECRET);
    git(&t, &["add", "deploy/app.yaml"]);
    let out = pre_commit(&t, hooks.path());
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains("deploy/app.yaml:10: document 2 is a Kubernetes Secret"),
        "{all}"
    );
    assert!(!all.contains("hunter2"), "{all}");
    git(&t, &["rm", "-q", "--cached", "deploy/app.yaml"]);
    std::fs::remove_file(t.path().join("deploy/app.yaml")).unwrap();

    t.edit("stacks.kdl", "replicas 3", "replicas 4");
    git(&t, &["add", "stacks.kdl"]);
    let out = pre_commit(&t, hooks.path());
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("stackc::hook::stale_out"), "{all}");

    t.run(&["build"]).success();
    git(&t, &["add", "-A"]);
    let out = pre_commit(&t, hooks.path());
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(out.status.success(), "{all}");
    assert!(all.contains("Passed"), "{all}");
}

#[test]
fn the_hook_runs_the_check_rules_on_what_is_staged() {
    let t = repo();
    t.run(&["hook", "install"]).success();
    // A `latest` image in production: out/ rebuilt and staged, but a rule refuses it.
    t.edit("stacks.kdl", "tag=\"1.27\"", "tag=\"latest\"");
    t.run(&["build"]).success();
    git(&t, &["add", "-A"]);
    let out = git_in(t.path(), &["commit", "-q", "-m", "latest"]);
    assert!(!out.status.success(), "a rule's error was committed");
    let err = stderr(&out);
    assert!(err.contains("stackc::check::pinned"), "{err}");
    assert!(err.contains("stackc::hook::check_failed_rules"), "{err}");
}
