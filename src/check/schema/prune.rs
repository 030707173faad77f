//! A kind's schema cut down to what one object reaches. Compiling a kind's whole schema
//! costs milliseconds (a Deployment's reaches most of the API: probes, volumes, affinity),
//! which an edit that re-renders one service paid for each kind it checked. Validating an
//! object only ever looks at the parts of the schema its own fields lead to, so the schema
//! of those parts, compiled, gives the same errors, in the same order, for that object.
//!
//! The cut keeps every keyword that applies to a value the object has and drops the rest:
//! `properties` keep the fields the object sets, an `additionalProperties` or `items` schema
//! no value reaches becomes `true` (it checks nothing then either), and each `$ref` is
//! replaced by its (cut) target. `required`, `type`, `enum`, `format` and the `additional
//! Properties: false` that reports unknown fields stay as they are: with the same
//! `properties` for every field the object has, a field is unknown exactly when it was.
//! Anything else (a keyword the compiled-in schemas do not use) gives up, and the caller
//! compiles the whole schema.

use serde_json::{Map, Value};

/// How many schema nodes a cut may produce before it gives up (an object far larger than
/// any real manifest is checked with the whole schema instead).
const MAX_NODES: usize = 20_000;

/// How many `$ref`s may follow each other without the object going one level deeper: the
/// compiled-in schemas never chain more than a few, so more is a loop.
const MAX_REF_CHAIN: usize = 16;

/// The schema of definition `root` (looked up by `def`) cut down to what `instance` reaches,
/// or `None` when the cut gives up.
pub(super) fn prune<'d>(
    def: &dyn Fn(&str) -> Option<&'d Value>,
    root: &str,
    instance: &Value,
) -> Option<Value> {
    let mut cut = Cut { def, nodes: 0 };
    let mut pruned = cut.schema(def(root)?, &[instance], 0)?;
    if let Value::Object(map) = &mut pruned {
        map.insert(
            "$schema".into(),
            "https://json-schema.org/draft/2020-12/schema".into(),
        );
    }
    Some(pruned)
}

struct Cut<'f, 'd> {
    def: &'f dyn Fn(&str) -> Option<&'d Value>,
    nodes: usize,
}

impl Cut<'_, '_> {
    /// `schema` cut to what `instances` (every value it applies to) reach. `chain`: the
    /// `$ref`s followed since the last step into the instances.
    fn schema(&mut self, schema: &Value, instances: &[&Value], chain: usize) -> Option<Value> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return None;
        }
        let map = match schema {
            Value::Bool(_) => return Some(schema.clone()),
            Value::Object(map) => map,
            _ => return None,
        };
        if let Some(reference) = map.get("$ref") {
            // The schemas use `$ref` alone (siblings would apply too: give up on those).
            let name = reference.as_str()?.strip_prefix("#/$defs/")?;
            if map.len() != 1 || chain >= MAX_REF_CHAIN {
                return None;
            }
            let target = (self.def)(name)?;
            return self.schema(target, instances, chain + 1);
        }
        let objects: Vec<&Map<String, Value>> =
            instances.iter().filter_map(|i| i.as_object()).collect();
        let mut out = Map::new();
        for (keyword, value) in map {
            let kept = match keyword.as_str() {
                "type" | "format" | "required" | "enum" => value.clone(),
                "properties" => {
                    let mut properties = Map::new();
                    for (name, sub) in value.as_object()? {
                        let reached: Vec<&Value> =
                            objects.iter().filter_map(|o| o.get(name)).collect();
                        if !reached.is_empty() {
                            properties.insert(name.clone(), self.schema(sub, &reached, 0)?);
                        }
                    }
                    Value::Object(properties)
                }
                "additionalProperties" if value.is_boolean() => value.clone(),
                "additionalProperties" => {
                    let declared = map.get("properties").and_then(Value::as_object);
                    let reached: Vec<&Value> = objects
                        .iter()
                        .flat_map(|o| o.iter())
                        .filter(|(name, _)| !declared.is_some_and(|d| d.contains_key(*name)))
                        .map(|(_, v)| v)
                        .collect();
                    self.reached(value, &reached)?
                }
                "items" => {
                    let reached: Vec<&Value> = instances
                        .iter()
                        .filter_map(|i| i.as_array())
                        .flatten()
                        .collect();
                    self.reached(value, &reached)?
                }
                "anyOf" | "oneOf" | "allOf" => Value::Array(
                    value
                        .as_array()?
                        .iter()
                        .map(|branch| self.schema(branch, instances, chain))
                        .collect::<Option<_>>()?,
                ),
                _ => return None,
            };
            out.insert(keyword.clone(), kept);
        }
        Some(Value::Object(out))
    }

    /// A subschema applied to `reached`: cut to them, or `true` when nothing reaches it.
    fn reached(&mut self, schema: &Value, reached: &[&Value]) -> Option<Value> {
        if reached.is_empty() {
            Some(Value::Bool(true))
        } else {
            self.schema(schema, reached, 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The test definitions, parsed once.
    fn defs(name: &str) -> Option<&'static Value> {
        static DEFS: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        DEFS.get_or_init(|| {
            ["Pod", "Spec", "Container", "Loop", "Odd"]
                .iter()
                .filter_map(|n| Some((n.to_string(), definition(n)?)))
                .collect()
        })
        .get(name)
    }

    fn definition(name: &str) -> Option<Value> {
        match name {
            "Pod" => Some(json!({
                "type": "object",
                "required": ["spec"],
                "additionalProperties": false,
                "properties": {
                    "kind": {"type": "string"},
                    "spec": {"$ref": "#/$defs/Spec"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            })),
            "Spec" => Some(json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "containers": {"type": "array", "items": {"$ref": "#/$defs/Container"}},
                    "volumes": {"type": "array", "items": {"$ref": "#/$defs/Container"}},
                    "port": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                },
            })),
            "Container" => Some(json!({
                "type": "object",
                "required": ["name"],
                "additionalProperties": false,
                "properties": {"name": {"type": "string"}, "image": {"type": "string"}},
            })),
            "Loop" => Some(json!({"$ref": "#/$defs/Loop"})),
            "Odd" => Some(json!({"not": {"type": "string"}})),
            _ => None,
        }
    }

    /// Each error as the findings read it: where, and what.
    fn errors(schema: &Value, instance: &Value) -> Vec<(String, String)> {
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(false)
            .build(schema)
            .expect("compiles");
        validator
            .iter_errors(instance)
            .map(|e| (e.instance_path().to_string(), e.to_string()))
            .collect()
    }

    fn whole(root: &str) -> Value {
        let names = ["Pod", "Spec", "Container"];
        let all: Map<String, Value> = names
            .iter()
            .filter_map(|n| Some((n.to_string(), definition(n)?)))
            .collect();
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("#/$defs/{root}"),
            "$defs": all,
        })
    }

    #[test]
    fn the_cut_schema_reports_what_the_whole_one_does() {
        let instances = [
            json!({"kind": "Pod", "spec": {"containers": [{"name": "a", "image": "x"}]}}),
            json!({"spec": {"containers": [{"name": "a"}, {"image": 1}], "port": "http"}}),
            json!({"kind": 1, "spec": {"containres": [], "port": 8080.5}, "labels": {"a": 1}}),
            json!({"labels": {"a": "b"}, "extra": true}),
            json!({"spec": {"volumes": [{"name": "v", "size": 3}]}}),
            json!("not an object"),
            json!({"spec": []}),
        ];
        for instance in &instances {
            let cut = prune(&defs, "Pod", instance).expect("the cut succeeds");
            assert_eq!(
                errors(&cut, instance),
                errors(&whole("Pod"), instance),
                "{instance}"
            );
        }
    }

    #[test]
    fn only_what_the_object_reaches_is_kept() {
        let cut = prune(
            &defs,
            "Pod",
            &json!({"spec": {"containers": [{"name": "a"}]}}),
        )
        .expect("the cut succeeds");
        let spec = &cut["properties"]["spec"];
        assert!(cut["properties"].get("labels").is_none());
        assert!(spec["properties"].get("volumes").is_none());
        let container = &spec["properties"]["containers"]["items"];
        assert_eq!(container["required"], json!(["name"]));
        assert!(container["properties"].get("image").is_none());
        assert_eq!(container["additionalProperties"], json!(false));
        // An array with no items reaches no item schema.
        let empty = prune(&defs, "Pod", &json!({"spec": {"containers": []}})).unwrap();
        assert_eq!(
            empty["properties"]["spec"]["properties"]["containers"]["items"],
            json!(true)
        );
    }

    #[test]
    fn loops_unknown_keywords_and_missing_definitions_give_up() {
        assert!(prune(&defs, "Loop", &json!({})).is_none());
        assert!(prune(&defs, "Odd", &json!(1)).is_none());
        assert!(prune(&defs, "Nothing", &json!({})).is_none());
    }

    #[test]
    fn the_cut_is_bounded_by_the_size_of_the_object() {
        fn full(depth: usize) -> Value {
            if depth == 0 {
                return json!({});
            }
            let child = full(depth - 1);
            json!({"a": child.clone(), "b": child.clone(), "c": child})
        }
        // Every path through a tree with three fields a level has its own cut schema.
        let t = json!({
            "type": "object",
            "properties": {
                "a": {"$ref": "#/$defs/T"},
                "b": {"$ref": "#/$defs/T"},
                "c": {"$ref": "#/$defs/T"},
            },
        });
        let tree = |name: &str| (name == "T").then_some(&t);
        // 364 nodes, then 88,573.
        assert!(prune(&tree, "T", &full(5)).is_some());
        assert!(prune(&tree, "T", &full(10)).is_none());
        // A list of any length is one cut: its items are cut together.
        let long: Vec<Value> = (0..MAX_NODES * 2).map(|_| json!({"name": "a"})).collect();
        let pod = json!({"spec": {"containers": long}});
        assert!(prune(&defs, "Pod", &pod).is_some());
    }
}
