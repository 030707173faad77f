//! `stackc check`: the rules a stack must satisfy, each a small named unit with an id
//! (`stackc::check::ingress-tls`), a severity and a one-line description, run over the
//! resolved stack and its rendered objects. A finding points at the KDL span that caused it
//! and names the rendered object it concerns; `allow "rule-id" reason="..."` on a service or
//! an environment switches a rule off there, with the reason written down.
//!
//! - [`rules`]: the registry, one file per rule.
//! - [`context`]: what the rules read.
//! - [`finding`]: what a rule returns, and its rendering for people, JSON and GitHub.
//! - [`facts`] and [`gate`]: the rules as `build` runs them, cache hits included, and
//!   [`memo`]: what lets a build skip the environment-wide rules when their inputs are as
//!   they were at the last clean build.
//! - [`schema`]: the `schema` rule and the API schemas compiled into stackc.

mod allow;
pub mod context;
pub mod facts;
pub mod finding;
pub mod gate;
mod memo;
pub mod rules;
pub mod schema;

pub use allow::{check_allows, is_allowed};
pub use context::{Context, EnvCheck};
pub use finding::{Finding, Severity};
pub use rules::{Rule, Scope, RULES};

use crate::model;

/// Every finding of every rule in every environment of `ctx`, with allowed ones removed,
/// sorted (environment order, then rule, then location) for deterministic output. The
/// environment-scope rules see the [`facts`] of the objects, as in `build`.
pub fn run(ctx: &Context<'_>) -> Vec<Finding> {
    let mut out = run_scoped(ctx, Scope::Unit, true);
    for env in &ctx.envs {
        let version = schema::generated::version(env.services());
        out.extend(generated_findings(ctx.stack, &env.env.name, &version, true));
    }
    out.extend(run_scoped(ctx, Scope::Out, true));
    let facts = Context {
        stack: ctx.stack,
        envs: ctx
            .envs
            .iter()
            .map(|e| {
                let facts: Vec<_> = e.objects.iter().filter_map(facts::of).collect();
                EnvCheck::with_services(e.env, e.services, facts, e.out_dir.clone())
            })
            .collect(),
    };
    out.extend(run_scoped(&facts, Scope::Environment, true));
    let order = |f: &Finding| {
        (
            ctx.envs
                .iter()
                .position(|e| Some(&e.env.name) == f.env.as_ref()),
            f.rule,
            f.service.clone(),
            f.object.clone(),
            f.message.clone(),
        )
    };
    out.sort_by_key(order);
    out.dedup();
    out
}

/// How many objects the layout generates in the environments of `ctx` were validated
/// against a schema (`summary.generated_objects` of `check --format json`).
pub fn generated_validated(ctx: &Context<'_>) -> usize {
    ctx.envs
        .iter()
        .map(|e| {
            let version = schema::generated::version(e.services());
            schema::generated::validated(ctx.stack, &e.env.name, &version)
        })
        .sum()
}

/// The `schema` findings of the objects the layout generates for `env` (Namespaces, Flux
/// Kustomizations, Argo CD Applications), stamped as the runner stamps a rule's, with
/// allowed ones removed when `allows` (only an environment's `allow "schema"` can: no
/// service owns them).
pub(crate) fn generated_findings(
    stack: &model::Stack,
    env: &str,
    version: &str,
    allows: bool,
) -> Vec<Finding> {
    let generated = schema::generated::objects(stack, env);
    generated_findings_of(stack, env, version, &generated, allows)
}

/// [`generated_findings`] of the generated objects the caller has already laid out.
pub(crate) fn generated_findings_of(
    stack: &model::Stack,
    env: &str,
    version: &str,
    generated: &[crate::object::RenderedObject],
    allows: bool,
) -> Vec<Finding> {
    let Some(rule) = RULES.iter().find(|r| r.id == "schema") else {
        return Vec::new();
    };
    if allows && is_allowed(stack, env, None, rule.id) {
        return Vec::new();
    }
    schema::generated::findings_of(stack, env, version, generated)
        .into_iter()
        .map(|mut finding| {
            finding.rule = rule.id;
            finding.severity = rule.severity;
            finding.env = Some(env.to_string());
            finding
        })
        .collect()
}

/// The findings of the rules of one scope, with allowed ones removed when `allows`.
pub(crate) fn run_scoped(ctx: &Context<'_>, scope: Scope, allows: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for env in &ctx.envs {
        for rule in RULES.iter().filter(|r| r.scope == scope) {
            for mut finding in (rule.check)(ctx, env) {
                finding.rule = rule.id;
                finding.severity = rule.severity;
                finding.env = Some(env.env.name.clone());
                if !allows
                    || !is_allowed(
                        ctx.stack,
                        &env.env.name,
                        finding.service.as_deref(),
                        rule.id,
                    )
                {
                    out.push(finding);
                }
            }
        }
    }
    out
}
