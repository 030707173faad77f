//! The `GitOps` settings of a stack: which engines get objects (`gitops "flux" "argocd"`),
//! the fields of Flux's per-layer `Kustomization`s (`flux { ... }`) and of Argo CD's
//! `Application`s (`argocd { ... }`). They layer like values, lowest first: the `gitops`
//! block, the `layer`, the `environment` (all its layers, then `flux layer="x"`), then
//! `environments/<env>.kdl` the same way. A later setting replaces an earlier one; the
//! `substitute` map merges.

use super::parse::Parser;
use super::syntax::{Node as KdlNode, Value as KdlValue};
use super::{Model, Named};
use crate::diagnostics::did_you_mean;
use crate::source::Span;
use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use thiserror::Error;

/// The engines stackc can write objects for.
pub const ENGINES: &[&str] = &["flux", "argocd"];

/// The kinds of source a Flux Kustomization can read from.
pub const SOURCE_KINDS: &[&str] = &[
    "GitRepository",
    "OCIRepository",
    "Bucket",
    "ExternalArtifact",
];

const FLUX_SETTINGS: &[&str] = &[
    "name",
    "interval",
    "retry-interval",
    "timeout",
    "wait",
    "prune",
    "force",
    "suspend",
    "target-namespace",
    "health-check",
    "patch",
    "substitute",
    "source",
    "path",
    "decryption",
    "service-account",
];

const ARGOCD_SETTINGS: &[&str] = &[
    "repo-url",
    "target-revision",
    "project",
    "server",
    "namespace",
    "destination-namespace",
    "path",
    "automated",
    "prune",
    "self-heal",
    "sync-options",
];

/// The placeholders a `path` may use.
const PATH_PLACEHOLDERS: &[&str] = &["{env}", "{layer}"];

/// `gitops "flux" "argocd" { flux { ... } argocd { ... } }`: the engines and stack-wide
/// settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GitOps {
    /// The engines named; none written means Flux alone.
    pub engines: Vec<Named>,
    pub scope: GitOpsScope,
    /// `output "name" path="..." { layer "x" }`: layers written outside `out/`.
    #[serde(default)]
    pub outputs: Vec<super::outputs::Output>,
    pub span: Option<Span>,
}

/// The `flux` and `argocd` blocks of one scope (the stack, an environment, an overlay file).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GitOpsScope {
    pub flux: Vec<FluxBlock>,
    pub argocd: Vec<ArgoBlock>,
    /// `sync "manual"` / `sync "automatic"` (an environment or its overlay only).
    #[serde(default)]
    pub sync: Option<SyncMode>,
}

/// How an environment's changes reach its cluster: `automatic` (the default) lets the
/// engines apply every commit; `manual` suspends Flux's Kustomizations and drops Argo CD's
/// `automated` policy, so that a person promotes (`flux resume`, an Argo CD sync).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncMode {
    Automatic,
    Manual,
}

/// The words `sync` takes.
pub const SYNC_MODES: &[&str] = &["automatic", "manual"];

impl SyncMode {
    /// What the mode means to Flux's `suspend` (`None`: the default, not suspended).
    fn suspend(self) -> Option<bool> {
        (self == SyncMode::Manual).then_some(true)
    }

    /// What the mode means to Argo CD's `automated` (`None`: the default, automated).
    fn automated(self) -> Option<bool> {
        (self == SyncMode::Manual).then_some(false)
    }
}

/// `flux layer="apps" { ... }` (the layer only inside an environment).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FluxBlock {
    pub layer: Option<Named>,
    pub settings: FluxSettings,
    pub span: Span,
}

/// `argocd { ... }`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ArgoBlock {
    pub settings: ArgoSettings,
    pub span: Span,
}

/// The settable fields of a Flux `Kustomization`; `None` leaves the lower layer's (or the
/// built-in default).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FluxSettings {
    pub name: Option<String>,
    pub interval: Option<String>,
    pub retry_interval: Option<String>,
    pub timeout: Option<String>,
    pub wait: Option<bool>,
    pub prune: Option<bool>,
    pub force: Option<bool>,
    pub suspend: Option<bool>,
    pub target_namespace: Option<String>,
    pub health_checks: Option<Vec<HealthCheck>>,
    pub patches: Option<Vec<FluxPatch>>,
    pub substitute: BTreeMap<String, String>,
    pub source: Option<SourceRef>,
    /// The path inside the source, with `{env}` and `{layer}` placeholders.
    pub path: Option<String>,
    pub decryption: Option<Decryption>,
    /// `service-account "name"`: the Kustomization runs as this account of `flux-system`,
    /// which stackc creates with RBAC for exactly what the layer renders.
    #[serde(default)]
    pub service_account: Option<String>,
}

/// `health-check kind=".." name=".." namespace=".." api-version=".."`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub api_version: Option<String>,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

/// `patch "<yaml>" kind=".." name=".."`: a strategic-merge patch (a YAML map) or a
/// JSON6902 patch (a YAML list of operations), with its target selector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FluxPatch {
    pub patch: String,
    /// Selector fields by their Flux names (`kind`, `name`, `labelSelector`, ...).
    pub target: BTreeMap<String, String>,
}

/// `source kind="OCIRepository" name="x" namespace="flux-system"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

/// `decryption #false` / `decryption #true` / `decryption secret="sops-age"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decryption {
    Off,
    /// SOPS with this Secret holding the age identity.
    Sops(String),
}

/// The settable fields of an Argo CD `Application`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgoSettings {
    pub repo_url: Option<String>,
    pub target_revision: Option<String>,
    pub project: Option<String>,
    pub server: Option<String>,
    pub namespace: Option<String>,
    pub destination_namespace: Option<String>,
    pub path: Option<String>,
    pub automated: Option<bool>,
    pub prune: Option<bool>,
    pub self_heal: Option<bool>,
    pub sync_options: Option<Vec<String>>,
}

macro_rules! overlay_fields {
    ($into:ident, $from:ident, $($field:ident),*) => {
        $(if $from.$field.is_some() { $into.$field.clone_from(&$from.$field); })*
    };
}

impl FluxSettings {
    /// Lays `other` over these settings.
    pub fn apply(&mut self, other: &FluxSettings) {
        overlay_fields!(
            self,
            other,
            name,
            interval,
            retry_interval,
            timeout,
            wait,
            prune,
            force,
            suspend,
            target_namespace,
            health_checks,
            patches,
            source,
            path,
            decryption,
            service_account
        );
        for (k, v) in &other.substitute {
            self.substitute.insert(k.clone(), v.clone());
        }
    }
}

impl ArgoSettings {
    /// Lays `other` over these settings.
    pub fn apply(&mut self, other: &ArgoSettings) {
        overlay_fields!(
            self,
            other,
            repo_url,
            target_revision,
            project,
            server,
            namespace,
            destination_namespace,
            path,
            automated,
            prune,
            self_heal,
            sync_options
        );
    }
}

impl Model {
    /// Whether stackc writes objects for this engine.
    pub fn uses_engine(&self, engine: &str) -> bool {
        if self.gitops.engines.is_empty() {
            return engine == "flux";
        }
        self.gitops.engines.iter().any(|e| e.value == engine)
    }

    /// The Flux settings of one layer of one environment, every scope laid over the last.
    pub fn flux_settings(&self, env: &str, layer: &str) -> FluxSettings {
        let mut out = FluxSettings::default();
        // A layer in another output root sits at `<root>/<env>/<layer>`: by default that
        // root is its repository's top.
        if self.output_of(layer).is_some() {
            out.path = Some("./{env}/{layer}".into());
        }
        let lay = |out: &mut FluxSettings, blocks: &[FluxBlock]| {
            for only_layer in [false, true] {
                for block in blocks {
                    match &block.layer {
                        None if !only_layer => out.apply(&block.settings),
                        Some(l) if only_layer && l.value == layer => out.apply(&block.settings),
                        _ => {}
                    }
                }
            }
        };
        lay(&mut out, &self.gitops.scope.flux);
        if let Some(l) = self.layers.iter().find(|l| l.name.value == layer) {
            lay(&mut out, &l.flux);
        }
        if let Some(e) = self.environment(env) {
            // The environment's sync mode sits just below its own flux blocks: an explicit
            // `suspend` there (or for one layer) still wins.
            let mut scopes = vec![&e.gitops];
            scopes.extend(e.overlay.as_ref().map(|o| &o.gitops));
            for scope in scopes {
                if let Some(mode) = scope.sync {
                    out.suspend = mode.suspend();
                }
                lay(&mut out, &scope.flux);
            }
        }
        out
    }

    /// The sync mode of an environment: its overlay's, its own, or automatic.
    pub fn sync_mode(&self, env: &str) -> SyncMode {
        self.environment(env)
            .and_then(|e| {
                e.overlay
                    .as_ref()
                    .and_then(|o| o.gitops.sync)
                    .or(e.gitops.sync)
            })
            .unwrap_or(SyncMode::Automatic)
    }

    /// The Argo CD settings of one layer of one environment: the environment's, with the
    /// path and repository of the layer's output root when it has one (and no path is set).
    pub fn argocd_layer_settings(&self, env: &str, layer: &str) -> ArgoSettings {
        let mut settings = self.argocd_settings(env);
        if let Some(output) = self.output_of(layer) {
            if settings.path.is_none() {
                settings.path = Some("{env}/{layer}".into());
            }
            if output.repo_url.is_some() {
                settings.repo_url.clone_from(&output.repo_url);
            }
        }
        settings
    }

    /// The Argo CD settings of one environment, every scope laid over the last.
    pub fn argocd_settings(&self, env: &str) -> ArgoSettings {
        let mut out = ArgoSettings::default();
        let mut scopes = vec![&self.gitops.scope];
        if let Some(e) = self.environment(env) {
            scopes.push(&e.gitops);
            if let Some(overlay) = &e.overlay {
                scopes.push(&overlay.gitops);
            }
        }
        for scope in scopes {
            if let Some(mode) = scope.sync {
                out.automated = mode.automated();
            }
            for block in &scope.argocd {
                out.apply(&block.settings);
            }
        }
        out
    }
}

/// A `GitOps` setting the model refuses.
#[derive(Debug, Error, Diagnostic)]
pub enum GitOpsError {
    #[error("unknown GitOps engine `{name}`")]
    #[diagnostic(code(stackc::model::gitops::unknown_engine))]
    UnknownEngine {
        name: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("not an engine stackc writes for")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("invalid {what}: {message}")]
    #[diagnostic(code(stackc::model::gitops::invalid))]
    Invalid {
        what: String,
        message: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("here")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("`flux layer=\"{name}\"` names an unknown layer")]
    #[diagnostic(code(stackc::model::gitops::unknown_layer))]
    UnknownLayer {
        name: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("no such layer")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("layers `{first}` and `{second}` both have the Flux Kustomization name `{name}` in environment `{env}`")]
    #[diagnostic(
        code(stackc::model::gitops::duplicate_name),
        help("each layer's Kustomization needs its own name in flux-system; change one `name`")
    )]
    DuplicateName {
        name: String,
        env: String,
        first: String,
        second: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("the second layer")]
        span: SourceSpan,
    },

    #[error("a `{engine}` block, but the stack writes no {engine} objects")]
    #[diagnostic(code(stackc::model::gitops::engine_off))]
    EngineOff {
        engine: &'static str,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("these settings would have no effect")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("Argo CD needs the repository URL of the stack")]
    #[diagnostic(
        code(stackc::model::gitops::no_repo_url),
        help("add `argocd {{ repo-url \"https://git.example/you/stack.git\" }}` inside `gitops`")
    )]
    NoRepoUrl {
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("Argo CD is named here")]
        span: SourceSpan,
    },
}

/// Cross-references the parser cannot check: `flux layer="x"` names a layer, a `flux` or
/// `argocd` block is for an engine the stack writes, Argo CD has a repository URL in every
/// environment.
pub(super) fn check(
    model: &Model,
    sources: &crate::source::Sources,
) -> crate::diagnostics::Diagnostics {
    let mut errors = crate::diagnostics::Diagnostics::new();
    let layers: Vec<&str> = model.layers.iter().map(|l| l.name.as_str()).collect();
    let mut scopes = vec![&model.gitops.scope];
    for env in &model.environments {
        scopes.push(&env.gitops);
        if let Some(overlay) = &env.overlay {
            scopes.push(&overlay.gitops);
        }
    }
    let engine_off = |engine: &'static str, span: crate::source::Span| {
        GitOpsError::EngineOff {
        engine,
        src: sources.named(span.file),
        span: span.source_span(),
        help: format!("add \"{engine}\" to the stack's engines (`gitops \"flux\" \"argocd\"`), or remove the block"),
    }
    };
    for scope in scopes {
        // A block for an engine the stack does not write would be silently ignored.
        if !model.uses_engine("argocd") {
            for block in &scope.argocd {
                errors.push(engine_off("argocd", block.span));
            }
        }
        if !model.uses_engine("flux") {
            for block in &scope.flux {
                errors.push(engine_off("flux", block.span));
            }
        }
        for block in &scope.flux {
            if let Some(layer) = &block.layer {
                if !layers.contains(&layer.as_str()) {
                    errors.push(GitOpsError::UnknownLayer {
                        name: layer.value.clone(),
                        src: sources.named(layer.span.file),
                        span: layer.span.source_span(),
                        help: did_you_mean(&layer.value, layers.iter().copied()),
                    });
                }
            }
        }
    }
    if model.uses_engine("flux") {
        for env in &model.environments {
            let mut names: BTreeMap<String, &str> = BTreeMap::new();
            for layer in &model.layers {
                let settings = model.flux_settings(&env.name.value, &layer.name.value);
                let name = settings.name.unwrap_or_else(|| layer.name.value.clone());
                if let Some(first) = names.insert(name.clone(), layer.name.as_str()) {
                    errors.push(GitOpsError::DuplicateName {
                        name,
                        env: env.name.value.clone(),
                        first: first.to_string(),
                        second: layer.name.value.clone(),
                        src: sources.named(layer.name.span.file),
                        span: layer.name.span.source_span(),
                    });
                }
            }
        }
    }
    errors.extend(super::outputs::check(model, sources));
    if let Some(argo) = model.gitops.engines.iter().find(|e| e.value == "argocd") {
        let missing = model
            .environments
            .iter()
            .any(|e| model.argocd_settings(&e.name.value).repo_url.is_none());
        if missing {
            errors.push(GitOpsError::NoRepoUrl {
                src: sources.named(argo.span.file),
                span: argo.span.source_span(),
            });
        }
    }
    errors
}

impl Parser<'_> {
    /// `gitops "flux" "argocd" { flux { ... } argocd { ... } }`.
    pub(super) fn gitops(&mut self, node: &KdlNode) -> Option<GitOps> {
        self.shape_with_children(node, usize::MAX, &[])?;
        let mut engines = Vec::new();
        for entry in node.entries() {
            let span = self.span(entry.span());
            match entry.value() {
                KdlValue::String(s) if ENGINES.contains(&s.as_str()) => engines.push(Named {
                    value: s.clone(),
                    span,
                }),
                KdlValue::String(s) => self.errors.push(GitOpsError::UnknownEngine {
                    name: s.clone(),
                    src: self.src(),
                    span: span.source_span(),
                    help: did_you_mean(s, ENGINES.iter().copied())
                        .unwrap_or_else(|| format!("engines: {}", ENGINES.join(", "))),
                }),
                other => self.wrong_type("gitops", "a string", other, span),
            }
        }
        let mut scope = GitOpsScope::default();
        let mut outputs = Vec::new();
        for child in node.iter_children() {
            if child.name().value() == "output" {
                outputs.extend(self.output(child));
            } else if !self.gitops_block(child, &mut scope, false) {
                self.unknown_node(
                    child,
                    child.name().value(),
                    "gitops",
                    &["flux", "argocd", "output"],
                );
            }
        }
        Some(GitOps {
            engines,
            scope,
            outputs,
            span: Some(self.span(node.span())),
        })
    }

    /// Parses `node` into `scope` if it is a `flux` or `argocd` block; `false` otherwise.
    /// `layers` allows `flux layer="x"` (an environment's scope).
    pub(super) fn gitops_block(
        &mut self,
        node: &KdlNode,
        scope: &mut GitOpsScope,
        layers: bool,
    ) -> bool {
        match node.name().value() {
            "flux" => {
                let props: &[&str] = if layers { &["layer"] } else { &[] };
                if self.shape_with_children(node, 0, props).is_some() {
                    let layer = self.string_prop(node, "layer");
                    let settings = self.flux_settings(node);
                    scope.flux.push(FluxBlock {
                        layer,
                        settings,
                        span: self.span(node.span()),
                    });
                }
                true
            }
            "sync" if layers => {
                if let Some(mode) = self.sync_mode(node) {
                    scope.sync = Some(mode);
                }
                true
            }
            "argocd" => {
                if self.shape_with_children(node, 0, &[]).is_some() {
                    let settings = self.argo_settings(node);
                    scope.argocd.push(ArgoBlock {
                        settings,
                        span: self.span(node.span()),
                    });
                }
                true
            }
            _ => false,
        }
    }

    /// The `flux` block of a layer (no `layer=` there).
    pub(super) fn layer_flux(&mut self, node: &KdlNode) -> Vec<FluxBlock> {
        let mut scope = GitOpsScope::default();
        for child in node.iter_children() {
            if child.name().value() != "flux" || !self.gitops_block(child, &mut scope, false) {
                self.unknown_node(child, child.name().value(), "a layer", &["flux"]);
            }
        }
        scope.flux
    }

    fn flux_settings(&mut self, node: &KdlNode) -> FluxSettings {
        let mut s = FluxSettings::default();
        let mut health_checks = Vec::new();
        let mut patches = Vec::new();
        for child in node.iter_children() {
            let name = child.name().value();
            match name {
                "name" => s.name = self.dns_arg(child, "Kustomization name"),
                "interval" | "retry-interval" | "timeout" => {
                    let value = self.duration_arg(child, name);
                    match name {
                        "interval" => s.interval = value,
                        "retry-interval" => s.retry_interval = value,
                        _ => s.timeout = value,
                    }
                }
                "wait" | "prune" | "force" | "suspend" => {
                    if self.only_args(child, 1, &[]).is_none() {
                        continue;
                    }
                    let value = self.bool_arg(child, 0, name).map(|(b, _)| b);
                    match name {
                        "wait" => s.wait = value,
                        "prune" => s.prune = value,
                        "force" => s.force = value,
                        _ => s.suspend = value,
                    }
                }
                "target-namespace" => s.target_namespace = self.dns_arg(child, "namespace"),
                "health-check" => {
                    if self
                        .only_args(child, 0, &["api-version", "kind", "name", "namespace"])
                        .is_none()
                    {
                        continue;
                    }
                    let (Some(kind), Some(check_name)) = (
                        self.needed_prop(child, "kind"),
                        self.needed_prop(child, "name"),
                    ) else {
                        continue;
                    };
                    health_checks.push(HealthCheck {
                        api_version: self.string_prop(child, "api-version").map(|n| n.value),
                        kind: kind.value,
                        name: check_name.value,
                        namespace: self.string_prop(child, "namespace").map(|n| n.value),
                    });
                }
                "patch" => patches.extend(self.flux_patch(child)),
                "substitute" => {
                    // Every property is a variable: the names are the user's.
                    let names: Vec<String> = child
                        .entries()
                        .iter()
                        .filter_map(|e| e.name().map(|n| n.value().to_string()))
                        .collect();
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    if self.only_args(child, 0, &names).is_some() {
                        self.substitute(child, &mut s.substitute);
                    }
                }
                "source" => {
                    if self
                        .only_args(child, 0, &["kind", "name", "namespace"])
                        .is_none()
                    {
                        continue;
                    }
                    let (Some(kind), Some(source_name)) = (
                        self.needed_prop(child, "kind"),
                        self.needed_prop(child, "name"),
                    ) else {
                        continue;
                    };
                    if !SOURCE_KINDS.contains(&kind.as_str()) {
                        self.invalid(
                            "source kind",
                            format!("`{}` is not a Flux source kind", kind.value),
                            kind.span,
                            did_you_mean(&kind.value, SOURCE_KINDS.iter().copied())
                                .or_else(|| Some(format!("kinds: {}", SOURCE_KINDS.join(", ")))),
                        );
                        continue;
                    }
                    s.source = Some(SourceRef {
                        kind: kind.value,
                        name: source_name.value,
                        namespace: self.string_prop(child, "namespace").map(|n| n.value),
                    });
                }
                "path" => s.path = self.path_arg(child),
                "decryption" => s.decryption = self.decryption(child),
                "service-account" => {
                    s.service_account = self.dns_arg(child, "service account name");
                }
                other => self.unknown_node(child, other, "a flux block", FLUX_SETTINGS),
            }
        }
        if !health_checks.is_empty() {
            s.health_checks = Some(health_checks);
        }
        if !patches.is_empty() {
            s.patches = Some(patches);
        }
        s
    }

    fn argo_settings(&mut self, node: &KdlNode) -> ArgoSettings {
        let mut s = ArgoSettings::default();
        for child in node.iter_children() {
            let name = child.name().value();
            match name {
                "repo-url"
                | "target-revision"
                | "project"
                | "server"
                | "namespace"
                | "destination-namespace" => {
                    if self.only_args(child, 1, &[]).is_none() {
                        continue;
                    }
                    let value = self.string_arg(child, 0, name).map(|n| n.value);
                    let field = match name {
                        "repo-url" => &mut s.repo_url,
                        "target-revision" => &mut s.target_revision,
                        "project" => &mut s.project,
                        "server" => &mut s.server,
                        "namespace" => &mut s.namespace,
                        _ => &mut s.destination_namespace,
                    };
                    *field = value;
                }
                "path" => s.path = self.path_arg(child),
                "automated" | "prune" | "self-heal" => {
                    if self.only_args(child, 1, &[]).is_none() {
                        continue;
                    }
                    let value = self.bool_arg(child, 0, name).map(|(b, _)| b);
                    match name {
                        "automated" => s.automated = value,
                        "prune" => s.prune = value,
                        _ => s.self_heal = value,
                    }
                }
                "sync-options" => {
                    if self.only_args(child, usize::MAX, &[]).is_none() {
                        continue;
                    }
                    let mut options = Vec::new();
                    for entry in child.entries() {
                        let span = self.span(entry.span());
                        match entry.value() {
                            KdlValue::String(o) if o.contains('=') => options.push(o.clone()),
                            KdlValue::String(o) => self.invalid(
                                "sync option",
                                format!("`{o}` is not `Name=value`"),
                                span,
                                Some("for example `CreateNamespace=true`".into()),
                            ),
                            other => self.wrong_type("sync-options", "a string", other, span),
                        }
                    }
                    s.sync_options = Some(options);
                }
                other => self.unknown_node(child, other, "an argocd block", ARGOCD_SETTINGS),
            }
        }
        s
    }

    /// `sync "manual"` or `sync "automatic"`.
    fn sync_mode(&mut self, node: &KdlNode) -> Option<SyncMode> {
        self.only_args(node, 1, &[])?;
        let word = self.string_arg(node, 0, "sync mode")?;
        match word.as_str() {
            "automatic" => Some(SyncMode::Automatic),
            "manual" => Some(SyncMode::Manual),
            other => {
                self.invalid(
                    "sync mode",
                    format!("`{other}` is not a sync mode"),
                    word.span,
                    did_you_mean(other, SYNC_MODES.iter().copied())
                        .or_else(|| Some(format!("modes: {}", SYNC_MODES.join(", ")))),
                );
                None
            }
        }
    }

    fn invalid(&mut self, what: &str, message: String, span: Span, help: Option<String>) {
        self.errors.push(GitOpsError::Invalid {
            what: what.to_string(),
            message,
            src: self.src(),
            span: span.source_span(),
            help,
        });
    }

    fn needed_prop(&mut self, node: &KdlNode, key: &str) -> Option<Named> {
        if node.entry(key).is_none() {
            self.missing(node, &format!("a `{key}` property"), None);
            return None;
        }
        self.string_prop(node, key)
    }

    fn dns_arg(&mut self, node: &KdlNode, what: &str) -> Option<String> {
        self.only_args(node, 1, &[])?;
        let value = self.string_arg(node, 0, what)?;
        if super::is_dns_label(&value.value) {
            Some(value.value)
        } else {
            self.invalid(
                what,
                format!("`{}` is not a DNS label", value.value),
                value.span,
                Some("lowercase letters, digits and `-`, at most 63 characters".into()),
            );
            None
        }
    }

    /// A Go duration as Flux reads it: `5m`, `1h30m`, `10m0s`.
    fn duration_arg(&mut self, node: &KdlNode, what: &str) -> Option<String> {
        self.only_args(node, 1, &[])?;
        let value = self.string_arg(node, 0, what)?;
        if is_duration(&value.value) {
            Some(value.value)
        } else {
            self.invalid(
                what,
                format!("`{}` is not a duration", value.value),
                value.span,
                Some("a number and a unit (ms, s, m, h), repeated: `5m`, `1h30m`".into()),
            );
            None
        }
    }

    fn path_arg(&mut self, node: &KdlNode) -> Option<String> {
        self.only_args(node, 1, &[])?;
        let value = self.string_arg(node, 0, "path")?;
        let mut rest = value.value.clone();
        for placeholder in PATH_PLACEHOLDERS {
            rest = rest.replace(placeholder, "");
        }
        if rest.contains(['{', '}']) || value.value.split('/').any(|part| part == "..") {
            self.invalid(
                "path",
                format!("`{}` is not a path inside the source", value.value),
                value.span,
                Some("placeholders: {env}, {layer}; no `..`".into()),
            );
            return None;
        }
        Some(value.value)
    }

    fn decryption(&mut self, node: &KdlNode) -> Option<Decryption> {
        self.only_args(node, 1, &["secret"])?;
        if let Some(secret) = self.string_prop(node, "secret") {
            return Some(Decryption::Sops(secret.value));
        }
        let (on, _) = self.bool_arg(node, 0, "decryption")?;
        Some(if on {
            Decryption::Sops(DEFAULT_DECRYPTION_SECRET.to_string())
        } else {
            Decryption::Off
        })
    }

    fn flux_patch(&mut self, node: &KdlNode) -> Option<FluxPatch> {
        const TARGET: &[(&str, &str)] = &[
            ("group", "group"),
            ("version", "version"),
            ("kind", "kind"),
            ("name", "name"),
            ("namespace", "namespace"),
            ("label-selector", "labelSelector"),
            ("annotation-selector", "annotationSelector"),
        ];
        let props: Vec<&str> = TARGET.iter().map(|(k, _)| *k).collect();
        self.only_args(node, 1, &props)?;
        let patch = self.string_arg(node, 0, "patch")?;
        match crate::yaml::parse_documents(&patch.value) {
            Ok(docs)
                if docs.len() == 1
                    && matches!(
                        docs[0],
                        crate::value::Value::Map(_) | crate::value::Value::List(_)
                    ) => {}
            Ok(_) => {
                self.invalid(
                    "patch",
                    "a patch is one YAML map (strategic merge) or list (JSON6902)".into(),
                    patch.span,
                    None,
                );
                return None;
            }
            Err(e) => {
                self.invalid(
                    "patch",
                    format!("not YAML: {}", e.message),
                    patch.span,
                    None,
                );
                return None;
            }
        }
        let mut target = BTreeMap::new();
        for (prop, field) in TARGET {
            if let Some(value) = self.string_prop(node, prop) {
                target.insert((*field).to_string(), value.value);
            }
        }
        Some(FluxPatch {
            patch: patch.value,
            target,
        })
    }

    fn substitute(&mut self, node: &KdlNode, into: &mut BTreeMap<String, String>) {
        for entry in node.entries() {
            let Some(key) = entry.name() else {
                continue;
            };
            let span = self.span(entry.span());
            let ok_name = key
                .value()
                .chars()
                .next()
                .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
                && key
                    .value()
                    .chars()
                    .all(|c| c == '_' || c.is_ascii_alphanumeric());
            if !ok_name {
                self.invalid(
                    "substitute variable",
                    format!("`{}` is not a variable name", key.value()),
                    span,
                    Some("letters, digits and `_`, not starting with a digit".into()),
                );
                continue;
            }
            match entry.value() {
                KdlValue::String(v) => {
                    into.insert(key.value().to_string(), v.clone());
                }
                other => self.wrong_type(key.value(), "a string", other, span),
            }
        }
    }
}

/// The Secret Flux reads the age identity from, unless set.
pub const DEFAULT_DECRYPTION_SECRET: &str = "sops-age";

/// Whether `text` is a Go duration: one or more `<digits>[.<digits>]<unit>`.
fn is_duration(text: &str) -> bool {
    let mut rest = text;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let Some(unit) = ["ms", "us", "ns", "h", "m", "s"]
            .into_iter()
            .find(|u| rest.starts_with(u))
        else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::is_duration;

    #[test]
    fn durations_are_go_durations() {
        for ok in ["5m", "10m0s", "1h30m", "500ms", "1.5h"] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["", "5", "m", "5 m", "5min", "-5m", "5m5"] {
            assert!(!is_duration(bad), "{bad}");
        }
    }
}
