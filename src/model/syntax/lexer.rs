//! The tokens of KDL v2, read from a byte cursor: whitespace and comments, strings (identifier,
//! quoted, multi-line, raw), numbers and `#` keywords. Every read is a forward scan: nothing
//! re-reads more than one line of what it has consumed, so lexing is linear in the input.
//! Positions only ever move by whole UTF-8 characters, and every access goes through `get`,
//! so no input can make it slice inside a character or index out of bounds.

use super::chars::{is_bare_keyword, is_disallowed, is_ident_char, is_newline, is_space};
use super::error::SyntaxDiagnostic;
use super::tree::Value;
use miette::SourceSpan;

/// Stop reading at this many errors: past that, they are mostly echoes of the first ones.
const MAX_ERRORS: usize = 32;

/// A failed read; its diagnostic is already recorded. `fatal` when the rest of the input
/// cannot be read sensibly any more (an unterminated string or comment swallowed it).
#[derive(Clone, Copy, Debug)]
pub(super) struct Fail {
    pub fatal: bool,
}

pub(super) type Lex<T> = Result<T, Fail>;

/// The text, a position in it, and the errors found so far.
pub(super) struct Cursor<'a> {
    pub text: &'a str,
    pub bytes: &'a [u8],
    pub pos: usize,
    pub errors: Vec<SyntaxDiagnostic>,
}

pub(super) fn span(start: usize, end: usize) -> SourceSpan {
    SourceSpan::new(start.into(), end.saturating_sub(start))
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str) -> Self {
        Cursor {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            errors: Vec::new(),
        }
    }

    // ---- primitives -------------------------------------------------------------------

    pub fn byte(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub fn byte_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// The character at `at`.
    pub fn char_at(&self, at: usize) -> Option<char> {
        match self.bytes.get(at) {
            Some(&b) if b < 0x80 => Some(char::from(b)),
            Some(_) => self.text.get(at..).and_then(|s| s.chars().next()),
            None => None,
        }
    }

    pub fn peek(&self) -> Option<char> {
        self.char_at(self.pos)
    }

    pub fn starts_with(&self, at: usize, s: &str) -> bool {
        self.bytes
            .get(at..)
            .is_some_and(|rest| rest.starts_with(s.as_bytes()))
    }

    /// Records an error and returns the failure to propagate.
    pub fn fail(
        &mut self,
        start: usize,
        end: usize,
        message: &str,
        label: &str,
        help: Option<&str>,
    ) -> Fail {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(SyntaxDiagnostic::new(
                span(start, end),
                message,
                label,
                help,
            ));
        }
        Fail {
            fatal: self.errors.len() >= MAX_ERRORS,
        }
    }

    /// Like `fail`, but nothing after this can be read (the rest of the input was swallowed).
    pub fn fatal(
        &mut self,
        start: usize,
        end: usize,
        message: &str,
        label: &str,
        help: Option<&str>,
    ) -> Fail {
        self.fail(start, end, message, label, help);
        self.pos = self.bytes.len();
        Fail { fatal: true }
    }

    /// The end of the character at `at` (for one-character error spans).
    pub fn char_end(&self, at: usize) -> usize {
        at + self.char_at(at).map_or(0, char::len_utf8)
    }

    /// The length of the newline at `at`, or 0.
    pub fn newline_len(&self, at: usize) -> usize {
        match self.bytes.get(at) {
            Some(b'\n' | 0x0B | 0x0C) => 1,
            Some(b'\r') => {
                if self.bytes.get(at + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                }
            }
            Some(&b) if b >= 0x80 => self
                .char_at(at)
                .filter(|&c| is_newline(c))
                .map_or(0, char::len_utf8),
            _ => 0,
        }
    }

    /// The length of the Unicode space at `at`, or 0.
    pub fn space_len(&self, at: usize) -> usize {
        match self.bytes.get(at) {
            Some(b' ' | b'\t') => 1,
            Some(&b) if b >= 0x80 => self
                .char_at(at)
                .filter(|&c| is_space(c))
                .map_or(0, char::len_utf8),
            _ => 0,
        }
    }

    // ---- whitespace and comments ------------------------------------------------------

    /// `/* ... */`, nested, at the cursor (which is on the `/`).
    fn block_comment(&mut self) -> Lex<()> {
        let start = self.pos;
        self.pos += 2;
        let mut depth = 1usize;
        while let Some(b) = self.byte() {
            if b == b'/' && self.byte_at(1) == Some(b'*') {
                depth += 1;
                self.pos += 2;
            } else if b == b'*' && self.byte_at(1) == Some(b'/') {
                depth -= 1;
                self.pos += 2;
                if depth == 0 {
                    return Ok(());
                }
            } else {
                self.pos += 1;
            }
        }
        Err(self.fatal(
            start,
            start + 2,
            "unterminated comment",
            "this `/*` is never closed",
            Some("close it with `*/` (block comments nest: every `/*` needs its own `*/`)"),
        ))
    }

    /// `// ...` up to and including the newline (or the end).
    fn line_comment(&mut self) {
        self.pos += 2;
        while self.pos < self.bytes.len() {
            let n = self.newline_len(self.pos);
            if n > 0 {
                self.pos += n;
                return;
            }
            self.pos += 1;
        }
    }

    /// `ws*`: spaces and block comments. Returns whether it consumed anything.
    fn ws(&mut self) -> Lex<bool> {
        let start = self.pos;
        loop {
            let n = self.space_len(self.pos);
            if n > 0 {
                self.pos += n;
            } else if self.byte() == Some(b'/') && self.byte_at(1) == Some(b'*') {
                self.block_comment()?;
            } else {
                return Ok(self.pos > start);
            }
        }
    }

    /// `escline`: `\` ws* (comment | newline | end), at the cursor's `\`. Leaves the cursor
    /// where it was and returns false when the `\` does not start one.
    fn escline(&mut self) -> Lex<bool> {
        let save = self.pos;
        self.pos += 1;
        self.ws()?;
        if self.at_end() {
            return Ok(true);
        }
        if self.byte() == Some(b'/') && self.byte_at(1) == Some(b'/') {
            self.line_comment();
            return Ok(true);
        }
        let n = self.newline_len(self.pos);
        if n > 0 {
            self.pos += n;
            return Ok(true);
        }
        self.pos = save;
        Ok(false)
    }

    /// `node-space*`: spaces, block comments and line continuations; never a plain newline.
    /// Returns whether it consumed anything.
    pub fn node_space(&mut self) -> Lex<bool> {
        let start = self.pos;
        loop {
            self.ws()?;
            if self.byte() == Some(b'\\') && self.escline()? {
                continue;
            }
            return Ok(self.pos > start);
        }
    }

    /// `line-space*`: node space, newlines and line comments.
    pub fn line_space(&mut self) -> Lex<()> {
        loop {
            self.node_space()?;
            let n = self.newline_len(self.pos);
            if n > 0 {
                self.pos += n;
            } else if self.byte() == Some(b'/') && self.byte_at(1) == Some(b'/') {
                self.line_comment();
            } else {
                return Ok(());
            }
        }
    }

    /// At a `node-terminator` (`;`, newline, `//`, end) or a `}`: where a node may end.
    pub fn at_node_end(&self) -> bool {
        match self.byte() {
            None | Some(b';' | b'}') => true,
            Some(b'/') => self.byte_at(1) == Some(b'/'),
            _ => self.newline_len(self.pos) > 0,
        }
    }

    /// Consumes the node terminator at the cursor, if any (`}` and the end stay).
    pub fn node_terminator(&mut self) {
        match self.byte() {
            Some(b';') => self.pos += 1,
            Some(b'/') if self.byte_at(1) == Some(b'/') => self.line_comment(),
            _ => self.pos += self.newline_len(self.pos),
        }
    }

    /// Whether a value may end here: what may follow a value without a space between.
    fn at_value_terminator(&mut self) -> bool {
        match self.byte() {
            None | Some(b'=' | b')' | b'{' | b'}' | b';') => true,
            Some(b'/') => matches!(self.byte_at(1), Some(b'/' | b'*')),
            Some(b'\\') => {
                // A `\` ends a value only when it starts a line continuation; probe without
                // recording an error (an unterminated comment is reported when it is read).
                let (save, errors) = (self.pos, self.errors.len());
                let ok = self.escline().unwrap_or(true);
                self.pos = save;
                self.errors.truncate(errors);
                ok
            }
            _ => self.space_len(self.pos) > 0 || self.newline_len(self.pos) > 0,
        }
    }

    /// After a value: refuses anything glued to it (`"a"b`, `1x`, `#true#false`).
    fn value_end(&mut self, start: usize, what: &str) -> Lex<()> {
        if self.at_value_terminator() {
            return Ok(());
        }
        let at = self.pos;
        let end = self.char_end(at);
        Err(self.fail(
            at,
            end,
            &format!("unexpected character after {what}"),
            "expected a space, `;` or a newline here",
            Some(if start == at {
                "entries are separated by whitespace"
            } else {
                "a value ends at whitespace, `=`, `;`, `{`, `}`, `)` or a newline; did you want a space here?"
            }),
        ))
    }

    // ---- strings ----------------------------------------------------------------------

    /// Whether a string (identifier, quoted or raw) starts at the cursor.
    pub fn at_string(&self) -> bool {
        match self.byte() {
            Some(b'"') => true,
            Some(b'#') => matches!(self.byte_at(1), Some(b'#' | b'"')),
            Some(b) if b.is_ascii_digit() => false,
            Some(b'+' | b'-') => !matches!(self.byte_at(1), Some(b'0'..=b'9')),
            Some(_) => self.peek().is_some_and(is_ident_char),
            None => false,
        }
    }

    /// A string of any kind at the cursor (`at_string` is true), and its span.
    pub fn string(&mut self) -> Lex<(String, SourceSpan)> {
        let start = self.pos;
        let value = match self.byte() {
            Some(b'"') => self.quoted()?,
            Some(b'#') => self.raw()?,
            _ => self.identifier()?,
        };
        self.value_end(start, "a string")?;
        Ok((value, span(start, self.pos)))
    }

    /// `identifier-string`.
    fn identifier(&mut self) -> Lex<String> {
        let start = self.pos;
        // `.5`, `-.5`: neither a number nor an identifier.
        let mut p = start;
        if matches!(self.bytes.get(p), Some(b'+' | b'-')) {
            p += 1;
        }
        if self.bytes.get(p) == Some(&b'.') && self.bytes.get(p + 1).is_some_and(u8::is_ascii_digit)
        {
            while self.pos < self.bytes.len() && self.peek().is_some_and(is_ident_char) {
                self.pos = self.char_end(self.pos);
            }
            return Err(self.fail(
                start,
                self.pos,
                "invalid number",
                "a number needs a digit before its `.`",
                Some("write `0.5`, or quote it (`\"-.5\"`) for a string"),
            ));
        }
        while let Some(&b) = self.bytes.get(self.pos) {
            if b < 0x80 {
                if !super::chars::IDENT_ASCII[usize::from(b)] {
                    break;
                }
                self.pos += 1;
            } else {
                match self.char_at(self.pos) {
                    Some(c) if is_ident_char(c) => self.pos += c.len_utf8(),
                    _ => break,
                }
            }
        }
        let word = self.text.get(start..self.pos).unwrap_or_default();
        // Only unambiguous identifiers are checked, as in the reference parser: a signed
        // one (`-inf`) is a string.
        if !word.starts_with(['+', '-', '.']) && is_bare_keyword(word) {
            return Err(self.fail(
                start,
                self.pos,
                &format!("`{word}` needs a `#` in KDL v2"),
                "a bare keyword",
                Some(&format!(
                    "write `#{word}` for the keyword, or `\"{word}\"` for the string"
                )),
            ));
        }
        Ok(word.to_string())
    }

    /// A quoted string, single- or multi-line, at the cursor's `"`.
    fn quoted(&mut self) -> Lex<String> {
        let start = self.pos;
        if self.starts_with(start, "\"\"\"") {
            self.pos += 3;
            let n = self.newline_len(self.pos);
            if n == 0 {
                return Err(self.fail(
                    start,
                    start + 3,
                    "multi-line string opening quotes must be followed by a newline",
                    "multi-line string",
                    Some("start the text on the next line, or use `\"...\"` for a one-line string"),
                ));
            }
            self.pos += n;
            return self.multi_line(start);
        }
        self.pos += 1;
        let mut out = String::new();
        loop {
            // Copy the plain run in one go.
            let run = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || !(0x20..0x7F).contains(&b) {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(self.text.get(run..self.pos).unwrap_or_default());
            let Some(c) = self.peek() else {
                return Err(self.fatal(
                    start,
                    start + 1,
                    "unterminated string",
                    "this string is never closed",
                    Some("close it with `\"`"),
                ));
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                '\\' => self.escape(&mut out)?,
                c if self.newline_len(self.pos) > 0 => {
                    let _ = c;
                    let at = self.pos;
                    // Skip the rest of the string's line so recovery resumes after it.
                    return Err(self.fail(
                        start,
                        at,
                        "unexpected newline in a single-line string",
                        "this string is not closed on its line",
                        Some("close it with `\"` before the line ends, or use a multi-line string (`\"\"\"` then a newline)"),
                    ));
                }
                c if is_disallowed(c) => return Err(self.disallowed(self.pos, c)),
                c => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    pub fn disallowed(&mut self, at: usize, c: char) -> Fail {
        let end = at + c.len_utf8();
        self.fail(
            at,
            end,
            &format!(
                "the code point U+{:04X} may not appear in a KDL document",
                u32::from(c)
            ),
            "disallowed code point",
            Some("write it as an escape in a quoted string (`\\u{...}`) if it is meant"),
        )
    }

    /// One escape at the cursor's `\`, appended to `out`; a whitespace escape appends nothing.
    fn escape(&mut self, out: &mut String) -> Lex<()> {
        let start = self.pos;
        self.pos += 1;
        let c = match self.byte() {
            Some(b'n') => '\n',
            Some(b't') => '\t',
            Some(b'r') => '\r',
            Some(b'\\') => '\\',
            Some(b'"') => '"',
            Some(b'b') => '\u{08}',
            Some(b'f') => '\u{0C}',
            Some(b's') => ' ',
            Some(b'u') => return self.unicode_escape(start, out),
            _ => {
                if self.ws_escape_body() {
                    return Ok(());
                }
                let end = self.char_end(self.pos);
                return Err(self.fail(
                    start,
                    end,
                    "invalid escape in a string",
                    "unknown escape",
                    Some("escapes are \\n \\r \\t \\\\ \\\" \\b \\f \\s \\u{hex}, and `\\` before whitespace; use a raw string (#\"...\"#) for literal backslashes"),
                ));
            }
        };
        out.push(c);
        self.pos += 1;
        Ok(())
    }

    /// After a `\`: consumes the whitespace and newlines of a whitespace escape, or returns
    /// false (nothing consumed) when none follows.
    fn ws_escape_body(&mut self) -> bool {
        let start = self.pos;
        loop {
            let n = self.space_len(self.pos).max(self.newline_len(self.pos));
            if n == 0 {
                return self.pos > start;
            }
            self.pos += n;
        }
    }

    /// `\u{hex}` (1 to 6 digits, a Unicode scalar value), the cursor on the `u`.
    fn unicode_escape(&mut self, start: usize, out: &mut String) -> Lex<()> {
        self.pos += 1;
        let bad = |this: &mut Self, end: usize| {
            this.fail(
                start,
                end,
                "invalid unicode escape",
                "expected `\\u{` then 1 to 6 hex digits then `}`",
                Some("the code point must be a Unicode scalar value (at most 10FFFF, no surrogates D800-DFFF)"),
            )
        };
        if self.byte() != Some(b'{') {
            let end = self.pos;
            return Err(bad(self, end));
        }
        self.pos += 1;
        let digits = self.pos;
        while self.byte().is_some_and(|b| b.is_ascii_hexdigit()) && self.pos - digits < 6 {
            self.pos += 1;
        }
        let hex = self.text.get(digits..self.pos).unwrap_or_default();
        let value = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
        match (value, self.byte()) {
            (Some(c), Some(b'}')) => {
                self.pos += 1;
                out.push(c);
                Ok(())
            }
            _ => {
                let end = self.char_end(self.pos);
                Err(bad(self, end))
            }
        }
    }

    /// The extent of `(unicode-space | ws-escape)*` from `at` in a quoted multi-line string:
    /// its end and the spaces outside escapes (the closing line's indentation).
    fn ml_blank(&self, at: usize) -> (usize, usize) {
        let mut p = at;
        let mut spaces_end = at;
        let mut in_leading = true;
        loop {
            let n = self.space_len(p);
            if n > 0 {
                p += n;
                if in_leading {
                    spaces_end = p;
                }
                continue;
            }
            if self.bytes.get(p) == Some(&b'\\') {
                let mut q = p + 1;
                loop {
                    let n = self.space_len(q).max(self.newline_len(q));
                    if n == 0 {
                        break;
                    }
                    q += n;
                }
                if q > p + 1 {
                    p = q;
                    in_leading = false;
                    continue;
                }
            }
            return (p, spaces_end);
        }
    }

    /// The body of a quoted multi-line string, the cursor past `"""` and its newline.
    ///
    /// Two passes over the body, each linear: the first finds the closing line (only
    /// whitespace before `"""`), whose whitespace is the indentation every other non-blank
    /// line must start with; the second strips it and resolves escapes.
    fn multi_line(&mut self, open: usize) -> Lex<String> {
        let body = self.pos;
        // Pass 1: find the closing line.
        let mut p = body;
        let (close_line, prefix_end, close) = loop {
            let (blank_end, spaces_end) = self.ml_blank(p);
            if self.starts_with(blank_end, "\"\"\"") {
                break (p, spaces_end, blank_end);
            }
            // Not the closing line: skip it, escapes included.
            loop {
                let Some(c) = self.char_at(p) else {
                    return Err(self.fatal(
                        open,
                        open + 3,
                        "unterminated multi-line string",
                        "this string is never closed",
                        Some("close it with `\"\"\"` on a line of its own (only whitespace before it)"),
                    ));
                };
                let n = self.newline_len(p);
                if n > 0 {
                    p += n;
                    break;
                }
                if c == '\\' {
                    let mut q = p + 1;
                    loop {
                        let n = self.space_len(q).max(self.newline_len(q));
                        if n == 0 {
                            break;
                        }
                        q += n;
                    }
                    p = if q > p + 1 {
                        q
                    } else {
                        self.char_end(p + 1).max(p + 1)
                    };
                    continue;
                }
                if c == '"' && self.starts_with(p, "\"\"\"") {
                    self.pos = p;
                    return Err(self.fail(
                        p,
                        p + 3,
                        "multi-line string closing quotes must be on a line of their own",
                        "text before the closing `\"\"\"`",
                        Some("put the closing `\"\"\"` on its own line, indented like the text"),
                    ));
                }
                if is_disallowed(c) {
                    self.pos = p;
                    return Err(self.disallowed(p, c));
                }
                p += c.len_utf8();
            }
        };
        let prefix = self.text.get(close_line..prefix_end).unwrap_or_default();
        // Pass 2: dedent and resolve escapes.
        let mut out = String::new();
        self.pos = body;
        while self.pos < close_line {
            let (blank_end, _) = self.ml_blank(self.pos);
            let n = self.newline_len(blank_end);
            if n > 0 {
                out.push('\n');
                self.pos = blank_end + n;
                continue;
            }
            if !self.starts_with(self.pos, prefix) {
                let at = self.pos;
                let end = blank_end.max(at + 1).min(self.bytes.len());
                self.pos = close + 3;
                return Err(self.fail(
                    at,
                    end,
                    "multi-line string line is not indented like its closing `\"\"\"`",
                    "bad indentation",
                    Some("every non-blank line of a multi-line string must start with the exact whitespace before its closing `\"\"\"`"),
                ));
            }
            self.pos += prefix.len();
            loop {
                let n = self.newline_len(self.pos);
                if n > 0 {
                    self.pos += n;
                    out.push('\n');
                    break;
                }
                match self.peek() {
                    Some('\\') => {
                        if let Err(e) = self.escape(&mut out) {
                            self.pos = close + 3;
                            return Err(e);
                        }
                    }
                    Some(c) => {
                        out.push(c);
                        self.pos += c.len_utf8();
                    }
                    // Pass 1 found the closing line, so the body ends before the input does.
                    None => break,
                }
            }
        }
        out.pop();
        self.pos = close + 3;
        Ok(out)
    }

    /// A raw string at the cursor's `#`.
    fn raw(&mut self) -> Lex<String> {
        let start = self.pos;
        while self.byte() == Some(b'#') {
            self.pos += 1;
        }
        let hashes = self.pos - start;
        // `at_string` saw `#` then `#` or `"`; more hashes may still end without a quote.
        if self.byte() != Some(b'"') {
            let end = self.char_end(self.pos);
            return Err(self.fail(
                start,
                end,
                "invalid raw string",
                "expected `\"` after the `#`s",
                Some("a raw string looks like #\"text\"#, with as many `#` after as before"),
            ));
        }
        let mut closing = String::with_capacity(hashes + 3);
        if self.starts_with(self.pos, "\"\"\"") && self.newline_len(self.pos + 3) > 0 {
            self.pos += 3;
            self.pos += self.newline_len(self.pos);
            closing.push_str("\"\"\"");
            closing.extend(std::iter::repeat_n('#', hashes));
            return self.raw_multi_line(start, &closing);
        }
        self.pos += 1;
        closing.push('"');
        closing.extend(std::iter::repeat_n('#', hashes));
        let body = self.pos;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.fatal(
                    start,
                    body,
                    "unterminated raw string",
                    "this raw string is never closed",
                    Some("close it with `\"` and as many `#` as it opens with"),
                ));
            };
            if c == '"' && self.starts_with(self.pos, &closing) {
                break;
            }
            if self.newline_len(self.pos) > 0 {
                return Err(self.fail(
                    start,
                    self.pos,
                    "unexpected newline in a single-line raw string",
                    "this raw string is not closed on its line",
                    Some("use a multi-line raw string (#\"\"\" then a newline) for text over several lines"),
                ));
            }
            if is_disallowed(c) {
                return Err(self.disallowed(self.pos, c));
            }
            self.pos += c.len_utf8();
        }
        let value = self
            .text
            .get(body..self.pos)
            .unwrap_or_default()
            .to_string();
        self.pos += closing.len();
        if value == "\"" {
            return Err(self.fail(
                start,
                self.pos,
                "single-line raw strings cannot look like multi-line ones",
                "triple quotes",
                Some("use \"\\\"\" for a lone quote"),
            ));
        }
        Ok(value)
    }

    /// The body of a multi-line raw string, the cursor past the opening quotes and newline.
    fn raw_multi_line(&mut self, open: usize, closing: &str) -> Lex<String> {
        let body = self.pos;
        let mut p = body;
        let (close_line, close) = loop {
            let mut q = p;
            loop {
                let n = self.space_len(q);
                if n == 0 {
                    break;
                }
                q += n;
            }
            if self.starts_with(q, closing) {
                break (p, q);
            }
            loop {
                let Some(c) = self.char_at(p) else {
                    return Err(self.fatal(
                        open,
                        open + closing.len(),
                        "unterminated multi-line raw string",
                        "this raw string is never closed",
                        Some("close it with `\"\"\"` and as many `#` as it opens with, on a line of its own"),
                    ));
                };
                let n = self.newline_len(p);
                if n > 0 {
                    p += n;
                    break;
                }
                if c == '"' && self.starts_with(p, closing) {
                    self.pos = p;
                    return Err(self.fail(
                        p,
                        p + closing.len(),
                        "multi-line string closing quotes must be on a line of their own",
                        "text before the closing quotes",
                        Some("put the closing quotes on their own line, indented like the text"),
                    ));
                }
                if is_disallowed(c) {
                    self.pos = p;
                    return Err(self.disallowed(p, c));
                }
                p += c.len_utf8();
            }
        };
        let prefix = self.text.get(close_line..close).unwrap_or_default();
        let mut out = String::new();
        self.pos = body;
        while self.pos < close_line {
            let mut q = self.pos;
            loop {
                let n = self.space_len(q);
                if n == 0 {
                    break;
                }
                q += n;
            }
            let n = self.newline_len(q);
            if n > 0 {
                out.push('\n');
                self.pos = q + n;
                continue;
            }
            if !self.starts_with(self.pos, prefix) {
                let at = self.pos;
                let end = q.max(at + 1).min(self.bytes.len());
                self.pos = close + closing.len();
                return Err(self.fail(
                    at,
                    end,
                    "multi-line string line is not indented like its closing quotes",
                    "bad indentation",
                    Some("every non-blank line of a multi-line string must start with the exact whitespace before its closing quotes"),
                ));
            }
            self.pos += prefix.len();
            let line = self.pos;
            while self.pos < self.bytes.len() && self.newline_len(self.pos) == 0 {
                self.pos += 1;
            }
            out.push_str(self.text.get(line..self.pos).unwrap_or_default());
            out.push('\n');
            self.pos += self.newline_len(self.pos);
        }
        out.pop();
        self.pos = close + closing.len();
        Ok(out)
    }

    // ---- other values -----------------------------------------------------------------

    /// A value that is not a string: a `#` keyword or a number. The cursor is on its start.
    pub fn non_string_value(&mut self) -> Lex<Value> {
        let start = self.pos;
        let value = match self.byte() {
            Some(b'#') => self.keyword()?,
            Some(b'0'..=b'9' | b'+' | b'-') => self.number()?,
            _ => {
                let end = self.char_end(start);
                let (message, help) = match self.peek() {
                    Some(c) if is_disallowed(c) => {
                        return Err(self.disallowed(start, c));
                    }
                    Some('[' | ']') => ("unexpected bracket", "KDL has no lists in brackets; use several arguments, or children nodes named `-`"),
                    _ => ("expected a value", "a value is a string, a number, #true, #false, #null, #inf, #-inf or #nan"),
                };
                return Err(self.fail(start, end, message, "not a value", Some(help)));
            }
        };
        self.value_end(start, "a value")?;
        Ok(value)
    }

    /// `#true`, `#false`, `#null`, `#inf`, `#-inf`, `#nan`.
    fn keyword(&mut self) -> Lex<Value> {
        let start = self.pos;
        let rest = self.bytes.get(start + 1..).unwrap_or_default();
        let (value, len) = [
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
            ("null", Value::Null),
            ("nan", Value::Float(f64::NAN)),
            ("inf", Value::Float(f64::INFINITY)),
            ("-inf", Value::Float(f64::NEG_INFINITY)),
        ]
        .into_iter()
        .find(|(word, _)| rest.starts_with(word.as_bytes()))
        .map(|(word, value)| (value, word.len()))
        .ok_or_else(|| {
            let mut end = start + 1;
            while self.char_at(end).is_some_and(is_ident_char) {
                end = self.char_end(end);
            }
            self.fail(
                start,
                end,
                "unknown keyword",
                "not a keyword",
                Some("keywords are #true, #false, #null, #inf, #-inf and #nan (lowercase)"),
            )
        })?;
        self.pos = start + 1 + len;
        Ok(value)
    }

    /// A number: decimal (`_` separators, fraction, exponent), hex, octal or binary, signed.
    fn number(&mut self) -> Lex<Value> {
        let start = self.pos;
        let negative = self.byte() == Some(b'-');
        if matches!(self.byte(), Some(b'+' | b'-')) {
            self.pos += 1;
        }
        let radix = match (self.byte(), self.byte_at(1)) {
            (Some(b'0'), Some(b'x' | b'X')) => 16,
            (Some(b'0'), Some(b'o' | b'O')) => 8,
            (Some(b'0'), Some(b'b' | b'B')) => 2,
            _ => 10,
        };
        if radix == 10 {
            return self.decimal(start, negative);
        }
        self.pos += 2;
        let digits = self.pos;
        let mut magnitude: Option<i128> = Some(0);
        while let Some(b) = self.byte() {
            let digit = match b {
                b'_' if self.pos > digits => {
                    self.pos += 1;
                    continue;
                }
                b'0'..=b'9' => u32::from(b - b'0'),
                b'a'..=b'f' => u32::from(b - b'a') + 10,
                b'A'..=b'F' => u32::from(b - b'A') + 10,
                _ => break,
            };
            if digit >= radix {
                break;
            }
            magnitude = magnitude
                .and_then(|m| m.checked_mul(i128::from(radix)))
                .and_then(|m| m.checked_add(i128::from(digit)));
            self.pos += 1;
        }
        if self.pos == digits {
            let end = self.char_end(self.pos).max(self.pos);
            let name = match radix {
                16 => "hexadecimal",
                8 => "octal",
                _ => "binary",
            };
            return Err(self.fail(
                start,
                end,
                &format!("invalid {name} number"),
                "expected a digit after the prefix",
                Some("numbers look like 0xff, 0o755 or 0b1010 (a digit first, then digits or `_`)"),
            ));
        }
        Ok(self.integer(start, magnitude, negative))
    }

    fn integer(&self, start: usize, magnitude: Option<i128>, negative: bool) -> Value {
        let value = if negative {
            magnitude.and_then(i128::checked_neg)
        } else {
            magnitude
        };
        value.map_or_else(
            || {
                Value::IntegerTooLarge(
                    self.text
                        .get(start..self.pos)
                        .unwrap_or_default()
                        .to_string(),
                )
            },
            Value::Integer,
        )
    }

    /// `integer := digit (digit | '_')*` at the cursor; returns whether one was there.
    fn digits(&mut self, magnitude: &mut Option<i128>) -> bool {
        if !self.byte().is_some_and(|b| b.is_ascii_digit()) {
            return false;
        }
        while let Some(b) = self.byte() {
            match b {
                b'0'..=b'9' => {
                    *magnitude = magnitude
                        .and_then(|m| m.checked_mul(10))
                        .and_then(|m| m.checked_add(i128::from(b - b'0')));
                }
                b'_' => {}
                _ => break,
            }
            self.pos += 1;
        }
        true
    }

    fn decimal(&mut self, start: usize, negative: bool) -> Lex<Value> {
        let mut magnitude = Some(0);
        self.digits(&mut magnitude);
        let mut float = false;
        // Each part of a float must fit an i128, as the reference parser requires.
        let mut parts_fit = true;
        if self.byte() == Some(b'.') {
            self.pos += 1;
            float = true;
            let mut fraction = Some(0);
            let had = self.digits(&mut fraction);
            parts_fit &= fraction.is_some();
            if !had {
                let end = self.char_end(self.pos).max(self.pos);
                return Err(self.fail(
                    start,
                    end,
                    "invalid number",
                    "expected a digit after the `.`",
                    Some("write `1.0`, not `1.`; quote it for a string"),
                ));
            }
        }
        if matches!(self.byte(), Some(b'e' | b'E')) {
            self.pos += 1;
            float = true;
            if matches!(self.byte(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let mut exponent = Some(0);
            let had = self.digits(&mut exponent);
            parts_fit &= exponent.is_some();
            if !had {
                let end = self.char_end(self.pos).max(self.pos);
                return Err(self.fail(
                    start,
                    end,
                    "invalid number",
                    "expected a digit in the exponent",
                    Some("floats with an exponent look like `2.0e10` or `43.3E-4`"),
                ));
            }
        }
        if !float {
            return Ok(self.integer(start, magnitude, negative));
        }
        if !(parts_fit && magnitude.is_some()) {
            return Err(self.fail(
                start,
                self.pos,
                "float literal too long",
                "a part of this number has more than 38 digits",
                Some("the integer part, the fraction and the exponent of a float must each fit in 128 bits"),
            ));
        }
        let text: String = self
            .text
            .get(start..self.pos)
            .unwrap_or_default()
            .chars()
            .filter(|&c| c != '_')
            .collect();
        // Any digits-dot-digits-exponent text parses; an out-of-range one becomes ±inf.
        text.parse::<f64>()
            .map(Value::Float)
            .map_err(|_| self.fail(start, self.pos, "invalid number", "not a number", None))
    }
}
