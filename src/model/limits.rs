//! Bounds on what a KDL input file may cost before anything parses it: its size, and how
//! deeply its blocks nest. The `kdl` parser and our own tree walks recurse once per `{`, so
//! an unbounded nesting overflows the stack (an abort, not a diagnostic), and the parse cost
//! grows with the file: both are checked on the raw text first, by a flat scan.

use super::chunks::{next_structural, skip_opaque, STRUCTURAL};
use super::ModelError;
use crate::diagnostics::{Diagnostics, IoError};
use crate::source::{FileId, Sources};
use std::io::Read;
use std::path::Path;

/// The deepest nesting of `{ }` blocks a file may have. The deepest real setting (a map in
/// a list in `values` in an `env` block in a service) is under ten.
pub const MAX_DEPTH: usize = 64;

/// The largest `stacks.kdl` or overlay file, in bytes. A generated 10,000-service stack is
/// about 6.5 MB; the limit leaves room for that and stops a runaway file before its parse
/// costs minutes and hundreds of megabytes (parsing is linear, about 2 s per MB).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The largest run of text one top-level node (with the comments after it) may take. The
/// `kdl` parser's stack, and its time on broken text, grow with the text of one parse; a
/// service with a large `values` block is a few KiB.
pub const MAX_RUN_BYTES: usize = 64 * 1024;

/// Reads a KDL input file, refusing one larger than [`MAX_FILE_BYTES`] without reading more
/// than that. `Ok(None)` when the file does not exist.
pub(super) fn read_bounded(path: &Path, name: &str) -> Result<Option<String>, Diagnostics> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(IoError::new("read", path, e).into()),
    };
    let mut bytes = Vec::new();
    if let Err(e) = file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes) {
        return Err(IoError::new("read", path, e).into());
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ModelError::TooLarge {
            file: name.to_string(),
            limit: MAX_FILE_BYTES / (1024 * 1024),
        }
        .into());
    }
    String::from_utf8(bytes).map(Some).map_err(|e| {
        IoError::new(
            "read",
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
        )
        .into()
    })
}

/// Refuses a file whose blocks nest deeper than [`MAX_DEPTH`], pointing at the first brace
/// past the limit, and the few mistakes that make the `kdl` parser recurse once per byte
/// (a stray `}`, text glued to a block's `}`, chained slashdashes). Strings and comments
/// are skipped the way the chunk scanner skips them.
pub(super) fn check_structure(sources: &Sources, file: FileId) -> Result<(), Diagnostics> {
    let bytes = sources.file(file).text.as_bytes();
    let syntax = |at: usize, message: &str, label: &str| ModelError::Syntax {
        message: message.to_string(),
        src: sources.named(file),
        span: (at, 1).into(),
        label: label.to_string(),
        help: None,
    };
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if !STRUCTURAL[usize::from(byte)] {
            i = next_structural(bytes, i);
            continue;
        }
        if let Some(end) = skip_opaque(bytes, i) {
            i = end;
            continue;
        }
        match byte {
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ModelError::TooDeep {
                        limit: MAX_DEPTH,
                        src: sources.named(file),
                        span: (i, 1).into(),
                    }
                    .into());
                }
            }
            b'}' if depth == 0 => {
                return Err(syntax(i, "unmatched `}`", "no block is open here").into());
            }
            b'}' => {
                depth -= 1;
                let next = skip_spaces(bytes, i + 1);
                // After a block only a terminator, a slashdash, a comment or the parent's `}`.
                if next.is_some_and(|(_, b)| {
                    !matches!(
                        b,
                        b'\n' | b'\r' | 0x0b | 0x0c | b';' | b'}' | b'/' | b'\\' | 0x80..
                    )
                }) {
                    let (at, _) = next.unwrap_or((i, b'}'));
                    return Err(syntax(
                        at,
                        "expected a newline or `;` after the `}` of a block",
                        "start the next node on its own line",
                    )
                    .into());
                }
            }
            b'\\' => {
                // A line continuation: only spaces and a comment may follow on its line.
                let next = skip_spaces(bytes, i + 1);
                let ends_line = |(at, b): (usize, u8)| {
                    matches!(b, b'\n' | b'\r' | 0x0b | 0x0c | 0x80..)
                        || (b == b'/' && matches!(bytes.get(at + 1), Some(b'/' | b'*')))
                };
                if next.is_some_and(|n| !ends_line(n)) {
                    let (at, _) = next.unwrap_or((i, b'\\'));
                    return Err(syntax(
                        at,
                        "a line continuation `\\` must end its line",
                        "only a comment may follow `\\` on its line",
                    )
                    .into());
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'-') => {
                let mut k = i + 2;
                loop {
                    match bytes.get(k) {
                        Some(b' ' | b'\t' | b'\n' | b'\r') => k += 1,
                        Some(b'/') if matches!(bytes.get(k + 1), Some(b'/' | b'*')) => {
                            k = skip_opaque(bytes, k).unwrap_or(bytes.len());
                        }
                        _ => break,
                    }
                }
                if bytes.get(k) == Some(&b'/') && bytes.get(k + 1) == Some(&b'-') {
                    return Err(syntax(
                        k,
                        "a slashdash `/-` cannot comment out another slashdash",
                        "remove one `/-`",
                    )
                    .into());
                }
                i += 2;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The first byte at or after `i` that is not a space or tab, with its position.
fn skip_spaces(bytes: &[u8], mut i: usize) -> Option<(usize, u8)> {
    while let Some(&b) = bytes.get(i) {
        if b != b' ' && b != b'\t' {
            return Some((i, b));
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_error_at(text: &str) -> Option<usize> {
        let mut sources = Sources::default();
        let id = sources.add("stacks.kdl", text);
        check_structure(&sources, id).err().map(|errors| {
            let report = errors.reports().first().expect("one diagnostic");
            let label = report.labels().and_then(|mut l| l.next()).expect("a label");
            label.offset()
        })
    }

    #[test]
    fn nesting_up_to_the_limit_passes_and_the_next_brace_is_named() {
        let ok = format!("a {}{}", "{ b ".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
        assert_eq!(depth_error_at(&ok), None);
        let deep = format!("a {}", "{ b ".repeat(MAX_DEPTH + 1));
        assert_eq!(depth_error_at(&deep), Some(2 + 4 * MAX_DEPTH));
    }

    #[test]
    fn braces_in_strings_and_comments_do_not_count() {
        let braces = "{".repeat(MAX_DEPTH * 2);
        for text in [
            format!("a \"{braces}\""),
            format!("a #\"{braces}\"#"),
            format!("// {braces}\na 1"),
            format!("/* {braces} */ a 1"),
        ] {
            assert_eq!(depth_error_at(&text), None, "{text}");
        }
    }

    #[test]
    fn siblings_do_not_add_up() {
        let text = "a { b 1 }\n".repeat(MAX_DEPTH * 2);
        assert_eq!(depth_error_at(&text), None);
    }

    #[test]
    fn the_mistakes_that_make_the_parser_recurse_are_caught_first() {
        assert_eq!(depth_error_at("a 1\n}}"), Some(4));
        assert_eq!(depth_error_at("a {}{}"), Some(4));
        assert_eq!(depth_error_at("a { b 1 } c"), Some(10));
        assert_eq!(depth_error_at("/- /- a"), Some(3));
        assert_eq!(depth_error_at("a \\ \\ \\\n"), Some(4));
        assert_eq!(depth_error_at("a /-\n /* x */ /-1"), Some(14));
        for fine in [
            "a { b 1 }\n",
            "a { b 1 };c",
            "a { b { c 1 } }",
            "a { b 1 } // x\n",
            "a { b 1 } /* x */\n",
            "a { b 1 } /- { c 2 }\n",
            "a { b 1 }",
            "/- a 1\nb /-2 3",
            "a /- \"x\" /-1",
            "a 1 \\\n 2",
            "a 1 \\ // why\n 2",
        ] {
            assert_eq!(depth_error_at(fine), None, "{fine}");
        }
    }
}
