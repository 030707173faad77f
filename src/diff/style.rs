//! ANSI colour for the text, stat and unified renderings, on only when the caller asks.
//! A handful of SGR codes does not justify a dependency.

pub(crate) const BOLD: &str = "1";
pub(crate) const RED: &str = "31";
pub(crate) const GREEN: &str = "32";
pub(crate) const YELLOW: &str = "33";
pub(crate) const CYAN: &str = "36";

/// Paints text with SGR codes when enabled, and leaves it alone otherwise.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Style {
    enabled: bool,
}

impl Style {
    pub(crate) fn new(enabled: bool) -> Style {
        Style { enabled }
    }

    /// `text` wrapped in the codes (`"1;33"` for bold yellow) and a reset.
    pub(crate) fn paint(self, codes: &[&str], text: &str) -> String {
        if self.enabled && !codes.is_empty() && !text.is_empty() {
            format!("\x1b[{}m{text}\x1b[0m", codes.join(";"))
        } else {
            text.to_string()
        }
    }
}

/// `1 object` / `3 objects`.
pub(crate) fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paints_only_when_enabled() {
        let cases = [
            (true, &[RED][..], "x", "\x1b[31mx\x1b[0m"),
            (true, &[BOLD, YELLOW][..], "x", "\x1b[1;33mx\x1b[0m"),
            (true, &[RED][..], "", ""),
            (false, &[RED][..], "x", "x"),
        ];
        for (enabled, codes, text, expected) in cases {
            assert_eq!(Style::new(enabled).paint(codes, text), expected);
        }
    }

    #[test]
    fn counts_pluralize() {
        assert_eq!(count(1, "object", "objects"), "1 object");
        assert_eq!(count(0, "object", "objects"), "0 objects");
        assert_eq!(count(3, "object", "objects"), "3 objects");
    }
}
