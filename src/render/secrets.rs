//! No plaintext Secret reaches out/: a template or manifest document of kind `Secret` is
//! refused unless it is a SOPS-encrypted manifest adopted from an existing repository whose
//! metadata is well-formed, whose age recipients are exactly the environment's, and whose
//! `data`/`stringData` values are all ciphertext. Secrets are otherwise declared with
//! `secret` in `stacks.kdl`, and stackc seals them itself. Diagnostics show the document with
//! every value outside its identity blanked, so an error never prints a secret.

use super::error::RenderError;
use crate::diagnostics::Diagnostics;
use crate::model::Stack;
use crate::object::{Origin, RenderedObject};
use crate::resolve::ResolvedEnvironment;
use crate::value::Value;
use miette::NamedSource;
use std::sync::Arc;

/// Refuses every Secret among `objects` that stackc did not seal and cannot pass through.
pub fn check_secrets(
    stack: &Stack,
    env: &ResolvedEnvironment,
    unit: &str,
    objects: &[RenderedObject],
) -> Result<(), Diagnostics> {
    let mut errors = Diagnostics::new();
    for object in objects {
        let Some(origin) = &object.origin else {
            continue;
        };
        if object.id.kind != "Secret" {
            continue;
        }
        let problem = if origin.name.starts_with("templates/") {
            Some(
                "a template cannot emit a Secret: its values would be written in clear".to_string(),
            )
        } else if object.body.as_map().is_some_and(|m| m.contains_key("sops")) {
            adopted_problem(stack, env, origin, &object.body)
        } else {
            Some("it is not encrypted: its values would be written to out/ in clear".to_string())
        };
        if let Some(problem) = problem {
            let text = &stack.sources.file(origin.file).text;
            let (shown, span) = redacted(text, origin.span);
            errors.push(RenderError::PlaintextSecret {
                origin: origin.name.clone(),
                unit: unit.to_string(),
                index: origin.document,
                name: object.id.to_string(),
                problem,
                src: NamedSource::new(origin.name.clone(), Arc::from(shown)),
                span: span.into(),
            });
        }
    }
    errors.into_result(())
}

/// Why an adopted SOPS Secret cannot be written through, if it cannot.
fn adopted_problem(
    stack: &Stack,
    env: &ResolvedEnvironment,
    origin: &Origin,
    body: &Value,
) -> Option<String> {
    // The document is written out as a file of its own, so it must be a SOPS file on its
    // own: a manifest may hold several Secrets, each encrypted by itself.
    let file = match crate::seal::SopsFile::parse(&origin.name, &crate::yaml::to_yaml(body)) {
        Ok(file) => file,
        // The message names the problem in the metadata, never a value.
        Err(e) => return Some(format!("its SOPS metadata is not well-formed: {e}")),
    };
    // `sops encrypt` of a whole multi-document file gives every document the same block and
    // one MAC over all of them: a document cut out of it no longer verifies.
    let text = &stack.sources.file(origin.file).text;
    let block = body.get_path("sops");
    let sharing = crate::yaml::parse_documents(text).map_or(0, |docs| {
        docs.iter().filter(|d| d.get_path("sops") == block).count()
    });
    if sharing > 1 {
        return Some(format!(
            "it was encrypted together with {} other document(s) of {} (one `sops` block and one MAC over all of them), so it cannot be written to a file of its own; encrypt each Secret by itself (`sops encrypt` one document) and join the files with `---`",
            sharing - 1,
            origin.name
        ));
    }
    let recipients = file.recipients();
    if recipients != env.recipients {
        return Some(format!(
            "it is encrypted to {} but environment {} encrypts to {}",
            list(&recipients),
            env.name,
            list(&env.recipients)
        ));
    }
    for key in ["data", "stringData"] {
        if let Some(value) = body.get_path(key) {
            if let Some(path) = plaintext_leaf(value, key) {
                return Some(format!("`{path}` is not encrypted"));
            }
        }
    }
    None
}

fn list(recipients: &[String]) -> String {
    if recipients.is_empty() {
        "no age recipient".to_string()
    } else {
        recipients.join(", ")
    }
}

/// The first leaf under `value` that is not SOPS ciphertext.
fn plaintext_leaf(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::Map(map) => map
            .iter()
            .find_map(|(k, v)| plaintext_leaf(v, &format!("{path}.{k}"))),
        Value::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| plaintext_leaf(v, &format!("{path}[{i}]"))),
        Value::String(s) if s.starts_with("ENC[AES256_GCM,") => None,
        _ => Some(path.to_string()),
    }
}

/// The document at `span` of `text` with only its structure and identity shown: lines before
/// it become empty (so line numbers hold), and every value except `apiVersion`, `kind`,
/// `type` and those under `metadata` is replaced by `…`. Also returns the label span: the
/// `kind:` line, or the start of the document.
fn redacted(text: &str, span: (usize, usize)) -> (String, (usize, usize)) {
    let (start, len) = span;
    let end = (start + len).min(text.len());
    let start = start.min(end);
    let mut out = "\n".repeat(text[..start].matches('\n').count());
    let mut label = (out.len(), 0);
    let mut in_metadata = false;
    for line in text[start..end].split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let top_level = !body.starts_with([' ', '\t', '-']) && !body.is_empty();
        if top_level {
            in_metadata = body.starts_with("metadata:");
        }
        let keep = (top_level
            && ["apiVersion:", "kind:", "type:", "metadata:", "---", "#"]
                .iter()
                .any(|p| body.starts_with(p)))
            || (in_metadata && !top_level);
        let shown = if keep || body.trim().is_empty() {
            body.to_string()
        } else {
            match body.find(':') {
                Some(at) => format!("{}: …", &body[..at]),
                None => String::new(),
            }
        };
        if body.starts_with("kind:") {
            label = (out.len(), shown.len());
        }
        out.push_str(&shown);
        out.push('\n');
    }
    (out, label)
}

#[cfg(test)]
mod tests {
    #[test]
    fn redaction_keeps_identity_and_blanks_values() {
        let text = "a: 1\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  password: hunter2\ndata: {k: aGk=}\nblock: |\n  secret text\n";
        let start = text.find("apiVersion").unwrap();
        let (shown, (at, len)) = super::redacted(text, (start, text.len() - start));
        assert!(
            !shown.contains("hunter2") && !shown.contains("aGk=") && !shown.contains("secret text"),
            "{shown}"
        );
        assert!(
            shown.contains("  name: x") && shown.contains("  password: …"),
            "{shown}"
        );
        assert_eq!(&shown[at..at + len], "kind: Secret");
        assert_eq!(shown.lines().position(|l| l == "kind: Secret"), Some(3));
    }
}
