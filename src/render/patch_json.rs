//! RFC 6902 operations on a [`Value`]: add, remove, replace, move, copy, test, addressed by
//! RFC 6901 pointers already split into tokens (`-` appends to a list).

use crate::model::OpKind;
use crate::value::Value;

/// Why an operation could not be applied; the message names the pointer, never a value of
/// the object (an adopted Secret may hold one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpFailure {
    /// The location (or, for `add`, its parent) does not exist.
    Missing(String),
    /// A token indexes a scalar, or a list with something that is not an index.
    NotAContainer(String),
    /// `test` found a different value.
    TestFailed,
    /// `move` into its own child.
    MoveIntoItself,
}

impl OpFailure {
    /// A sentence for a diagnostic.
    pub fn describe(&self) -> String {
        match self {
            OpFailure::Missing(at) => format!("`{at}` does not exist in the object"),
            OpFailure::NotAContainer(at) => {
                format!("`{at}` cannot be reached: a scalar has no fields, and a list is indexed by a number or `-`")
            }
            OpFailure::TestFailed => "the value there is not the one `test` expects".to_string(),
            OpFailure::MoveIntoItself => {
                "a value cannot be moved into one of its own children".to_string()
            }
        }
    }
}

/// Applies one operation to `doc`.
pub fn apply(
    doc: &mut Value,
    op: OpKind,
    path: &[String],
    from: Option<&[String]>,
    value: Option<&Value>,
) -> Result<(), OpFailure> {
    let value = || value.cloned().unwrap_or(Value::Null);
    match op {
        OpKind::Add => add(doc, path, value()),
        OpKind::Remove => remove(doc, path).map(drop),
        OpKind::Replace => {
            let target = get_mut(doc, path)?;
            *target = value();
            Ok(())
        }
        OpKind::Move => {
            let from = from.unwrap_or_default();
            if path.len() > from.len() && path.starts_with(from) {
                return Err(OpFailure::MoveIntoItself);
            }
            let moved = remove(doc, from)?;
            add(doc, path, moved)
        }
        OpKind::Copy => {
            let copied = get_mut(doc, from.unwrap_or_default())?.clone();
            add(doc, path, copied)
        }
        OpKind::Test => {
            if equal(get_mut(doc, path)?, &value()) {
                Ok(())
            } else {
                Err(OpFailure::TestFailed)
            }
        }
    }
}

/// The pointer text of the first `n` tokens, for messages.
fn shown(path: &[String], n: usize) -> String {
    path.iter().take(n).fold(String::new(), |mut out, t| {
        out.push('/');
        out.push_str(&t.replace('~', "~0").replace('/', "~1"));
        out
    })
}

fn index(list: &[Value], token: &str, path: &[String], depth: usize) -> Result<usize, OpFailure> {
    let valid = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    if !valid {
        return Err(OpFailure::NotAContainer(shown(path, depth + 1)));
    }
    match token.parse::<usize>() {
        Ok(i) if i < list.len() => Ok(i),
        _ => Err(OpFailure::Missing(shown(path, depth + 1))),
    }
}

fn get_mut<'v>(doc: &'v mut Value, path: &[String]) -> Result<&'v mut Value, OpFailure> {
    let mut current = doc;
    for (depth, token) in path.iter().enumerate() {
        current = match current {
            Value::Map(map) => map
                .get_mut(token)
                .ok_or_else(|| OpFailure::Missing(shown(path, depth + 1)))?,
            Value::List(list) => {
                let i = index(list, token, path, depth)?;
                &mut list[i]
            }
            _ => return Err(OpFailure::NotAContainer(shown(path, depth + 1))),
        };
    }
    Ok(current)
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), OpFailure> {
    let Some((last, parent)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    let depth = parent.len();
    match get_mut(doc, parent)? {
        Value::Map(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::List(items) => {
            if last == "-" {
                items.push(value);
                return Ok(());
            }
            // `add` may address one past the end, which appends.
            let at = match index(items, last, path, depth) {
                Ok(i) => i,
                Err(OpFailure::Missing(_)) if last.parse::<usize>().ok() == Some(items.len()) => {
                    items.len()
                }
                Err(e) => return Err(e),
            };
            items.insert(at, value);
            Ok(())
        }
        _ => Err(OpFailure::NotAContainer(shown(path, depth + 1))),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, OpFailure> {
    let Some((last, parent)) = path.split_last() else {
        return Err(OpFailure::Missing(String::new()));
    };
    let depth = parent.len();
    match get_mut(doc, parent)? {
        // shift_remove: the keys that stay keep the order the template wrote.
        Value::Map(map) => map
            .shift_remove(last)
            .ok_or_else(|| OpFailure::Missing(shown(path, depth + 1))),
        Value::List(items) => {
            let i = index(items, last, path, depth)?;
            Ok(items.remove(i))
        }
        _ => Err(OpFailure::NotAContainer(shown(path, depth + 1))),
    }
}

/// JSON equality: numbers compare by value (`1` equals `1.0`), maps regardless of order.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        // JSON compares numbers exactly, by value: `1` equals `1.0`, and nothing else does.
        #[allow(clippy::cast_precision_loss, clippy::float_cmp)]
        (Value::Int(i), Value::Float(f)) | (Value::Float(f), Value::Int(i)) => (*i as f64) == *f,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::map;

    fn p(text: &str) -> Vec<String> {
        crate::model::Pointer::parse(text).expect("pointer")
    }

    fn doc() -> Value {
        map([
            (
                "spec",
                map([
                    ("replicas", Value::Int(1)),
                    (
                        "list",
                        Value::List(vec![Value::from("a"), Value::from("b")]),
                    ),
                    ("a/b", Value::from("slash")),
                ]),
            ),
            ("keep", Value::Bool(true)),
        ])
    }

    #[test]
    fn operations_follow_rfc_6902() {
        type Case = (
            OpKind,
            &'static str,
            Option<&'static str>,
            Option<Value>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                OpKind::Add,
                "/spec/new",
                None,
                Some(Value::Int(2)),
                "spec.new",
            ),
            (
                OpKind::Add,
                "/spec/list/-",
                None,
                Some("c".into()),
                "spec.list",
            ),
            (
                OpKind::Add,
                "/spec/list/0",
                None,
                Some("z".into()),
                "spec.list",
            ),
            (
                OpKind::Add,
                "/spec/list/2",
                None,
                Some("end".into()),
                "spec.list",
            ),
            (OpKind::Remove, "/spec/list/0", None, None, "spec.list"),
            (OpKind::Remove, "/spec/a~1b", None, None, "spec"),
            (
                OpKind::Replace,
                "/spec/replicas",
                None,
                Some(Value::Int(5)),
                "spec.replicas",
            ),
            (
                OpKind::Move,
                "/moved",
                Some("/spec/replicas"),
                None,
                "moved",
            ),
            (
                OpKind::Copy,
                "/spec/copied",
                Some("/keep"),
                None,
                "spec.copied",
            ),
            (
                OpKind::Test,
                "/spec/replicas",
                None,
                Some(Value::Float(1.0)),
                "spec.replicas",
            ),
        ];
        let expected: Vec<&str> = vec![
            "2",
            "[a, b, c]",
            "[z, a, b]",
            "[a, b, end]",
            "[b]",
            "{replicas: 1, list: [a, b]}",
            "5",
            "1",
            "true",
            "1",
        ];
        for ((op, path, from, value, look), want) in cases.into_iter().zip(expected) {
            let mut d = doc();
            let from = from.map(p);
            apply(&mut d, op, &p(path), from.as_deref(), value.as_ref())
                .unwrap_or_else(|e| panic!("{op:?} {path}: {e:?}"));
            let got = d.get_path(look).map(Value::to_display).unwrap_or_default();
            assert_eq!(got, want, "{op:?} {path}");
        }
    }

    #[test]
    fn failures_name_the_missing_location() {
        type Case = (
            OpKind,
            &'static str,
            Option<&'static str>,
            Option<Value>,
            OpFailure,
        );
        let cases: Vec<Case> = vec![
            (
                OpKind::Remove,
                "/spec/nope",
                None,
                None,
                OpFailure::Missing("/spec/nope".into()),
            ),
            (
                OpKind::Replace,
                "/nope/x",
                None,
                Some(Value::Int(1)),
                OpFailure::Missing("/nope".into()),
            ),
            (
                OpKind::Add,
                "/spec/list/7",
                None,
                Some(Value::Int(1)),
                OpFailure::Missing("/spec/list/7".into()),
            ),
            (
                OpKind::Add,
                "/spec/list/01",
                None,
                Some(Value::Int(1)),
                OpFailure::NotAContainer("/spec/list/01".into()),
            ),
            (
                OpKind::Add,
                "/keep/x",
                None,
                Some(Value::Int(1)),
                OpFailure::NotAContainer("/keep/x".into()),
            ),
            (
                OpKind::Test,
                "/spec/replicas",
                None,
                Some(Value::Int(2)),
                OpFailure::TestFailed,
            ),
            (
                OpKind::Move,
                "/spec/x",
                Some("/spec"),
                None,
                OpFailure::MoveIntoItself,
            ),
            (
                OpKind::Copy,
                "/x",
                Some("/absent"),
                None,
                OpFailure::Missing("/absent".into()),
            ),
        ];
        for (op, path, from, value, want) in cases {
            let mut d = doc();
            let before = d.clone();
            let from = from.map(p);
            let got = apply(&mut d, op, &p(path), from.as_deref(), value.as_ref());
            assert_eq!(got, Err(want), "{op:?} {path}");
            assert_eq!(d, before, "a failed {op:?} changes nothing");
        }
    }
}
