//! The emitter as it was before it wrote into one buffer, kept as the reference its
//! replacement is tested against.

use crate::value::{Map, Value};
use std::fmt::Write as _;

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
    emit_map_from(out, map, level, false);
}

/// Emits a block map; with `inline`, its first entry continues the current line (after `- `).
fn emit_map_from(out: &mut String, map: &Map, level: usize, inline: bool) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !inline {
            pad(out, level);
        }
        push_key(out, key);
        out.push(':');
        emit_child(out, value, level);
    }
}

fn emit_list(out: &mut String, items: &[Value], level: usize) {
    emit_list_from(out, items, level, false);
}

/// Emits a block list; with `inline`, its first item continues the current line.
fn emit_list_from(out: &mut String, items: &[Value], level: usize, inline: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !inline {
            pad(out, level);
        }
        out.push('-');
        match item {
            Value::Map(map) if !map.is_empty() => {
                // The first entry sits on the dash line; the rest align under it.
                out.push(' ');
                emit_map_from(out, map, level + 1, true);
            }
            Value::List(inner) if !inner.is_empty() => {
                out.push(' ');
                emit_list_from(out, inner, level + 1, true);
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
        Value::String(s) => {
            out.push(' ');
            push_string(out, s);
            out.push('\n');
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar, level));
            out.push('\n');
        }
    }
}

/// A key, written straight into the output (the common case allocates nothing).
fn push_key(out: &mut String, key: &str) {
    push_string(out, key);
}

fn push_string(out: &mut String, s: &str) {
    if needs_quotes(s) {
        out.push_str(&double_quoted(s));
    } else {
        out.push_str(s);
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
    if first.is_whitespace() || s.chars().next_back().is_some_and(char::is_whitespace) {
        return true;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-x`, `:x` and `?x` would be legal plain scalars, but quoting them costs nothing.
        return true;
    }
    if s.ends_with(':') || s == "<<" || s == "=" {
        return true;
    }
    // One pass over the bytes for `: `, ` #` and control characters; this runs for every key
    // and string emitted, so it avoids substring searches. Non-ASCII text takes the exact
    // character test (C1 controls, BOM, line and paragraph separators).
    let bytes = s.as_bytes();
    let mut ascii = true;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b':' if bytes.get(i + 1) == Some(&b' ') => return true,
            b' ' if bytes.get(i + 1) == Some(&b'#') => return true,
            0..=0x1f | 0x7f => return true,
            0x80.. => ascii = false,
            _ => {}
        }
    }
    if !ascii
        && s.chars().any(|c| {
            c.is_control() || c == '\u{feff}' || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}'
        })
    {
        return true;
    }
    is_reserved_word(s) || looks_numeric(s) || looks_like_date(s)
}

fn is_reserved_word(s: &str) -> bool {
    s.len() <= 5
        && [
            "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n",
        ]
        .iter()
        .any(|word| s.eq_ignore_ascii_case(word))
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
