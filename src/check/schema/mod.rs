//! `schema`: every rendered object of a kind stackc has a schema for validates against it:
//! the built-in kinds against the API of the environment's Kubernetes version
//! (`policy kubernetes="1.35"`, default [`catalog::DEFAULT_VERSION`]), the Flux,
//! cert-manager and Traefik kinds against their CRDs. An unknown field, a wrong type, a
//! missing required field or an apiVersion the version does not serve is an error naming the
//! object, the field path and the template line that wrote it. The objects the layout
//! generates around the services (Namespaces, Flux Kustomizations, Argo CD Applications)
//! are checked too, by [`generated`].

pub mod catalog;
pub mod generated;
pub(crate) mod locate;
mod prune;

use crate::check::context::{object_label, setting, setting_value};
use crate::check::{Context, EnvCheck, Finding};
use crate::object::RenderedObject;
use crate::value::Value;
use catalog::Lookup;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;

/// At most this many findings per object: a template with the wrong indentation breaks
/// every field under it, and the first few say what is wrong.
const MAX_PER_OBJECT: usize = 5;

/// Every object of the environment against its schema.
pub fn schema(ctx: &Context<'_>, env: &EnvCheck<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut bad_versions = std::collections::BTreeSet::new();
    for object in env.objects.iter() {
        let service = object.service.as_deref().and_then(|name| env.service(name));
        let version = match service.and_then(|s| setting_value(s, "policy.kubernetes")) {
            Some(Value::String(v)) if catalog::VERSIONS.contains(&v.as_str()) => v,
            Some(Value::String(v)) => {
                if let Some(service) = service {
                    if bad_versions.insert(v.clone()) {
                        let span = setting(service, "policy.kubernetes").map(|t| t.span);
                        let mut finding =
                            Finding::new(format!("stackc has no schemas for Kubernetes `{v}`"))
                                .service(&service.name)
                                .help(format!("use one of {}", catalog::VERSIONS.join(", ")));
                        finding.span = span.map(|s| ctx.user_span(service, s));
                        out.push(finding);
                    }
                }
                continue;
            }
            _ => catalog::DEFAULT_VERSION.to_string(),
        };
        out.extend(check_object(object, &version, &|path| {
            locate::location(ctx, env, object, path)
        }));
    }
    out
}

/// The findings of one object against the schema of `version`; `locate` says where a
/// finding about a field path points.
pub(crate) fn check_object(
    object: &RenderedObject,
    version: &str,
    locate: &dyn Fn(&[String]) -> Option<crate::source::Span>,
) -> Vec<Finding> {
    let id = &object.id;
    let new = |message: String, path: &[String]| {
        let mut finding = Finding::new(message).object(object_label(object));
        if let Some(service) = &object.service {
            finding = finding.service(service);
        }
        finding.span = locate(path);
        finding
    };
    let (catalog, key) = match catalog::lookup(version, &id.api_version, &id.kind) {
        Lookup::Known(catalog, key) => (catalog, key),
        Lookup::Unknown => return Vec::new(),
        Lookup::OtherVersions(served) => {
            return vec![new(
                format!(
                    "Kubernetes {version} does not serve {} as `apiVersion: {}`",
                    id.kind, id.api_version
                ),
                &["apiVersion".to_string()],
            )
            .help(format!("use `apiVersion: {}`", served.join("` or `")))];
        }
    };
    let mut body = json_of(&object.body);
    // A SOPS-encrypted document carries its `sops` block at the top; Flux decrypts it away
    // before the API server sees the object.
    if let serde_json::Value::Object(map) = &mut body {
        map.remove("sops");
    }
    let validator = match catalog.checker(&key, &body) {
        Ok(validator) => validator,
        Err(message) => {
            return vec![new(
                format!(
                    "the schema of {} {} does not compile: {message}",
                    id.api_version, id.kind
                ),
                &[],
            )
            .help("this is a bug in stackc; please report it")]
        }
    };
    // Most objects are valid: a yes or no walk first, and the errors only when it says no.
    if validator.is_valid(&body) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for error in validator.iter_errors(&body).take(MAX_PER_OBJECT) {
        let path: Vec<String> = error
            .instance_path()
            .segments()
            .map(|s| match s {
                LocationSegment::Property(p) => p.into_owned(),
                LocationSegment::Index(i) => i.to_string(),
            })
            .collect();
        let shown = dotted(&path);
        let found = json_type(error.instance());
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let known = catalog.properties_at(&key, &path);
                for field in unexpected {
                    let mut full = path.clone();
                    full.push(field.clone());
                    let mut finding = new(
                        format!(
                            "unknown field `{}` in the schema of {} (Kubernetes {version})",
                            dotted(&full),
                            key_label(&id.api_version, &id.kind),
                        ),
                        &full,
                    );
                    finding = match crate::diagnostics::did_you_mean(
                        field,
                        known.iter().map(String::as_str),
                    ) {
                        Some(hint) => finding.help(hint),
                        None => finding.help(format!("the fields there are: {}", known.join(", "))),
                    };
                    out.push(finding);
                }
            }
            ValidationErrorKind::Required { property } => {
                let field = property.as_str().unwrap_or_default();
                let mut full = path.clone();
                full.push(field.to_string());
                out.push(
                    new(
                        format!(
                            "missing required field `{}` in the schema of {}",
                            dotted(&full),
                            key_label(&id.api_version, &id.kind),
                        ),
                        &path,
                    )
                    .help(format!(
                        "set `{field}` under `{}`",
                        if shown.is_empty() {
                            "the object"
                        } else {
                            &shown
                        }
                    )),
                );
            }
            ValidationErrorKind::Type { kind } => {
                let wanted = match kind {
                    TypeKind::Single(t) => t.to_string(),
                    TypeKind::Multiple(set) => set
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(" or "),
                };
                out.push(
                    new(
                        format!(
                            "field `{shown}` is {found}, the schema of {} wants {}",
                            key_label(&id.api_version, &id.kind),
                            article(&wanted),
                        ),
                        &path,
                    )
                    .help(type_help(&wanted)),
                );
            }
            ValidationErrorKind::AnyOf { .. } => out.push(new(
                format!(
                    "field `{shown}` is {found}, the schema of {} wants a string or a number",
                    key_label(&id.api_version, &id.kind),
                ),
                &path,
            )),
            ValidationErrorKind::Enum { options } => out.push(new(
                format!(
                    "field `{shown}` is {}, the schema of {} allows {options}",
                    error.instance(),
                    key_label(&id.api_version, &id.kind),
                ),
                &path,
            )),
            _ => out.push(new(
                format!(
                    "field `{shown}`: {error} (schema of {})",
                    key_label(&id.api_version, &id.kind)
                ),
                &path,
            )),
        }
    }
    out
}

/// `value` as the JSON the validator reads, without a field whose value is `null`: the API
/// server treats `null` as absent, and so does the check. (Built directly, not through
/// `Serialize`: a tenth of a cold build was this conversion.) A float JSON cannot hold is
/// `null`, as `serde_json::to_value` makes it.
fn json_of(value: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Number((*i).into()),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.clone()),
        Value::List(items) => Json::Array(items.iter().map(json_of).collect()),
        Value::Map(entries) => {
            // Sized up front: collected from a filtered iterator, the map would grow (and
            // rehash every key with std's SipHash) as it filled.
            let mut object = serde_json::Map::with_capacity(entries.len());
            for (k, v) in entries {
                let v = json_of(v);
                if !v.is_null() {
                    object.insert(k.clone(), v);
                }
            }
            Json::Object(object)
        }
    }
}

/// `spec.template.spec.containers[0].image`.
fn dotted(path: &[String]) -> String {
    let mut out = String::new();
    for segment in path {
        if segment.parse::<usize>().is_ok() {
            out.push('[');
            out.push_str(segment);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

fn key_label(api_version: &str, kind: &str) -> String {
    format!("{api_version} {kind}")
}

fn json_type(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Bool(b) => format!("a boolean ({b})"),
        serde_json::Value::Number(n) => format!("a number ({n})"),
        serde_json::Value::String(s) => format!("a string ({s:?})"),
        serde_json::Value::Array(_) => "a list".into(),
        serde_json::Value::Object(_) => "a map".into(),
    }
}

fn article(wanted: &str) -> String {
    match wanted {
        "integer" | "object" | "array" => format!("an {}", readable(wanted)),
        other => format!("a {}", readable(other)),
    }
}

fn readable(json: &str) -> &str {
    match json {
        "object" => "map",
        "array" => "list",
        other => other,
    }
}

fn type_help(wanted: &str) -> String {
    match wanted {
        "integer" | "number" => {
            "write the number without quotes (a template: drop the quotes around the expression)"
                .into()
        }
        "string" => "quote the value: `\"...\"` (a template: `{{ value | tojson }}`)".into(),
        "boolean" => "write `true` or `false` without quotes".into(),
        "object" => "this field is a map of `key: value` lines, indented under it".into(),
        "array" => "this field is a list: one `- item` line per entry".into(),
        other => format!("the schema wants {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the check validated before `json_of`: the value through `Serialize`, then every
    /// `null` field dropped.
    fn through_serialize(value: &Value) -> serde_json::Value {
        fn drop_nulls(value: &mut serde_json::Value) {
            match value {
                serde_json::Value::Object(map) => {
                    map.retain(|_, v| !v.is_null());
                    map.values_mut().for_each(drop_nulls);
                }
                serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
                _ => {}
            }
        }
        let mut json = serde_json::to_value(value).unwrap();
        drop_nulls(&mut json);
        json
    }

    #[test]
    fn the_validated_json_is_the_value_without_null_fields() {
        let mut docs = crate::yaml::parse_documents(
            "a: null\nb: [null, 1, -2, 1.5, true, \"s\", {c: null, d: ~}]\ne: {f: {g: null}, h: []}\ni: 0.0\n",
        )
        .unwrap();
        let mut value = docs.remove(0);
        if let Value::Map(map) = &mut value {
            map.insert("nan".into(), Value::Float(f64::NAN));
            map.insert("inf".into(), Value::List(vec![Value::Float(f64::INFINITY)]));
            map.insert("big".into(), Value::Int(i64::MIN));
        }
        let json = json_of(&value);
        assert_eq!(json, through_serialize(&value));
        assert_eq!(
            serde_json::to_string(&json).unwrap(),
            serde_json::to_string(&through_serialize(&value)).unwrap(),
            "the same fields in the same order"
        );
        assert!(json.get("a").is_none() && json.get("nan").is_none());
        assert_eq!(json["inf"], serde_json::json!([null]));
    }
}
