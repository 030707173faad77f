//! A fast loader for the YAML that templates render: block maps and lists, one-line plain and
//! quoted scalars, literal block scalars, empty flow collections, comments and `---`
//! separators. It reads that subset into exactly the values the full loader (`yaml-rust2`'s
//! parser and our `Loader`) reads, with the same scalar resolution, and gives up (`None`) on
//! anything else (anchors, tags, folded or multi-line scalars, odd indentation, tabs, any
//! error), so that the full loader reads the whole text again and every error stays its own.

use super::{core_kind, resolve_core, scalar, scalar_key, Core};
use crate::value::{Map, Value};

/// Larger texts go to the full loader. Below this size no text can reach the full loader's
/// budgets (a value costs at least one byte of text, and at most 4 bytes of scalar text more
/// than its own), so the fast path need not count them.
const MAX_BYTES: usize = 256 << 10;
/// Deeper nesting goes to the full loader (which refuses it past `MAX_DEPTH`).
const MAX_NESTING: usize = 64;
/// Longer keys go to the full loader: `yaml-rust2` stops looking for a key's `:` after 1024
/// characters.
const MAX_KEY_BYTES: usize = 1000;

/// Every document of `text`, or `None` when the text is not in the subset this loader reads.
pub(super) fn parse(text: &str) -> Option<Vec<Value>> {
    if text.len() > MAX_BYTES || !plain_characters(text) {
        return None;
    }
    let mut lines: Vec<&str> = text.split('\n').collect();
    let last_newline = text.ends_with('\n');
    if last_newline {
        lines.pop();
    }
    Parser {
        lines,
        entries: Vec::new(),
        items: Vec::new(),
        pos: 0,
        last_newline,
        depth: 0,
    }
    .documents()
}

/// Whether the text has only characters whose handling this loader shares with `yaml-rust2`:
/// no tabs, carriage returns, control characters, byte order marks or Unicode line breaks.
fn plain_characters(text: &str) -> bool {
    let mut ascii = true;
    for b in text.bytes() {
        match b {
            b'\n' | 0x20..=0x7e => {}
            0x80.. => ascii = false,
            _ => return false,
        }
    }
    ascii
        || !text.chars().any(|c| {
            (c.is_control() && c != '\n') || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}')
        })
}

/// The next line that is not blank or a comment.
enum Next<'a> {
    End,
    /// A `---` line.
    Separator,
    Line {
        indent: usize,
        /// The line after its indentation.
        body: &'a str,
    },
}

/// How a block scalar's final line breaks are kept.
#[derive(Clone, Copy, PartialEq)]
enum Chomp {
    Strip,
    Clip,
    Keep,
}

struct Parser<'a> {
    lines: Vec<&'a str>,
    /// The entries of the maps being read, innermost last: a map is built once, at its size,
    /// instead of growing entry by entry.
    entries: Vec<(String, Value)>,
    /// The items of the lists being read, likewise.
    items: Vec<Value>,
    /// The first line not yet read.
    pos: usize,
    /// Whether the text's last line ends with a line break.
    last_newline: bool,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn documents(&mut self) -> Option<Vec<Value>> {
        let mut docs = Vec::new();
        loop {
            match self.peek()? {
                Next::End => return Some(docs),
                Next::Separator => self.pos += 1,
                Next::Line { indent, body } => {
                    docs.push(self.block(indent, body)?);
                    // A document ends at a separator or the end of the text.
                    if let Next::Line { .. } = self.peek()? {
                        return None;
                    }
                }
            }
        }
    }

    /// Skips blank and comment lines; `None` for a document marker this loader does not read
    /// (`...`, or `---` with something after it).
    fn peek(&mut self) -> Option<Next<'a>> {
        while let Some(&line) = self.lines.get(self.pos) {
            let body = line.trim_start_matches(' ');
            if body.is_empty() || body.starts_with('#') {
                self.pos += 1;
                continue;
            }
            let indent = line.len() - body.len();
            if indent == 0 && (line.starts_with("---") || line.starts_with("...")) {
                let after = &line[3..];
                if after.is_empty() || after.starts_with(' ') {
                    let bare = after.trim_start_matches(' ').is_empty();
                    return (bare && line.starts_with('-')).then_some(Next::Separator);
                }
            }
            return Some(Next::Line { indent, body });
        }
        Some(Next::End)
    }

    /// The block collection whose first line (not yet read) sits at `indent`.
    fn block(&mut self, indent: usize, body: &str) -> Option<Value> {
        if is_dash(body) {
            self.inner(|p| p.list(indent, None))
        } else {
            self.inner(|p| p.map(indent, None))
        }
    }

    /// A block map at `indent`; `first` is its first entry when it continues a list item's
    /// line (`- key: value`).
    fn map(&mut self, indent: usize, mut first: Option<(String, &'a str)>) -> Option<Value> {
        let start = self.entries.len();
        loop {
            let (key, rest) = match first.take() {
                Some(entry) => entry,
                None => match self.peek()? {
                    Next::Line { indent: at, body } if at == indent && !is_dash(body) => {
                        self.pos += 1;
                        split_key(body)?
                    }
                    Next::Line { indent: at, .. } if at > indent => return None,
                    _ => break,
                },
            };
            let value = self.value(indent, rest, true)?;
            self.entries.push((key, value));
        }
        let mut map =
            Map::with_capacity_and_hasher(self.entries.len() - start, crate::value::MapHasher);
        for (key, value) in self.entries.drain(start..) {
            // A duplicate is an error, which is the full loader's to report.
            if map.insert(key, value).is_some() {
                return None;
            }
        }
        Some(Value::Map(map))
    }

    /// A block list at `indent` (the column of its dashes); `first` is its first item when it
    /// continues a list item's line (`- - x`).
    fn list(&mut self, indent: usize, mut first: Option<&'a str>) -> Option<Value> {
        let start = self.items.len();
        loop {
            let body = match first.take() {
                Some(body) => body,
                None => match self.peek()? {
                    Next::Line { indent: at, body } if at == indent && is_dash(body) => {
                        self.pos += 1;
                        body
                    }
                    Next::Line { indent: at, .. } if at > indent => return None,
                    _ => break,
                },
            };
            let after = &body[1..];
            let rest = after.trim_start_matches(' ');
            // `- key: value` and `- - x`: a collection whose entries align with this first one.
            let column = indent + 1 + (after.len() - rest.len());
            let item = if is_dash(rest) {
                self.inner(|p| p.list(column, Some(rest)))?
            } else if let Some(entry) = (!rest.is_empty() && !rest.starts_with('#'))
                .then(|| split_key(rest))
                .flatten()
            {
                self.inner(|p| p.map(column, Some(entry)))?
            } else {
                self.value(indent, after, false)?
            };
            self.items.push(item);
        }
        Some(Value::List(self.items.drain(start..).collect()))
    }

    /// Reads a nested collection, within the nesting limit.
    fn inner(&mut self, read: impl FnOnce(&mut Self) -> Option<Value>) -> Option<Value> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return None;
        }
        let value = read(self);
        self.depth -= 1;
        value
    }

    /// What follows `key:` (`in_map`) or `-` in a collection at `indent`: an inline scalar,
    /// a block scalar, or a block collection on the next lines (or null).
    fn value(&mut self, indent: usize, rest: &'a str, in_map: bool) -> Option<Value> {
        let rest = rest.trim_start_matches(' ');
        let Some(&first) = rest.as_bytes().first() else {
            return self.nested(indent, in_map);
        };
        let value = match first {
            b'#' => return self.nested(indent, in_map),
            b'|' => return self.literal(indent, &rest[1..]),
            b'"' => {
                let (text, after) = double_quoted(rest)?;
                at_end(after)?;
                Value::String(text)
            }
            b'\'' => {
                let (text, after) = single_quoted(rest)?;
                at_end(after)?;
                Value::String(text)
            }
            b'[' | b'{' => {
                let (empty, after) = rest.split_at_checked(2)?;
                at_end(after)?;
                match empty {
                    "[]" => Value::List(Vec::new()),
                    "{}" => Value::Map(Map::default()),
                    _ => return None,
                }
            }
            // `-1` and `--flag` are plain scalars; `- x` is a list where a scalar is expected.
            b'-' if is_dash(rest) => return None,
            b if b != b'-' && is_indicator(b) => return None,
            _ => plain_value(plain(rest)?)?,
        };
        // A more indented line would continue the scalar (or be an error).
        if let Next::Line { indent: at, .. } = self.peek()? {
            if at > indent {
                return None;
            }
        }
        Some(value)
    }

    /// The value on the lines after an empty `key:` or `-`: a more indented collection, a
    /// list at the key's own indentation, or null.
    fn nested(&mut self, indent: usize, in_map: bool) -> Option<Value> {
        match self.peek()? {
            Next::Line { indent: at, body }
                if at > indent || (in_map && at == indent && is_dash(body)) =>
            {
                self.block(at, body)
            }
            _ => Some(Value::Null),
        }
    }

    /// A literal block scalar (`|`, `|-`, `|+`) in a collection at `parent`; `header` is what
    /// follows the `|`. Read as `yaml-rust2`'s `scan_block_scalar` reads it.
    fn literal(&mut self, parent: usize, header: &str) -> Option<Value> {
        let (chomp, after) = match header.as_bytes().first() {
            Some(b'-') => (Chomp::Strip, &header[1..]),
            Some(b'+') => (Chomp::Keep, &header[1..]),
            _ => (Chomp::Clip, header),
        };
        at_end(after)?;
        // Leading blank lines, and the indentation: the first content line's, which must not
        // be less than a leading blank line's (an error) or than the parent's (an empty
        // scalar); both are left to the full loader, as is a scalar without content.
        let mut breaks = 0;
        let mut widest_blank = 0;
        let first = loop {
            let line = self.lines.get(self.pos)?;
            let body = line.trim_start_matches(' ');
            if !body.is_empty() {
                break line.len() - body.len();
            }
            if self.pos + 1 == self.lines.len() && !self.last_newline {
                return None;
            }
            widest_blank = widest_blank.max(line.len());
            breaks += 1;
            self.pos += 1;
        };
        if first <= parent || first < widest_blank {
            return None;
        }
        let indent = first;
        let mut text = String::new();
        let mut leading = false;
        let mut ends_in_content = false;
        'content: loop {
            let line = self.lines[self.pos];
            if leading {
                text.push('\n');
            }
            push_breaks(&mut text, breaks);
            breaks = 0;
            text.push_str(&line[indent..]);
            self.pos += 1;
            if self.pos == self.lines.len() && !self.last_newline {
                ends_in_content = true;
                break;
            }
            leading = true;
            // Blank lines (no longer than the indentation) until the next content line.
            loop {
                let Some(line) = self.lines.get(self.pos) else {
                    break 'content;
                };
                let spaces = line.len() - line.trim_start_matches(' ').len();
                if spaces == line.len() && spaces <= indent {
                    // Spaces without a final line break: `yaml-rust2` may count another one.
                    if self.pos + 1 == self.lines.len() && !self.last_newline {
                        return None;
                    }
                    breaks += 1;
                    self.pos += 1;
                } else if spaces >= indent {
                    continue 'content;
                } else {
                    break 'content;
                }
            }
        }
        if chomp != Chomp::Strip && (leading || ends_in_content) {
            text.push('\n');
        }
        if chomp == Chomp::Keep {
            push_breaks(&mut text, breaks);
        }
        Some(Value::String(text))
    }
}

fn push_breaks(text: &mut String, breaks: usize) {
    for _ in 0..breaks {
        text.push('\n');
    }
}

/// Whether a line (after its indentation) is a list item: `-` then a space or nothing.
fn is_dash(body: &str) -> bool {
    body == "-" || body.starts_with("- ")
}

/// YAML's indicator characters, which cannot start a plain scalar here.
fn is_indicator(b: u8) -> bool {
    matches!(
        b,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    )
}

/// What may follow a scalar on its line: spaces, then perhaps a comment.
fn at_end(after: &str) -> Option<()> {
    let rest = after.trim_start_matches(' ');
    (rest.is_empty() || (rest.starts_with('#') && rest.len() < after.len())).then_some(())
}

/// A map entry's line cut into its key (as the full loader names it) and what follows the
/// `:`; `None` when the line is not a `key: value` line of this subset.
fn split_key(body: &str) -> Option<(String, &str)> {
    let (key, after) = match *body.as_bytes().first()? {
        b'"' => double_quoted(body)?,
        b'\'' => single_quoted(body)?,
        b if is_indicator(b) => return None,
        _ => {
            let bytes = body.as_bytes();
            let colon = (0..bytes.len()).find(|&i| match bytes[i] {
                b':' => bytes.get(i + 1).is_none_or(|&next| next == b' '),
                b'#' => bytes[i - 1] == b' ',
                _ => false,
            })?;
            if bytes[colon] != b':' || colon > MAX_KEY_BYTES {
                return None;
            }
            let key = body[..colon].trim_end_matches(' ');
            return Some((
                scalar_key(resolve_core(key.to_string()))?,
                &body[colon + 1..],
            ));
        }
    };
    if body.len() - after.len() > MAX_KEY_BYTES {
        return None;
    }
    let rest = after.trim_start_matches(' ').strip_prefix(':')?;
    (rest.is_empty() || rest.starts_with(' ')).then_some((key, rest))
}

/// A plain scalar's value, as `scalar(resolve_core(..))` makes it, allocating only for text.
fn plain_value(text: &str) -> Option<Value> {
    match core_kind(text) {
        Core::String => Some(Value::String(text.to_string())),
        Core::Int(i) => Some(Value::Int(i)),
        _ => scalar(resolve_core(text.to_string())).ok(),
    }
}

/// A plain scalar's text: up to a comment, without trailing spaces; `None` if a `: ` makes it
/// a map where a scalar is expected.
fn plain(rest: &str) -> Option<&str> {
    let bytes = rest.as_bytes();
    let mut end = bytes.len();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'#' if i > 0 && bytes[i - 1] == b' ' => {
                end = i;
                break;
            }
            b':' if bytes.get(i + 1).is_none_or(|&next| next == b' ') => return None,
            _ => {}
        }
    }
    Some(rest[..end].trim_end_matches(' '))
}

/// A one-line double-quoted scalar at the start of `s`, and what follows it.
fn double_quoted(s: &str) -> Option<(String, &str)> {
    let mut text = String::new();
    let mut run = 1;
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                text.push_str(&s[run..i]);
                return Some((text, &s[i + 1..]));
            }
            b'\\' => {
                text.push_str(&s[run..i]);
                let escape = *bytes.get(i + 1)?;
                i += 2;
                let digits = match escape {
                    b'x' => 2,
                    b'u' => 4,
                    b'U' => 8,
                    _ => {
                        text.push(match escape {
                            b'0' => '\0',
                            b'a' => '\x07',
                            b'b' => '\x08',
                            b't' => '\t',
                            b'n' => '\n',
                            b'v' => '\x0b',
                            b'f' => '\x0c',
                            b'r' => '\r',
                            b'e' => '\x1b',
                            b' ' => ' ',
                            b'"' => '"',
                            b'/' => '/',
                            b'\\' => '\\',
                            b'N' => '\u{85}',
                            b'_' => '\u{a0}',
                            b'L' => '\u{2028}',
                            b'P' => '\u{2029}',
                            _ => return None,
                        });
                        run = i;
                        continue;
                    }
                };
                let hex = s.get(i..i + digits)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                text.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
                i += digits;
                run = i;
            }
            _ => i += 1,
        }
    }
    None
}

/// A one-line single-quoted scalar at the start of `s`, and what follows it.
fn single_quoted(s: &str) -> Option<(String, &str)> {
    let mut text = String::new();
    let mut rest = &s[1..];
    loop {
        let quote = rest.find('\'')?;
        text.push_str(&rest[..quote]);
        rest = &rest[quote + 1..];
        match rest.strip_prefix('\'') {
            Some(after) => {
                text.push('\'');
                rest = after;
            }
            None => return Some((text, rest)),
        }
    }
}

#[cfg(test)]
mod tests;
