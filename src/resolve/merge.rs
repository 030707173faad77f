//! The one deep-merge rule of stackc: maps merge key by key, lists and scalars replace, `null`
//! unsets. A map meeting a scalar or list is a type clash that names both spans.

use crate::model::TrackedMap;
use crate::model::{Tracked, TrackedValue};
use crate::source::Span;

/// Two layers disagree on the shape of a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Clash {
    pub path: String,
    pub lower: (Span, &'static str),
    pub upper: (Span, &'static str),
}

/// Merges `upper` over `base` in place.
pub fn merge(base: &mut Tracked, upper: &Tracked, path: &str) -> Result<(), Clash> {
    merge_at(base, upper, &At::Root(path))
}

/// Merges a layer's entries over `base` in place: what [`merge`] does with the layer as a map
/// set at `span`, without first copying the layer into one.
pub fn merge_entries(base: &mut Tracked, entries: &TrackedMap, span: Span) -> Result<(), Clash> {
    let TrackedValue::Map(lower) = &mut base.value else {
        return merge(base, &Tracked::map(entries.clone(), span), "");
    };
    merge_map(lower, entries, &At::Root(""))?;
    base.span = span;
    Ok(())
}

/// Where a merge is, as a chain of keys: the dotted path is written only for a clash (every
/// key of every layer would otherwise allocate one).
enum At<'a> {
    Root(&'a str),
    Key(&'a At<'a>, &'a str),
}

impl At<'_> {
    fn path(&self) -> String {
        match self {
            At::Root(path) => (*path).to_string(),
            At::Key(parent, key) => join(&parent.path(), key),
        }
    }
}

fn merge_at(base: &mut Tracked, upper: &Tracked, at: &At<'_>) -> Result<(), Clash> {
    match (&mut base.value, &upper.value) {
        (TrackedValue::Map(lower), TrackedValue::Map(higher)) => {
            merge_map(lower, higher, at)?;
            base.span = upper.span;
            Ok(())
        }
        (_, TrackedValue::Scalar(crate::value::Value::Null))
        | (TrackedValue::Scalar(crate::value::Value::Null), _)
        | (TrackedValue::Scalar(_), TrackedValue::Scalar(_))
        | (TrackedValue::List(_), TrackedValue::List(_)) => {
            upper.clone_into(base);
            Ok(())
        }
        _ => Err(Clash {
            path: at.path(),
            lower: (base.span, base.type_name()),
            upper: (upper.span, upper.type_name()),
        }),
    }
}

fn merge_map(lower: &mut TrackedMap, higher: &TrackedMap, at: &At<'_>) -> Result<(), Clash> {
    for (key, value) in higher {
        match lower.get_mut(key) {
            Some(existing) => merge_at(existing, value, &At::Key(at, key))?,
            None => {
                lower.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(())
}

/// `a.b` joined with `c`, quoting keys that contain dots.
pub fn join(path: &str, key: &str) -> String {
    let key = if key.contains('.') {
        format!("\"{key}\"")
    } else {
        key.to_string()
    };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;
    use crate::value::{map, Value};

    fn span(n: usize) -> Span {
        Span {
            file: FileId(0),
            offset: n,
            len: 1,
        }
    }

    /// Builds a tracked tree whose every node carries `at`.
    fn tracked(value: &Value, at: usize) -> Tracked {
        let value = match value {
            Value::Map(m) => TrackedValue::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), tracked(v, at)))
                    .collect::<TrackedMap>(),
            ),
            Value::List(items) => {
                TrackedValue::List(items.iter().map(|v| tracked(v, at)).collect())
            }
            scalar => TrackedValue::Scalar(scalar.clone()),
        };
        Tracked {
            value,
            span: span(at),
        }
    }

    #[test]
    fn merge_rules() {
        let cases: Vec<(Value, Value, Value)> = vec![
            // maps merge deeply
            (
                map([("a", map([("x", 1), ("y", 2)]))]),
                map([("a", map([("y", 3), ("z", 4)]))]),
                map([("a", map([("x", 1), ("y", 3), ("z", 4)]))]),
            ),
            // lists replace
            (
                map([("l", Value::List(vec![1.into(), 2.into()]))]),
                map([("l", Value::List(vec![3.into()]))]),
                map([("l", Value::List(vec![3.into()]))]),
            ),
            // scalars replace, across scalar types
            (
                map([("s", Value::from("a"))]),
                map([("s", Value::Int(1))]),
                map([("s", Value::Int(1))]),
            ),
            // null unsets, and anything replaces null
            (
                map([("m", map([("x", 1)]))]),
                map([("m", Value::Null)]),
                map([("m", Value::Null)]),
            ),
            (
                map([("m", Value::Null)]),
                map([("m", map([("x", 1)]))]),
                map([("m", map([("x", 1)]))]),
            ),
            // new keys are added in order
            (map([("a", 1)]), map([("b", 2)]), map([("a", 1), ("b", 2)])),
        ];
        for (lower, upper, expected) in cases {
            let mut base = tracked(&lower, 1);
            merge(&mut base, &tracked(&upper, 2), "").expect("no clash");
            assert_eq!(base.to_value(), expected);
        }
    }

    #[test]
    fn merged_leaves_keep_the_span_of_the_layer_that_set_them() {
        let mut base = tracked(&map([("a", map([("x", 1), ("y", 2)]))]), 1);
        merge(&mut base, &tracked(&map([("a", map([("y", 3)]))]), 2), "").unwrap();
        let TrackedValue::Map(top) = &base.value else {
            panic!()
        };
        let TrackedValue::Map(a) = &top["a"].value else {
            panic!()
        };
        assert_eq!(a["x"].span, span(1));
        assert_eq!(a["y"].span, span(2));
    }

    #[test]
    fn shape_clash_names_both_spans() {
        for (lower, upper) in [
            (map([("a", map([("x", 1)]))]), map([("a", 1)])),
            (map([("a", 1)]), map([("a", map([("x", 1)]))])),
            (
                map([("a", Value::List(vec![]))]),
                map([("a", map([("x", 1)]))]),
            ),
            (map([("a", Value::List(vec![]))]), map([("a", 1)])),
        ] {
            let mut base = tracked(&lower, 1);
            let clash = merge(&mut base, &tracked(&upper, 2), "").unwrap_err();
            assert_eq!(clash.path, "a");
            assert_eq!(clash.lower.0, span(1));
            assert_eq!(clash.upper.0, span(2));
        }
    }

    /// A layer merged from its entries is the layer merged as a map: same tree, same spans,
    /// same clash.
    #[test]
    fn merging_entries_is_merging_the_layer_as_a_map() {
        let layers = [
            map([
                ("a", map([("x", 1), ("y", 2)])),
                ("l", Value::List(vec![1.into()])),
            ]),
            map([("a", map([("y", 3), ("z", 4)])), ("b", Value::Null)]),
            map([("b", map([("q", 1)])), ("l", Value::List(vec![]))]),
            map([("a", map([("z", Value::Null)])), ("c", Value::from("s"))]),
        ];
        let mut by_map = tracked(&Value::Map(crate::value::Map::default()), 0);
        let mut by_entries = by_map.clone();
        for (i, layer) in layers.iter().enumerate() {
            let upper = tracked(layer, i + 1);
            let TrackedValue::Map(entries) = &upper.value else {
                panic!()
            };
            merge(&mut by_map, &upper, "").unwrap();
            merge_entries(&mut by_entries, entries, upper.span).unwrap();
            assert_eq!(by_map, by_entries);
        }
        let bad = tracked(&map([("a", map([("x", map([("deep", 1)]))]))]), 9);
        let TrackedValue::Map(entries) = &bad.value else {
            panic!()
        };
        assert_eq!(
            merge(&mut by_map.clone(), &bad, "").unwrap_err(),
            merge_entries(&mut by_entries, entries, bad.span).unwrap_err()
        );
    }

    /// The path of a clash names every key down to it, quoting dotted keys.
    #[test]
    fn a_deep_clash_names_its_whole_path() {
        let mut base = tracked(&map([("a", map([("b.c", map([("d", 1)]))]))]), 1);
        let upper = tracked(
            &map([("a", map([("b.c", map([("d", map([("e", 1)]))]))]))]),
            2,
        );
        assert_eq!(
            merge(&mut base, &upper, "").unwrap_err().path,
            "a.\"b.c\".d"
        );
        let mut base = tracked(&map([("d", 1)]), 1);
        let upper = tracked(&map([("d", map([("e", 1)]))]), 2);
        assert_eq!(merge(&mut base, &upper, "top").unwrap_err().path, "top.d");
    }
}
