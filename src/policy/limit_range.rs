//! `limit-range cpu= memory= cpu-limit= memory-limit=`: a `LimitRange` in every namespace that
//! gives containers without resources a default request and limit (a quota on limits
//! refuses pods that declare none).

use super::{kube_object, text};
use crate::model::Tracked;
use crate::value::{Map, Value};

/// The `LimitRange` every namespace gets, if the environment sets one.
pub fn object(settings: &Tracked) -> Option<Value> {
    super::get(settings, "limit_range")?;
    let pick = |keys: [(&str, &str); 2]| {
        let mut out = Map::default();
        for (key, path) in keys {
            if let Some((v, _)) = text(settings, path) {
                out.insert(key.into(), Value::from(v));
            }
        }
        out
    };
    let request = pick([("cpu", "limit_range.cpu"), ("memory", "limit_range.memory")]);
    let limit = pick([
        ("cpu", "limit_range.cpu_limit"),
        ("memory", "limit_range.memory_limit"),
    ]);
    let mut item = Map::default();
    item.insert("type".into(), Value::from("Container"));
    if !request.is_empty() {
        item.insert("defaultRequest".into(), Value::Map(request));
    }
    if !limit.is_empty() {
        item.insert("default".into(), Value::Map(limit));
    }
    let spec = crate::value::map([("limits", Value::List(vec![Value::Map(item)]))]);
    Some(kube_object("v1", "LimitRange", "defaults", "", spec).1)
}
