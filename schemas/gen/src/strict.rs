//! What turns an API schema into a strict validator: an object with fixed properties takes
//! no others (the API server drops them, so a misspelt field is lost silently), unless the
//! API says `x-kubernetes-preserve-unknown-fields`; int-or-string accepts both its forms;
//! descriptions are dropped (they are most of the size, and no finding shows them).

use serde_json::{json, Value};

/// Tightens `schema` in place, recursively.
pub fn tighten(schema: &mut Value) {
    let Value::Object(map) = schema else { return };
    map.remove("description");
    map.remove("default");
    if map.remove("x-kubernetes-int-or-string") == Some(Value::Bool(true)) {
        map.remove("type");
        map.remove("format");
        map.insert(
            "anyOf".into(),
            json!([{"type": "string"}, {"type": "integer"}]),
        );
        return;
    }
    let preserve = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if map.contains_key("properties") && !map.contains_key("additionalProperties") && !preserve {
        map.insert("additionalProperties".into(), Value::Bool(false));
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = map.get_mut(key) {
            tighten(child);
        }
    }
    for key in ["properties", "patternProperties"] {
        if let Some(Value::Object(children)) = map.get_mut(key) {
            children.values_mut().for_each(tighten);
        }
    }
    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(children)) = map.get_mut(key) {
            children.iter_mut().for_each(tighten);
        }
    }
}
