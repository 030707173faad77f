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
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut nesting = 0;
                while i < bytes.len() {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        nesting += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        nesting -= 1;
                        i += 2;
                        if nesting == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'-') => {
                // A slashdash may comment out the next node across lines: no cut until it ends.
                continued = true;
            }
            b'#' if bytes.get(i + 1) == Some(&b'"') || bytes.get(i + 1) == Some(&b'#') => {
                // Raw string: #"..."#, ##"..."## (possibly multi-line).
                let hashes = bytes[i..].iter().take_while(|b| **b == b'#').count();
                if bytes.get(i + hashes) != Some(&b'"') {
                    i += hashes;
                    continue;
                }
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                i += hashes + 1;
                while i < bytes.len() && !bytes[i..].starts_with(&close) {
                    i += 1;
                }
                i += close.len();
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
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
        if bytes[i] == b'\n' && depth == 0 {
            continued = false;
        }
        i += 1;
    }
    out
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
        ] {
            assert_eq!(pieces(text).concat(), text);
        }
    }
}
