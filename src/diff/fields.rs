//! The field-by-field comparison of two object bodies.
//!
//! Both bodies are walked as written, and every key, list identity and scalar is compared
//! after its side's normalization, so a change shows each side's real value while expected
//! differences (the domain, a name suffix) disappear.
//!
//! Lists are paired by this rule, in order:
//! 1. If every item on both sides is a scalar (`args`, `hosts`), the list is one value: a
//!    difference is one change of the whole list, which reads better than per-index churn.
//! 2. Otherwise, the first of [`MATCH_FIELDS`] that every item on both sides has as a scalar,
//!    unique within its side, pairs items by that field (`containers[name=web]`); reordering
//!    such a list is not a change.
//! 3. Otherwise items pair by index (`[0]`).

use super::normalize::Normalizer;
use super::path::{FieldPath, Segment};
use super::report::{Change, FieldChange};
use super::secret::{is_ciphertext, redact_ciphertext};
use crate::value::Value;
use indexmap::IndexMap;
use std::borrow::Cow;
use std::collections::BTreeSet;

/// Fields that identify an item of a list of maps, in order of preference: container, env,
/// volume and port `name`s; toleration and item `key`s; ingress `host`s, `path`s and TLS
/// `secretName`s; ports without names; volume mounts; affinity terms.
pub const MATCH_FIELDS: &[&str] = &[
    "name",
    "key",
    "host",
    "path",
    "secretName",
    "containerPort",
    "port",
    "mountPath",
    "ip",
    "topologyKey",
];

/// The changes from `a` to `b`, in document order, skipping the top-level fields in `ignore`.
pub(crate) fn diff_bodies(
    a: &Value,
    b: &Value,
    ignore: &[&str],
    na: Normalizer<'_>,
    nb: Normalizer<'_>,
) -> Vec<FieldChange> {
    let mut walker = Walker {
        na,
        nb,
        ignore,
        path: FieldPath::default(),
        out: Vec::new(),
    };
    walker.value(a, b);
    walker.out
}

struct Walker<'a> {
    na: Normalizer<'a>,
    nb: Normalizer<'a>,
    ignore: &'a [&'a str],
    path: FieldPath,
    out: Vec<FieldChange>,
}

impl Walker<'_> {
    fn emit(&mut self, change: Change) {
        self.out.push(FieldChange {
            path: self.path.clone(),
            change,
        });
    }

    fn at(&mut self, segment: Segment, f: impl FnOnce(&mut Self)) {
        self.path.push(segment);
        f(self);
        self.path.pop();
    }

    fn value(&mut self, a: &Value, b: &Value) {
        match (a, b) {
            (Value::Map(ma), Value::Map(mb)) => self.map(ma, mb),
            (Value::List(la), Value::List(lb)) => self.list(la, lb),
            _ => {
                if !self.scalar_eq(a, b) {
                    self.emit(Change::Changed {
                        a: redact_ciphertext(a),
                        b: redact_ciphertext(b),
                    });
                }
            }
        }
    }

    fn ignored(&self, key: &str) -> bool {
        self.path.is_root() && self.ignore.contains(&key)
    }

    fn map(&mut self, ma: &crate::value::Map, mb: &crate::value::Map) {
        let (na, nb) = (self.na, self.nb);
        let b_by_key: IndexMap<Cow<'_, str>, &Value> =
            mb.iter().map(|(k, v)| (nb.str(k), v)).collect();
        let mut seen = BTreeSet::new();
        for (key, va) in ma {
            if self.ignored(key) {
                continue;
            }
            let norm = na.str(key);
            seen.insert(norm.clone());
            match b_by_key.get(&norm) {
                Some(vb) => self.at(Segment::Key(norm.into_owned()), |w| w.value(va, vb)),
                None => self.at(Segment::Key(norm.into_owned()), |w| {
                    w.emit(Change::Removed {
                        a: redact_ciphertext(va),
                    });
                }),
            }
        }
        for (norm, vb) in &b_by_key {
            if self.ignored(norm) || seen.contains(norm) {
                continue;
            }
            self.at(Segment::Key(norm.to_string()), |w| {
                w.emit(Change::Added {
                    b: redact_ciphertext(vb),
                });
            });
        }
    }

    fn list(&mut self, la: &[Value], lb: &[Value]) {
        if la.iter().chain(lb).all(Value::is_scalar) {
            let equal =
                la.len() == lb.len() && la.iter().zip(lb).all(|(x, y)| self.scalar_eq(x, y));
            if !equal {
                let (a, b) = (Value::List(la.to_vec()), Value::List(lb.to_vec()));
                self.emit(Change::Changed {
                    a: redact_ciphertext(&a),
                    b: redact_ciphertext(&b),
                });
            }
            return;
        }
        if let Some(field) = self.match_field(la, lb) {
            self.keyed_list(field, la, lb);
        } else {
            for (i, pair) in la.iter().zip(lb).enumerate() {
                self.at(Segment::Index(i), |w| w.value(pair.0, pair.1));
            }
            for (i, va) in la.iter().enumerate().skip(lb.len()) {
                self.at(Segment::Index(i), |w| {
                    w.emit(Change::Removed {
                        a: redact_ciphertext(va),
                    });
                });
            }
            for (i, vb) in lb.iter().enumerate().skip(la.len()) {
                self.at(Segment::Index(i), |w| {
                    w.emit(Change::Added {
                        b: redact_ciphertext(vb),
                    });
                });
            }
        }
    }

    fn keyed_list(&mut self, field: &str, la: &[Value], lb: &[Value]) {
        let (na, nb) = (self.na, self.nb);
        let b_by_id: IndexMap<String, &Value> = lb
            .iter()
            .filter_map(|v| Some((identity(v, field, nb)?, v)))
            .collect();
        let mut seen = BTreeSet::new();
        for va in la {
            let Some(id) = identity(va, field, na) else {
                continue;
            };
            seen.insert(id.clone());
            let segment = Segment::Match {
                field: field.to_string(),
                value: id.clone(),
            };
            match b_by_id.get(&id) {
                Some(vb) => self.at(segment, |w| w.value(va, vb)),
                None => self.at(segment, |w| {
                    w.emit(Change::Removed {
                        a: redact_ciphertext(va),
                    });
                }),
            }
        }
        for (id, vb) in &b_by_id {
            if !seen.contains(id) {
                let segment = Segment::Match {
                    field: field.to_string(),
                    value: id.clone(),
                };
                self.at(segment, |w| {
                    w.emit(Change::Added {
                        b: redact_ciphertext(vb),
                    });
                });
            }
        }
    }

    /// The first of [`MATCH_FIELDS`] that identifies every item of both lists.
    fn match_field(&self, la: &[Value], lb: &[Value]) -> Option<&'static str> {
        MATCH_FIELDS
            .iter()
            .copied()
            .find(|field| identifies(la, field, self.na) && identifies(lb, field, self.nb))
    }

    fn scalar_eq(&self, a: &Value, b: &Value) -> bool {
        match (a, b) {
            // Ciphertexts differ on every encryption; only secret views compare values.
            (Value::String(x), Value::String(y)) if is_ciphertext(x) && is_ciphertext(y) => true,
            (Value::String(x), Value::String(y)) => self.na.str(x) == self.nb.str(y),
            (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits() || x == y,
            _ => a == b,
        }
    }
}

/// The normalized identity of a list item under `field`, when it is a scalar.
fn identity(item: &Value, field: &str, norm: Normalizer<'_>) -> Option<String> {
    match item.as_map()?.get(field)? {
        Value::String(s) => Some(norm.str(s).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether `field` is a scalar on every item and unique within the list.
fn identifies(items: &[Value], field: &str, norm: Normalizer<'_>) -> bool {
    let mut seen = BTreeSet::new();
    items
        .iter()
        .all(|item| identity(item, field, norm).is_some_and(|id| seen.insert(id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn doc(text: &str) -> Value {
        parse_documents(text).expect("test YAML parses").remove(0)
    }

    /// Renders changes the way the text format does, without colour.
    fn lines(
        a: &str,
        b: &str,
        subs_a: &[(String, String)],
        subs_b: &[(String, String)],
    ) -> Vec<String> {
        let changes = diff_bodies(
            &doc(a),
            &doc(b),
            &["sops"],
            Normalizer::new(subs_a),
            Normalizer::new(subs_b),
        );
        changes
            .iter()
            .map(|c| match &c.change {
                Change::Changed { a, b } => format!(
                    "{}: {} -> {}",
                    c.path,
                    crate::yaml::to_flow(a),
                    crate::yaml::to_flow(b)
                ),
                Change::Added { b } => format!("+ {}: {}", c.path, crate::yaml::to_flow(b)),
                Change::Removed { a } => format!("- {}: {}", c.path, crate::yaml::to_flow(a)),
            })
            .collect()
    }

    const DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: apps
  annotations:
    cert-manager.io/cluster-issuer: letsencrypt
spec:
  replicas: 2
  template:
    spec:
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
      containers:
        - name: web
          image: nginx:1.27
          args: [--a, --b]
          resources:
            limits:
              cpu: 1000m
          ports:
            - containerPort: 8080
        - name: sidecar
          image: envoy:1
";

    #[test]
    fn field_changes_have_exact_paths() {
        let none: &[(String, String)] = &[];
        let cases: Vec<(&str, String, Vec<&str>)> = vec![
            ("identical", DEPLOY.to_string(), vec![]),
            ("replicas", DEPLOY.replace("replicas: 2", "replicas: 3"), vec!["spec.replicas: 2 -> 3"]),
            (
                "resources",
                DEPLOY.replace("cpu: 1000m", "cpu: 2000m"),
                vec!["spec.template.spec.containers[name=web].resources.limits.cpu: 1000m -> 2000m"],
            ),
            (
                "anti-affinity",
                DEPLOY.replace("weight: 100", "weight: 50").replace("kubernetes.io/hostname", "topology.kubernetes.io/zone"),
                vec![
                    "spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: 100 -> 50",
                    "spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey: kubernetes.io/hostname -> topology.kubernetes.io/zone",
                ],
            ),
            (
                "annotation key with dots",
                DEPLOY.replace("letsencrypt", "letsencrypt-staging"),
                vec!["metadata.annotations[\"cert-manager.io/cluster-issuer\"]: letsencrypt -> letsencrypt-staging"],
            ),
            (
                "type change",
                DEPLOY.replace("replicas: 2", "replicas: \"2\""),
                vec!["spec.replicas: 2 -> \"2\""],
            ),
            (
                "scalar list as a whole",
                DEPLOY.replace("[--a, --b]", "[--a, --c, --b]"),
                vec!["spec.template.spec.containers[name=web].args: [\"--a\", \"--b\"] -> [\"--a\", \"--c\", \"--b\"]"],
            ),
            (
                "port matched by containerPort",
                DEPLOY.replace("containerPort: 8080", "containerPort: 9090"),
                vec![
                    "- spec.template.spec.containers[name=web].ports[containerPort=8080]: {containerPort: 8080}",
                    "+ spec.template.spec.containers[name=web].ports[containerPort=9090]: {containerPort: 9090}",
                ],
            ),
            (
                "added and removed keys in flow style",
                DEPLOY
                    .replace("  replicas: 2\n", "  strategy:\n    type: Recreate\n")
                    .replace("  namespace: apps\n", "  namespace: apps\n  labels:\n    tier: web\n"),
                vec![
                    "+ metadata.labels: {tier: web}",
                    "- spec.replicas: 2",
                    "+ spec.strategy: {type: Recreate}",
                ],
            ),
            (
                "containers matched by name when reordered",
                DEPLOY.replace(
                    "        - name: web\n          image: nginx:1.27\n          args: [--a, --b]\n          resources:\n            limits:\n              cpu: 1000m\n          ports:\n            - containerPort: 8080\n        - name: sidecar\n          image: envoy:1\n",
                    "        - name: sidecar\n          image: envoy:2\n        - name: web\n          image: nginx:1.27\n          args: [--a, --b]\n          resources:\n            limits:\n              cpu: 1000m\n          ports:\n            - containerPort: 8080\n",
                ),
                vec!["spec.template.spec.containers[name=sidecar].image: envoy:1 -> envoy:2"],
            ),
            (
                "container added",
                DEPLOY.replace("          image: envoy:1\n", "          image: envoy:1\n        - name: log\n          image: fluent\n"),
                vec!["+ spec.template.spec.containers[name=log]: {name: log, image: fluent}"],
            ),
        ];
        for (name, b, expected) in cases {
            assert_eq!(lines(DEPLOY, &b, none, none), expected, "case {name}");
        }
    }

    #[test]
    fn lists_without_identity_pair_by_index() {
        let none: &[(String, String)] = &[];
        let got = lines(
            "x:\n  - {a: 1}\n  - {a: 2}\n",
            "x:\n  - {a: 1}\n  - {a: 3}\n  - {a: 4}\n",
            none,
            none,
        );
        assert_eq!(got, vec!["x[1].a: 2 -> 3", "+ x[2]: {a: 4}"]);
        let dup = lines(
            "x:\n  - {name: a, v: 1}\n  - {name: a, v: 2}\n",
            "x:\n  - {name: a, v: 1}\n  - {name: a, v: 3}\n",
            none,
            none,
        );
        assert_eq!(
            dup,
            vec!["x[1].v: 2 -> 3"],
            "duplicate names fall back to index"
        );
    }

    #[test]
    fn normalization_hides_expected_differences_but_shows_real_values() {
        let sa = vec![("staging.example.org".to_string(), "<domain>".to_string())];
        let sb = vec![("example.org".to_string(), "<domain>".to_string())];
        let a = "spec:\n  rules:\n    - host: auth.staging.example.org\n      x: 1\n  tls: [auth.staging.example.org]\n";
        let b = "spec:\n  rules:\n    - host: auth.example.org\n      x: 2\n  tls: [auth.example.org]\n";
        assert_eq!(
            lines(a, b, &sa, &sb),
            vec!["spec.rules[host=auth.<domain>].x: 1 -> 2"]
        );
        let c = "spec:\n  rules:\n    - host: login.example.org\n      x: 1\n  tls: [auth.example.org]\n";
        assert_eq!(
            lines(a, c, &sa, &sb),
            vec![
                "- spec.rules[host=auth.<domain>]: {host: auth.staging.example.org, x: 1}",
                "+ spec.rules[host=login.<domain>]: {host: login.example.org, x: 1}",
            ]
        );
    }

    #[test]
    fn ciphertext_is_never_a_change_nor_shown() {
        let none: &[(String, String)] = &[];
        let a = "sops:\n  mac: ENC[1]\nx: ENC[AES256_GCM,data:aaa]\ny: ENC[AES256_GCM,data:bbb]\n";
        let b = "sops:\n  mac: ENC[2]\nx: ENC[AES256_GCM,data:ccc]\ny: plain\n";
        assert_eq!(lines(a, b, none, none), vec!["y: <redacted> -> plain"]);
    }
}
