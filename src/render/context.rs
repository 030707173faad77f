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
    let mut out = Map::new();
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
    let mut out = Map::new();
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
