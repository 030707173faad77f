//! The code point classes of KDL v2: newlines, Unicode spaces, the code points a document may
//! not contain literally, and the characters an identifier string may hold. Kept in one place
//! so the lexer's fast ASCII paths and its full Unicode checks cannot disagree.

/// `newline`, except CRLF (two code points, handled by the lexer).
pub(super) fn is_newline(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// `unicode-space`: `White_Space` code points that are not newlines.
pub(super) fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// `disallowed-literal-code-points`, as the `kdl` crate checks them: control characters,
/// direction controls and a BOM past the start. (The spec also lists U+007F; the reference
/// implementation accepts it, and so do we, so both parsers agree on what is valid.)
pub(super) fn is_disallowed(c: char) -> bool {
    matches!(c,
        '\u{00}'..='\u{08}'
        | '\u{0E}'..='\u{1F}'
        | '\u{200E}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}'
    )
}

/// `identifier-char`.
pub(super) fn is_ident_char(c: char) -> bool {
    if c.is_ascii() {
        // The table is indexed by an ASCII byte, which is always in range.
        return IDENT_ASCII[c as usize];
    }
    !(is_newline(c) || is_space(c) || is_disallowed(c))
}

/// `identifier-char` for ASCII bytes: everything printable but `\/(){}[];"#=` and space.
pub(super) const IDENT_ASCII: [bool; 128] = {
    let mut table = [false; 128];
    let mut b: u8 = 0x21;
    while b < 0x7F {
        table[b as usize] = !matches!(
            b,
            b'\\' | b'/' | b'(' | b')' | b'{' | b'}' | b'[' | b']' | b';' | b'"' | b'#' | b'='
        );
        b += 1;
    }
    // U+007F is accepted, see `is_disallowed`.
    table[0x7F] = true;
    table
};

/// Bare words an identifier string may not be (they need a `#`).
pub(super) fn is_bare_keyword(s: &str) -> bool {
    matches!(s, "true" | "false" | "null" | "inf" | "-inf" | "nan")
}
