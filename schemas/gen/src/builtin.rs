//! The built-in kinds of one Kubernetes version, from k8s-openapi's schemars impls (which
//! k8s-openapi generates from the upstream OpenAPI spec of that version).

use k8s_openapi::api::{
    admissionregistration, apps, autoscaling, batch, coordination, core, discovery, networking,
    node, policy, rbac, scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::Resource;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

/// Adds `T` under its `apiVersion/kind`.
fn add<T: Resource + JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
    kinds: &mut Map<String, Value>,
) {
    generator.subschema_for::<T>();
    kinds.insert(
        format!("{}/{}", T::API_VERSION, T::KIND),
        T::schema_name().into_owned().into(),
    );
}

/// The document of `version` (`1.37`); the build's k8s-openapi feature must match it.
pub fn document(version: &str) -> Value {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut kinds = Map::new();
    macro_rules! kinds {
        ($($t:ty),* $(,)?) => { $( add::<$t>(&mut generator, &mut kinds); )* };
    }
    kinds!(
        core::v1::ConfigMap,
        core::v1::Endpoints,
        core::v1::LimitRange,
        core::v1::Namespace,
        core::v1::PersistentVolume,
        core::v1::PersistentVolumeClaim,
        core::v1::Pod,
        core::v1::PodTemplate,
        core::v1::ReplicationController,
        core::v1::ResourceQuota,
        core::v1::Secret,
        core::v1::Service,
        core::v1::ServiceAccount,
        apps::v1::ControllerRevision,
        apps::v1::DaemonSet,
        apps::v1::Deployment,
        apps::v1::ReplicaSet,
        apps::v1::StatefulSet,
        autoscaling::v1::HorizontalPodAutoscaler,
        autoscaling::v2::HorizontalPodAutoscaler,
        batch::v1::CronJob,
        batch::v1::Job,
        coordination::v1::Lease,
        discovery::v1::EndpointSlice,
        networking::v1::Ingress,
        networking::v1::IngressClass,
        networking::v1::NetworkPolicy,
        node::v1::RuntimeClass,
        policy::v1::PodDisruptionBudget,
        rbac::v1::ClusterRole,
        rbac::v1::ClusterRoleBinding,
        rbac::v1::Role,
        rbac::v1::RoleBinding,
        scheduling::v1::PriorityClass,
        storage::v1::CSIDriver,
        storage::v1::StorageClass,
        storage::v1::VolumeAttachment,
        admissionregistration::v1::MutatingWebhookConfiguration,
        admissionregistration::v1::ValidatingWebhookConfiguration,
        apiextensions::CustomResourceDefinition,
    );
    let mut defs = generator.take_definitions(true);
    // Quantities are strings or plain numbers (`cpu: 0.5`, `memory: 1073741824`).
    defs.insert(
        "io.k8s.apimachinery.pkg.api.resource.Quantity".into(),
        json!({"anyOf": [{"type": "string"}, {"type": "number"}]}),
    );
    for name in kinds
        .values()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect::<Vec<_>>()
    {
        relax_root(&mut defs, &name);
    }
    super::assemble(
        &format!("k8s-openapi 0.29 (Kubernetes {version})"),
        kinds,
        defs,
    )
}

/// k8s-openapi makes `metadata` and `spec` of a resource non-optional for its Rust types;
/// the API does not require them, so neither does the schema.
fn relax_root(defs: &mut Map<String, Value>, name: &str) {
    if let Some(Value::Array(required)) = defs
        .get_mut(name)
        .and_then(|d| d.as_object_mut())
        .and_then(|d| d.get_mut("required"))
    {
        required.retain(|r| r != "metadata" && r != "spec");
    }
    if let Some(def) = defs.get_mut(name).and_then(|d| d.as_object_mut()) {
        if def
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            def.remove("required");
        }
    }
}
