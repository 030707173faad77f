//! The default rendering: a header line per differing object (`~ Deployment apps/web`), one
//! line per field change, then the summary.

use super::report::{
    Change, DiffReport, FieldChange, KeyStatus, ObjectDiff, ObjectStatus, Summary,
};
use super::style::{count, Style, BOLD, CYAN, GREEN, RED, YELLOW};
use crate::value::Value;
use crate::yaml::{to_flow, to_yaml};
use similar::TextDiff;
use std::fmt::Write as _;

/// Renders the report as text.
pub(crate) fn render(report: &DiffReport, color: bool) -> String {
    let style = Style::new(color);
    let mut out = String::new();
    for object in &report.objects {
        match object.status {
            ObjectStatus::Changed => changed(&mut out, object, style),
            ObjectStatus::OnlyInA => only_in(&mut out, object, &report.a, style),
            ObjectStatus::OnlyInB => only_in(&mut out, object, &report.b, style),
        }
    }
    if !report.objects.is_empty() {
        out.push('\n');
    }
    summary(&mut out, report, style);
    out
}

/// The header of an object, as text and stat begin each line.
pub(crate) fn header(object: &ObjectDiff, style: Style) -> String {
    let (sigil, colour) = match object.status {
        ObjectStatus::Changed => ("~", YELLOW),
        ObjectStatus::OnlyInA => ("-", RED),
        ObjectStatus::OnlyInB => ("+", GREEN),
    };
    style.paint(&[BOLD, colour], &format!("{sigil} {}", object.id))
}

fn changed(out: &mut String, object: &ObjectDiff, style: Style) {
    let _ = writeln!(out, "{}", header(object, style));
    for change in &object.changes {
        field(out, change, style);
    }
    for key in &object.secret_keys {
        let line = match &key.status {
            KeyStatus::Unchanged => continue,
            KeyStatus::Changed => {
                style.paint(&[YELLOW], &format!("    secret key {}: changed", key.key))
            }
            KeyStatus::Added => {
                style.paint(&[GREEN], &format!("  + secret key {}: added", key.key))
            }
            KeyStatus::Removed => {
                style.paint(&[RED], &format!("  - secret key {}: removed", key.key))
            }
            KeyStatus::NotCompared { reason } => {
                format!("    secret key {}: not compared ({reason})", key.key)
            }
        };
        let _ = writeln!(out, "{line}");
    }
}

fn field(out: &mut String, change: &FieldChange, style: Style) {
    let path = &change.path;
    match &change.change {
        Change::Changed {
            a: Value::String(a),
            b: Value::String(b),
        } if a.contains('\n') || b.contains('\n') => {
            let _ = writeln!(
                out,
                "{}",
                style.paint(&[YELLOW], &format!("    {path}: (text changed)"))
            );
            let diff = TextDiff::from_lines(a, b);
            for hunk in diff.unified_diff().context_radius(2).iter_hunks() {
                for line in hunk.to_string().lines() {
                    let colour: &[&str] = match line.as_bytes().first() {
                        Some(b'-') => &[RED],
                        Some(b'+') => &[GREEN],
                        Some(b'@') => &[CYAN],
                        _ => &[],
                    };
                    let _ = writeln!(out, "      {}", style.paint(colour, line));
                }
            }
        }
        Change::Changed { a, b } => {
            let mut line = format!("    {path}: {} -> {}", to_flow(a), to_flow(b));
            if a.type_name() != b.type_name() {
                let _ = write!(line, " ({} -> {})", a.type_name(), b.type_name());
            }
            let _ = writeln!(out, "{}", style.paint(&[YELLOW], &line));
        }
        Change::Added { b } => {
            let _ = writeln!(
                out,
                "{}",
                style.paint(&[GREEN], &format!("  + {path}: {}", to_flow(b)))
            );
        }
        Change::Removed { a } => {
            let _ = writeln!(
                out,
                "{}",
                style.paint(&[RED], &format!("  - {path}: {}", to_flow(a)))
            );
        }
    }
}

fn only_in(out: &mut String, object: &ObjectDiff, label: &str, style: Style) {
    let _ = writeln!(out, "{} (only in {label})", header(object, style));
    let (snapshot, colour) = match object.status {
        ObjectStatus::OnlyInA => (object.a.as_ref(), RED),
        _ => (object.b.as_ref(), GREEN),
    };
    if let Some(body) = snapshot.and_then(|s| s.body.as_ref()) {
        for line in to_yaml(body).lines() {
            let _ = writeln!(out, "    {}", style.paint(&[colour], line));
        }
    }
}

/// The summary lines, shared with the stat rendering.
pub(crate) fn summary(out: &mut String, report: &DiffReport, style: Style) {
    let Summary {
        changed,
        only_in_a,
        only_in_b,
        unchanged,
        secret_keys: keys,
        not_compared,
    } = &report.summary;
    let line = format!(
        "{} changed, {only_in_a} only in {}, {only_in_b} only in {} ({unchanged} unchanged)",
        count(*changed, "object", "objects"),
        report.a,
        report.b,
    );
    let _ = writeln!(out, "{}", style.paint(&[BOLD], &line));
    let total = keys.changed + keys.unchanged + keys.added + keys.removed + keys.not_compared;
    if total > 0 {
        let _ = writeln!(
            out,
            "secret keys: {} changed, {} added, {} removed, {} not compared ({} unchanged)",
            keys.changed, keys.added, keys.removed, keys.not_compared, keys.unchanged
        );
    }
    for group in not_compared {
        let _ = writeln!(
            out,
            "  not compared ({}): {} ({})",
            group.reason,
            group.secrets.join(", "),
            count(group.keys, "key", "keys")
        );
    }
}
