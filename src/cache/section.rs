//! The framing of a cache file's sections: each is its checksum (xxh3-128, 16 bytes), its
//! length (8 bytes, little-endian) and its body in postcard's compact binary form. A section
//! whose checksum does not match its bytes is never decoded.
//!
//! The checksum catches damage (a torn write, a flipped bit, a truncated copy), which is all
//! an unkeyed hash can do here: whoever can write the cache could compute any of them, and
//! can write `out/` directly anyway. A cryptographic hash would only cost more: an edit of
//! one service reads and writes the whole cache, and at 10,000 services blake3 over those 50
//! MB was a tenth of the build.

use serde::{Deserialize, Serialize};
use std::ops::Range;

const HASH: usize = 16;
const LEN: usize = 8;
/// The bytes of a frame before its body.
pub(super) const FRAME: usize = HASH + LEN;

/// The body length a frame's first [`FRAME`] bytes give; `None` when they are too few.
pub(super) fn body_len(frame: &[u8]) -> Option<u64> {
    let len_bytes: [u8; LEN] = frame.get(HASH..FRAME)?.try_into().ok()?;
    Some(u64::from_le_bytes(len_bytes))
}

/// The ranges of `count` framed sections starting at `at` (the whole section, frame
/// included); `None` when the bytes are too short or have anything after the last section.
pub(super) fn split(bytes: &[u8], mut at: usize, count: usize) -> Option<Vec<Range<usize>>> {
    let mut sections = Vec::with_capacity(count);
    for _ in 0..count {
        let len_bytes: [u8; LEN] = bytes.get(at + HASH..at + HASH + LEN)?.try_into().ok()?;
        let len = usize::try_from(u64::from_le_bytes(len_bytes)).ok()?;
        let end = (at + HASH + LEN).checked_add(len)?;
        if end > bytes.len() {
            return None;
        }
        sections.push(at..end);
        at = end;
    }
    (at == bytes.len()).then_some(sections)
}

/// Whether one section's body matches its checksum.
pub(super) fn verify(bytes: &[u8], range: &Range<usize>) -> bool {
    let Some((hash, body)) = split_frame(bytes, range) else {
        return false;
    };
    checksum(body) == hash
}

fn checksum(body: &[u8]) -> [u8; HASH] {
    xxhash_rust::xxh3::xxh3_128(body).to_le_bytes()
}

/// Decodes one section's body, borrowing strings from `bytes`: only after [`verify`] said
/// yes for it.
pub(super) fn decode_verified<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    range: &Range<usize>,
) -> Option<T> {
    postcard::from_bytes(split_frame(bytes, range)?.1).ok()
}

/// A section's hash and body.
fn split_frame<'a>(bytes: &'a [u8], range: &Range<usize>) -> Option<(&'a [u8], &'a [u8])> {
    let section = bytes.get(range.clone())?;
    let (hash, rest) = section.split_at_checked(HASH)?;
    Some((hash, rest.get(LEN..)?))
}

/// Appends `value`'s postcard bytes to `out`; whether it could (on failure `out` is as it was).
pub(super) fn append<T: Serialize>(out: &mut Vec<u8>, value: &T) -> bool {
    let len = out.len();
    let ok = postcard::to_io(value, &mut *out).is_ok();
    if !ok {
        out.truncate(len);
    }
    ok
}

/// Starts a section written in place: room for its frame, to be filled by [`end`] once the
/// body (everything appended after this) is complete. Returns where the section starts.
pub(super) fn begin(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.resize(start + HASH + LEN, 0);
    start
}

/// The frame of a section whose body is `pieces`, one after another (a body never held in
/// one buffer: see `units`); the same frame [`end`] writes for those bytes.
pub(super) fn frame_of(pieces: &[&[u8]]) -> [u8; FRAME] {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut len = 0_u64;
    for piece in pieces {
        hasher.update(piece);
        len += piece.len() as u64;
    }
    let mut frame = [0; FRAME];
    frame[..HASH].copy_from_slice(&hasher.digest128().to_le_bytes());
    frame[HASH..].copy_from_slice(&len.to_le_bytes());
    frame
}

/// Fills in the frame of the section [`begin`] started at `start`.
pub(super) fn end(out: &mut [u8], start: usize) {
    let (frame, body) = out[start..].split_at_mut(HASH + LEN);
    frame[..HASH].copy_from_slice(&checksum(body));
    frame[HASH..].copy_from_slice(&(body.len() as u64).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_in_pieces_has_the_frame_of_the_body_in_one() {
        let body: Vec<u8> = (0..5000_u32).map(|i| (i % 251) as u8).collect();
        let mut whole = Vec::new();
        let start = begin(&mut whole);
        whole.extend_from_slice(&body);
        end(&mut whole, start);
        for cuts in [&[][..], &[0][..], &[1, 2, 3000][..], &[4999, 5000][..]] {
            let mut pieces = Vec::new();
            let mut at = 0;
            for &cut in cuts {
                pieces.push(&body[at..cut]);
                at = cut;
            }
            pieces.push(&body[at..]);
            assert_eq!(frame_of(&pieces)[..], whole[..FRAME], "{cuts:?}");
        }
    }
}
