//! Differential tests: our parser against the `kdl` crate (the reference implementation of
//! KDL v2) on a corpus — the kdl crate's own compliance inputs when its package is in the
//! cargo registry, this repository's stacks.kdl and environments, a generated benchmark-shaped
//! stack — and on thousands of seeded random mutations of it. Both must accept or reject the
//! same texts and, when both accept, produce the same tree: names, type annotations, entries
//! (name and value, exactly) and children.
//!
//! Deliberate differences, tolerated here and nowhere else:
//! - an integer literal outside `i128`: kdl rejects the file; we accept it as
//!   `Value::IntegerTooLarge` so the model can point at the one bad value.
//! - places where kdl lets a node end without a terminator (see `stricter_terminator`):
//!   we refuse them, so every text we accept is one kdl accepts too (it stays for edits).

use super::{Document, Node, Value};
use std::path::{Path, PathBuf};

/// A parser-independent tree, for comparing the two parsers' results.
#[derive(Debug, PartialEq)]
pub(super) struct TNode {
    ty: Option<String>,
    name: String,
    entries: Vec<(Option<String>, Option<String>, TValue)>,
    children: Option<Vec<TNode>>,
}

#[derive(Debug, PartialEq)]
enum TValue {
    S(String),
    I(i128),
    Big,
    /// Bits, with every NaN the same.
    F(u64),
    B(bool),
    N,
}

fn float(f: f64) -> TValue {
    TValue::F(if f.is_nan() { u64::MAX } else { f.to_bits() })
}

fn ours(nodes: &[Node]) -> Vec<TNode> {
    nodes
        .iter()
        .map(|n| TNode {
            ty: n.ty().map(|t| t.value().to_string()),
            name: n.name().value().to_string(),
            entries: n
                .entries()
                .iter()
                .map(|e| {
                    let v = match e.value() {
                        Value::String(s) => TValue::S(s.clone()),
                        Value::Integer(i) => TValue::I(*i),
                        Value::IntegerTooLarge(_) => TValue::Big,
                        Value::Float(f) => float(*f),
                        Value::Bool(b) => TValue::B(*b),
                        Value::Null => TValue::N,
                    };
                    (
                        e.name().map(|k| k.value().to_string()),
                        e.ty().map(|t| t.value().to_string()),
                        v,
                    )
                })
                .collect(),
            children: n.children().map(|c| ours(c.nodes())),
        })
        .collect()
}

fn theirs(nodes: &[kdl::KdlNode]) -> Vec<TNode> {
    nodes
        .iter()
        .map(|n| TNode {
            ty: n.ty().map(|t| t.value().to_string()),
            name: n.name().value().to_string(),
            entries: n
                .entries()
                .iter()
                .map(|e| {
                    let v = match e.value() {
                        kdl::KdlValue::String(s) => TValue::S(s.clone()),
                        kdl::KdlValue::Integer(i) => TValue::I(*i),
                        kdl::KdlValue::Float(f) => float(*f),
                        kdl::KdlValue::Bool(b) => TValue::B(*b),
                        kdl::KdlValue::Null => TValue::N,
                    };
                    (
                        e.name().map(|k| k.value().to_string()),
                        e.ty().map(|t| t.value().to_string()),
                        v,
                    )
                })
                .collect(),
            children: n.children().map(|c| theirs(c.nodes())),
        })
        .collect()
}

fn has_big(nodes: &[TNode]) -> bool {
    nodes.iter().any(|n| {
        n.entries.iter().any(|e| e.2 == TValue::Big) || n.children.as_deref().is_some_and(has_big)
    })
}

/// Compares the two parsers on one text; `Err` describes the disagreement.
pub(super) fn compare(text: &str) -> Result<bool, String> {
    let mine = Document::parse(text);
    let reference = kdl::KdlDocument::parse_v2(text);
    match (mine, reference) {
        (Ok(m), Ok(r)) => {
            let (m, r) = (ours(m.nodes()), theirs(r.nodes()));
            if m == r {
                Ok(true)
            } else {
                Err(format!("trees differ\n ours:   {m:?}\n theirs: {r:?}"))
            }
        }
        (Err(_), Err(_)) => Ok(false),
        (Ok(m), Err(e)) => {
            let m = ours(m.nodes());
            // An integer outside i128 (perhaps in a slashdashed entry): kdl must accept the
            // same text with that integer shortened.
            let shrunk = shrink_big_integers(text);
            if has_big(&m) || (shrunk != text && kdl::KdlDocument::parse_v2(&shrunk).is_ok()) {
                Ok(true)
            } else {
                Err(format!(
                    "we accept, kdl rejects: {:?}",
                    e.diagnostics
                        .iter()
                        .map(|d| (d.span, d.message.clone()))
                        .collect::<Vec<_>>()
                ))
            }
        }
        (Err(e), Ok(r)) if stricter_terminator(text, &e, &r) => Ok(true),
        (Err(e), Ok(_)) => Err(format!(
            "we reject, kdl accepts: {:?}",
            e.diagnostics
                .iter()
                .map(|d| (d.span, d.message.clone(), d.label.clone()))
                .collect::<Vec<_>>()
        )),
    }
}

/// The second deliberate difference: kdl lets a node end without a terminator where a
/// slashdashed node may start: after a keyword glued to a `/-` (`#true/-x y` reads `/-x y` as
/// a slashdashed *node*), after a slashdashed node's `{...}` (`/-a {}b` is node `b`), after a
/// slashdashed children block (`a /-{}/-b` ends `a`). We require the
/// newline there. True when our first complaint is that, and a newline at the spot makes
/// both parsers agree with what kdl read.
fn stricter_terminator(text: &str, e: &super::SyntaxError, reference: &kdl::KdlDocument) -> bool {
    let want = theirs(reference.nodes());
    let mut text = text.to_string();
    let mut error = e.clone();
    // Each round fixes one spot (recovery skips the rest of the line, so a second glued
    // spot on it shows up only in the next round).
    for _ in 0..8 {
        // The first error is the one; recovery after it may echo more.
        let Some(d) = error.diagnostics.first() else {
            return false;
        };
        let message = d.message.as_deref().unwrap_or_default();
        if ![
            "unexpected character after a value",
            "entries must come before a children block",
            "expected whitespace before `/-`",
        ]
        .contains(&message)
        {
            return false;
        }
        let Some((head, tail)) = text.split_at_checked(d.span.offset()) else {
            return false;
        };
        text = format!("{head}\n{tail}");
        let Ok(r) = kdl::KdlDocument::parse_v2(&text) else {
            return false;
        };
        if theirs(r.nodes()) != want {
            return false;
        }
        match Document::parse(&text) {
            Ok(m) => return ours(m.nodes()) == want,
            Err(e) => error = e,
        }
    }
    false
}

/// The text with every run of 39 or more digits (and `_`) shortened to `1`.
fn shrink_big_integers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_digit() || c == '_' {
            run.push(c);
            continue;
        }
        if run.chars().filter(char::is_ascii_digit).count() >= 39 {
            out.push('1');
        } else {
            out.push_str(&run);
        }
        run.clear();
        if c != '\0' {
            out.push(c);
        }
    }
    out
}

/// The kdl crate's compliance inputs, when its package sits in the cargo registry.
fn kdl_test_inputs() -> Vec<(String, String)> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(home) = home else { return Vec::new() };
    let Ok(registries) = std::fs::read_dir(home.join("registry/src")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for registry in registries.flatten() {
        let dir = registry.path().join("kdl-6.7.1/tests/test_cases/input");
        let Ok(files) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = files.flatten().map(|f| f.path()).collect();
        files.sort();
        for f in files {
            if let Ok(text) = std::fs::read_to_string(&f) {
                let name = f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push((name, text));
            }
        }
    }
    out
}

/// A benchmark-shaped stacks.kdl (the shape `examples/gen_stack.rs` writes) of `n` services.
pub(super) fn generated_stack(n: usize) -> String {
    use std::fmt::Write as _;
    let mut kdl = String::from(
        "// generated\nproject \"bench\" domain=\"bench.example\"\n\nlayer \"platform\"\n\
         layer \"data\" depends-on=\"platform\"\nlayer \"apps\" depends-on=\"data\"\n\n\
         defaults {\n    replicas 1\n    resources cpu=\"100m\" memory=\"128Mi\"\n    anti-affinity \"none\"\n}\n\n\
         environment \"dev\" wave=0 domain=\"dev.bench.example\" {\n    replicas 1\n    debug #true\n    values { config { LOG_LEVEL \"debug\" } }\n}\n",
    );
    for i in 0..n {
        let _ = writeln!(
            kdl,
            "service \"svc-{i:04}\" layer=\"apps\" namespace=\"team-{:02}\" template=\"web\" {{",
            i % 10
        );
        let _ = writeln!(
            kdl,
            "    image \"ghcr.io/bench/svc-{i:04}\" tag=\"1.{}.{}\"",
            i % 20,
            i % 7
        );
        kdl.push_str("    port 8080\n    ingress host=\"{{ service.name }}.{{ environment.domain }}\" tls=#true class=\"traefik\"\n");
        kdl.push_str("    values {\n        config {\n");
        let _ = writeln!(kdl, "            CACHE_TTL_SECONDS \"{}\"", 60 + i % 240);
        kdl.push_str("            TRACING_SAMPLE_RATE \"0.1\"\n        }\n    }\n");
        if i % 5 == 0 {
            kdl.push_str("    env \"production\" {\n        replicas 4\n        persistence size=\"20Gi\"\n    }\n");
        }
        kdl.push_str("}\n");
    }
    kdl
}

fn repo_inputs() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut paths = vec![root.join("stacks.kdl")];
    if let Ok(dir) = std::fs::read_dir(root.join("environments")) {
        let mut envs: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        envs.sort();
        paths.extend(envs);
    }
    for p in paths {
        if let Ok(text) = std::fs::read_to_string(&p) {
            out.push((p.display().to_string(), text));
        }
    }
    out.push(("generated".into(), generated_stack(8)));
    out
}

/// A small seeded PRNG (xorshift64*), so every run mutates the same way.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }
}

/// Fragments worth splicing in: every piece of syntax, and the awkward code points.
const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "\"",
    "\"\"\"\n",
    "\n\"\"\"",
    "#",
    "##",
    "#\"",
    "\"#",
    "/-",
    "/- ",
    "/*",
    "*/",
    "//",
    "\\",
    "\\\n",
    "\n",
    "\r\n",
    ";",
    "=",
    " = ",
    "(",
    ")",
    "(t)",
    " ",
    "\t",
    "0x",
    "0o",
    "0b",
    "1.5e3",
    "1_000",
    "-",
    "+",
    ".",
    "-.5",
    "#true",
    "#false",
    "#null",
    "#inf",
    "#-inf",
    "#nan",
    "true",
    "null",
    "\\u{1F600}",
    "\\u{D800}",
    "\\n",
    "\\s",
    "\\q",
    "\u{2028}",
    "\u{85}",
    "\u{A0}",
    "\u{FEFF}",
    "\u{1}",
    "\u{7F}",
    "\u{200E}",
    "\u{3000}",
    "é",
    "x",
    "123456789012345678901234567890123456789012",
    "[",
    "]",
    "a=1",
    " b ",
    "{}",
    " {\n",
];

fn char_boundaries(s: &str) -> Vec<usize> {
    s.char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()))
        .collect()
}

fn mutate(rng: &mut Rng, text: &str) -> String {
    let cuts = char_boundaries(text);
    let mut a = cuts[rng.below(cuts.len())];
    let mut b = cuts[rng.below(cuts.len())];
    if a > b {
        std::mem::swap(&mut a, &mut b);
    }
    if b - a > 40 {
        b = *cuts.iter().find(|&&c| c >= a + rng.below(40)).unwrap_or(&a);
    }
    let frag = FRAGMENTS[rng.below(FRAGMENTS.len())];
    let mut out = String::with_capacity(text.len() + 8);
    match rng.below(4) {
        // Delete a range.
        0 => {
            out.push_str(&text[..a]);
            out.push_str(&text[b..]);
        }
        // Replace a range by a fragment.
        1 => {
            out.push_str(&text[..a]);
            out.push_str(frag);
            out.push_str(&text[b..]);
        }
        // Duplicate a range.
        2 => {
            out.push_str(&text[..b]);
            out.push_str(&text[a..b]);
            out.push_str(&text[b..]);
        }
        // Insert a fragment.
        _ => {
            out.push_str(&text[..a]);
            out.push_str(frag);
            out.push_str(&text[a..]);
        }
    }
    out
}

/// A window of whole lines of a long text, so the (slow) reference parser gets small inputs.
fn window(rng: &mut Rng, text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if lines.len() <= 30 {
        return text.to_string();
    }
    let start = rng.below(lines.len() - 30);
    lines[start..start + 30].concat()
}

fn corpus() -> Vec<(String, String)> {
    let mut all = kdl_test_inputs();
    all.extend(repo_inputs());
    all
}

#[test]
fn agrees_with_kdl_on_the_corpus() {
    let corpus = corpus();
    let mut failures = Vec::new();
    let mut accepted = 0;
    for (name, text) in &corpus {
        match compare(text) {
            Ok(ok) => accepted += usize::from(ok),
            Err(e) => failures.push(format!("{name}: {e}\n{text}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} disagree:\n{}",
        failures.len(),
        corpus.len(),
        failures.join("\n----\n")
    );
    assert!(accepted > 0);
}

#[test]
fn agrees_with_kdl_on_mutations() {
    let corpus = corpus();
    // KDL_MUTATIONS / KDL_SEED widen the search by hand; the default run is the same each time.
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let mut rng = Rng(env("KDL_SEED", 0x5EED_0F57_ACC5) | 1);
    let mut failures = Vec::new();
    let rounds = env("KDL_MUTATIONS", 4000);
    for _ in 0..rounds {
        let (_, base) = &corpus[rng.below(corpus.len())];
        let mut text = window(&mut rng, base);
        for _ in 0..=rng.below(3) {
            text = mutate(&mut rng, &text);
        }
        if let Err(e) = compare(&text) {
            failures.push(format!("{e}\ninput: {text:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {rounds} mutations disagree:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n----\n")
    );
}
