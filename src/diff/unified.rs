//! A plain unified diff of each differing object's YAML, for review tools.
//!
//! Each side shows its normalized, redacted body, so the hunks show what the semantic diff
//! found and not the expected differences (placeholders such as `<domain>` appear instead);
//! the `--- a/<label>/<path>` and `+++ b/<label>/<path>` headers name the real files, and
//! `/dev/null` stands for a missing side. An object whose only difference is in secret values
//! has no hunks, since values are redacted; the other renderings report it.

use super::report::{DiffReport, ObjectSnapshot};
use super::style::{Style, BOLD, CYAN, GREEN, RED};
use crate::yaml::to_yaml;
use similar::TextDiff;
use std::fmt::Write as _;

/// Renders the report as a unified diff.
pub(crate) fn render(report: &DiffReport, color: bool) -> String {
    let style = Style::new(color);
    let mut out = String::new();
    for object in &report.objects {
        let text = |s: Option<&ObjectSnapshot>| {
            s.and_then(|s| s.normalized.as_ref())
                .map(to_yaml)
                .unwrap_or_default()
        };
        let (a, b) = (text(object.a.as_ref()), text(object.b.as_ref()));
        if a == b {
            continue;
        }
        let name = |prefix: &str, label: &str, s: Option<&ObjectSnapshot>| {
            s.map_or_else(
                || "/dev/null".to_string(),
                |s| format!("{prefix}/{label}/{}", s.path),
            )
        };
        let old = name("a", &report.a, object.a.as_ref());
        let new = name("b", &report.b, object.b.as_ref());
        let diff = TextDiff::from_lines(&a, &b);
        let rendered = diff
            .unified_diff()
            .context_radius(3)
            .header(&old, &new)
            .to_string();
        for line in rendered.lines() {
            let paint: &[&str] = if line.starts_with("---") || line.starts_with("+++") {
                &[BOLD]
            } else {
                match line.as_bytes().first() {
                    Some(b'-') => &[RED],
                    Some(b'+') => &[GREEN],
                    Some(b'@') => &[CYAN],
                    _ => &[],
                }
            };
            let _ = writeln!(out, "{}", style.paint(paint, line));
        }
    }
    out
}
