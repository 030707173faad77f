//! The registry: every rule of `stackc check`, in the order `--list` prints them.

mod depends;
mod images;
mod ingress;
mod names;
mod persistence;
mod placement;
mod policy;
mod resources;
pub(crate) mod secrets;
mod unique;

use super::{Context, EnvCheck, Finding, Severity};

/// One rule: an id (`stackc::check::<id>` in diagnostics), a severity, a one-line
/// description, what its findings depend on, and the check itself, run once per environment.
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub description: &'static str,
    pub scope: Scope,
    pub check: fn(&Context<'_>, &EnvCheck<'_>) -> Vec<Finding>,
}

/// What a rule's findings depend on; `build` runs a rule by its scope (see `check::gate`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scope {
    /// One render unit: its resolved service and its objects. Run on each rendered unit.
    Unit,
    /// Every unit of the environment, through the [`crate::check::facts`] of their objects
    /// only: the rule must read nothing of an object that `facts::of` drops.
    Environment,
    /// The files in out/: `check` only (`build` writes those files itself).
    Out,
}

/// Every rule.
pub const RULES: &[Rule] = &[
    Rule {
        id: "secret-encrypted",
        severity: Severity::Error,
        description: "every Secret in out/ is SOPS-encrypted, with apiVersion, kind and metadata readable",
        scope: Scope::Out,
        check: secrets::encrypted,
    },
    Rule {
        id: "secret-reference",
        severity: Severity::Error,
        description: "every secret an object references is declared in its namespace, with every key referenced",
        scope: Scope::Environment,
        check: secrets::references,
    },
    Rule {
        id: "persistence",
        severity: Severity::Error,
        description: "stateful services (persistence, or a database chart) have persistence with a size",
        scope: Scope::Unit,
        check: persistence::persistence,
    },
    Rule {
        id: "tcp-route",
        severity: Severity::Error,
        description: "every database service has a TCP route",
        scope: Scope::Unit,
        check: persistence::tcp_route,
    },
    Rule {
        id: "ingress-tls",
        severity: Severity::Error,
        description: "every Ingress has TLS for each host, the cert-manager annotation, and a Certificate or issuer for it",
        scope: Scope::Environment,
        check: ingress::tls,
    },
    Rule {
        id: "replicas",
        severity: Severity::Error,
        description: "replicas and pod anti-affinity meet the environment's policy (production: 3 and required, staging: 2 and preferred)",
        scope: Scope::Unit,
        check: policy::replicas,
    },
    Rule {
        id: "no-debug",
        severity: Severity::Error,
        description: "no debug settings in production",
        scope: Scope::Unit,
        check: policy::no_debug,
    },
    Rule {
        id: "resources",
        severity: Severity::Error,
        description: "every container has CPU and memory requests and limits, and requests <= limits",
        scope: Scope::Unit,
        check: resources::resources,
    },
    Rule {
        id: "pinned",
        severity: Severity::Error,
        description: "images and charts are pinned in staging and production (no `latest`, no missing tag, no version range)",
        scope: Scope::Unit,
        check: images::pinned,
    },
    Rule {
        id: "unique-hosts",
        severity: Severity::Error,
        description: "Ingress hosts and TCP routes are unique in an environment",
        scope: Scope::Environment,
        check: unique::hosts,
    },
    Rule {
        id: "schema",
        severity: Severity::Error,
        description: "every object of a built-in or known CRD kind validates against its API schema (policy kubernetes=\"1.NN\")",
        scope: Scope::Unit,
        check: crate::check::schema::schema,
    },
    Rule {
        id: "dns-names",
        severity: Severity::Error,
        description: "Service names are RFC 1035 labels, namespaces DNS-1123 labels, label keys and values valid",
        scope: Scope::Unit,
        check: names::dns_names,
    },
    Rule {
        id: "depends-on",
        severity: Severity::Error,
        description: "every service's depends-on names a real service, and there is no cycle",
        scope: Scope::Environment,
        check: depends::depends_on,
    },
    Rule {
        id: "placement",
        severity: Severity::Error,
        description: "every object of a service sits under its service folder and in its namespace",
        scope: Scope::Unit,
        check: placement::placement,
    },
];

/// What an environment's name says about its policy: production-like, staging-like, other.
pub(crate) fn tier(env: &str) -> Tier {
    match env {
        "production" | "prod" | "prd" => Tier::Production,
        "staging" | "stage" | "stg" | "preprod" => Tier::Staging,
        _ => Tier::Other,
    }
}

/// The policy tiers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Tier {
    Production,
    Staging,
    Other,
}

/// Charts of databases: stateful, reached over TCP.
pub(crate) const DATABASE_CHARTS: &[&str] = &[
    "postgresql",
    "postgresql-ha",
    "postgres",
    "mysql",
    "mariadb",
    "mariadb-galera",
    "redis",
    "redis-cluster",
    "valkey",
    "keydb",
    "mongodb",
    "mongodb-sharded",
    "cassandra",
    "couchdb",
    "clickhouse",
    "influxdb",
    "influxdb2",
    "neo4j",
    "etcd",
    "cockroachdb",
    "scylla",
];
