//! Naming rules. Every name that becomes a folder or a Kubernetes name must be a DNS-1123
//! label, which is also what keeps `../x` or `/etc` from ever escaping `out/`.

/// Whether `name` is a DNS-1123 label: 1-63 of `[a-z0-9-]`, starting and ending alphanumeric.
pub fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// `None` when `name` is a valid label, else why not (for the diagnostic's help).
pub fn check_label(name: &str) -> Option<String> {
    if is_dns_label(name) {
        return None;
    }
    Some(
        if name.contains('/') || name.contains("..") || name.contains('\\') {
            "a name becomes a folder under out/, and this one would escape it; use lowercase letters, digits and '-'".to_string()
        } else if name.is_empty() {
            "names cannot be empty".to_string()
        } else if name.len() > 63 {
            format!(
                "names are at most 63 characters (this one has {})",
                name.len()
            )
        } else if name.chars().any(|c| c.is_ascii_uppercase()) {
            format!("names are lowercase: try `{}`", name.to_ascii_lowercase())
        } else {
            "names are DNS-1123 labels: lowercase letters, digits and '-', starting and ending with a letter or digit".to_string()
        },
    )
}

/// Whether `key` is a valid key of a Secret's data (`[-._a-zA-Z0-9]+`, not `.` or `..`).
pub fn is_secret_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        for (name, ok) in [
            ("web", true),
            ("a", true),
            ("cert-manager", true),
            ("db1", true),
            ("1db", true),
            ("", false),
            ("-web", false),
            ("web-", false),
            ("Web", false),
            ("web_app", false),
            ("../x", false),
            ("/etc", false),
            ("a.b", false),
            (&"a".repeat(64), false),
            (&"a".repeat(63), true),
        ] {
            assert_eq!(is_dns_label(name), ok, "{name:?}");
            assert_eq!(check_label(name).is_none(), ok, "{name:?}");
        }
        assert!(check_label("../x").unwrap().contains("escape"));
    }

    #[test]
    fn secret_keys() {
        for (key, ok) in [
            ("password", true),
            ("tls.crt", true),
            ("a_b-c", true),
            (".", false),
            ("..", false),
            ("a/b", false),
            ("", false),
        ] {
            assert_eq!(is_secret_key(key), ok, "{key:?}");
        }
    }
}
