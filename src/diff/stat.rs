//! The short rendering: one line per differing object with how much changed, then the
//! summary (like `git diff --stat`).

use super::report::{DiffReport, ObjectStatus};
use super::style::{count, Style};
use super::text::{header, summary};
use std::fmt::Write as _;

/// Renders the report as a stat.
pub(crate) fn render(report: &DiffReport, color: bool) -> String {
    let style = Style::new(color);
    let plain = Style::new(false);
    let width = report
        .objects
        .iter()
        .map(|o| header(o, plain).chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for object in &report.objects {
        let detail = match object.status {
            ObjectStatus::Changed => {
                let mut parts = Vec::new();
                if !object.changes.is_empty() {
                    parts.push(count(object.changes.len(), "field", "fields"));
                }
                let keys = object.secret_keys_differing();
                if keys > 0 {
                    parts.push(count(keys, "secret key", "secret keys"));
                }
                parts.join(", ")
            }
            ObjectStatus::OnlyInA => format!("only in {}", report.a),
            ObjectStatus::OnlyInB => format!("only in {}", report.b),
        };
        let pad = width.saturating_sub(header(object, plain).chars().count());
        let _ = writeln!(
            out,
            "{}{} | {detail}",
            header(object, style),
            " ".repeat(pad)
        );
    }
    if !report.objects.is_empty() {
        out.push('\n');
    }
    summary(&mut out, report, style);
    out
}
