//! Reading a stack from disk: `stacks.kdl`, `environments/<env>.kdl`, every template and every
//! plain manifest file. This is the input edge of the pipeline; everything after it works on
//! the in-memory [`Stack`].

use super::fragment::Item;
use super::parse::Parser;
use super::{validate, Model, ModelError, Project};
use crate::diagnostics::{Diagnostics, IoError};
use crate::source::{FileId, Sources, Span};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The built-in defaults: the lowest layer, written in the same language as everything else.
const BUILTIN: &str = r#"replicas 1
anti-affinity "none"
debug #false
port 8080
resources cpu="100m" memory="128Mi" cpu-limit="500m" memory-limit="256Mi"
// Policy (docs/policy.md): what is safe everywhere. Network policies, quotas, limit ranges,
// disruption budgets, Pod Security labels, autoscaling and notifications stay off until the
// stack sets them.
rollout max-unavailable="25%" max-surge="25%"
probes enabled=#true period=10
"#;

/// The most diagnostics one load reports (rendering each one costs a pass over its file).
const MAX_REPORTED: usize = 50;

/// A template file, read whole.
#[derive(Clone, Debug)]
pub struct TemplateFile {
    pub text: Arc<str>,
    pub file: FileId,
}

/// Everything a build reads, in memory.
#[derive(Clone, Debug)]
pub struct Stack {
    pub root: PathBuf,
    pub sources: Sources,
    pub model: Model,
    /// Every file under `templates/`, by path relative to it (`deployment/web.yaml.j2`).
    pub templates: BTreeMap<String, TemplateFile>,
    /// Every plain manifest file services name, by path relative to the root.
    pub manifests: BTreeMap<String, FileId>,
}

/// Reads and checks the stack at `root`.
pub fn load(root: &Path) -> Result<Stack, Diagnostics> {
    let mut sources = Sources::default();
    let mut errors = Diagnostics::new();

    let builtin_id = sources.add("<built-in>", BUILTIN);
    let stack_path = root.join("stacks.kdl");
    let Some(text) = super::limits::read_bounded(&stack_path, "stacks.kdl")? else {
        return Err(ModelError::NoStack {
            dir: root.display().to_string(),
        }
        .into());
    };
    let stack_id = sources.add("stacks.kdl", &text);
    // Both are flat scans of the whole file, on the critical path before the parallel
    // parse: run side by side. The structure check still comes before any parser recurses.
    let (structure, runs) = rayon::join(
        || super::limits::check_structure(&sources, stack_id),
        || super::runs::runs(&sources, stack_id),
    );
    structure?;

    let overlay_files = read_overlays(root, &mut sources, &mut errors);
    let mut templates = read_templates(root, &mut sources, &mut errors);
    add_builtin_templates(&mut sources, &mut templates);

    let mut builtin_parser = Parser::new(&sources, builtin_id);
    let builtin = builtin_parser
        .document()
        .map(|chunks| builtin_parser.overlay(&chunks).settings)
        .unwrap_or_default();
    errors.extend(builtin_parser.errors);

    let Some(items) = parse_stack(&sources, stack_id, runs, &mut errors) else {
        return Err(errors);
    };
    let mut parser = Parser::new(&sources, stack_id);
    let file = parser.stack_file(items);
    errors.extend(parser.errors);

    let project = file.project.unwrap_or_else(|| {
        errors.push(ModelError::Missing {
            node: "stacks.kdl".into(),
            what: "a `project \"name\" domain=\"...\"` node".into(),
            src: sources.named(stack_id),
            span: (0, 0).into(),
            help: None,
        });
        let nowhere = Span {
            file: stack_id,
            offset: 0,
            len: 0,
        };
        let named = |v: &str| super::Named {
            value: v.to_string(),
            span: nowhere,
        };
        Project {
            name: named("stack"),
            domain: named("example.org"),
            span: nowhere,
        }
    });
    let mut model = Model {
        project,
        layers: file.layers,
        builtin,
        defaults: file.defaults,
        environments: file.environments,
        secrets: file.secrets,
        services: file.services,
        gitops: file.gitops,
        namespaces: file.namespaces,
        service_index: super::ServiceIndex::default(),
    };

    for (env_name, file_id) in overlay_files {
        let mut parser = Parser::new(&sources, file_id);
        let overlay = parser.document().map(|chunks| parser.overlay(&chunks));
        errors.extend(parser.errors);
        match model.environments.iter_mut().find(|e| e.name.value == env_name) {
            Some(env) => env.overlay = Some(overlay.unwrap_or_default()),
            None => errors.push(ModelError::UnknownReference {
                kind: "environment",
                name: env_name.clone(),
                src: sources.named(file_id),
                span: (0, 0).into(),
                help: Some(format!(
                    "environments/{env_name}.kdl overrides an environment that stacks.kdl does not declare{}",
                    crate::diagnostics::did_you_mean(&env_name, model.environments.iter().map(|e| e.name.as_str()))
                        .map(|d| format!("; {d}"))
                        .unwrap_or_default()
                )),
            }),
        }
    }

    let manifests = read_manifests(root, &model, &mut sources, &mut errors);
    if errors.is_empty() {
        errors.extend(validate::validate(&model, &sources, &templates));
        errors.extend(super::gitops::check(&model, &sources));
        errors.extend(super::namespaces::check(&model, &sources));
    }
    // A generated file gone wrong can hold a million mistakes; nobody reads past the first.
    errors.truncate(MAX_REPORTED);
    errors.into_result(Stack {
        root: root.to_path_buf(),
        sources,
        model,
        templates,
        manifests,
    })
}

/// Loads a stack made of `stacks.kdl` text and optional `environments/<env>.kdl` overlays
/// (by environment name), through the same path as [`load`]: written to a fresh temporary
/// directory, loaded, and removed. For fuzzing and tests that hold text, not a folder.
pub fn load_text(stack: &[u8], overlays: &[(&str, &[u8])]) -> Result<Stack, Diagnostics> {
    let dir = tempfile::tempdir().map_err(|e| IoError::new("create", Path::new("<temp>"), e))?;
    let write = |relative: &str, bytes: &[u8]| {
        let path = dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap_or(dir.path()))
            .and_then(|()| std::fs::write(&path, bytes))
            .map_err(|e| IoError::new("write", &path, e))
    };
    write("stacks.kdl", stack)?;
    for (env, text) in overlays {
        // Only plain names: the fuzzer chooses them too.
        if super::is_dns_label(env) {
            write(&format!("environments/{env}.kdl"), text)?;
        }
    }
    load(dir.path())
}

/// One run of `stacks.kdl`, parsed: its declarations and its errors.
type ParsedRun = (Vec<Item>, Diagnostics);

/// Parses `stacks.kdl` run by run, in parallel. Returns the declarations in file order, or
/// `None` after reporting syntax errors. (Our parser reads ~80 MB/s, so no run is cached:
/// loading a cache of parsed runs cost more than parsing them again.)
fn parse_stack(
    sources: &Sources,
    file: FileId,
    runs: Result<Vec<std::ops::Range<usize>>, Diagnostics>,
    errors: &mut Diagnostics,
) -> Option<Vec<Item>> {
    use rayon::prelude::*;
    let text = &sources.file(file).text;
    let ranges = match runs {
        Ok(ranges) => ranges,
        Err(e) => {
            errors.extend(e);
            return None;
        }
    };
    let results: Vec<Option<ParsedRun>> = super::runs::on_parse_threads(|| {
        ranges
            .into_par_iter()
            .map(|range| {
                let run = &text[range.clone()];
                let doc = super::runs::parse_run(sources, file, range.start, run).ok()?;
                let mut parser = Parser::new(sources, file);
                let items = parser.items(&doc, range.start);
                Some((items, parser.errors))
            })
            .collect()
    });
    let Some(results) = results.into_iter().collect::<Option<Vec<_>>>() else {
        // A run that is not valid KDL on its own: the file's syntax errors, or (when a
        // small file parses whole) a cut the scanner got wrong.
        return parse_whole(sources, file, errors);
    };
    let mut items = Vec::new();
    for (run_items, run_errors) in results {
        errors.extend(run_errors);
        items.extend(run_items);
    }
    Some(items)
}

/// Parses `stacks.kdl` in one piece (the fallback when the file cannot be cut into runs).
fn parse_whole(sources: &Sources, file: FileId, errors: &mut Diagnostics) -> Option<Vec<Item>> {
    let mut parser = Parser::new(sources, file);
    let Some(chunks) = parser.document() else {
        errors.extend(parser.errors);
        return None;
    };
    let mut items = Vec::new();
    for (base, doc) in &chunks {
        items.extend(parser.items(doc, *base));
    }
    errors.extend(parser.errors);
    Some(items)
}

fn read_overlays(
    root: &Path,
    sources: &mut Sources,
    errors: &mut Diagnostics,
) -> Vec<(String, FileId)> {
    let dir = root.join("environments");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "kdl"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let Some(env) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let name = format!("environments/{env}.kdl");
        match super::limits::read_bounded(&path, &name) {
            Ok(Some(text)) => {
                let id = sources.add(&name, &text);
                match super::limits::check_structure(sources, id) {
                    Ok(()) => out.push((env.clone(), id)),
                    Err(e) => errors.extend(e),
                }
            }
            // Gone between listing and reading: as if it was never there.
            Ok(None) => {}
            Err(e) => errors.extend(e),
        }
    }
    out
}

fn read_templates(
    root: &Path,
    sources: &mut Sources,
    errors: &mut Diagnostics,
) -> BTreeMap<String, TemplateFile> {
    let dir = root.join("templates");
    let mut templates = BTreeMap::new();
    if !dir.is_dir() {
        return templates;
    }
    for entry in walkdir::WalkDir::new(&dir)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                errors.push(IoError::new("read", &dir, e.into()));
                continue;
            }
        };
        if entry.file_type().is_dir() {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(&dir) else {
            continue;
        };
        let name = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if entry.path_is_symlink() {
            errors.push(TemplateError::Symlink { name });
            continue;
        }
        match std::fs::read_to_string(entry.path()) {
            Ok(text) => {
                let file = sources.add(&format!("templates/{name}"), &text);
                templates.insert(
                    name,
                    TemplateFile {
                        text: text.into(),
                        file,
                    },
                );
            }
            Err(e) => errors.push(IoError::new("read", entry.path(), e)),
        }
    }
    templates
}

/// The built-in starter templates, as `builtin:<kind>/<file>`: never a path under
/// templates/, so a stack's own folders cannot shadow them.
fn add_builtin_templates(sources: &mut Sources, templates: &mut BTreeMap<String, TemplateFile>) {
    for (kind, file, text) in super::builtin_templates::TEMPLATES {
        let id = sources.add(&format!("<built-in>/{kind}/{file}"), text);
        templates.insert(
            format!("{}{kind}/{file}", super::builtin_templates::PREFIX),
            TemplateFile {
                text: (*text).into(),
                file: id,
            },
        );
    }
}

/// Problems with files under `templates/` found while reading them.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum TemplateError {
    #[error("templates/{name} is a symbolic link")]
    #[diagnostic(
        code(stackc::model::template_symlink),
        help("templates must be regular files inside templates/, so a template can never read files outside it")
    )]
    Symlink { name: String },
}

fn read_manifests(
    root: &Path,
    model: &Model,
    sources: &mut Sources,
    errors: &mut Diagnostics,
) -> BTreeMap<String, FileId> {
    let mut out = BTreeMap::new();
    for service in &model.services {
        for manifest in &service.manifests {
            if out.contains_key(&manifest.value) {
                continue;
            }
            let relative = Path::new(&manifest.value);
            let escapes = relative.is_absolute()
                || relative
                    .components()
                    .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
            let located = sources.locate(manifest.span);
            if escapes || manifest.value.is_empty() {
                errors.push(ModelError::Invalid {
                    message: format!("manifest path `{}` leaves the stack", manifest.value),
                    src: located.source,
                    span: located.span,
                    label: "must be a relative path inside the stack, without `..`".into(),
                    help: None,
                });
                continue;
            }
            let path = root.join(relative);
            let is_link =
                std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
            match std::fs::read_to_string(&path) {
                Ok(_) if is_link => errors.push(ModelError::Invalid {
                    message: format!("manifest `{}` is a symbolic link", manifest.value),
                    src: located.source,
                    span: located.span,
                    label: "must be a regular file".into(),
                    help: None,
                }),
                Ok(text) => {
                    let id = sources.add(&manifest.value, &text);
                    out.insert(manifest.value.clone(), id);
                }
                Err(e) => errors.push(ModelError::Invalid {
                    message: format!("cannot read manifest `{}`: {e}", manifest.value),
                    src: located.source,
                    span: located.span,
                    label: "this file".into(),
                    help: None,
                }),
            }
        }
    }
    out
}
