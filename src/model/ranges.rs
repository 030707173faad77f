//! The range of every integer the model reads. A KDL integer can be any size; a value
//! outside its range (too large for 64 bits, negative where a count is meant, a port past
//! 65535) is an error at its span, never dropped for a default.

use std::ops::RangeInclusive;

/// `replicas N`: zero scales a service down; past ten thousand is a typo.
pub const REPLICAS: RangeInclusive<i64> = 0..=10_000;

/// `port N` and `tcp-route port=N`: a TCP port.
pub const PORT: RangeInclusive<i64> = 1..=65_535;

/// `environment wave=N`: the order environments roll out in.
pub const WAVE: RangeInclusive<i64> = 0..=1_000;

/// `key generate=N`: the length of a generated secret value.
pub const GENERATE: RangeInclusive<i64> = 8..=4_096;
