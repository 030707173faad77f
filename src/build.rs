//! The build: resolve, render every service x environment unit in parallel, seal secrets,
//! and lay out each environment's files. Pure apart from reading the stack: writing is the
//! caller's job (`emit::apply`), so `--check`, `diff` and a real build share this path.

use crate::diagnostics::Diagnostics;
use crate::emit::{self, EnvLayout, Files};
use crate::model::Stack;
use crate::object::RenderedObject;
use crate::render::{RenderError, Renderer};
use crate::resolve::{Resolved, ResolvedEnvironment};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// A shared template that fails fails in every unit; past this many reports, more say nothing new.
const MAX_REPORTED: usize = 20;

/// One environment, rendered: its objects and the files they become.
pub struct EnvOutput {
    pub env: String,
    pub objects: Vec<RenderedObject>,
    pub files: Files,
}

/// Renders the objects of the selected environments (all when `only` is empty).
pub fn render_objects(stack: &Stack, resolved: &Resolved, only: &[String]) -> Result<Vec<(String, Vec<RenderedObject>)>, Diagnostics> {
    let renderer = Renderer::new(stack);
    renderer.compile_all()?;
    let envs: Vec<&ResolvedEnvironment> = resolved
        .environments
        .iter()
        .filter(|e| only.is_empty() || only.contains(&e.name))
        .collect();
    let units: Vec<(usize, usize)> = envs
        .iter()
        .enumerate()
        .flat_map(|(e, env)| (0..env.services.len()).map(move |s| (e, s)))
        .collect();
    let rendered: Vec<Result<Vec<RenderedObject>, Diagnostics>> = units
        .par_iter()
        .map(|&(e, s)| renderer.render_service(envs[e], &envs[e].services[s]))
        .collect();
    let mut errors = Diagnostics::new();
    let mut out: Vec<(String, Vec<RenderedObject>)> = envs.iter().map(|e| (e.name.clone(), Vec::new())).collect();
    for ((e, _), result) in units.iter().zip(rendered) {
        match result {
            Ok(objects) => out[*e].1.extend(objects),
            Err(diagnostics) => errors.extend(diagnostics),
        }
    }
    for (env, objects) in &out {
        check_unique(env, objects, &mut errors);
    }
    errors.truncate(MAX_REPORTED);
    errors.into_result(out)
}

fn check_unique(env: &str, objects: &[RenderedObject], errors: &mut Diagnostics) {
    let mut seen: BTreeMap<(&crate::object::ObjectId, ()), &RenderedObject> = BTreeMap::new();
    let mut paths: BTreeMap<&str, &RenderedObject> = BTreeMap::new();
    for object in objects {
        let owner = |o: &RenderedObject| format!("service {}", o.service.as_deref().unwrap_or("stackc"));
        if let Some(first) = seen.insert((&object.id, ()), object) {
            errors.push(RenderError::DuplicateObject {
                object: object.id.to_string(),
                env: env.to_string(),
                first: owner(first),
                second: owner(object),
            });
        } else if let Some(first) = paths.insert(&object.path, object) {
            // Same kind and name under different apiVersions would share a file.
            errors.push(RenderError::DuplicateObject {
                object: format!("{} (file {})", object.id, object.path),
                env: env.to_string(),
                first: owner(first),
                second: owner(object),
            });
        }
    }
}

/// The layers in dependency order, each with the layers it depends on.
pub fn layer_plan(stack: &Stack) -> Vec<(&str, Vec<&str>)> {
    let model = &stack.model;
    model
        .layer_order()
        .into_iter()
        .map(|name| {
            let deps = model
                .layers
                .iter()
                .find(|l| l.name.value == name)
                .map(|l| l.depends_on.iter().map(|d| d.as_str()).collect())
                .unwrap_or_default();
            (name, deps)
        })
        .collect()
}

/// Each namespace's home layer: the first layer (in dependency order) with a service in it.
pub fn namespace_homes(stack: &Stack) -> BTreeMap<String, String> {
    let mut homes = BTreeMap::new();
    for layer in stack.model.layer_order() {
        for service in stack.model.services.iter().filter(|s| s.layer.value == layer) {
            homes.entry(service.namespace.value.clone()).or_insert_with(|| layer.to_string());
        }
    }
    let first = stack.model.layer_order().first().map(|l| (*l).to_string()).unwrap_or_default();
    for secret in &stack.model.secrets {
        homes.entry(secret.namespace.value.clone()).or_insert_with(|| first.clone());
    }
    homes
}

/// Lays out the files of each rendered environment, with its sealed secrets.
pub fn lay_out(stack: &Stack, rendered: Vec<(String, Vec<RenderedObject>)>, mut secrets: BTreeMap<String, Vec<(String, Vec<u8>)>>) -> Vec<EnvOutput> {
    let layers = layer_plan(stack);
    let homes = namespace_homes(stack);
    let namespaces: Vec<(String, String)> = homes.iter().map(|(ns, layer)| (layer.clone(), ns.clone())).collect();
    rendered
        .into_iter()
        .map(|(env, objects)| {
            let files = emit::layout(&EnvLayout {
                env: &env,
                layers: layers.clone(),
                namespaces: namespaces.clone(),
                objects: &objects,
                secrets: secrets.remove(&env).unwrap_or_default(),
            });
            EnvOutput { env, objects, files }
        })
        .collect()
}
