//! The substitutions that let one logical object pair up across environments
//! (`auth.staging.example.org` and `auth.example.org` both become `auth.<domain>`).

use crate::object::ObjectId;
use crate::value::Value;
use std::borrow::Cow;

/// Applies one side's `(from, to)` substitutions, in order, to strings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Normalizer<'a> {
    substitutions: &'a [(String, String)],
}

impl<'a> Normalizer<'a> {
    pub(crate) fn new(substitutions: &'a [(String, String)]) -> Normalizer<'a> {
        Normalizer { substitutions }
    }

    /// The string with every substitution applied; borrowed when nothing matched.
    pub(crate) fn str<'s>(&self, text: &'s str) -> Cow<'s, str> {
        let mut out = Cow::Borrowed(text);
        for (from, to) in self.substitutions {
            // An empty pattern would match between every character.
            if !from.is_empty() && out.contains(from.as_str()) {
                out = Cow::Owned(out.replace(from.as_str(), to));
            }
        }
        out
    }

    pub(crate) fn id(&self, id: &ObjectId) -> ObjectId {
        ObjectId {
            api_version: self.str(&id.api_version).into_owned(),
            kind: self.str(&id.kind).into_owned(),
            namespace: self.str(&id.namespace).into_owned(),
            name: self.str(&id.name).into_owned(),
        }
    }

    /// The value with every string, map keys included, normalized.
    pub(crate) fn value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.str(s).into_owned()),
            Value::List(items) => Value::List(items.iter().map(|v| self.value(v)).collect()),
            Value::Map(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (self.str(k).into_owned(), self.value(v)))
                    .collect(),
            ),
            scalar => scalar.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
            .collect()
    }

    #[test]
    fn substitutions_apply_in_order() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (&[], "auth.example.org", "auth.example.org"),
            (
                &[("staging.example.org", "<domain>")],
                "auth.staging.example.org",
                "auth.<domain>",
            ),
            (
                &[("example.org", "<domain>")],
                "a.example.org,b.example.org",
                "a.<domain>,b.<domain>",
            ),
            (&[("", "x")], "abc", "abc"),
            (
                &[("-stg", ""), ("staging.example.org", "<domain>")],
                "web-stg",
                "web",
            ),
            (&[("a", "b"), ("b", "c")], "a", "c"),
        ];
        for (pairs, input, expected) in cases {
            let pairs = subs(pairs);
            assert_eq!(Normalizer::new(&pairs).str(input), *expected, "{input}");
        }
    }

    #[test]
    fn values_normalize_keys_and_strings() {
        let pairs = subs(&[("stg.io", "<d>")]);
        let value = crate::value::map([(
            "a.stg.io/x",
            Value::List(vec![Value::from("h.stg.io"), Value::Int(1)]),
        )]);
        let expected = crate::value::map([(
            "a.<d>/x",
            Value::List(vec![Value::from("h.<d>"), Value::Int(1)]),
        )]);
        assert_eq!(Normalizer::new(&pairs).value(&value), expected);
    }
}
