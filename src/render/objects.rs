//! Rendered text to objects: split documents, check each is a Kubernetes object, and give it
//! its place in the out/ tree (`<layer>/<namespace>/<service>/<kind>-<name>.yaml`).

use super::RenderError;
use crate::diagnostics::Diagnostics;
use crate::object::{ObjectId, RenderedObject};
use crate::resolve::ResolvedService;
use crate::value::Value;
use miette::NamedSource;
use std::sync::Arc;

/// Parses rendered (or plain) YAML into objects of `service`.
pub fn objects_from_yaml(
    text: &str,
    origin: &str,
    unit: &str,
    service: &ResolvedService,
) -> Result<Vec<RenderedObject>, Diagnostics> {
    let docs = crate::yaml::parse_documents(text).map_err(|e| {
        let template = if origin.ends_with(".j2") {
            format!("templates/{origin}")
        } else {
            origin.to_string()
        };
        Diagnostics::from(RenderError::InvalidYaml {
            template: template.clone(),
            unit: unit.to_string(),
            message: e.message,
            src: NamedSource::new(format!("{template} (rendered)"), Arc::<str>::from(text)),
            span: (e.offset, 0).into(),
        })
    })?;
    let mut errors = Diagnostics::new();
    let mut objects = Vec::new();
    for (index, body) in docs.into_iter().enumerate() {
        if !matches!(body, Value::Map(_)) {
            errors.push(RenderError::NotAnObject {
                origin: origin.to_string(),
                unit: unit.to_string(),
                index: index + 1,
                reason: format!("it is a {}", body.type_name()),
            });
            continue;
        }
        let id = match ObjectId::of(&body) {
            Ok(id) => id,
            Err(missing) => {
                errors.push(RenderError::NotAnObject {
                    origin: origin.to_string(),
                    unit: unit.to_string(),
                    index: index + 1,
                    reason: format!("`{missing}` is missing or not a string"),
                });
                continue;
            }
        };
        if !is_object_name(&id.name) || !id.kind.chars().all(|c| c.is_ascii_alphanumeric()) {
            errors.push(RenderError::InvalidObjectName {
                origin: origin.to_string(),
                unit: unit.to_string(),
                name: format!("{}/{}", id.kind, id.name),
            });
            continue;
        }
        let path = object_path(&service.layer, &service.namespace, Some(&service.name), &id);
        objects.push(RenderedObject {
            id,
            body,
            service: Some(service.name.clone()),
            path,
        });
    }
    errors.into_result(objects)
}

/// Where an object is written, relative to `out/<env>/`.
pub fn object_path(layer: &str, namespace: &str, service: Option<&str>, id: &ObjectId) -> String {
    let file = format!("{}-{}.yaml", id.kind.to_ascii_lowercase(), id.name);
    match service {
        Some(service) => format!("{layer}/{namespace}/{service}/{file}"),
        None => format!("{layer}/{namespace}/{file}"),
    }
}

/// A DNS-1123 subdomain: what Kubernetes allows as most object names, and safe as a file name.
fn is_object_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(crate::model::is_dns_label)
}
