//! Is a file a plaintext secret? A pure function of the path and the bytes: a YAML
//! document of `kind: Secret` must carry its own complete `sops` block with every `data` and
//! `stringData` value encrypted (as Flux decrypts document by document), and a secrets store
//! (`*.sops.yaml`, `*.sops.yml`, `*.sops.json`) must be a SOPS file whose every value its
//! rule covers is encrypted. Findings name the file, the document and the line, never a value.

use super::{Rule, SopsFile};
use crate::value::Value;

/// A staged file the hook refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: String,
    /// 1-based line where the problem starts (the document, or the first plaintext key).
    pub line: usize,
    pub problem: String,
}

/// The problems of one staged file (empty when it may be committed).
pub fn scan(path: &str, bytes: &[u8]) -> Vec<Finding> {
    let lower = path.to_ascii_lowercase();
    let is_store = [".sops.yaml", ".sops.yml", ".sops.json"]
        .iter()
        .any(|ext| lower.ends_with(ext));
    let is_yaml = is_store || lower.ends_with(".yaml") || lower.ends_with(".yml");
    // Most YAML files are not Secrets: a byte search spares parsing them.
    if !is_yaml || (!is_store && !bytes.windows(6).any(|w| w == b"Secret")) {
        return Vec::new();
    }
    let finding = |line: usize, problem: String| Finding {
        path: path.to_string(),
        line,
        problem,
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return if is_store {
            vec![finding(
                1,
                "a secrets store that is not UTF-8 text (not a SOPS file)".into(),
            )]
        } else {
            Vec::new()
        };
    };
    if is_store {
        return scan_store(path, text)
            .into_iter()
            .map(|(line, problem)| finding(line, problem))
            .collect();
    }
    let mut out = Vec::new();
    for (index, (start_line, doc_text)) in documents(text).into_iter().enumerate() {
        // Documents that are not YAML are another tool's business; a Secret is only refused
        // when it is recognisably one.
        let Ok(docs) = crate::yaml::parse_documents(doc_text) else {
            continue;
        };
        let Some(Value::Map(doc)) = docs.into_iter().next() else {
            continue;
        };
        if doc.get("kind").and_then(Value::as_str) != Some("Secret") {
            continue;
        }
        if let Some((offset, problem)) = secret_problem(path, doc_text, &doc) {
            out.push(finding(
                start_line + offset,
                format!("document {} is a Kubernetes Secret {problem}", index + 1),
            ));
        }
    }
    out
}

/// Why a Secret document is not sealed (and the line offset in the document), or `None`.
fn secret_problem(path: &str, text: &str, doc: &crate::value::Map) -> Option<(usize, String)> {
    let has_values = ["data", "stringData"].iter().any(|section| {
        doc.get(*section)
            .and_then(Value::as_map)
            .is_some_and(|m| !m.is_empty())
    });
    if !doc.contains_key("sops") {
        if !has_values {
            return None;
        }
        let line = line_of_key(text, &["stringData", "data"]);
        return Some((
            line,
            "with plaintext values (no `sops` block): encrypt it (stackc `secret` declarations, or `sops -e`)".into(),
        ));
    }
    let file = match SopsFile::parse(path, text) {
        Ok(file) => file,
        Err(e) => return Some((0, format!("whose `sops` block is not valid ({e})"))),
    };
    for section in ["data", "stringData"] {
        let Some(values) = file
            .documents()
            .first()?
            .get(section)
            .and_then(Value::as_map)
        else {
            continue;
        };
        for (key, value) in values {
            if !is_sealed_leaf(value) {
                return Some((
                    line_of_key(text, &[section]),
                    format!("whose `{section}.{key}` is not encrypted"),
                ));
            }
        }
    }
    None
}

fn is_sealed_leaf(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty() || super::cipher::is_encrypted(s),
        Value::Null => true,
        _ => false,
    }
}

/// A secrets store: a SOPS file whose rule-covered values are all encrypted.
fn scan_store(path: &str, text: &str) -> Vec<(usize, String)> {
    let file = match SopsFile::parse(path, text) {
        Ok(file) => file,
        Err(e) => {
            return vec![(
                1,
                format!("a secrets store that is not an encrypted SOPS file ({e})"),
            )]
        }
    };
    if file.recipients().is_empty() {
        return vec![(
            1,
            "a secrets store with no age recipient (stackc and Flux's age decryption cannot open it)"
                .into(),
        )];
    }
    let rule = &file.metadata().rule;
    let mut out = Vec::new();
    for (index, doc) in file.documents().iter().enumerate() {
        let mut path_keys = Vec::new();
        if let Some(key) = first_plaintext(&Value::Map(doc.clone()), rule, &mut path_keys) {
            out.push((
                line_of_key(text, &[key.rsplit('.').next().unwrap_or(&key)]),
                format!(
                    "a secrets store whose `{key}` (document {}) is not encrypted",
                    index + 1
                ),
            ));
        }
    }
    out
}

/// The dotted path of the first leaf the rule encrypts that holds plaintext.
fn first_plaintext(value: &Value, rule: &Rule, at: &mut Vec<String>) -> Option<String> {
    match value {
        Value::Map(map) => {
            for (key, child) in map {
                at.push(key.clone());
                let found = first_plaintext(child, rule, at);
                at.pop();
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        Value::List(items) => items
            .iter()
            .find_map(|item| first_plaintext(item, rule, at)),
        Value::Null => None,
        Value::String(s) if s.is_empty() || super::cipher::is_encrypted(s) => None,
        _ if rule.encrypts(at) => Some(at.join(".")),
        _ => None,
    }
}

/// The documents of a YAML text with the 1-based line each starts on, cut at `---` lines.
fn documents(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let (mut start, mut start_line, mut offset) = (0, 1, 0);
    for (number, line) in text.split_inclusive('\n').enumerate() {
        if line.starts_with("---") && line[3..].trim().is_empty() {
            out.push((start_line, &text[start..offset]));
            start = offset + line.len();
            start_line = number + 2;
        }
        offset += line.len();
    }
    out.push((start_line, &text[start..]));
    out
}

/// The 0-based line offset of the first top-level `key:` among `keys` in a document.
fn line_of_key(text: &str, keys: &[&str]) -> usize {
    text.lines()
        .position(|l| {
            keys.iter().any(|k| {
                l.strip_prefix(k)
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
                    || l.trim_start()
                        .strip_prefix(k)
                        .is_some_and(|rest| rest.starts_with(':'))
            })
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: hunter2\n";

    #[test]
    fn a_plaintext_secret_in_a_multi_document_file_is_found_without_its_value() {
        let found = scan("deploy/app.yaml", PLAIN.as_bytes());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].line, 10);
        assert!(found[0]
            .problem
            .starts_with("document 2 is a Kubernetes Secret"));
        assert!(!format!("{found:?}").contains("hunter2"));
    }

    #[test]
    fn files_that_are_not_secrets_pass() {
        for (path, text) in [
            ("a.yaml", "kind: ConfigMap\ndata:\n  a: b\n"),
            ("a.yaml", "kind: Secret\nmetadata:\n  name: empty\n"),
            ("README.md", "kind: Secret\nstringData:\n  a: b\n"),
            ("broken.yaml", "kind: Secret\n  stringData: [\n"),
        ] {
            assert!(scan(path, text.as_bytes()).is_empty(), "{path}: {text}");
        }
    }

    #[test]
    fn a_store_must_be_sops() {
        let found = scan(
            "environments/dev.secrets.sops.yaml",
            b"db:\n  password: x\n",
        );
        assert_eq!(found.len(), 1);
        assert!(found[0].problem.contains("not an encrypted SOPS file"));
        assert!(!scan("x.sops.yaml", &[0xff, 0xfe]).is_empty());
    }

    #[test]
    fn documents_are_numbered_by_line() {
        assert_eq!(
            documents("a: 1\n---\nb: 2\n--- \nc: 3\n"),
            [(1, "a: 1\n"), (3, "b: 2\n"), (5, "c: 3\n")]
        );
    }
}
