//! The path rules of `out/<env>/`, in one place: where an object, a Namespace and a sealed
//! Secret are written, which folder is a service's own, and the reverse (the service of a
//! path), so nothing else builds or parses an out/ path.

use crate::object::ObjectId;

/// The name of the file listing what stackc wrote, so it prunes only its own files.
pub const INDEX_FILE: &str = ".stackc-files";

/// The file name of a kustomization in every folder.
pub const KUSTOMIZATION: &str = "kustomization.yaml";

/// The folder of Flux's objects (the path `flux bootstrap` is pointed at).
pub const FLUX_DIR: &str = "flux-system";

/// The folder of Argo CD's objects.
pub const ARGOCD_DIR: &str = "argocd";

/// The namespace-level folder of a cluster-scoped service's objects (not a DNS label, so no
/// namespace can take it).
pub const CLUSTER_DIR: &str = "_cluster";

/// Where an object is written, relative to `out/<env>/`: in its service's folder, or at the
/// namespace level for an object of no service. A service of no namespace (cluster-scoped)
/// has its folder under `<layer>/_cluster/`.
pub fn object_path(layer: &str, namespace: &str, service: Option<&str>, id: &ObjectId) -> String {
    let file = object_file(id);
    match service {
        Some(service) => format!("{}/{file}", service_dir(layer, namespace, service)),
        None => format!("{layer}/{}/{file}", namespace_dir(namespace)),
    }
}

/// The file name of an object: `<kind>-<name>.yaml`.
pub fn object_file(id: &ObjectId) -> String {
    format!("{}-{}.yaml", id.kind.to_ascii_lowercase(), id.name)
}

/// A service's own folder: every file in it is the service's, so its kustomization is a
/// function of that service alone.
pub fn service_dir(layer: &str, namespace: &str, service: &str) -> String {
    format!("{layer}/{}/{service}", namespace_dir(namespace))
}

/// The folder of a namespace in a layer; `_cluster` for none.
fn namespace_dir(namespace: &str) -> &str {
    if namespace.is_empty() {
        CLUSTER_DIR
    } else {
        namespace
    }
}

/// Where a namespace's Namespace object lives.
pub fn namespace_path(layer: &str, namespace: &str) -> String {
    format!("{layer}/{namespace}/namespace.yaml")
}

/// Where a sealed Secret lives.
pub fn secret_path(layer: &str, namespace: &str, name: &str) -> String {
    format!("{layer}/{namespace}/secret-{name}.yaml")
}

/// Whether a path is a kustomization file (stackc's own, never an object of a side).
pub fn is_kustomization(path: &str) -> bool {
    file_name(path) == KUSTOMIZATION
}

/// The last segment of a path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The service of an out/ file: `<layer>/<namespace>/<service>/<file>`.
pub fn service_of(path: &str) -> Option<&str> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [layer, _namespace, service, _file] if *layer != FLUX_DIR && *layer != ARGOCD_DIR => {
            Some(service)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_come_from_the_layout_depth() {
        let cases = [
            ("apps/web/web/deployment-web.yaml", Some("web")),
            ("apps/web/namespace.yaml", None),
            ("apps/web/secret-db.yaml", None),
            ("flux-system/kustomization-apps.yaml", None),
            ("argocd/x/y/application-apps.yaml", None),
            ("a/b/c/d/e.yaml", None),
        ];
        for (path, expected) in cases {
            assert_eq!(service_of(path), expected, "{path}");
        }
    }

    #[test]
    fn object_paths_round_trip_to_their_service() {
        let id = ObjectId {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: "web".into(),
            name: "whoami".into(),
        };
        let path = object_path("apps", "web", Some("whoami"), &id);
        assert_eq!(path, "apps/web/whoami/deployment-whoami.yaml");
        assert_eq!(service_of(&path), Some("whoami"));
        assert_eq!(
            object_path("apps", "web", None, &id),
            "apps/web/deployment-whoami.yaml"
        );
        let cluster = object_path("infra", "", Some("issuers"), &id);
        assert_eq!(cluster, "infra/_cluster/issuers/deployment-whoami.yaml");
        assert_eq!(service_of(&cluster), Some("issuers"));
    }
}
