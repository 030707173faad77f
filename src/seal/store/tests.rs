//! Tests of the secret store: creation without identity, fingerprints, edits without churn.

use super::*;
use crate::seal::testutil::{assert_sops_opens, fixture_path, sops_values, TestKey};

fn enc_line<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
        .unwrap()
}

#[test]
fn a_new_store_needs_only_recipients_and_passes_real_sops() {
    let dir = tempfile::tempdir().unwrap();
    let me = TestKey::new(dir.path(), "me.txt");
    let path = store_path(dir.path(), "prod");
    let store = Store::load(&path).unwrap();
    assert!(!store.exists());
    let mut open = store.open(&Identities::default()).unwrap();
    open.set("db", "password", Plaintext::new("pw-one-1"))
        .unwrap();
    open.set("db", "user", Plaintext::new("admin-one")).unwrap();
    open.set("api", "token", Plaintext::new("tok-one-1"))
        .unwrap();
    let recipients = Recipients::parse([&me.recipient]).unwrap();
    assert!(open.write(&recipients).unwrap());
    assert!(
        !open.write(&recipients).unwrap(),
        "second write changes nothing"
    );

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("api:\n  token: ENC[")
            && text.contains("unencrypted_suffix: _unencrypted")
    );
    for secret in ["pw-one-1", "admin-one", "tok-one-1"] {
        assert!(!text.contains(secret));
    }
    let values = sops_values(&text, &me.file);
    for secret in ["pw-one-1", "admin-one", "tok-one-1"] {
        assert!(values.iter().any(|v| v == secret), "{values:?}");
    }
}

#[test]
fn fingerprints_need_no_identity_and_follow_only_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let me = TestKey::new(dir.path(), "me.txt");
    let path = store_path(dir.path(), "dev");
    let recipients = Recipients::parse([&me.recipient]).unwrap();
    let mut open = Store::load(&path)
        .unwrap()
        .open(&Identities::default())
        .unwrap();
    open.set("db", "password", Plaintext::new("a")).unwrap();
    open.set("db", "user", Plaintext::new("b")).unwrap();
    open.set("api", "token", Plaintext::new("c")).unwrap();
    open.write(&recipients).unwrap();

    let before = Store::load(&path).unwrap();
    let db = before.fingerprint("db", &["user", "password"]);
    assert_eq!(
        db,
        before.fingerprint("db", &["password", "user"]),
        "key order does not matter"
    );
    assert_ne!(db, before.fingerprint("db", &["password"]));
    assert_ne!(
        before.fingerprint("db", &["nope"]),
        before.fingerprint("db", &["nope2"])
    );
    let api = before.fingerprint("api", &["token"]);

    let mut open = before.open(&me.identities()).unwrap();
    assert_eq!(open.get("db", "user").map(Plaintext::expose), Some("b"));
    open.set("db", "password", Plaintext::new("a2")).unwrap();
    open.write(&recipients).unwrap();
    let after = Store::load(&path).unwrap();
    assert_ne!(after.fingerprint("db", &["user", "password"]), db);
    assert_eq!(
        after.fingerprint("api", &["token"]),
        api,
        "other secrets keep their fingerprint"
    );
    assert_eq!(
        after.fingerprint("db", &["user"]),
        before.fingerprint("db", &["user"])
    );
    assert_eq!(
        after.ciphertext("db", "user"),
        before.ciphertext("db", "user")
    );
}

#[test]
fn generate_remove_and_recipient_changes() {
    let dir = tempfile::tempdir().unwrap();
    let me = TestKey::new(dir.path(), "me.txt");
    let new = TestKey::new(dir.path(), "new.txt");
    let path = store_path(dir.path(), "prod");
    let mut open = Store::load(&path)
        .unwrap()
        .open(&Identities::default())
        .unwrap();
    open.generate("db", "password", 40).unwrap();
    open.set("db", "user", Plaintext::new("u")).unwrap();
    let generated = open.get("db", "password").unwrap().clone();
    assert_eq!(generated.len(), 40);
    assert!(generated
        .expose()
        .chars()
        .all(|c| c.is_ascii_alphanumeric()));
    open.write(&Recipients::parse([&me.recipient]).unwrap())
        .unwrap();
    let first = std::fs::read_to_string(&path).unwrap();

    let store = Store::load(&path).unwrap();
    let mut open = store.open(&me.identities()).unwrap();
    let both = Recipients::parse([&me.recipient, &new.recipient]).unwrap();
    assert!(open.write(&both).unwrap());
    let rekeyed = std::fs::read_to_string(&path).unwrap();
    assert_eq!(enc_line(&rekeyed, "password"), enc_line(&first, "password"));
    assert_eq!(enc_line(&rekeyed, "mac"), enc_line(&first, "mac"));
    assert_sops_opens(&rekeyed, &new.file);

    assert!(open.remove("db", "user"));
    assert!(!open.remove("db", "user"));
    assert!(open.write(&both).unwrap());
    let store = Store::load(&path).unwrap();
    assert!(store.contains("db", "password") && !store.contains("db", "user"));
    assert_eq!(
        store.get(&new.identities(), "db", "password").unwrap(),
        Some(&generated)
    );
    assert!(open.set("x_unencrypted", "k", Plaintext::new("v")).is_err());
}

#[test]
fn a_store_needs_an_identity_once_it_exists() {
    let dir = tempfile::tempdir().unwrap();
    let me = TestKey::new(dir.path(), "me.txt");
    let path = store_path(dir.path(), "prod");
    let mut open = Store::load(&path)
        .unwrap()
        .open(&Identities::default())
        .unwrap();
    open.set("db", "password", Plaintext::new("p")).unwrap();
    open.write(&Recipients::parse([&me.recipient]).unwrap())
        .unwrap();
    let err = Store::load(&path)
        .unwrap()
        .open(&Identities::default())
        .unwrap_err();
    assert_eq!(err.code_str(), "stackc::seal::no_identity");
}

#[test]
fn a_sops_file_of_another_shape_is_not_a_store() {
    let text = std::fs::read_to_string(fixture_path("example.enc.yaml")).unwrap();
    let err =
        Store::from_text(Path::new("environments/x.secrets.sops.yaml"), Some(text)).unwrap_err();
    assert_eq!(err.code_str(), "stackc::seal::store_shape");
}

#[test]
fn an_updated_store_is_built_in_memory_and_opens_without_an_identity() {
    let dir = tempfile::tempdir().unwrap();
    let me = TestKey::new(dir.path(), "me.txt");
    let path = store_path(dir.path(), "dev");
    let recipients = Recipients::parse([&me.recipient]).unwrap();
    let mut open = Store::load(&path)
        .unwrap()
        .open(&Identities::default())
        .unwrap();
    open.set("db", "password", Plaintext::new("pw-in-memory"))
        .unwrap();
    let updated = open.updated(&recipients).unwrap().expect("a new store");
    assert!(!path.exists(), "updated() writes nothing");
    // Sealing reads values from it with no identity: it is already open.
    let value = updated
        .get(&Identities::default(), "db", "password")
        .unwrap();
    assert_eq!(value.map(Plaintext::expose), Some("pw-in-memory"));
    assert!(!updated.text().unwrap().contains("pw-in-memory"));
    updated.write().unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        updated.text().unwrap()
    );
    // Nothing changes when nothing did.
    let again = Store::load(&path).unwrap().open(&me.identities()).unwrap();
    assert!(again.updated(&recipients).unwrap().is_none());
}
