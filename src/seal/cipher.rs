//! The SOPS value codec: one leaf value <-> `ENC[AES256_GCM,data:..,iv:..,tag:..,type:..]`.
//!
//! AES-256-GCM under the file's 32-byte data key, a fresh random 32-byte IV for every
//! encryption (sops' IV size; GCM hashes a non-96-bit IV through GHASH), a 16-byte tag, and the
//! leaf's path as additional data, so a ciphertext moved to another key fails to open. Typed
//! leaves are encrypted as the text sops writes for them (`True`/`False`, Go's shortest float
//! formatting) and carry their type in the envelope.

use super::plaintext::Plaintext;
use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore as _;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// AES-256-GCM with sops' 32-byte IV.
type Cipher = AesGcm<Aes256, U32>;

const IV_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// A file's 32-byte data key. Zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    /// A new random key from the OS RNG.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        DataKey(key)
    }

    /// A key from unwrapped bytes; `None` unless exactly 32 bytes. The input is wiped.
    pub fn from_bytes(mut bytes: Vec<u8>) -> Option<Self> {
        let key = <[u8; 32]>::try_from(bytes.as_slice()).ok().map(DataKey);
        bytes.zeroize();
        key
    }

    /// The raw key, for wrapping it to age recipients.
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// The `type:` of an encrypted value: how its plaintext text reads back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeafType {
    Str,
    Int,
    Float,
    Bool,
}

impl LeafType {
    fn name(self) -> &'static str {
        match self {
            LeafType::Str => "str",
            LeafType::Int => "int",
            LeafType::Float => "float",
            LeafType::Bool => "bool",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            // sops writes `bytes` for binary leaves; they read back as text here.
            "str" | "bytes" => LeafType::Str,
            "int" => LeafType::Int,
            "float" => LeafType::Float,
            "bool" => LeafType::Bool,
            _ => return None,
        })
    }
}

/// Why a value did not decrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CipherError {
    /// Not of the `ENC[AES256_GCM,...]` shape, bad base64, or unknown type.
    Format(String),
    /// GCM authentication failed: wrong key, wrong path (AAD), or tampered bytes.
    Auth,
}

/// Encrypts one plaintext with a fresh random IV.
pub fn encrypt(key: &DataKey, plaintext: &[u8], aad: &str, ty: LeafType) -> String {
    let mut iv = [0u8; IV_LEN];
    OsRng.fill_bytes(&mut iv);
    encrypt_with_iv(key, plaintext, aad, ty, &iv)
}

fn encrypt_with_iv(
    key: &DataKey,
    plaintext: &[u8],
    aad: &str,
    ty: LeafType,
    iv: &[u8; IV_LEN],
) -> String {
    let cipher = Cipher::new(key.as_bytes().into());
    let payload = Payload {
        msg: plaintext,
        aad: aad.as_bytes(),
    };
    // AES-GCM encryption of an in-memory buffer only fails for lengths near 64 GiB.
    let sealed = cipher
        .encrypt(Nonce::<U32>::from_slice(iv), payload)
        .unwrap_or_default();
    let (data, tag) = sealed.split_at(sealed.len().saturating_sub(TAG_LEN));
    format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{}]",
        B64.encode(data),
        B64.encode(iv),
        B64.encode(tag),
        ty.name()
    )
}

/// Whether a string is a sops encrypted value (by its prefix).
pub fn is_encrypted(text: &str) -> bool {
    text.starts_with("ENC[AES256_GCM,")
}

/// Decrypts one `ENC[...]` value whose path is `aad`.
pub fn decrypt(key: &DataKey, text: &str, aad: &str) -> Result<(Plaintext, LeafType), CipherError> {
    let fields = parse(text)?;
    let cipher = Cipher::new(key.as_bytes().into());
    let mut sealed = fields.data;
    sealed.extend_from_slice(&fields.tag);
    let payload = Payload {
        msg: &sealed,
        aad: aad.as_bytes(),
    };
    let clear = cipher
        .decrypt(Nonce::<U32>::from_slice(&fields.iv), payload)
        .map_err(|_| CipherError::Auth)?;
    let plaintext = Plaintext::from_bytes(clear)
        .ok_or_else(|| CipherError::Format("decrypted value is not UTF-8".into()))?;
    check_typed(&plaintext, fields.ty)?;
    Ok((plaintext, fields.ty))
}

struct Fields {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    ty: LeafType,
}

fn parse(text: &str) -> Result<Fields, CipherError> {
    let bad = |what: &str| CipherError::Format(what.to_string());
    let inner = text
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|rest| rest.strip_suffix(']'))
        .ok_or_else(|| bad("expected ENC[AES256_GCM,data:..,iv:..,tag:..,type:..]"))?;
    let mut data = None;
    let mut iv = None;
    let mut tag = None;
    let mut ty = None;
    for part in inner.split(',') {
        let (name, value) = part
            .split_once(':')
            .ok_or_else(|| bad("field without `:`"))?;
        let decode = |v: &str| B64.decode(v).map_err(|_| bad("invalid base64"));
        match name {
            "data" => data = Some(decode(value)?),
            "iv" => iv = Some(decode(value)?),
            "tag" => tag = Some(decode(value)?),
            "type" => ty = Some(LeafType::parse(value).ok_or_else(|| bad("unknown type"))?),
            _ => return Err(bad("unknown field")),
        }
    }
    let (Some(data), Some(iv), Some(tag), Some(ty)) = (data, iv, tag, ty) else {
        return Err(bad("missing data, iv, tag or type"));
    };
    if iv.len() != IV_LEN || tag.len() != TAG_LEN {
        return Err(bad("iv must be 32 bytes and tag 16 bytes"));
    }
    Ok(Fields { data, iv, tag, ty })
}

fn check_typed(plaintext: &Plaintext, ty: LeafType) -> Result<(), CipherError> {
    let text = plaintext.expose();
    let ok = match ty {
        LeafType::Str => true,
        LeafType::Int => text.parse::<i64>().is_ok(),
        LeafType::Float => parse_go_float(text).is_some(),
        LeafType::Bool => parse_go_bool(text).is_some(),
    };
    if ok {
        Ok(())
    } else {
        Err(CipherError::Format(format!(
            "plaintext is not a valid {}",
            ty.name()
        )))
    }
}

/// `strconv.ParseBool`, which sops uses for `type:bool`.
pub fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `strconv.ParseFloat(s, 64)` for the forms sops writes.
pub fn parse_go_float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => text.parse::<f64>().ok().filter(|f| f.is_finite()),
    }
}

/// The text sops writes for a bool (Go's `fmt` of a bool through sops' `ToBytes`).
pub fn bool_text(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round-trip digits, never an exponent.
/// Rust's `Display` for `f64` has exactly these rules for finite values.
pub fn go_float_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        DataKey([7u8; 32])
    }

    #[test]
    fn round_trips_every_type() {
        for (text, ty) in [
            ("hello", LeafType::Str),
            ("", LeafType::Str),
            ("ünïcödé\nline", LeafType::Str),
            ("-42", LeafType::Int),
            ("1234568000", LeafType::Float),
            ("0.5", LeafType::Float),
            ("True", LeafType::Bool),
            ("False", LeafType::Bool),
        ] {
            let enc = encrypt(&key(), text.as_bytes(), "a:b:", ty);
            assert!(is_encrypted(&enc), "{enc}");
            let (clear, back) = decrypt(&key(), &enc, "a:b:").expect("decrypts");
            assert_eq!((clear.expose(), back), (text, ty));
        }
    }

    #[test]
    fn wrong_path_wrong_key_and_tampering_fail_authentication() {
        let enc = encrypt(&key(), b"secret", "data:password:", LeafType::Str);
        assert_eq!(
            decrypt(&key(), &enc, "data:user:").unwrap_err(),
            CipherError::Auth
        );
        assert_eq!(
            decrypt(&DataKey([8; 32]), &enc, "data:password:").unwrap_err(),
            CipherError::Auth
        );
        let tampered = enc.replacen("data:", "data:A", 1);
        assert!(decrypt(&key(), &tampered, "data:password:").is_err());
    }

    #[test]
    fn malformed_envelopes_are_format_errors() {
        for text in [
            "plain",
            "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]",
            "ENC[AES256_GCM,data:AA==,type:str]",
            "ENC[AES256_GCM,data:!!,iv:AA==,tag:AA==,type:str]",
            "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:weird]",
        ] {
            assert!(
                matches!(decrypt(&key(), text, "x:"), Err(CipherError::Format(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn every_encryption_uses_a_fresh_iv() {
        let a = encrypt(&key(), b"same", "k:", LeafType::Str);
        let b = encrypt(&key(), b"same", "k:", LeafType::Str);
        assert_ne!(a, b);
    }

    #[test]
    fn floats_format_like_go() {
        for (f, text) in [
            (1_234_568_000.0, "1234568000"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e21, "1000000000000000000000"),
            (1e-7, "0.0000001"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(go_float_text(f), text);
        }
    }
}
