//! `dns-names`: what stackc's own name checks (service, namespace and secret names are
//! DNS-1123 labels; object names DNS-1123 subdomains) leave to Kubernetes: a Service's name
//! is an RFC 1035 label (it starts with a letter: it becomes a DNS name and environment
//! variables), a Namespace's and every `metadata.namespace` a DNS-1123 label, and label keys
//! and values have the API's form. The API server would reject each of them at apply time.

use crate::check::context::object_label;
use crate::check::schema::locate::location;
use crate::check::{Context, EnvCheck, Finding};
use crate::model::is_dns_label;
use crate::value::Value;

/// Names the API server would refuse.
pub fn dns_names(ctx: &Context<'_>, env: &EnvCheck<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for object in env.objects.iter() {
        let finding = |message: String, path: &[&str], help: &str| {
            let path: Vec<String> = path.iter().map(|s| (*s).to_string()).collect();
            let mut f = Finding::new(message)
                .object(object_label(object))
                .help(help);
            if let Some(service) = &object.service {
                f = f.service(service);
            }
            f.span = location(ctx, env, object, &path);
            f
        };
        let id = &object.id;
        if id.kind == "Service" && !is_rfc1035_label(&id.name) {
            out.push(finding(
                format!("Service name `{}` is not an RFC 1035 label", id.name),
                &["metadata", "name"],
                "a Service's name starts with a letter, has at most 63 lowercase letters, digits and '-', and ends with a letter or digit",
            ));
        }
        if id.kind == "Namespace" && !is_dns_label(&id.name) {
            out.push(finding(
                format!("Namespace name `{}` is not a DNS-1123 label", id.name),
                &["metadata", "name"],
                "at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
            ));
        }
        if !id.namespace.is_empty() && !is_dns_label(&id.namespace) {
            out.push(finding(
                format!("namespace `{}` is not a DNS-1123 label", id.namespace),
                &["metadata", "namespace"],
                "at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
            ));
        }
        for (path, labels) in label_maps(&object.body) {
            for (key, value) in labels {
                if !is_label_key(key) {
                    out.push(finding(
                        format!("label key `{key}` is not valid"),
                        &path,
                        "a label key is an optional DNS subdomain prefix and `/`, then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
                    ));
                }
                match value {
                    Value::String(v) if is_label_value(v) => {}
                    Value::String(v) => out.push(finding(
                        format!("label `{key}` has the value `{v}`, which is not a valid label value"),
                        &path,
                        "a label value has at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit (or is empty)",
                    )),
                    // A number or boolean: the schema rule reports its type.
                    _ => {}
                }
            }
        }
    }
    out
}

/// The label maps of an object: its own, and its pod template's.
fn label_maps(body: &Value) -> Vec<(Vec<&'static str>, &crate::value::Map)> {
    let mut out = Vec::new();
    for path in [
        &["metadata", "labels"][..],
        &["spec", "template", "metadata", "labels"][..],
    ] {
        if let Some(map) = body.get_path(&path.join(".")).and_then(Value::as_map) {
            out.push((path.to_vec(), map));
        }
    }
    out
}

fn is_rfc1035_label(name: &str) -> bool {
    is_dns_label(name) && name.starts_with(|c: char| c.is_ascii_lowercase())
}

/// `[prefix/]name`: the prefix a DNS-1123 subdomain, the name a label value of 1-63.
fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok =
        prefix.is_none_or(|p| !p.is_empty() && p.len() <= 253 && p.split('.').all(is_dns_label));
    prefix_ok && !name.is_empty() && is_label_value(name)
}

fn is_label_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.is_empty()
        || (bytes.len() <= 63
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_and_values_follow_the_api() {
        for ok in ["app", "app.kubernetes.io/name", "a_b.c-d", "x/y"] {
            assert!(is_label_key(ok), "{ok}");
        }
        for bad in ["", "-a", "a/", "/a", "UPPER.example/x", "a b"] {
            assert!(!is_label_key(bad), "{bad}");
        }
        assert!(is_label_value("") && is_label_value("v1.2_3") && !is_label_value("a:b"));
        assert!(!is_label_value(&"a".repeat(64)));
        assert!(is_rfc1035_label("web") && !is_rfc1035_label("1web"));
    }
}
