//! Whole-model checks once every file is parsed: names, uniqueness, references and cycles.

use super::names::{check_label, is_secret_key};
use super::{Model, ModelError, Named, TemplateFile};
use crate::diagnostics::{did_you_mean, Diagnostics};
use crate::source::Sources;
use std::collections::{BTreeMap, BTreeSet};

/// How many errors get a "did you mean" (reported errors are capped anyway).
const MAX_SUGGESTIONS: usize = 50;

/// Checks the parsed model; returns every problem found.
pub(super) fn validate(
    model: &Model,
    sources: &Sources,
    templates: &BTreeMap<String, TemplateFile>,
) -> Diagnostics {
    let mut check = Checker {
        sources,
        errors: Diagnostics::new(),
    };

    check.name("project", &model.project.name);
    for layer in &model.layers {
        check.name("layer", &layer.name);
    }
    for env in &model.environments {
        check.name("environment", &env.name);
        for recipient in env
            .recipients
            .iter()
            .chain(env.overlay.iter().flat_map(|o| &o.recipients))
        {
            if !recipient.value.starts_with("age1") {
                check.invalid(
                    recipient,
                    format!("`{}` is not an age recipient", recipient.value),
                    "expected `age1...`",
                    Some("`stackc keygen` makes an identity and prints its recipient".into()),
                );
            }
        }
    }
    for secret in &model.secrets {
        check.name("secret", &secret.name);
        check.name("namespace", &secret.namespace);
        check.unique("secret key", secret.keys.iter().map(|k| &k.name));
        for key in &secret.keys {
            if !is_secret_key(&key.name.value) {
                check.invalid(
                    &key.name,
                    format!("invalid secret key `{}`", key.name.value),
                    "letters, digits, '-', '_' and '.' only",
                    None,
                );
            }
        }
    }
    for service in &model.services {
        check.name("service", &service.name);
        if !service.is_cluster_scoped() {
            check.name("namespace", &service.namespace);
        }
        // A built-in template's name is checked by looking it up (below).
        if let Some(template) = service
            .template
            .as_ref()
            .filter(|t| !t.value.starts_with(super::builtin_templates::PREFIX))
        {
            check.name("template", template);
        }
    }
    if model.environments.is_empty() {
        let located = sources.locate(model.project.span);
        check.errors.push(ModelError::Missing {
            node: "stacks.kdl".into(),
            what: "at least one `environment`".into(),
            src: located.source,
            span: located.span,
            help: Some("environment \"dev\" wave=0".into()),
        });
    }
    if model.layers.is_empty() {
        let located = sources.locate(model.project.span);
        check.errors.push(ModelError::Missing {
            node: "stacks.kdl".into(),
            what: "at least one `layer`".into(),
            src: located.source,
            span: located.span,
            help: Some("layer \"apps\"".into()),
        });
    }

    check.unique("layer", model.layers.iter().map(|l| &l.name));
    check.unique("environment", model.environments.iter().map(|e| &e.name));
    check.unique("service", model.services.iter().map(|s| &s.name));
    check.unique("secret", model.secrets.iter().map(|s| &s.name));

    // Sets, not lists: a 10,000-service stack looks every `depends-on` up.
    let layers: BTreeSet<&str> = model.layers.iter().map(|l| l.name.as_str()).collect();
    let envs: BTreeSet<&str> = model.environments.iter().map(|e| e.name.as_str()).collect();
    let services: BTreeSet<&str> = model.services.iter().map(|s| s.name.as_str()).collect();
    let secrets: BTreeSet<&str> = model.secrets.iter().map(|s| s.name.as_str()).collect();
    let template_dirs: BTreeSet<&str> = templates
        .keys()
        .filter(|name| name.ends_with(".yaml.j2"))
        .filter_map(|name| name.split_once('/').map(|(dir, _)| dir))
        .collect();

    for layer in &model.layers {
        for dep in &layer.depends_on {
            check.reference("layer", dep, &layers);
        }
    }
    for env in &model.environments {
        if let Some(from) = &env.promotes_from {
            check.reference("environment", from, &envs);
        }
        if let Some(overlay) = &env.overlay {
            for o in &overlay.services {
                check.reference("service", &o.service, &services);
            }
        }
    }
    for service in &model.services {
        check.reference("layer", &service.layer, &layers);
        // A service's `depends-on` is the `depends-on` rule's (src/check/rules/depends.rs):
        // an unknown name or a cycle leaves the stack loadable.
        for secret in &service.uses_secrets {
            if check.reference("secret", secret, &secrets) {
                if let Some(decl) = model.secret(&secret.value) {
                    if decl.namespace.value != service.namespace.value {
                        check.invalid(
                            secret,
                            format!(
                                "secret `{}` lives in namespace `{}`, not `{}`",
                                secret.value, decl.namespace.value, service.namespace.value
                            ),
                            "in another namespace",
                            Some("a pod can only mount secrets of its own namespace".into()),
                        );
                    }
                }
            }
        }
        for block in &service.env_blocks {
            check.reference("environment", &block.env, &envs);
        }
        if let Some(template) = &service.template {
            if !template_dirs.contains(template.as_str()) {
                check.errors.push(ModelError::UnknownReference {
                    kind: "template",
                    name: template.value.clone(),
                    src: sources.named(template.span.file),
                    span: template.span.source_span(),
                    help: did_you_mean(&template.value, template_dirs.iter().copied()).or_else(|| {
                        Some(format!(
                            "a template is a folder templates/{}/ holding *.yaml.j2 files, or a built-in one: {}",
                            template.value,
                            super::builtin_templates::kinds()
                                .iter()
                                .map(|k| format!("{}{k}", super::builtin_templates::PREFIX))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }),
                });
            }
        }
    }

    check
        .errors
        .extend(super::shared_secret::check(model, sources));
    check.cycles(
        "layer",
        &model
            .layers
            .iter()
            .map(|l| (&l.name, l.depends_on.iter().collect()))
            .collect::<Vec<_>>(),
    );
    check.cycles(
        "environment",
        &model
            .environments
            .iter()
            .map(|e| (&e.name, e.promotes_from.iter().collect()))
            .collect::<Vec<_>>(),
    );
    check.errors
}

struct Checker<'a> {
    sources: &'a Sources,
    errors: Diagnostics,
}

impl Checker<'_> {
    fn name(&mut self, kind: &'static str, name: &Named) {
        if let Some(help) = check_label(&name.value) {
            self.errors.push(ModelError::InvalidName {
                kind,
                name: name.value.clone(),
                src: self.sources.named(name.span.file),
                span: name.span.source_span(),
                help,
            });
        }
    }

    fn invalid(&mut self, at: &Named, message: String, label: &str, help: Option<String>) {
        self.errors.push(ModelError::Invalid {
            message,
            src: self.sources.named(at.span.file),
            span: at.span.source_span(),
            label: label.to_string(),
            help,
        });
    }

    fn unique<'n>(&mut self, kind: &'static str, names: impl Iterator<Item = &'n Named>) {
        let mut seen: BTreeMap<&str, &Named> = BTreeMap::new();
        for name in names {
            if let Some(first) = seen.get(name.as_str()) {
                self.errors.push(ModelError::Duplicate {
                    kind,
                    name: name.value.clone(),
                    src: self.sources.named(name.span.file),
                    first: first.span.source_span(),
                    second: name.span.source_span(),
                });
            } else {
                seen.insert(name.as_str(), name);
            }
        }
    }

    /// Reports `name` unless it is one of `known`; returns whether it is known.
    fn reference(&mut self, kind: &'static str, name: &Named, known: &BTreeSet<&str>) -> bool {
        if known.contains(&name.as_str()) {
            return true;
        }
        self.errors.push(ModelError::UnknownReference {
            kind,
            name: name.value.clone(),
            src: self.sources.named(name.span.file),
            span: name.span.source_span(),
            // Suggestions cost a pass over every name: enough for the errors anyone reads.
            help: (self.errors.len() < MAX_SUGGESTIONS)
                .then(|| did_you_mean(&name.value, known.iter().copied()))
                .flatten(),
        });
        false
    }

    /// Finds `depends-on` cycles; reports each once, at the edge that closes it. A
    /// depth-first walk with an explicit stack: every name is entered once, so a long
    /// chain costs no stack and a dense graph no more than its edges.
    fn cycles(&mut self, kind: &'static str, graph: &[(&Named, Vec<&Named>)]) {
        for (cycle, closing) in super::cycles::cycles(graph) {
            self.errors.push(ModelError::Cycle {
                kind,
                cycle: cycle.join(" -> "),
                src: self.sources.named(closing.span.file),
                span: closing.span.source_span(),
            });
        }
    }
}
