//! From a field path of a rendered object back to the template line that wrote it. The
//! template is text, not YAML, so this follows the path's keys down the object's document in
//! the template source, in order, as far as they are literally there; a key produced by an
//! expression (or in a shared include) leaves the last one found, or the document's start.

use crate::check::{Context, EnvCheck};
use crate::object::{Origin, RenderedObject};
use crate::source::{Sources, Span};

/// The span in the template of the deepest key of `path` found in `origin`'s document.
pub fn field_span(sources: &Sources, origin: &Origin, path: &[String]) -> Span {
    let text = &sources.file(origin.file).text;
    let (start, len) = origin.span;
    let end = (start + len).min(text.len());
    let doc = text.get(start..end).unwrap_or_default();
    let first_line = doc.find('\n').unwrap_or(doc.len());
    let mut found = Span {
        file: origin.file,
        offset: start,
        len: first_line,
    };
    let mut from = 0;
    for key in path.iter().filter(|k| k.parse::<usize>().is_err()) {
        match find_key(doc, from, key) {
            Some(at) => {
                found = Span {
                    file: origin.file,
                    offset: start + at,
                    len: key.len(),
                };
                from = at + key.len();
            }
            None => break,
        }
    }
    found
}

/// The offset of `key` written as a YAML key (`key:` at a line's start, after indentation
/// or a `- `) at or after `from`.
fn find_key(doc: &str, from: usize, key: &str) -> Option<usize> {
    let mut offset = 0;
    for line in doc.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        if line_start + line.len() <= from {
            continue;
        }
        let trimmed = line.trim_start_matches([' ', '-']);
        let indent = line.len() - trimmed.len();
        let bare = trimmed
            .strip_prefix(key)
            .is_some_and(|rest| rest.starts_with(':'));
        let quoted = trimmed
            .strip_prefix(&format!("\"{key}\""))
            .is_some_and(|rest| rest.starts_with(':'));
        if (bare || quoted) && line_start + indent >= from {
            return Some(line_start + indent + usize::from(quoted));
        }
    }
    None
}

/// Where a finding about `path` of `object` points: the template line when the object came
/// from a user's template or manifest, else the service's declaration.
pub fn location(
    ctx: &Context<'_>,
    env: &EnvCheck<'_>,
    object: &RenderedObject,
    path: &[String],
) -> Option<crate::source::Span> {
    let service = object.service.as_deref().and_then(|name| env.service(name));
    if let Some(origin) = &object.origin {
        let span = field_span(&ctx.stack.sources, origin, path);
        return Some(match service {
            Some(service) => ctx.user_span(service, span),
            None => span,
        });
    }
    service.map(|s| s.span)
}

#[cfg(test)]
mod tests {
    use super::find_key;

    #[test]
    fn keys_are_found_in_order_as_yaml_keys() {
        let doc = "spec:\n  template:\n    spec:\n      containers:\n        - name: web\n          imagee: x\n";
        let spec = find_key(doc, 0, "spec").unwrap();
        assert_eq!(spec, 0);
        let inner = find_key(doc, spec + 4, "spec").unwrap();
        assert_eq!(&doc[inner..inner + 5], "spec:");
        let name = find_key(doc, inner, "name").unwrap();
        assert_eq!(&doc[name..name + 9], "name: web");
        assert!(find_key(doc, 0, "image").is_none());
        assert!(find_key("a: \"imagee: x\"\n", 0, "imagee").is_none());
    }
}
