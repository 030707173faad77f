//! Random values for the YAML tests: a small deterministic generator, so that a failure
//! reproduces, and strings that test quoting and scalar resolution.

use crate::value::{Map, Value};

/// A small deterministic generator (xorshift), so that failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Strings that test quoting and scalar resolution.
pub const STRINGS: &[&str] = &[
    "web",
    "nginx:1.27",
    "100m",
    "0x1F",
    "0o17",
    "1e3",
    "1E3",
    ".inf",
    "-.Inf",
    ".nan",
    "~",
    "null",
    "Null",
    "yes",
    "no",
    "on",
    "off",
    "true",
    "True",
    "FALSE",
    "010",
    "+12",
    "-0",
    "1_000",
    "12:30",
    "2024-01-02",
    "",
    " ",
    " lead",
    "trail ",
    "a: b",
    "a #b",
    "a#b",
    "#x",
    "- x",
    "-x",
    "--flag",
    "?x",
    "? x",
    ":x",
    "a:",
    "http://x/#f",
    "[x]",
    "{x}",
    "x,y",
    "*x",
    "&x",
    "!x",
    "%x",
    "@x",
    "`x",
    "'x",
    "\"x",
    "it's",
    "say \"hi\"",
    "back\\slash",
    "|",
    ">",
    "line one\nline two\n",
    "a\nb",
    "a\n\n\n",
    " lead\nx",
    "x\n lead",
    "tab\there",
    "nul\0",
    "bell\u{7}",
    "héllo wörld",
    "日本語",
    "emoji 🎉",
    "nbsp\u{a0}x",
    "ls\u{2028}x",
    "=",
    "<<",
    "---",
    "...",
    "--- x",
    "a\r\nb",
    "9223372036854775808",
    "-9223372036854775808",
    "5.",
    "-.5",
    "0.0.1",
    "1e",
    "0x",
    "+",
    "+.inf",
    "key: value: x",
    "trailing\n\n",
];

pub fn random_value(rng: &mut Rng, depth: usize) -> Value {
    let kind = if depth > 4 {
        rng.below(5)
    } else {
        rng.below(8)
    };
    match kind {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => Value::Int(i64::try_from(rng.next() >> 1).unwrap_or(0) >> rng.below(63)),
        3 => Value::Float(*rng.pick(&[0.5, -2.0, 1e300, 1.5e-7, f64::INFINITY, f64::NAN])),
        4 => Value::String((*rng.pick(STRINGS)).to_string()),
        5 => {
            let n = rng.below(4);
            Value::List((0..n).map(|_| random_value(rng, depth + 1)).collect())
        }
        _ => {
            let mut map = Map::default();
            for _ in 0..rng.below(5) {
                let key = (*rng.pick(STRINGS)).to_string();
                map.insert(key, random_value(rng, depth + 1));
            }
            Value::Map(map)
        }
    }
}
