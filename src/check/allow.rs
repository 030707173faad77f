//! `allow "rule-id" reason="why"`: on a service (every environment), on an environment (every
//! service), or in `environments/<env>.kdl`. An allow without a reason, or for a rule that
//! does not exist, is itself an error: a switched-off check must say why.

use super::rules::RULES;
use crate::diagnostics::{did_you_mean, Diagnostics};
use crate::model::{Allow, Environment, Stack};
use miette::Diagnostic;
use thiserror::Error;

/// A malformed allow.
#[derive(Debug, Error, Diagnostic)]
pub enum AllowError {
    #[error("unknown rule `{rule}` in `allow`")]
    #[diagnostic(code(stackc::check::unknown_rule))]
    UnknownRule {
        rule: String,
        #[source_code]
        src: miette::NamedSource<std::sync::Arc<str>>,
        #[label("not a rule of `stackc check --list`")]
        span: miette::SourceSpan,
        #[help]
        help: String,
    },
    #[error("`allow \"{rule}\"` gives no reason")]
    #[diagnostic(
        code(stackc::check::allow_without_reason),
        help("say why the rule does not apply here: `allow \"{rule}\" reason=\"internal only\"`")
    )]
    NoReason {
        rule: String,
        #[source_code]
        src: miette::NamedSource<std::sync::Arc<str>>,
        #[label("add reason=\"...\"")]
        span: miette::SourceSpan,
    },
}

fn every_allow(stack: &Stack) -> impl Iterator<Item = &Allow> {
    let model = &stack.model;
    model
        .services
        .iter()
        .flat_map(|s| &s.allows)
        .chain(model.environments.iter().flat_map(environment_allows))
}

/// An environment's allows: its declaration's and its overlay file's. What [`is_allowed`]
/// reads, and so what the gate's memo digests (`super::memo`).
pub(super) fn environment_allows(env: &Environment) -> impl Iterator<Item = &Allow> {
    env.allows
        .iter()
        .chain(env.overlay.iter().flat_map(|o| &o.allows))
}

/// Every allow names a rule and gives a reason.
pub fn check_allows(stack: &Stack) -> Result<(), Diagnostics> {
    let mut errors = Diagnostics::new();
    for allow in every_allow(stack) {
        let located = stack.sources.locate(allow.span);
        let rule = allow.rule.value.clone();
        if !RULES.iter().any(|r| r.id == rule) {
            errors.push(AllowError::UnknownRule {
                help: did_you_mean(&rule, RULES.iter().map(|r| r.id)).unwrap_or_else(|| {
                    format!(
                        "the rules: {}",
                        RULES.iter().map(|r| r.id).collect::<Vec<_>>().join(", ")
                    )
                }),
                rule,
                src: located.source,
                span: stack.sources.locate(allow.rule.span).span,
            });
        } else if allow
            .reason
            .as_ref()
            .is_none_or(|r| r.value.trim().is_empty())
        {
            errors.push(AllowError::NoReason {
                rule,
                src: located.source,
                span: located.span,
            });
        }
    }
    errors.into_result(())
}

/// Whether `rule` is allowed for `service` (or for every service) in `env`.
pub fn is_allowed(stack: &Stack, env: &str, service: Option<&str>, rule: &str) -> bool {
    let model = &stack.model;
    let by_service = service
        .and_then(|s| model.service(s))
        .is_some_and(|s| s.allows.iter().any(|a| a.rule.value == rule));
    let by_env = model
        .environment(env)
        .is_some_and(|e| environment_allows(e).any(|a| a.rule.value == rule));
    by_service || by_env
}
