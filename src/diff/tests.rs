//! End-to-end tests of the diff: two sides in, every rendering out.

use super::*;
use crate::object::{ObjectId, RenderedObject};
use crate::yaml::parse_documents;

/// One object from literal YAML, rendered by `service`.
fn object(service: Option<&str>, yaml: &str) -> RenderedObject {
    let body = parse_documents(yaml).expect("test YAML parses").remove(0);
    let id = ObjectId::of(&body).expect("test object has an id");
    let path = format!(
        "{}/{}-{}.yaml",
        id.namespace,
        id.kind.to_ascii_lowercase(),
        id.name
    );
    RenderedObject {
        id,
        body,
        service: service.map(str::to_string),
        path,
        origin: None,
    }
}

fn deployment(name: &str, replicas: u32, cpu: &str) -> RenderedObject {
    object(
        Some(name),
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: apps\n\
             spec:\n  replicas: {replicas}\n  template:\n    spec:\n      containers:\n        - name: {name}\n\
             \x20         image: nginx\n          resources:\n            limits:\n              cpu: {cpu}\n"
        ),
    )
}

fn config_map(name: &str, service: Option<&str>) -> RenderedObject {
    object(service, &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: apps\ndata:\n  a: \"1\"\n"))
}

fn secret(name: &str, data: &str) -> RenderedObject {
    object(
        Some("db"),
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: apps\ntype: Opaque\n{data}\
             sops:\n  mac: ENC[AES256_GCM,data:MACMACMAC,type:str]\n  lastmodified: \"2024-01-01T00:00:00Z\"\n"
        ),
    )
}

fn view(name: &str, keys: &[(&str, KeyDigest)]) -> SecretView {
    SecretView {
        id: ObjectId {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: "apps".into(),
            name: name.into(),
        },
        keys: keys
            .iter()
            .map(|(k, d)| ((*k).to_string(), d.clone()))
            .collect(),
    }
}

fn all_renderings(report: &DiffReport, color: bool) -> Vec<(&'static str, String)> {
    vec![
        ("text", report.to_text(color)),
        ("stat", report.to_stat(color)),
        ("json", report.to_json().expect("JSON renders")),
        ("unified", report.to_unified(color)),
    ]
}

#[test]
fn identical_sides_have_no_differences() {
    let objects = vec![
        deployment("web", 2, "1000m"),
        config_map("settings", Some("web")),
    ];
    let a = Side::new("staging", objects.clone());
    let b = Side::new("production", objects);
    let report = diff(&a, &b, &DiffOptions::default());
    assert!(!report.has_differences());
    assert!(report.objects.is_empty());
    assert_eq!(report.summary.unchanged, 2);
    assert_eq!(
        report.to_text(false),
        "0 objects changed, 0 only in staging, 0 only in production (2 unchanged)\n"
    );
    assert_eq!(report.to_unified(false), "");
}

#[test]
fn text_groups_changes_by_object_in_sorted_order() {
    let a = Side::new(
        "staging",
        vec![
            deployment("web", 2, "1000m"),
            config_map("old", None),
            deployment("api", 1, "1"),
        ],
    );
    let b = Side::new(
        "production",
        vec![
            deployment("api", 1, "1"),
            deployment("web", 3, "2000m"),
            config_map("new", Some("web")),
        ],
    );
    let report = diff(&a, &b, &DiffOptions::default());
    assert!(report.has_differences());
    let expected = "\
+ ConfigMap apps/new (only in production)
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: new
      namespace: apps
    data:
      a: \"1\"
- ConfigMap apps/old (only in staging)
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: old
      namespace: apps
    data:
      a: \"1\"
~ Deployment apps/web
    spec.replicas: 2 -> 3
    spec.template.spec.containers[name=web].resources.limits.cpu: 1000m -> 2000m

1 object changed, 1 only in staging, 1 only in production (1 unchanged)
";
    assert_eq!(report.to_text(false), expected);
    let stat = "\
+ ConfigMap apps/new  | only in production
- ConfigMap apps/old  | only in staging
~ Deployment apps/web | 2 fields

1 object changed, 1 only in staging, 1 only in production (1 unchanged)
";
    assert_eq!(report.to_stat(false), stat);
    let unified = report.to_unified(false);
    assert!(
        unified.contains("--- /dev/null\n+++ b/production/apps/configmap-new.yaml\n"),
        "{unified}"
    );
    assert!(
        unified.contains("--- a/staging/apps/configmap-old.yaml\n+++ /dev/null\n"),
        "{unified}"
    );
    assert!(
        unified.contains(
            "--- a/staging/apps/deployment-web.yaml\n+++ b/production/apps/deployment-web.yaml\n"
        ),
        "{unified}"
    );
    assert!(
        unified.contains("-  replicas: 2\n+  replicas: 3\n"),
        "{unified}"
    );
}

#[test]
fn type_changes_and_multiline_text_are_readable() {
    let a = Side::new("a", vec![object(None, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  n: 1\n  conf: \"x=1\\ny=2\\nz=3\\n\"\n")]);
    let b = Side::new("b", vec![object(None, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  n: \"1\"\n  conf: \"x=1\\ny=5\\nz=3\\n\"\n")]);
    let text = diff(&a, &b, &DiffOptions::default()).to_text(false);
    let expected = "\
~ ConfigMap c
    data.n: 1 -> \"1\" (integer -> string)
    data.conf: (text changed)
      @@ -1,3 +1,3 @@
       x=1
      -y=2
      +y=5
       z=3
";
    assert!(text.starts_with(expected), "{text}");
}

#[test]
fn normalization_pairs_objects_across_domains_and_suffixes() {
    let ingress = |name: &str, host: &str| {
        object(
            Some("auth"),
            &format!(
                "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: auth\n\
                 spec:\n  rules:\n    - host: {host}\n  tls:\n    - hosts: [{host}]\n      secretName: auth-tls\n"
            ),
        )
    };
    let a = Side::new(
        "staging",
        vec![ingress("auth-stg", "auth.staging.example.org")],
    )
    .normalize("staging.example.org", "<domain>")
    .normalize("-stg", "");
    let b = Side::new("production", vec![ingress("auth", "auth.example.org")])
        .normalize("example.org", "<domain>");
    let report = diff(&a, &b, &DiffOptions::default());
    assert!(!report.has_differences(), "{}", report.to_text(false));
    assert_eq!(report.summary.unchanged, 1);

    // Without normalization they do not pair at all.
    let raw = diff(
        &Side::new("staging", a.objects.clone()),
        &Side::new("production", b.objects.clone()),
        &DiffOptions::default(),
    );
    assert_eq!((raw.summary.only_in_a, raw.summary.only_in_b), (1, 1));

    // A real difference shows each side's real value under the shared path.
    let c = Side::new("production", vec![ingress("auth", "login.example.org")])
        .normalize("example.org", "<domain>");
    let report = diff(&a, &c, &DiffOptions::default());
    assert_eq!(report.objects.len(), 1);
    assert_eq!(report.objects[0].id.name, "auth");
    let text = report.to_text(false);
    assert!(
        text.contains("  - spec.rules[host=auth.<domain>]: {host: auth.staging.example.org}\n"),
        "{text}"
    );
    assert!(text.contains("    spec.tls[secretName=auth-tls].hosts: [auth.staging.example.org] -> [login.example.org]\n"), "{text}");
}

#[test]
fn secret_keys_are_compared_by_digest_and_not_compared_ones_are_aggregated() {
    let data = "data:\n  password: ENC[AES256_GCM,data:AAAA,type:str]\n  user: ENC[AES256_GCM,data:BBBB,type:str]\n  old: ENC[AES256_GCM,data:CCCC,type:str]\n";
    let data_b = "data:\n  password: ENC[AES256_GCM,data:DDDD,type:str]\n  user: ENC[AES256_GCM,data:EEEE,type:str]\n  new: ENC[AES256_GCM,data:FFFF,type:str]\n";
    let key = [7u8; 32];
    let a = Side::new(
        "staging",
        vec![
            secret("db", data),
            secret(
                "api",
                "data:\n  token: ENC[AES256_GCM,data:GGGG,type:str]\n",
            ),
        ],
    )
    .with_secrets(vec![
        view(
            "db",
            &[
                ("password", KeyDigest::of(&key, b"one")),
                ("user", KeyDigest::of(&key, b"admin")),
                ("old", KeyDigest::of(&key, b"x")),
            ],
        ),
        view("api", &[("token", KeyDigest::of(&key, b"t"))]),
    ]);
    let b = Side::new(
        "production",
        vec![
            secret("db", data_b),
            secret(
                "api",
                "data:\n  token: ENC[AES256_GCM,data:HHHH,type:str]\n",
            ),
        ],
    )
    .with_secrets(vec![
        view(
            "db",
            &[
                ("password", KeyDigest::of(&key, b"two")),
                ("user", KeyDigest::of(&key, b"admin")),
                (
                    "new",
                    KeyDigest::Unknown {
                        reason: "no identity could decrypt".into(),
                    },
                ),
            ],
        ),
        view(
            "api",
            &[(
                "token",
                KeyDigest::Unknown {
                    reason: "no identity could decrypt".into(),
                },
            )],
        ),
    ]);
    let report = diff(&a, &b, &DiffOptions::default());

    // api: only a not-compared key, nothing proven: unchanged, but in the summary.
    assert_eq!(report.objects.len(), 1);
    let db = &report.objects[0];
    assert!(
        db.changes.is_empty(),
        "ciphertext and sops metadata are not changes: {:?}",
        db.changes
    );
    let statuses: Vec<(&str, &str)> = db
        .secret_keys
        .iter()
        .map(|k| (k.key.as_str(), k.status.as_str()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("new", "added"),
            ("old", "removed"),
            ("password", "changed"),
            ("user", "unchanged")
        ]
    );
    let s = &report.summary;
    assert_eq!((s.changed, s.unchanged), (1, 1));
    assert_eq!(
        s.secret_keys,
        SecretKeyCounts {
            changed: 1,
            unchanged: 1,
            added: 1,
            removed: 1,
            not_compared: 1
        }
    );
    assert_eq!(
        s.not_compared,
        vec![NotCompared {
            reason: "production: no identity could decrypt".into(),
            secrets: vec!["Secret apps/api".into()],
            keys: 1,
        }]
    );
    assert!(report.has_differences());
    assert!(!report.is_complete());
    let text = report.to_text(false);
    let expected = "\
~ Secret apps/db
  + secret key new: added
  - secret key old: removed
    secret key password: changed

1 object changed, 0 only in staging, 0 only in production (1 unchanged)
secret keys: 1 changed, 1 added, 1 removed, 1 not compared (1 unchanged)
  not compared (production: no identity could decrypt): Secret apps/api (1 key)
";
    assert_eq!(text, expected);

    // A changed Secret with an unreadable key lists it with its reason.
    let b2 = Side::new("production", b.objects.clone()).with_secrets(vec![view(
        "db",
        &[
            (
                "password",
                KeyDigest::Unknown {
                    reason: "no identity could decrypt".into(),
                },
            ),
            ("user", KeyDigest::of(&key, b"root")),
            ("old", KeyDigest::of(&key, b"x")),
        ],
    )]);
    let text = diff(&a, &b2, &DiffOptions::default()).to_text(false);
    assert!(
        text.contains(
            "    secret key password: not compared (production: no identity could decrypt)\n"
        ),
        "{text}"
    );
    assert!(text.contains("secret key user: changed"), "{text}");
    // Without a view at all, api's key cannot be compared either.
    assert!(
        text.contains(
            "(production: no decrypted view of this secret was provided): Secret apps/api"
        ),
        "{text}"
    );
}

#[test]
fn secret_values_and_ciphertext_never_appear_in_any_rendering() {
    let a = Side::new(
        "staging",
        vec![
            secret(
                "db",
                "data:\n  password: aHVudGVyMg==\nstringData:\n  token: hunter2\n",
            ),
            secret(
                "gone",
                "data:\n  password: ENC[AES256_GCM,data:SEKRITCIPHER,type:str]\n",
            ),
        ],
    );
    let b = Side::new("production", vec![
        secret("db", "metadata2: x\ndata:\n  password: ENC[AES256_GCM,data:OTHERCIPHER,type:str]\n  extra: c3VwZXJzZWNyZXQ=\n"),
        object(None, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  x: ENC[AES256_GCM,data:CMCIPHER,type:str]\nsops: {mac: MACVALUE}\n"),
    ]);
    let report = diff(&a, &b, &DiffOptions::default());
    assert_eq!(report.objects.len(), 3);
    for color in [false, true] {
        for (name, output) in all_renderings(&report, color) {
            for needle in [
                "hunter2",
                "aHVudGVyMg",
                "SEKRITCIPHER",
                "OTHERCIPHER",
                "c3VwZXJzZWNyZXQ",
                "CMCIPHER",
                "ENC[",
                "MACVALUE",
                "MACMACMAC",
                "lastmodified",
            ] {
                assert!(!output.contains(needle), "{name} leaks {needle}:\n{output}");
            }
        }
    }
    let text = report.to_text(false);
    assert!(
        text.contains("password: <redacted>"),
        "key names stay visible:\n{text}"
    );
    assert!(text.contains("  + metadata2: x"), "{text}");
}

#[test]
fn json_has_the_documented_schema() {
    let a = Side::new(
        "staging",
        vec![
            deployment("web", 2, "1000m"),
            config_map("old", None),
            secret("db", "data:\n  p: ENC[x]\n"),
        ],
    )
    .with_secrets(vec![view(
        "db",
        &[(
            "p",
            KeyDigest::Unknown {
                reason: "no identity".into(),
            },
        )],
    )]);
    let b = Side::new(
        "production",
        vec![
            deployment("web", 3, "1000m"),
            secret("db", "type2: x\ndata:\n  p: ENC[y]\n"),
        ],
    )
    .with_secrets(vec![view("db", &[("p", KeyDigest::Known([1; 32]))])]);
    let report = diff(&a, &b, &DiffOptions::default());
    let json: serde_json::Value =
        serde_json::from_str(&report.to_json().unwrap()).expect("JSON parses");
    assert_eq!(json["version"], 1);
    assert_eq!(json["a"], "staging");
    assert_eq!(json["b"], "production");
    let summary = &json["summary"];
    for field in [
        "changed",
        "only_in_a",
        "only_in_b",
        "unchanged",
        "secret_keys",
        "not_compared",
    ] {
        assert!(summary.get(field).is_some(), "summary.{field}");
    }
    assert_eq!(summary["changed"], 2);
    assert_eq!(summary["only_in_a"], 1);
    assert_eq!(summary["secret_keys"]["not_compared"], 1);
    assert_eq!(summary["not_compared"][0]["reason"], "staging: no identity");
    assert_eq!(summary["not_compared"][0]["secrets"][0], "Secret apps/db");

    let objects = json["objects"].as_array().unwrap();
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["ConfigMap", "Deployment", "Secret"]);
    let old = &objects[0];
    assert_eq!(old["status"], "only_in_a");
    assert!(old["b"].is_null());
    assert_eq!(old["a"]["path"], "apps/configmap-old.yaml");
    assert!(old["service"].is_null());
    let web = &objects[1];
    for field in [
        "status",
        "apiVersion",
        "kind",
        "namespace",
        "name",
        "service",
        "a",
        "b",
        "changes",
        "secret_keys",
    ] {
        assert!(web.get(field).is_some(), "objects[].{field}");
    }
    assert_eq!(web["status"], "changed");
    assert_eq!(web["apiVersion"], "apps/v1");
    assert_eq!(web["namespace"], "apps");
    assert_eq!(web["service"], "web");
    assert_eq!(
        web["changes"],
        serde_json::json!([{"path": "spec.replicas", "op": "changed", "a": 2, "b": 3}])
    );
    let db = &objects[2];
    assert_eq!(
        db["changes"],
        serde_json::json!([{"path": "type2", "op": "added", "b": "x"}])
    );
    assert_eq!(
        db["secret_keys"],
        serde_json::json!([{"key": "p", "status": "not_compared", "reason": "staging: no identity"}])
    );
}

/// (service, kind, names listed, unchanged count)
type FilterCase<'a> = (Option<&'a str>, Option<&'a str>, Vec<&'a str>, usize);

#[test]
fn filters_apply_before_the_summary() {
    let a = Side::new(
        "a",
        vec![
            deployment("web", 2, "1"),
            deployment("api", 2, "1"),
            config_map("settings", Some("web")),
        ],
    );
    let b = Side::new(
        "b",
        vec![
            deployment("web", 3, "1"),
            deployment("api", 3, "1"),
            config_map("settings", Some("web")),
        ],
    );
    let cases: Vec<FilterCase> = vec![
        (None, None, vec!["api", "web"], 1),
        (Some("web"), None, vec!["web"], 1),
        (None, Some("deployment"), vec!["api", "web"], 0),
        (Some("web"), Some("DEPLOYMENT"), vec!["web"], 0),
        (Some("web"), Some("ConfigMap"), vec![], 1),
        (Some("nope"), None, vec![], 0),
    ];
    for (service, kind, names, unchanged) in cases {
        let options = DiffOptions {
            service: service.map(str::to_string),
            kind: kind.map(str::to_string),
            ..DiffOptions::default()
        };
        let report = diff(&a, &b, &options);
        let got: Vec<&str> = report.objects.iter().map(|o| o.id.name.as_str()).collect();
        assert_eq!(got, names, "service {service:?} kind {kind:?}");
        assert_eq!(report.summary.changed, names.len());
        assert_eq!(
            report.summary.unchanged, unchanged,
            "service {service:?} kind {kind:?}"
        );
        assert_eq!(report.has_differences(), !names.is_empty());
    }
}

#[test]
fn colour_codes_appear_only_when_asked() {
    let a = Side::new(
        "a",
        vec![deployment("web", 2, "1"), config_map("old", None)],
    );
    let b = Side::new(
        "b",
        vec![deployment("web", 3, "1"), config_map("new", None)],
    );
    let report = diff(&a, &b, &DiffOptions::default());
    for (name, output) in all_renderings(&report, false) {
        assert!(
            !output.contains('\x1b'),
            "{name} is coloured without being asked"
        );
    }
    for (name, output) in all_renderings(&report, true) {
        assert_eq!(output.contains('\x1b'), name != "json", "{name}");
    }
    let text = report.to_text(true);
    assert!(
        text.contains("\x1b[1;33m~ Deployment apps/web\x1b[0m"),
        "{text}"
    );
    assert!(
        text.contains("\x1b[33m    spec.replicas: 2 -> 3\x1b[0m"),
        "{text}"
    );
    assert!(
        text.contains("\x1b[1;31m- ConfigMap apps/old\x1b[0m"),
        "{text}"
    );
    assert!(
        text.contains("\x1b[1;32m+ ConfigMap apps/new\x1b[0m"),
        "{text}"
    );
    let options = DiffOptions {
        color: true,
        ..DiffOptions::default()
    };
    assert_eq!(report.render(Format::Text, &options).unwrap(), text);
    assert_eq!(
        report.render(Format::Json, &options).unwrap(),
        report.to_json().unwrap()
    );
}

#[test]
fn duplicate_ids_pair_deterministically() {
    let mut one = config_map("c", None);
    one.path = "x/1.yaml".into();
    let mut two = config_map("c", None);
    two.path = "x/2.yaml".into();
    two.body = parse_documents(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: apps}\ndata: {a: \"2\"}\n",
    )
    .unwrap()
    .remove(0);
    let a = Side::new("a", vec![two.clone(), one.clone()]);
    let b = Side::new("b", vec![one, two]);
    let report = diff(&a, &b, &DiffOptions::default());
    assert!(!report.has_differences());
    assert_eq!(report.summary.unchanged, 2);
}

#[test]
fn skipping_normalized_bodies_changes_no_rendering_but_unified() {
    let a = Side::new(
        "staging",
        vec![deployment("web", 2, "1000m"), config_map("old", None)],
    );
    let b = Side::new(
        "production",
        vec![
            deployment("web", 3, "2000m"),
            config_map("new", Some("web")),
        ],
    );
    let full = diff(&a, &b, &DiffOptions::default());
    let lean = diff(
        &a,
        &b,
        &DiffOptions {
            skip_normalized_bodies: true,
            ..DiffOptions::default()
        },
    );
    assert_eq!(lean.to_text(false), full.to_text(false));
    assert_eq!(lean.to_stat(false), full.to_stat(false));
    assert_eq!(lean.to_json().unwrap(), full.to_json().unwrap());
    assert!(lean
        .objects
        .iter()
        .all(|o| o.a.iter().chain(&o.b).all(|s| s.normalized.is_none())));
}

#[test]
fn dropping_the_bodies_of_equal_pairs_changes_no_rendering() {
    let with = |yaml: &str| object(Some("web"), yaml);
    let colliding = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: k, namespace: apps}\n\
                     data: {x.staging.example.org: \"1\", x.<domain>: \"2\"}\n";
    let ignored = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: i, namespace: apps}\n\
                        sops: {a: \"1\"}\n";
    let mut dup = config_map("c", None);
    dup.path = "x/2.yaml".into();
    let a_objects = vec![
        deployment("web", 2, "1000m"),
        deployment("api", 2, "1000m"),
        config_map("settings", Some("web")),
        config_map("c", None),
        dup.clone(),
        config_map("old", None),
        with(colliding),
        with(ignored),
        secret(
            "db",
            "stringData:\n  password: ENC[AES256_GCM,data:aaa,type:str]\n",
        ),
    ];
    let b_objects = vec![
        deployment("web", 3, "1000m"),
        deployment("api", 2, "1000m"),
        config_map("settings", Some("web")),
        dup,
        config_map("c", None),
        config_map("new", Some("web")),
        with(colliding),
        with(ignored),
        secret(
            "db",
            "stringData:\n  password: ENC[AES256_GCM,data:bbb,type:str]\n",
        ),
    ];
    let a = Side::new("staging", a_objects)
        .normalize("staging.example.org", "<domain>")
        .with_secrets(vec![view("db", &[("password", KeyDigest::Known([1; 32]))])]);
    let b = Side::new("production", b_objects)
        .normalize("staging.example.org", "<domain>")
        .with_secrets(vec![view("db", &[("password", KeyDigest::Known([2; 32]))])]);
    let (mut lean_a, mut lean_b) = (a.clone(), b.clone());
    let mut dropped = 0;
    for (i, j) in compare::pairs(&a, &b) {
        if compare::bodies_equal(&a, &b, i, j) {
            lean_a.objects[i].body = crate::value::Value::Null;
            lean_b.objects[j].body = crate::value::Value::Null;
            dropped += 1;
        }
    }
    // `api`, `settings`, the two `c`s and `i` (its `sops` is not compared); not the keys
    // that collide once normalized, nor the Secret.
    assert_eq!(dropped, 5);
    for options in [
        DiffOptions::default(),
        DiffOptions {
            skip_normalized_bodies: true,
            ..DiffOptions::default()
        },
        DiffOptions {
            service: Some("web".into()),
            ..DiffOptions::default()
        },
        DiffOptions {
            kind: Some("configmap".into()),
            color: true,
            ..DiffOptions::default()
        },
    ] {
        let full = diff(&a, &b, &options);
        let lean = diff(&lean_a, &lean_b, &options);
        assert_eq!(
            all_renderings(&lean, options.color),
            all_renderings(&full, options.color),
            "{options:?}"
        );
    }
}
