//! Templates to objects: every service in an environment renders its template folder
//! (`templates/<template>/*.yaml.j2`) and its plain manifests into [`RenderedObject`]s. Every
//! document is parsed as YAML before anything is written.

mod context;
mod engine;
mod error;
mod interpolate;
mod limit;
mod objects;
pub mod patch;
mod patch_error;
mod patch_json;
mod secrets;
mod strict;
mod unique;

pub use engine::FUEL;

/// The most text one template may render (its objects are parsed and kept in memory).
pub const MAX_RENDERED_BYTES: usize = 16 << 20;
pub use error::RenderError;
pub use objects::objects_from_yaml;
pub use unique::check_unique;

use crate::diagnostics::Diagnostics;
use crate::model::{Stack, Tracked, TrackedValue};
use crate::object::RenderedObject;
use crate::resolve::{join, ResolvedEnvironment, ResolvedService};
use crate::source::Span;
use crate::value::{map, Value};
use minijinja::{Environment, ErrorKind};

/// Renders services of one stack; cheap to share across threads.
pub struct Renderer<'s> {
    stack: &'s Stack,
    env: Environment<'static>,
    /// The namespaces stackc writes a Namespace for, which no document may bring again.
    generated: std::collections::BTreeSet<String>,
    /// Each environment's policy settings, merged once, not once per unit.
    policy_settings: std::collections::BTreeMap<String, Tracked>,
}

impl<'s> Renderer<'s> {
    /// A renderer over the stack's templates.
    pub fn new(stack: &'s Stack) -> Self {
        let env = engine::environment(&stack.templates);
        Renderer {
            stack,
            env,
            generated: unique::generated_namespaces(stack),
            policy_settings: stack
                .model
                .environments
                .iter()
                .map(|e| {
                    let name = e.name.value.clone();
                    let settings = crate::policy::env_settings(&stack.model, &name);
                    (name, settings)
                })
                .collect(),
        }
    }

    /// Compiles every template once, so a syntax error is reported once, not per unit.
    pub fn compile_all(&self) -> Result<(), Diagnostics> {
        let mut errors = Diagnostics::new();
        let model = &self.stack.model;
        for name in self.stack.templates.keys() {
            if let Err(e) = self.env.get_template(name) {
                let dir = name.split('/').next().unwrap_or_default();
                let users: Vec<&str> = model
                    .services
                    .iter()
                    .filter(|s| s.template.as_ref().is_some_and(|t| t.value == dir))
                    .map(|s| s.name.as_str())
                    .collect();
                let envs: Vec<&str> = model.environments.iter().map(|e| e.name.as_str()).collect();
                let unit = if users.is_empty() {
                    "a template other templates include".to_string()
                } else {
                    format!(
                        "used by service {} in environment {}",
                        users.join(", "),
                        envs.join(", ")
                    )
                };
                errors.push(self.template_error(&e, name, &unit));
            }
        }
        errors.into_result(())
    }

    /// The templates a service's template folder renders, in order (partials, `_*`, skipped).
    pub fn entry_templates(&self, template: &str) -> Vec<&'s str> {
        let prefix = format!("{template}/");
        self.stack
            .templates
            .keys()
            .filter(|name| {
                name.strip_prefix(&prefix).is_some_and(|rest| {
                    !rest.contains('/') && !rest.starts_with('_') && rest.ends_with(".yaml.j2")
                })
            })
            .map(String::as_str)
            .collect()
    }

    /// The template context of a service: settings with `{{ }}` expanded.
    pub fn context(
        &self,
        env: &ResolvedEnvironment,
        service: &ResolvedService,
    ) -> Result<Value, Diagnostics> {
        let model = &self.stack.model;
        let unit = unit_label(env, service);
        let base = map([
            ("project", context::project(model)),
            ("environment", context::environment(env)),
            (
                "service",
                map([
                    ("name", Value::from(service.name.as_str())),
                    ("namespace", Value::from(service.namespace.as_str())),
                    ("layer", Value::from(service.layer.as_str())),
                ]),
            ),
        ]);
        let mut errors = Diagnostics::new();
        let _guard = crate::memory::Guard::enter(format!("the settings of {unit}"));
        let mut scope = Interpolation {
            base: &base,
            template_base: None,
            unit: &unit,
            path: Vec::new(),
            errors: &mut errors,
        };
        let settings = self.interpolate(&service.settings, &mut scope);
        let merged;
        let env_settings = match self.policy_settings.get(&env.name) {
            Some(settings) => settings,
            None => {
                merged = crate::policy::env_settings(model, &env.name);
                &merged
            }
        };
        let policy =
            crate::policy::context(self.stack, env, env_settings, service).unwrap_or_else(|e| {
                errors.extend(e);
                Value::Null
            });
        errors.into_result(map([
            ("project", context::project(model)),
            ("environment", context::environment(env)),
            ("service", context::service(service, settings)),
            ("secrets", context::secrets(model, service)),
            ("policy", policy),
        ]))
    }

    /// Renders one service in one environment.
    pub fn render_service(
        &self,
        env: &ResolvedEnvironment,
        service: &ResolvedService,
    ) -> Result<Vec<RenderedObject>, Diagnostics> {
        let ctx = self.context(env, service)?;
        self.render_with_context(env, service, &ctx)
    }

    /// Renders one service in one environment with a context from [`Renderer::context`].
    pub fn render_with_context(
        &self,
        env: &ResolvedEnvironment,
        service: &ResolvedService,
        ctx: &Value,
    ) -> Result<Vec<RenderedObject>, Diagnostics> {
        let unit = unit_label(env, service);
        let mut objects = Vec::new();
        let mut errors = Diagnostics::new();
        if let Some(template) = &service.template {
            let ctx_value = context::to_template(ctx);
            for name in self.entry_templates(template) {
                // One budgeted scope per template: its render and the parse of what it wrote.
                let _guard = crate::memory::Guard::enter(format!("templates/{name} ({unit})"));
                let mut out = limit::Limited::new(MAX_RENDERED_BYTES);
                let rendered = self
                    .env
                    .get_template(name)
                    .and_then(|t| t.render_captured_to(&ctx_value, &mut out).map(drop));
                let overflowed = out.overflowed();
                let rendered = rendered.map(|()| out.into_string());
                let Some(source) = self.stack.templates.get(name) else {
                    continue;
                };
                match rendered {
                    Ok(text) => match objects_from_yaml(
                        &text,
                        name,
                        &unit,
                        service,
                        (source.file, &source.text),
                    ) {
                        Ok(found) => objects.extend(found),
                        Err(e) => errors.extend(e),
                    },
                    Err(e) if overflowed => {
                        errors.push(self.oversize_error(&e, name, &unit));
                    }
                    Err(e) => errors.push(self.template_error(&e, name, &unit)),
                }
            }
        }
        for manifest in &service.manifests {
            let Some(file) = self.stack.manifests.get(manifest) else {
                continue;
            };
            let text = self.stack.sources.file(*file).text.clone();
            let _guard = crate::memory::Guard::enter(format!("{manifest} ({unit})"));
            match objects_from_yaml(&text, manifest, &unit, service, (*file, &text)) {
                Ok(found) => objects.extend(found),
                Err(e) => errors.extend(e),
            }
        }
        // The unit's policy objects (HPA, PDB, NetworkPolicy), cached with it.
        objects.extend(
            crate::policy::service_objects(ctx)
                .into_iter()
                .map(|(id, body)| RenderedObject {
                    path: crate::layout::object_path(
                        &service.layer,
                        &service.namespace,
                        Some(&service.name),
                        &id,
                    ),
                    id,
                    body,
                    service: Some(service.name.clone()),
                    origin: None,
                }),
        );
        if errors.is_empty() {
            if let Err(e) = patch::apply(self.stack, &env.name, &service.name, &unit, &mut objects)
            {
                errors.extend(e);
            }
        }
        if errors.is_empty() {
            if let Err(e) = secrets::check_secrets(self.stack, env, &unit, &objects)
                .and_then(|()| {
                    unique::check_generated(self.stack, &self.generated, &unit, &objects)
                })
                .and_then(|()| check_unique(self.stack, &env.name, &objects))
            {
                errors.extend(e);
            }
        }
        errors.into_result(objects)
    }

    fn interpolate<'t>(&self, tree: &'t Tracked, scope: &mut Interpolation<'_, 't>) -> Value {
        match &tree.value {
            TrackedValue::Scalar(Value::String(s)) if interpolate::is_template(s) => {
                let rendered =
                    interpolate::render(&self.env, s, scope.base, &mut scope.template_base);
                match rendered {
                    Ok(out) => Value::String(out),
                    Err(e) => {
                        let path = scope.path.iter().fold(String::new(), |p, k| join(&p, k));
                        let error = self.interpolation_error(&e, &path, tree.span, scope.unit);
                        scope.errors.push(error);
                        Value::String(s.clone())
                    }
                }
            }
            TrackedValue::Scalar(v) => v.clone(),
            TrackedValue::List(items) => Value::List(
                items
                    .iter()
                    .map(|item| self.interpolate(item, scope))
                    .collect(),
            ),
            TrackedValue::Map(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| {
                        scope.path.push(k);
                        let value = self.interpolate(v, scope);
                        scope.path.pop();
                        (k.clone(), value)
                    })
                    .collect(),
            ),
        }
    }

    fn interpolation_error(
        &self,
        error: &minijinja::Error,
        path: &str,
        span: Span,
        unit: &str,
    ) -> RenderError {
        let located = self.stack.sources.locate(span);
        RenderError::Interpolation {
            path: path.to_string(),
            unit: unit.to_string(),
            message: describe(error)
                + "; settings can use project.name, project.domain, environment.name, environment.domain, environment.wave, service.name, service.namespace, service.layer",
            src: located.source,
            span: located.span,
        }
    }

    /// A render stopped by [`MAX_RENDERED_BYTES`] (minijinja does not say which line was
    /// writing, so the label is on the template).
    fn oversize_error(&self, error: &minijinja::Error, entry: &str, unit: &str) -> RenderError {
        let mut report = self.template_error(error, entry, unit);
        if let RenderError::Template {
            message,
            label,
            help,
            ..
        } = &mut report
        {
            *message = format!(
                "the template rendered more than {} MiB",
                MAX_RENDERED_BYTES >> 20
            );
            *label = "this template".to_string();
            *help = Some(
                "a template renders a few objects; is a loop or a string growing without bound?"
                    .to_string(),
            );
        }
        report
    }

    fn template_error(&self, error: &minijinja::Error, entry: &str, unit: &str) -> RenderError {
        let name = error.name().unwrap_or(entry).to_string();
        let (src, span) = match self.stack.templates.get(&name) {
            Some(file) => {
                let text = &file.text;
                let span = error
                    .range()
                    .filter(|r| r.end <= text.len())
                    .map(|r| miette::SourceSpan::new(r.start.into(), r.end - r.start))
                    .or_else(|| error.line().map(|line| line_span(text, line)))
                    .unwrap_or_else(|| (0, 0).into());
                (self.stack.sources.named(file.file), span)
            }
            None => (
                self.stack.sources.named(crate::source::FileId(0)),
                (0, 0).into(),
            ),
        };
        let help = match error.kind() {
            ErrorKind::UndefinedError => Some("the context holds `project`, `environment`, `service` (with every resolved setting) and `secrets`; test optional values with `is defined` or `| default(...)`".to_string()),
            ErrorKind::OutOfFuel => Some(format!("a template may run at most {FUEL} instructions; is there a runaway loop?")),
            ErrorKind::TemplateNotFound => Some("templates are looked up by their path under templates/, e.g. `_shared/labels.j2`".to_string()),
            _ => None,
        };
        RenderError::Template {
            template: format!("templates/{name}"),
            unit: unit.to_string(),
            message: describe(error),
            src,
            span,
            label: error.kind().to_string(),
            help,
        }
    }
}

/// What interpolating one unit's settings carries along: the values a setting may use (also
/// as a template value, converted on first use), where in the tree it is, and the errors.
struct Interpolation<'a, 't> {
    base: &'a Value,
    template_base: Option<minijinja::Value>,
    unit: &'a str,
    /// The keys down to the current node, joined into a dotted path only for an error.
    path: Vec<&'t str>,
    errors: &'a mut Diagnostics,
}

/// `service web in environment dev`, for messages.
pub fn unit_label(env: &ResolvedEnvironment, service: &ResolvedService) -> String {
    format!("service {} in environment {}", service.name, env.name)
}

fn describe(error: &minijinja::Error) -> String {
    match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    }
}

fn line_span(text: &str, line: usize) -> miette::SourceSpan {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return miette::SourceSpan::new(offset.into(), l.trim_end_matches('\n').len());
        }
        offset += l.len();
    }
    (0, 0).into()
}
