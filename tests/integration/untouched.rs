//! The refusal check the patch, `from=` and manifest tests share: a bad input exits 2 with a
//! diagnostic, never panics or dies of a signal, and leaves out/, the secret stores and a
//! folder outside the stack byte-identical.

use crate::harness::{tree, Run, Test};

/// Builds `t` (which must build), applies `break_it`, runs `args`, and asserts exit 2, every
/// one of `expected` in stderr, no panic, and nothing changed. Returns stderr.
#[track_caller]
pub fn refused(t: &Test, break_it: impl FnOnce(&Test), args: &[&str], expected: &[&str]) -> String {
    t.run(&["build"]).success();
    refused_now(t, break_it, args, expected)
}

/// As [`refused`], without the first build (for a stack that cannot build at all).
#[track_caller]
pub fn refused_now(
    t: &Test,
    break_it: impl FnOnce(&Test),
    args: &[&str],
    expected: &[&str],
) -> String {
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("keep.txt"), "outside the stack\n").unwrap();
    let before = (t.tree("out"), stores(t), tree(outside.path()));
    break_it(t);
    let result: Run = t.run(args);
    assert!(
        result.output.status.code().is_some(),
        "killed by a signal: {:?}\n{}",
        result.output.status,
        result.stderr()
    );
    result.status(2).stderr_has(expected);
    let stderr = result.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let after = (t.tree("out"), stores(t), tree(outside.path()));
    assert!(before.0 == after.0, "a refused build changed out/");
    assert!(before.1 == after.1, "a refused build changed a store");
    assert!(
        before.2 == after.2,
        "a refused build changed a folder outside the stack"
    );
    stderr
}

/// The secret stores (not the overlay files beside them, which a test may be editing).
fn stores(t: &Test) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut all = t.tree("environments");
    all.retain(|name, _| name.ends_with(".secrets.sops.yaml"));
    all
}
