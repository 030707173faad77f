//! Object bodies held as bytes while the other environment of a diff renders.
//!
//! A rendered body as a [`Value`] tree costs about four times its encoded size (a map entry
//! alone is a hash slot, a key `String` and a 32-byte `Value`), and a diff of two large
//! environments holds thousands of them. The encoding is lossless (map order, float bits) and
//! private to one process, so it needs no versioning.

use crate::value::{Map, Value};

/// One body, encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Compact(Box<[u8]>);

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const FLOAT: u8 = 4;
const STRING: u8 = 5;
const LIST: u8 = 6;
const MAP: u8 = 7;

impl Compact {
    /// `value`, encoded.
    pub(crate) fn encode(value: &Value) -> Compact {
        let mut out = Vec::new();
        write_value(&mut out, value);
        Compact(out.into_boxed_slice())
    }

    /// The value back; `None` only if the bytes were not made by [`Compact::encode`].
    pub(crate) fn decode(&self) -> Option<Value> {
        let mut reader = Reader { bytes: &self.0 };
        let value = reader.value()?;
        reader.bytes.is_empty().then_some(value)
    }
}

fn write_len(out: &mut Vec<u8>, mut n: usize) {
    // LEB128: lengths are small, so most take one byte.
    loop {
        let low = u8::try_from(n & 0x7f).unwrap_or(0);
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    write_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Int(i) => {
            out.push(INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Float(f) => {
            out.push(FLOAT);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::String(s) => {
            out.push(STRING);
            write_str(out, s);
        }
        Value::List(items) => {
            out.push(LIST);
            write_len(out, items.len());
            for item in items {
                write_value(out, item);
            }
        }
        Value::Map(map) => {
            out.push(MAP);
            write_len(out, map.len());
            for (key, item) in map {
                write_str(out, key);
                write_value(out, item);
            }
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if n > self.bytes.len() {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn len(&mut self) -> Option<usize> {
        let mut n = 0_usize;
        for shift in (0..usize::BITS).step_by(7) {
            let byte = self.byte()?;
            n |= usize::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    fn eight(&mut self) -> Option<[u8; 8]> {
        self.take(8)?.try_into().ok()
    }

    fn string(&mut self) -> Option<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }

    fn value(&mut self) -> Option<Value> {
        Some(match self.byte()? {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            INT => Value::Int(i64::from_le_bytes(self.eight()?)),
            FLOAT => Value::Float(f64::from_bits(u64::from_le_bytes(self.eight()?))),
            STRING => Value::String(self.string()?),
            LIST => {
                let n = self.len()?;
                // Capped by what is left: every item takes at least one byte.
                let mut items = Vec::with_capacity(n.min(self.bytes.len()));
                for _ in 0..n {
                    items.push(self.value()?);
                }
                Value::List(items)
            }
            MAP => {
                let n = self.len()?;
                let mut map =
                    Map::with_capacity_and_hasher(n.min(self.bytes.len()), crate::value::MapHasher);
                for _ in 0..n {
                    let key = self.string()?;
                    let item = self.value()?;
                    map.insert(key, item);
                }
                Value::Map(map)
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    /// Order-sensitive equality: `Value`'s own `==` ignores map order and float bits.
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
            (Value::List(x), Value::List(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
            }
            (Value::Map(x), Value::Map(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|((kx, vx), (ky, vy))| kx == ky && same(vx, vy))
            }
            _ => a == b,
        }
    }

    #[test]
    fn bodies_round_trip_exactly() {
        let text = "a: 1\nz: -2.5e-3\nm: {b: [1, x, null, true, false], a: {}}\n\
                    long: \""
            .to_string()
            + &"é".repeat(200)
            + "\"\nlist: []\n---\n- 9223372036854775807\n- -9223372036854775808\n---\nplain\n";
        let mut values = parse_documents(&text).expect("test YAML parses");
        values.push(Value::Float(f64::NAN));
        values.push(Value::Float(-0.0));
        values.push(Value::Null);
        for value in &values {
            let back = Compact::encode(value).decode().expect("own bytes decode");
            assert!(same(value, &back), "{value:?} came back as {back:?}");
        }
    }

    #[test]
    fn foreign_bytes_do_not_decode() {
        for bytes in [
            &[][..],
            &[9],
            &[STRING, 5, b'a'],
            &[NULL, NULL],
            &[LIST, 0xff],
        ] {
            assert_eq!(Compact(bytes.into()).decode(), None, "{bytes:?}");
        }
    }
}
