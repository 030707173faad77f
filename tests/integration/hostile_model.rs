//! Hostile `stacks.kdl` and overlay files against the example stack: truncated strings, deep
//! nesting, numbers that do not fit, huge files. Each one is refused with exit 2 and a miette
//! diagnostic that points at the text, never a panic or a signal, and every file of the stack
//! (out/, the stores, the cache) and a folder outside it stay byte-identical.

use crate::harness::{example, tree, Test};
use std::collections::BTreeMap;

/// Breaks the example with `break_it`, runs `stackc build`, and asserts it is refused: exit 2,
/// every one of `expected` in stderr, no panic, and nothing changed in the stack or outside.
#[track_caller]
fn refused(break_it: impl FnOnce(&Test), expected: &[&str]) -> String {
    let t = example();
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("keep.txt"), "outside the stack\n").unwrap();
    break_it(&t);
    let stack_before = stack_tree(&t);
    let outside_before = tree(outside.path());
    let run = t.run(&["build"]);
    let stderr = run.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    run.status(2).stderr_has(expected);
    assert!(
        stack_before == stack_tree(&t),
        "a refused build changed a file of the stack"
    );
    assert!(
        outside_before == tree(outside.path()),
        "a refused build changed a file outside the stack"
    );
    stderr
}

/// Every file of the stack with its bytes, except the build lock (which `build` creates
/// before it reads anything, and which holds no content).
pub fn stack_tree(t: &Test) -> BTreeMap<String, Vec<u8>> {
    let mut files = tree(t.path());
    files.remove(".stackc-cache/build.lock");
    files
}

#[test]
fn unterminated_string_at_the_end_of_the_file_is_a_syntax_error() {
    refused(
        |t| t.write("stacks.kdl", "project \"x"),
        &["stackc::model::syntax", "stacks.kdl:1:"],
    );
    // After valid nodes, and with a trailing backslash that escapes nothing.
    refused(
        |t| {
            let text = t.read("stacks.kdl");
            t.write("stacks.kdl", &format!("{text}service \"web"));
        },
        &["stackc::model::syntax", "stacks.kdl:"],
    );
    refused(
        |t| {
            let text = t.read("stacks.kdl");
            t.write("stacks.kdl", &format!("{text}service \"web\\"));
        },
        &["stackc::model::syntax", "stacks.kdl:"],
    );
    refused(
        |t| {
            let text = t.read("stacks.kdl");
            t.write("stacks.kdl", &format!("{text}service #\"web"));
        },
        &["stackc::model::syntax", "stacks.kdl:"],
    );
    refused(
        |t| {
            let text = t.read("environments/production.kdl");
            t.write(
                "environments/production.kdl",
                &format!("{text}replicas \"3"),
            );
        },
        &["stackc::model::syntax", "environments/production.kdl:"],
    );
}

/// `service "whoami"`'s `values` block in the example with `inner` inside it.
fn nest_in_whoami_values(t: &Test, inner: &str) {
    let text = t.read("stacks.kdl");
    let at = text
        .find("service \"whoami\"")
        .expect("the example declares whoami");
    let open = at + text[at..].find('{').expect("whoami has a block") + 1;
    t.write(
        "stacks.kdl",
        &format!(
            "{}\n    values {{ {inner} }}{}",
            &text[..open],
            &text[open..]
        ),
    );
}

#[test]
fn deep_nesting_is_refused_at_the_brace_past_the_limit() {
    let deep = format!("{}{}", "a { ".repeat(500), "}".repeat(500));
    let err = refused(
        |t| nest_in_whoami_values(t, &deep),
        &["stackc::model::too_deep", "64 levels", "opens level 65"],
    );
    let line = example_line_of_whoami() + 1;
    assert!(err.contains(&format!("stacks.kdl:{line}:")), "{err}");
    // The same in an overlay, and unclosed at the end of the file.
    refused(
        |t| {
            let text = t.read("environments/production.kdl");
            t.write(
                "environments/production.kdl",
                &format!("{text}values {}\n", "{ a ".repeat(100_000)),
            );
        },
        &["stackc::model::too_deep", "environments/production.kdl:"],
    );
}

/// The line of `service "whoami"` in the example's stacks.kdl.
pub fn example_line_of_whoami() -> usize {
    let text = std::fs::read_to_string(crate::harness::repo_root().join("stacks.kdl")).unwrap();
    let at = text.find("service \"whoami\"").unwrap();
    text[..at].matches('\n').count() + 1
}

#[test]
fn text_that_makes_the_kdl_parser_recurse_per_byte_is_refused_first() {
    for (garbage, code) in [
        ("}".repeat(100_000), "unmatched `}`"),
        (
            format!("a {}", "{}".repeat(100_000)),
            "after the `}` of a block",
        ),
        ("/- ".repeat(100_000), "another slashdash"),
        (format!("a {}", "\\ ".repeat(100_000)), "must end its line"),
        ("/*".repeat(100_000), "more than 64 KiB"),
    ] {
        refused(
            |t| {
                let text = t.read("stacks.kdl");
                t.write("stacks.kdl", &format!("{text}{garbage}\n"));
            },
            &["stackc::model::", code, "stacks.kdl:"],
        );
    }
}

/// The 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not found"));
    text[..at].matches('\n').count() + 1
}

/// Replaces the first `from` in `path` by `to` and returns the line it is on.
fn replace(t: &Test, path: &str, from: &str, to: &str) -> usize {
    let text = t.read(path);
    t.edit(path, from, to);
    line_of(&text, from)
}

#[test]
fn numbers_out_of_range_are_errors_at_their_span() {
    for (path, from, to, message) in [
        (
            "stacks.kdl",
            "replicas 3\n",
            "port 18446744073709551616\n",
            "`port` must be between 1 and 65535, found 18446744073709551616",
        ),
        (
            "stacks.kdl",
            "replicas 3\n",
            "port 65536\n",
            "`port` must be between 1 and 65535, found 65536",
        ),
        (
            "stacks.kdl",
            "replicas 3\n",
            "port 0\n",
            "`port` must be between 1 and 65535, found 0",
        ),
        (
            "stacks.kdl",
            "replicas 3\n",
            "replicas 99999999999999999999999\n",
            "`replicas` must be between 0 and 10000",
        ),
        (
            "stacks.kdl",
            "replicas 3\n",
            "replicas -1\n",
            "`replicas` must be between 0 and 10000, found -1",
        ),
        (
            "stacks.kdl",
            "replicas 3\n",
            "replicas 2.5\n",
            "`replicas` must be a non-negative integer",
        ),
        (
            "stacks.kdl",
            "wave=2",
            "wave=-1",
            "`wave` must be between 0 and 1000, found -1",
        ),
        (
            "stacks.kdl",
            "wave=2",
            "wave=99999999999999999999",
            "`wave` must be between 0 and 1000",
        ),
        (
            "stacks.kdl",
            "generate=32",
            "generate=18446744073709551616",
            "`generate` must be between 8 and 4096",
        ),
        (
            "stacks.kdl",
            "generate=32",
            "generate=\"32\"",
            "`generate` must be a non-negative integer",
        ),
        (
            "stacks.kdl",
            "replicas 3\n",
            "values { big 9223372036854775808 }\n",
            "an integer that fits in 64 bits",
        ),
        (
            "stacks.kdl",
            "replicas 3\n",
            "values { big 1e999 }\n",
            "a number that fits in 64 bits",
        ),
        (
            "stacks.kdl",
            "port=5432 entry-point",
            "port=70000 entry-point",
            "`port` must be between 1 and 65535, found 70000",
        ),
        (
            "environments/production.kdl",
            "debug #false\n",
            "replicas 99999999999999999999999\n",
            "`replicas` must be between 0 and 10000",
        ),
        (
            "environments/production.kdl",
            "debug #false\n",
            "port 18446744073709551616\n",
            "`port` must be between 1 and 65535",
        ),
    ] {
        let mut line = 0;
        refused(
            |t| line = replace(t, path, from, to),
            &[message, &format!("{path}:")],
        );
        let err = {
            let t = example();
            replace(&t, path, from, to);
            t.run(&["build"]).stderr()
        };
        assert!(err.contains(&format!("{path}:{line}:")), "{to}: {err}");
    }
}

#[test]
fn huge_files_are_refused_before_parsing() {
    let comment = format!("// {}\n", "x".repeat(76));
    let huge = comment.repeat(9 * 1024 * 1024 / comment.len() + 1);
    refused(
        |t| {
            let text = t.read("stacks.kdl");
            t.write("stacks.kdl", &format!("{text}{huge}"));
        },
        &[
            "stackc::model::too_large",
            "stacks.kdl is larger than 8 MiB",
        ],
    );
    refused(
        |t| t.write("environments/production.kdl", &huge),
        &[
            "stackc::model::too_large",
            "environments/production.kdl is larger than 8 MiB",
        ],
    );
    // Under the file limit, one node followed by 200 KB of comments is one run too large
    // for the parser; the diagnostic points at the node.
    let comments = comment.repeat(200 * 1024 / comment.len());
    let err = refused(
        |t| nest_in_whoami_values(t, &format!("x 1\n{comments}")),
        &["stackc::model::too_large", "more than 64 KiB"],
    );
    let line = example_line_of_whoami();
    assert!(err.contains(&format!("stacks.kdl:{line}:")), "{err}");
}
