//! The rules as `build` runs them, so that a build refuses to write what `check` would
//! reject. Unit-scope rules run on each unit as it is rendered; the unit's cache record keeps
//! the ids of the rules that found something (before allows: an allow can be removed
//! later) and the [`facts`](super::facts) of its objects. A unit kept from the cache is not
//! rendered: its remembered rule ids say whether it has anything to report now, and only then
//! (an error path) is it rendered again, for findings with fresh spans. Environment-scope
//! rules run over the facts of every unit, unless the environment's [`memo`](super::memo)
//! says their inputs are those of the last clean build; out/-scope rules are `check`'s alone.

use super::{is_allowed, Context, EnvCheck, Finding, Scope, Severity, RULES};
use crate::diagnostics::Diagnostics;
use crate::model::Stack;
use crate::object::RenderedObject;
use crate::render::Renderer;
use crate::resolve::{ResolvedEnvironment, ResolvedService};

/// The variable that switches the gate off (`STACKC_BUILD_RULES=off`): for a stack being
/// migrated that does not pass `check` yet. `check` itself is never switched off.
pub const SWITCH: &str = "STACKC_BUILD_RULES";

/// Whether `build` runs the rules (unless [`SWITCH`] says `off`).
pub fn enabled() -> bool {
    std::env::var(SWITCH).map_or(true, |v| v != "off")
}

/// What a unit's cache record keeps for the rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitMemo {
    /// Ids of the unit-scope rules with findings, before allows.
    pub rules: Vec<String>,
    /// The facts of the unit's objects ([`super::facts::encode`]).
    pub facts: String,
}

/// One unit of an environment as the gate sees it: its service and what its record keeps.
pub struct GateUnit<'a> {
    pub service: &'a str,
    /// [`UnitMemo::rules`].
    pub rules: &'a [String],
    /// [`UnitMemo::facts`].
    pub facts: &'a str,
}

/// Runs the unit-scope rules on one freshly rendered unit.
pub fn unit_memo(
    stack: &Stack,
    env: &ResolvedEnvironment,
    service: &ResolvedService,
    objects: &[RenderedObject],
) -> UnitMemo {
    let findings = unit_findings(stack, env, service, objects);
    let mut rules: Vec<String> = findings.iter().map(|f| f.rule.to_string()).collect();
    rules.dedup();
    UnitMemo {
        rules,
        facts: super::facts::encode(objects),
    }
}

/// The unit-scope findings of one unit (allows not applied). The unit's service and
/// objects are borrowed: a copy of the environment per unit would make a build quadratic.
fn unit_findings(
    stack: &Stack,
    env: &ResolvedEnvironment,
    service: &ResolvedService,
    objects: &[RenderedObject],
) -> Vec<Finding> {
    let ctx = Context {
        stack,
        envs: vec![EnvCheck::with_services(
            env,
            std::slice::from_ref(service),
            objects,
            stack.root.join("out").join(&env.name),
        )],
    };
    super::run_scoped(&ctx, Scope::Unit, false)
}

/// What the gate found acceptable in an environment.
#[derive(Debug, Default)]
pub struct Gated {
    /// The warnings, one line each (`warning[stackc::check::<rule>]: <what> at <file>:<line>`).
    pub warnings: Vec<String>,
    /// The digest of the environment-wide rules' inputs when their outcome was clean, for the
    /// next build ([`gate`]'s `memo`); `None` when there is nothing to remember.
    pub memo: Option<[u8; 32]>,
}

/// The rules over every unit of `env`: `Err` with each error finding (as `check` prints
/// them) when any survives its allows; `Ok` with the warnings otherwise. `memo` is the last
/// build's [`Gated::memo`]: when the environment-wide inputs digest to it, the
/// environment-scope rules and the generated objects' schemas are known clean and not run.
pub fn gate(
    stack: &Stack,
    renderer: &Renderer<'_>,
    env: &ResolvedEnvironment,
    units: &[GateUnit<'_>],
    memo: Option<&[u8; 32]>,
) -> Result<Gated, Diagnostics> {
    if !enabled() {
        return Ok(Gated::default());
    }
    let mut findings = Vec::new();
    // Unit-scope: only a unit whose remembered rules are not all allowed renders again.
    for unit in units {
        let reports = unit.rules.iter().any(|rule| {
            !is_allowed(stack, &env.name, Some(unit.service), rule)
                || RULES
                    .iter()
                    .any(|r| r.id == rule && r.severity == Severity::Warning)
        });
        if reports {
            let service = crate::resolve::resolve_one(stack, &env.name, unit.service)?;
            let objects = renderer.render_service(env, &service)?;
            findings.extend(allowed_out(
                stack,
                unit_findings(stack, env, &service, &objects),
            ));
        }
    }
    // The objects the layout generates (few, validated unless the memo says they are as
    // they were).
    let first = match units.first() {
        Some(unit) if env.services.is_empty() => {
            vec![crate::resolve::resolve_one(stack, &env.name, unit.service)?]
        }
        _ => Vec::new(),
    };
    let services = if env.services.is_empty() {
        &first
    } else {
        &env.services
    };
    let version = super::schema::generated::version(services);
    let generated = super::schema::generated::objects(stack, &env.name);
    let digest = super::memo::digest(stack, env, units, &version, &generated);
    let mut clean = true;
    if digest.is_none() || digest.as_ref() != memo {
        let before = findings.len();
        findings.extend(super::generated_findings_of(
            stack, &env.name, &version, &generated, true,
        ));
        // Environment-scope, over the facts; with findings, again with the services
        // resolved so that they point at the settings that caused them.
        let facts: Vec<RenderedObject> = units
            .iter()
            .flat_map(|u| super::facts::decode(u.facts))
            .collect();
        let mut scoped = environment_findings(stack, env, &[], &facts);
        if !scoped.is_empty() {
            let mut full = Vec::with_capacity(units.len());
            for unit in units {
                full.push(crate::resolve::resolve_one(stack, &env.name, unit.service)?);
            }
            scoped = environment_findings(stack, env, &full, &facts);
        }
        findings.extend(scoped);
        clean = findings.len() == before;
    }
    let (errors, warnings): (Vec<Finding>, Vec<Finding>) = findings
        .into_iter()
        .partition(|f| f.severity == Severity::Error);
    if errors.is_empty() {
        return Ok(Gated {
            warnings: warnings
                .iter()
                .map(|w| {
                    let at = w
                        .location(&stack.sources)
                        .map(|(file, line, _)| format!(" at {file}:{line}"))
                        .unwrap_or_default();
                    format!("warning[stackc::check::{}]: {}{at}", w.rule, w.headline())
                })
                .collect(),
            memo: digest.filter(|_| clean),
        });
    }
    let mut reports = Diagnostics::new();
    for finding in &errors {
        reports.push(finding.report(&stack.sources));
    }
    Err(reports)
}

fn environment_findings(
    stack: &Stack,
    env: &ResolvedEnvironment,
    services: &[ResolvedService],
    facts: &[RenderedObject],
) -> Vec<Finding> {
    let ctx = Context {
        stack,
        envs: vec![EnvCheck::with_services(
            env,
            services,
            facts,
            stack.root.join("out").join(&env.name),
        )],
    };
    super::run_scoped(&ctx, Scope::Environment, true)
}

fn allowed_out(stack: &Stack, findings: Vec<Finding>) -> Vec<Finding> {
    findings
        .into_iter()
        .filter(|f| {
            !is_allowed(
                stack,
                f.env.as_deref().unwrap_or_default(),
                f.service.as_deref(),
                f.rule,
            )
        })
        .collect()
}
