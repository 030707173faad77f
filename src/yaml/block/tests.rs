//! The fast loader against the full one: on every YAML text of the repository, on emitted
//! random values, and on mutations of both, whatever the fast loader reads must be exactly
//! what the full loader reads.

use super::parse;
use crate::value::Value;
use crate::yaml::testgen::{random_value, Rng};
use crate::yaml::{parse_events, to_yaml};
use std::fmt::Write as _;
use std::path::Path;

/// Both loaders on one text: the fast one may give up, but never disagree. Returns whether
/// the fast loader read it.
fn agree(text: &str) -> bool {
    let Some(fast) = parse(text) else {
        return false;
    };
    // Compared as text: NaN is not equal to itself.
    let full = parse_events(text).map(|docs| format!("{docs:?}"));
    assert_eq!(
        Ok(format!("{fast:?}")),
        full.map_err(|e| e.message),
        "the loaders disagree on:\n{text}"
    );
    true
}

/// Rewrites of a text that keep it YAML (mostly): what hand-written templates do differently
/// from our emitter.
fn variants(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let join = |f: &dyn Fn(usize, &str) -> String| -> String {
        let mut out: String = lines
            .iter()
            .enumerate()
            .map(|(i, l)| f(i, l) + "\n")
            .collect();
        if !text.ends_with('\n') {
            out.pop();
        }
        out
    };
    vec![
        join(&|_, l| format!("{l} # comment")),
        join(&|_, l| format!("{l}   ")),
        join(&|i, l| {
            let spaces = l.len() - l.trim_start().len();
            format!(
                "{}{l}",
                if i % 3 == 0 {
                    format!("{}# note\n", " ".repeat(spaces))
                } else {
                    String::new()
                }
            )
        }),
        join(&|_, l| format!("{l}\n")),
        join(&|_, l| format!("{l}\n   ")),
        join(&|_, l| {
            let spaces = l.len() - l.trim_start().len();
            format!("{}{}", " ".repeat(spaces), &l[spaces..]).replacen(
                ' ',
                "  ",
                spaces.min(1) * spaces,
            )
        }),
        join(&|_, l| l.replace("- ", "-   ")),
        join(&|_, l| l.replace(": ", ":  ")),
        join(&|_, l| l.replace(": ", " : ")),
        join(&|_, l| l.replace('"', "'")),
        join(&|_, l| l.replace(" |", " |+")),
        join(&|_, l| l.replace(" |", " >")),
        join(&|_, l| l.replace(" |-", " |")),
        format!("---\n{text}---\n{text}"),
        format!("# head\n---\n{text}\n...\n"),
        text.trim_end().to_string(),
        format!("{text}\n\n"),
        text.replace('\n', "\r\n"),
        text.replace("  ", "\t"),
        format!("\u{feff}{text}"),
        text.lines().fold(String::new(), |mut out, l| {
            let _ = writeln!(out, "  {l}");
            out
        }),
    ]
}

/// Random single edits with YAML's significant characters.
fn mutations(rng: &mut Rng, text: &str, count: usize) -> Vec<String> {
    const PIECES: &[&str] = &[
        " ", "  ", "\n", ":", ": ", "-", "- ", "#", " #", "\"", "'", "|", "|-", "|+", ">", "x",
        "0", "1.5", "&a ", "*a", "!!str ", "[", "]", "{", "}", ",", "?", "---\n", "...\n", "\\",
        "\\n", "\\x41", "é", "~",
    ];
    let boundaries: Vec<usize> = (0..=text.len())
        .filter(|&i| text.is_char_boundary(i))
        .collect();
    (0..count)
        .map(|_| {
            let at = *rng.pick(&boundaries);
            let mut out = text.to_string();
            if rng.below(3) == 0 && at < text.len() {
                let end = boundaries
                    .iter()
                    .find(|&&b| b > at)
                    .copied()
                    .unwrap_or(text.len());
                out.replace_range(at..end, "");
            } else {
                let piece: &str = rng.pick::<&str>(PIECES);
                out.insert_str(at, piece);
            }
            out
        })
        .collect()
}

/// The YAML texts of the repository: the example's out/ tree, its manifests, the test
/// stacks and fixtures, and the templates with their Jinja parts replaced by plain words.
fn repository_texts() -> Vec<(String, String)> {
    fn walk(dir: &Path, texts: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, texts);
                continue;
            }
            let name = path.to_string_lossy().to_string();
            if !(name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".j2")) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let text = if name.ends_with(".j2") {
                unjinja(&text)
            } else {
                text
            };
            texts.push((name, text));
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = Vec::new();
    for dir in ["out", "manifests", "templates", "tests", "examples", "docs"] {
        walk(&root.join(dir), &mut texts);
    }
    texts
}

/// A template with `{% .. %}` lines dropped and `{{ .. }}` replaced by a word.
fn unjinja(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("{%") || line.trim_start().starts_with("{#") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("{{") {
            out.push_str(&rest[..at]);
            match rest[at..].find("}}") {
                Some(end) => {
                    out.push_str("value");
                    rest = &rest[at + end + 2..];
                }
                None => {
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out.push('\n');
    }
    out
}

#[test]
fn every_yaml_text_of_the_repository_reads_the_same() {
    let texts = repository_texts();
    assert!(texts.len() > 50, "found only {} texts", texts.len());
    let mut rng = Rng(0x5eed);
    let mut fast = 0;
    let mut compared = 0;
    for (name, text) in &texts {
        if agree(text) {
            fast += 1;
        } else {
            assert!(!name.contains("/out/"), "the fast loader gave up on {name}");
        }
        for variant in variants(text) {
            compared += usize::from(agree(&variant));
        }
        if text.len() < 4000 {
            for mutated in mutations(&mut rng, text, 40) {
                compared += usize::from(agree(&mutated));
            }
        }
    }
    eprintln!(
        "STATS fast {fast} of {} texts, {compared} variants compared",
        texts.len()
    );
    assert!(
        fast * 2 > texts.len(),
        "the fast loader read only {fast} of {}",
        texts.len()
    );
}

#[test]
fn emitted_random_values_read_back_through_the_fast_loader() {
    let mut rng = Rng(0x00c0_ffee);
    for _ in 0..3000 {
        let value = random_value(&mut rng, 0);
        let text = to_yaml(&value);
        let read = agree(&text);
        if matches!(&value, Value::Map(m) if !m.is_empty())
            || matches!(&value, Value::List(l) if !l.is_empty())
        {
            assert!(read, "the fast loader gave up on emitted YAML:\n{text}");
        }
        for variant in variants(&text) {
            agree(&variant);
        }
        for mutated in mutations(&mut rng, &text, 3) {
            agree(&mutated);
        }
    }
}

#[test]
fn hand_written_block_yaml_reads_the_same() {
    let cases = [
        "a: 1\nb: two\nc:\n  - x\n  - y: 1\n    z: 2\n",
        "a:\n- x\n- y\nb: 1\n",
        "- a: 1\n  b:\n  - c\n- d\n",
        "-\n  a: 1\n-\n- x\n",
        "a: |\n  line\n    more\n\n  end\n\n\nb: 1\n",
        "a: |-\n  x\n\n\nb: |+\n  y\n\n\n",
        "a: |\n   x\n  # not a comment\n",
        "a: |\n  x\n# comment\nb: |\n\n  y\n",
        "a: |\n  x",
        "a: |+\n  x\n  ",
        "a: |\n  x\n     \n  y\n",
        "a: |\n\n   \n  x\n",
        "a: |\nb: 1\n",
        "a: |2\n   x\n",
        "k: \"esc \\\" \\\\ \\n \\t \\x41 \\u00e9 \\U0001F600 \\/ \\_ \\N\"\n",
        "k: \"bad \\q\"\n",
        "k: 'it''s' # c\n'q k': \"v\"\n\"1\": x\n",
        "k: \"unterminated\n  more\"\n",
        "a: b\n  c\n",
        "a: b\n\n  c\n",
        "a: b\n  # c\nd: e\n",
        "a: [] # empty\nb: {}\nc: [1, 2]\nd: {x: 1}\n",
        "1: one\n0x1f: hex\ntrue: t\nTrue: T\n~: n\n1.50: f\n+12: p\n",
        "a: 1\na: 2\n",
        "a: 1\nb: &x 2\nc: *x\n",
        "a: !!str 1\n",
        "? a\n: b\n",
        "a: b: c\n",
        "a: - b\n",
        "a:b\n",
        "a: x:\n",
        "a: x #:y\nb: http://h/#f\n",
        "---\na: 1\n--- \nb: 2\n---\n---\n",
        "--- a: 1\n",
        "a: 1\n...\n",
        "  a: 1\n  b: 2\n",
        "  a: 1\nb: 2\n",
        "a:\n    b: 1\n   c: 2\n",
        "- - a\n",
        "- a\n - b\n",
        "-1: x\n- y\n",
        "a: -1\nb: --flag\nc: -\n",
        "a: 0x\nb: 1e\nc: .inf\nd: -.INF\ne: .NaN\nf: 010\ng: 1_000\nh: 9223372036854775808\n",
        "a: >\n  folded\n  text\n",
        "a:\n  hello\n",
        "#!x\na: 1\n",
        "a: 1 #c\n#c\n  #c\nb: 2",
        "a:     \n  b: 1\n",
        "- |\n  x\n- |\n y\n",
        "a:\n  - |\n    x\n  - b\n",
        "a: \"x\"y\n",
        "a: 'x'#y\n",
        "a: \"x\"#y\n",
        "\"a\"  :  1\n",
        "a: 1\n- b\n",
        "[a, b]\n",
        "plain\n",
        "",
        "# only\n",
        "a: \u{e9}t\u{e9}\n\u{e9}: x\n",
    ];
    let mut rng = Rng(7);
    for text in cases {
        agree(text);
        for variant in variants(text) {
            agree(&variant);
        }
        for mutated in mutations(&mut rng, text, 200) {
            agree(&mutated);
        }
    }
    // The common shapes are read by the fast loader, not handed on.
    for text in &cases[..9] {
        assert!(parse(text).is_some(), "{text}");
    }
}

#[test]
fn deep_or_large_texts_go_to_the_full_loader() {
    let deep = (0..100).fold(String::new(), |mut out, i| {
        let _ = writeln!(out, "{}k{i}:", " ".repeat(i));
        out
    });
    assert!(parse(&deep).is_none());
    let large = "a: b\n".repeat(100_000).replace("a: b\n", "- b\n");
    assert!(parse(&large).is_none());
}
