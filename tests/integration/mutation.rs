//! A seeded, bounded mutation test of the input edge: the example's `stacks.kdl`, its
//! `environments/production.kdl` overlay and its `environments/dev.secrets.sops.yaml` store,
//! mutated the way a bad edit, a bad merge or a hostile hand would (bit flips, deletions,
//! insertions of KDL- and YAML-significant characters, truncations, duplicated lines, huge
//! numbers, runs of braces).
//!
//! - In process, 3,000 mutations (1,500 of `stacks.kdl`, 1,000 of the overlay, 500 of the
//!   store) go through the library's own load path (`stackc::model::load` on a temp copy,
//!   `stackc::seal::Store::from_text` for the store) under `catch_unwind`: no panic.
//! - Through the binary, 200 mutations (80, 60, 60) run `stackc build` on a temp copy of the
//!   example with its out/: never exit 101 or a signal, and whenever the exit is not 0,
//!   out/, the stores and every other file of the stack are byte-identical.
//!
//! The PRNG is a fixed-seed `SplitMix64`, so a failure names a case that reproduces. Both
//! tests together take about 45 s in a debug build on two busy cores.

use crate::harness::{example, repo_root, Test};
use crate::hostile_model::stack_tree;
use std::path::Path;

/// `SplitMix64`: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n as u64)).unwrap_or(0)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Characters that mean something to KDL or YAML.
const SIGNIFICANT: &[&[u8]] = &[
    b"\"", b"{", b"}", b"#", b"/", b"\\", b";", b"=", b"-", b"0", b"7", b"9", b"\n", b"(", b")",
    b"*", b"/-", b"//", b"/*", b"*/", b"#\"", b"\"#", b"\"\"\"", b":", b"&a", b"*a", b"!!", b"'",
    b"|", b">", b"[", b"]", b"#null", b"#true", b"\t", b"\r",
];

/// Text that some parsers recurse on once per repetition.
const RUNS: &[&[u8]] = &[b"{ a ", b"}", b"/* ", b"\\ ", b"/- ", b"\"", b"- [", b"*/"];

/// Numbers that do not fit where numbers go.
const HUGE: &[&str] = &[
    "18446744073709551616",
    "99999999999999999999999",
    "-1",
    "-9223372036854775809",
    "9223372036854775808",
    "1e999",
    "0x7fffffffffffffffffffffffffffffff",
    "65536",
    "0",
    "1.5",
    "170141183460469231731687303715884105728",
];

/// One mutation of `text`.
fn mutate(rng: &mut Rng, text: &[u8]) -> Vec<u8> {
    let mut out = text.to_vec();
    let at = rng.below(out.len().max(1));
    match rng.below(9) {
        0 => {
            if let Some(b) = out.get_mut(at) {
                *b ^= 1 << rng.below(8);
            }
        }
        1 => {
            let end = (at + 1 + rng.below(16)).min(out.len());
            out.drain(at.min(end)..end);
        }
        2 | 3 => {
            let insert = *rng.pick(SIGNIFICANT);
            out.splice(at..at, insert.iter().copied());
        }
        4 => out.truncate(at),
        5 => {
            // Duplicate the line `at` is on.
            let start = out[..at]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p + 1);
            let end = out[at..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(out.len(), |p| at + p + 1);
            let line = out[start..end].to_vec();
            out.splice(end..end, line);
        }
        6 => {
            // Replace the run of digits at or after `at` with a number that does not fit.
            if let Some(start) = out[at..]
                .iter()
                .position(u8::is_ascii_digit)
                .map(|p| at + p)
            {
                let end = out[start..]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .map_or(out.len(), |p| start + p);
                out.splice(start..end, rng.pick(HUGE).bytes());
            }
        }
        7 => {
            let run = *rng.pick(RUNS);
            let times = 1 + rng.below(200);
            out.splice(at..at, run.repeat(times));
        }
        _ => {
            // Two mutations at once.
            out = mutate(rng, &out);
            out = mutate(rng, &out);
        }
    }
    out
}

const STACK: &str = "stacks.kdl";
const OVERLAY: &str = "environments/production.kdl";
const STORE: &str = "environments/dev.secrets.sops.yaml";

/// The bulk: mutations loaded in process, where a panic is caught and named.
#[test]
fn mutated_inputs_never_panic_the_load_path() {
    let t = example();
    stackc::model::load(t.path()).expect("the example loads");
    let mut rng = Rng(0x5EED_0001);
    let mut failures = Vec::new();
    for (file, count) in [(STACK, 1500), (OVERLAY, 1000), (STORE, 500)] {
        let original = std::fs::read(repo_root().join(file)).unwrap();
        for case in 0..count {
            let mutated = mutate(&mut rng, &original);
            let outcome = if file == STORE {
                let text = String::from_utf8(mutated.clone()).ok();
                std::panic::catch_unwind(|| {
                    let _ = stackc::seal::Store::from_text(Path::new(STORE), text);
                })
            } else {
                std::fs::write(t.path().join(file), &mutated).unwrap();
                std::panic::catch_unwind(|| {
                    let _ = stackc::model::load(t.path());
                })
            };
            if outcome.is_err() {
                failures.push(format!(
                    "{file} case {case}: {:?}",
                    String::from_utf8_lossy(&mutated)
                ));
            }
        }
        std::fs::write(t.path().join(file), &original).unwrap();
    }
    assert!(failures.is_empty(), "panics:\n{}", failures.join("\n"));
}

/// A few through the binary: exit codes, signals and the files on disk.
#[test]
fn mutated_inputs_never_crash_the_binary_or_touch_out() {
    let mut rng = Rng(0x5EED_0002);
    let key = repo_root().join("examples/keys/example.agekey");
    let key = key.to_string_lossy();
    for (file, count) in [(STACK, 80), (OVERLAY, 60), (STORE, 60)] {
        let original = std::fs::read(repo_root().join(file)).unwrap();
        for case in 0..count {
            let mutated = mutate(&mut rng, &original);
            let t: Test = example();
            std::fs::write(t.path().join(file), &mutated).unwrap();
            let before = stack_tree(&t);
            // Half the store cases with the identity, so the store is also decrypted.
            let envs: &[(&str, &str)] = if file == STORE && case % 2 == 0 {
                &[("SOPS_AGE_KEY_FILE", &key)]
            } else {
                &[]
            };
            let run = t.run_with(&["build"], None, envs);
            let what = format!(
                "{file} case {case}: {:?}\n--- stderr\n{}",
                String::from_utf8_lossy(&mutated),
                run.stderr()
            );
            assert!(
                run.output.status.code().is_some(),
                "killed by a signal: {what}"
            );
            assert_ne!(run.code(), 101, "panicked: {what}");
            assert!(!run.stderr().contains("panicked"), "panicked: {what}");
            if run.code() != 0 {
                assert!(
                    before == stack_tree(&t),
                    "a failed build changed files: {what}"
                );
            }
        }
    }
}
