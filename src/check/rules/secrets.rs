//! `secret-encrypted` and `secret-reference`.

use crate::check::context::object_label;
use crate::check::{Context, EnvCheck, Finding};
use crate::value::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Every file under out/<env> that is a Secret must be sealed, its identity readable.
pub fn encrypted(_: &Context<'_>, env: &EnvCheck<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(&env.out_dir)
        .follow_links(false)
        .sort_by_file_name();
    for entry in walker.into_iter().filter_map(Result::ok) {
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(&env.out_dir) else {
            continue;
        };
        let shown = format!("out/{}/{}", env.env.name, relative.display());
        let Ok(bytes) = std::fs::read(entry.path()) else {
            continue;
        };
        for finding in crate::seal::scan::scan(&shown, &bytes) {
            out.push(Finding::new(finding.problem).file(&shown, finding.line).help(
                "seal it: declare the secret with `secret` in stacks.kdl and run `stackc build`",
            ));
        }
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let Ok(docs) = crate::yaml::parse_documents(text) else {
            continue;
        };
        for doc in docs {
            if doc.get_path("kind").and_then(Value::as_str) != Some("Secret") {
                continue;
            }
            for field in ["apiVersion", "kind", "metadata.name", "metadata.namespace"] {
                if doc
                    .get_path(field)
                    .and_then(Value::as_str)
                    .is_some_and(crate::seal::cipher::is_encrypted)
                {
                    out.push(
                        Finding::new(format!("`{field}` of a sealed Secret is encrypted"))
                            .file(&shown, 1)
                            .help("Flux and kubectl must read apiVersion, kind and metadata: encrypt with `encrypted_regex: ^(data|stringData)$`"),
                    );
                }
            }
        }
    }
    out
}

/// Secrets named by `secretKeyRef`, `*SecretRef`, `secretRef` and `existingSecret` exist
/// among the declared secrets of the object's namespace, with the keys named.
pub fn references(ctx: &Context<'_>, env: &EnvCheck<'_>) -> Vec<Finding> {
    let model = &ctx.stack.model;
    // Secrets that objects of the environment create (cert-manager's TLS secrets).
    let produced: BTreeSet<(&str, &str)> = env
        .objects_of("Certificate")
        .filter_map(|c| {
            Some((
                c.id.namespace.as_str(),
                c.body.get_path("spec.secretName")?.as_str()?,
            ))
        })
        .collect();
    // Indexed once (the first declared wins, as a search in declaration order finds it):
    // every object looks up its service and each secret it references.
    let mut services = BTreeMap::new();
    for service in &model.services {
        services.entry(service.name.as_str()).or_insert(service);
    }
    let mut declared = BTreeMap::new();
    for secret in &model.secrets {
        declared
            .entry((secret.name.value.as_str(), secret.namespace.value.as_str()))
            .or_insert(secret);
    }
    let mut out = Vec::new();
    for object in env.objects.iter() {
        let Some(service_name) = object.service.as_deref() else {
            continue;
        };
        let Some(service) = services.get(service_name).copied() else {
            continue;
        };
        let namespace = if object.id.namespace.is_empty() {
            service.namespace.value.clone()
        } else {
            object.id.namespace.clone()
        };
        let mut refs = Vec::new();
        collect(&object.body, &mut refs);
        for (name, key) in refs {
            if produced.contains(&(namespace.as_str(), name.as_str())) {
                continue;
            }
            let span = service
                .uses_secrets
                .iter()
                .find(|u| u.value == name)
                .map_or(service.name.span, |u| u.span);
            let Some(decl) = declared.get(&(name.as_str(), namespace.as_str())).copied() else {
                out.push(
                    Finding::new(format!(
                        "references secret `{name}`, which is not declared in namespace `{namespace}`"
                    ))
                    .service(service_name)
                    .object(object_label(object))
                    .at(span)
                    .help(format!(
                        "declare it: `secret \"{name}\" namespace=\"{namespace}\" {{ key ... }}`, or allow the rule for a secret another tool creates"
                    )),
                );
                continue;
            };
            if let Some(key) = key {
                if !decl.keys.iter().any(|k| k.name.value == key) {
                    out.push(
                        Finding::new(format!(
                            "references key `{key}` of secret `{name}`, which declares no such key"
                        ))
                        .service(service_name)
                        .object(object_label(object))
                        .at(decl.span)
                        .help(format!("add `key \"{key}\"` to secret `{name}`")),
                    );
                }
            }
        }
    }
    out
}

/// (secret, key) pairs an object refers to.
pub(crate) fn collect(value: &Value, out: &mut Vec<(String, Option<String>)>) {
    match value {
        Value::Map(map) => {
            for (key, child) in map {
                // cert-manager creates an ACME issuer's account key itself.
                let created_by_cert_manager = key == "privateKeySecretRef";
                let reference = !created_by_cert_manager
                    && (key == "secretKeyRef" || key == "secretRef" || key.ends_with("SecretRef"));
                match (reference, child) {
                    (true, Value::Map(inner)) => {
                        if let Some(name) = inner.get("name").and_then(Value::as_str) {
                            let key = inner.get("key").and_then(Value::as_str).map(str::to_string);
                            out.push((name.to_string(), key));
                        }
                    }
                    _ if created_by_cert_manager => {}
                    _ if key == "existingSecret" => {
                        if let Some(name) = child.as_str().filter(|n| !n.is_empty()) {
                            out.push((name.to_string(), None));
                        }
                    }
                    _ => collect(child, out),
                }
            }
        }
        Value::List(items) => items.iter().for_each(|i| collect(i, out)),
        _ => {}
    }
}
