//! Rendered text to objects: split documents, check each is a Kubernetes object, and give it
//! its place in the out/ tree (`<layer>/<namespace>/<service>/<kind>-<name>.yaml`).

use super::RenderError;
use crate::diagnostics::Diagnostics;
use crate::object::{ObjectId, Origin, RenderedObject};
use crate::resolve::ResolvedService;
use crate::source::FileId;
use crate::value::Value;
use miette::NamedSource;
use std::sync::Arc;

/// Parses rendered (or plain) YAML into objects of `service`; `file` is the template or
/// manifest it came from, with its source text (for a manifest, `text` itself).
pub fn objects_from_yaml(
    text: &str,
    origin: &str,
    unit: &str,
    service: &ResolvedService,
    file: (FileId, &str),
) -> Result<Vec<RenderedObject>, Diagnostics> {
    let (template, source_name) = if origin.ends_with(".j2") {
        (
            format!("templates/{origin}"),
            format!("templates/{origin} (rendered)"),
        )
    } else {
        (origin.to_string(), origin.to_string())
    };
    let source = || NamedSource::new(source_name.clone(), Arc::<str>::from(text));
    let docs = crate::yaml::parse_documents(text).map_err(|e| {
        Diagnostics::from(RenderError::InvalidYaml {
            template: template.clone(),
            unit: unit.to_string(),
            message: e.message,
            src: source(),
            span: (e.offset, 0).into(),
        })
    })?;
    // Where each document sits in the text, to label it; when the cut disagrees with the
    // parser (a `---` inside a block scalar), labels fall back to the top of the text.
    let spans = document_spans(text);
    let located = spans.len() == docs.len();
    // The same cut over the template source, when it has as many documents as it rendered.
    let file_spans = document_spans(file.1);
    let file_located = file_spans.len() == docs.len();
    let origin_name = template.clone();
    let mut errors = Diagnostics::new();
    let mut objects = Vec::new();
    for (index, body) in docs.into_iter().enumerate() {
        let (start, end) = if located { spans[index] } else { (0, 0) };
        if !matches!(body, Value::Map(_)) {
            errors.push(RenderError::NotAnObject {
                origin: origin.to_string(),
                unit: unit.to_string(),
                index: index + 1,
                reason: format!("it is a {}", body.type_name()),
                src: source(),
                span: (start, end - start).into(),
            });
            continue;
        }
        let id = match ObjectId::of(&body) {
            Ok(id) => id,
            Err(missing) => {
                errors.push(RenderError::NotAnObject {
                    origin: origin.to_string(),
                    unit: unit.to_string(),
                    index: index + 1,
                    reason: format!("`{missing}` is missing or not a string"),
                    src: source(),
                    span: (start, end - start).into(),
                });
                continue;
            }
        };
        if !is_object_name(&id.name) || !id.kind.chars().all(|c| c.is_ascii_alphanumeric()) {
            errors.push(RenderError::InvalidObjectName {
                origin: origin.to_string(),
                unit: unit.to_string(),
                name: format!("{}/{}", id.kind, id.name),
                src: source(),
                span: text[start..end]
                    .find(&id.name)
                    .map_or((start, end - start), |at| (start + at, id.name.len()))
                    .into(),
            });
            continue;
        }
        let scope = crate::layout::check_scope(
            &crate::layout::ScopeCheck {
                id: &id,
                service_namespace: &service.namespace,
                service: &service.name,
                cluster_kinds: &service.cluster_kinds,
                origin,
                unit,
                document: (&text[start..end], start),
            },
            source,
        );
        if let Err(e) = scope {
            errors.push(*e);
            continue;
        }
        let path = crate::layout::object_path(
            &service.layer,
            &service.namespace,
            Some(&service.name),
            &id,
        );
        let (from, to) = if file_located {
            file_spans[index]
        } else {
            (0, file.1.find('\n').unwrap_or(file.1.len()))
        };
        objects.push(RenderedObject {
            id,
            body,
            service: Some(service.name.clone()),
            path,
            origin: Some(Origin {
                name: origin_name.clone(),
                file: file.0,
                document: index + 1,
                span: (from, to - from),
            }),
        });
    }
    errors.into_result(objects)
}

/// The byte ranges of the non-empty documents of a YAML text, cut at `---` lines.
pub(super) fn document_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    let mut push = |from: usize, to: usize| {
        let body = &text[from..to];
        let empty = body.lines().all(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with('#') || l == "..."
        });
        if !empty {
            spans.push((from, to));
        }
    };
    // Only lines that start with `---` can cut, so the search is for those three bytes (a
    // match cannot span a line break, so none hides one at a line's start). memchr's
    // vectorized search: std's `match_indices` was 3% of a fresh `build --check`.
    for at in memchr::memmem::find_iter(text.as_bytes(), b"---") {
        if at > 0 && text.as_bytes()[at - 1] != b'\n' {
            continue;
        }
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
        if text[at + 3..end].trim().is_empty() {
            push(start, at);
            start = end;
        }
    }
    push(start, text.len());
    spans
}

/// A DNS-1123 subdomain: what Kubernetes allows as most object names, and safe as a file name.
fn is_object_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(crate::model::is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::document_spans;

    #[test]
    fn documents_are_cut_at_separator_lines() {
        let text = "a: 1\n---\n# only a comment\n---\nb: 2\nc: \"---\"\n--- \nd: 3\n";
        let spans: Vec<&str> = document_spans(text)
            .into_iter()
            .map(|(s, e)| &text[s..e])
            .collect();
        assert_eq!(spans, ["a: 1\n", "b: 2\nc: \"---\"\n", "d: 3\n"]);
    }

    /// The cut as it was, line by line, for comparison.
    fn by_lines(text: &str) -> Vec<(usize, usize)> {
        let mut spans = Vec::new();
        let (mut start, mut offset) = (0, 0);
        let mut push = |from: usize, to: usize| {
            let empty = text[from..to].lines().all(|l| {
                let l = l.trim();
                l.is_empty() || l.starts_with('#') || l == "..."
            });
            if !empty {
                spans.push((from, to));
            }
        };
        for line in text.split_inclusive('\n') {
            if line.starts_with("---") && line[3..].trim().is_empty() {
                push(start, offset);
                start = offset + line.len();
            }
            offset += line.len();
        }
        push(start, text.len());
        spans
    }

    #[test]
    fn the_cut_is_the_line_by_line_one() {
        let pieces = [
            "---", "----", "--- ", "---\t", " ---", "-- -", "a: 1", "# c", "...", "", "x---",
            "---x", "\u{a0}", "é---",
        ];
        // Every text of up to four lines from these pieces, with and without a final break.
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            let mut longer = Vec::new();
            for text in &texts {
                for piece in pieces {
                    longer.push(format!("{text}{piece}\n"));
                }
            }
            texts.extend(longer);
        }
        for text in &texts {
            assert_eq!(document_spans(text), by_lines(text), "{text:?}");
            let open = text.trim_end_matches('\n');
            assert_eq!(document_spans(open), by_lines(open), "{open:?}");
        }
    }
}
