//! The Namespace objects stackc generates, one per namespace, at its home layer's level.

use crate::value::{map, Value};

/// The Namespace object of one namespace.
pub fn namespace_object(name: &str) -> Value {
    map([
        ("apiVersion", Value::from("v1")),
        ("kind", Value::from("Namespace")),
        (
            "metadata",
            map([
                ("name", Value::from(name)),
                ("labels", map([("app.kubernetes.io/managed-by", "stackc")])),
            ]),
        ),
    ])
}
