//! The emitter against the one it replaced ([`super::reference`]): the same bytes for every
//! value, random or read from the repository's YAML.

use super::reference;
use crate::value::Value;
use crate::yaml::testgen::{random_value, Rng, STRINGS};
use crate::yaml::{double_quoted, format_float, needs_quotes, to_flow, to_yaml, to_yaml_documents};

fn same_bytes(value: &Value) {
    assert_eq!(to_yaml(value), reference::to_yaml(value), "{value:?}");
    assert_eq!(to_flow(value), reference::to_flow(value), "{value:?}");
}

#[test]
fn random_values_are_emitted_as_before() {
    let mut rng = Rng(0x0e31_7e55);
    let mut docs = Vec::new();
    for _ in 0..5000 {
        let value = random_value(&mut rng, 0);
        same_bytes(&value);
        docs.push(value);
    }
    assert_eq!(
        to_yaml_documents(&docs[..50]),
        reference::to_yaml_documents(&docs[..50])
    );
}

/// Every string of up to four bytes over letters (reserved-word ones among them), digits,
/// the word bytes `-_./` and bytes that end a word (`:`, space, `#`, `+`, `~`, a control and a
/// non-ASCII letter): the word fast path and the full test decide alike on both sides of
/// its edge.
#[test]
fn short_strings_are_quoted_as_before() {
    let alphabet = [
        "y", "N", "o", "f", "e", "0", "9", "-", "_", ".", "/", ":", " ", "#", "+", "~", "\t",
        "\u{e9}",
    ];
    let mut strings = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..4 {
        last = last
            .iter()
            .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
            .collect();
        strings.extend(last.iter().cloned());
    }
    assert_eq!(
        strings.len(),
        1 + 18 + 18 * 18 + 18 * 18 * 18 + 18 * 18 * 18 * 18
    );
    for s in &strings {
        assert_eq!(needs_quotes(s), reference::needs_quotes(s), "{s:?}");
    }
    // Both answers occur on the fast path's side of the edge.
    assert!(needs_quotes("off") && needs_quotes("y") && !needs_quotes("of") && !needs_quotes("y0"));
}

#[test]
fn scalars_are_quoted_and_formatted_as_before() {
    let mut strings: Vec<String> = STRINGS.iter().map(ToString::to_string).collect();
    strings.extend(
        [
            "++.inf",
            "+.Inf",
            "..:.",
            "1:30",
            "1_0:3_0",
            "0B101",
            "0XFF",
            "1E3",
            "Infinity",
            "NaN",
            "+-1",
            "\u{85}",
            "\u{feff}x",
            "x\u{2029}",
            "\u{9f}",
            "a\u{7f}",
            ".5",
            "1.",
            // Words, which take the fast path: reserved or not.
            "Y",
            "NULL",
            "oFf",
            "yes/",
            "e1",
            "x.",
            "web-1",
            "app.kubernetes.io/name",
            "a_b",
            "ON.",
        ]
        .map(ToString::to_string),
    );
    for s in &strings {
        assert_eq!(needs_quotes(s), reference::needs_quotes(s), "{s:?}");
        assert_eq!(double_quoted(s), reference::double_quoted(s), "{s:?}");
        same_bytes(&Value::String(s.clone()));
        same_bytes(&crate::value::map([("k", Value::String(s.clone()))]));
        same_bytes(&Value::List(vec![Value::String(s.clone())]));
    }
    for f in [
        0.0,
        -0.0,
        1.0,
        -2.5,
        1e21,
        1e-7,
        123_456_789.0,
        f64::MAX,
        f64::MIN_POSITIVE,
    ] {
        assert_eq!(format_float(f), reference::format_float(f), "{f}");
    }
    for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(format_float(f), reference::format_float(f), "{f}");
    }
}

#[test]
fn the_repository_yaml_is_emitted_as_before() {
    fn walk(dir: &std::path::Path, count: &mut usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for path in entries.filter_map(Result::ok).map(|e| e.path()) {
            if path.is_dir() {
                walk(&path, count);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for doc in crate::yaml::parse_documents(&text).unwrap_or_default() {
                    same_bytes(&doc);
                    *count += 1;
                }
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for dir in ["out", "manifests", "tests"] {
        walk(&root.join(dir), &mut count);
    }
    assert!(count > 50, "only {count} documents");
}
