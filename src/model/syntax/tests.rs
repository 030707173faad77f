//! Unit tests: one per grammar feature and per error.

use super::{Document, Value};

fn parse(text: &str) -> Document {
    match Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => panic!("{text:?} should parse: {:?}", e.diagnostics),
    }
}

#[test]
fn smoke() {
    let doc = parse("node 1 key=\"v\" { child }\n");
    assert_eq!(doc.nodes().len(), 1);
    assert_eq!(doc.nodes()[0].entries()[0].value(), &Value::Integer(1));
}
