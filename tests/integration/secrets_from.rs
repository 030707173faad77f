//! `key "x" from="secret/key"`: one value, kept once in the store, sealed into every
//! namespace that declares a key taking it. The sealed Secrets are read with the real `sops`
//! CLI; bad references and cycles are refused with spans.

use crate::harness::{example, sops_json, Test};
use crate::untouched::refused_now;

/// Two namespaces: `database` owns the generated password, `auth` and `web` take it.
const STACK: &str = r#"project "demo" domain="example.org"

layer "apps"

environment "dev" wave=0 {
    recipients "RECIPIENT"
}
environment "production" wave=1 {
    recipients "RECIPIENT"
}

secret "db-credentials" namespace="database" {
    key "password" generate=32
    key "username" value="app"
    key "api-token"
}

secret "auth-credentials" namespace="auth" {
    key "db-password" from="db-credentials/password"
    key "db-user" from="db-credentials/username"
    key "token" from="db-credentials/api-token"
}

secret "web-credentials" namespace="web" {
    // A chain: through auth-credentials to db-credentials.
    key "db-password" from="auth-credentials/db-password"
}

service "web" layer="apps" namespace="web" template="config" {
    uses-secret "web-credentials"
}
"#;

const CONFIG: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service.name }}\n  namespace: {{ service.namespace }}\ndata:\n  a: b\n";

fn secret(env: &str, namespace: &str, name: &str) -> String {
    format!("out/{env}/apps/{namespace}/secret-{name}.yaml")
}

/// The stack, with a fresh key in `key.txt` and `api-token` set in both environments.
fn shared() -> Test {
    let t = Test::new();
    let run = t.run(&["keygen", "--output", "key.txt"]);
    run.success();
    let recipient = run.stdout().trim().to_string();
    t.write("stacks.kdl", &STACK.replace("RECIPIENT", &recipient));
    t.write("templates/config/configmap.yaml.j2", CONFIG);
    for env in ["dev", "production"] {
        t.run_with_stdin(
            &[
                "secret",
                "--identity",
                "key.txt",
                "set",
                env,
                "db-credentials",
                "api-token",
            ],
            Some(&format!("token-of-{env}")),
        )
        .success();
    }
    t
}

fn string_data(t: &Test, path: &str) -> serde_json::Value {
    sops_json(&t.path().join(path), &t.path().join("key.txt"))["stringData"].clone()
}

#[test]
fn a_from_key_is_sealed_with_the_source_value_in_each_namespace() {
    let t = shared();
    t.run(&["build", "--identity", "key.txt"]).success();
    for env in ["dev", "production"] {
        let db = string_data(&t, &secret(env, "database", "db-credentials"));
        let auth = string_data(&t, &secret(env, "auth", "auth-credentials"));
        let web = string_data(&t, &secret(env, "web", "web-credentials"));
        let password = db["password"].as_str().expect("generated");
        assert_eq!(password.len(), 32);
        assert_eq!(auth["db-password"], password, "{env}");
        assert_eq!(
            web["db-password"], password,
            "a chain ends at the source ({env})"
        );
        assert_eq!(auth["db-user"], "app", "a literal source");
        assert_eq!(auth["token"], format!("token-of-{env}"), "a store source");
    }
    // The same environment's value: each environment has its own.
    assert_ne!(
        string_data(&t, &secret("dev", "database", "db-credentials"))["password"],
        string_data(&t, &secret("production", "database", "db-credentials"))["password"]
    );
    // The store keeps one value: nothing under the consumers.
    let store = sops_json(
        &t.path().join("environments/dev.secrets.sops.yaml"),
        &t.path().join("key.txt"),
    );
    assert!(store.get("auth-credentials").is_none(), "{store}");
    assert!(store.get("web-credentials").is_none(), "{store}");
}

#[test]
fn changing_the_source_value_reseals_its_consumers_and_nothing_else() {
    let t = shared();
    t.run(&["build", "--identity", "key.txt"]).success();
    let before = t.tree("out");
    t.run_with_stdin(
        &[
            "secret",
            "--identity",
            "key.txt",
            "set",
            "dev",
            "db-credentials",
            "api-token",
        ],
        Some("rotated"),
    )
    .success();
    t.run(&["build", "--identity", "key.txt"]).success();
    let after = t.tree("out");
    let changed: Vec<&String> = after
        .keys()
        .filter(|k| before.get(*k) != after.get(*k) && !k.ends_with(".stackc-files"))
        .collect();
    assert_eq!(
        changed,
        [
            "dev/apps/auth/secret-auth-credentials.yaml",
            "dev/apps/database/secret-db-credentials.yaml"
        ],
        "web-credentials does not read api-token"
    );
    assert_eq!(
        string_data(&t, &secret("dev", "auth", "auth-credentials"))["token"],
        "rotated"
    );
    // Without an identity, an unchanged stack is up to date.
    t.run(&["build", "--check"]).success();
}

#[test]
fn secret_set_refuses_a_from_key() {
    let t = shared();
    let run = t.run_with_stdin(
        &[
            "secret",
            "--identity",
            "key.txt",
            "set",
            "dev",
            "auth-credentials",
            "token",
        ],
        Some("x"),
    );
    run.status(2).stderr_has(&[
        "stackc::secret::shared_key",
        "`auth-credentials/token` takes its value from `db-credentials/api-token`",
    ]);
}

#[test]
fn the_example_authentik_secret_carries_the_database_passwords() {
    let t = example();
    let key = t.path().join("examples/keys/example.agekey");
    for env in ["dev", "staging", "production"] {
        let read = |ns: &str, name: &str| {
            sops_json(
                &t.path()
                    .join(format!("out/{env}/{}", path(&t, env, ns, name))),
                &key,
            )["stringData"]
                .clone()
        };
        let authentik = read("auth", "authentik-credentials");
        assert_eq!(
            authentik["postgresql-password"],
            read("database", "postgresql-credentials")["password"],
            "{env}"
        );
        assert_eq!(
            authentik["redis-password"],
            read("database", "redis-credentials")["redis-password"],
            "{env}"
        );
    }
}

/// Where the example seals a Secret, found by name (its layer folder is the layout's call).
fn path(t: &Test, env: &str, namespace: &str, name: &str) -> String {
    let file = format!("/{namespace}/secret-{name}.yaml");
    t.tree(&format!("out/{env}"))
        .into_keys()
        .find(|p| p.ends_with(&file))
        .unwrap_or_else(|| panic!("no {file} in out/{env}"))
}

// ------------------------------------------------------------------------- bad input

#[track_caller]
fn refused_edit(from: &str, to: &str, expected: &[&str]) {
    let t = shared();
    t.run(&["build", "--identity", "key.txt"]).success();
    refused_now(
        &t,
        |t| t.edit("stacks.kdl", from, to),
        &["build", "--identity", "key.txt"],
        expected,
    );
}

#[test]
fn from_an_unknown_secret_is_refused_with_a_suggestion() {
    refused_edit(
        "from=\"db-credentials/password\"",
        "from=\"db-credential/password\"",
        &[
            "stackc::model::unknown_reference",
            "unknown secret `db-credential`",
            "stacks.kdl:19",
            "did you mean `db-credentials`",
        ],
    );
}

#[test]
fn from_an_unknown_key_is_refused_with_a_suggestion() {
    refused_edit(
        "from=\"db-credentials/password\"",
        "from=\"db-credentials/pasword\"",
        &[
            "stackc::model::unknown_reference",
            "unknown secret key `db-credentials/pasword`",
            "stacks.kdl:19",
            "did you mean `password`",
        ],
    );
}

#[test]
fn a_cycle_of_from_is_refused() {
    refused_edit(
        "key \"password\" generate=32",
        "key \"password\" from=\"web-credentials/db-password\"",
        &[
            "stackc::model::invalid",
            "`from=` cycle: ",
            "db-credentials/password -> web-credentials/db-password -> auth-credentials/db-password -> db-credentials/password",
            "this `from=` closes the cycle",
        ],
    );
}

#[test]
fn from_with_value_or_generate_is_refused() {
    for (to, first) in [
        ("from=\"db-credentials/password\" value=\"x\"", "value"),
        ("generate=12 from=\"db-credentials/password\"", "generate"),
    ] {
        refused_edit(
            "from=\"db-credentials/password\"",
            to,
            &[
                "stackc::model::invalid",
                &format!(
                    "a key takes one of `generate`, `value` and `from`, not `{first}` and `from`"
                ),
                "stacks.kdl:19",
            ],
        );
    }
}

#[test]
fn a_from_that_is_not_secret_slash_key_is_refused() {
    for bad in ["db-credentials", "db-credentials/", "/password", "a/b/c"] {
        refused_edit(
            "from=\"db-credentials/password\"",
            &format!("from=\"{bad}\""),
            &[
                "stackc::model::invalid",
                "does not name a secret key",
                "expected `secret/key`",
            ],
        );
    }
}

#[test]
fn the_from_example_of_the_language_page_is_the_example_stack_declaration() {
    let block = crate::patches::checked_block("tests/integration/secrets_from.rs");
    let stack = std::fs::read_to_string(crate::harness::repo_root().join("stacks.kdl")).unwrap();
    assert!(
        stack.contains(&block),
        "docs/language.md's from= example must be stacks.kdl's (which the_example_authentik_secret_carries_the_database_passwords checks):\n{block}"
    );
}
