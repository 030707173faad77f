//! [`Plaintext`]: the only type that holds a decrypted secret. It zeroizes its memory on drop,
//! prints `[redacted]` under `Debug`, has no `Display`, and cannot be serialized, so a secret
//! cannot reach a log, an error message or an output file by accident; the one way out is the
//! explicitly named [`Plaintext::expose`].

use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret value in clear (UTF-8 text: every SOPS leaf is text before encryption).
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Plaintext(String);

impl Plaintext {
    /// Takes ownership of a secret string.
    pub fn new(secret: impl Into<String>) -> Self {
        Plaintext(secret.into())
    }

    /// Takes decrypted bytes; `None` when they are not UTF-8 (the bytes are wiped either way).
    pub fn from_bytes(mut bytes: Vec<u8>) -> Option<Self> {
        let text = std::str::from_utf8(&bytes).ok().map(str::to_owned);
        bytes.zeroize();
        text.map(Plaintext)
    }

    /// The secret itself. Call this only where the secret must go: into the cipher, onto stdout
    /// at the user's explicit request, or into a test assertion.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret's bytes (for the cipher and the MAC).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether the secret is the empty string (which SOPS leaves unencrypted).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Plaintext::new("hunter2");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn non_utf8_bytes_are_refused() {
        assert!(Plaintext::from_bytes(vec![0xff, 0xfe]).is_none());
        assert_eq!(
            Plaintext::from_bytes(b"ok".to_vec()).map(|p| p.len()),
            Some(2)
        );
    }
}
