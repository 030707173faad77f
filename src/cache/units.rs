//! The next units section, encoded against the last one. A kept unit's entry (its name and
//! record, each length-prefixed) is byte for byte the entry the old cache file holds, and
//! sorted by name the kept units of an edit are long runs of neighbouring entries there. So
//! the section is written as pieces: the frame and the entries of units rendered now as
//! bytes of its own, and each run of kept entries as a range of the old file, never copied
//! into memory (at N = 10,000 the copies were 34 MB of an edit's peak).

use super::{push_varint, section, Hash32, UnitRecord};
use std::borrow::Cow;
use std::ops::Range;

/// A units section in pieces ([`encode_units`]); [`EncodedUnits::pieces`] gives its bytes.
#[derive(Debug, Default)]
pub struct EncodedUnits {
    own: Vec<u8>,
    pieces: Vec<Piece>,
    /// The length of the old file the [`Piece::Old`] ranges are of.
    old_len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// A range of [`EncodedUnits::own`].
    Own(Range<usize>),
    /// A range of the old cache file.
    Old(Range<usize>),
}

impl EncodedUnits {
    /// The section's bytes, in order, given the bytes of the old cache file it was encoded
    /// against (as [`super::EnvCache::bytes`] holds them). Any other file gives no pieces:
    /// nothing is written that its checksum would not vouch for.
    pub fn pieces<'a>(&'a self, old: &'a [u8]) -> Vec<&'a [u8]> {
        if old.len() != self.old_len {
            return Vec::new();
        }
        self.pieces
            .iter()
            .filter_map(|piece| match piece {
                Piece::Own(range) => self.own.get(range.clone()),
                Piece::Old(range) => old.get(range.clone()),
            })
            .collect()
    }

    /// The section as one buffer.
    pub fn to_vec(&self, old: &[u8]) -> Vec<u8> {
        self.pieces(old).concat()
    }

    fn push_own(&mut self, bytes: &[u8]) {
        let start = self.own.len();
        self.own.extend_from_slice(bytes);
        self.extend(Piece::Own(start..self.own.len()));
    }

    /// Appends `piece`, merged into the last one when it continues it.
    fn extend(&mut self, piece: Piece) {
        match (self.pieces.last_mut(), &piece) {
            (Some(Piece::Own(last)), Piece::Own(next))
            | (Some(Piece::Old(last)), Piece::Old(next))
                if last.end == next.start =>
            {
                last.end = next.end;
            }
            _ => self.pieces.push(piece),
        }
    }
}

/// The units section, framed (hash and length), ready for [`super::encode`]: the records by
/// unit name, sorted by name. A record still holding the bytes it was read from (out of
/// `old`, the old cache file's bytes) is taken from there as it is; the others are encoded.
pub fn encode_units(
    units: &[(Cow<'_, str>, UnitRecord<'_>)],
    check_env: Option<&Hash32>,
    old: &[u8],
) -> EncodedUnits {
    // The bytes `UnitsSection` decodes (postcard): the count, then each name and record as
    // length-prefixed bytes, then the optional digest.
    let mut out = EncodedUnits {
        old_len: old.len(),
        ..EncodedUnits::default()
    };
    // Room for the frame, filled in at the end.
    out.push_own(&[0; section::FRAME]);
    let mut scratch = Vec::new();
    push_varint(&mut scratch, units.len());
    out.push_own(&scratch);
    let mut encoded = Vec::new();
    for (name, record) in units {
        if let Some(range) = record
            .stored
            .and_then(|stored| old_entry(old, name, stored))
        {
            out.extend(Piece::Old(range));
            continue;
        }
        let record_bytes = match record.stored {
            Some(stored) => stored,
            None => {
                encoded.clear();
                // Plain structs, vectors and strings always serialize; if not, the unit has
                // no record (and is rendered next time).
                section::append(&mut encoded, record);
                &encoded
            }
        };
        scratch.clear();
        push_entry_head(&mut scratch, name, record_bytes.len());
        scratch.extend_from_slice(record_bytes);
        out.push_own(&scratch);
    }
    scratch.clear();
    section::append(&mut scratch, &check_env);
    out.push_own(&scratch);
    // The frame, over everything after it (its own bytes begin the first piece).
    let mut body = out.pieces(old);
    if let Some(first) = body.first_mut() {
        *first = first.get(section::FRAME..).unwrap_or_default();
    }
    let frame = section::frame_of(&body);
    out.own[..section::FRAME].copy_from_slice(&frame);
    out
}

/// What precedes a unit's record in the section: the name's length, the name, the record's
/// length.
fn push_entry_head(out: &mut Vec<u8>, name: &str, record_len: usize) {
    push_varint(out, name.len());
    out.extend_from_slice(name.as_bytes());
    push_varint(out, record_len);
}

/// Where in `old` the entry of unit `name` lies whose record bytes are `stored` (a slice of
/// `old`): the name's length, the name, the record's length, the record. `None` unless
/// those bytes are exactly what the entry would be encoded as.
fn old_entry(old: &[u8], name: &str, stored: &[u8]) -> Option<Range<usize>> {
    let at = stored.as_ptr().addr().checked_sub(old.as_ptr().addr())?;
    let end = at.checked_add(stored.len())?;
    let mut prefix = Vec::with_capacity(name.len() + 20);
    push_entry_head(&mut prefix, name, stored.len());
    let start = at.checked_sub(prefix.len())?;
    (end <= old.len() && old.get(start..at)? == prefix.as_slice()).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u8) -> UnitRecord<'static> {
        UnitRecord::rendered(
            [n; 32],
            Some([n; 32]),
            vec![(format!("apps/u{n}/a.yaml").into(), [n; 32])],
            vec![format!("v1/ConfigMap/u/{n}").into()],
            Vec::new(),
            "[]".into(),
        )
    }

    fn names(n: u8) -> Vec<String> {
        (0..n).map(|i| format!("unit-{i:03}")).collect()
    }

    #[test]
    fn kept_entries_are_ranges_of_the_old_file_and_the_bytes_are_as_if_copied() {
        let names = names(50);
        let fresh: Vec<(Cow<'_, str>, UnitRecord<'_>)> = names
            .iter()
            .zip(0..)
            .map(|(name, i)| (Cow::Borrowed(name.as_str()), record(i)))
            .collect();
        let stat = super::super::StatSection::default();
        let first = encode_units(&fresh, Some(&[7; 32]), &[]);
        assert_eq!(first.pieces.len(), 1, "one buffer of its own");
        let old = super::super::encode(&stat, &first.to_vec(&[]));
        let cache = super::super::EnvCache::from_bytes(old.clone()).unwrap();
        let section = cache.units().unwrap();
        // Unit 20 rendered again, unit 40 under a new source key, every other one kept.
        let mut next: Vec<(Cow<'_, str>, UnitRecord<'_>)> = names
            .iter()
            .map(|name| (Cow::Borrowed(name.as_str()), section.unit(name).unwrap()))
            .collect();
        next[20].1 = record(99);
        next[40].1 = next[40].1.clone().with_source([98; 32]);
        let spliced = encode_units(&next, Some(&[7; 32]), cache.bytes());
        let old_pieces = spliced
            .pieces
            .iter()
            .filter(|p| matches!(p, Piece::Old(_)))
            .count();
        assert_eq!(old_pieces, 3, "{:?}", spliced.pieces);
        // The same bytes as encoding every record anew.
        let owned: Vec<(Cow<'_, str>, UnitRecord<'_>)> = next
            .iter()
            .map(|(name, r)| (name.clone(), r.clone().with_source(r.source)))
            .collect();
        let anew = encode_units(&owned, Some(&[7; 32]), &[]).to_vec(&[]);
        assert_eq!(spliced.to_vec(cache.bytes()), anew);
        // And a cache saved with it reads back with the changes.
        let again = super::super::EnvCache::from_bytes(super::super::encode(&stat, &anew)).unwrap();
        let units = again.units().unwrap();
        assert_eq!(units.unit("unit-020").unwrap().source, [99; 32]);
        assert_eq!(units.unit("unit-040").unwrap().source, [98; 32]);
        assert_eq!(units.unit("unit-049").unwrap().source, [49; 32]);
        assert_eq!(units.check_env, Some([7; 32]));
        // Against another file the ranges mean nothing: no pieces at all.
        assert!(spliced.pieces(&old[1..]).is_empty());
    }

    #[test]
    fn a_stored_slice_that_is_not_the_entry_it_claims_is_encoded_anew() {
        let bytes = b"\x03abc\x02xyz".to_vec();
        // The real entry: name "abc", record "xy" (then one byte more).
        assert_eq!(old_entry(&bytes, "abc", &bytes[5..7]), Some(0..7));
        // Another name, a record that is not preceded by its length, a slice elsewhere.
        assert_eq!(old_entry(&bytes, "abd", &bytes[5..7]), None);
        assert_eq!(old_entry(&bytes, "abc", &bytes[5..8]), None);
        assert_eq!(old_entry(&bytes, "abc", b"xy"), None);
        assert_eq!(old_entry(&bytes, "abc", &bytes[0..2]), None);
    }
}
