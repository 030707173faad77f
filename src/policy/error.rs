//! What can be wrong with a policy once the whole stack is known: a rule naming a service or
//! a port that does not exist, an autoscaler whose bounds cross, a quota the declared
//! requests do not fit in, a notification provider without its secret.

use miette::{Diagnostic, NamedSource, SourceSpan};
use std::sync::Arc;
use thiserror::Error;

type Src = NamedSource<Arc<str>>;

/// A policy that cannot be turned into objects.
#[derive(Debug, Error, Diagnostic)]
pub enum PolicyError {
    #[error("`network-policy` rule of {unit} names unknown service `{name}`")]
    #[diagnostic(code(stackc::policy::unknown_service))]
    UnknownService {
        name: String,
        unit: String,
        #[source_code]
        src: Src,
        #[label("no service of this name")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error(
        "`network-policy` rule of {unit} allows port {port}, which the service does not serve"
    )]
    #[diagnostic(code(stackc::policy::unknown_port))]
    UnknownPort {
        port: i64,
        unit: String,
        #[source_code]
        src: Src,
        #[label("not a port of this service")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("`ingress-controller` of {unit} names unknown service `{name}`")]
    #[diagnostic(code(stackc::policy::unknown_service))]
    UnknownController {
        name: String,
        unit: String,
        #[source_code]
        src: Src,
        #[label("no service of this name")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("`autoscale` of {unit}: min {min} is above max {max}")]
    #[diagnostic(
        code(stackc::policy::autoscale_bounds),
        help("the autoscaler keeps between min and max replicas; lower min or raise max")
    )]
    AutoscaleBounds {
        min: i64,
        max: i64,
        unit: String,
        #[source_code]
        src: Src,
        #[label("min set here")]
        span: SourceSpan,
        #[related]
        other: Vec<OtherSpan>,
    },

    #[error("`autoscale` of {unit} needs `max`")]
    #[diagnostic(
        code(stackc::policy::autoscale_max),
        help(
            "`autoscale min=2 max=5 cpu=70`: min defaults to 1, cpu to 80 (percent of the request)"
        )
    )]
    AutoscaleMax {
        unit: String,
        #[source_code]
        src: Src,
        #[label("no max")]
        span: SourceSpan,
    },

    #[error("`rollout` of {unit} can never progress: max-unavailable and max-surge are both 0")]
    #[diagnostic(
        code(stackc::policy::rollout_stuck),
        help(
            "zero-downtime rollouts keep max-unavailable=0 and surge at least one pod: max-surge=1"
        )
    )]
    RolloutStuck {
        unit: String,
        #[source_code]
        src: Src,
        #[label("max-unavailable 0")]
        span: SourceSpan,
        #[related]
        other: Vec<OtherSpan>,
    },

    #[error("`quota` {resource} {quota} is below the {needed} the services of namespace `{namespace}` request in environment {env}")]
    #[diagnostic(code(stackc::policy::quota_too_small))]
    QuotaTooSmall {
        resource: String,
        quota: String,
        needed: String,
        namespace: String,
        env: String,
        #[source_code]
        src: Src,
        #[label("quota set here")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("`{what}` is not a Kubernetes quantity: `{text}`")]
    #[diagnostic(
        code(stackc::policy::quantity),
        help("CPU as cores or millicores (`2`, `500m`), memory in bytes with a suffix (`512Mi`, `2Gi`, `1G`)")
    )]
    Quantity {
        what: String,
        text: String,
        #[source_code]
        src: Src,
        #[label("not a quantity")]
        span: SourceSpan,
    },

    #[error("`{setting}` is a namespace-wide policy; it cannot be set for service {service}")]
    #[diagnostic(
        code(stackc::policy::namespace_setting),
        help("set it in `defaults`, an `environment` block or environments/<env>.kdl (outside a `service` block)")
    )]
    NamespaceSetting {
        setting: String,
        service: String,
        #[source_code]
        src: Src,
        #[label("set for one service")]
        span: SourceSpan,
    },

    #[error(
        "`notify` in environment {env} has no `secret`: a {provider} provider needs its address"
    )]
    #[diagnostic(code(stackc::policy::notify_secret))]
    NotifyNoSecret {
        env: String,
        provider: String,
        #[source_code]
        src: Src,
        #[label("no secret=")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("`notify` in environment {env} names unknown secret `{name}`")]
    #[diagnostic(code(stackc::policy::notify_secret))]
    NotifyUnknownSecret {
        env: String,
        name: String,
        #[source_code]
        src: Src,
        #[label("no secret of this name")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("secret `{name}` of `notify` in environment {env} {problem}")]
    #[diagnostic(code(stackc::policy::notify_secret))]
    NotifyBadSecret {
        env: String,
        name: String,
        problem: String,
        #[source_code]
        src: Src,
        #[label("declared here")]
        span: SourceSpan,
        #[help]
        help: String,
    },
}

/// The other span of a two-sided policy error (max of a min/max pair, ...).
#[derive(Debug, Error, Diagnostic)]
#[error("{what}")]
#[diagnostic(severity(Advice))]
pub struct OtherSpan {
    pub what: String,
    #[source_code]
    pub src: Src,
    #[label("{what}")]
    pub span: SourceSpan,
}
