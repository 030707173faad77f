//! Which kinds are cluster-scoped: a static list of Kubernetes' own (and of the best-known
//! CRDs' kinds), plus the kinds a service declares with `cluster-kinds`. A cluster-scoped
//! object takes no namespace, and a service without a namespace renders only such objects;
//! its folder says so (`<layer>/_cluster/<service>/`).

use crate::object::ObjectId;
use miette::{Diagnostic, NamedSource, SourceSpan};
use std::sync::Arc;
use thiserror::Error;

/// The kinds known to be cluster-scoped, sorted.
pub const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterIssuer",
    "ClusterRole",
    "ClusterRoleBinding",
    "ClusterSecretStore",
    "CustomResourceDefinition",
    "FlowSchema",
    "GatewayClass",
    "IPAddress",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "ServiceCIDR",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

/// Whether objects of `kind` are cluster-scoped, given a service's own `cluster-kinds`.
pub fn is_cluster_scoped(kind: &str, extra: &[String]) -> bool {
    CLUSTER_SCOPED.binary_search(&kind).is_ok() || extra.iter().any(|k| k == kind)
}

/// An object placed against its scope.
#[derive(Debug, Error, Diagnostic)]
pub enum ScopeError {
    #[error("{kind} `{name}` is cluster-scoped but is given the namespace `{namespace}` (in {origin}, unit {unit})")]
    #[diagnostic(
        code(stackc::layout::cluster_scoped_namespace),
        help("remove `metadata.namespace`: a cluster-scoped object belongs to no namespace")
    )]
    NamespaceOnClusterObject {
        kind: String,
        name: String,
        namespace: String,
        origin: String,
        unit: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("a namespace on a cluster-scoped object")]
        span: SourceSpan,
    },

    #[error("{kind} `{name}` is not known to be cluster-scoped, and service `{service}` has no namespace (in {origin}, unit {unit})")]
    #[diagnostic(
        code(stackc::layout::namespaced_in_cluster_service),
        help("give the service a `namespace`, or, for a custom cluster-scoped kind, add `cluster-kinds \"{kind}\"` to the service")
    )]
    NamespacedInClusterService {
        kind: String,
        name: String,
        service: String,
        origin: String,
        unit: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("this object needs a namespace")]
        span: SourceSpan,
    },
}

/// What [`check_scope`] needs to know about the object and where it was written.
pub struct ScopeCheck<'a> {
    pub id: &'a ObjectId,
    /// The service's namespace; empty for a cluster-scoped service.
    pub service_namespace: &'a str,
    pub service: &'a str,
    pub cluster_kinds: &'a [String],
    pub origin: &'a str,
    pub unit: &'a str,
    /// The document's text and its offset in `src`, to point at `namespace:`.
    pub document: (&'a str, usize),
}

/// Refuses a cluster-scoped object with a namespace, and a namespaced object of a service
/// that has none.
pub fn check_scope(
    check: &ScopeCheck<'_>,
    src: impl Fn() -> NamedSource<Arc<str>>,
) -> Result<(), Box<ScopeError>> {
    let id = check.id;
    let cluster = is_cluster_scoped(&id.kind, check.cluster_kinds);
    let (text, base) = check.document;
    let find = |needle: &str, fallback: usize| -> SourceSpan {
        text.find(needle)
            .map_or((base, fallback.min(text.len())), |at| {
                (base + at, needle.len())
            })
            .into()
    };
    if cluster && !id.namespace.is_empty() {
        return Err(Box::new(ScopeError::NamespaceOnClusterObject {
            kind: id.kind.clone(),
            name: id.name.clone(),
            namespace: id.namespace.clone(),
            origin: check.origin.to_string(),
            unit: check.unit.to_string(),
            src: src(),
            span: find(&format!("namespace: {}", id.namespace), text.len()),
        }));
    }
    if !cluster && check.service_namespace.is_empty() {
        return Err(Box::new(ScopeError::NamespacedInClusterService {
            kind: id.kind.clone(),
            name: id.name.clone(),
            service: check.service.to_string(),
            origin: check.origin.to_string(),
            unit: check.unit.to_string(),
            src: src(),
            span: find(&format!("kind: {}", id.kind), text.len()),
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_for_binary_search() {
        let mut sorted = CLUSTER_SCOPED.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, CLUSTER_SCOPED);
        assert!(is_cluster_scoped("ClusterIssuer", &[]));
        assert!(!is_cluster_scoped("Deployment", &[]));
        assert!(is_cluster_scoped("Tenant", &["Tenant".to_string()]));
    }
}
