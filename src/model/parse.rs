//! KDL text to declarations. One [`Parser`] per file; it collects every independent error of
//! the file before giving up, so a user fixes a whole file in one round.

use super::fragment::Item;
use super::settings::setting_nodes;
use super::syntax::{
    Document as KdlDocument, Entry as KdlEntry, Node as KdlNode, Value as KdlValue,
};
use super::{
    EnvBlock, Environment, Layer, ModelError, Named, Overlay, Project, SecretDecl, SecretKey,
    Service, ServiceOverride, Settings,
};
use crate::diagnostics::{did_you_mean, Diagnostics};
use crate::source::{FileId, Sources, Span};
use miette::{NamedSource, SourceSpan};
use std::ops::RangeInclusive;
use std::sync::Arc;

/// Parses one KDL file, collecting errors.
pub(super) struct Parser<'a> {
    sources: &'a Sources,
    file: FileId,
    /// Offset of the chunk being read in its file (chunks parse in parallel, see `chunks`).
    base: usize,
    pub(super) errors: Diagnostics,
}

/// A parsed run of top-level nodes and its offset in the file.
pub(super) type Chunk = (usize, KdlDocument);

/// The top-level declarations of `stacks.kdl`, before overlays and validation.
pub(super) struct StackFile {
    pub project: Option<Project>,
    pub layers: Vec<Layer>,
    pub defaults: Settings,
    pub environments: Vec<Environment>,
    pub secrets: Vec<SecretDecl>,
    pub services: Vec<Service>,
    pub gitops: super::GitOps,
    pub namespaces: Vec<super::namespaces::NamespaceDecl>,
}

const TOP_LEVEL: &[&str] = &[
    "project",
    "layer",
    "defaults",
    "environment",
    "secret",
    "service",
    "gitops",
    "namespace",
];

impl<'a> Parser<'a> {
    pub(super) fn new(sources: &'a Sources, file: FileId) -> Self {
        Parser {
            sources,
            file,
            base: 0,
            errors: Diagnostics::new(),
        }
    }

    pub(super) fn span(&self, span: SourceSpan) -> Span {
        Span::new(self.file, self.at(span))
    }

    /// A span of the current chunk as a span of the file.
    pub(super) fn at(&self, span: SourceSpan) -> SourceSpan {
        SourceSpan::new((span.offset() + self.base).into(), span.len())
    }

    /// The text a span of this file covers.
    pub(super) fn snippet(&self, span: Span) -> &str {
        self.sources.snippet(span)
    }

    pub(super) fn src(&self) -> NamedSource<Arc<str>> {
        self.sources.named(self.file)
    }

    /// Parses the whole file's KDL syntax (run by run, within the limits); syntax errors
    /// become diagnostics.
    pub(super) fn document(&mut self) -> Option<Vec<Chunk>> {
        match super::runs::document(self.sources, self.file) {
            Ok(chunks) => Some(chunks),
            Err(errors) => {
                self.errors.extend(errors);
                None
            }
        }
    }

    /// The declarations of one run of top-level nodes of `stacks.kdl`.
    pub(super) fn items(&mut self, doc: &KdlDocument, base: usize) -> Vec<Item> {
        self.base = base;
        let mut items = Vec::new();
        for node in doc.nodes() {
            match node.name().value() {
                "project" => items.extend(self.project(node).map(Item::Project)),
                "layer" => items.extend(self.layer(node).map(Item::Layer)),
                "defaults" => {
                    if self.shape_with_children(node, 0, &[]).is_some() {
                        let settings = self.settings_block(node, "defaults", &[]).0;
                        items.push(Item::Defaults(settings, self.span(node.span())));
                    }
                }
                "environment" => items.extend(self.environment(node).map(Item::Environment)),
                "secret" => items.extend(self.secret(node).map(Item::Secret)),
                "service" => items.extend(self.service(node).map(Item::Service)),
                "gitops" => items.extend(self.gitops(node).map(Item::GitOps)),
                "namespace" => items.extend(self.namespace_decl(node).map(Item::Namespace)),
                other => self.unknown_node(node, other, "stacks.kdl", TOP_LEVEL),
            }
        }
        self.base = 0;
        items
    }

    /// `stacks.kdl` from its declarations, in file order; a second `project` or `defaults`
    /// is a duplicate.
    pub(super) fn stack_file(&mut self, items: Vec<Item>) -> StackFile {
        let mut file = StackFile {
            project: None,
            layers: Vec::new(),
            defaults: Settings::default(),
            environments: Vec::new(),
            secrets: Vec::new(),
            // Sized once (10,000 declarations are 4.7 MB; doubling reserved up to twice that).
            services: Vec::with_capacity(
                items
                    .iter()
                    .filter(|i| matches!(i, Item::Service(_)))
                    .count(),
            ),
            gitops: super::GitOps::default(),
            namespaces: Vec::new(),
        };
        let mut defaults_span: Option<Span> = None;
        for item in items {
            match item {
                Item::Project(project) => {
                    if let Some(previous) = &file.project {
                        self.errors.push(ModelError::Duplicate {
                            kind: "project",
                            name: previous.name.value.clone(),
                            src: self.src(),
                            first: previous.span.source_span(),
                            second: project.span.source_span(),
                        });
                    } else {
                        file.project = Some(project);
                    }
                }
                Item::Layer(layer) => file.layers.push(layer),
                Item::Defaults(settings, span) => {
                    if let Some(first) = defaults_span {
                        self.errors.push(ModelError::Duplicate {
                            kind: "defaults block",
                            name: "defaults".into(),
                            src: self.src(),
                            first: first.source_span(),
                            second: span.source_span(),
                        });
                    }
                    defaults_span = Some(span);
                    file.defaults = settings;
                }
                Item::Environment(env) => file.environments.push(env),
                Item::Secret(secret) => file.secrets.push(secret),
                Item::Service(service) => file.services.push(service),
                Item::Namespace(decl) => file.namespaces.push(decl),
                Item::GitOps(gitops) => {
                    if let (Some(first), Some(span)) = (file.gitops.span, gitops.span) {
                        self.errors.push(ModelError::Duplicate {
                            kind: "gitops",
                            name: "gitops".into(),
                            src: self.src(),
                            first: first.source_span(),
                            second: span.source_span(),
                        });
                    } else {
                        file.gitops = gitops;
                    }
                }
            }
        }
        file
    }

    fn project(&mut self, node: &KdlNode) -> Option<Project> {
        self.shape(node, 1, &["domain"])?;
        let name = self.string_arg(node, 0, "project")?;
        let domain = self.required_string_prop(node, "domain")?;
        Some(Project {
            name,
            domain,
            span: self.span(node.span()),
        })
    }

    fn layer(&mut self, node: &KdlNode) -> Option<Layer> {
        self.shape_with_children(node, 1, &["depends-on"])?;
        let name = self.string_arg(node, 0, "layer")?;
        // `depends-on` may repeat: `layer "apps" depends-on="databases" depends-on="queues"`.
        let mut depends_on = Vec::new();
        for entry in node
            .entries()
            .iter()
            .filter(|e| e.name().is_some_and(|n| n.value() == "depends-on"))
        {
            let span = self.span(entry.span());
            match entry.value() {
                KdlValue::String(s) => depends_on.push(Named {
                    value: s.clone(),
                    span,
                }),
                other => self.wrong_type("depends-on", "a string", other, span),
            }
        }
        Some(Layer {
            name,
            depends_on,
            flux: self.layer_flux(node),
            span: self.span(node.span()),
        })
    }

    fn environment(&mut self, node: &KdlNode) -> Option<Environment> {
        self.shape_with_children(node, 1, &["wave", "promotes-from", "domain"])?;
        let name = self.string_arg(node, 0, "environment")?;
        let wave = self
            .int_prop(node, "wave", super::ranges::WAVE)
            .map_or(0, |(w, _)| w);
        let promotes_from = self.string_prop(node, "promotes-from");
        let domain = self.string_prop(node, "domain");
        let (settings, extra) = self.settings_block(
            node,
            "an environment",
            &[
                "recipients",
                "allow",
                "flux",
                "argocd",
                "sync",
                "namespace",
                "patch",
            ],
        );
        let mut recipients = Vec::new();
        let mut allows = Vec::new();
        let mut gitops = super::GitOpsScope::default();
        let mut namespaces = Vec::new();
        let mut patches = Vec::new();
        for child in extra {
            if child.name().value() == "namespace" {
                namespaces.extend(self.namespace_decl(child));
            } else if self.gitops_block(child, &mut gitops, true) {
            } else if child.name().value() == "allow" {
                allows.extend(self.allow(child));
            } else if child.name().value() == "patch" {
                patches.extend(self.patch(child));
            } else {
                recipients.extend(self.recipients(child));
            }
        }
        Some(Environment {
            name,
            wave,
            promotes_from,
            domain,
            recipients,
            settings,
            overlay: None,
            allows,
            gitops,
            namespaces,
            patches,
            span: self.span(node.span()),
        })
    }

    /// `allow "rule-id" reason="why"` (the rule id is checked by `check`, which knows them).
    pub(super) fn allow(&mut self, node: &KdlNode) -> Option<super::Allow> {
        self.shape(node, 1, &["reason"])?;
        let rule = self.string_arg(node, 0, "rule id")?;
        let reason = self.string_prop(node, "reason");
        Some(super::Allow {
            rule,
            reason,
            span: self.span(node.span()),
        })
    }

    fn recipients(&mut self, node: &KdlNode) -> Vec<Named> {
        if self.shape(node, usize::MAX, &[]).is_none() {
            return Vec::new();
        }
        let found = self.string_args(node, "recipients");
        if found.is_empty() {
            self.missing(node, "at least one age recipient (`age1...`)", None);
        }
        found
    }

    fn secret(&mut self, node: &KdlNode) -> Option<SecretDecl> {
        self.shape_with_children(node, 1, &["namespace", "type"])?;
        let name = self.string_arg(node, 0, "secret")?;
        let namespace = self.required_string_prop(node, "namespace")?;
        let secret_type = self
            .string_prop(node, "type")
            .map_or_else(|| "Opaque".to_string(), |t| t.value);
        let mut keys = Vec::new();
        for child in node.iter_children() {
            if child.name().value() != "key" {
                self.unknown_node(child, child.name().value(), "a secret", &["key"]);
                continue;
            }
            if self
                .shape(child, 1, &["generate", "value", "from"])
                .is_none()
            {
                continue;
            }
            let Some(key_name) = self.string_arg(child, 0, "key") else {
                continue;
            };
            let Some(source) = self.key_source(child) else {
                continue;
            };
            keys.push(SecretKey {
                name: key_name,
                source,
                span: self.span(child.span()),
            });
        }
        Some(SecretDecl {
            name,
            namespace,
            secret_type,
            keys,
            span: self.span(node.span()),
        })
    }

    fn service(&mut self, node: &KdlNode) -> Option<Service> {
        self.shape_with_children(node, 1, &["layer", "namespace", "template"])?;
        let name = self.string_arg(node, 0, "service")?;
        let layer = self.required_string_prop(node, "layer");
        // No namespace: a cluster-scoped service (its objects say so; render checks).
        let namespace = self.string_prop(node, "namespace").or_else(|| {
            Some(Named {
                value: String::new(),
                span: self.span(node.name().span()),
            })
        });
        let template = self.string_prop(node, "template");
        let (settings, extra) = self.settings_block(
            node,
            "a service",
            &[
                "depends-on",
                "uses-secret",
                "manifests",
                "promotable",
                "allow",
                "env",
                "owns-namespace",
                "cluster-kinds",
            ],
        );
        let mut service = Service {
            name,
            layer: layer?,
            namespace: namespace?,
            owns_namespace: None,
            cluster_kinds: Vec::new(),
            template,
            depends_on: Vec::new(),
            uses_secrets: Vec::new(),
            manifests: Vec::new(),
            promotable: Vec::new(),
            allows: Vec::new(),
            settings,
            env_blocks: Vec::new(),
            span: self.span(node.span()),
        };
        for child in extra {
            match child.name().value() {
                "depends-on" => {
                    if self.shape(child, usize::MAX, &[]).is_some() {
                        service
                            .depends_on
                            .extend(self.string_args(child, "depends-on"));
                    }
                }
                "uses-secret" => {
                    if self.shape(child, usize::MAX, &[]).is_some() {
                        service
                            .uses_secrets
                            .extend(self.string_args(child, "uses-secret"));
                    }
                }
                "manifests" => {
                    if self.shape(child, usize::MAX, &[]).is_some() {
                        service
                            .manifests
                            .extend(self.string_args(child, "manifests"));
                    }
                }
                "allow" => service.allows.extend(self.allow(child)),
                "owns-namespace" => {
                    if self.shape(child, 0, &[]).is_some() {
                        service.owns_namespace = Some(self.span(child.span()));
                    }
                }
                "cluster-kinds" => {
                    if self.shape(child, usize::MAX, &[]).is_some() {
                        service
                            .cluster_kinds
                            .extend(self.string_args(child, "cluster-kinds"));
                    }
                }
                "promotable" => {
                    if self.shape(child, usize::MAX, &[]).is_some() {
                        for path in self.string_args(child, "promotable") {
                            if path.value.split('.').any(str::is_empty) {
                                self.errors.push(ModelError::Invalid {
                                    message: format!("`{}` is not a setting path", path.value),
                                    src: self.src(),
                                    span: path.span.source_span(),
                                    label: "a dotted path such as `values.app.version`".into(),
                                    help: None,
                                });
                            } else {
                                service.promotable.push(path);
                            }
                        }
                    }
                }
                _ => {
                    if self.shape_with_children(child, 1, &[]).is_none() {
                        continue;
                    }
                    let Some(env) = self.string_arg(child, 0, "env") else {
                        continue;
                    };
                    let (settings, extra) = self.settings_block(child, "an env block", &["patch"]);
                    let patches = extra.into_iter().filter_map(|p| self.patch(p)).collect();
                    service.env_blocks.push(EnvBlock {
                        env,
                        settings,
                        patches,
                        span: self.span(child.span()),
                    });
                }
            }
        }
        if service.template.is_none() && service.manifests.is_empty() {
            self.missing(
                node,
                "a `template` property or a `manifests` list",
                Some("`template=\"deployment\"` renders templates/deployment/*.yaml.j2".into()),
            );
        }
        Some(service)
    }

    /// `environments/<env>.kdl`.
    pub(super) fn overlay(&mut self, chunks: &[Chunk]) -> Overlay {
        let mut overlay = Overlay::default();
        let mut allowed: Vec<&str> = setting_nodes();
        allowed.extend([
            "recipients",
            "service",
            "allow",
            "flux",
            "argocd",
            "sync",
            "namespace",
            "patch",
        ]);
        for (base, doc) in chunks {
            self.base = *base;
            for node in doc.nodes() {
                match node.name().value() {
                    "recipients" => {
                        let found = self.recipients(node);
                        overlay.recipients.extend(found);
                    }
                    "allow" => overlay.allows.extend(self.allow(node)),
                    "namespace" => overlay.namespaces.extend(self.namespace_decl(node)),
                    "flux" | "argocd" | "sync" => {
                        self.gitops_block(node, &mut overlay.gitops, true);
                    }
                    "patch" => overlay.patches.extend(self.patch(node)),
                    "service" => {
                        if self.shape_with_children(node, 1, &[]).is_none() {
                            continue;
                        }
                        let Some(service) = self.string_arg(node, 0, "service") else {
                            continue;
                        };
                        let (settings, extra) =
                            self.settings_block(node, "a service override", &["patch"]);
                        let patches = extra.into_iter().filter_map(|p| self.patch(p)).collect();
                        overlay.services.push(ServiceOverride {
                            service,
                            settings,
                            patches,
                        });
                    }
                    name => {
                        if !self.setting(node, &mut overlay.settings) {
                            self.unknown_node(node, name, "an environment file", &allowed);
                        }
                    }
                }
            }
        }
        self.base = 0;
        overlay
    }

    /// A block of settings plus the extra node names the caller handles itself.
    pub(super) fn settings_block<'n>(
        &mut self,
        node: &'n KdlNode,
        context: &str,
        extra: &[&str],
    ) -> (Settings, Vec<&'n KdlNode>) {
        // Sized once: a service's settings map is one of the model's largest parts, and
        // grown by doubling it kept room for 7 entries to hold 4 or 5.
        let mut settings =
            Settings::with_capacity_and_hasher(node.iter_children().len(), crate::value::MapHasher);
        let mut others = Vec::new();
        for child in node.iter_children() {
            let name = child.name().value();
            if extra.contains(&name) {
                others.push(child);
            } else if !self.setting(child, &mut settings) {
                let mut allowed: Vec<&str> = setting_nodes();
                allowed.extend(extra);
                self.unknown_node(child, name, context, &allowed);
            }
        }
        (settings, others)
    }

    pub(super) fn unknown_node(
        &mut self,
        node: &KdlNode,
        name: &str,
        context: &str,
        allowed: &[&str],
    ) {
        self.errors.push(ModelError::UnknownNode {
            name: name.to_string(),
            context: context.to_string(),
            src: self.src(),
            span: self.at(node.name().span()),
            help: did_you_mean(name, allowed.iter().copied())
                .or_else(|| Some(format!("allowed here: {}", allowed.join(", ")))),
        });
    }

    pub(super) fn missing(&mut self, node: &KdlNode, what: &str, help: Option<String>) {
        self.errors.push(ModelError::Missing {
            node: node.name().value().to_string(),
            what: what.to_string(),
            src: self.src(),
            span: self.at(node.name().span()),
            help,
        });
    }

    /// Checks a node's shape: at most `max_args` arguments, only `props`, no children.
    pub(super) fn only_args(
        &mut self,
        node: &KdlNode,
        max_args: usize,
        props: &[&str],
    ) -> Option<()> {
        self.shape(node, max_args, props)
    }

    fn shape(&mut self, node: &KdlNode, max_args: usize, props: &[&str]) -> Option<()> {
        let ok = self.entries_ok(node, max_args, props);
        if let Some(children) = node.children() {
            self.errors.push(ModelError::Unexpected {
                node: node.name().value().to_string(),
                expected: "no children block".into(),
                src: self.src(),
                span: self.at(children.span()),
            });
            return None;
        }
        ok.then_some(())
    }

    pub(super) fn shape_with_children(
        &mut self,
        node: &KdlNode,
        max_args: usize,
        props: &[&str],
    ) -> Option<()> {
        self.entries_ok(node, max_args, props).then_some(())
    }

    fn entries_ok(&mut self, node: &KdlNode, max_args: usize, props: &[&str]) -> bool {
        let mut ok = true;
        let mut args = 0;
        for entry in node.entries() {
            match entry.name() {
                Some(name) if !props.contains(&name.value()) => {
                    ok = false;
                    self.errors.push(ModelError::UnknownProperty {
                        name: name.value().to_string(),
                        node: node.name().value().to_string(),
                        src: self.src(),
                        span: self.at(name.span()),
                        help: did_you_mean(name.value(), props.iter().copied()).or_else(|| {
                            (!props.is_empty()).then(|| {
                                format!(
                                    "properties of `{}`: {}",
                                    node.name().value(),
                                    props.join(", ")
                                )
                            })
                        }),
                    });
                }
                Some(_) => {}
                None => {
                    args += 1;
                    if args > max_args {
                        ok = false;
                        self.errors.push(ModelError::Unexpected {
                            node: node.name().value().to_string(),
                            expected: match max_args {
                                0 => "no arguments".to_string(),
                                1 => "one argument".to_string(),
                                n => format!("at most {n} arguments"),
                            },
                            src: self.src(),
                            span: self.at(entry.span()),
                        });
                    }
                }
            }
        }
        ok
    }

    fn arg(node: &KdlNode, index: usize) -> Option<&KdlEntry> {
        node.entries()
            .iter()
            .filter(|e| e.name().is_none())
            .nth(index)
    }

    pub(super) fn string_arg(&mut self, node: &KdlNode, index: usize, what: &str) -> Option<Named> {
        let Some(entry) = Self::arg(node, index) else {
            self.missing(node, &format!("an argument (the {what})"), None);
            return None;
        };
        let span = self.span(entry.span());
        if let KdlValue::String(s) = entry.value() {
            Some(Named {
                value: s.clone(),
                span,
            })
        } else {
            self.wrong_type(what, "a string", entry.value(), span);
            None
        }
    }

    fn string_args(&mut self, node: &KdlNode, what: &str) -> Vec<Named> {
        let mut out = Vec::new();
        for entry in node.entries().iter().filter(|e| e.name().is_none()) {
            let span = self.span(entry.span());
            match entry.value() {
                KdlValue::String(s) => out.push(Named {
                    value: s.clone(),
                    span,
                }),
                other => self.wrong_type(what, "a string", other, span),
            }
        }
        out
    }

    pub(super) fn int_arg(
        &mut self,
        node: &KdlNode,
        index: usize,
        what: &str,
        range: RangeInclusive<i64>,
    ) -> Option<(i64, Span)> {
        let Some(entry) = Self::arg(node, index) else {
            self.missing(node, "an integer argument", None);
            return None;
        };
        self.int_entry(entry, what, range)
    }

    /// An integer entry within `range`; anything else (too large, negative, a float, a
    /// string) is reported at the entry.
    pub(super) fn int_entry(
        &mut self,
        entry: &KdlEntry,
        what: &str,
        range: RangeInclusive<i64>,
    ) -> Option<(i64, Span)> {
        let span = self.span(entry.span());
        match entry.value() {
            KdlValue::Integer(i) => match i64::try_from(*i) {
                Ok(i) if range.contains(&i) => Some((i, span)),
                _ => {
                    self.errors.push(ModelError::OutOfRange {
                        what: what.to_string(),
                        min: *range.start(),
                        max: *range.end(),
                        found: i.to_string(),
                        src: self.src(),
                        span: span.source_span(),
                        help: match what {
                            "generate" => Some("generated values are random alphanumeric strings; 32 is a good length".into()),
                            "replicas" => Some("0 scales the service down".into()),
                            _ => None,
                        },
                    });
                    None
                }
            },
            // Past even 128 bits: out of every range.
            KdlValue::IntegerTooLarge(text) => {
                self.errors.push(ModelError::OutOfRange {
                    what: what.to_string(),
                    min: *range.start(),
                    max: *range.end(),
                    found: text.clone(),
                    src: self.src(),
                    span: span.source_span(),
                    help: None,
                });
                None
            }
            other => {
                let expected = if *range.start() >= 0 {
                    "a non-negative integer"
                } else {
                    "an integer"
                };
                self.wrong_type(what, expected, other, span);
                None
            }
        }
    }

    pub(super) fn bool_arg(
        &mut self,
        node: &KdlNode,
        index: usize,
        what: &str,
    ) -> Option<(bool, Span)> {
        let Some(entry) = Self::arg(node, index) else {
            self.missing(node, "#true or #false", None);
            return None;
        };
        let span = self.span(entry.span());
        match entry.value() {
            KdlValue::Bool(b) => Some((*b, span)),
            other => {
                self.wrong_type(what, "#true or #false", other, span);
                None
            }
        }
    }

    pub(super) fn string_prop(&mut self, node: &KdlNode, key: &str) -> Option<Named> {
        let entry = node.entry(key)?;
        let span = self.span(entry.span());
        match entry.value() {
            KdlValue::String(s) => Some(Named {
                value: s.clone(),
                span,
            }),
            other => {
                self.wrong_type(key, "a string", other, span);
                None
            }
        }
    }

    fn required_string_prop(&mut self, node: &KdlNode, key: &str) -> Option<Named> {
        if node.entry(key).is_none() {
            self.missing(node, &format!("a `{key}` property"), None);
            return None;
        }
        self.string_prop(node, key)
    }

    fn int_prop(
        &mut self,
        node: &KdlNode,
        key: &str,
        range: RangeInclusive<i64>,
    ) -> Option<(i64, Span)> {
        let entry = node.entry(key)?;
        self.int_entry(entry, key, range)
    }

    pub(super) fn wrong_type(&mut self, what: &str, expected: &str, found: &KdlValue, span: Span) {
        let found = match found {
            KdlValue::String(s) => format!("the string \"{s}\""),
            KdlValue::Integer(i) => format!("the integer {i}"),
            KdlValue::IntegerTooLarge(text) => format!("the integer {text}"),
            KdlValue::Float(f) => format!("the number {f}"),
            KdlValue::Bool(b) => format!("#{b}"),
            KdlValue::Null => "#null".to_string(),
        };
        self.errors.push(ModelError::WrongType {
            what: what.to_string(),
            expected: expected.to_string(),
            found,
            src: self.src(),
            span: span.source_span(),
        });
    }
}
