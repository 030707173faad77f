//! Splitting a KDL file into runs of whole top-level nodes, so that each run can be parsed on
//! its own (on every core) and cached by the hash of its text: the `kdl` parser is the slowest
//! step of reading a 1,000-service `stacks.kdl`. The scanner only has to find *some* safe
//! boundaries; if a run fails to parse, the caller parses the whole file instead, so a wrong
//! guess costs time, never correctness.

/// The text cut into runs at every safe boundary between top-level nodes: mostly one node
/// (with the comments after it) a run, so an edit changes the text of one run only.
pub fn runs(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for cut in boundaries(text) {
        if cut > start {
            ranges.push(start..cut);
            start = cut;
        }
    }
    if start < text.len() || ranges.is_empty() {
        ranges.push(start..text.len());
    }
    ranges
}

/// Positions just after a newline at brace depth 0, outside strings and comments, where the
/// next line starts a new node (not a continuation, a slashdash or a closing brace).
fn boundaries(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let mut continued = false;
    while let Some(&byte) = bytes.get(i) {
        if !continued && !STRUCTURAL[usize::from(byte)] {
            // Only a structural byte can matter until something sets `continued`.
            i = next_structural(bytes, i);
            continue;
        }
        if let Some(end) = skip_opaque(bytes, i) {
            // A comment or string: nothing inside it is structure. A newline inside a
            // multi-line string is not a boundary either.
            i = end;
            continue;
        }
        match byte {
            b'/' if bytes.get(i + 1) == Some(&b'-') => {
                // A slashdash may comment out the next node across lines: no cut until it ends.
                continued = true;
            }
            b'\\' => continued = true,
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b'\n' if depth == 0 && !continued => {
                let next = bytes[i + 1..].iter().find(|b| !b.is_ascii_whitespace());
                if next.is_some_and(|b| b.is_ascii_alphabetic() || *b == b'"') {
                    out.push(i + 1);
                }
            }
            b'\n' => {}
            b if !b.is_ascii_whitespace() => continued = false,
            _ => {}
        }
        if byte == b'\n' && depth == 0 {
            continued = false;
        }
        i += 1;
    }
    out
}

/// The bytes the scanners of raw KDL text look at: those that can open a comment or a
/// string, braces, the line continuation and the newline. Every other byte (names, values,
/// spaces: most of a file) is passed over in one tight loop, [`next_structural`].
pub(super) static STRUCTURAL: [bool; 256] = {
    let mut table = [false; 256];
    let structural = b"/#\"{}\\\n";
    let mut k = 0;
    while k < structural.len() {
        table[structural[k] as usize] = true;
        k += 1;
    }
    table
};

/// The first position at or after `i` that holds a [`STRUCTURAL`] byte, or the end.
pub(super) fn next_structural(bytes: &[u8], i: usize) -> usize {
    bytes
        .get(i..)
        .and_then(|rest| rest.iter().position(|b| STRUCTURAL[usize::from(*b)]))
        .map_or(bytes.len(), |p| i + p)
}

/// When a comment or a string starts at `i`, the position just after it (at most the end of
/// the text: an unterminated one runs to the end). Shared by every scan of raw KDL text, so
/// they agree on what is structure and what is opaque.
pub(super) fn skip_opaque(bytes: &[u8], i: usize) -> Option<usize> {
    let len = bytes.len();
    let at = |k: usize| bytes.get(k).copied();
    match (at(i)?, at(i + 1)) {
        (b'/', Some(b'/')) => {
            let rest = &bytes[i..];
            Some(rest.iter().position(|b| *b == b'\n').map_or(len, |p| i + p))
        }
        (b'/', Some(b'*')) => {
            // Block comments nest in KDL; counted, not recursed.
            let mut nesting = 0usize;
            let mut k = i;
            while k < len {
                if at(k) == Some(b'/') && at(k + 1) == Some(b'*') {
                    nesting += 1;
                    k += 2;
                } else if at(k) == Some(b'*') && at(k + 1) == Some(b'/') {
                    nesting -= 1;
                    k += 2;
                    if nesting == 0 {
                        return Some(k);
                    }
                } else {
                    k += 1;
                }
            }
            Some(len)
        }
        (b'#', Some(b'"' | b'#')) => {
            // Raw string: #"..."#, ##"..."## (possibly multi-line).
            let hashes = bytes[i..].iter().take_while(|b| **b == b'#').count();
            if at(i + hashes) != Some(b'"') {
                return None;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let body = i + hashes + 1;
            Some(
                bytes[body..]
                    .windows(close.len())
                    .position(|w| w == close.as_slice())
                    .map_or(len, |p| body + p + close.len()),
            )
        }
        (b'"', _) if bytes[i..].starts_with(b"\"\"\"") => {
            // Multi-line string: single quotes inside it are text.
            let mut k = i + 3;
            while k < len {
                if bytes[k] == b'\\' {
                    k += 2;
                } else if bytes[k..].starts_with(b"\"\"\"") {
                    return Some(k + 3);
                } else {
                    k += 1;
                }
            }
            Some(len)
        }
        (b'"', _) => {
            let mut k = i + 1;
            // From quote or backslash to the next: the bytes between are plain text.
            while let Some(p) = bytes
                .get(k..)
                .and_then(|rest| rest.iter().position(|b| matches!(b, b'"' | b'\\')))
            {
                k += p;
                if bytes[k] == b'"' {
                    return Some(k + 1);
                }
                // An escape takes the next byte with it (even a quote or a backslash).
                k += 2;
            }
            Some(len)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<&str> {
        runs(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn cuts_only_between_top_level_nodes() {
        let text = "a 1\nb {\n  c 2\n}\n// x\nd \"multi\nline\" {\n e 1 }\n";
        assert_eq!(
            pieces(text),
            [
                "a 1\n",
                "b {\n  c 2\n}\n// x\n",
                "d \"multi\nline\" {\n e 1 }\n"
            ]
        );
    }

    #[test]
    fn never_cuts_inside_a_multi_line_string() {
        let text = "a \"\"\"\nx \"y\nb 1\n\"\"\"\nc 2\n";
        assert_eq!(pieces(text), ["a \"\"\"\nx \"y\nb 1\n\"\"\"\n", "c 2\n"]);
    }

    #[test]
    fn never_cuts_continuations_slashdash_or_raw_strings() {
        let text = "a 1 \\\n  2\n/-\nb 1\nc #\"x\ny\"#\nd {\n}\n";
        let cut = pieces(text);
        assert_eq!(cut.concat(), text);
        assert!(
            !cut.iter().any(|p| p.ends_with("\\\n") || *p == "/-\n"),
            "{cut:?}"
        );
        assert!(cut.iter().any(|p| p.contains("#\"x\ny\"#")), "{cut:?}");
    }

    #[test]
    fn the_pieces_always_cover_the_text() {
        for text in [
            "",
            "a",
            "a {\n",
            "}\n}\nx",
            "/* a\n/* b */\nc */ d 1\ne 2\n",
            "project \"x",
            "a \"\\",
            "a #\"x",
            "a ##",
            "a /* x",
            "a // x",
            "a \"\\\n",
            "a \"\"\"\nx \"y\nb 1\n\"\"\"\nc 2\n",
            "a \"\"\"\\",
        ] {
            assert_eq!(pieces(text).concat(), text);
        }
    }

    #[test]
    fn every_truncation_of_every_construct_is_covered() {
        // An unterminated string, comment or raw string at the end of the file once indexed
        // past the end of the text.
        let text = "a \"s\\\"t\" #\"r\"# ##\"q\"## /* b /* c */ */ // d\ne {\n f \"\\\\\"\n}\n";
        for end in 0..=text.len() {
            assert_eq!(pieces(&text[..end]).concat(), &text[..end]);
        }
    }
}
