//! One object per identity: two documents of an environment that render the same
//! kind/namespace/name (or the same file under out/) would overwrite each other, and a
//! manifest cannot bring its own copy of a Namespace stackc generates. Each report names both
//! sources, the template or manifest document and the service declaration, each shown in its
//! own file.

use super::error::{RenderError, Site};
use crate::diagnostics::Diagnostics;
use crate::model::Stack;
use crate::object::{ObjectId, RenderedObject};
use std::collections::{BTreeMap, BTreeSet};

/// Refuses two objects of one environment with the same identity or the same file.
pub fn check_unique(
    stack: &Stack,
    env: &str,
    objects: &[RenderedObject],
) -> Result<(), Diagnostics> {
    let mut errors = Diagnostics::new();
    let mut seen: BTreeMap<&ObjectId, &RenderedObject> = BTreeMap::new();
    let mut paths: BTreeMap<&str, &RenderedObject> = BTreeMap::new();
    for object in objects {
        if let Some(first) = seen.insert(&object.id, object) {
            errors.push(duplicate(stack, env, object.id.to_string(), first, object));
        } else if let Some(first) = paths.insert(&object.path, object) {
            // Same kind and name under different apiVersions would share a file.
            let what = format!("{} (file {})", object.id, object.path);
            errors.push(duplicate(stack, env, what, first, object));
        }
    }
    errors.into_result(())
}

/// The namespaces stackc writes a Namespace object for.
pub fn generated_namespaces(stack: &Stack) -> BTreeSet<String> {
    crate::layout::Layout::new(stack).generated_namespaces()
}

/// Refuses a user document that is one of the Namespaces stackc generates (kustomize would
/// refuse the environment for holding it twice).
pub fn check_generated(
    stack: &Stack,
    generated: &BTreeSet<String>,
    unit: &str,
    objects: &[RenderedObject],
) -> Result<(), Diagnostics> {
    let mut errors = Diagnostics::new();
    for object in objects {
        let Some(origin) = &object.origin else {
            continue;
        };
        if object.id.kind != "Namespace" || !generated.contains(&object.id.name) {
            continue;
        }
        errors.push(RenderError::GeneratedNamespace {
            origin: origin.name.clone(),
            unit: unit.to_string(),
            index: origin.document,
            name: object.id.name.clone(),
            src: stack.sources.named(origin.file),
            span: origin.span.into(),
            sites: service_site(stack, object).into_iter().collect(),
        });
    }
    errors.into_result(())
}

fn duplicate(
    stack: &Stack,
    env: &str,
    object: String,
    first: &RenderedObject,
    second: &RenderedObject,
) -> RenderError {
    let (src, span) = match &second.origin {
        Some(origin) => (stack.sources.named(origin.file), origin.span.into()),
        None => (stack.sources.named(crate::source::FileId(0)), (0, 0).into()),
    };
    let mut sites = Vec::new();
    if let Some(origin) = &first.origin {
        sites.push(Site {
            message: format!("first rendered by {}", owner(first)),
            src: stack.sources.named(origin.file),
            span: origin.span.into(),
            label: format!("document {}", origin.document),
        });
    }
    sites.extend(service_site(stack, first));
    if second.service != first.service {
        sites.extend(service_site(stack, second));
    }
    RenderError::Duplicate {
        object,
        env: env.to_string(),
        first: owner(first),
        second: owner(second),
        src,
        span,
        sites,
    }
}

/// `service web (templates/deployment/service.yaml.j2, document 2)`.
fn owner(object: &RenderedObject) -> String {
    let service = match &object.service {
        Some(name) => format!("service {name}"),
        None => "stackc".to_string(),
    };
    match &object.origin {
        Some(origin) => format!("{service} ({}, document {})", origin.name, origin.document),
        None => service,
    }
}

/// The declaration of the service that rendered `object`, in `stacks.kdl`.
fn service_site(stack: &Stack, object: &RenderedObject) -> Option<Site> {
    let name = object.service.as_deref()?;
    let service = stack.model.services.iter().find(|s| s.name.value == name)?;
    let located = stack.sources.locate(service.span);
    Some(Site {
        message: format!("service {name} is declared here"),
        src: located.source,
        span: located.span,
        label: format!("service {name}"),
    })
}
