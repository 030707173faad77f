//! Decoding a cache's strings in place. Serde borrows a `Cow<str>` only when it is a field's
//! own type: inside a `Vec` or a tuple it always allocates, which for the 15,000 paths of an
//! environment at N=1000 was a third of a no-op build. These decode the same bytes as
//! `&str`s borrowed from the cache file and wrap them.

use serde::{Deserialize, Deserializer};
use std::borrow::Cow;

/// A `Vec<(Cow<str>, T)>` whose strings borrow from the input.
pub(super) fn pairs<'de, D, T>(deserializer: D) -> Result<Vec<(Cow<'de, str>, T)>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let pairs: Vec<(&'de str, T)> = Vec::deserialize(deserializer)?;
    Ok(pairs
        .into_iter()
        .map(|(name, value)| (Cow::Borrowed(name), value))
        .collect())
}

/// A `Vec<Cow<str>>` whose strings borrow from the input.
pub(super) fn strs<'de, D>(deserializer: D) -> Result<Vec<Cow<'de, str>>, D::Error>
where
    D: Deserializer<'de>,
{
    let strs: Vec<&'de str> = Vec::deserialize(deserializer)?;
    Ok(strs.into_iter().map(Cow::Borrowed).collect())
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
