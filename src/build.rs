//! The build engine: resolve, then for every service x environment render unit decide from
//! its blake3 key and the stat data of its files whether it can be skipped, render the rest
//! in parallel (rayon), seal the Secrets, lay out each environment's files and compare them
//! with `out/`. [`Engine::plan`] turns all of it into an [`emit::Plan`]: apart from reading
//! the stack, the stores, the caches and `out/` (and staging a cold environment's rendered
//! files in a temp folder of the build's staging folder, see [`Engine::staging`]), it is pure,
//! and it refuses a symbolic link on any path the plan would write. Writing the stack is
//! `emit::apply`'s job alone, so a build that fails in any environment changes no file, and
//! `build --check` is the same plan, unapplied (and stages nothing).

use crate::cache::{
    self, EnvCache, Hash32, InputStamps, Stamp, StatDir, StatSection, TemplateDeps, UnitRecord,
    UnitsSection,
};
use crate::diagnostics::Diagnostics;
use crate::emit::{self, Content, EnvPlan, Hashed, Plan, WrittenBefore};
use crate::model::Stack;
use crate::object::RenderedObject;
use crate::render::{RenderError, Renderer};
use crate::resolve::{Resolved, ResolvedEnvironment};
use rayon::prelude::*;
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};
use std::borrow::Cow;
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
    global_source: Hash32,
    /// Hash of each service declaration's text, by service name.
    service_sources: BTreeMap<String, Hash32>,
    /// Counts units planned, for a progress line (see [`run`]).
    progress: Option<&'s AtomicUsize>,
    /// The layers written to output roots (`gitops { output }`), not to out/: the cache's
    /// stamps describe out/ only, so no file of theirs is ever kept by its stamp.
    root_layers: BTreeSet<String>,
    /// Where a cold environment's rendered files are staged as soon as they are rendered
    /// (see [`Engine::staging`]).
    stage: Option<&'s crate::fs::Tree>,
}

enum UnitOutcome<'c> {
    /// Decoded from the old units section, its strings borrowed from it (most units of an
    /// edit); while unchanged it still holds its stored bytes, copied into the next cache.
    /// With the stamps that verified its files, in the order of its record's files.
    Kept(UnitRecord<'c>, Vec<Stamp>),
    /// Rendered by this build: its record and its files.
    Rendered(UnitRecord<'static>, Vec<(String, Content)>),
}

/// The last build's cache of an environment, decoded: what planning it reads.
struct OldCache<'c> {
    stat: &'c StatSection<'c>,
    units: &'c UnitsSection<'c>,
    /// The file's bytes, which the next units section takes kept records from.
    bytes: &'c [u8],
}

/// Every unit's record by service name, as the next units section will hold them.
type Records<'c> = [(Cow<'c, str>, UnitRecord<'c>)];

/// How an object's identity is remembered in a unit's record.
fn identity_key(object: &RenderedObject) -> String {
    object.id.record_key()
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
        records: &Records<'_>,
    ) -> Result<(), Diagnostics> {
        let generated: Vec<RenderedObject> = layout
            .generated_objects(&env.name, policy)
            .into_iter()
            .filter(|o| o.id.kind != "Namespace")
            .collect();
        let taken: BTreeSet<String> = generated.iter().map(identity_key).collect();
        let owners: BTreeSet<&str> = records
            .iter()
            .filter(|(_, r)| r.objects.iter().any(|id| taken.contains(id.as_ref())))
            .map(|(service, _)| service.as_ref())
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
                // Every declaration's text (the whole of stacks.kdl), hashed on every core.
                stack
                    .model
                    .services
                    .par_iter()
                    .map(|s| {
                        (
                            s.name.value.clone(),
                            blake3::hash(stack.sources.snippet(s.span).as_bytes()),
                        )
                    })
                    .collect::<Vec<_>>()
                    .into_iter()
                    .collect(),
            )
            .into_iter()
            .map(|(name, hash)| (name, *hash.as_bytes()))
            .collect(),
            progress: None,
            root_layers: stack
                .model
                .gitops
                .outputs
                .iter()
                .flat_map(|o| o.layers.iter().map(|l| l.as_str().to_string()))
                .collect(),
            stage: None,
        })
    }

    /// The same engine, counting every unit it plans in `progress`.
    #[must_use]
    pub fn counting(self, progress: &'s AtomicUsize) -> Self {
        Engine {
            progress: Some(progress),
            ..self
        }
    }

    /// The same engine, staging the rendered files of an environment that has no folder in
    /// out/ yet (a cold build) as each unit renders, instead of holding their bytes until
    /// apply (at N = 10,000 they are 114 MB): at their own paths in a temp folder of `tree`'s
    /// staging folder, which apply renames into place as the environment's folder. Nothing
    /// in out/ is touched; a plan that fails leaves the temp folder to [`emit::abandon`]. Not with
    /// output roots (`gitops { output }`): their files are renamed into other folders,
    /// perhaps on other file systems.
    #[must_use]
    pub fn staging(self, tree: Option<&'s crate::fs::Tree>) -> Self {
        let outputs = self.stack.model.gitops.outputs.is_empty();
        Engine {
            stage: tree.filter(|_| outputs),
            ..self
        }
    }

    /// The source key of a unit: what it was resolved and rendered from, as text.
    fn source_key(&self, env: &str, service: &str) -> Hash32 {
        cache::source_key(&cache::SourceKey {
            stackc: env!("CARGO_PKG_VERSION"),
            global: &self.global_source,
            env,
            service: self.service_sources.get(service),
        })
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
        // `--check` writes nothing, not even a temp file ([`run`] gives it no tree).
        debug_assert!(!(request.check && self.stage.is_some()));
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
                    let cache = EnvCache::load(&cache_dir, &env.name);
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
        let planned = {
            let stat = cache.stat().unwrap_or_default();
            let old = cache.units().unwrap_or_default();
            let old = OldCache {
                stat: &stat,
                units: &old,
                bytes: cache.bytes(),
            };
            self.plan_files(env, &old, dir, secrets, sealing)?
        };
        Ok(EnvPlan {
            old_cache: cache,
            ..planned
        })
    }

    /// The wanted files of one environment, how `dir` differs from them, and the next units
    /// section, judged against the last build's `stat` and `old` sections.
    fn plan_files(
        &self,
        env: &ResolvedEnvironment,
        old_cache: &OldCache<'_>,
        dir: &Path,
        secrets: Vec<(String, Vec<u8>)>,
        sealing: &mut crate::seal::environment::Sealed,
    ) -> Result<EnvPlan, Diagnostics> {
        let (stat, old) = (old_cache.stat, old_cache.units);
        let services = &self.stack.model.services;
        let stat_dir = StatDir::open(dir);
        let memory = OutMemory::new(&stat_dir, stat);
        // Staged only when the environment's folder is not there: then every file is new,
        // and the staged tree becomes the folder.
        let staged = self
            .stage
            .filter(|_| {
                std::fs::symlink_metadata(dir)
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
            })
            .map(|tree| tree.stage_tree(&format!("out/{}", env.name)))
            .transpose()?;
        let stage = staged.as_ref();
        let outcomes: Vec<Result<UnitOutcome<'_>, Diagnostics>> = services
            .par_iter()
            .map(|service| {
                let outcome = self.unit(env, &service.name.value, old, &memory, stage);
                if let Some(progress) = self.progress {
                    progress.fetch_add(1, Ordering::Relaxed);
                }
                outcome
            })
            .collect();
        let mut errors = Diagnostics::new();
        // Each unit's files, sorted within the unit (as its record keeps them).
        let mut unit_files: Vec<Vec<(String, Content)>> = Vec::with_capacity(services.len());
        let mut records: Vec<(Cow<'_, str>, UnitRecord<'_>)> = Vec::with_capacity(services.len());
        let (mut rendered, mut skipped) = (0, 0);
        for (service, outcome) in services.iter().zip(outcomes) {
            let record = match outcome {
                Err(e) => {
                    errors.extend(e);
                    continue;
                }
                Ok(UnitOutcome::Kept(record, stamps)) => {
                    skipped += 1;
                    unit_files.push(
                        record
                            .files
                            .iter()
                            .zip(stamps)
                            .map(|((path, _), stamp)| (path.to_string(), Content::Kept(stamp)))
                            .collect(),
                    );
                    record
                }
                Ok(UnitOutcome::Rendered(record, files)) => {
                    rendered += 1;
                    unit_files.push(files);
                    record
                }
            };
            records.push((Cow::Borrowed(service.name.as_str()), record));
        }
        // Built in one go: a BTreeMap built from a sorted run costs no search per insert. A
        // unit's files share its folder, so with the units ordered by their first file the
        // files are already one sorted run, which the map's sort only walks through (sorting
        // 50,000 paths of units in declaration order was a thirteenth of an edit at N =
        // 10,000). Two units writing one path are refused below, whichever wins here.
        unit_files.sort_by(|a, b| a.first().map(|f| &f.0).cmp(&b.first().map(|f| &f.0)));
        let object_files: BTreeMap<String, Content> = unit_files.into_iter().flatten().collect();
        self.check_clashes(env, &records, &mut errors)?;
        // Services are unique by name; sorted, the section is searched by name.
        records.sort_by(|a, b| a.0.cmp(&b.0));
        if errors.is_empty() {
            let identities = records.iter().flat_map(|(_, r)| r.objects.iter());
            if let Err(e) = crate::render::patch::check_matched(
                self.stack,
                &env.name,
                identities.map(AsRef::as_ref),
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
        let gated = crate::check::gate::gate(
            self.stack,
            &self.renderer,
            env,
            &units,
            old.check_env.as_ref(),
        )?;
        sealing.notes.extend(gated.warnings);
        let policy = crate::policy::EnvPolicy::of(self.stack, &env.name)?;
        let layout = crate::layout::Layout::new(self.stack);
        self.check_layout_clash(env, &layout, &policy, &records)?;
        // No memo of the layout: it reads most of the stack (layers, namespaces, Flux and
        // Argo CD settings, policy, RBAC from the units' objects, output roots), and since
        // the units carry their folders' kustomizations it is cheap to lay out again.
        let mut files = layout.env_files(
            &env.name,
            crate::layout::EnvFiles {
                object_files,
                secrets,
                flux_bootstrapped: crate::layout::Layout::flux_bootstrapped(dir),
                policy,
                unit_objects: records
                    .iter()
                    .map(|(service, r)| {
                        (
                            service.as_ref(),
                            r.objects.iter().map(AsRef::as_ref).collect(),
                        )
                    })
                    .collect(),
            },
        );
        let roots = emit::roots::plan(self.stack, &env.name, layout.split_outputs(&mut files))?;
        let index = emit::index_file(&files);
        let mut changes = emit::compare(&env.name, dir, &files, &index, &memory)?;
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
        let units = cache::encode_units(&records, gated.memo.as_ref(), old_cache.bytes);
        Ok(EnvPlan {
            env: env.name.clone(),
            files,
            changes,
            rendered,
            skipped,
            unit_count: services.len(),
            index,
            units_section: units,
            old_cache: EnvCache::default(),
            roots,
            staged: staged.map(|tree| tree.name().to_string()),
        })
    }

    /// Refuses one object rendered by two units, and one file written by two.
    fn check_clashes(
        &self,
        env: &ResolvedEnvironment,
        records: &Records<'_>,
        errors: &mut Diagnostics,
    ) -> Result<(), Diagnostics> {
        // Hashed, not ordered: only lookups (the diagnostics follow `records`' order, and the
        // clashing units are sorted below), and 15,000 paths per environment make ordered
        // maps' string comparisons a visible part of an edit's build. FxHash: the keys are
        // stackc's own paths, and SipHash's guard against chosen collisions cost a tenth of
        // an edit.
        let capacity = records.iter().map(|(_, r)| r.files.len()).sum();
        let mut owners: FxHashMap<&str, &str> =
            FxHashMap::with_capacity_and_hasher(capacity, FxBuildHasher);
        let capacity = records.iter().map(|(_, r)| r.objects.len()).sum();
        let mut first_renderer: FxHashMap<&str, &str> =
            FxHashMap::with_capacity_and_hasher(capacity, FxBuildHasher);
        // One object rendered by two units: both units, whichever rendered it first.
        let mut clashing: BTreeSet<&str> = BTreeSet::new();
        // `records` is in declaration order: a diagnostic names the first declared first.
        for (service, record) in records {
            let service = service.as_ref();
            for id in &record.objects {
                if let Some(first) = first_renderer.insert(id.as_ref(), service) {
                    clashing.extend([first, service]);
                }
            }
            for (path, _) in &record.files {
                if let Some(first) = owners.insert(path.as_ref(), service) {
                    errors.push(RenderError::DuplicateObject {
                        object: format!("out/{}/{path}", env.name),
                        env: env.name.clone(),
                        first: format!("service {first}"),
                        second: format!("service {service}"),
                    });
                }
            }
        }
        // Render the clashing units again (a kept unit too; a rare error path, so objects
        // are not kept in memory for it) so that the diagnostic can name both sources.
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
        Ok(())
    }

    fn unit<'c>(
        &self,
        env: &ResolvedEnvironment,
        name: &str,
        old: &'c UnitsSection<'c>,
        memory: &OutMemory<'_>,
        stage: Option<&crate::fs::StagedTree<'_>>,
    ) -> Result<UnitOutcome<'c>, Diagnostics> {
        let (stat, dir) = (memory.stat, memory.dir);
        let source = self.source_key(&env.name, name);
        let record = match old.unit(name) {
            Some(r) if r.source == source => match self.intact_stamps(&r, stat, dir) {
                Some(stamps) => return Ok(UnitOutcome::Kept(r, stamps)),
                None => Some(r),
            },
            other => other,
        };
        let (service, ctx) = self.resolve_unit(env, name)?;
        let service = &service;
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
        let key = cache::unit_key(&cache::UnitKey {
            stackc: env!("CARGO_PKG_VERSION"),
            fuel: crate::render::FUEL,
            context: crate::value::Tagged(&ctx),
            templates: self.deps.closure(&entries),
            manifests,
            patches: crate::value::Tagged(&patches),
        });
        if let Some(r) = record.filter(|r| key.is_some() && r.key == key) {
            if let Some(stamps) = self.intact_stamps(&r, stat, dir) {
                return Ok(UnitOutcome::Kept(r.with_source(source), stamps));
            }
        }
        let objects = self.renderer.render_with_context(env, service, &ctx)?;
        let mut files: Vec<(String, Hashed)> = objects
            .iter()
            .map(|o| {
                let yaml = crate::yaml::to_yaml(&o.body).into_bytes();
                (o.path.clone(), Hashed::new(yaml))
            })
            .collect();
        // The unit's folder kustomization is kept with it, so a kept unit needs no re-layout.
        let folders = crate::layout::unit_kustomizations(files.iter().map(|(p, _)| p.as_str()));
        files.extend(folders.into_iter().map(|(p, b)| (p, Hashed::new(b))));
        // Sorted, as the stamps are: the next build finds them there in one walk.
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let memo = crate::check::gate::unit_memo(self.stack, env, service, &objects);
        let record = UnitRecord::rendered(
            source,
            key,
            files
                .iter()
                .map(|(p, b)| (Cow::Owned(p.clone()), *b.hash().as_bytes()))
                .collect(),
            objects
                .iter()
                .map(|o| Cow::Owned(identity_key(o)))
                .collect(),
            memo.rules,
            Cow::Owned(memo.facts),
        );
        if let Some(tree) = stage {
            // A cold environment: nothing is on disk to keep; each file goes to its place
            // in the staged tree, and its stamp is taken as it is written.
            let named: Vec<(&str, &[u8])> = files
                .iter()
                .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
                .collect();
            let written = tree.write_files(&named)?;
            let files = files
                .into_iter()
                .zip(written)
                .map(|((path, bytes), file)| {
                    let stamp = Stamp {
                        size: file.size,
                        mtime_ns: file.mtime_ns,
                        inode: file.inode,
                        hash: *bytes.hash().as_bytes(),
                    };
                    (path, Content::Staged(stamp))
                })
                .collect();
            return Ok(UnitOutcome::Rendered(record, files));
        }
        let files = files
            .into_iter()
            .map(|(path, bytes)| {
                let kept = (!self.in_root(&path))
                    .then(|| memory.kept(&path, bytes.hash()))
                    .flatten();
                // On disk already, as stackc wrote it: nothing to hold or write.
                let content = kept.map_or(Content::Bytes(bytes), Content::Kept);
                (path, content)
            })
            .collect();
        Ok(UnitOutcome::Rendered(record, files))
    }

    /// The first half of every unit, shared by [`Engine::plan`] and [`Engine::objects`]: the
    /// service resolved in `env`, and its template context.
    fn resolve_unit(
        &self,
        env: &ResolvedEnvironment,
        name: &str,
    ) -> Result<(crate::resolve::ResolvedService, crate::value::Value), Diagnostics> {
        let service = crate::resolve::resolve_one(self.stack, &env.name, name)?;
        let ctx = self.renderer.context(env, &service)?;
        Ok((service, ctx))
    }

    /// Every object of `env`'s units, rendered as a build renders them (the same resolving,
    /// context and templates) but kept as objects in memory, with the build's check that no
    /// object is rendered twice. Nothing is read from a cache or written: this is the fresh
    /// side of `diff` and what `check` inspects.
    pub fn objects(&self, env: &ResolvedEnvironment) -> Result<Vec<RenderedObject>, Diagnostics> {
        // Kept in memory by the thousand (both sides of a diff): no spare capacity.
        let (objects, _) = self.objects_with(env, |o| shrink(&mut o.body))?;
        Ok(objects)
    }

    /// [`Engine::objects`], with `each` applied to every object as soon as its unit rendered,
    /// its results in the objects' order: `diff` encodes the bodies there, so that a whole
    /// environment of them never exists as values at once. The checks read no body.
    pub fn objects_with<T: Send>(
        &self,
        env: &ResolvedEnvironment,
        each: impl Fn(&mut RenderedObject) -> T + Sync,
    ) -> Result<(Vec<RenderedObject>, Vec<T>), Diagnostics> {
        type Unit<T> = (Vec<RenderedObject>, Vec<T>);
        let results: Vec<Result<Unit<T>, Diagnostics>> = self
            .stack
            .model
            .services
            .par_iter()
            .map(|service| {
                let (service, ctx) = self.resolve_unit(env, &service.name.value)?;
                let mut found = self.renderer.render_with_context(env, &service, &ctx)?;
                let mapped = found.iter_mut().map(&each).collect();
                Ok((found, mapped))
            })
            .collect();
        let mut errors = Diagnostics::new();
        let mut objects = Vec::new();
        let mut mapped = Vec::new();
        for result in results {
            match result {
                Ok((found, results)) => {
                    objects.extend(found);
                    mapped.extend(results);
                }
                Err(e) => errors.extend(e),
            }
        }
        objects.shrink_to_fit();
        // What a build refuses once every unit rendered, check and diff refuse too: an
        // environment-wide patch that matches nothing, and two sources of one object (a
        // layout-generated one included, such as a policy's default-deny).
        if errors.is_empty() {
            let identities: Vec<String> = objects.iter().map(identity_key).collect();
            if let Err(e) = crate::render::patch::check_matched(
                self.stack,
                &env.name,
                identities.iter().map(String::as_str),
            ) {
                errors.extend(e);
            }
        }
        if errors.is_empty() {
            let policy = crate::policy::EnvPolicy::of(self.stack, &env.name)?;
            let generated = crate::layout::Layout::new(self.stack)
                .generated_objects(&env.name, &policy)
                .into_iter()
                .filter(|o| o.id.kind != "Namespace");
            let mut all: Vec<RenderedObject> = generated.collect();
            let generated_count = all.len();
            all.append(&mut objects);
            let unique = crate::render::check_unique(self.stack, &env.name, &all);
            objects = all.split_off(generated_count);
            if let Err(e) = unique {
                errors.extend(e);
            }
        }
        errors.truncate(MAX_REPORTED);
        errors.into_result((objects, mapped))
    }

    /// The stamps of the files a unit wrote last time, when every one is still on disk
    /// exactly as written, in out/ (where the stamps are), and is still to be there (a file
    /// that now goes to an output root, one declared since, is not in that root yet).
    fn intact_stamps(
        &self,
        record: &UnitRecord<'_>,
        stat: &StatSection<'_>,
        dir: &StatDir,
    ) -> Option<Vec<Stamp>> {
        if record.files.iter().any(|(path, _)| self.in_root(path)) {
            return None;
        }
        stat.intact_stamps(dir, &record.files)
    }

    /// Whether the unit file at `path` (relative to the environment) goes to an output root.
    fn in_root(&self, path: &str) -> bool {
        let layer = path.split_once('/').map_or(path, |(layer, _)| layer);
        self.root_layers.contains(layer)
    }
}

/// The cache's view of `out/<env>/`: a file is known-good when its stat data still matches.
struct OutMemory<'a> {
    dir: &'a StatDir,
    stat: &'a StatSection<'a>,
    /// Whether the index on disk is the one the stamps recorded, checked once: both
    /// [`WrittenBefore::check`] and [`WrittenBefore::index`] ask, and a racy index (an edit
    /// rewrites it just before the cache is saved) is read and hashed to tell.
    index_intact: std::sync::OnceLock<bool>,
}

impl<'a> OutMemory<'a> {
    fn new(dir: &'a StatDir, stat: &'a StatSection<'a>) -> Self {
        OutMemory {
            dir,
            stat,
            index_intact: std::sync::OnceLock::new(),
        }
    }

    /// The stamp of the file at `path` when it is on disk unchanged since stackc wrote
    /// `wanted` there (what [`WrittenBefore::check`] calls [`emit::Written::Wanted`]).
    fn kept(&self, path: &str, wanted: blake3::Hash) -> Option<Stamp> {
        let stamp = self.stat.stamp(path)?;
        (stamp.hash == *wanted.as_bytes() && self.intact(path, stamp)).then_some(*stamp)
    }

    fn intact(&self, path: &str, stamp: &crate::cache::Stamp) -> bool {
        let verify = || stamp.verify_in(self.dir, path, self.stat.saved_at_ns);
        if path == emit::INDEX_FILE {
            *self.index_intact.get_or_init(verify)
        } else {
            verify()
        }
    }
}

impl WrittenBefore for OutMemory<'_> {
    fn check(&self, path: &str, wanted: blake3::Hash) -> Option<emit::Written> {
        let stamp = self.stat.stamp(path)?;
        // Changed since stackc wrote it (by hand, or removed): unknown until read.
        if !self.intact(path, stamp) {
            return None;
        }
        // Unchanged since stackc wrote it: right if it is what we want now, else stale.
        Some(if stamp.hash == *wanted.as_bytes() {
            emit::Written::Wanted
        } else {
            emit::Written::Outdated
        })
    }

    fn index(&self) -> Option<emit::Index<'_>> {
        // The stamps are the index's entries only when the last build said so.
        if !self.stat.stamps_are_index {
            return None;
        }
        let stamp = self.stat.stamp(emit::INDEX_FILE)?;
        self.intact(emit::INDEX_FILE, stamp).then(|| {
            emit::Index::from_sorted(
                self.stat
                    .stamps
                    .iter()
                    .filter(|(path, _)| path != emit::INDEX_FILE)
                    .map(|(path, stamp)| (path.as_ref(), stamp.hash)),
            )
        })
    }
}

/// What a build did.
pub enum Outcome {
    /// `--check`: the plan, not applied.
    Checked(Plan),
    /// The plan and what applying it did; `notes` in a fixed order (the plan's, in
    /// environment order, then the apply's).
    Applied {
        plan: Plan,
        applied: Vec<emit::Applied>,
        notes: Vec<String>,
    },
}

/// A build of `stack`: plan every selected environment, then (unless `--check`) apply the
/// plan. `progress` counts the units planned, for a progress line.
pub fn run(
    stack: &Stack,
    request: &Request<'_>,
    progress: &AtomicUsize,
) -> Result<Outcome, Diagnostics> {
    // The write edge, opened (and cleared of a killed build's temp files) before planning,
    // which may stage files in it; `--check` writes nothing and has none.
    let tree = if request.check {
        None
    } else {
        Some(emit::open_tree(&stack.root)?)
    };
    let planned = Engine::new(stack).and_then(|engine| {
        engine
            .counting(progress)
            .staging(tree.as_ref())
            .plan(request)
    });
    let plan = match planned {
        Ok(plan) => plan,
        Err(e) => {
            if let Some(tree) = tree {
                emit::abandon(tree);
            }
            return Err(e);
        }
    };
    crate::timings::phase("plan");
    let Some(tree) = tree else {
        return Ok(Outcome::Checked(plan));
    };
    let (applied, apply_notes) = emit::apply(&plan, tree)?;
    crate::timings::phase("apply");
    let notes = plan.notes.iter().cloned().chain(apply_notes).collect();
    Ok(Outcome::Applied {
        plan,
        applied,
        notes,
    })
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
/// compare through: every file not kept from the cache and every pruned one, and the folders
/// holding them. Nothing has been written. A kept file is neither read nor written (it was
/// verified by `lstat` relative to the environment's folder, and its inode is the one
/// stackc wrote), so its folders need no look: an edit of one unit checks its own folders
/// and the layout's, not the 10,000 folders of the units it keeps.
fn refuse_links(root: &Path, plan: &EnvPlan) -> Result<(), Diagnostics> {
    let dir = root.join("out").join(&plan.env);
    let touched = plan
        .files
        .iter()
        .filter(|(_, c)| !matches!(c, Content::Kept(_)))
        .map(|(p, _)| p);
    // Hashed: the links found are sorted below, so the order of the candidates is free.
    let mut folders: FxHashSet<&str> = FxHashSet::default();
    for path in touched.chain(&plan.changes.extra) {
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
        .filter(|(_, c)| !matches!(c, Content::Kept(_)))
        .map(|(p, _)| p.as_str())
        .chain(plan.changes.extra.iter().map(String::as_str))
        .chain(std::iter::once(emit::INDEX_FILE));
    // The folders top down: nothing below a missing folder can be a link (in a cold build
    // none of it exists), and below a link nothing more is looked at.
    let absent = emit::Absent::find(&dir, folders.into_iter());
    let files: Vec<&str> = files.filter(|rel| !absent.covers(rel)).collect();
    let mut links: Vec<String> = files
        .into_par_iter()
        .filter(|rel| {
            std::fs::symlink_metadata(dir.join(rel)).is_ok_and(|m| m.file_type().is_symlink())
        })
        .chain(absent.links().par_iter().map(String::as_str))
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

/// Hash of every input that is not a service declaration (see [`cache::GlobalSource`]).
fn global_source(stack: &Stack) -> Hash32 {
    let mut files = Vec::new();
    let mut stack_file = None;
    for file in stack.sources.iter() {
        if &*file.name == "stacks.kdl" {
            stack_file = Some(file);
        } else {
            files.push((&*file.name, &*file.text));
        }
    }
    let mut outside = Vec::new();
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
                outside.push(file.text.get(at..start).unwrap_or(""));
                at = end;
            }
        }
        outside.push(file.text.get(at..).unwrap_or(""));
    }
    cache::global_source(&cache::GlobalSource {
        stackc: env!("CARGO_PKG_VERSION"),
        fuel: crate::render::FUEL,
        files,
        stack_outside_services: outside,
    })
}

/// Drops the spare capacity of every string, list and map in `value`.
fn shrink(value: &mut crate::value::Value) {
    use crate::value::Value;
    match value {
        Value::String(s) => s.shrink_to_fit(),
        Value::List(items) => {
            items.iter_mut().for_each(shrink);
            items.shrink_to_fit();
        }
        Value::Map(map) => {
            map.values_mut().for_each(shrink);
            map.shrink_to_fit();
        }
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
    }
}

/// Every object of the selected environments (all when `only` is empty), through
/// [`Engine::objects`]; for `stackc check`.
pub fn render_objects(
    stack: &Stack,
    resolved: &Resolved,
    only: &[String],
) -> Result<Vec<(String, Vec<RenderedObject>)>, Diagnostics> {
    let engine = Engine::new(stack)?;
    let mut errors = Diagnostics::new();
    let mut out = Vec::new();
    for env in resolved
        .environments
        .iter()
        .filter(|e| only.is_empty() || only.contains(&e.name))
    {
        match engine.objects(env) {
            Ok(objects) => out.push((env.name.clone(), objects)),
            Err(e) => errors.extend(e),
        }
    }
    errors.truncate(MAX_REPORTED);
    errors.into_result(out)
}
