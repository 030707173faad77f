//! Hostile and unlucky edits around what stackc writes, through the real binary on a copy of
//! the example stack (a fresh clone: committed `out/`, no cache): tampered sealed Secrets and
//! stores are caught with and without an identity, copies and pulls are not mistaken for hand
//! edits, a failed build changes no store, and bad `-j` values and non-UTF-8 standard input
//! are refused with a diagnostic. Every refusal leaves `out/`, the stores and a folder outside
//! the stack byte for byte as they were.

use crate::harness::{example, tree, Run, Test};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A sealed Secret with two generated keys and a literal one.
const SECRET: &str = "out/dev/databases/database/secret-postgresql-credentials.yaml";
/// The store of `dev`.
const STORE: &str = "environments/dev.secrets.sops.yaml";
/// The index of `out/dev`.
const INDEX: &str = "out/dev/.stackc-files";

/// The example's identity, copied with mode 0600 (stackc refuses a key others can read).
fn identity(t: &Test) -> String {
    let key = t.path().join(".keys/example.agekey");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::copy(t.path().join("examples/keys/example.agekey"), &key).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    key.display().to_string()
}

fn remove_cache(t: &Test) {
    match std::fs::remove_dir_all(t.path().join(".stackc-cache")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("remove cache: {e}"),
        _ => {}
    }
}

/// `out/`, the inputs (stores among them) and a folder outside the stack, as bytes.
struct Snapshot {
    out: BTreeMap<String, Vec<u8>>,
    environments: BTreeMap<String, Vec<u8>>,
    outside: BTreeMap<String, Vec<u8>>,
}

/// A folder beside the stack that nothing may touch.
struct Guard {
    outside: tempfile::TempDir,
}

impl Guard {
    fn new() -> Guard {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep.txt"), "not stackc's\n").unwrap();
        Guard { outside }
    }

    fn snapshot(&self, t: &Test) -> Snapshot {
        Snapshot {
            out: t.tree("out"),
            environments: t.tree("environments"),
            outside: tree(self.outside.path()),
        }
    }

    /// Asserts nothing changed since `before`.
    #[track_caller]
    fn unchanged(&self, t: &Test, before: &Snapshot, what: &str) {
        let now = self.snapshot(t);
        assert!(now.out == before.out, "{what} changed out/");
        assert!(
            now.environments == before.environments,
            "{what} changed environments/ (the stores)"
        );
        assert!(
            now.outside == before.outside,
            "{what} changed a folder outside"
        );
    }
}

/// Asserts a refusal: exit 2 (not a panic's 101, not a signal), the diagnostic `code`, and
/// every one of `parts` in stderr.
#[track_caller]
fn refused(run: &Run, code: &str, parts: &[&str]) {
    run.status(2).stderr_has(&[code]).stderr_has(parts);
    assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
}

/// Replaces the character three places after `marker` (inside base64) with another one.
fn flip_after(text: &str, marker: &str) -> String {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in the file"))
        + marker.len()
        + 3;
    let new = if &text[at..=at] == "A" { "B" } else { "A" };
    format!("{}{new}{}", &text[..at], &text[at + 1..])
}

/// Swaps the `ENC[...]` values of two keys.
fn swap_values(text: &str) -> String {
    let value = |key: &str| {
        let start = text.find(&format!("  {key}: ENC[")).unwrap() + key.len() + 4;
        let end = start + text[start..].find('\n').unwrap();
        text[start..end].to_string()
    };
    let (a, b) = (value("postgres-password"), value("password"));
    assert_ne!(a, b);
    text.replace(&a, "\u{0}")
        .replace(&b, &a)
        .replace('\u{0}', &b)
}

fn edit_lastmodified(text: &str) -> String {
    let at = text.find("lastmodified: \"").unwrap() + "lastmodified: \"".len();
    let year: u32 = text[at..at + 4].parse().unwrap();
    format!("{}{}{}", &text[..at], year - 1, &text[at + 4..])
}

/// One tampering of the sealed Secret, on a fresh clone with no cache: `--check` reports it
/// with and without an identity, `diff` and a build without identity refuse it, and a build
/// with an identity seals it again.
#[track_caller]
fn tampered_secret_is_caught(tamper: fn(&str) -> String) {
    let t = example();
    let guard = Guard::new();
    let original = t.read(SECRET);
    let tampered = tamper(&original);
    assert_ne!(tampered, original);
    t.write(SECRET, &tampered);
    remove_cache(&t);
    let before = guard.snapshot(&t);
    let stale = format!("stale: {SECRET} (edited by hand)");

    let check = t.run(&["build", "--check"]);
    check.status(1).stdout_has(&[&stale]);
    guard.unchanged(&t, &before, "build --check");

    refused(
        &t.run(&["diff", "dev"]),
        "stackc::diff::tampered_secret",
        &[SECRET, "no identity can verify its MAC"],
    );
    guard.unchanged(&t, &before, "diff dev");

    refused(
        &t.run(&["build"]),
        "stackc::seal::sealed_secret_changed",
        &[SECRET, ".stackc-files"],
    );
    guard.unchanged(&t, &before, "a build without identity");
    remove_cache(&t);

    let key = identity(&t);
    t.run(&["build", "--identity", &key, "--check"])
        .status(1)
        .stdout_has(&[&stale]);
    refused(
        &t.run(&["diff", "--identity", &key, "dev"]),
        "stackc::diff::tampered_secret",
        &[SECRET],
    );
    guard.unchanged(&t, &before, "check and diff with an identity");

    t.run(&["build", "--identity", &key])
        .success()
        .stderr_has(&[&format!("{SECRET} was edited by hand; restoring it")]);
    remove_cache(&t);
    t.run(&["build", "--check"]).success();
    t.run(&["diff", "--identity", &key, "dev"]).success();
}

#[test]
fn check_catches_a_flipped_byte_in_a_sealed_value_without_identity_or_cache() {
    tampered_secret_is_caught(|text| flip_after(text, "  password: ENC[AES256_GCM,data:"));
}

#[test]
fn check_catches_two_swapped_sealed_values_without_identity_or_cache() {
    tampered_secret_is_caught(swap_values);
}

#[test]
fn check_catches_an_edited_mac_of_a_sealed_secret_without_identity_or_cache() {
    tampered_secret_is_caught(|text| flip_after(text, "  mac: ENC[AES256_GCM,data:"));
}

#[test]
fn check_catches_an_edited_lastmodified_of_a_sealed_secret_without_identity_or_cache() {
    tampered_secret_is_caught(edit_lastmodified);
}

#[test]
fn check_catches_a_byte_changed_in_any_written_file_without_a_cache() {
    let t = example();
    let guard = Guard::new();
    for path in [
        "out/dev/databases/database/postgresql/helmrelease-postgresql.yaml",
        "out/dev/kustomization.yaml",
        INDEX,
    ] {
        let original = t.read(path);
        t.write(path, &original.replacen('a', "b", 1));
        let before = guard.snapshot(&t);
        let line = if path == INDEX {
            format!("stale: {path}")
        } else {
            format!("stale: {path} (edited by hand)")
        };
        t.run(&["build", "--check"]).status(1).stdout_has(&[&line]);
        guard.unchanged(&t, &before, "build --check");
        t.write(path, &original);
    }
    t.run(&["build", "--check"]).success();
}

/// A store tampering with an identity, caught by `--check`, build and both diffs, with and
/// without a cache from an earlier build.
#[track_caller]
fn tampered_store_is_caught(tamper: fn(&str) -> String) {
    let t = example();
    let key = identity(&t);
    t.run(&["build", "--identity", &key]).success();
    let guard = Guard::new();
    t.write(STORE, &tamper(&t.read(STORE)));
    let before = guard.snapshot(&t);
    for cache in [true, false] {
        if !cache {
            remove_cache(&t);
        }
        for args in [
            &["build", "--check"][..],
            &["build"],
            &["diff", "dev"],
            &["diff", "dev", "staging"],
        ] {
            let mut full = args.to_vec();
            full.extend_from_slice(&["--identity", key.as_str()]);
            refused(&t.run(&full), "stackc::seal::mac_tampered", &[STORE]);
            guard.unchanged(&t, &before, &args.join(" "));
        }
    }
}

#[test]
fn a_tampered_store_mac_is_an_error_with_an_identity() {
    tampered_store_is_caught(|text| flip_after(text, "  mac: ENC[AES256_GCM,data:"));
}

#[test]
fn a_tampered_store_lastmodified_is_an_error_with_an_identity() {
    tampered_store_is_caught(edit_lastmodified);
}

/// Copies a whole directory, keeping mtimes (`cp -a`).
fn copy_all(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .expect("cp -a");
    assert!(status.success());
}

#[test]
fn a_cp_a_clone_is_not_edited_by_hand() {
    let original = example();
    original.run(&["build"]).success();
    let clone = Test::new();
    copy_all(original.path(), clone.path());
    clone.edit(
        "stacks.kdl",
        "    replicas 1\n",
        "    replicas 1 // one line changed\n",
    );
    clone.edit("stacks.kdl", "    replicas 2\n", "    replicas 4\n");
    let run = clone.run(&["build"]);
    run.success();
    assert!(
        !run.stderr().contains("edited by hand"),
        "a copy is not a hand edit:\n{}",
        run.stderr()
    );
    assert!(clone.read("out/staging/.stackc-files").contains("apps/"));
    clone.run(&["build", "--check"]).success();
}

#[test]
fn a_pulled_store_and_sealed_secret_are_not_edited_by_hand() {
    let me = example();
    let teammate = example();
    me.run(&["build"]).success();
    let key = identity(&teammate);
    teammate
        .run(&[
            "secret",
            "--identity",
            &key,
            "rotate",
            "dev",
            "postgresql-credentials",
            "password",
        ])
        .success();
    teammate.run(&["build", "--identity", &key]).success();
    assert_ne!(teammate.read(SECRET), me.read(SECRET));
    // What `git pull` brings: the teammate's store, sealed Secrets (authentik-credentials
    // takes the password with `from=`) and index.
    let shared = "out/dev/apps/auth/secret-authentik-credentials.yaml";
    for path in [STORE, SECRET, shared, INDEX] {
        me.write(path, &teammate.read(path));
    }
    let plain = Test::new();
    copy_all(me.path(), plain.path());
    let run = plain.run(&["build"]);
    run.success();
    assert!(
        !run.stderr().contains("edited by hand"),
        "a pulled file is not a hand edit:\n{}",
        run.stderr()
    );
    assert!(plain.tree("out") == teammate.tree("out"));

    // With a local change to the same Secret in the same build, the pulled Secret is stale:
    // stale, not edited by hand (its bytes are the ones the index records).
    me.edit(
        "stacks.kdl",
        "    key \"username\" value=\"authentik\"\n",
        "    key \"username\" value=\"authentik\"\n    key \"port\" value=\"5432\"\n",
    );
    let run = me.run(&["build", "--identity", &identity(&me)]);
    run.success();
    assert!(
        !run.stderr().contains("edited by hand"),
        "a pulled file is not a hand edit:\n{}",
        run.stderr()
    );
    assert!(me.read(SECRET).contains("port: ENC["));
    remove_cache(&me);
    me.run(&["build", "--check"]).success();
}

#[test]
fn a_failed_build_that_generated_values_changes_no_store() {
    let t = example();
    let key = identity(&t);
    let guard = Guard::new();
    // Every environment must generate a new value into its store, then rendering fails.
    t.edit(
        "stacks.kdl",
        "    key \"redis-password\" generate=32\n",
        "    key \"redis-password\" generate=32\n    key \"sentinel-password\" generate=16\n",
    );
    let template = "templates/helm-release/helmrepository.yaml.j2";
    let good = t.read(template);
    t.write(
        template,
        &format!("{good}# {{{{ service.no_such_value.deeper }}}}\n"),
    );
    let before = guard.snapshot(&t);
    let run = t.run(&["build", "--identity", &key]);
    run.status(2);
    assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
    assert!(
        run.stderr().contains("helmrepository.yaml.j2"),
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("generated"), "{}", run.stderr());
    guard.unchanged(&t, &before, "a failed build");

    // The same build succeeds once the template is mended, and then writes the stores.
    t.write(template, &good);
    t.run(&["build", "--identity", &key])
        .success()
        .stderr_has(&["generated dev/redis-credentials/sentinel-password"]);
    assert_ne!(guard.snapshot(&t).environments, before.environments);
    remove_cache(&t);
    t.run(&["build", "--check"]).success();
}

#[test]
fn jobs_must_be_between_one_and_the_maximum() {
    let t = example();
    let guard = Guard::new();
    let before = guard.snapshot(&t);
    refused(
        &t.run(&["build", "-j", "0"]),
        "stackc::cli::bad_jobs",
        &["-j 0", "at least one thread"],
    );
    refused(
        &t.run(&["build", "-j", "100000"]),
        "stackc::cli::bad_jobs",
        &["-j 100000", "at most 256"],
    );
    guard.unchanged(&t, &before, "a refused -j");
    t.run(&["build", "-j", "256", "--check"]).success();
    t.run(&["build", "--help"]).stdout_has(&["from 1 to 256"]);
}

/// `stackc ARGS` with raw bytes on standard input (the harness takes text only).
fn run_with_bytes(t: &Test, args: &[&str], stdin: &[u8]) -> Run {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_stackc"))
        .args(args)
        .current_dir(t.path())
        .env("NO_COLOR", "1")
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env("HOME", t.path().join(".home"))
        .env("XDG_CONFIG_HOME", t.path().join(".home/.config"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run stackc");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    Run {
        output: child.wait_with_output().expect("wait for stackc"),
    }
}

fn set_args(key: &str) -> Vec<&str> {
    vec![
        "secret",
        "--identity",
        key,
        "set",
        "dev",
        "cloudflare-api-token",
        "api-token",
    ]
}

#[test]
fn secret_set_names_the_offset_of_non_utf8_input_without_echoing_it() {
    let t = example();
    let key = identity(&t);
    let guard = Guard::new();
    let before = guard.snapshot(&t);
    let run = run_with_bytes(&t, &set_args(&key), b"zq9x\xff\xfezq9y\n");
    refused(&run, "stackc::secret::not_utf8", &["not UTF-8", "offset 4"]);
    let stderr = &run.output.stderr;
    assert!(!String::from_utf8_lossy(stderr).contains("zq9"), "echoed");
    assert!(!stderr.contains(&0xff), "echoed a raw byte");
    guard.unchanged(&t, &before, "a refused secret set");
}

#[test]
fn secret_set_and_rotate_write_nothing_on_error() {
    let t = example();
    let key = identity(&t);
    t.write(
        STORE,
        &flip_after(&t.read(STORE), "  mac: ENC[AES256_GCM,data:"),
    );
    let guard = Guard::new();
    let before = guard.snapshot(&t);
    refused(
        &run_with_bytes(&t, &set_args(&key), b"a-new-token\n"),
        "stackc::seal::mac_tampered",
        &[STORE],
    );
    refused(
        &t.run(&[
            "secret",
            "--identity",
            &key,
            "rotate",
            "dev",
            "postgresql-credentials",
            "password",
        ]),
        "stackc::seal::mac_tampered",
        &[STORE],
    );
    guard.unchanged(&t, &before, "a failed secret command");
    let leftovers: Vec<PathBuf> = std::fs::read_dir(t.path().join("environments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.extension().is_some_and(|x| x == "yaml" || x == "kdl"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

#[test]
fn secret_set_writes_the_store_atomically_and_build_seals_it() {
    let t = example();
    let key = identity(&t);
    run_with_bytes(&t, &set_args(&key), b"a-new-cloudflare-token\n").success();
    t.run(&[
        "secret",
        "--identity",
        &key,
        "get",
        "dev",
        "cloudflare-api-token",
        "api-token",
    ])
    .success()
    .stdout_has(&["a-new-cloudflare-token"]);
    t.run(&["build", "--check"]).status(1).stdout_has(&[
        "stale: out/dev/infrastructure/cert-manager/secret-cloudflare-api-token.yaml",
    ]);
    t.run(&["build", "--identity", &key]).success();
    remove_cache(&t);
    t.run(&["build", "--check"]).success();
}

#[test]
fn quiet_silences_the_warning_for_a_restored_hand_edit() {
    let t = example();
    let path = "out/dev/kustomization.yaml";
    let original = t.read(path);
    t.write(path, &format!("{original}# by hand\n"));
    let run = t.run(&["build", "-q"]);
    run.success();
    assert_eq!(run.stderr(), "", "-q prints only errors");
    assert_eq!(t.read(path), original);
}
