//! `stackc check`: the rules a stack must satisfy, each a small named unit with an id
//! (`stackc::check::ingress-tls`), a severity and a one-line description, run over the
//! resolved stack and its rendered objects. A finding points at the KDL span that caused it
//! and names the rendered object it concerns; `allow "rule-id" reason="..."` on a service or
//! an environment switches a rule off there, with the reason written down.
//!
//! - [`rules`]: the registry, one file per rule.
//! - [`context`]: what the rules read.
//! - [`finding`]: what a rule returns, and its rendering for people, JSON and GitHub.
//! - [`schema`]: the `schema` rule and the API schemas compiled into stackc.

mod allow;
pub mod context;
pub mod finding;
pub mod rules;
pub mod schema;

pub use allow::{check_allows, is_allowed};
pub use context::{Context, EnvCheck};
pub use finding::{Finding, Severity};
pub use rules::{Rule, RULES};

/// Every finding of every rule in every environment of `ctx`, with allowed ones removed,
/// sorted (environment order, then rule, then location) for deterministic output.
pub fn run(ctx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for env in &ctx.envs {
        for rule in RULES {
            for mut finding in (rule.check)(ctx, env) {
                finding.rule = rule.id;
                finding.severity = rule.severity;
                finding.env = Some(env.env.name.clone());
                if !is_allowed(
                    ctx.stack,
                    &env.env.name,
                    finding.service.as_deref(),
                    rule.id,
                ) {
                    out.push(finding);
                }
            }
        }
    }
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
