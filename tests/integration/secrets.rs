//! The secrets capability through the real binary: `keygen`, `secret set|get|rotate`, sealing
//! in `build`, identity discovery, `bootstrap`, and bad input. What stackc writes is verified
//! by tools that are not stackc: `age`/`age-keygen`, `kubectl kustomize` and the real `sops`
//! CLI (`sops decrypt`, which checks the MAC, and `sops set`, whose edits stackc must read).

use crate::harness::{sops_command, sops_decrypt, sops_try_decrypt, sops_values, tool, Test};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

/// The store file of the `dev` environment.
const STORE: &str = "environments/dev.secrets.sops.yaml";
/// Where the `creds` Secret lands: `out/<env>/<layer>/<namespace>/secret-<name>.yaml`.
const CREDS: &str = "out/dev/apps/web/secret-creds.yaml";
/// The other Secret, in the same namespace.
const SEEDS: &str = "out/dev/apps/web/secret-seeds.yaml";
/// The value `secret set` stores in the tests; long enough to never occur by chance.
const TOKEN: &str = "tok-3f9a2c71-never-in-clear";
/// The `value=` literal of `creds`.
const LITERAL: &str = "service-account-user";

/// A stack with one environment, `dev`, encrypted to `recipients`, and two secrets: `creds`
/// (generated, literal and store keys) and `seeds` (generated only).
fn stack_text(recipients: &[&str]) -> String {
    let recipients: Vec<String> = recipients.iter().map(|r| format!("\"{r}\"")).collect();
    format!(
        r#"project "demo" domain="example.org"

layer "apps"

environment "dev" wave=0 {{
    recipients {}
}}

secret "creds" namespace="web" {{
    key "password" generate=32
    key "username" value="{LITERAL}"
    key "token"
}}

secret "seeds" namespace="web" {{
    key "seed" generate=24
}}

service "web" layer="apps" namespace="web" template="config" {{
    uses-secret "creds" "seeds"
}}
"#,
        recipients.join(" ")
    )
}

const CONFIG_TEMPLATE: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service.name }}\n  namespace: {{ service.namespace }}\ndata:\n  greeting: hello\n";

/// `stackc keygen --output FILE` in the stack's directory; returns the recipient it printed.
fn keygen(t: &Test, file: &str) -> String {
    let run = t.run(&["keygen", "--output", file]);
    run.success();
    let recipient = run.stdout().trim().to_string();
    assert!(recipient.starts_with("age1"), "{recipient}");
    recipient
}

/// A stack whose `dev` recipient is a fresh key in `key.txt` (not yet built).
fn secret_stack(t: Test) -> Test {
    let recipient = keygen(&t, "key.txt");
    t.write("stacks.kdl", &stack_text(&[&recipient]));
    t.write("templates/config/configmap.yaml.j2", CONFIG_TEMPLATE);
    t
}

/// A built secret stack: `creds/token` set to [`TOKEN`], generated keys filled, out/ written,
/// all with `--identity key.txt`.
fn built() -> Test {
    let t = secret_stack(Test::new());
    set(&t, "token", TOKEN).success();
    t.run(&["build", "--identity", "key.txt"]).success();
    t
}

/// `stackc secret --identity key.txt set dev creds KEY` with `value` on standard input.
fn set(t: &Test, key: &str, value: &str) -> crate::harness::Run {
    t.run_with_stdin(
        &[
            "secret",
            "--identity",
            "key.txt",
            "set",
            "dev",
            "creds",
            key,
        ],
        Some(value),
    )
}

/// Asserts that real `sops decrypt` opens `file` with `key` (both relative to the stack),
/// MAC included: what sops and Flux accept.
#[track_caller]
fn assert_sops_ok(t: &Test, key: &str, file: &str) {
    sops_decrypt(&t.path().join(file), &t.path().join(key));
}

/// The decrypted leaf values of `file`, in document order, as real sops decrypts them.
#[track_caller]
fn values(t: &Test, key: &str, file: &str) -> Vec<String> {
    sops_values(&t.path().join(file), &t.path().join(key))
}

/// Every sealed Secret under out/.
fn secret_files(t: &Test) -> Vec<String> {
    t.tree("out")
        .into_iter()
        .filter(|(_, bytes)| String::from_utf8_lossy(bytes).contains("\nkind: Secret\n"))
        .map(|(path, _)| format!("out/{path}"))
        .collect()
}

/// The paths of `after` whose bytes differ from `before` (added, removed or changed).
fn changed(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut paths: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .cloned()
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

// --- keygen ---------------------------------------------------------------------------------

#[test]
fn keygen_writes_a_private_standard_key_file_that_age_keygen_reads() {
    let t = Test::new();
    let recipient = keygen(&t, "key.txt");
    let path = t.path().join("key.txt");
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let text = t.read("key.txt");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("# created: "), "{text}");
    assert_eq!(lines[1], format!("# public key: {recipient}"));
    assert!(lines[2].starts_with("AGE-SECRET-KEY-1"), "{text}");
    let out = tool("age-keygen")
        .arg("-y")
        .arg(&path)
        .output()
        .expect("age-keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), recipient);
}

#[test]
fn keygen_refuses_to_overwrite_a_key_file() {
    let t = Test::new();
    keygen(&t, "key.txt");
    let before = t.read("key.txt");
    t.run(&["keygen", "--output", "key.txt"])
        .status(2)
        .stderr_has(&["stackc::seal::key_file_exists", "key.txt"]);
    assert_eq!(t.read("key.txt"), before);
}

// --- build: sealing -------------------------------------------------------------------------

#[test]
fn build_seals_every_secret_and_the_store_for_sops_and_flux() {
    let t = Test::new().env("SOPS_AGE_KEY_FILE", "key.txt");
    let t = secret_stack(t);
    let run = t.run_with_stdin(&["secret", "set", "dev", "creds", "token"], Some(TOKEN));
    run.success();
    assert!(!run.stdout().contains(TOKEN) && !run.stderr().contains(TOKEN));
    let run = t.run(&["build"]);
    run.success();
    assert!(!run.stdout().contains(TOKEN) && !run.stderr().contains(TOKEN));

    let secrets = secret_files(&t);
    assert_eq!(secrets, [CREDS, SEEDS]);
    for file in secrets.iter().map(String::as_str).chain([STORE]) {
        assert_sops_ok(&t, "key.txt", file);
    }
    let creds = values(&t, "key.txt", CREDS);
    assert!(creds.iter().any(|v| v == TOKEN), "{creds:?}");
    assert!(creds.iter().any(|v| v == LITERAL), "{creds:?}");
    let store = values(&t, "key.txt", STORE);
    assert_eq!(store.len(), 3, "password, token, seed: {store:?}");
    assert!(store.iter().any(|v| v == TOKEN), "{store:?}");
    // The generated password is the same in the store and the Secret.
    assert!(
        store
            .iter()
            .filter(|v| v.len() == 32)
            .all(|v| creds.contains(v)),
        "{store:?} {creds:?}"
    );

    // No plaintext anywhere on disk, generated or set (the literal is in stacks.kdl by design).
    let mut plaintexts = store.clone();
    plaintexts.push(LITERAL.to_string());
    for dir in ["out", "environments", ".stackc-cache"] {
        for (path, bytes) in t.tree(dir) {
            let text = String::from_utf8_lossy(&bytes);
            for value in &plaintexts {
                assert!(
                    !text.contains(value.as_str()),
                    "{dir}/{path} contains a plaintext secret value"
                );
            }
        }
    }
}

#[test]
fn sealed_secrets_keep_the_object_readable_and_sit_in_their_namespace_folder() {
    let t = built();
    let creds = t.read(CREDS);
    for clear in [
        "apiVersion: v1\n",
        "kind: Secret\n",
        "  name: creds\n",
        "  namespace: web\n",
        "type: Opaque\n",
    ] {
        assert!(creds.contains(clear), "{clear:?} not readable in\n{creds}");
    }
    assert!(
        creds.contains("encrypted_regex: ^(data|stringData)$"),
        "{creds}"
    );
    assert!(creds.contains("  token: ENC[AES256_GCM,data:"), "{creds}");
    let kustomization = t.read("out/dev/apps/web/kustomization.yaml");
    assert!(
        kustomization.contains("  - secret-creds.yaml\n")
            && kustomization.contains("  - secret-seeds.yaml\n"),
        "{kustomization}"
    );

    let out = tool("kubectl")
        .args(["kustomize", "out/dev"])
        .current_dir(t.path())
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl kustomize out/dev: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = String::from_utf8_lossy(&out.stdout);
    assert!(
        rendered.contains("kind: Secret")
            && rendered.contains("name: creds")
            && rendered.contains("sops:"),
        "{rendered}"
    );
    assert!(!rendered.contains(TOKEN));
}

#[test]
fn the_age_cli_unwraps_the_data_key_of_a_sealed_secret() {
    let t = built();
    let creds = t.read(CREDS);
    let begin = creds
        .find("-----BEGIN AGE ENCRYPTED FILE-----")
        .expect("armored enc");
    let end = creds
        .find("-----END AGE ENCRYPTED FILE-----")
        .expect("armor footer")
        + "-----END AGE ENCRYPTED FILE-----".len();
    let lines: Vec<&str> = creds[begin..end].lines().map(str::trim).collect();
    let armor = format!("{}\n", lines.join("\n"));
    let mut child = tool("age")
        .args(["-d", "-i", "key.txt"])
        .current_dir(t.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("age");
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(armor.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "age -d: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), 32, "a SOPS data key is 32 bytes");
}

// --- secret set / get / rotate ----------------------------------------------------------------

#[test]
fn secret_get_prints_the_value() {
    let t = built();
    let run = t.run(&[
        "secret",
        "--identity",
        "key.txt",
        "get",
        "dev",
        "creds",
        "token",
    ]);
    run.success();
    assert_eq!(run.stdout().trim_end(), TOKEN);
}

#[test]
fn secret_rotate_replaces_a_generated_value() {
    let t = built();
    let get = || {
        t.run(&[
            "secret",
            "--identity",
            "key.txt",
            "get",
            "dev",
            "creds",
            "password",
        ])
        .success()
        .stdout()
    };
    let before = get();
    assert_eq!(before.trim_end().len(), 32);
    t.run(&[
        "secret",
        "--identity",
        "key.txt",
        "rotate",
        "dev",
        "creds",
        "password",
    ])
    .success();
    let after = get();
    assert_eq!(after.trim_end().len(), 32);
    assert_ne!(before, after);
    assert!(!t.read(STORE).contains(after.trim_end()));
}

#[test]
fn secret_rotate_refuses_a_key_that_is_not_generated() {
    let t = built();
    let store = t.read(STORE);
    t.run(&[
        "secret",
        "--identity",
        "key.txt",
        "rotate",
        "dev",
        "creds",
        "token",
    ])
    .status(2)
    .stderr_has(&[
        "stackc::secret::not_generated",
        "stackc secret set dev creds token",
    ]);
    assert_eq!(t.read(STORE), store);
}

#[test]
fn secret_set_refuses_empty_standard_input() {
    let t = built();
    let store = t.read(STORE);
    set(&t, "token", "")
        .status(2)
        .stderr_has(&["stackc::secret::empty_value"]);
    set(&t, "token", "\n")
        .status(2)
        .stderr_has(&["stackc::secret::empty_value"]);
    assert_eq!(t.read(STORE), store);
}

// --- no churn ---------------------------------------------------------------------------------

#[test]
fn rebuild_without_any_identity_leaves_every_file_byte_identical() {
    let t = built();
    let before = t.tree("out");
    let store = t.read(STORE);
    t.run(&["build"]).success();
    assert_eq!(changed(&before, &t.tree("out")), Vec::<String>::new());
    assert_eq!(t.read(STORE), store);
}

#[test]
fn build_check_passes_without_identity_or_cache() {
    let t = built();
    std::fs::remove_dir_all(t.path().join(".stackc-cache")).unwrap();
    let before = t.tree("out");
    t.run(&["build", "--check"]).success();
    assert_eq!(before, t.tree("out"));
}

#[test]
fn build_check_without_identity_reports_a_changed_secret_as_stale() {
    let t = built();
    set(&t, "token", "another-token-value").success();
    std::fs::remove_dir_all(t.path().join(".stackc-cache")).unwrap();
    let before = t.tree("out");
    t.run(&["build", "--check"])
        .status(1)
        .stdout_has(&["stale: out/dev/apps/web/secret-creds.yaml"]);
    assert_eq!(before, t.tree("out"));
}

#[test]
fn changing_one_store_value_rewrites_only_that_secret() {
    let t = built();
    let before = t.tree("out");
    set(&t, "token", "a-new-token-value").success();
    t.run(&["build", "--identity", "key.txt"]).success();
    assert_eq!(
        changed(&before, &t.tree("out")),
        ["dev/.stackc-files", "dev/apps/web/secret-creds.yaml"]
    );
    assert!(values(&t, "key.txt", CREDS)
        .iter()
        .any(|v| v == "a-new-token-value"));
    assert_sops_ok(&t, "key.txt", CREDS);
}

/// Adds a fresh key (`second.txt`) to `dev`'s recipients and rebuilds; returns both recipients.
fn add_second_recipient(t: &Test) -> (String, String) {
    let first = t
        .read("key.txt")
        .lines()
        .nth(1)
        .unwrap()
        .trim_start_matches("# public key: ")
        .to_string();
    let second = keygen(t, "second.txt");
    t.write("stacks.kdl", &stack_text(&[&first, &second]));
    t.run(&["build", "--identity", "key.txt"]).success();
    (first, second)
}

#[test]
fn adding_a_recipient_reencrypts_for_both_without_changing_values() {
    let t = built();
    let before = t.tree("out");
    let old_values: Vec<Vec<String>> = [CREDS, SEEDS, STORE]
        .iter()
        .map(|f| values(&t, "key.txt", f))
        .collect();
    let (_, second) = add_second_recipient(&t);

    let after = t.tree("out");
    let changed = changed(&before, &after);
    assert!(
        changed.contains(&"dev/apps/web/secret-creds.yaml".to_string())
            && changed.contains(&"dev/apps/web/secret-seeds.yaml".to_string()),
        "{changed:?}"
    );
    for (file, old) in [CREDS, SEEDS, STORE].iter().zip(&old_values) {
        assert!(
            t.read(file).contains(&second),
            "{file} is not encrypted to the new recipient"
        );
        for key in ["key.txt", "second.txt"] {
            assert_sops_ok(&t, key, file);
            assert_eq!(&values(&t, key, file), old, "{file} with {key}");
        }
    }
}

#[test]
fn removing_a_recipient_rotates_the_data_key_of_every_file() {
    let t = built();
    let (first, second) = add_second_recipient(&t);
    let before: Vec<String> = [CREDS, SEEDS, STORE].iter().map(|f| t.read(f)).collect();
    let old_values: Vec<Vec<String>> = [CREDS, SEEDS, STORE]
        .iter()
        .map(|f| values(&t, "key.txt", f))
        .collect();

    t.write("stacks.kdl", &stack_text(&[&first]));
    t.run(&["build", "--identity", "key.txt"]).success();
    for ((file, old_text), old) in [CREDS, SEEDS, STORE].iter().zip(&before).zip(&old_values) {
        let text = t.read(file);
        assert!(
            !text.contains(&second),
            "{file} still names the removed recipient"
        );
        // Not one ciphertext survives: the removed identity's copy of the old data key
        // opens nothing written from now on.
        let old_ciphertexts: Vec<&str> = old_text.lines().filter(|l| l.contains("ENC[")).collect();
        assert!(!old_ciphertexts.is_empty());
        for line in old_ciphertexts {
            assert!(!text.contains(line), "{file} kept {line}");
        }
        assert_sops_ok(&t, "key.txt", file);
        assert_eq!(&values(&t, "key.txt", file), old, "{file}");
        assert!(
            sops_try_decrypt(&t.path().join(file), &t.path().join("second.txt"), &[]).is_err(),
            "{file} still opens with the removed key"
        );
    }
}

#[test]
fn a_changed_secret_without_identity_fails_naming_the_secret_the_store_and_every_place_looked() {
    let t = built();
    let before = t.tree("out");
    set(&t, "token", "changed-value").success();
    t.run(&["build"]).status(2).stderr_has(&[
        "stackc::seal::need_identity",
        "secret `creds`",
        STORE,
        "SOPS_AGE_KEY_FILE",
        "SOPS_AGE_KEY",
        ".config/sops/age/keys.txt",
    ]);
    assert_eq!(before, t.tree("out"), "a failed build changed out/");
}

// --- stores edited with the real sops ------------------------------------------------------------

/// After a store was rewritten by real sops to hold `value` as `creds/token`: `secret get`
/// prints it, `build` reseals `creds` with it (real sops opens the Secret and finds it), no
/// file holds it in clear, and the next `build --check` is clean. `resealed` are the files
/// under out/ the build must rewrite.
#[track_caller]
fn assert_stackc_reads_the_sops_edit(t: &Test, value: &str, resealed: &[&str]) {
    assert!(
        values(t, "key.txt", STORE).iter().any(|v| v == value),
        "sops did not store the value"
    );
    let run = t.run(&[
        "secret",
        "--identity",
        "key.txt",
        "get",
        "dev",
        "creds",
        "token",
    ]);
    run.success();
    assert_eq!(run.stdout().trim_end(), value);
    let before = t.tree("out");
    t.run(&["build", "--identity", "key.txt"]).success();
    assert_eq!(
        changed(&before, &t.tree("out")),
        resealed,
        "the build rewrote other files"
    );
    assert_sops_ok(t, "key.txt", CREDS);
    let creds = crate::harness::sops_json(&t.path().join(CREDS), &t.path().join("key.txt"));
    assert_eq!(creds["stringData"]["token"], value, "{creds}");
    assert_eq!(creds["stringData"]["username"], LITERAL, "{creds}");
    for (path, bytes) in t.tree("out") {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(value),
            "out/{path} holds the value in clear"
        );
    }
    t.run(&["build", "--check"]).success();
}

#[test]
fn a_store_edited_with_sops_set_is_read_back_by_stackc() {
    let t = built();
    let value = "set-by-real-sops-4d1e";
    let out = sops_command(&t.path().join("key.txt"))
        .arg("set")
        .arg(STORE)
        .arg(r#"["creds"]["token"]"#)
        .arg(format!("\"{value}\""))
        .current_dir(t.path())
        .output()
        .expect("sops set");
    assert!(
        out.status.success(),
        "sops set: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!t.read(STORE).contains(value));
    // sops keeps the data key and the ciphertext of the values it did not change, so only the
    // Secret that uses the edited value is resealed.
    // (and the index, which records the resealed file's hash).
    assert_stackc_reads_the_sops_edit(
        &t,
        value,
        &["dev/.stackc-files", "dev/apps/web/secret-creds.yaml"],
    );
}

#[test]
fn a_store_decrypted_edited_and_encrypted_anew_by_sops_is_read_back_by_stackc() {
    let t = built();
    let key = t.path().join("key.txt");
    let recipient = t
        .read("key.txt")
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    let plain = sops_decrypt(&t.path().join(STORE), &key);
    assert!(plain.contains(&format!("token: {TOKEN}")), "{plain}");
    let value = "re-encrypted-by-sops-77c2";
    let plain = plain.replace(TOKEN, value);
    // A whole new file from sops: new data key, sops' own layout, indent and version.
    let mut child = sops_command(&key)
        .args(["encrypt", "--age", &recipient])
        .args(["--input-type", "yaml", "--output-type", "yaml"])
        .args(["--filename-override", STORE])
        .current_dir(t.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sops encrypt");
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(plain.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sops encrypt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("version: 3.11.0") && !text.contains(value),
        "{text}"
    );
    t.write(STORE, &text);
    // Every ciphertext of the store is new, so both Secrets are resealed.
    assert_stackc_reads_the_sops_edit(
        &t,
        value,
        &[
            "dev/.stackc-files",
            "dev/apps/web/secret-creds.yaml",
            "dev/apps/web/secret-seeds.yaml",
        ],
    );
}

// --- identity discovery -------------------------------------------------------------------------

/// A built stack, a store change, and a rebuild that must find the identity through `t`'s
/// environment or `args`: the rebuild decrypts the store, so it fails without one.
#[track_caller]
fn rebuild_finds_identity(t: &Test, args: &[&str]) {
    set(t, "token", TOKEN).success();
    t.run(&["build", "--identity", "key.txt"]).success();
    set(t, "token", "rotated-by-hand").success();
    let mut build = vec!["build"];
    build.extend_from_slice(args);
    t.run(&build).success();
    assert!(values(t, "key.txt", CREDS)
        .iter()
        .any(|v| v == "rotated-by-hand"));
}

#[test]
fn identity_from_sops_age_key_file() {
    let t = Test::new();
    let path = t.path().join("key.txt").display().to_string();
    let t = secret_stack(t.env("SOPS_AGE_KEY_FILE", &path));
    rebuild_finds_identity(&t, &[]);
}

#[test]
fn identity_from_sops_age_key_inline() {
    let t = Test::new();
    let text = t.run(&["keygen"]).success().stdout();
    assert!(
        text.contains("AGE-SECRET-KEY-1"),
        "keygen without --output prints the key file"
    );
    let t = t.env("SOPS_AGE_KEY", &text);
    std::fs::write(t.path().join("key.txt"), &text).unwrap();
    #[cfg(unix)]
    chmod(&t.path().join("key.txt"), 0o600);
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    t.write("stacks.kdl", &stack_text(&[&recipient]));
    t.write("templates/config/configmap.yaml.j2", CONFIG_TEMPLATE);
    rebuild_finds_identity(&t, &[]);
}

#[test]
fn identity_from_home_config_sops_age_keys_txt() {
    let t = secret_stack(Test::new());
    let dir = t.path().join(".home/.config/sops/age");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(t.path().join("key.txt"), dir.join("keys.txt")).unwrap();
    #[cfg(unix)]
    chmod(&dir.join("keys.txt"), 0o600);
    rebuild_finds_identity(&t, &[]);
}

#[test]
fn identity_from_the_identity_flag() {
    let t = secret_stack(Test::new());
    std::fs::copy(t.path().join("key.txt"), t.path().join("elsewhere.txt")).unwrap();
    rebuild_finds_identity(&t, &["--identity", "elsewhere.txt"]);
}

// --- bad input ----------------------------------------------------------------------------------

/// Builds a secret stack, applies `break_it`, then changes the `creds` declaration so that the
/// rebuild must open the store; asserts exit 2, every one of `expected` in stderr, and out/
/// byte-identical. Returns stderr.
#[track_caller]
fn refused(break_it: impl FnOnce(&Test), identity: &str, expected: &[&str]) -> String {
    let t = built();
    let before = t.tree("out");
    break_it(&t);
    t.edit(
        "stacks.kdl",
        "    key \"token\"\n",
        "    key \"token\"\n    key \"database\" value=\"app\"\n",
    );
    let run = t.run(&["build", "--identity", identity]);
    run.status(2).stderr_has(expected);
    let stderr = run.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains(TOKEN), "{stderr}");
    assert_eq!(before, t.tree("out"), "a failed build changed out/");
    stderr
}

/// Replaces one base64 character right after `marker` in the store.
fn flip_after(t: &Test, marker: &str) {
    let text = t.read(STORE);
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in store"))
        + marker.len()
        + 3;
    let old = &text[at..=at];
    let new = if old == "A" { "B" } else { "A" };
    t.write(STORE, &format!("{}{new}{}", &text[..at], &text[at + 1..]));
}

#[test]
fn build_refuses_a_store_encrypted_to_other_keys() {
    let other = built();
    let foreign = other
        .read("key.txt")
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    // The identity offered is one of the environment's recipients; the store is not for it.
    refused(
        |t| t.write(STORE, &other.read(STORE)),
        "key.txt",
        &[
            "stackc::seal::need_identity",
            "secret `creds`",
            STORE,
            "--identity key.txt",
            &format!("is encrypted to: {foreign}"),
        ],
    );
}

#[test]
fn build_detects_a_tampered_store_value() {
    refused(
        |t| flip_after(t, "token: ENC[AES256_GCM,data:"),
        "key.txt",
        &["stackc::seal::value_tampered", "creds.token", STORE],
    );
}

#[test]
fn build_detects_a_tampered_store_mac() {
    refused(
        |t| flip_after(t, "mac: ENC[AES256_GCM,data:"),
        "key.txt",
        &["stackc::seal::mac_tampered", STORE],
    );
}

#[test]
fn build_refuses_a_truncated_store() {
    refused(
        |t| {
            let text = t.read(STORE);
            t.write(STORE, &text[..text.find("  lastmodified:").unwrap()]);
        },
        "key.txt",
        &["stackc::seal::malformed", STORE, "lastmodified"],
    );
}

#[test]
fn build_refuses_a_store_that_is_not_sops() {
    refused(
        |t| t.write(STORE, "creds:\n  token: hello\n  password: world\n"),
        "key.txt",
        &["stackc::seal::not_sops", STORE],
    );
}

#[test]
fn build_refuses_an_invalid_recipient_pointing_at_it() {
    let t = built();
    let before = t.tree("out");
    let text = t.read("stacks.kdl");
    let recipient = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("recipients \""))
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    // Right prefix, broken checksum: only a real bech32 check catches it.
    // The replacement differs from the character it replaces (the key is random per test).
    let swap = if recipient.as_bytes()[5] == b'x' { 'y' } else { 'x' };
    let broken = format!("{}{swap}{}", &recipient[..5], &recipient[6..]);
    t.edit("stacks.kdl", &recipient, &broken);
    let run = t.run(&["build", "--identity", "key.txt"]);
    run.status(2)
        .stderr_has(&["stackc::seal::invalid_recipient", &broken, "stacks.kdl:"]);
    assert_eq!(before, t.tree("out"));
    t.edit("stacks.kdl", &broken, "ssh-ed25519");
    t.run(&["build", "--identity", "key.txt"])
        .status(2)
        .stderr_has(&["not an age recipient", "stacks.kdl:"]);
    assert_eq!(before, t.tree("out"));
}

#[cfg(unix)]
#[test]
fn build_refuses_a_key_file_others_can_read() {
    let stderr = refused(
        |t| chmod(&t.path().join("key.txt"), 0o644),
        "key.txt",
        &["stackc::seal::key_file_permissions", "key.txt", "chmod 600"],
    );
    assert!(!stderr.contains("AGE-SECRET-KEY-1"), "{stderr}");
}

#[test]
fn build_refuses_a_key_file_with_bad_contents_without_echoing_it() {
    let secret = std::cell::RefCell::new(String::new());
    let stderr = refused(
        |t| {
            let text = t.read("key.txt");
            let line = text
                .lines()
                .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
                .unwrap();
            // A typo in the key line: the line must not be echoed.
            let typo = line.replacen("AGE-SECRET-KEY-1", "AGE-SECRET-KEY-1Q", 1);
            t.write("key.txt", &text.replace(line, &typo));
            *secret.borrow_mut() = line["AGE-SECRET-KEY-1".len()..].to_string();
        },
        "key.txt",
        &["stackc::seal::bad_key_file", "key.txt", "line 3"],
    );
    assert!(!stderr.contains(secret.borrow().as_str()), "{stderr}");
}

#[test]
fn build_refuses_a_store_key_that_was_never_set_pointing_at_its_declaration() {
    let t = built();
    let before = t.tree("out");
    t.edit(
        "stacks.kdl",
        "    key \"token\"\n",
        "    key \"token\"\n    key \"x\"\n",
    );
    let run = t.run(&["build", "--identity", "key.txt"]);
    run.status(2).stderr_has(&[
        "stackc::seal::missing_store_key",
        "stacks.kdl:",
        "key \"x\"",
        "declared here",
        "stackc secret set dev creds x",
    ]);
    assert_eq!(before, t.tree("out"));
}

// --- bootstrap ----------------------------------------------------------------------------------

#[test]
fn bootstrap_prints_the_sops_age_secret_and_writes_nothing() {
    let t = built();
    let before = t.tree("out");
    let run = t.run(&["bootstrap", "dev", "--identity", "key.txt"]);
    run.success();
    let key = t.read("key.txt");
    let secret_line = key
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap();
    run.stdout_has(&[
        "kind: Secret",
        "name: sops-age",
        "namespace: flux-system",
        "age.agekey:",
        secret_line,
    ]);
    assert_eq!(before, t.tree("out"));
}

#[test]
fn bootstrap_needs_an_identity() {
    let t = built();
    t.run(&["bootstrap", "dev"])
        .status(2)
        .stderr_has(&["stackc::bootstrap::no_identity", "--identity FILE"]);
}

#[test]
fn bootstrap_refuses_an_identity_that_is_not_a_recipient() {
    let t = built();
    keygen(&t, "other.txt");
    let run = t.run(&["bootstrap", "dev", "--identity", "other.txt"]);
    run.status(2)
        .stderr_has(&["stackc::bootstrap::not_a_recipient", "other.txt"]);
    assert!(!run.stdout().contains("AGE-SECRET-KEY"));
}

#[test]
fn a_damaged_sealed_secret_is_resealed_by_a_build_with_identity() {
    let t = built();
    let text = t.read(CREDS);
    let marker = "token: ENC[AES256_GCM,data:";
    let at = text.find(marker).unwrap() + marker.len() + 3;
    let swapped = if &text[at..=at] == "A" { "B" } else { "A" };
    t.write(
        CREDS,
        &format!("{}{swapped}{}", &text[..at], &text[at + 1..]),
    );
    t.run(&["build", "--identity", "key.txt", "--check"])
        .status(1);
    t.run(&["build", "--identity", "key.txt"]).success();
    assert_sops_ok(&t, "key.txt", CREDS);
    assert!(values(&t, "key.txt", CREDS).iter().any(|v| v == TOKEN));
}
