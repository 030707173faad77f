//! The minijinja environment every template renders in: templates come only from the
//! in-memory copy of `templates/` (so no template can read another file), undefined variables
//! are errors, and fuel bounds the work a template may do so a runaway loop fails fast.

use crate::model::TemplateFile;
use crate::value::Value;
use minijinja::value::Kwargs;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Instructions one template render may execute before it is stopped.
pub const FUEL: u64 = 5_000_000;

/// Builds the template environment over the stack's templates.
pub fn environment(templates: &BTreeMap<String, TemplateFile>) -> Environment<'static> {
    let mut env = Environment::new();
    let sources: Arc<BTreeMap<String, Arc<str>>> = Arc::new(
        templates
            .iter()
            .map(|(name, file)| (name.clone(), file.text.clone()))
            .collect(),
    );
    env.set_loader(move |name| {
        Ok(match name.strip_prefix(super::interpolate::PREFIX) {
            // A setting string is its own source: compiled the first time a unit renders it.
            Some(text) => Some(text.to_string()),
            None => sources.get(name).map(ToString::to_string),
        })
    });
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_keep_trailing_newline(true);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_fuel(Some(FUEL));
    super::strict::install(&mut env);
    env.add_filter("to_yaml", to_yaml);
    env
}

/// `{{ value | to_yaml(indent=N) }}`: the value as a YAML block, every line after the first
/// indented by N spaces, no trailing newline — to sit on its own line under a key.
#[allow(
    clippy::needless_pass_by_value,
    reason = "minijinja passes filter arguments by value"
)]
fn to_yaml(
    value: minijinja::Value,
    indent: Option<usize>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let indent = match kwargs.get::<Option<usize>>("indent")? {
        Some(n) => Some(n),
        None => indent,
    };
    kwargs.assert_all_used()?;
    let mut check = false;
    let converted = plain(&value, &mut check);
    // The walk for an undefined part (which names its path) runs only when there can be one.
    if check || converted.is_err() {
        super::strict::refuse_undefined("filter", "to_yaml", std::slice::from_ref(&value))?;
    }
    let text = crate::yaml::to_yaml(&converted?);
    let pad = " ".repeat(indent.unwrap_or(0));
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.trim_end_matches('\n').split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
            }
        }
        out.push_str(line);
    }
    Ok(out)
}

/// A template value as our [`Value`], as `Value::from(serde_json::to_value(v))` makes it but
/// without the JSON tree between: strings, booleans, lists and string-keyed maps directly, any
/// other node (numbers, bytes, iterators, other keys) through `serde_json`, which is
/// compositional, so mixing the two builds the same tree. `check` is set where an undefined
/// value may hide (one found, or a node `serde_json` converts), for the caller's strict check.
fn plain(value: &minijinja::Value, check: &mut bool) -> Result<Value, Error> {
    use minijinja::value::{ObjectRepr, ValueKind};
    match value.kind() {
        ValueKind::Undefined => {
            *check = true;
            return Ok(Value::Null);
        }
        ValueKind::None => return Ok(Value::Null),
        ValueKind::Bool => return Ok(Value::Bool(value.is_true())),
        ValueKind::String => {
            if let Some(s) = value.as_str() {
                return Ok(Value::String(s.to_string()));
            }
        }
        ValueKind::Seq | ValueKind::Map => {
            if let Some(object) = value.as_object() {
                match object.repr() {
                    ObjectRepr::Seq => {
                        if let Some(items) = object.try_iter() {
                            return items
                                .map(|item| plain(&item, check))
                                .collect::<Result<Vec<_>, _>>()
                                .map(Value::List);
                        }
                    }
                    ObjectRepr::Map => {
                        if let Some(pairs) = object.try_iter_pairs() {
                            let pairs: Vec<_> = pairs.collect();
                            if pairs.iter().all(|(k, _)| k.as_str().is_some()) {
                                let mut map = crate::value::Map::with_capacity_and_hasher(
                                    pairs.len(),
                                    crate::value::MapHasher,
                                );
                                for (k, v) in &pairs {
                                    let key = k.as_str().unwrap_or_default().to_string();
                                    map.insert(key, plain(v, check)?);
                                }
                                return Ok(Value::Map(map));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    *check = true;
    let json = serde_json::to_value(value).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("cannot convert to YAML: {e}"),
        )
    })?;
    Ok(Value::from(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct conversion builds what the JSON round trip built, for every kind of value a
    /// template can hand to `to_yaml`.
    #[test]
    fn plain_values_are_what_serde_json_made() {
        let env = environment(&BTreeMap::new());
        let cases = [
            "{'a': 1, 'b': 'x', 'c': [1, 2.5, none, true], 'd': {'e': {}}}",
            "[1, -7, 18446744073709551615, 1.0, 'é', [], {}]",
            "{1: 'int key', 'k': 'v'}",
            "range(3)",
            "'text' | safe",
            "{'z': 1, 'a': 2, 'm': {'y': 1, 'b': 2}}",
            "dict(b=1, a=2)",
            "[1, 2] | reverse",
            "namespace(a=1)",
            "x",
            "x.s",
            "x.l",
        ];
        let ctx = minijinja::context! { x => minijinja::context! { s => "t", l => vec![1, 2] } };
        for case in cases {
            let expr = env.compile_expression(case).unwrap();
            let value = expr.eval(&ctx).unwrap();
            let want = serde_json::to_value(&value).map(Value::from).ok();
            let got = plain(&value, &mut false).ok();
            assert_eq!(want, got, "{case}");
        }
        let mut check = false;
        plain(&minijinja::Value::UNDEFINED, &mut check).unwrap();
        assert!(check);
    }
}
