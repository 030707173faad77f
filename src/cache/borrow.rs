//! Decoding a cache's strings in place. Serde borrows a `Cow<str>` only when it is a field's
//! own type: inside a `Vec` or a tuple it always allocates, which for the 15,000 paths of an
//! environment at N=1000 was a third of a no-op build. These decode the same bytes as
//! `&str`s borrowed from the cache file and wrap them.

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::marker::PhantomData;

/// A `Vec<(Cow<str>, T)>` whose strings borrow from the input, decoded straight into place
/// (no vector of `&str` pairs first: for the 15,000 stamps of an environment at N = 1,000
/// that copy was a fifth of decoding them).
pub(super) fn pairs<'de, D, T>(deserializer: D) -> Result<Vec<(Cow<'de, str>, T)>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Pairs<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Pairs<T> {
        type Value = Vec<(Cow<'de, str>, T)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a sequence of (string, value) pairs")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            // A hint from the input is only a hint: capped, so a damaged length cannot make
            // one allocation huge.
            let mut pairs = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
            while let Some((name, value)) = seq.next_element::<(&'de str, T)>()? {
                pairs.push((Cow::Borrowed(name), value));
            }
            Ok(pairs)
        }
    }
    deserializer.deserialize_seq(Pairs(PhantomData))
}

/// A `Vec<Cow<str>>` whose strings borrow from the input.
pub(super) fn strs<'de, D>(deserializer: D) -> Result<Vec<Cow<'de, str>>, D::Error>
where
    D: Deserializer<'de>,
{
    struct Strs;
    impl<'de> Visitor<'de> for Strs {
        type Value = Vec<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a sequence of strings")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut strs = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
            while let Some(s) = seq.next_element::<&'de str>()? {
                strs.push(Cow::Borrowed(s));
            }
            Ok(strs)
        }
    }
    deserializer.deserialize_seq(Strs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, Deserialize)]
    struct Sample<'a> {
        #[serde(borrow, deserialize_with = "pairs")]
        pairs: Vec<(Cow<'a, str>, u8)>,
        #[serde(borrow, deserialize_with = "strs")]
        strs: Vec<Cow<'a, str>>,
    }

    #[test]
    fn strings_are_borrowed_and_round_trip() {
        let sample = Sample {
            pairs: vec![("a/b.yaml".into(), 1), ("c.yaml".into(), 2)],
            strs: vec!["v1/ConfigMap/web/a".into()],
        };
        let bytes = postcard::to_stdvec(&sample).unwrap();
        let back: Sample<'_> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.pairs, sample.pairs);
        assert_eq!(back.strs, sample.strs);
        assert!(back
            .pairs
            .iter()
            .map(|(s, _)| s)
            .chain(&back.strs)
            .all(|s| matches!(s, Cow::Borrowed(_))));
    }
}
