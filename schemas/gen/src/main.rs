//! Writes the JSON schemas that stackc compiles into its binary (`schemas/*.json`), so that
//! `stackc check` validates rendered objects offline. Run through
//! `scripts/regenerate-schemas`, which builds this crate once per Kubernetes version.
//!
//! - `builtin KUBE_VERSION OUT`: the built-in kinds of that version, from k8s-openapi's
//!   schemars impls (the crate must be built with the matching `v1_NN` feature).
//! - `crds SOURCE_DIR OUT`: the CRD kinds stackc emits or the example uses, read from the
//!   kopium-generated source of kube-custom-resources-rs.
//!
//! Both documents have one shape: `{"kinds": {"group/version/Kind": "def"}, "$defs": {..}}`,
//! made strict by [`strict::tighten`].

mod builtin;
mod crd;
mod strict;

use serde_json::{Map, Value};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [what, version, out] if what == "builtin" => write(out, &builtin::document(version)),
        [what, dir, out] if what == "crds" => crd::document(dir).and_then(|d| write(out, &d)),
        _ => Err("usage: stackc-schema-gen builtin 1.NN OUT | crds SOURCE_DIR OUT".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("stackc-schema-gen: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The document of `kinds` and `defs`, strict, with a header saying where it came from.
pub fn assemble(source: &str, kinds: Map<String, Value>, mut defs: Map<String, Value>) -> Value {
    for schema in defs.values_mut() {
        strict::tighten(schema);
    }
    let mut doc = Map::new();
    doc.insert("source".into(), source.into());
    doc.insert("kinds".into(), Value::Object(kinds));
    doc.insert("$defs".into(), Value::Object(defs));
    Value::Object(doc)
}

fn write(path: &str, doc: &Value) -> Result<(), String> {
    // One line per definition: small, and a regeneration diffs by definition.
    let mut text = String::from("{\n");
    let obj = doc.as_object().ok_or("not an object")?;
    let mut first = true;
    for (key, value) in obj {
        if key == "$defs" || key == "kinds" {
            continue;
        }
        text.push_str(&format!(
            "{}{:?}: {value}",
            if first { "" } else { ",\n" },
            key
        ));
        first = false;
    }
    for section in ["kinds", "$defs"] {
        text.push_str(&format!(",\n{section:?}: {{\n"));
        let entries = obj[section].as_object().ok_or("section")?;
        let lines: Vec<String> = entries
            .iter()
            .map(|(k, v)| format!("{}: {v}", Value::String(k.clone())))
            .collect();
        text.push_str(&lines.join(",\n"));
        text.push_str("\n}");
    }
    text.push_str("\n}\n");
    serde_json::from_str::<Value>(&text).map_err(|e| format!("bad output: {e}"))?;
    std::fs::write(path, text).map_err(|e| format!("{path}: {e}"))
}
