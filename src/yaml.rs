//! YAML in and out. Parsing goes through `yaml-rust2` (maintained, YAML 1.2 core schema);
//! emitting is our own, because the bytes of `out/` are our contract: block style, two-space
//! indentation, and quoting chosen so that every YAML 1.1 and 1.2 reader (go-yaml in Flux and
//! sops, kustomize, `PyYAML`) reads back exactly the value we meant.

use crate::value::{Map, Value};
use std::fmt::Write as _;
use yaml_rust2::{Yaml, YamlLoader};

/// A YAML syntax error with its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub message: String,
    /// Byte offset into the parsed text.
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

/// Parses every document of a (multi-document) YAML text. Empty documents are dropped.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| {
        let marker = e.marker();
        // yaml-rust2 counts characters; map back to a byte offset for spans.
        let offset = text
            .char_indices()
            .nth(marker.index())
            .map_or(text.len(), |(i, _)| i);
        YamlError {
            message: e.info().to_string(),
            offset,
            line: marker.line(),
            column: marker.col() + 1,
        }
    })?;
    let mut out = Vec::with_capacity(docs.len());
    for doc in docs {
        let value = convert(doc).map_err(|message| YamlError {
            message,
            offset: 0,
            line: 1,
            column: 1,
        })?;
        if value != Value::Null {
            out.push(value);
        }
    }
    Ok(out)
}

fn convert(yaml: Yaml) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::Int(i),
        Yaml::Real(text) => Value::Float(parse_real(&text)?),
        Yaml::String(s) => Value::String(s),
        Yaml::Array(items) => {
            Value::List(items.into_iter().map(convert).collect::<Result<_, _>>()?)
        }
        Yaml::Hash(entries) => {
            let mut map = Map::with_capacity(entries.len());
            for (k, v) in entries {
                let key = match k {
                    Yaml::String(s) | Yaml::Real(s) => s,
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Null => "null".to_string(),
                    other => return Err(format!("unsupported mapping key {other:?}")),
                };
                if map.contains_key(&key) {
                    return Err(format!("duplicate mapping key `{key}`"));
                }
                map.insert(key, convert(v)?);
            }
            Value::Map(map)
        }
        Yaml::Alias(_) => return Err("unresolved YAML alias".to_string()),
        Yaml::BadValue => return Err("invalid YAML value".to_string()),
    })
}

fn parse_real(text: &str) -> Result<f64, String> {
    let lower = text.to_ascii_lowercase();
    let trimmed = lower.trim_start_matches('+');
    match trimmed {
        ".inf" => Ok(f64::INFINITY),
        "-.inf" => Ok(f64::NEG_INFINITY),
        ".nan" => Ok(f64::NAN),
        _ => trimmed
            .replace('_', "")
            .parse()
            .map_err(|_| format!("invalid number `{text}`")),
    }
}

/// Emits one document (no `---` marker), ending with a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Map(map) if !map.is_empty() => emit_map(&mut out, map, 0),
        Value::List(items) if !items.is_empty() => emit_list(&mut out, items, 0),
        scalar => {
            out.push_str(&scalar_text(scalar, 0));
            out.push('\n');
        }
    }
    out
}

/// Emits several documents separated by `---`.
pub fn to_yaml_documents<'a>(docs: impl IntoIterator<Item = &'a Value>) -> String {
    let mut out = String::new();
    for (i, doc) in docs.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(doc));
    }
    out
}

/// A one-line flow rendering (`{a: 1, b: [x, y]}`), for messages and diffs.
pub fn to_flow(value: &Value) -> String {
    match value {
        Value::Map(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", quote_flow(k), to_flow(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        Value::List(items) => {
            let inner: Vec<String> = items.iter().map(to_flow).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::String(s) => quote_flow(s),
        scalar => scalar_text(scalar, 0),
    }
}

fn quote_flow(s: &str) -> String {
    if needs_quotes(s) || s.contains(['{', '}', '[', ']', ',']) || s.contains('\n') {
        double_quoted(s)
    } else {
        s.to_string()
    }
}

const INDENT: usize = 2;

fn pad(out: &mut String, level: usize) {
    for _ in 0..level * INDENT {
        out.push(' ');
    }
}

fn emit_map(out: &mut String, map: &Map, level: usize) {
    for (key, value) in map {
        pad(out, level);
        out.push_str(&key_text(key));
        out.push(':');
        emit_child(out, value, level);
    }
}

fn emit_list(out: &mut String, items: &[Value], level: usize) {
    for item in items {
        pad(out, level);
        out.push('-');
        match item {
            Value::Map(map) if !map.is_empty() => {
                // The first entry sits on the dash line; the rest align under it.
                let mut nested = String::new();
                emit_map(&mut nested, map, level + 1);
                out.push(' ');
                out.push_str(&nested[(level + 1) * INDENT..]);
            }
            Value::List(inner) if !inner.is_empty() => {
                let mut nested = String::new();
                emit_list(&mut nested, inner, level + 1);
                out.push(' ');
                out.push_str(&nested[(level + 1) * INDENT..]);
            }
            scalar => emit_child(out, scalar, level),
        }
    }
}

/// Emits what follows `key:` or `-`: an inline scalar, a block scalar, or a nested block.
fn emit_child(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Map(map) if !map.is_empty() => {
            out.push('\n');
            emit_map(out, map, level + 1);
        }
        Value::List(items) if !items.is_empty() => {
            out.push('\n');
            emit_list(out, items, level + 1);
        }
        Value::String(s) if literal_block_ok(s) => {
            out.push_str(" |");
            let body = s.trim_end_matches('\n');
            let trailing = s.len() - body.len();
            match trailing {
                0 => out.push('-'),
                1 => {}
                _ => out.push('+'),
            }
            out.push('\n');
            let mut lines: Vec<&str> = body.split('\n').collect();
            lines.extend(std::iter::repeat_n("", trailing.saturating_sub(1)));
            for line in lines {
                if !line.is_empty() {
                    pad(out, level + 1);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar, level));
            out.push('\n');
        }
    }
}

fn literal_block_ok(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\n', '\t'])
        && !s.chars().any(|c| {
            (c.is_control() && c != '\n' && c != '\t')
                || c == '\u{feff}'
                || c == '\u{85}'
                || c == '\u{2028}'
                || c == '\u{2029}'
        })
        && !s.trim_end_matches('\n').is_empty()
}

fn key_text(key: &str) -> String {
    if needs_quotes(key) {
        double_quoted(key)
    } else {
        key.to_string()
    }
}

fn scalar_text(value: &Value, _level: usize) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float(*f),
        Value::String(s) => {
            if needs_quotes(s) {
                double_quoted(s)
            } else {
                s.clone()
            }
        }
        Value::List(_) => "[]".to_string(),
        Value::Map(_) => "{}".to_string(),
    }
}

/// Formats a float so that it reads back as a float (never as an integer).
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { ".inf" } else { "-.inf" }.to_string()
    } else {
        let text = format!("{f}");
        if text.contains(['.', 'e', 'E']) {
            text
        } else {
            format!("{text}.0")
        }
    }
}

/// Whether a string must be quoted so that no YAML 1.1 or 1.2 reader takes it for anything
/// but this string.
pub fn needs_quotes(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return true;
    };
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return true;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-x`, `:x` and `?x` would be legal plain scalars, but quoting them costs nothing.
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') || s == "<<" || s == "=" {
        return true;
    }
    if s.chars().any(|c| {
        c.is_control() || c == '\u{feff}' || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}'
    }) {
        return true;
    }
    is_reserved_word(s) || looks_numeric(s) || looks_like_date(s)
}

fn is_reserved_word(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "null" | "~" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    )
}

fn looks_numeric(s: &str) -> bool {
    let body = s.trim_start_matches(['+', '-']);
    let Some(first) = body.chars().next() else {
        return false;
    };
    if !(first.is_ascii_digit() || first == '.') {
        return false;
    }
    let plain = body.replace('_', "");
    let lower = plain.to_ascii_lowercase();
    if lower.parse::<f64>().is_ok() || matches!(lower.as_str(), ".inf" | ".nan") {
        return true;
    }
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = lower.strip_prefix(prefix) {
            if !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix)) {
                return true;
            }
        }
    }
    // YAML 1.1 sexagesimal numbers (`1:30`).
    plain.split(':').count() > 1
        && plain
            .split(':')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

fn looks_like_date(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() >= 8
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5].is_ascii_digit()
}

/// A double-quoted YAML scalar with every character that needs it escaped.
pub fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() || matches!(c, '\u{feff}' | '\u{85}' | '\u{2028}' | '\u{2029}') => {
                let code = c as u32;
                if code <= 0xff {
                    let _ = write!(out, "\\x{code:02x}");
                } else {
                    let _ = write!(out, "\\u{code:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::map;

    fn round_trip(value: &Value) {
        let text = to_yaml(value);
        let back = parse_documents(&text).expect("emitted YAML parses");
        assert_eq!(back, vec![value.clone()], "YAML was:\n{text}");
    }

    #[test]
    fn strings_that_look_like_other_types_are_quoted() {
        for s in [
            "true",
            "False",
            "yes",
            "NO",
            "on",
            "null",
            "~",
            "1",
            "-1",
            "1.5",
            "1e3",
            "0x1f",
            "0o17",
            "1_000",
            "12:30",
            "2024-01-02",
            "2024-01-02T03:04:05Z",
            ".inf",
            "",
            " a",
            "a ",
            "#x",
            "- x",
            "a: b",
            "a #b",
            "*x",
            "&x",
            "!x",
            "%x",
            "@x",
            "`x",
            "'x",
            "\"x",
            "{x",
            "[x",
            "|",
            ">",
            "a:",
            "tab\there",
            "nul\0",
            "=",
            "<<",
        ] {
            assert!(needs_quotes(s), "{s:?} should be quoted");
            round_trip(&Value::String(s.to_string()));
        }
    }

    #[test]
    fn ordinary_kubernetes_strings_stay_plain() {
        for s in [
            "100m",
            "20Gi",
            "nginx:1.27",
            "app.kubernetes.io/name",
            "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
            "https://charts.bitnami.com/bitnami",
            "web-1",
        ] {
            assert!(!needs_quotes(s), "{s:?} should stay plain");
            round_trip(&Value::String(s.to_string()));
        }
    }

    #[test]
    fn nested_structures_round_trip() {
        let value = map([
            ("apiVersion", Value::from("apps/v1")),
            (
                "list",
                Value::List(vec![
                    map([("name", Value::from("a")), ("x", Value::Int(1))]),
                    Value::List(vec![Value::from("p"), Value::from("q")]),
                    Value::from("scalar"),
                    Value::Map(Map::new()),
                    Value::List(vec![]),
                ]),
            ),
            ("empty", Value::Map(Map::new())),
            ("f", Value::Float(2.0)),
            ("neg", Value::Float(-0.5)),
            ("t", Value::Bool(true)),
            ("n", Value::Null),
            ("multi", Value::from("line one\nline two\n")),
            ("multi_nonl", Value::from("a\nb")),
            ("multi_many", Value::from("a\n\n\n")),
            ("spaced", Value::from(" lead\nx")),
            ("blank_lines", Value::from("a\n\nb\n")),
        ]);
        round_trip(&value);
    }

    #[test]
    fn emits_readable_block_style() {
        let value = map([(
            "spec",
            map([(
                "containers",
                Value::List(vec![map([
                    ("name", Value::from("web")),
                    ("image", Value::from("nginx")),
                ])]),
            )]),
        )]);
        assert_eq!(
            to_yaml(&value),
            "spec:\n  containers:\n    - name: web\n      image: nginx\n"
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = parse_documents("a: b\n  c: [d\n").unwrap_err();
        assert!(err.line >= 1);
        assert!(!err.message.is_empty());
    }
}
