//! [`Recipients`]: a validated, sorted, de-duplicated set of age X25519 recipients
//! (`age1...`), and wrapping a data key to one of them as sops does (one armored age file per
//! recipient).

use super::cipher::DataKey;
use super::error::SealError;
use age::armor::{ArmoredWriter, Format};
use std::io::Write as _;
use std::str::FromStr as _;

/// The recipients a file is encrypted to, sorted by their `age1...` text for determinism.
#[derive(Clone, Debug, Default)]
pub struct Recipients(Vec<(String, age::x25519::Recipient)>);

impl PartialEq for Recipients {
    fn eq(&self, other: &Self) -> bool {
        self.strings().eq(other.strings())
    }
}

impl Recipients {
    /// Validates and sorts recipient strings; the first invalid one is an error.
    pub fn parse<S: AsRef<str>>(list: impl IntoIterator<Item = S>) -> Result<Self, SealError> {
        let mut out: Vec<(String, age::x25519::Recipient)> = Vec::new();
        for text in list {
            let text = text.as_ref().trim();
            let parsed = age::x25519::Recipient::from_str(text).map_err(|reason| {
                SealError::InvalidRecipient {
                    recipient: text.to_string(),
                    reason: reason.to_string(),
                }
            })?;
            out.push((parsed.to_string(), parsed));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.dedup_by(|a, b| a.0 == b.0);
        Ok(Recipients(out))
    }

    /// The recipients as `age1...` strings, sorted.
    pub fn strings(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(s, _)| s.as_str())
    }

    /// The recipients as owned strings, sorted.
    pub fn to_vec(&self) -> Vec<String> {
        self.strings().map(str::to_string).collect()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &(String, age::x25519::Recipient)> {
        self.0.iter()
    }
}

/// The data key as an armored age file for one recipient (sops' `enc:` text, 64 columns,
/// ending with a newline).
pub(crate) fn wrap_key(
    key: &DataKey,
    recipient: &age::x25519::Recipient,
) -> Result<String, SealError> {
    let fail = |what: &str| SealError::internal(format!("age encryption failed: {what}"));
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
            .map_err(|e| fail(&e.to_string()))?;
    let mut out = Vec::new();
    let armor = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor)
        .map_err(|e| fail(&e.to_string()))?;
    let mut writer = encryptor
        .wrap_output(armor)
        .map_err(|e| fail(&e.to_string()))?;
    writer
        .write_all(key.as_bytes())
        .map_err(|e| fail(&e.to_string()))?;
    writer
        .finish()
        .and_then(ArmoredWriter::finish)
        .map_err(|e| fail(&e.to_string()))?;
    String::from_utf8(out).map_err(|_| fail("armor is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_validated_sorted_and_deduplicated() {
        let a = age::x25519::Identity::generate().to_public().to_string();
        let b = age::x25519::Identity::generate().to_public().to_string();
        let r = Recipients::parse([b.as_str(), a.as_str(), b.as_str()]).unwrap();
        let mut want = vec![a.clone(), b.clone()];
        want.sort();
        assert_eq!(r.to_vec(), want);
        for bad in ["", "age1", "age1xyz", "ssh-ed25519 AAAA", &a[..a.len() - 1]] {
            let err = Recipients::parse([bad]).unwrap_err();
            assert_eq!(err.code_str(), "stackc::seal::invalid_recipient", "{bad}");
        }
    }

    #[test]
    fn wrapped_key_is_64_column_armor_with_final_newline() {
        let id = age::x25519::Identity::generate();
        let text = wrap_key(&DataKey::generate(), &id.to_public()).unwrap();
        assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(text.ends_with("-----END AGE ENCRYPTED FILE-----\n"));
        let lines: Vec<&str> = text.lines().collect();
        let body = &lines[1..lines.len() - 1];
        assert!(body[..body.len() - 1].iter().all(|l| l.len() == 64));
    }
}
