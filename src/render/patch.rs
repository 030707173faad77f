//! Patches of rendered objects: after a unit's documents are parsed and before Secrets are
//! checked, every patch of the environment that matches one of the unit's objects (by kind
//! and name, and apiVersion and namespace when given) is applied, lowest layer first: the
//! `environment` block, the service's `env` block, `environments/<env>.kdl`, then its
//! `service` block. A merge uses the one merge rule of values (maps merge, lists and scalars
//! replace, `#null` removes); a JSON6902 list applies its operations in order.
//!
//! A patch declared for one service must match one of its objects; an environment-wide patch
//! must match an object of some service, which only the whole environment can tell
//! ([`check_matched`]).

use super::patch_error::{ObjectDocument, PatchError};
use super::patch_json;
use crate::diagnostics::{did_you_mean, Diagnostics};
use crate::model::{
    Model, OpKind, Patch, PatchBody, PatchOp, PatchTarget, Stack, Tracked, TrackedValue,
};
use crate::object::{ObjectId, RenderedObject};
use crate::resolve::{join, merge, LayerLabel, Origin, Provenance};
use crate::source::Span;
use crate::value::Value;
use std::collections::BTreeMap;

/// A patch with the layer that declared it.
pub struct Scoped<'m> {
    pub layer: LayerLabel,
    pub patch: &'m Patch,
    /// The service it was declared for (its `env` block or its block in the overlay file);
    /// `None` for an environment-wide patch.
    pub service: Option<&'m str>,
}

/// The patches that apply in `env`, lowest layer first: the environment-wide ones, and with
/// `service`, also those declared for it.
pub fn declared<'m>(model: &'m Model, env: &str, service: Option<&str>) -> Vec<Scoped<'m>> {
    let mut out = Vec::new();
    let environment = model.environment(env);
    let scoped = |layer: String, patches: &'m [Patch], service: Option<&'m str>| {
        patches.iter().map(move |patch| Scoped {
            layer: LayerLabel(layer.clone()),
            patch,
            service,
        })
    };
    if let Some(e) = environment {
        out.extend(scoped(format!("environment {env}"), &e.patches, None));
    }
    let declaration = service.and_then(|name| model.service(name));
    if let Some(s) = declaration {
        for block in s.env_blocks.iter().filter(|b| b.env.value == env) {
            out.extend(scoped(
                format!("service {}, env {env}", s.name.value),
                &block.patches,
                Some(s.name.as_str()),
            ));
        }
    }
    if let Some(overlay) = environment.and_then(|e| e.overlay.as_ref()) {
        out.extend(scoped(
            format!("environments/{env}.kdl"),
            &overlay.patches,
            None,
        ));
        if let Some(s) = declaration {
            for o in overlay
                .services
                .iter()
                .filter(|o| o.service.value == s.name.value)
            {
                out.extend(scoped(
                    format!("environments/{env}.kdl, service {}", s.name.value),
                    &o.patches,
                    Some(s.name.as_str()),
                ));
            }
        }
    }
    out
}

/// What the unit cache key needs of the patches that may apply to a unit: all of them, as
/// declared (an environment-wide patch may match any service's object).
pub fn key(model: &Model, env: &str, service: &str) -> Value {
    Value::List(
        declared(model, env, Some(service))
            .iter()
            .map(|s| {
                crate::value::map([
                    ("layer", Value::from(s.layer.0.as_str())),
                    (
                        "patch",
                        Value::from(serde_json::to_value(s.patch).unwrap_or_default()),
                    ),
                ])
            })
            .collect(),
    )
}

/// Whether a patch targets this object.
pub fn matches(target: &PatchTarget, id: &ObjectId) -> bool {
    target.kind.value == id.kind
        && target.name.value == id.name
        && target
            .api_version
            .as_ref()
            .is_none_or(|a| a.value == id.api_version)
        && target
            .namespace
            .as_ref()
            .is_none_or(|n| n.value == id.namespace)
}

/// The patched fields of each object, by `Kind/name` (how patches name it), for `explain`.
pub type Patched = BTreeMap<String, Provenance>;

/// Which layer set which field of the (already patched) `objects` of `service` in `env`. An
/// operation's origin holds its value, or for `remove`, `move` and `copy` what the location
/// holds in the end (null when removed).
pub fn provenance(model: &Model, env: &str, service: &str, objects: &[RenderedObject]) -> Patched {
    let mut out = Patched::new();
    for scoped in declared(model, env, Some(service)) {
        for object in objects
            .iter()
            .filter(|o| matches(&scoped.patch.target, &o.id))
        {
            let provenance = out
                .entry(format!("{}/{}", object.id.kind, object.id.name))
                .or_default();
            match &scoped.patch.body {
                PatchBody::Merge(tree) => provenance.record(&scoped.layer, tree),
                PatchBody::Json(ops) => {
                    for op in ops {
                        record_op(provenance, &scoped.layer, &object.body, op);
                    }
                }
            }
        }
    }
    out
}

/// Applies the patches of `env` that match the objects of `service`.
pub fn apply(
    stack: &Stack,
    env: &str,
    service: &str,
    unit: &str,
    objects: &mut [RenderedObject],
) -> Result<(), Diagnostics> {
    let patches = declared(&stack.model, env, Some(service));
    let mut errors = Diagnostics::new();
    for scoped in &patches {
        let mut matched = false;
        for object in objects.iter_mut() {
            if !matches(&scoped.patch.target, &object.id) {
                continue;
            }
            matched = true;
            if let Err(e) = apply_one(stack, unit, scoped, object) {
                errors.extend(e);
            }
        }
        if !matched && scoped.service.is_some() {
            errors.push(no_match(
                stack,
                scoped.patch,
                format!("of service {service} in environment {env}"),
                objects.iter().map(|o| &o.id),
            ));
        }
    }
    errors.into_result(())
}

/// Refuses every environment-wide patch of `env` that matches none of the environment's
/// objects, given as `apiVersion/kind/namespace/name` identity keys.
pub fn check_matched<'a>(
    stack: &Stack,
    env: &str,
    identities: impl IntoIterator<Item = &'a str>,
) -> Result<(), Diagnostics> {
    let patches: Vec<Scoped> = declared(&stack.model, env, None);
    if patches.is_empty() {
        return Ok(());
    }
    let ids: Vec<ObjectId> = identities
        .into_iter()
        .filter_map(|key| {
            // Only the apiVersion may hold a `/`: split from the right.
            let mut parts = key.rsplitn(4, '/');
            let name = parts.next()?.to_string();
            let namespace = parts.next()?.to_string();
            let kind = parts.next()?.to_string();
            let api_version = parts.next()?.to_string();
            Some(ObjectId {
                api_version,
                kind,
                namespace,
                name,
            })
        })
        .collect();
    let mut errors = Diagnostics::new();
    for scoped in patches {
        if !ids.iter().any(|id| matches(&scoped.patch.target, id)) {
            errors.push(no_match(
                stack,
                scoped.patch,
                format!("in environment {env}"),
                ids.iter(),
            ));
        }
    }
    errors.into_result(())
}

fn no_match<'a>(
    stack: &Stack,
    patch: &Patch,
    scope: String,
    candidates: impl Iterator<Item = &'a ObjectId>,
) -> PatchError {
    let target = &patch.target;
    let candidates: Vec<&ObjectId> = candidates.collect();
    let same_kind: Vec<&str> = candidates
        .iter()
        .filter(|id| id.kind == target.kind.value)
        .map(|id| id.name.as_str())
        .collect();
    let help = if same_kind.is_empty() {
        let kinds: std::collections::BTreeSet<&str> =
            candidates.iter().map(|id| id.kind.as_str()).collect();
        did_you_mean(&target.kind.value, kinds.iter().copied()).or_else(|| {
            Some(format!(
                "no {} is rendered here; kinds rendered: {}",
                target.kind.value,
                kinds.into_iter().collect::<Vec<_>>().join(", ")
            ))
        })
    } else {
        did_you_mean(&target.name.value, same_kind.iter().copied()).or_else(|| {
            Some(format!(
                "{} objects rendered here: {}",
                target.kind.value,
                same_kind.join(", ")
            ))
        })
    };
    let located = stack.sources.locate(patch.span);
    PatchError::NoMatch {
        target: target.describe(),
        scope,
        src: located.source,
        span: located.span,
        help,
    }
}

fn apply_one(
    stack: &Stack,
    unit: &str,
    scoped: &Scoped,
    object: &mut RenderedObject,
) -> Result<(), Diagnostics> {
    let patch = scoped.patch;
    let label = object.id.to_string();
    if object.id.kind == "Secret" && object.body.as_map().is_some_and(|m| m.contains_key("sops")) {
        let located = stack.sources.locate(patch.span);
        return Err(PatchError::SealedSecret {
            object: label,
            unit: unit.to_string(),
            src: located.source,
            span: located.span,
        }
        .into());
    }
    match &patch.body {
        PatchBody::Merge(tree) => {
            // The object's leaves are attributed to the document that rendered it.
            let lower = object.origin.as_ref().map_or(patch.span, |o| Span {
                file: o.file,
                offset: o.span.0,
                len: o.span.1,
            });
            let mut base = tracked(&object.body, lower);
            if let Err(clash) = merge(&mut base, tree, "") {
                let upper = stack.sources.locate(clash.upper.0);
                let lower = stack.sources.locate(clash.lower.0);
                return Err(PatchError::TypeClash {
                    object: label,
                    unit: unit.to_string(),
                    path: clash.path,
                    upper_type: clash.upper.1,
                    lower_type: clash.lower.1,
                    src: upper.source,
                    span: upper.span,
                    object_at: vec![ObjectDocument {
                        lower_type: clash.lower.1,
                        src: lower.source,
                        span: lower.span,
                    }],
                }
                .into());
            }
            let mut body = base.to_value();
            remove_nulls(&mut body, tree);
            object.body = body;
        }
        PatchBody::Json(ops) => {
            for op in ops {
                let value = op.value.as_ref().map(Tracked::to_value);
                let from = op.from.as_ref().map(|f| f.tokens.as_slice());
                if let Err(failure) = patch_json::apply(
                    &mut object.body,
                    op.op,
                    &op.path.tokens,
                    from,
                    value.as_ref(),
                ) {
                    let located = stack.sources.locate(op.span);
                    return Err(PatchError::OpFailed {
                        object: label,
                        unit: unit.to_string(),
                        op: op.op.as_str(),
                        reason: failure.describe(),
                        src: located.source,
                        span: located.span,
                        help: Some(format!(
                            "the object is rendered from {}; `stackc build` then a look at its file in out/ shows the paths it has",
                            object.origin.as_ref().map_or("its template", |o| o.name.as_str())
                        )),
                    }
                    .into());
                }
            }
        }
    }
    check_identity(stack, unit, patch, object, &label)
}

/// A patch may change anything but what names the object (its file, its match elsewhere).
fn check_identity(
    stack: &Stack,
    unit: &str,
    patch: &Patch,
    object: &RenderedObject,
    label: &str,
) -> Result<(), Diagnostics> {
    if ObjectId::of(&object.body).as_ref() == Ok(&object.id) {
        return Ok(());
    }
    let located = stack.sources.locate(patch.span);
    Err(PatchError::OpFailed {
        object: label.to_string(),
        unit: unit.to_string(),
        op: "patch",
        reason: "it changes the object's apiVersion, kind, metadata.name or metadata.namespace"
            .to_string(),
        src: located.source,
        span: located.span,
        help: Some("an object's identity comes from its template; patch its other fields".into()),
    }
    .into())
}

/// Records the location an operation wrote (or removed).
fn record_op(provenance: &mut Provenance, layer: &LayerLabel, body: &Value, op: &PatchOp) {
    let mut path = String::new();
    let mut current = Some(body);
    for token in &op.path.tokens {
        let token = match (current, token.as_str()) {
            (Some(Value::List(list)), "-") => list.len().saturating_sub(1).to_string(),
            _ => token.clone(),
        };
        current = current.and_then(|v| match v {
            Value::Map(m) => m.get(&token),
            Value::List(l) => token.parse::<usize>().ok().and_then(|i| l.get(i)),
            _ => None,
        });
        path = join(&path, &token);
    }
    let value = match (&op.value, op.op) {
        (Some(value), _) => value.to_value(),
        (None, OpKind::Remove) => Value::Null,
        (None, _) => current.cloned().unwrap_or(Value::Null),
    };
    provenance.paths.entry(path).or_default().push(Origin {
        layer: layer.clone(),
        span: op.span,
        value,
    });
}

/// A rendered value as a tree whose every node was set at `span`.
fn tracked(value: &Value, span: Span) -> Tracked {
    let value = match value {
        Value::Map(m) => TrackedValue::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), tracked(v, span)))
                .collect(),
        ),
        Value::List(items) => TrackedValue::List(items.iter().map(|v| tracked(v, span)).collect()),
        scalar => TrackedValue::Scalar(scalar.clone()),
    };
    Tracked { value, span }
}

/// `#null` in a patch removes the field from the object (in values it unsets a setting,
/// which templates read as absent; an object has no such reader).
fn remove_nulls(value: &mut Value, patch: &Tracked) {
    let (Value::Map(map), TrackedValue::Map(entries)) = (value, &patch.value) else {
        return;
    };
    for (key, entry) in entries {
        match &entry.value {
            TrackedValue::Scalar(Value::Null) => {
                map.shift_remove(key);
            }
            TrackedValue::Map(_) => {
                if let Some(child) = map.get_mut(key) {
                    remove_nulls(child, entry);
                }
            }
            _ => {}
        }
    }
}
