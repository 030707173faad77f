//! YAML out. The bytes of `out/` are our contract: block style, two-space indentation, and
//! quoting chosen so that every YAML 1.1 and 1.2 reader (go-yaml in Flux and sops, kustomize,
//! `PyYAML`) reads back exactly the value we meant.
//!
//! Everything is written straight into one buffer (no string per scalar); a document is
//! emitted into a buffer kept per thread and copied out once, at its size.

use crate::value::{Map, Value};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::Write as _;

thread_local! {
    /// The buffer documents are emitted into, kept across calls so that it stops growing.
    static BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Runs `emit` on the thread's buffer and returns what it wrote.
fn emitted(emit: impl FnOnce(&mut String)) -> String {
    BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut out) => {
            out.clear();
            emit(&mut out);
            out.as_str().to_owned()
        }
        // Only a nested call (none today) finds the buffer taken.
        Err(_) => {
            let mut out = String::new();
            emit(&mut out);
            out
        }
    })
}

/// Emits one document (no `---` marker), ending with a newline.
pub fn to_yaml(value: &Value) -> String {
    emitted(|out| emit_document(out, value))
}

/// Emits several documents separated by `---`.
pub fn to_yaml_documents<'a>(docs: impl IntoIterator<Item = &'a Value>) -> String {
    emitted(|out| {
        for (i, doc) in docs.into_iter().enumerate() {
            if i > 0 {
                out.push_str("---\n");
            }
            emit_document(out, doc);
        }
    })
}

fn emit_document(out: &mut String, value: &Value) {
    match value {
        Value::Map(map) if !map.is_empty() => emit_map(out, map, 0, false),
        Value::List(items) if !items.is_empty() => emit_list(out, items, 0, false),
        scalar => {
            push_scalar(out, scalar);
            out.push('\n');
        }
    }
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
        scalar => {
            let mut out = String::new();
            push_scalar(&mut out, scalar);
            out
        }
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
    const SPACES: &str = "                                                                ";
    let mut width = level * INDENT;
    while width > 0 {
        let step = width.min(SPACES.len());
        out.push_str(&SPACES[..step]);
        width -= step;
    }
}

/// Emits a block map; with `inline`, its first entry continues the current line (after `- `).
fn emit_map(out: &mut String, map: &Map, level: usize, inline: bool) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !inline {
            pad(out, level);
        }
        push_string(out, key);
        out.push(':');
        emit_child(out, value, level);
    }
}

/// Emits a block list; with `inline`, its first item continues the current line.
fn emit_list(out: &mut String, items: &[Value], level: usize, inline: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !inline {
            pad(out, level);
        }
        out.push('-');
        match item {
            Value::Map(map) if !map.is_empty() => {
                // The first entry sits on the dash line; the rest align under it.
                out.push(' ');
                emit_map(out, map, level + 1, true);
            }
            Value::List(inner) if !inner.is_empty() => {
                out.push(' ');
                emit_list(out, inner, level + 1, true);
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
            emit_map(out, map, level + 1, false);
        }
        Value::List(items) if !items.is_empty() => {
            out.push('\n');
            emit_list(out, items, level + 1, false);
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
            for line in body.split('\n') {
                if !line.is_empty() {
                    pad(out, level + 1);
                    out.push_str(line);
                }
                out.push('\n');
            }
            // The kept line breaks past the first, as empty lines.
            for _ in 1..trailing {
                out.push('\n');
            }
        }
        scalar => {
            out.push(' ');
            push_scalar(out, scalar);
            out.push('\n');
        }
    }
}

/// A scalar as it is written inline (an empty collection as `[]` or `{}`).
fn push_scalar(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => push_float(out, *f),
        Value::String(s) => push_string(out, s),
        Value::List(_) => out.push_str("[]"),
        Value::Map(_) => out.push_str("{}"),
    }
}

fn push_string(out: &mut String, s: &str) {
    if needs_quotes(s) {
        push_double_quoted(out, s);
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

/// Formats a float so that it reads back as a float (never as an integer).
pub fn format_float(f: f64) -> String {
    let mut out = String::new();
    push_float(&mut out, f);
    out
}

fn push_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str(".nan");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { ".inf" } else { "-.inf" });
    } else {
        let start = out.len();
        let _ = write!(out, "{f}");
        if !out[start..].contains(['.', 'e', 'E']) {
            out.push_str(".0");
        }
    }
}

/// Whether a string must be quoted so that no YAML 1.1 or 1.2 reader takes it for anything
/// but this string.
pub fn needs_quotes(s: &str) -> bool {
    // Most keys and values are words (`apiVersion`, `app.kubernetes.io/name`, `web-1`): a
    // letter, then letters, digits and `-_./`. None of those can be an indicator, a comment,
    // a number or a date, so only the reserved words need the full test's answer.
    let bytes = s.as_bytes();
    if bytes.first().is_some_and(u8::is_ascii_alphabetic) && bytes.iter().all(|&b| WORD[b as usize])
    {
        return is_reserved_word(s);
    }
    let Some(first) = s.chars().next() else {
        return true;
    };
    if first.is_whitespace() || s.chars().next_back().is_some_and(char::is_whitespace) {
        return true;
    }
    if matches!(
        first,
        '-' | '?'
            | ':'
            | ','
            | '['
            | ']'
            | '{'
            | '}'
            | '#'
            | '&'
            | '*'
            | '!'
            | '|'
            | '>'
            | '\''
            | '"'
            | '%'
            | '@'
            | '`'
    ) {
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

/// The bytes a word may hold after its first letter ([`needs_quotes`]'s fast path).
static WORD: [bool; 256] = {
    let mut table = [false; 256];
    let mut c: u8 = 0;
    loop {
        table[c as usize] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/');
        if c == u8::MAX {
            break table;
        }
        c += 1;
    }
};

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
    // Copies only where `_` or upper case make them differ from the text.
    let plain: Cow<str> = if body.contains('_') {
        Cow::Owned(body.replace('_', ""))
    } else {
        Cow::Borrowed(body)
    };
    let lower: Cow<str> = if plain.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(plain.to_ascii_lowercase())
    } else {
        Cow::Borrowed(&plain)
    };
    if lower.parse::<f64>().is_ok() || matches!(&*lower, ".inf" | ".nan") {
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
    push_double_quoted(&mut out, s);
    out
}

fn push_double_quoted(out: &mut String, s: &str) {
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
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
