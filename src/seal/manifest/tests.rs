//! Tests of sealing Secret manifests: acceptance by real sops, no churn, rekey, errors.

use super::*;
use crate::seal::store::store_path;
use crate::seal::testutil::{assert_sops_opens, sops_values, TestKey};
use miette::{Diagnostic, NamedSource, SourceSpan};
use std::path::Path;
use std::sync::Arc;

const KDL: &str = "secret \"db\" namespace=\"prod\" {\n    key \"user\" value=\"app\"\n    key \"password\" generate=32\n    key \"apikey\"\n}\n";

fn at(needle: &str) -> Located {
    let offset = KDL.find(needle).unwrap();
    Located {
        source: NamedSource::new("stacks.kdl", Arc::<str>::from(KDL)),
        span: SourceSpan::new(offset.into(), needle.len()),
    }
}

fn plan() -> SecretPlan {
    SecretPlan {
        name: "db".into(),
        namespace: "prod".into(),
        secret_type: "Opaque".into(),
        keys: vec![
            KeyPlan {
                name: "user".into(),
                source: KeySource::Literal("app".into()),
                from: None,
                declared_at: at("key \"user\""),
            },
            KeyPlan {
                name: "password".into(),
                source: KeySource::Generate(32),
                from: None,
                declared_at: at("key \"password\""),
            },
            KeyPlan {
                name: "apikey".into(),
                source: KeySource::Store,
                from: None,
                declared_at: at("key \"apikey\""),
            },
        ],
        declared_at: at("secret \"db\""),
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    me: TestKey,
    store: std::path::PathBuf,
}

impl Fixture {
    /// A store for `prod` with `db.apikey` set and `db.password` generated.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let me = TestKey::new(dir.path(), "me.txt");
        let store = store_path(dir.path(), "prod");
        let mut open = Store::load(&store)
            .unwrap()
            .open(&Identities::default())
            .unwrap();
        open.set("db", "apikey", Plaintext::new("api-key-value-1"))
            .unwrap();
        let generated = fill_generated(&[plan()], &mut open).unwrap();
        assert_eq!(generated, [("db".to_string(), "password".to_string())]);
        open.write(&Recipients::parse([&me.recipient]).unwrap())
            .unwrap();
        Fixture { dir, me, store }
    }

    fn env(recipients: &[&str], identities: Identities) -> SealEnv {
        SealEnv {
            name: "prod".into(),
            recipients: Recipients::parse(recipients).unwrap(),
            store_display: "environments/prod.secrets.sops.yaml".into(),
            out_display: "out/prod".into(),
            identities,
        }
    }

    fn store(&self) -> Store {
        Store::load(&self.store).unwrap()
    }

    fn set(&self, key: &str, value: &str) {
        let store = self.store();
        let mut open = store.open(&self.me.identities()).unwrap();
        open.set("db", key, Plaintext::new(value)).unwrap();
        open.write(&Recipients::parse([&self.me.recipient]).unwrap())
            .unwrap();
    }
}

fn enc_line<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
        .unwrap()
}

#[test]
fn sealed_secret_passes_real_sops_and_hides_every_value() {
    let fx = Fixture::new();
    let env = Fixture::env(&[&fx.me.recipient], fx.me.identities());
    let text = seal_secret(&plan(), &env, &fx.store(), None).unwrap();
    let password = fx
        .store()
        .get(&fx.me.identities(), "db", "password")
        .unwrap()
        .unwrap()
        .clone();
    for secret in ["api-key-value-1", password.expose()] {
        assert!(!text.contains(secret));
    }
    assert!(text.starts_with("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\n  annotations:\n    stackc.dev/fingerprint: "), "{text}");
    assert!(
        text.contains("type: Opaque\nstringData:\n  user: ENC[")
            && text.contains("encrypted_regex: ^(data|stringData)$")
    );
    let values = sops_values(&text, &fx.me.file);
    for secret in ["app", "api-key-value-1", password.expose()] {
        assert!(values.iter().any(|l| l == secret), "{values:?}");
    }
}

#[test]
fn unchanged_inputs_return_the_existing_file_without_identity() {
    let fx = Fixture::new();
    let first = seal_secret(
        &plan(),
        &Fixture::env(&[&fx.me.recipient], fx.me.identities()),
        &fx.store(),
        None,
    )
    .unwrap();
    let no_identity = Fixture::env(&[&fx.me.recipient], Identities::default());
    let again = seal_secret(&plan(), &no_identity, &fx.store(), Some(&first)).unwrap();
    assert_eq!(again, first);
}

#[test]
fn a_damaged_existing_file_is_resealed_when_an_identity_opens_the_store() {
    let fx = Fixture::new();
    let env = Fixture::env(&[&fx.me.recipient], fx.me.identities());
    let first = seal_secret(&plan(), &env, &fx.store(), None).unwrap();
    let enc = enc_line(&first, "apikey");
    let at = enc.find("data:").unwrap() + 8;
    let swapped = if &enc[at..=at] == "A" { "B" } else { "A" };
    let flipped = format!("{}{swapped}{}", &enc[..at], &enc[at + 1..]);
    let damaged = first.replace(enc, &flipped);
    assert_ne!(damaged, first);
    let no_identity = Fixture::env(&[&fx.me.recipient], Identities::default());
    assert_eq!(
        seal_secret(&plan(), &no_identity, &fx.store(), Some(&damaged)).unwrap(),
        damaged,
        "without an identity the file cannot be checked"
    );
    let repaired = seal_secret(&plan(), &env, &fx.store(), Some(&damaged)).unwrap();
    assert_sops_opens(&repaired, &fx.me.file);
}

#[test]
fn a_changed_value_changes_only_its_ciphertext() {
    let fx = Fixture::new();
    let env = Fixture::env(&[&fx.me.recipient], fx.me.identities());
    let first = seal_secret(&plan(), &env, &fx.store(), None).unwrap();
    fx.set("apikey", "api-key-value-2");
    let second = seal_secret(&plan(), &env, &fx.store(), Some(&first)).unwrap();
    assert_ne!(enc_line(&second, "apikey"), enc_line(&first, "apikey"));
    assert_eq!(enc_line(&second, "user"), enc_line(&first, "user"));
    assert_eq!(enc_line(&second, "password"), enc_line(&first, "password"));
    assert_eq!(enc_line(&second, "enc"), enc_line(&first, "enc"));
    assert_ne!(
        enc_line(&second, "stackc.dev/fingerprint"),
        enc_line(&first, "stackc.dev/fingerprint")
    );
    let values = sops_values(&second, &fx.me.file);
    assert!(values.iter().any(|v| v == "api-key-value-2"), "{values:?}");

    // A store change to another secret does not touch this one.
    let store = fx.store();
    let mut open = store.open(&fx.me.identities()).unwrap();
    open.set("other", "k", Plaintext::new("v")).unwrap();
    open.write(&Recipients::parse([&fx.me.recipient]).unwrap())
        .unwrap();
    let no_identity = Fixture::env(&[&fx.me.recipient], Identities::default());
    assert_eq!(
        seal_secret(&plan(), &no_identity, &fx.store(), Some(&second)).unwrap(),
        second
    );
}

#[test]
fn a_recipient_change_rekeys_and_keeps_values_and_mac() {
    let fx = Fixture::new();
    let new = TestKey::new(fx.dir.path(), "new.txt");
    let first = seal_secret(
        &plan(),
        &Fixture::env(&[&fx.me.recipient], fx.me.identities()),
        &fx.store(),
        None,
    )
    .unwrap();
    let both = [fx.me.recipient.as_str(), new.recipient.as_str()];
    let rekeyed = seal_secret(
        &plan(),
        &Fixture::env(&both, fx.me.identities()),
        &fx.store(),
        Some(&first),
    )
    .unwrap();
    for key in [
        "user",
        "password",
        "apikey",
        "mac",
        "lastmodified",
        "stackc.dev/fingerprint",
    ] {
        assert_eq!(enc_line(&rekeyed, key), enc_line(&first, key), "{key}");
    }
    assert_sops_opens(&rekeyed, &new.file);

    let err = seal_secret(
        &plan(),
        &Fixture::env(&both, Identities::default()),
        &fx.store(),
        Some(&first),
    )
    .unwrap_err();
    assert_eq!(err.code_str(), "stackc::seal::need_identity");
    let message = err.to_string();
    for part in [
        "`db`",
        "environments/prod.secrets.sops.yaml",
        "out/prod (Secret prod/db)",
        "recipients changed",
    ] {
        assert!(message.contains(part), "{message}");
    }
}

#[test]
fn changed_values_without_identity_name_every_place_looked() {
    let fx = Fixture::new();
    let ids = Identities::discover_with(&[], |k| {
        (k == "HOME").then(|| "/nonexistent-home".to_string())
    })
    .unwrap();
    let err = seal_secret(
        &plan(),
        &Fixture::env(&[&fx.me.recipient], ids),
        &fx.store(),
        None,
    )
    .unwrap_err();
    assert_eq!(err.code_str(), "stackc::seal::need_identity");
    let message = err.to_string();
    for part in [
        "SOPS_AGE_KEY_FILE (not set)",
        "SOPS_AGE_KEY (not set)",
        "/nonexistent-home/.config/sops/age/keys.txt (not found)",
        "out/prod",
    ] {
        assert!(message.contains(part), "{message}");
    }
}

#[test]
fn a_missing_store_key_points_at_its_declaration() {
    let fx = Fixture::new();
    let mut plan = plan();
    plan.keys[2].name = "absent".into();
    let err = seal_secret(
        &plan,
        &Fixture::env(&[&fx.me.recipient], fx.me.identities()),
        &fx.store(),
        None,
    )
    .unwrap_err();
    assert_eq!(err.code_str(), "stackc::seal::missing_store_key");
    let help = err.help().unwrap().to_string();
    assert!(
        help.contains("stackc secret set prod db absent") && help.contains("generate=N"),
        "{help}"
    );
    let label = err.labels().unwrap().next().unwrap();
    assert_eq!(label.offset(), KDL.find("key \"apikey\"").unwrap());

    // With no store at all, a store key is missing too (and no identity is asked for).
    let empty = Store::load(Path::new(
        "/nonexistent/environments/prod.secrets.sops.yaml",
    ))
    .unwrap();
    let err = seal_secret(
        &plan,
        &Fixture::env(&[&fx.me.recipient], Identities::default()),
        &empty,
        None,
    )
    .unwrap_err();
    assert_eq!(err.code_str(), "stackc::seal::missing_store_key");
}

#[test]
fn literal_only_secrets_need_no_store_and_no_identity() {
    let mut plan = plan();
    plan.keys.truncate(1);
    let dir = tempfile::tempdir().unwrap();
    let me = TestKey::new(dir.path(), "me.txt");
    let empty = Store::load(&store_path(dir.path(), "prod")).unwrap();
    let env = SealEnv {
        name: "prod".into(),
        recipients: Recipients::parse([&me.recipient]).unwrap(),
        store_display: "environments/prod.secrets.sops.yaml".into(),
        out_display: "out/prod".into(),
        identities: Identities::default(),
    };
    let text = seal_secret(&plan, &env, &empty, None).unwrap();
    assert_sops_opens(&text, &me.file);
}

#[test]
fn bootstrap_secret_holds_the_identity_for_flux() {
    let key = crate::seal::keygen(None).unwrap();
    let identity = key.file_text.unwrap();
    let text = bootstrap_secret(&identity);
    let doc = crate::yaml::parse_documents(text.expose())
        .unwrap()
        .remove(0);
    assert_eq!(
        doc.get_path("metadata.name"),
        Some(&Value::from("sops-age"))
    );
    assert_eq!(
        doc.get_path("metadata.namespace"),
        Some(&Value::from("flux-system"))
    );
    let stored = doc
        .get_path("stringData")
        .and_then(Value::as_map)
        .and_then(|m| m.get("age.agekey"));
    assert_eq!(stored, Some(&Value::from(identity.expose())));
}
