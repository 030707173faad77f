//! Kubernetes resource quantities (`500m`, `2`, `512Mi`, `1G`) as whole numbers, so that a
//! quota can be compared with the sum of the requests it must hold.

/// A quantity in thousandths of its unit (millicores for CPU, millibytes for memory), so
/// `500m` and `0.5` and `512Mi` are all exact integers.
pub fn milli(text: &str) -> Option<u128> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let scale: u128 = match suffix {
        "m" => 1,
        "" => 1_000,
        "k" => 1_000_000,
        "M" => 1_000_000_000,
        "G" => 1_000_000_000_000,
        "T" => 1_000_000_000_000_000,
        "Ki" => 1_000 << 10,
        "Mi" => 1_000 << 20,
        "Gi" => 1_000 << 30,
        "Ti" => 1_000 << 40,
        _ => return None,
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || whole.len() > 18 || fraction.len() > 9 {
        return None;
    }
    let digits = |s: &str| -> Option<u128> {
        if s.is_empty() {
            Some(0)
        } else if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let whole = digits(whole)?.checked_mul(scale)?;
    // The fraction counts in units of `scale / 10^len`; a remainder means finer than m.
    let denominator = 10u128.pow(u32::try_from(fraction.len()).ok()?);
    let fraction = digits(fraction)?.checked_mul(scale)?;
    if fraction % denominator != 0 {
        return None;
    }
    whole.checked_add(fraction / denominator)
}

/// A CPU amount for messages: `1500m`, `2`.
pub fn show_cpu(milli: u128) -> String {
    if milli % 1_000 == 0 {
        (milli / 1_000).to_string()
    } else {
        format!("{milli}m")
    }
}

/// A memory amount for messages: `768Mi`, `2Gi`, or bytes.
pub fn show_memory(milli: u128) -> String {
    let bytes = milli / 1_000;
    for (suffix, size) in [("Gi", 1u128 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes >= size && bytes % size == 0 {
            return format!("{}{suffix}", bytes / size);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::{milli, show_cpu, show_memory};

    #[test]
    fn quantities_read_exactly() {
        for (text, want) in [
            ("500m", Some(500)),
            ("2", Some(2_000)),
            ("0.5", Some(500)),
            ("1.5", Some(1_500)),
            ("128Mi", Some(128_000 << 20)),
            ("1Gi", Some(1_000 << 30)),
            ("1G", Some(1_000_000_000_000)),
            ("0.1m", None),
            ("", None),
            ("m", None),
            ("1x", None),
            ("-1", None),
            ("1.2.3", None),
            ("99999999999999999999999", None),
        ] {
            assert_eq!(milli(text), want, "{text}");
        }
    }

    #[test]
    fn amounts_show_in_their_largest_unit() {
        assert_eq!(show_cpu(1_500), "1500m");
        assert_eq!(show_cpu(3_000), "3");
        assert_eq!(show_memory(milli("1536Mi").unwrap_or_default()), "1536Mi");
        assert_eq!(show_memory(milli("2Gi").unwrap_or_default()), "2Gi");
    }
}
