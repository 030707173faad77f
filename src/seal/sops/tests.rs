//! Tests of whole-file decrypt/encrypt against the project's own fixtures (made by the real
//! sops 3.11.0, see `tests/fixtures/sops/README.md`) and the real `sops` CLI as the judge.

use super::*;
use crate::seal::testutil::{
    assert_sops_opens, fixture, fixture_identities, fixture_path, fixture_recipients, sops_decrypt,
    sops_values, TestKey,
};
use crate::value::map;

fn plain(name: &str) -> Vec<Value> {
    crate::yaml::parse_documents(&fixture(name)).unwrap()
}

/// Every fixture that must open: (encrypted file, key file, expected plaintext).
const FIXTURES: [(&str, &str, &str); 5] = [
    ("secret.enc.yaml", "secret.agekey.txt", "secret.plain.yaml"),
    (
        "secret-indent4.enc.yaml",
        "secret.agekey.txt",
        "secret.plain.yaml",
    ),
    (
        "secret-old-layout.enc.yaml",
        "secret.agekey.txt",
        "secret.plain.yaml",
    ),
    (
        "example.enc.yaml",
        "example.agekey.txt",
        "example.plain.yaml",
    ),
    ("multi.enc.yaml", "example.agekey.txt", "multi.plain.yaml"),
];

#[test]
fn decrypts_every_real_fixture_to_its_plaintext() {
    for (enc, key, want) in FIXTURES {
        let file = SopsFile::parse(enc, &fixture(enc)).unwrap();
        let opened = file
            .decrypt(&fixture_identities(key))
            .unwrap_or_else(|e| panic!("{enc}: {e}"));
        let got: Vec<Value> = opened.documents().iter().map(Node::expose).collect();
        assert_eq!(got, plain(want), "{enc}");
    }
}

#[test]
fn real_sops_agrees_on_every_fixture() {
    // The fixtures are only as good as the sops that made them: prove them with the sops here.
    for (enc, key, want) in FIXTURES {
        let text = sops_decrypt(&fixture(enc), &fixture_path(key), false)
            .unwrap_or_else(|e| panic!("sops decrypt {enc}: {e}"));
        assert_eq!(
            crate::yaml::parse_documents(&text).unwrap(),
            plain(want),
            "{enc}"
        );
    }
    let err = sops_decrypt(
        &fixture("broken-mac.enc.yaml"),
        &fixture_path("secret.agekey.txt"),
        false,
    )
    .expect_err("sops decrypted broken-mac.enc.yaml");
    assert!(err.contains("MAC mismatch"), "{err}");
}

#[test]
fn typed_values_decrypt_to_their_types() {
    let file = SopsFile::parse("x", &fixture("example.enc.yaml")).unwrap();
    let opened = file
        .decrypt(&fixture_identities("example.agekey.txt"))
        .unwrap();
    let doc = opened.documents()[0].expose();
    assert_eq!(doc.get_path("number"), Some(&Value::Float(1234.5678)));
    assert_eq!(doc.get_path("ratio"), Some(&Value::Float(0.5)));
    assert_eq!(doc.get_path("count"), Some(&Value::Int(42)));
    assert_eq!(
        doc.get_path("somebooleans"),
        Some(&Value::List(vec![Value::Bool(true), Value::Bool(false)]))
    );
    assert_eq!(
        doc.get_path("app2.key"),
        Some(&Value::from(
            "-----BEGIN TEST-ONLY BLOCK-----\nline two of a multi-line string\n-----END TEST-ONLY BLOCK-----\n"
        ))
    );
    for (path, ty) in [
        (&["number"][..], LeafType::Float),
        (&["count"][..], LeafType::Int),
    ] {
        let leaf = opened.documents()[0].get(path).unwrap();
        assert!(
            matches!(leaf, Node::Secret(SecretLeaf { ty: t, .. }) if *t == ty),
            "{path:?}"
        );
    }
}

/// `text` with the base64 character 3 places after `marker` replaced (still valid base64).
fn flip_after(text: &str, marker: &str) -> String {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in the text"))
        + marker.len()
        + 3;
    let new = if &text[at..=at] == "A" { "B" } else { "A" };
    format!("{}{new}{}", &text[..at], &text[at + 1..])
}

#[test]
fn each_kind_of_damage_has_its_own_error() {
    let good = fixture("secret.enc.yaml");
    let ids = fixture_identities("secret.agekey.txt");
    let tampered_value = flip_after(&good, "  password: ENC[AES256_GCM,data:");
    let tampered_mac = flip_after(&good, "mac: ENC[AES256_GCM,data:");
    let tampered_time = {
        let at = good.find("lastmodified: \"").unwrap() + "lastmodified: \"".len() + 18;
        let digit = if &good[at..=at] == "0" { "1" } else { "0" };
        format!("{}{digit}{}", &good[..at], &good[at + 1..])
    };
    assert_ne!(tampered_time, good);
    let moved = good.replace("  password: ENC", "  other: ENC");
    let clear_edit = good.replace("app: web", "app: wab");
    let truncated = &good[..good.find("  lastmodified").unwrap() - 40];
    let cases: Vec<(&str, String, &Identities, &str)> = vec![
        (
            "broken-mac fixture",
            fixture("broken-mac.enc.yaml"),
            &ids,
            "stackc::seal::mac_mismatch",
        ),
        (
            "tampered value",
            tampered_value,
            &ids,
            "stackc::seal::value_tampered",
        ),
        (
            "value moved to another key",
            moved,
            &ids,
            "stackc::seal::value_tampered",
        ),
        (
            "tampered mac",
            tampered_mac,
            &ids,
            "stackc::seal::mac_tampered",
        ),
        (
            "tampered lastmodified",
            tampered_time,
            &ids,
            "stackc::seal::mac_tampered",
        ),
        (
            "clear value edited",
            clear_edit,
            &ids,
            "stackc::seal::mac_mismatch",
        ),
        (
            "truncated",
            truncated.to_string(),
            &ids,
            "stackc::seal::malformed",
        ),
        (
            "not sops",
            fixture("secret.plain.yaml"),
            &ids,
            "stackc::seal::not_sops",
        ),
        (
            "not yaml",
            "a: [b\n".to_string(),
            &ids,
            "stackc::seal::malformed",
        ),
    ];
    let other = fixture_identities("other.agekey.txt");
    let mut cases = cases;
    cases.push((
        "other key",
        good.clone(),
        &other,
        "stackc::seal::no_identity",
    ));
    for (what, text, ids, code) in cases {
        let err = SopsFile::parse("f.yaml", &text)
            .and_then(|f| f.decrypt(ids))
            .expect_err(what);
        assert_eq!(err.code_str(), code, "{what}: {err}");
        assert!(!err.to_string().contains("s3cr3t-test-only"), "{what}");
    }
}

#[test]
fn the_no_identity_error_lists_recipients_and_places() {
    let file = SopsFile::parse("out/prod/s.yaml", &fixture("secret.enc.yaml")).unwrap();
    let err = file.decrypt(&Identities::default()).unwrap_err();
    let SealError::NoIdentity { recipients, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(recipients, &fixture_recipients("secret.agekey.txt"));
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
fn round_trip_passes_real_sops() {
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
        assert_sops_opens(&text, &key.file);
    }
    let values = sops_values(&text, &me.file);
    assert!(
        values.iter().any(|v| v == "s3cr3t-pa55") && values.iter().any(|v| v == "admin-user"),
        "{values:?}"
    );

    let opened = SopsFile::parse("db.yaml", &text)
        .unwrap()
        .decrypt(&me.identities())
        .unwrap();
    assert_eq!(opened.documents(), &docs);
}

#[test]
fn typed_values_and_multiple_documents_pass_real_sops() {
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
    let want: Vec<Value> = docs.iter().map(Node::expose).collect();
    // Real sops reads every document, with its type, as stackc wrote it.
    let by_sops = sops_decrypt(&text, &me.file, false).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        crate::yaml::parse_documents(&by_sops).unwrap(),
        want,
        "{by_sops}"
    );
    let opened = SopsFile::parse("multi.yaml", &text)
        .unwrap()
        .decrypt(&me.identities())
        .unwrap();
    let got: Vec<Value> = opened.documents().iter().map(Node::expose).collect();
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
    assert_sops_opens(&changed, &me.file);

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
        assert_sops_opens(&rekeyed, &key.file);
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
    let text = fixture("secret.enc.yaml");
    let ids = fixture_identities("secret.agekey.txt");
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
    for key in ["password", "username", "token", "mac"] {
        assert_eq!(enc_of(&out, key), enc_of(&text, key), "{key}");
    }
    assert_sops_opens(&out, &fixture_path("secret.agekey.txt"));
}
