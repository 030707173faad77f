//! The context a template sees: the project, the environment, the resolved service and the
//! declarations of the secrets it uses (names and keys, never values).

use crate::model::{Model, SecretKeySource};
use crate::resolve::{ResolvedEnvironment, ResolvedService};
use crate::value::{map, Map, Value};

/// `project`: name and domain.
pub fn project(model: &Model) -> Value {
    map([
        ("name", Value::from(model.project.name.as_str())),
        ("domain", Value::from(model.project.domain.as_str())),
    ])
}

/// `environment`: name, wave, domain, `promotes_from`.
pub fn environment(env: &ResolvedEnvironment) -> Value {
    map([
        ("name", Value::from(env.name.as_str())),
        ("wave", Value::Int(env.wave)),
        ("domain", Value::from(env.domain.as_str())),
        (
            "promotes_from",
            env.promotes_from
                .as_deref()
                .map_or(Value::Null, Value::from),
        ),
    ])
}

/// `service`: identity plus every resolved setting (`service.replicas`, `service.values`).
pub fn service(service: &ResolvedService, settings: Value) -> Value {
    let mut out = Map::default();
    out.insert("name".into(), Value::from(service.name.as_str()));
    out.insert("namespace".into(), Value::from(service.namespace.as_str()));
    out.insert("layer".into(), Value::from(service.layer.as_str()));
    out.insert(
        "template".into(),
        service.template.as_deref().map_or(Value::Null, Value::from),
    );
    out.insert("depends_on".into(), strings(&service.depends_on));
    out.insert("secrets".into(), strings(&service.secrets));
    if let Value::Map(settings) = settings {
        out.extend(settings);
    }
    Value::Map(out)
}

/// `secrets`: the declarations of the secrets the service uses, by name.
pub fn secrets(model: &Model, service: &ResolvedService) -> Value {
    let mut out = Map::default();
    for name in &service.secrets {
        let Some(decl) = model.secret(name) else {
            continue;
        };
        let keys: Vec<Value> = decl
            .keys
            .iter()
            .map(|k| Value::from(k.name.as_str()))
            .collect();
        let generated: Vec<Value> = decl
            .keys
            .iter()
            .filter(|k| matches!(k.source, SecretKeySource::Generate(_)))
            .map(|k| Value::from(k.name.as_str()))
            .collect();
        out.insert(
            name.clone(),
            map([
                ("name", Value::from(decl.name.as_str())),
                ("namespace", Value::from(decl.namespace.as_str())),
                ("type", Value::from(decl.secret_type.as_str())),
                ("keys", Value::List(keys)),
                ("generated", Value::List(generated)),
            ]),
        );
    }
    Value::Map(out)
}

fn strings(items: &[String]) -> Value {
    Value::List(items.iter().map(|s| Value::from(s.as_str())).collect())
}

/// The context as a template value. Built once per unit and shared by all of its templates:
/// handing our [`Value`] to minijinja makes it convert the whole tree through serde again for
/// every template rendered, the largest part of rendering a small template.
pub fn to_template(value: &Value) -> minijinja::Value {
    match value {
        Value::Null => minijinja::Value::from(()),
        Value::Bool(b) => minijinja::Value::from(*b),
        Value::Int(i) => minijinja::Value::from(*i),
        Value::Float(f) => minijinja::Value::from(*f),
        Value::String(s) => minijinja::Value::from(s.as_str()),
        Value::List(items) => items.iter().map(to_template).collect(),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| (minijinja::Value::from(k.as_str()), to_template(v)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::to_template;
    use crate::value::{map, Value};

    #[test]
    fn the_template_value_is_what_serde_would_build() {
        let value = map([
            ("s", Value::from("x")),
            ("i", Value::Int(-3)),
            ("f", Value::Float(1.5)),
            ("b", Value::Bool(true)),
            ("n", Value::Null),
            (
                "z",
                Value::List(vec![Value::from("a"), map([("k", Value::Int(1))])]),
            ),
            ("a", Value::Map(crate::value::Map::default())),
        ]);
        let ours = to_template(&value);
        let serde = minijinja::Value::from_serialize(&value);
        assert_eq!(ours, serde);
        assert_eq!(format!("{ours:?}"), format!("{serde:?}"));
    }
}
