//! Unit tests: one per grammar feature and per error, spans, the nesting cap, and inputs that
//! must neither panic nor take long.

use super::{Document, Node, SyntaxError, Value, MAX_DEPTH};
use miette::SourceSpan;

fn parse(text: &str) -> Document {
    match Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => panic!("{text:?} should parse: {:?}", e.diagnostics),
    }
}

fn fail(text: &str) -> SyntaxError {
    match Document::parse(text) {
        Ok(doc) => panic!("{text:?} should not parse: {doc:?}"),
        Err(e) => e,
    }
}

/// The first error's message.
fn message(text: &str) -> String {
    fail(text).diagnostics[0]
        .message
        .clone()
        .unwrap_or_default()
}

fn node(text: &str) -> Node {
    let doc = parse(text);
    assert_eq!(doc.nodes().len(), 1, "{text:?}");
    doc.nodes()[0].clone()
}

/// The values of the one node's arguments.
fn args(text: &str) -> Vec<Value> {
    node(text)
        .entries()
        .iter()
        .map(|e| e.value().clone())
        .collect()
}

fn arg(text: &str) -> Value {
    let mut v = args(text);
    assert_eq!(v.len(), 1, "{text:?}");
    v.remove(0)
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn text_of(text: &str, span: SourceSpan) -> &str {
    &text[span.offset()..span.offset() + span.len()]
}

#[test]
fn identifier_strings() {
    for (text, want) in [
        ("n foo", "foo"),
        ("n foo-bar_baz.qux", "foo-bar_baz.qux"),
        ("n -", "-"),
        ("n +x", "+x"),
        ("n --x", "--x"),
        ("n .", "."),
        ("n .x", ".x"),
        ("n -.x", "-.x"),
        ("n héllo", "héllo"),
        ("n 日本", "日本"),
        ("n -inf", "-inf"),
        ("n true-ish", "true-ish"),
    ] {
        assert_eq!(arg(text), s(want), "{text:?}");
    }
    assert_eq!(node("日本 1").name().value(), "日本");
}

#[test]
fn bare_keywords_need_a_hash() {
    for word in ["true", "false", "null", "inf", "nan"] {
        assert!(
            message(&format!("n {word}")).contains("needs a `#`"),
            "{word}"
        );
    }
    assert!(message("true 1").contains("needs a `#`"));
}

#[test]
fn keywords() {
    assert_eq!(
        args("n #true #false #null"),
        vec![Value::Bool(true), Value::Bool(false), Value::Null]
    );
    assert_eq!(arg("n #inf"), Value::Float(f64::INFINITY));
    assert_eq!(arg("n #-inf"), Value::Float(f64::NEG_INFINITY));
    assert!(matches!(arg("n #nan"), Value::Float(f) if f.is_nan()));
    assert_eq!(message("n #yes"), "unknown keyword");
    assert_eq!(message("n #True"), "unknown keyword");
    assert_eq!(message("n #truex"), "unexpected character after a value");
}

#[test]
fn quoted_string_escapes() {
    assert_eq!(
        arg(r#"n "a\nb\tc\\d\"e\bf\fg\rh\si""#),
        s("a\nb\tc\\d\"e\u{8}f\u{c}g\rh i")
    );
    assert_eq!(arg(r#"n "\u{1F600}\u{41}\u{0}""#), s("😀A\u{0}"));
    assert_eq!(arg("n \"a\\   \n   b\""), s("ab"), "whitespace escape");
    assert_eq!(arg("n \"\""), s(""));
    assert_eq!(arg("n \"日本\""), s("日本"));
    for bad in [
        r#"n "\u{D800}""#,
        r#"n "\u{110000}""#,
        r#"n "\u{}""#,
        r#"n "\u{1234567}""#,
        r#"n "\u41""#,
    ] {
        assert_eq!(message(bad), "invalid unicode escape", "{bad}");
    }
    assert_eq!(message(r#"n "\q""#), "invalid escape in a string");
}

#[test]
fn quoted_string_errors() {
    let e = fail("n \"abc");
    assert_eq!(
        e.diagnostics[0].message.as_deref(),
        Some("unterminated string")
    );
    assert_eq!(e.diagnostics[0].span, SourceSpan::new(2.into(), 1));
    assert_eq!(
        message("n \"abc\ndef\""),
        "unexpected newline in a single-line string"
    );
    assert!(message("n \"a\u{1}b\"").contains("U+0001"));
    assert_eq!(message("n \"a\"b"), "unexpected character after a string");
}

#[test]
fn multi_line_strings() {
    assert_eq!(
        arg("n \"\"\"\n    foo\n      bar\n    \"\"\""),
        s("foo\n  bar")
    );
    assert_eq!(
        arg("n \"\"\"\n  a\n\n    \n  b\n  \"\"\""),
        s("a\n\n\nb"),
        "blank lines"
    );
    assert_eq!(
        arg("n \"\"\"\nfoo\r\nbar\n\"\"\""),
        s("foo\nbar"),
        "CRLF becomes LF"
    );
    assert_eq!(arg("n \"\"\"\n\"\"\""), s(""));
    assert_eq!(
        arg("n \"\"\"\n  a\\tb \"\" \\\"\"\"\n  \"\"\""),
        s("a\tb \"\" \"\"\"")
    );
    assert_eq!(
        arg("n \"\"\"\n  a \\\n  b\n  \"\"\""),
        s("a b"),
        "whitespace escape"
    );
    assert_eq!(
        message("n \"\"\"\n  a\n b\n  \"\"\""),
        "multi-line string line is not indented like its closing `\"\"\"`"
    );
    assert_eq!(
        message("n \"\"\"\n  a \"\"\""),
        "multi-line string closing quotes must be on a line of their own"
    );
    assert_eq!(
        message("n \"\"\"a\n\"\"\""),
        "multi-line string opening quotes must be followed by a newline"
    );
    assert_eq!(message("n \"\"\"\n  a\n"), "unterminated multi-line string");
}

#[test]
fn raw_strings() {
    assert_eq!(arg(r##"n #"a\nb"#"##), s("a\\nb"));
    assert_eq!(arg(r###"n ##"has "# inside"##"###), s("has \"# inside"));
    assert_eq!(arg("n #\"\"#"), s(""));
    assert_eq!(
        arg("n #\"\"\"\n    a\\n\n      b\n    \"\"\"#"),
        s("a\\n\n  b")
    );
    assert_eq!(arg("n ##\"\"\"\n  \"\"\"#\n  \"\"\"##"), s("\"\"\"#"));
    assert_eq!(
        message(r##"n #"""#"##),
        "single-line raw strings cannot look like multi-line ones"
    );
    assert_eq!(message("n #\"abc"), "unterminated raw string");
    assert_eq!(
        message("n #\"a\nb\"#"),
        "unexpected newline in a single-line raw string"
    );
    assert_eq!(message("n ##x"), "invalid raw string");
    assert_eq!(
        message("n #\"\"\"\n  a\n"),
        "unterminated multi-line raw string"
    );
}

#[test]
fn numbers() {
    assert_eq!(
        args("n 0 42 -7 +7 1_000 007 0x1F 0xff_ff -0x10 0o755 0b1010 0b1_0"),
        [0, 42, -7, 7, 1000, 7, 31, 0xffff, -16, 0o755, 10, 2]
            .map(Value::Integer)
            .to_vec()
    );
    assert_eq!(
        args("n 1.5 -0.25 1e3 1.5E-3 2.0e+2 1_0.5_0"),
        [1.5, -0.25, 1e3, 1.5e-3, 200.0, 10.5]
            .map(Value::Float)
            .to_vec()
    );
    assert_eq!(
        arg("n 170141183460469231731687303715884105727"),
        Value::Integer(i128::MAX)
    );
    assert_eq!(arg("n 1e999"), Value::Float(f64::INFINITY));
    for bad in [
        "n 1.", "n 1.e5", "n 1e", "n 0x", "n 0xg", "n 0o8", "n 0b2", "n 0x_1", "n .5", "n -.5",
        "n 1abc", "n 1.5.3", "n 0x1.5",
    ] {
        assert!(Document::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn integers_too_large_are_kept_with_their_span() {
    let text =
        "n 170141183460469231731687303715884105728 x=-0x1_0000_0000_0000_0000_0000_0000_0000_0000";
    let n = node(text);
    assert_eq!(
        n.entries()[0].value(),
        &Value::IntegerTooLarge("170141183460469231731687303715884105728".into())
    );
    assert_eq!(
        text_of(text, n.entries()[0].span()),
        "170141183460469231731687303715884105728"
    );
    assert!(matches!(n.entries()[1].value(), Value::IntegerTooLarge(t) if t.starts_with("-0x1_")));
    assert_eq!(
        message("n 1.1234567890123456789012345678901234567890"),
        "float literal too long"
    );
    assert_eq!(
        arg("n 1.000000000000000000000000000000000000000001"),
        Value::Float(1.0)
    );
}

#[test]
fn type_annotations() {
    let n = node("(my-type)node (u8)1 key=(\"quoted type\")\"v\" ( spaced )2");
    assert_eq!(n.ty().map(super::Ident::value), Some("my-type"));
    let tys: Vec<_> = n
        .entries()
        .iter()
        .map(|e| e.ty().map(|t| t.value().to_string()))
        .collect();
    assert_eq!(
        tys,
        vec![
            Some("u8".into()),
            Some("quoted type".into()),
            Some("spaced".into())
        ]
    );
    assert_eq!(message("n (1)2"), "invalid type annotation");
    assert_eq!(message("n ()2"), "invalid type annotation");
    assert_eq!(message("n (a b)2"), "unclosed type annotation");
    assert_eq!(
        message("n (t)"),
        "expected a value after the type annotation"
    );
}

#[test]
fn properties() {
    let n = node("n a=1 b = 2 a=3 \"quoted key\"=#true 4");
    assert_eq!(
        n.entry("a").map(|e| e.value().clone()),
        Some(Value::Integer(3)),
        "the last one"
    );
    assert_eq!(
        n.entry("b").map(|e| e.value().clone()),
        Some(Value::Integer(2))
    );
    assert!(n.entry("quoted key").is_some());
    assert!(n.entry("c").is_none());
    assert_eq!(n.arg(0).map(|e| e.value().clone()), Some(Value::Integer(4)));
    assert!(n.arg(1).is_none());
    assert_eq!(message("n a="), "expected a value after `=`");
    assert_eq!(message("n a= {}"), "expected a value after `=`");
    assert_eq!(message("n 1=2"), "unexpected `=`");
}

#[test]
fn children() {
    let doc = parse("a {\n  b 1\n  c { d; e }\n}\nf {}\ng");
    let a = &doc.nodes()[0];
    let names: Vec<_> = a.iter_children().map(|c| c.name().value()).collect();
    assert_eq!(names, ["b", "c"]);
    assert_eq!(
        a.iter_children().nth(1).map(|c| c.iter_children().count()),
        Some(2)
    );
    assert!(doc.nodes()[1]
        .children()
        .is_some_and(|c| c.nodes().is_empty()));
    assert!(doc.nodes()[2].children().is_none());
    assert_eq!(doc.nodes()[2].iter_children().count(), 0);
    assert_eq!(node("a{}").iter_children().count(), 0);
    assert_eq!(node("a 1{b}").iter_children().count(), 1);
    assert_eq!(message("a {} {}"), "a node has at most one children block");
    assert_eq!(
        message("a {} 1"),
        "entries must come before a children block"
    );
}

#[test]
fn slashdash() {
    let doc = parse("/-a 1 { b }\nc /-1 2 /-k=v /-{ x } { y } /-{ z }\n/- \n d\ne");
    let names: Vec<_> = doc.nodes().iter().map(|n| n.name().value()).collect();
    assert_eq!(
        names,
        ["c", "e"],
        "`/-` then a newline still comments out the next node"
    );
    let c = &doc.nodes()[0];
    assert_eq!(c.entries().len(), 1);
    assert_eq!(c.entries()[0].value(), &Value::Integer(2));
    assert_eq!(
        c.iter_children()
            .map(|n| n.name().value())
            .collect::<Vec<_>>(),
        ["y"]
    );
    assert_eq!(
        args("n /- /- 1 2 3"),
        vec![Value::Integer(3)],
        "a chain drops one entry each"
    );
    assert_eq!(node("n /-{ a } { b }").iter_children().count(), 1);
    assert!(node("n /-{ a }").children().is_none());
    assert_eq!(message("n /-"), "slashdash without anything after it");
    assert_eq!(message("/-"), "slashdash without a node");
    assert_eq!(message("/-a; b"), "a slashdashed node cannot end with `;`");
    assert_eq!(
        message("n /-{} 1"),
        "entries must come before a children block"
    );
    assert_eq!(message("n 1/-2"), "unexpected character after a value");
    // A slashdashed block or node must still be valid KDL.
    assert_eq!(message("/-a \"x"), "unterminated string");
    assert_eq!(message("n /-{ \"x }"), "unterminated string");
}

#[test]
fn comments_and_line_continuations() {
    let doc = parse(
        "// line\na /* block /* nested */ still */ 1 // trailing\nb \\\n  2 \\ // comment\n  3\n/* multi\nline */ c",
    );
    let names: Vec<_> = doc.nodes().iter().map(|n| n.name().value()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(doc.nodes()[1].entries().len(), 2);
    assert_eq!(
        args("n 1 \\\n"),
        vec![Value::Integer(1)],
        "a continuation at the end"
    );
    let e = fail("a /* open /* nested */");
    assert_eq!(
        e.diagnostics[0].message.as_deref(),
        Some("unterminated comment")
    );
    assert_eq!(e.diagnostics[0].span, SourceSpan::new(2.into(), 2));
    assert_eq!(message("n 1 \\ 2"), "expected a value");
}

#[test]
fn terminators() {
    let doc = parse("a; b;c\nd");
    assert_eq!(doc.nodes().len(), 4);
    assert_eq!(parse("a;").nodes().len(), 1);
    assert_eq!(message("a;;"), "unexpected `;`");
    assert_eq!(message(";"), "unexpected `;`");
}

#[test]
fn bom_whitespace_and_newlines() {
    assert_eq!(parse("\u{FEFF}a").nodes().len(), 1);
    assert!(
        message("a\n\u{FEFF}b").contains("U+FEFF"),
        "a BOM past the start"
    );
    // Every Unicode space separates entries; every newline ends a node.
    for space in [
        "\t", " ", "\u{A0}", "\u{1680}", "\u{2000}", "\u{200A}", "\u{202F}", "\u{205F}", "\u{3000}",
    ] {
        assert_eq!(args(&format!("n{space}1{space}2")).len(), 2, "{space:?}");
    }
    for newline in [
        "\n", "\r\n", "\r", "\u{85}", "\u{B}", "\u{C}", "\u{2028}", "\u{2029}",
    ] {
        assert_eq!(
            parse(&format!("a{newline}b")).nodes().len(),
            2,
            "{newline:?}"
        );
    }
}

#[test]
fn disallowed_code_points() {
    for c in [
        '\u{1}', '\u{8}', '\u{E}', '\u{1F}', '\u{200E}', '\u{202A}', '\u{2066}', '\u{FEFF}',
    ] {
        assert!(
            Document::parse(&format!("n{c}")).is_err(),
            "{c:?} in a name"
        );
        assert!(
            Document::parse(&format!("n \"{c}\"")).is_err(),
            "{c:?} in a string"
        );
        assert!(
            Document::parse(&format!("n #\"{c}\"#")).is_err(),
            "{c:?} in a raw string"
        );
    }
    // As escapes they are fine.
    assert_eq!(arg(r#"n "\u{1}""#), s("\u{1}"));
}

#[test]
fn spans() {
    let text = "top (t)\"name\" 1 key=\"v\" {\n  child a=(u8)7\n}\n";
    let doc = parse(text);
    let n = &doc.nodes()[0];
    assert_eq!(text_of(text, n.name().span()), "top");
    assert_eq!(text_of(text, n.entries()[0].span()), "(t)\"name\"");
    assert_eq!(text_of(text, n.entries()[1].span()), "1");
    let key = &n.entries()[2];
    assert_eq!(text_of(text, key.span()), "key=\"v\"");
    assert_eq!(key.name().map(|k| text_of(text, k.span())), Some("key"));
    let children = n.children().map(|c| text_of(text, c.span()));
    assert_eq!(children, Some("{\n  child a=(u8)7\n}"));
    assert_eq!(text_of(text, n.span()), &text[..text.len() - 1]);
    let child = &n
        .iter_children()
        .next()
        .cloned()
        .unwrap_or_else(|| node("x"));
    assert_eq!(text_of(text, child.span()), "child a=(u8)7");
    assert_eq!(
        child.entries()[0].ty().map(|t| text_of(text, t.span())),
        Some("u8")
    );
    assert_eq!(doc.span(), SourceSpan::new(0.into(), text.len()));
}

#[test]
fn unexpected_and_unclosed_braces() {
    let e = fail("a\n}\nb");
    assert_eq!(e.diagnostics[0].message.as_deref(), Some("unexpected `}`"));
    assert_eq!(e.diagnostics[0].span, SourceSpan::new(2.into(), 1));
    let e = fail("a {\n  b {\n");
    assert_eq!(
        e.diagnostics[0].message.as_deref(),
        Some("unclosed children block")
    );
    assert_eq!(
        e.diagnostics[0].span,
        SourceSpan::new(8.into(), 1),
        "the innermost `{{`"
    );
    assert_eq!(
        message("{ a }"),
        "found a children block instead of a node name"
    );
}

#[test]
fn independent_errors_are_all_reported() {
    let e = fail("a \"x\nb 1.\nc key=\nd {\n  e #nope\n}\nf ok\n}\n");
    let messages: Vec<_> = e
        .diagnostics
        .iter()
        .filter_map(|d| d.message.as_deref())
        .collect();
    assert_eq!(
        messages,
        [
            "unexpected newline in a single-line string",
            "invalid number",
            "expected a value after `=`",
            "unknown keyword",
            "unexpected `}`",
        ]
    );
    // And the count is capped.
    let many = "n 1.\n".repeat(1000);
    assert!(fail(&many).diagnostics.len() <= 32);
}

#[test]
fn nesting_is_capped_without_recursion() {
    let ok = format!("{}{}", "a {".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
    assert!(Document::parse(&ok).is_ok());
    let deep = format!(
        "{}{}",
        "a {".repeat(MAX_DEPTH + 1),
        "}".repeat(MAX_DEPTH + 1)
    );
    let e = fail(&deep);
    assert_eq!(e.diagnostics.len(), 1);
    assert_eq!(
        e.diagnostics[0].message.as_deref(),
        Some("children blocks nested too deeply")
    );
    assert_eq!(
        e.diagnostics[0].span,
        SourceSpan::new((3 * MAX_DEPTH + 2).into(), 1)
    );
    // Far deeper than any call stack could take: one error, no overflow.
    let abyss = "a {".repeat(1_000_000);
    assert_eq!(fail(&abyss).diagnostics.len(), 1);
    let comments = "/*".repeat(1_000_000);
    assert_eq!(fail(&comments).diagnostics.len(), 1);
}

#[test]
fn pathological_inputs_finish() {
    // Shapes that make a backtracking parser quadratic; each must be read in one pass.
    let n = 200_000;
    for text in [
        format!("n \"\"\"\n{}", "  x\n".repeat(n)),
        format!("n #\"\"\"\n{}", "  x\n".repeat(n)),
        format!("n \"\"\"\n{}\"\"\"", " \\\n".repeat(n)),
        format!("n {}", "/- ".repeat(n)),
        format!("n {}", "(t)".repeat(n)),
        "\\\n".repeat(n),
        format!("n \"{}", "\\\"".repeat(n)),
        "a;".repeat(n),
        "}".repeat(n),
    ] {
        let _ = Document::parse(&text);
    }
}

#[test]
fn no_panic_on_random_input() {
    let alphabet: Vec<char> = "ab1 \n\t{}();=\"#/-*\\.+_xeE0\r\u{85}\u{2028}\u{A0}\u{FEFF}\u{1}é😀"
        .chars()
        .collect();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for _ in 0..20_000 {
        let mut text = String::new();
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = usize::try_from(state % 40).unwrap_or(0);
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let i = usize::try_from(state % alphabet.len() as u64).unwrap_or(0);
            text.push(alphabet[i]);
        }
        if let Err(e) = Document::parse(&text) {
            assert!(!e.diagnostics.is_empty());
            for d in &e.diagnostics {
                assert!(
                    d.span.offset() + d.span.len() <= text.len(),
                    "{text:?}: {d:?}"
                );
                assert!(d.message.is_some() && d.label.is_some());
            }
        }
    }
}

#[test]
fn stacks_shaped_input() {
    let text = super::oracle::generated_stack(3);
    let doc = parse(&text);
    let services: Vec<_> = doc
        .nodes()
        .iter()
        .filter(|n| n.name().value() == "service")
        .collect();
    assert_eq!(services.len(), 3);
    let first = services[0];
    assert_eq!(
        first.arg(0).and_then(|e| e.value().as_string()),
        Some("svc-0000")
    );
    assert_eq!(
        first.entry("layer").and_then(|e| e.value().as_string()),
        Some("apps")
    );
    let port = first.iter_children().find(|c| c.name().value() == "port");
    assert_eq!(
        port.and_then(|p| p.arg(0))
            .and_then(|e| e.value().as_integer()),
        Some(8080)
    );
}
