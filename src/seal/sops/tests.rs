//! Tests of whole-file decrypt/encrypt against the real sops fixtures and the checker.

use super::*;
use crate::seal::testutil::{fixture_identities, fixture_path, sops_check, TestKey};
use crate::value::map;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).unwrap()
}

fn plain(name: &str) -> Vec<Value> {
    crate::yaml::parse_documents(&fixture(name)).unwrap()
}

#[test]
fn decrypts_every_real_fixture_to_its_plaintext() {
    for (enc, key, want) in [
        (
            "flux-age-v3.9.0.enc.yaml",
            "flux-age.agekey.txt",
            "flux-age-v3.9.0.plain.yaml",
        ),
        (
            "flux-secret-age-v3.7.0.enc.yaml",
            "flux-age.agekey.txt",
            "flux-secret-age-v3.7.0.plain.yaml",
        ),
        (
            "flux-global-v3.10.2.enc.yaml",
            "flux-age-global.agekey.txt",
            "flux-global-v3.10.2.plain.yaml",
        ),
        (
            "sops-example.enc.yaml",
            "sops-example.agekey.txt",
            "sops-example.plain.yaml",
        ),
    ] {
        let file = SopsFile::parse(enc, &fixture(enc)).unwrap();
        let opened = file
            .decrypt(&fixture_identities(key))
            .unwrap_or_else(|e| panic!("{enc}: {e}"));
        let got: Vec<Value> = opened.documents().iter().map(Node::expose).collect();
        assert_eq!(got, plain(want), "{enc}");
    }
}

#[test]
fn typed_values_decrypt_to_their_types() {
    let file = SopsFile::parse("x", &fixture("sops-example.enc.yaml")).unwrap();
    let opened = file
        .decrypt(&fixture_identities("sops-example.agekey.txt"))
        .unwrap();
    let doc = opened.documents()[0].expose();
    assert_eq!(doc.get_path("number"), Some(&Value::Float(1_234_568_000.0)));
    assert_eq!(
        doc.get_path("somebooleans"),
        Some(&Value::List(vec![Value::Bool(true), Value::Bool(false)]))
    );
    let leaf = opened.documents()[0].get(&["number"]).unwrap();
    assert!(matches!(
        leaf,
        Node::Secret(SecretLeaf {
            ty: LeafType::Float,
            ..
        })
    ));
}

#[test]
fn each_kind_of_damage_has_its_own_error() {
    let good = fixture("flux-age-v3.9.0.enc.yaml");
    let flux = fixture_identities("flux-age.agekey.txt");
    let tampered_value = good.replace("data:mHeXsmQ=", "data:mHeXsmA=");
    let tampered_mac = good.replace(
        "mac: ENC[AES256_GCM,data:vmrF",
        "mac: ENC[AES256_GCM,data:wmrF",
    );
    let tampered_time = good.replace("2024-11-12T13:33:42Z", "2024-11-12T13:33:43Z");
    let moved = good.replace("  key: ENC", "  other: ENC");
    let clear_edit = good.replace("name: age", "name: agf");
    let truncated = &good[..good.find("  lastmodified").unwrap() - 40];
    let cases: Vec<(&str, String, &Identities, &str)> = vec![
        (
            "panic fixture",
            fixture("flux-panic-INVALID.enc.yaml"),
            &flux,
            "stackc::seal::mac_mismatch",
        ),
        (
            "tampered value",
            tampered_value,
            &flux,
            "stackc::seal::value_tampered",
        ),
        (
            "value moved to another key",
            moved,
            &flux,
            "stackc::seal::value_tampered",
        ),
        (
            "tampered mac",
            tampered_mac,
            &flux,
            "stackc::seal::mac_tampered",
        ),
        (
            "tampered lastmodified",
            tampered_time,
            &flux,
            "stackc::seal::mac_tampered",
        ),
        (
            "clear value edited",
            clear_edit,
            &flux,
            "stackc::seal::mac_mismatch",
        ),
        (
            "truncated",
            truncated.to_string(),
            &flux,
            "stackc::seal::malformed",
        ),
        (
            "not sops",
            fixture("flux-age-v3.9.0.plain.yaml"),
            &flux,
            "stackc::seal::not_sops",
        ),
        (
            "not yaml",
            "a: [b\n".to_string(),
            &flux,
            "stackc::seal::malformed",
        ),
    ];
    let global = fixture_identities("flux-age-global.agekey.txt");
    let mut cases = cases;
    cases.push((
        "other key",
        good.clone(),
        &global,
        "stackc::seal::no_identity",
    ));
    for (what, text, ids, code) in cases {
        let err = SopsFile::parse("f.yaml", &text)
            .and_then(|f| f.decrypt(ids))
            .expect_err(what);
        assert_eq!(err.code_str(), code, "{what}: {err}");
        assert!(!err.to_string().contains("value\n"), "{what}");
    }
}

#[test]
fn the_no_identity_error_lists_recipients_and_places() {
    let file = SopsFile::parse("out/prod/s.yaml", &fixture("flux-age-v3.9.0.enc.yaml")).unwrap();
    let err = file.decrypt(&Identities::default()).unwrap_err();
    let SealError::NoIdentity { recipients, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        recipients,
        &["age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29"]
    );
    assert!(err.to_string().contains("out/prod/s.yaml"));
}

fn secret_doc(password: &str, user: &str) -> Node {
    Node::Map(
        [
            ("apiVersion".to_string(), Node::Clear("v1".into())),
            ("kind".to_string(), Node::Clear("Secret".into())),
            (
                "metadata".to_string(),
                Node::clear(map([("name", "db"), ("namespace", "prod")])),
            ),
            (
                "stringData".to_string(),
                Node::Map(
                    [
                        (
                            "password".to_string(),
                            Node::secret(Plaintext::new(password)),
                        ),
                        ("user".to_string(), Node::secret(Plaintext::new(user))),
                        ("empty".to_string(), Node::secret(Plaintext::default())),
                    ]
                    .into_iter()
                    .collect(),
                ),
            ),
        ]
        .into_iter()
        .collect(),
    )
}

fn enc_of(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
        .unwrap()
        .to_string()
}

#[test]
fn round_trip_passes_the_independent_checker() {
    let dir = tempfile::tempdir().unwrap();
    let me = TestKey::new(dir.path(), "me.txt");
    let other = TestKey::new(dir.path(), "other.txt");
    let recipients = Recipients::parse([&other.recipient, &me.recipient]).unwrap();
    let docs = [secret_doc("s3cr3t-pa55", "admin-user")];
    let text = encrypt(
        "db.yaml",
        &docs,
        &Rule::kubernetes_secret(),
        &recipients,
        None,
    )
    .unwrap();
    assert!(
        !text.contains("s3cr3t-pa55") && !text.contains("admin-user"),
        "{text}"
    );
    assert!(text.contains("encrypted_regex: ^(data|stringData)$\n  version: 3.9.0\n"));
    assert!(text.contains("\n  mac: ENC[AES256_GCM,") && text.contains("empty: \"\""));

    for key in [&me, &other] {
        let (ok, _, stderr) = sops_check(&text, &key.file, &["-q"]);
        assert!(ok, "{stderr}\n{text}");
    }
    let (ok, values, stderr) = sops_check(&text, &me.file, &["--values"]);
    assert!(ok, "{stderr}");
    assert!(
        values.contains("s3cr3t-pa55") && values.contains("admin-user"),
        "{values}"
    );

    let opened = SopsFile::parse("db.yaml", &text)
        .unwrap()
        .decrypt(&me.identities())
        .unwrap();
    assert_eq!(opened.documents(), &docs);
}

#[test]
fn typed_values_and_multiple_documents_pass_the_checker() {
    let dir = tempfile::tempdir().unwrap();
    let me = TestKey::new(dir.path(), "me.txt");
    let recipients = Recipients::parse([&me.recipient]).unwrap();
    let doc = |n: i64| {
        Node::clear(map([
            ("name", Value::from(format!("doc{n}"))),
            ("count", Value::Int(n)),
            ("ratio", Value::Float(1_234_568_000.0)),
            ("half", Value::Float(0.5)),
            ("on", Value::Bool(true)),
            ("off", Value::Bool(false)),
            ("nothing", Value::Null),
            ("list", Value::List(vec!["a".into(), Value::Int(2)])),
            ("note_unencrypted", "in clear".into()),
            ("multi", "line one\nline two\n".into()),
        ]))
    };
    let docs = [doc(1), doc(2)];
    let text = encrypt("multi.yaml", &docs, &Rule::default(), &recipients, None).unwrap();
    assert!(
        text.contains("type:int]") && text.contains("type:float]") && text.contains("type:bool]")
    );
    assert!(text.contains("note_unencrypted: in clear"));
    let (ok, _, stderr) = sops_check(&text, &me.file, &["-q"]);
    assert!(ok, "{stderr}\n{text}");
    let opened = SopsFile::parse("multi.yaml", &text)
        .unwrap()
        .decrypt(&me.identities())
        .unwrap();
    let got: Vec<Value> = opened.documents().iter().map(Node::expose).collect();
    let want: Vec<Value> = docs.iter().map(Node::expose).collect();
    assert_eq!(got, want);
}

#[test]
fn re_encrypting_unchanged_input_rewrites_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let me = TestKey::new(dir.path(), "me.txt");
    let recipients = Recipients::parse([&me.recipient]).unwrap();
    let rule = Rule::kubernetes_secret();
    let first = encrypt("s", &[secret_doc("p1", "u1")], &rule, &recipients, None).unwrap();
    let opened = SopsFile::parse("s", &first)
        .unwrap()
        .decrypt(&me.identities())
        .unwrap();
    let again = encrypt(
        "s",
        &[secret_doc("p1", "u1")],
        &rule,
        &recipients,
        Some(&opened),
    )
    .unwrap();
    assert_eq!(again, first);

    let changed = encrypt(
        "s",
        &[secret_doc("p2", "u1")],
        &rule,
        &recipients,
        Some(&opened),
    )
    .unwrap();
    assert_eq!(
        enc_of(&changed, "user"),
        enc_of(&first, "user"),
        "unchanged value keeps its bytes"
    );
    assert_ne!(enc_of(&changed, "password"), enc_of(&first, "password"));
    assert_ne!(enc_of(&changed, "mac"), enc_of(&first, "mac"));
    assert_eq!(enc_of(&changed, "enc"), enc_of(&first, "enc"));
    let (ok, _, stderr) = sops_check(&changed, &me.file, &["-q"]);
    assert!(ok, "{stderr}");

    // Changing back to the old value is a change too, with a fresh IV (never the old ENC).
    let reopened = SopsFile::parse("s", &changed)
        .unwrap()
        .decrypt(&me.identities())
        .unwrap();
    let back = encrypt(
        "s",
        &[secret_doc("p1", "u1")],
        &rule,
        &recipients,
        Some(&reopened),
    )
    .unwrap();
    assert_ne!(enc_of(&back, "password"), enc_of(&first, "password"));
}

#[test]
fn rekey_keeps_values_lastmodified_and_mac() {
    let dir = tempfile::tempdir().unwrap();
    let me = TestKey::new(dir.path(), "me.txt");
    let new = TestKey::new(dir.path(), "new.txt");
    let rule = Rule::kubernetes_secret();
    let first = encrypt(
        "s",
        &[secret_doc("p", "u")],
        &rule,
        &Recipients::parse([&me.recipient]).unwrap(),
        None,
    )
    .unwrap();
    let opened = SopsFile::parse("s", &first)
        .unwrap()
        .decrypt(&me.identities())
        .unwrap();
    let both = Recipients::parse([&me.recipient, &new.recipient]).unwrap();
    let rekeyed = rekey(&opened, &both).unwrap();
    for key in ["password", "user", "mac", "lastmodified"] {
        assert_eq!(enc_of(&rekeyed, key), enc_of(&first, key), "{key}");
    }
    let sealed = SopsFile::parse("s", &rekeyed).unwrap();
    assert_eq!(sealed.recipients(), both.to_vec());
    for key in [&me, &new] {
        let (ok, _, stderr) = sops_check(&rekeyed, &key.file, &["-q"]);
        assert!(ok, "{stderr}");
    }
    // Dropping the old recipient: the new one alone opens it.
    let only_new = rekey(&opened, &Recipients::parse([&new.recipient]).unwrap()).unwrap();
    let err = SopsFile::parse("s", &only_new)
        .unwrap()
        .decrypt(&me.identities())
        .unwrap_err();
    assert_eq!(err.code_str(), "stackc::seal::no_identity");
    // encrypt() with changed recipients and unchanged values is the same rekey.
    let via_encrypt = encrypt("s", &[secret_doc("p", "u")], &rule, &both, Some(&opened)).unwrap();
    assert_eq!(enc_of(&via_encrypt, "mac"), enc_of(&first, "mac"));
    assert_eq!(
        enc_of(&via_encrypt, "lastmodified"),
        enc_of(&first, "lastmodified")
    );
}

#[test]
fn a_secret_outside_the_rule_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let me = TestKey::new(dir.path(), "me.txt");
    let doc = Node::Map(
        [("metadata".to_string(), Node::secret(Plaintext::new("leak")))]
            .into_iter()
            .collect(),
    );
    let err = encrypt(
        "s",
        &[doc],
        &Rule::kubernetes_secret(),
        &Recipients::parse([&me.recipient]).unwrap(),
        None,
    )
    .unwrap_err();
    assert_eq!(err.code_str(), "stackc::internal");
    assert!(!err.to_string().contains("leak"));
}

#[test]
fn reencrypting_a_real_fixture_keeps_its_ciphertexts() {
    let text = fixture("flux-age-v3.9.0.enc.yaml");
    let ids = fixture_identities("flux-age.agekey.txt");
    let opened = SopsFile::parse("f", &text).unwrap().decrypt(&ids).unwrap();
    let recipients = Recipients::parse(opened.sealed().recipients()).unwrap();
    let out = encrypt(
        "f",
        opened.documents(),
        &Rule::kubernetes_secret(),
        &recipients,
        Some(&opened),
    )
    .unwrap();
    assert_eq!(enc_of(&out, "key"), enc_of(&text, "key"));
    assert_eq!(enc_of(&out, "mac"), enc_of(&text, "mac"));
    let key_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key_file.path(), fixture("flux-age.agekey.txt")).unwrap();
    let (ok, _, stderr) = sops_check(&out, key_file.path(), &["-q"]);
    assert!(ok, "{stderr}");
}
