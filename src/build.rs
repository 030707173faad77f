//! The build engine: resolve, then for every service x environment render unit decide from
//! its blake3 key and the stat data of its files whether it can be skipped, render the rest
//! in parallel (rayon), seal the Secrets, lay out each environment's files and compare them
//! with `out/`. [`Engine::plan`] turns all of it into an [`emit::Plan`]: apart from reading
//! the stack, the stores, the caches and `out/`, it is pure, and it refuses a symbolic link
//! on any path the plan would write. Writing is `emit::apply`'s job alone, so a build that
//! fails in any environment changes no file, and `build --check` is the same plan, unapplied.

use crate::cache::{self, unit_key, EnvCache, InputStamps, OutMemory, TemplateDeps, UnitRecord};
use crate::diagnostics::Diagnostics;
use crate::emit::{self, Content, EnvPlan, Plan};
use crate::model::Stack;
use crate::object::RenderedObject;
use crate::render::{RenderError, Renderer};
use crate::resolve::{Resolved, ResolvedEnvironment};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A shared template that fails fails in every unit; past this many reports, more say nothing new.
const MAX_REPORTED: usize = 20;

/// Renders a stack's units, remembering nothing itself (the cache is passed in).
pub struct Engine<'s> {
    stack: &'s Stack,
    renderer: Renderer<'s>,
    deps: TemplateDeps,
    manifest_hashes: BTreeMap<String, String>,
    /// Hash of every input outside the service declarations of `stacks.kdl`.
    global_source: blake3::Hash,
    /// Hash of each service declaration's text, by service name.
    service_sources: BTreeMap<String, blake3::Hash>,
    /// Units rendered so far, for the progress line.
    pub progress: AtomicUsize,
}

enum UnitOutcome {
    Kept(UnitRecord),
    Rendered(UnitRecord, Vec<(String, Vec<u8>)>),
}

/// How an object's identity is remembered in a unit's record.
fn identity_key(object: &RenderedObject) -> String {
    let id = &object.id;
    format!(
        "{}/{}/{}/{}",
        id.api_version, id.kind, id.namespace, id.name
    )
}

impl<'s> Engine<'s> {
    /// Refuses a user document that is one of the objects the layout adds (a policy
    /// quota or default-deny, a Flux Kustomization or Alert): both would be written and
    /// kustomize refuses the environment. Namespaces have their own check (`render::unique`).
    /// The owning units are rendered again, as for a clash between units, so that the
    /// diagnostic points at the document.
    fn check_layout_clash(
        &self,
        env: &ResolvedEnvironment,
        layout: &crate::layout::Layout<'_>,
        policy: &crate::policy::EnvPolicy,
        identities: &BTreeMap<String, Vec<&str>>,
    ) -> Result<(), Diagnostics> {
        let generated: Vec<RenderedObject> = layout
            .generated_objects(&env.name, policy)
            .into_iter()
            .filter(|o| o.id.kind != "Namespace")
            .collect();
        let taken: BTreeSet<String> = generated.iter().map(identity_key).collect();
        let owners: BTreeSet<&str> = identities
            .iter()
            .filter(|(id, _)| taken.contains(*id))
            .flat_map(|(_, services)| services.iter().copied())
            .collect();
        if owners.is_empty() {
            return Ok(());
        }
        let mut objects = generated;
        for service in owners {
            let resolved = crate::resolve::resolve_one(self.stack, &env.name, service)?;
            objects.extend(self.renderer.render_service(env, &resolved)?);
        }
        crate::render::check_unique(self.stack, &env.name, &objects)
    }

    /// Compiles every template once (reporting syntax errors once, not per unit).
    pub fn new(stack: &'s Stack) -> Result<Self, Diagnostics> {
        let renderer = Renderer::new(stack);
        renderer.compile_all()?;
        Ok(Engine {
            stack,
            renderer,
            deps: TemplateDeps::new(&stack.templates),
            manifest_hashes: stack
                .manifests
                .iter()
                .map(|(name, id)| {
                    (
                        name.clone(),
                        blake3::hash(stack.sources.file(*id).text.as_bytes())
                            .to_hex()
                            .to_string(),
                    )
                })
                .collect(),
            global_source: global_source(stack),
            // A unit's policy reads other declarations too (policy::with_peers).
            service_sources: crate::policy::with_peers(
                &stack.model,
                stack
                    .model
                    .services
                    .iter()
                    .map(|s| {
                        (
                            s.name.value.clone(),
                            blake3::hash(stack.sources.snippet(s.span).as_bytes()),
                        )
                    })
                    .collect(),
            ),
            progress: AtomicUsize::new(0),
        })
    }

    /// The source key of a unit: what it was resolved and rendered from, as text.
    fn source_key(&self, env: &str, service: &str) -> String {
        let mut hasher = blake3::Hasher::new();
        hasher.update(self.global_source.as_bytes());
        hasher.update(env.as_bytes());
        hasher.update(&[0]);
        if let Some(hash) = self.service_sources.get(service) {
            hasher.update(hash.as_bytes());
        }
        hasher.finalize().to_hex().to_string()
    }

    /// Plans a build: every selected environment's files, sealed Secrets, store updates,
    /// cache updates and notes, with nothing written. With `check`, no store changes (values
    /// are not generated) and Secrets that would change without an identity count as stale.
    pub fn plan(&self, request: &Request<'_>) -> Result<Plan, Diagnostics> {
        let stack = self.stack;
        let root = &stack.root;
        let cache_dir = root.join(crate::CACHE_DIR);
        let out = root.join("out");
        if !request.check {
            crate::fs::refuse_symlink(root, crate::fs::STAGING)?;
        }
        emit::roots::check(stack)?;
        let selected: Vec<&ResolvedEnvironment> = request
            .resolved
            .environments
            .iter()
            .filter(|e| request.environments.contains(&e.name))
            .collect();
        // Environments are independent: plan them side by side (units inside are parallel too).
        let results: Vec<Result<(EnvPlan, crate::seal::environment::Sealed), Diagnostics>> =
            selected
                .par_iter()
                .map(|env| {
                    crate::fs::refuse_symlink(root, &format!("out/{}", env.name))?;
                    let cache = cache::load(&cache_dir, &env.name);
                    let dir = out.join(&env.name);
                    let mut sealed = crate::seal::environment::seal_environment(
                        stack,
                        env,
                        &dir,
                        request.identities,
                        request.check,
                    )?;
                    let files = std::mem::take(&mut sealed.files);
                    let plan = self.plan_env(env, cache, &dir, files, &mut sealed)?;
                    refuse_links(root, &plan)?;
                    Ok((plan, sealed))
                })
                .collect();
        let mut errors = Diagnostics::new();
        let mut envs = Vec::new();
        let mut stores = Vec::new();
        let mut notes = Vec::new();
        for result in results {
            match result {
                Ok((plan, sealed)) => {
                    notes.extend(sealed.notes);
                    for path in &plan.changes.edited {
                        notes.push(format!(
                            "warning: out/{}/{path} was edited by hand; restoring it",
                            plan.env
                        ));
                    }
                    if let Some(store) = sealed.store {
                        stores.push(store);
                    }
                    envs.push(plan);
                }
                Err(e) => errors.extend(e),
            }
        }
        errors.truncate(MAX_REPORTED);
        errors.into_result(())?;
        if !request.check {
            for store in &stores {
                let rel = store.path.strip_prefix(root).unwrap_or(&store.path);
                crate::fs::refuse_symlink(root, &rel.to_string_lossy())?;
            }
        }
        // `--check` applies nothing: what the caches would remember is not needed.
        let (caches, inputs) = if request.check {
            (Vec::new(), InputStamps::default())
        } else {
            let all: Vec<String> = stack
                .model
                .environments
                .iter()
                .map(|e| e.name.value.clone())
                .collect();
            let mut caches = vec![cache::environments_file(&all)];
            if !stack.model.gitops.outputs.is_empty() {
                caches.push((emit::roots::ROOTS_MARKER.to_string(), Vec::new()));
            }
            (caches, InputStamps::record(stack, request.started_ns))
        };
        Ok(Plan {
            root: root.clone(),
            envs,
            stores,
            caches,
            inputs,
            notes,
        })
    }

    /// Plans one environment against its cache and its folder in `out/`.
    fn plan_env(
        &self,
        env: &ResolvedEnvironment,
        cache: EnvCache,
        dir: &Path,
        secrets: Vec<(String, Vec<u8>)>,
        sealing: &mut crate::seal::environment::Sealed,
    ) -> Result<EnvPlan, Diagnostics> {
        let services = &self.stack.model.services;
        let outcomes: Vec<Result<UnitOutcome, Diagnostics>> = services
            .par_iter()
            .map(|service| {
                let outcome = self.unit(env, &service.name.value, &cache, dir);
                self.progress.fetch_add(1, Ordering::Relaxed);
                outcome
            })
            .collect();
        let mut errors = Diagnostics::new();
        let mut object_files: BTreeMap<String, Content> = BTreeMap::new();
        let mut records = BTreeMap::new();
        let (mut rendered, mut skipped) = (0, 0);
        let mut owners: BTreeMap<String, &str> = BTreeMap::new();
        let mut identities: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (service, outcome) in services.iter().zip(outcomes) {
            let service = service.name.as_str();
            let record = match outcome {
                Err(e) => {
                    errors.extend(e);
                    continue;
                }
                Ok(UnitOutcome::Kept(record)) => {
                    skipped += 1;
                    for (path, hash) in &record.files {
                        let Ok(hash) = blake3::Hash::from_hex(hash) else {
                            continue;
                        };
                        object_files.insert(path.clone(), Content::Kept(hash));
                    }
                    record
                }
                Ok(UnitOutcome::Rendered(record, files)) => {
                    rendered += 1;
                    for (path, bytes) in files {
                        object_files.insert(path, Content::Bytes(bytes));
                    }
                    record
                }
            };
            for id in &record.objects {
                identities.entry(id.clone()).or_default().push(service);
            }
            for (path, _) in &record.files {
                if let Some(first) = owners.insert(path.clone(), service) {
                    errors.push(RenderError::DuplicateObject {
                        object: format!("out/{}/{path}", env.name),
                        env: env.name.clone(),
                        first: format!("service {first}"),
                        second: format!("service {service}"),
                    });
                }
            }
            records.insert(service.to_string(), record);
        }
        // One object rendered by two units: render them again (a kept unit too; a rare
        // error path, so objects are not kept in memory for it) so that the diagnostic can
        // name both sources.
        let clashing: BTreeSet<&str> = identities
            .values()
            .filter(|owners| owners.len() > 1)
            .flatten()
            .copied()
            .collect();
        if errors.is_empty() && !clashing.is_empty() {
            let mut objects = Vec::new();
            for service in &clashing {
                let resolved = crate::resolve::resolve_one(self.stack, &env.name, service)?;
                objects.extend(self.renderer.render_service(env, &resolved)?);
            }
            if let Err(e) = crate::render::check_unique(self.stack, &env.name, &objects) {
                errors.extend(e);
            }
        }
        if errors.is_empty() {
            let identities = records.values().flat_map(|r| r.objects.iter());
            if let Err(e) = crate::render::patch::check_matched(
                self.stack,
                &env.name,
                identities.map(String::as_str),
            ) {
                errors.extend(e);
            }
        }
        errors.truncate(MAX_REPORTED);
        if !errors.is_empty() {
            return Err(errors);
        }
        // The rules of `stackc check`: an error stops the build before anything is written.
        let units: Vec<crate::check::gate::GateUnit<'_>> = records
            .iter()
            .map(|(service, r)| crate::check::gate::GateUnit {
                service,
                rules: &r.check_rules,
                facts: &r.check_facts,
            })
            .collect();
        let warnings = crate::check::gate::gate(self.stack, &self.renderer, env, &units)?;
        sealing.notes.extend(warnings);
        let policy = crate::policy::EnvPolicy::of(self.stack, &env.name)?;
        let layout = crate::layout::Layout::new(self.stack);
        self.check_layout_clash(env, &layout, &policy, &identities)?;
        let mut files = layout.env_files(
            &env.name,
            crate::layout::EnvFiles {
                object_files,
                secrets,
                flux_bootstrapped: crate::layout::Layout::flux_bootstrapped(dir),
                policy,
                unit_objects: records
                    .iter()
                    .map(|(service, r)| (service.clone(), r.objects.clone()))
                    .collect(),
            },
        );
        let roots = emit::roots::plan(self.stack, &env.name, layout.split_outputs(&mut files))?;
        let memory = OutMemory { dir, cache: &cache };
        let mut changes = emit::compare(&env.name, dir, &files, &memory)?;
        // Sealed Secrets that changed but cannot be resealed without an identity are stale;
        // those whose bytes are not what stackc recorded were edited by hand.
        for path in &sealing.stale {
            if !changes.missing.contains(path) && !changes.stale.contains(path) {
                changes.stale.push(path.clone());
            }
        }
        for path in &sealing.edited {
            if !changes.edited.contains(path) {
                changes.edited.push(path.clone());
            }
        }
        Ok(EnvPlan {
            env: env.name.clone(),
            files,
            changes,
            rendered,
            skipped,
            records,
            old_cache: cache,
            roots,
        })
    }

    fn unit(
        &self,
        env: &ResolvedEnvironment,
        name: &str,
        cache: &EnvCache,
        dir: &Path,
    ) -> Result<UnitOutcome, Diagnostics> {
        let source = self.source_key(&env.name, name);
        let record = cache.units.get(name);
        if let Some(record) = record {
            if record.source == source && Self::files_intact(record, cache, dir) {
                return Ok(UnitOutcome::Kept(record.clone()));
            }
        }
        let service = &crate::resolve::resolve_one(self.stack, &env.name, name)?;
        let ctx = self.renderer.context(env, service)?;
        let entries = service
            .template
            .as_deref()
            .map(|t| self.renderer.entry_templates(t))
            .unwrap_or_default();
        let manifests: BTreeMap<&str, String> = service
            .manifests
            .iter()
            .filter_map(|m| self.manifest_hashes.get_key_value(m))
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let patches = crate::render::patch::key(&self.stack.model, &env.name, name);
        let key = unit_key(&ctx, self.deps.closure(&entries), manifests, &patches);
        if let Some(record) = record {
            if !key.is_empty() && record.key == key && Self::files_intact(record, cache, dir) {
                return Ok(UnitOutcome::Kept(UnitRecord {
                    source,
                    ..record.clone()
                }));
            }
        }
        let objects = self.renderer.render_with_context(env, service, &ctx)?;
        let mut files: Vec<(String, Vec<u8>)> = objects
            .iter()
            .map(|o| (o.path.clone(), crate::yaml::to_yaml(&o.body).into_bytes()))
            .collect();
        // The unit's folder kustomization is kept with it, so a kept unit needs no re-layout.
        let folders = crate::layout::unit_kustomizations(files.iter().map(|(p, _)| p.as_str()));
        files.extend(folders);
        let record = UnitRecord {
            source,
            key,
            files: files
                .iter()
                .map(|(p, b)| (p.clone(), blake3::hash(b).to_hex().to_string()))
                .collect(),
            objects: objects.iter().map(identity_key).collect(),
            ..UnitRecord::default()
        };
        let memo = crate::check::gate::unit_memo(self.stack, env, service, &objects);
        let record = UnitRecord {
            check_rules: memo.rules,
            check_facts: memo.facts,
            ..record
        };
        Ok(UnitOutcome::Rendered(record, files))
    }

    /// Whether every file a unit wrote last time is still on disk exactly as written.
    fn files_intact(record: &UnitRecord, cache: &EnvCache, dir: &Path) -> bool {
        record.files.iter().all(|(path, hash)| {
            cache.stamps.get(path).is_some_and(|stamp| {
                blake3::Hash::from_hex(hash).is_ok_and(|h| stamp.hash == *h.as_bytes())
                    && stamp.verify(&dir.join(path), cache.saved_at_ns)
            })
        })
    }
}

/// What to plan: the resolved environments, the selection, where identities are, and
/// whether this is `--check`.
pub struct Request<'a> {
    pub resolved: &'a Resolved,
    /// The environments to build (checked names).
    pub environments: &'a [String],
    pub identities: &'a [PathBuf],
    pub check: bool,
    /// When the build began reading its inputs (an input modified since is unsettled).
    pub started_ns: i128,
}

/// Refuses a symbolic link on any path the plan of one environment would write or prune, or
/// compare through: every folder holding a wanted or pruned file, and every file not kept
/// from the cache (kept files were verified by `lstat` already). Nothing has been written.
fn refuse_links(root: &Path, plan: &EnvPlan) -> Result<(), Diagnostics> {
    let dir = root.join("out").join(&plan.env);
    let mut folders: BTreeSet<&str> = BTreeSet::new();
    for path in plan.files.keys().chain(&plan.changes.extra) {
        let mut path = path.as_str();
        while let Some((parent, _)) = path.rsplit_once('/') {
            if !folders.insert(parent) {
                break;
            }
            path = parent;
        }
    }
    let files = plan
        .files
        .iter()
        .filter(|(_, c)| matches!(c, Content::Bytes(_)))
        .map(|(p, _)| p.as_str())
        .chain(plan.changes.extra.iter().map(String::as_str))
        .chain(std::iter::once(emit::INDEX_FILE));
    let candidates: Vec<&str> = folders.into_iter().chain(files).collect();
    let mut links: Vec<String> = candidates
        .par_iter()
        .filter(|rel| {
            std::fs::symlink_metadata(dir.join(rel)).is_ok_and(|m| m.file_type().is_symlink())
        })
        .map(|rel| format!("out/{}/{rel}", plan.env))
        .collect();
    links.sort();
    // A link below another link is the same problem: name the outermost.
    links.dedup_by(|later, earlier| later.starts_with(&format!("{earlier}/")));
    let mut errors = Diagnostics::new();
    for path in links {
        errors.push(crate::fs::FsError::Symlink { path });
    }
    errors.truncate(MAX_REPORTED);
    errors.into_result(())
}

/// Hash of every input that is not a service declaration: `stacks.kdl` with the service
/// declarations cut out, every other file read (overlays, templates, manifests, the built-in
/// defaults), and the stackc version and fuel (which change rendering).
fn global_source(stack: &Stack) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(&crate::render::FUEL.to_le_bytes());
    let mut stack_file = None;
    for file in stack.sources.iter() {
        if &*file.name == "stacks.kdl" {
            stack_file = Some(file);
            continue;
        }
        for part in [file.name.as_bytes(), &[0], file.text.as_bytes(), &[0]] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
    }
    if let Some(file) = stack_file {
        let mut spans: Vec<(usize, usize)> = stack
            .model
            .services
            .iter()
            .map(|s| (s.span.offset, s.span.offset + s.span.len))
            .collect();
        spans.sort_unstable();
        let mut at = 0;
        for (start, end) in spans {
            if start >= at {
                hasher.update(file.text[at..start].as_bytes());
                hasher.update(&[0xff]);
                at = end;
            }
        }
        hasher.update(file.text.get(at..).unwrap_or("").as_bytes());
    }
    hasher.finalize()
}

/// Renders every object of the selected environments from scratch (for `diff`).
pub fn render_objects(
    stack: &Stack,
    resolved: &Resolved,
    only: &[String],
) -> Result<Vec<(String, Vec<RenderedObject>)>, Diagnostics> {
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
        .flat_map(|(env_index, env)| (0..env.services.len()).map(move |unit| (env_index, unit)))
        .collect();
    let results: Vec<Result<Vec<RenderedObject>, Diagnostics>> = units
        .par_iter()
        .map(|&(env_index, unit)| {
            renderer.render_service(envs[env_index], &envs[env_index].services[unit])
        })
        .collect();
    let mut errors = Diagnostics::new();
    let mut out: Vec<(String, Vec<RenderedObject>)> =
        envs.iter().map(|e| (e.name.clone(), Vec::new())).collect();
    for ((e, _), result) in units.iter().zip(results) {
        match result {
            Ok(objects) => out[*e].1.extend(objects),
            Err(diagnostics) => errors.extend(diagnostics),
        }
    }
    for (env, objects) in &out {
        if let Err(e) = crate::render::check_unique(stack, env, objects) {
            errors.extend(e);
        }
    }
    errors.truncate(MAX_REPORTED);
    errors.into_result(out)
}
