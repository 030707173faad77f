//! What the rules read: the stack, and per environment its resolved services, its rendered
//! objects and its folder in out/ (for what only the written files can tell). An environment
//! borrows its services and objects where it can: the build's gate checks one unit at a time,
//! and a copy of the environment per unit would make that quadratic.

use crate::model::{Stack, Tracked, TrackedValue};
use crate::object::RenderedObject;
use crate::resolve::{ResolvedEnvironment, ResolvedService};
use crate::value::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Everything the rules look at.
pub struct Context<'a> {
    pub stack: &'a Stack,
    pub envs: Vec<EnvCheck<'a>>,
}

/// One environment.
pub struct EnvCheck<'a> {
    pub env: &'a ResolvedEnvironment,
    /// The services the rules see: the environment's own, or the one unit being checked.
    pub services: &'a [ResolvedService],
    pub objects: Cow<'a, [RenderedObject]>,
    /// `out/<env>` (it may not exist yet).
    pub out_dir: PathBuf,
    /// Each service's position in `services` by name, built on the first lookup.
    by_name: OnceLock<HashMap<&'a str, usize>>,
}

impl Context<'_> {
    /// `span` when it is in the user's files; else the service's declaration (a value from
    /// the built-in defaults has nothing of the user's to point at).
    pub fn user_span(
        &self,
        service: &ResolvedService,
        span: crate::source::Span,
    ) -> crate::source::Span {
        if self.stack.sources.file(span.file).name.starts_with('<') {
            service.span
        } else {
            span
        }
    }
}

impl<'a> EnvCheck<'a> {
    /// The whole of `env`, with `objects`.
    pub fn new(
        env: &'a ResolvedEnvironment,
        objects: impl Into<Cow<'a, [RenderedObject]>>,
        out_dir: PathBuf,
    ) -> EnvCheck<'a> {
        EnvCheck::with_services(env, &env.services, objects, out_dir)
    }

    /// `env` as the rules see it with only `services` (one unit, for the build's gate) and
    /// `objects`.
    pub fn with_services(
        env: &'a ResolvedEnvironment,
        services: &'a [ResolvedService],
        objects: impl Into<Cow<'a, [RenderedObject]>>,
        out_dir: PathBuf,
    ) -> EnvCheck<'a> {
        EnvCheck {
            env,
            services,
            objects: objects.into(),
            out_dir,
            by_name: OnceLock::new(),
        }
    }

    /// The service named `name`. Rules look one up per object: a search per object through
    /// the environment's services made `stackc check` quadratic in the stack's size.
    pub fn service(&self, name: &str) -> Option<&'a ResolvedService> {
        let services = self.services;
        let by_name = self.by_name.get_or_init(|| {
            let mut by_name = HashMap::with_capacity(services.len());
            for (at, service) in services.iter().enumerate() {
                by_name.entry(service.name.as_str()).or_insert(at);
            }
            by_name
        });
        by_name.get(name).and_then(|&at| services.get(at))
    }

    /// The resolved services the rules see.
    pub fn services(&self) -> &[ResolvedService] {
        self.services
    }

    /// The objects of one kind.
    pub fn objects_of<'o>(&'o self, kind: &'o str) -> impl Iterator<Item = &'o RenderedObject> {
        self.objects.iter().filter(move |o| o.id.kind == kind)
    }
}

/// The tracked value at a dotted path of a service's resolved settings.
pub fn setting<'s>(service: &'s ResolvedService, path: &str) -> Option<&'s Tracked> {
    let mut node = &service.settings;
    for segment in path.split('.') {
        match &node.value {
            TrackedValue::Map(entries) => node = entries.get(segment)?,
            _ => return None,
        }
    }
    Some(node)
}

/// A setting's plain value.
pub fn setting_value(service: &ResolvedService, path: &str) -> Option<Value> {
    setting(service, path).map(Tracked::to_value)
}

/// How an object is named in findings: `Kind namespace/name`.
pub fn object_label(object: &RenderedObject) -> String {
    object.id.to_string()
}
