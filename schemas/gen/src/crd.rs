//! The CRD kinds, from the kopium-generated Rust source of kube-custom-resources-rs: kopium
//! turned each upstream CRD's `openAPIV3Schema` into structs (one field per property, an
//! `Option` when it is not required, an enum for an `enum` of strings), and this reads those
//! structs back into a schema. Formats, patterns and bounds are lost on the way; field names,
//! types, required fields and enums are what the check needs.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use syn::{Fields, GenericArgument, Item, PathArguments, Type};

/// The CRD files read, relative to the crate's `src/`.
const FILES: &[&str] = &[
    "kustomize_toolkit_fluxcd_io/v1/kustomizations.rs",
    "helm_toolkit_fluxcd_io/v2/helmreleases.rs",
    "source_toolkit_fluxcd_io/v1/gitrepositories.rs",
    "source_toolkit_fluxcd_io/v1/helmrepositories.rs",
    "source_toolkit_fluxcd_io/v1/helmcharts.rs",
    "source_toolkit_fluxcd_io/v1/buckets.rs",
    "source_toolkit_fluxcd_io/v1beta2/ocirepositories.rs",
    "cert_manager_io/v1/certificates.rs",
    "cert_manager_io/v1/certificaterequests.rs",
    "cert_manager_io/v1/clusterissuers.rs",
    "cert_manager_io/v1/issuers.rs",
    "traefik_io/v1alpha1/ingressroutetcps.rs",
    "traefik_io/v1alpha1/ingressroutes.rs",
    "traefik_io/v1alpha1/tlsoptions.rs",
    "traefik_io/v1alpha1/serverstransports.rs",
    "notification_toolkit_fluxcd_io/v1beta3/providers.rs",
    "notification_toolkit_fluxcd_io/v1beta3/alerts.rs",
    "argoproj_io/v1alpha1/applications.rs",
    "argoproj_io/v1alpha1/appprojects.rs",
    "gateway_networking_k8s_io/v1/gatewayclasses.rs",
    "gateway_networking_k8s_io/v1/gateways.rs",
    "gateway_networking_k8s_io/v1/httproutes.rs",
];

/// The document of every file in [`FILES`] under `dir` (the crate's root).
pub fn document(dir: &str) -> Result<Value, String> {
    let mut kinds = Map::new();
    let mut defs = Map::new();
    for file in FILES {
        let path = format!("{dir}/src/{file}");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        let ast = syn::parse_file(&text).map_err(|e| format!("{path}: {e}"))?;
        read_file(&ast, &mut kinds, &mut defs).map_err(|e| format!("{path}: {e}"))?;
    }
    defs.insert("io.k8s.ObjectMeta".into(), object_meta());
    Ok(super::assemble(
        "kube-custom-resources-rs 2024.11.1 (kopium 0.21 from the upstream CRDs)",
        kinds,
        defs,
    ))
}

fn read_file(
    ast: &syn::File,
    kinds: &mut Map<String, Value>,
    defs: &mut Map<String, Value>,
) -> Result<(), String> {
    let mut local = BTreeMap::new();
    let mut root = None;
    for item in &ast.items {
        match item {
            Item::Struct(s) => {
                if let Some(kube) = kube_root(&s.attrs) {
                    root = Some((kube, s.ident.to_string()));
                }
                local.insert(s.ident.to_string(), item);
            }
            Item::Enum(e) => {
                local.insert(e.ident.to_string(), item);
            }
            _ => {}
        }
    }
    let ((group, version, kind, status), spec) = root.ok_or("no #[kube(...)] root")?;
    let prefix = format!("{group}.{version}.");
    for (name, item) in &local {
        let schema = match item {
            Item::Struct(s) => struct_schema(&s.fields, &prefix, &local)?,
            Item::Enum(e) => enum_schema(e),
            _ => continue,
        };
        defs.insert(format!("{prefix}{name}"), schema);
    }
    let mut properties = Map::new();
    properties.insert("apiVersion".into(), json!({"type": "string"}));
    properties.insert("kind".into(), json!({"type": "string"}));
    properties.insert(
        "metadata".into(),
        json!({"$ref": "#/$defs/io.k8s.ObjectMeta"}),
    );
    properties.insert("spec".into(), reference(&prefix, &spec));
    if let Some(status) = status {
        properties.insert("status".into(), reference(&prefix, &status));
    }
    // Fields beside `spec` and `status` (Argo CD's Application has `operation`, and its
    // `status` is not marked as a subresource): kopium names their structs after the kind
    // but the `#[kube]` root does not say so.
    for (field, suffix) in [("status", "Status"), ("operation", "Operation")] {
        let name = format!("{kind}{suffix}");
        if !properties.contains_key(field) && local.contains_key(&name) {
            properties.insert(field.into(), reference(&prefix, &name));
        }
    }
    let root_name = format!("{prefix}{kind}");
    defs.insert(
        root_name.clone(),
        json!({"type": "object", "properties": properties}),
    );
    kinds.insert(format!("{group}/{version}/{kind}"), root_name.into());
    Ok(())
}

type KubeRoot = (String, String, String, Option<String>);

/// `group`, `version`, `kind` and `status` of a `#[kube(...)]` spec struct.
fn kube_root(attrs: &[syn::Attribute]) -> Option<KubeRoot> {
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("kube")) {
        let _ = attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            if let Ok(value) = meta.value() {
                if let Ok(lit) = value.parse::<syn::LitStr>() {
                    found.insert(key, lit.value());
                }
            }
            Ok(())
        });
    }
    Some((
        found.get("group")?.clone(),
        found.get("version")?.clone(),
        found.get("kind")?.clone(),
        found.get("status").cloned(),
    ))
}

/// `rename = "..."` of a `#[serde(...)]`, and whether it says `flatten` or `default`.
fn serde_attrs(attrs: &[syn::Attribute]) -> (Option<String>, bool, bool) {
    let (mut rename, mut flatten, mut default) = (None, false, false);
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                if let Ok(lit) = meta.value().and_then(|v| v.parse::<syn::LitStr>()) {
                    rename = Some(lit.value());
                }
            } else if meta.path.is_ident("flatten") {
                flatten = true;
            } else if meta.path.is_ident("default") {
                default = true;
                if let Ok(v) = meta.value() {
                    let _ = v.parse::<syn::LitStr>();
                }
            } else if let Ok(v) = meta.value() {
                let _ = v.parse::<syn::Expr>();
            }
            Ok(())
        });
    }
    (rename, flatten, default)
}

fn struct_schema(
    fields: &Fields,
    prefix: &str,
    local: &BTreeMap<String, &Item>,
) -> Result<Value, String> {
    let Fields::Named(named) = fields else {
        return Ok(json!({"type": "object"}));
    };
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut open = false;
    for field in &named.named {
        let (rename, flatten, default) = serde_attrs(&field.attrs);
        if flatten {
            open = true;
            continue;
        }
        let ident = field.ident.as_ref().ok_or("unnamed field")?;
        let name = rename.unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_string());
        let (schema, optional) = type_schema(&field.ty, prefix, local);
        if !optional && !default {
            required.push(Value::String(name.clone()));
        }
        properties.insert(name, schema);
    }
    let mut schema = Map::new();
    schema.insert("type".into(), "object".into());
    if !properties.is_empty() {
        schema.insert("properties".into(), Value::Object(properties));
    }
    if !required.is_empty() {
        schema.insert("required".into(), Value::Array(required));
    }
    if open {
        schema.insert("additionalProperties".into(), Value::Bool(true));
    }
    Ok(Value::Object(schema))
}

fn enum_schema(item: &syn::ItemEnum) -> Value {
    let mut values = Vec::new();
    for variant in &item.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return json!({});
        }
        let (rename, _, _) = serde_attrs(&variant.attrs);
        values.push(Value::String(
            rename.unwrap_or_else(|| variant.ident.to_string()),
        ));
    }
    json!({"type": "string", "enum": values})
}

fn reference(prefix: &str, name: &str) -> Value {
    json!({"$ref": format!("#/$defs/{prefix}{name}")})
}

/// The schema of a field's type, and whether it is an `Option`.
fn type_schema(ty: &Type, prefix: &str, local: &BTreeMap<String, &Item>) -> (Value, bool) {
    let Type::Path(path) = ty else {
        return (json!({}), false);
    };
    let Some(last) = path.path.segments.last() else {
        return (json!({}), false);
    };
    let args: Vec<&Type> = match &last.arguments {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let name = last.ident.to_string();
    let schema = match (name.as_str(), args.as_slice()) {
        ("Option", [inner]) => return (type_schema(inner, prefix, local).0, true),
        ("Vec", [inner]) => json!({"type": "array", "items": type_schema(inner, prefix, local).0}),
        ("BTreeMap" | "HashMap", [_, value]) => {
            json!({"type": "object", "additionalProperties": type_schema(value, prefix, local).0})
        }
        ("String", _) => json!({"type": "string"}),
        ("bool", _) => json!({"type": "boolean"}),
        ("i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64", _) => {
            json!({"type": "integer"})
        }
        ("f32" | "f64", _) => json!({"type": "number"}),
        ("IntOrString", _) => json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
        ("Quantity", _) => json!({"anyOf": [{"type": "string"}, {"type": "number"}]}),
        ("Time", _) => json!({"type": "string"}),
        ("Condition", _) => json!({"type": "object"}),
        (other, _) if local.contains_key(other) => reference(prefix, other),
        // serde_json::Value and anything else: whatever the CRD preserves.
        _ => json!({}),
    };
    (schema, false)
}

/// `metadata`: what the CRD kinds share with every object; the built-in schema has the
/// full ObjectMeta, here the fields that matter, open for the rest.
fn object_meta() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "namespace": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "additionalProperties": true,
    })
}
