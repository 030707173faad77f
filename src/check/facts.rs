//! The facts of a render unit's objects that the environment-scope rules read (hosts, TLS,
//! TCP routes, Certificates, issuers, secret references): each object cut down to those
//! fields. `build` keeps them in the unit's cache record, so a unit kept from the cache takes
//! part in the environment's rules without being rendered; `check` cuts its objects the same
//! way, so both commands run the rules on the same input.

use crate::object::{ObjectId, RenderedObject};
use crate::value::{Map, Value};

/// The fields kept, by kind (dotted paths from the object's root).
fn kept(kind: &str) -> &'static [&'static str] {
    match kind {
        "Ingress" => &["metadata.annotations", "spec.rules", "spec.tls"],
        "IngressRouteTCP" => &["spec.entryPoints", "spec.routes"],
        "Certificate" => &["spec.secretName"],
        _ => &[],
    }
}

/// Kinds that matter by their identity alone.
const BY_IDENTITY: &[&str] = &["Issuer", "ClusterIssuer"];

/// `object` cut down to its facts; `None` when no environment-scope rule reads it.
pub fn of(object: &RenderedObject) -> Option<RenderedObject> {
    let mut body = Map::default();
    for path in kept(&object.id.kind) {
        if let Some(value) = object.body.get_path(path) {
            insert(&mut body, path, value.clone());
        }
    }
    let mut refs = Vec::new();
    super::rules::secrets::collect(&object.body, &mut refs);
    if !refs.is_empty() {
        // The same shape the rule's reader walks: a list of `secretKeyRef`s.
        let list = refs
            .into_iter()
            .map(|(name, key)| {
                let mut reference = Map::default();
                reference.insert("name".into(), Value::String(name));
                if let Some(key) = key {
                    reference.insert("key".into(), Value::String(key));
                }
                let mut item = Map::default();
                item.insert("secretKeyRef".into(), Value::Map(reference));
                Value::Map(item)
            })
            .collect();
        body.insert("references".into(), Value::List(list));
    }
    if body.is_empty() && !BY_IDENTITY.contains(&object.id.kind.as_str()) {
        return None;
    }
    Some(RenderedObject {
        id: object.id.clone(),
        body: Value::Map(body),
        service: object.service.clone(),
        path: object.path.clone(),
        origin: None,
    })
}

fn insert(body: &mut Map, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            body.insert(path.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = body
                .entry(head.to_string())
                .or_insert_with(|| Value::Map(Map::default()));
            if let Value::Map(inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

/// One object's facts as a cache record keeps them.
#[derive(serde::Serialize)]
struct Encoded<'a> {
    id: [&'a str; 4],
    service: Option<&'a str>,
    path: &'a str,
    body: &'a Value,
}

/// The facts of `objects`, as the text a cache record keeps (written straight from the
/// values, with no JSON tree built in between).
pub fn encode(objects: &[RenderedObject]) -> String {
    let facts: Vec<RenderedObject> = objects.iter().filter_map(of).collect();
    let list: Vec<Encoded<'_>> = facts
        .iter()
        .map(|o| Encoded {
            id: [&o.id.api_version, &o.id.kind, &o.id.namespace, &o.id.name],
            service: o.service.as_deref(),
            path: &o.path,
            body: &o.body,
        })
        .collect();
    serde_json::to_string(&list).unwrap_or_default()
}

/// One object's facts as [`encode`] wrote them.
#[derive(serde::Deserialize)]
struct Decoded {
    id: [String; 4],
    service: Option<String>,
    path: String,
    body: Read,
}

/// A JSON value read straight into a [`Value`] (as `Value::from(serde_json::Value)` would
/// convert it, without the JSON tree in between: decoding the facts of every unit is what
/// a build does when one unit's facts changed).
struct Read(Value);

impl<'de> serde::Deserialize<'de> for Read {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ReadVisitor).map(Read)
    }
}

struct ReadVisitor;

impl<'de> serde::de::Visitor<'de> for ReadVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    #[allow(
        clippy::cast_precision_loss,
        reason = "as serde_json's as_f64 converts it"
    )]
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(Read(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Map::default();
        while let Some((key, Read(value))) = map.next_entry::<String, Read>()? {
            entries.insert(key, value);
        }
        Ok(Value::Map(entries))
    }
}

/// The facts [`encode`] wrote; a record that does not read as facts has none (the cache is
/// versioned and its sections hashed, so that is only a damaged cache, which the key check
/// renders again anyway).
pub fn decode(text: &str) -> Vec<RenderedObject> {
    let Ok(items) = serde_json::from_str::<Vec<Decoded>>(text) else {
        return Vec::new();
    };
    items
        .into_iter()
        .map(|item| {
            let [api_version, kind, namespace, name] = item.id;
            RenderedObject {
                id: ObjectId {
                    api_version,
                    kind,
                    namespace,
                    name,
                },
                service: item.service,
                path: item.path,
                body: item.body.0,
                origin: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_round_trip_and_keep_only_what_the_rules_read() {
        let body = crate::yaml::parse_documents(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: web\n  annotations: {a: b}\nspec:\n  rules: [{host: x.org}]\n  defaultBackend: {service: {name: web}}\n",
        )
        .unwrap()
        .remove(0);
        let object = RenderedObject {
            id: ObjectId::of(&body).unwrap(),
            body,
            service: Some("web".into()),
            path: "apps/web/web/ingress-web.yaml".into(),
            origin: None,
        };
        let facts = of(&object).unwrap();
        assert!(facts.body.get_path("spec.defaultBackend").is_none());
        assert_eq!(
            facts.body.get_path("spec.rules"),
            object.body.get_path("spec.rules")
        );
        assert_eq!(decode(&encode(std::slice::from_ref(&object))), vec![facts]);
    }

    /// The decoder before it read values directly: through `serde_json::Value`.
    fn decode_through_json(text: &str) -> Vec<RenderedObject> {
        let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(text)
        else {
            return Vec::new();
        };
        items
            .into_iter()
            .filter_map(|item| {
                let id = item.get("id")?.as_array()?;
                let text = |i: usize| Some(id.get(i)?.as_str()?.to_string());
                Some(RenderedObject {
                    id: ObjectId {
                        api_version: text(0)?,
                        kind: text(1)?,
                        namespace: text(2)?,
                        name: text(3)?,
                    },
                    service: item.get("service")?.as_str().map(str::to_string),
                    path: item.get("path")?.as_str()?.to_string(),
                    body: Value::from(item.get("body")?.clone()),
                    origin: None,
                })
            })
            .collect()
    }

    #[test]
    fn facts_decode_as_through_json() {
        let texts = [
            r#"[{"id":["v1","Ingress","web","web"],"service":"web","path":"a/b.yaml","body":{"spec":{"rules":[{"host":"x.org","n":-3,"big":18446744073709551615,"f":1.5,"e":1e3,"t":true,"z":null,"s":"\u00e9\n"}]},"k":[],"m":{}}}]"#,
            r#"[{"id":["v1","Issuer","","ca"],"service":null,"path":"c.yaml","body":{}}]"#,
            "[]",
            "not json",
        ];
        for text in texts {
            assert_eq!(decode(text), decode_through_json(text), "{text}");
        }
        // The example stack's facts, as a build writes them.
        let docs = crate::yaml::parse_documents(
            "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: web\n  namespace: web\nspec:\n  secretName: web-tls\n  duration: 2160h\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: web\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n        - name: web\n          env:\n            - name: A\n              valueFrom:\n                secretKeyRef: {name: s, key: k}\n",
        )
        .unwrap();
        let objects: Vec<RenderedObject> = docs
            .into_iter()
            .map(|body| RenderedObject {
                id: ObjectId::of(&body).unwrap(),
                body,
                service: Some("web".into()),
                path: "apps/web/web/x.yaml".into(),
                origin: None,
            })
            .collect();
        let text = encode(&objects);
        assert_eq!(decode(&text).len(), 2);
        assert_eq!(decode(&text), decode_through_json(&text));
    }
}
