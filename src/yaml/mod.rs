//! YAML in and out. Parsing goes through `yaml-rust2` (maintained, YAML 1.2 core schema),
//! with a fast path for the plain block YAML templates render ([`block`]); emitting is our
//! own ([`emit`]), because the bytes of `out/` are our contract.

mod block;
mod emit;
#[cfg(test)]
mod testgen;

pub use emit::{double_quoted, format_float, needs_quotes, to_flow, to_yaml, to_yaml_documents};

use crate::value::{Map, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::Yaml;

/// A YAML syntax error with its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub message: String,
    /// Byte offset into the parsed text.
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

/// The largest text [`parse_documents`] reads.
pub const MAX_TEXT_BYTES: usize = 64 << 20;
/// The most values one text may produce, aliases expanded (an alias bomb of 9 levels of 10
/// would produce a billion).
pub const MAX_NODES: usize = 1_000_000;
/// The most bytes of scalar text one text may produce, aliases expanded.
pub const MAX_SCALAR_BYTES: usize = 64 << 20;
/// How deeply collections may nest (our emitter and every reader recurse).
pub const MAX_DEPTH: usize = 128;

/// Parses every document of a (multi-document) YAML text. Empty documents are dropped.
///
/// Rendered templates are nearly always plain block YAML, which [`block`] reads in a fraction
/// of the time; any other text (and any error) goes through `yaml-rust2` ([`parse_events`]).
pub fn parse_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(YamlError {
            message: format!(
                "the text is {} MiB; at most {} MiB of YAML is read",
                text.len() >> 20,
                MAX_TEXT_BYTES >> 20
            ),
            offset: MAX_TEXT_BYTES,
            line: 1,
            column: 1,
        });
    }
    match block::parse(text) {
        Some(docs) => Ok(docs),
        None => parse_events(text),
    }
}

/// Parses a text through `yaml-rust2`'s parser events.
///
/// The tree is built from the parser's events by our own loader (not `YamlLoader`, which
/// clones every aliased subtree without limit): expanding aliases is budgeted by
/// [`MAX_NODES`] and [`MAX_SCALAR_BYTES`], and nesting by [`MAX_DEPTH`].
fn parse_events(text: &str) -> Result<Vec<Value>, YamlError> {
    let mut loader = Loader::default();
    let parsed = Parser::new_from_str(text).load(&mut loader, true);
    // A loader error comes first in the text: the parser only reads on past it.
    if let Some((message, mark)) = loader.error {
        return Err(error_at(text, message, mark));
    }
    if let Err(e) = parsed {
        return Err(error_at(text, e.info().to_string(), *e.marker()));
    }
    Ok(loader.docs)
}

fn error_at(text: &str, message: String, marker: Marker) -> YamlError {
    // yaml-rust2 counts characters; map back to a byte offset for spans.
    let offset = text
        .char_indices()
        .nth(marker.index())
        .map_or(text.len(), |(i, _)| i);
    YamlError {
        message,
        offset,
        line: marker.line(),
        column: marker.col() + 1,
    }
}

/// What producing a value cost: values and scalar bytes, and its depth.
#[derive(Clone, Copy, Default)]
struct Cost {
    nodes: usize,
    bytes: usize,
}

/// A collection being built.
enum Frame {
    List {
        items: Vec<Value>,
        anchor: usize,
        start: Cost,
    },
    Map {
        map: Map,
        /// Where the key read sits in `map` (holding null), waiting for its value: one hash
        /// per entry, not one to refuse a duplicate and another to insert.
        key: Option<usize>,
        anchor: usize,
        start: Cost,
    },
}

/// An anchored value, ready to be copied where an alias names it.
struct Anchored {
    value: Value,
    /// Its text as a mapping key, when it is a scalar that can be one.
    key: Option<String>,
    cost: Cost,
    depth: usize,
}

/// Builds values from parser events, under a budget.
#[derive(Default)]
struct Loader {
    docs: Vec<Value>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    spent: Cost,
    /// The deepest nesting below each open collection, for the depth of anchored ones.
    depths: Vec<usize>,
    error: Option<(String, Marker)>,
}

impl MarkedEventReceiver for Loader {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        if let Err(message) = self.event(event) {
            self.error = Some((message, mark));
        }
    }
}

impl Loader {
    fn event(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart => {}
            Event::DocumentEnd => {
                // Whatever was not closed belongs to a document the parser reported broken.
                self.stack.clear();
                self.depths.clear();
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.expect_value("a list or map")?;
                if self.stack.len() >= MAX_DEPTH {
                    return Err(format!("collections nest deeper than {MAX_DEPTH} levels"));
                }
                self.charge(Cost { nodes: 1, bytes: 0 })?;
                let start = self.spent;
                self.stack
                    .push(if matches!(event, Event::SequenceStart(..)) {
                        Frame::List {
                            items: Vec::new(),
                            anchor,
                            start,
                        }
                    } else {
                        Frame::Map {
                            map: Map::default(),
                            key: None,
                            anchor,
                            start,
                        }
                    });
                self.depths.push(0);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Err("unbalanced YAML events".to_string());
                };
                let below = self.depths.pop().unwrap_or(0);
                let (value, anchor, start) = match frame {
                    Frame::List {
                        items,
                        anchor,
                        start,
                    } => (Value::List(items), anchor, start),
                    Frame::Map {
                        map, anchor, start, ..
                    } => (Value::Map(map), anchor, start),
                };
                let cost = Cost {
                    nodes: self.spent.nodes - start.nodes + 1,
                    bytes: self.spent.bytes - start.bytes,
                };
                self.insert(value, None, anchor, cost, below + 1)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let yaml = if style == TScalarStyle::Plain {
                    resolve_plain(text, tag.as_ref())
                } else {
                    Yaml::String(text)
                };
                let cost = Cost {
                    nodes: 1,
                    bytes: key_len(&yaml),
                };
                self.charge(cost)?;
                // Most scalars are values: their text as a key is only built where it is one
                // (or may become one through an anchor), and a string key is moved, not copied.
                let as_key = matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
                if as_key && anchor == 0 {
                    let key = scalar_key(yaml).ok_or_else(|| "invalid YAML value".to_string())?;
                    return self.insert(Value::Null, Some(key), 0, cost, 0);
                }
                let key = if anchor > 0 {
                    scalar_key(yaml.clone())
                } else {
                    None
                };
                let value = scalar(yaml)?;
                self.insert(value, key, anchor, cost, 0)?;
            }
            Event::Alias(id) => {
                let Some(anchored) = self.anchors.get(&id) else {
                    return Err("unknown YAML alias".to_string());
                };
                let (cost, depth) = (anchored.cost, anchored.depth);
                if self.stack.len() + depth > MAX_DEPTH {
                    return Err(format!(
                        "this alias nests collections deeper than {MAX_DEPTH} levels"
                    ));
                }
                // Charged before copying, so that a bomb is stopped before it allocates.
                self.charge(cost)?;
                let Some(anchored) = self.anchors.get(&id) else {
                    return Err("unknown YAML alias".to_string());
                };
                let (value, key) = (anchored.value.clone(), anchored.key.clone());
                self.insert(value, key, 0, cost, depth)?;
            }
        }
        Ok(())
    }

    /// Refuses a collection where a mapping key is expected.
    fn expect_value(&self, what: &str) -> Result<(), String> {
        match self.stack.last() {
            Some(Frame::Map { key: None, .. }) => Err(format!("unsupported mapping key: {what}")),
            _ => Ok(()),
        }
    }

    fn charge(&mut self, cost: Cost) -> Result<(), String> {
        self.spent.nodes += cost.nodes;
        self.spent.bytes += cost.bytes;
        if self.spent.nodes > MAX_NODES {
            return Err(format!(
                "the text expands to more than {MAX_NODES} values (an alias repeated too often?)"
            ));
        }
        if self.spent.bytes > MAX_SCALAR_BYTES {
            return Err(format!(
                "the text expands to more than {} MiB of values (an alias repeated too often?)",
                MAX_SCALAR_BYTES >> 20
            ));
        }
        Ok(())
    }

    /// Places a finished value in its parent (or as a document), remembering its anchor.
    fn insert(
        &mut self,
        value: Value,
        key: Option<String>,
        anchor: usize,
        cost: Cost,
        depth: usize,
    ) -> Result<(), String> {
        if anchor > 0 {
            self.anchors.insert(
                anchor,
                Anchored {
                    value: value.clone(),
                    key: key.clone(),
                    cost,
                    depth,
                },
            );
        }
        if let Some(below) = self.depths.last_mut() {
            *below = (*below).max(depth);
        }
        match self.stack.last_mut() {
            None => {
                if value != Value::Null {
                    self.docs.push(value);
                }
            }
            Some(Frame::List { items, .. }) => items.push(value),
            Some(Frame::Map { map, key: slot, .. }) => match slot.take() {
                None => {
                    let Some(key) = key else {
                        return Err(format!("unsupported mapping key {}", value.type_name()));
                    };
                    let (index, before) = map.insert_full(key, Value::Null);
                    if before.is_some() {
                        let key = map.get_index(index).map_or("", |(k, _)| k.as_str());
                        return Err(format!("duplicate mapping key `{key}`"));
                    }
                    *slot = Some(index);
                }
                Some(index) => {
                    if let Some((_, entry)) = map.get_index_mut(index) {
                        *entry = value;
                    }
                }
            },
        }
        Ok(())
    }
}

/// A scalar's text as a mapping key (`None` for an invalid one).
fn scalar_key(yaml: Yaml) -> Option<String> {
    match yaml {
        Yaml::String(s) | Yaml::Real(s) => Some(s),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        Yaml::Null => Some("null".to_string()),
        _ => None,
    }
}

/// The length of [`scalar_key`]'s text, without building it (what the budget charges).
fn key_len(yaml: &Yaml) -> usize {
    match yaml {
        Yaml::String(s) | Yaml::Real(s) => s.len(),
        Yaml::Integer(i) => i.to_string().len(),
        Yaml::Boolean(true) | Yaml::Null => 4,
        Yaml::Boolean(false) => 5,
        _ => 0,
    }
}

/// What a plain scalar is, by its tag or (untagged) by the YAML 1.2 core schema, exactly as
/// `yaml-rust2`'s own loader reads it.
fn resolve_plain(text: String, tag: Option<&Tag>) -> Yaml {
    let Some(tag) = tag else {
        return resolve_core(text);
    };
    if tag.handle != "tag:yaml.org,2002:" {
        return Yaml::String(text);
    }
    match tag.suffix.as_str() {
        "bool" => match text.as_str() {
            "true" | "True" | "TRUE" => Yaml::Boolean(true),
            "false" | "False" | "FALSE" => Yaml::Boolean(false),
            _ => Yaml::BadValue,
        },
        "int" => text.parse::<i64>().map_or(Yaml::BadValue, Yaml::Integer),
        "float" => {
            if parse_real(&text).is_ok() {
                Yaml::Real(text)
            } else {
                Yaml::BadValue
            }
        }
        "null" => match text.as_str() {
            "~" | "null" => Yaml::Null,
            _ => Yaml::BadValue,
        },
        _ => Yaml::String(text),
    }
}

/// `Yaml::from_str`, step for step, but moving the text into a string or float instead of
/// copying it (most rendered scalars are strings).
fn resolve_core(text: String) -> Yaml {
    match core_kind(&text) {
        Core::Null => Yaml::Null,
        Core::Bool(b) => Yaml::Boolean(b),
        Core::Int(i) => Yaml::Integer(i),
        Core::Real => Yaml::Real(text),
        Core::String => Yaml::String(text),
    }
}

/// What the YAML 1.2 core schema makes of an untagged plain scalar.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Core {
    Null,
    Bool(bool),
    Int(i64),
    /// A float, still as text.
    Real,
    String,
}

/// [`resolve_core`]'s decision, on borrowed text (the fast loader allocates only for what
/// stays text).
fn core_kind(v: &str) -> Core {
    if let Some(number) = v.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(number, 16) {
            return Core::Int(i);
        }
    } else if let Some(number) = v.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(number, 8) {
            return Core::Int(i);
        }
    } else if let Some(number) = v.strip_prefix('+') {
        if let Ok(i) = number.parse::<i64>() {
            return Core::Int(i);
        }
    }
    match v {
        "" | "~" | "null" => Core::Null,
        "true" | "True" | "TRUE" => Core::Bool(true),
        "false" | "False" | "FALSE" => Core::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => Core::Real,
        _ if !v.bytes().any(|b| b.is_ascii_digit()) => Core::String,
        _ => {
            if let Ok(integer) = v.parse::<i64>() {
                Core::Int(integer)
            } else if v.parse::<f64>().is_ok() {
                Core::Real
            } else {
                Core::String
            }
        }
    }
}

fn scalar(yaml: Yaml) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::Int(i),
        Yaml::Real(text) => Value::Float(parse_real(&text)?),
        Yaml::String(s) => Value::String(s),
        _ => return Err("invalid YAML value".to_string()),
    })
}

fn parse_real(text: &str) -> Result<f64, String> {
    let lower = text.to_ascii_lowercase();
    let trimmed = lower.trim_start_matches('+');
    match trimmed {
        ".inf" => Ok(f64::INFINITY),
        "-.inf" => Ok(f64::NEG_INFINITY),
        ".nan" => Ok(f64::NAN),
        _ => trimmed
            .replace('_', "")
            .parse()
            .map_err(|_| format!("invalid number `{text}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::map;
    use std::fmt::Write as _;

    fn round_trip(value: &Value) {
        let text = to_yaml(value);
        let back = parse_documents(&text).expect("emitted YAML parses");
        assert_eq!(back, vec![value.clone()], "YAML was:\n{text}");
    }

    #[test]
    fn strings_that_look_like_other_types_are_quoted() {
        for s in [
            "true",
            "False",
            "yes",
            "NO",
            "on",
            "null",
            "~",
            "1",
            "-1",
            "1.5",
            "1e3",
            "0x1f",
            "0o17",
            "1_000",
            "12:30",
            "2024-01-02",
            "2024-01-02T03:04:05Z",
            ".inf",
            "",
            " a",
            "a ",
            "#x",
            "- x",
            "a: b",
            "a #b",
            "*x",
            "&x",
            "!x",
            "%x",
            "@x",
            "`x",
            "'x",
            "\"x",
            "{x",
            "[x",
            "|",
            ">",
            "a:",
            "tab\there",
            "nul\0",
            "=",
            "<<",
        ] {
            assert!(needs_quotes(s), "{s:?} should be quoted");
            round_trip(&Value::String(s.to_string()));
        }
    }

    #[test]
    fn ordinary_kubernetes_strings_stay_plain() {
        for s in [
            "100m",
            "20Gi",
            "nginx:1.27",
            "app.kubernetes.io/name",
            "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
            "https://charts.bitnami.com/bitnami",
            "web-1",
        ] {
            assert!(!needs_quotes(s), "{s:?} should stay plain");
            round_trip(&Value::String(s.to_string()));
        }
    }

    #[test]
    fn nested_structures_round_trip() {
        let value = map([
            ("apiVersion", Value::from("apps/v1")),
            (
                "list",
                Value::List(vec![
                    map([("name", Value::from("a")), ("x", Value::Int(1))]),
                    Value::List(vec![Value::from("p"), Value::from("q")]),
                    Value::from("scalar"),
                    Value::Map(Map::default()),
                    Value::List(vec![]),
                ]),
            ),
            ("empty", Value::Map(Map::default())),
            ("f", Value::Float(2.0)),
            ("neg", Value::Float(-0.5)),
            ("t", Value::Bool(true)),
            ("n", Value::Null),
            ("multi", Value::from("line one\nline two\n")),
            ("multi_nonl", Value::from("a\nb")),
            ("multi_many", Value::from("a\n\n\n")),
            ("spaced", Value::from(" lead\nx")),
            ("blank_lines", Value::from("a\n\nb\n")),
        ]);
        round_trip(&value);
    }

    #[test]
    fn emits_readable_block_style() {
        let value = map([(
            "spec",
            map([(
                "containers",
                Value::List(vec![map([
                    ("name", Value::from("web")),
                    ("image", Value::from("nginx")),
                ])]),
            )]),
        )]);
        assert_eq!(
            to_yaml(&value),
            "spec:\n  containers:\n    - name: web\n      image: nginx\n"
        );
    }

    /// The previous loader (`YamlLoader`, then a conversion), for comparison.
    fn via_yaml_loader(text: &str) -> Option<Vec<Value>> {
        fn convert(yaml: Yaml) -> Option<Value> {
            Some(match yaml {
                Yaml::Array(items) => {
                    Value::List(items.into_iter().map(convert).collect::<Option<_>>()?)
                }
                Yaml::Hash(entries) => {
                    let mut map = Map::default();
                    for (k, v) in entries {
                        let key = match k {
                            Yaml::String(s) | Yaml::Real(s) => s,
                            Yaml::Integer(i) => i.to_string(),
                            Yaml::Boolean(b) => b.to_string(),
                            Yaml::Null => "null".to_string(),
                            _ => return None,
                        };
                        if map.insert(key, convert(v)?).is_some() {
                            return None;
                        }
                    }
                    Value::Map(map)
                }
                other => scalar(other).ok()?,
            })
        }
        let docs = yaml_rust2::YamlLoader::load_from_str(text).ok()?;
        let docs: Vec<Value> = docs.into_iter().map(convert).collect::<Option<_>>()?;
        Some(docs.into_iter().filter(|v| *v != Value::Null).collect())
    }

    #[test]
    fn the_loader_reads_what_yaml_loader_read() {
        for text in [
            "a: 1\nb: [x, 2.5, true, null, ~, \"q\", '1']\n",
            "---\n---\na: 1\n...\n---\n# c\n---\n- 1\n- {x: y}\n",
            "base: &b {k: v, n: [1, 2]}\nuse: *b\nlist: &l [a, b]\nagain: *l\n",
            "1: one\n1.50: x\ntrue: t\nnull: n\n? &k key\n: v\n*k2: w\n",
            "i: !!int 12\nf: !!float 1.5\ns: !!str 12\nb: !!bool true\nn: !!null null\nc: !custom x\n",
            "f: 1e3\ng: .inf\nh: -.Inf\nj: .nan\nk: 0x1f\nl: 0o17\nm: +12\n",
            "block: |\n  line\n  two\nfold: >-\n  a\n  b\nempty:\n",
            "a: &x 1\nb: *x\nc: &x 2\nd: *x\n",
            "",
            "# only a comment\n",
            "héllo: wörld\n",
        ] {
            let text = text.replace("*k2", "k2");
            let ours = parse_documents(&text).expect("parses");
            // Compared as text: NaN is not equal to itself.
            assert_eq!(
                format!("{:?}", Some(ours)),
                format!("{:?}", via_yaml_loader(&text)),
                "{text}"
            );
        }
    }

    #[test]
    fn core_schema_resolution_is_yaml_rust2s() {
        for text in [
            "",
            "~",
            "null",
            "Null",
            "true",
            "True",
            "TRUE",
            "tRue",
            "false",
            "FALSE",
            "0x1f",
            "0x",
            "0xZZ",
            "0o17",
            "0o9",
            "+12",
            "+",
            "+1.5",
            "12",
            "-12",
            "1.5",
            "1e3",
            "1e",
            ".inf",
            "+.Inf",
            "-.INF",
            ".nan",
            ".NaN",
            "inf",
            "nan",
            "NaN",
            "infinity",
            "1_000",
            "100m",
            "nginx:1.27",
            "web",
            "-",
            "9223372036854775808",
            "-.5",
            "5.",
            "0.0.1",
        ] {
            assert_eq!(
                format!("{:?}", resolve_core(text.to_string())),
                format!("{:?}", Yaml::from_str(text)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn refusals_match_the_old_loader() {
        for text in [
            "a: 1\na: 2\n",
            "1: a\n\"1\": b\n",
            "? [a]\n: b\n",
            "x: !!int abc\n",
            "a: [b\n",
        ] {
            assert!(parse_documents(text).is_err(), "{text}");
            assert!(via_yaml_loader(text).is_none(), "{text}");
        }
    }

    #[test]
    fn an_alias_bomb_is_stopped_at_an_alias() {
        let mut text = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..9 {
            let prev = level - 1;
            let refs = vec![format!("*l{prev}"); 10].join(", ");
            let _ = writeln!(text, "l{level}: &l{level} [{refs}]");
        }
        let err = parse_documents(&text).unwrap_err();
        assert!(err.message.contains("more than 1000000 values"), "{err:?}");
        assert_eq!(&text[err.offset..=err.offset], "*", "{err:?}");
        assert!(err.line >= 6, "{err:?}");
    }

    #[test]
    fn long_scalars_repeated_by_aliases_are_stopped() {
        let big = "y".repeat(1 << 20);
        let refs = vec!["*s"; 100].join(", ");
        let text = format!("s: &s {big}\nl: [{refs}]\n");
        let err = parse_documents(&text).unwrap_err();
        assert!(err.message.contains("MiB of values"), "{err:?}");
    }

    #[test]
    fn deep_nesting_is_refused_also_through_aliases() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let err = parse_documents(&deep).unwrap_err();
        assert!(err.message.contains("deeper than"), "{err:?}");
        let half = MAX_DEPTH / 2 + 1;
        let nested = format!("{}{}", "[".repeat(half), "]".repeat(half));
        let text = format!(
            "a: &a {nested}\nb: {}*a{}\n",
            "[".repeat(half),
            "]".repeat(half)
        );
        let err = parse_documents(&text).unwrap_err();
        assert!(err.message.contains("deeper than"), "{err:?}");
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        assert!(parse_documents(&ok).is_ok());
    }

    #[test]
    fn error_offsets_are_bytes() {
        let text = "é: 1\né: 2\n";
        let err = parse_documents(text).unwrap_err();
        assert!(err.message.contains("duplicate mapping key"), "{err:?}");
        assert!(
            text.is_char_boundary(err.offset) && err.offset > 3,
            "{err:?}"
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = parse_documents("a: b\n  c: [d\n").unwrap_err();
        assert!(err.line >= 1);
        assert!(!err.message.is_empty());
    }
}
