//! The standard age key-file format, both ways: reading identities out of a key file (or the
//! `SOPS_AGE_KEY` variable) and writing a new one with [`keygen`].
//!
//! A key file is `# created: <RFC 3339>`, `# public key: age1...`, then the
//! `AGE-SECRET-KEY-1...` line; comments and blank lines may appear anywhere. Errors name the
//! line number, never the line: the line may be a secret key with a typo.

use super::error::SealError;
use super::plaintext::Plaintext;
use crate::diagnostics::IoError;
use age::secrecy::ExposeSecret as _;
use std::io::Write as _;
use std::path::Path;
use std::str::FromStr as _;

/// Parses every identity in a key file's text. `origin` names the file or variable in errors.
pub fn parse_identities(text: &str, origin: &str) -> Result<Vec<age::x25519::Identity>, SealError> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let identity =
            age::x25519::Identity::from_str(line).map_err(|_| SealError::BadKeyFile {
                origin: origin.to_string(),
                line: index + 1,
            })?;
        out.push(identity);
    }
    if out.is_empty() {
        return Err(SealError::EmptyKeyFile {
            origin: origin.to_string(),
        });
    }
    Ok(out)
}

/// A freshly generated identity.
#[derive(Debug)]
pub struct NewKey {
    /// Its recipient (`age1...`), to declare in the environment.
    pub recipient: String,
    /// The key file's text, when no path was given (for stdout); `None` when written to a file.
    pub file_text: Option<Plaintext>,
}

/// Generates an X25519 identity in the standard key-file format. With a path, writes it there
/// with mode 0600, refusing to overwrite an existing file; without one, returns the text.
pub fn keygen(path: Option<&Path>) -> Result<NewKey, SealError> {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let created = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| SealError::internal(format!("formatting a timestamp: {e}")))?;
    let text = Plaintext::new(format!(
        "# created: {created}\n# public key: {recipient}\nAGE-SECRET-KEY-1{}\n",
        identity
            .to_string()
            .expose_secret()
            .strip_prefix("AGE-SECRET-KEY-1")
            .unwrap_or_default()
    ));
    let Some(path) = path else {
        return Ok(NewKey {
            recipient,
            file_text: Some(text),
        });
    };
    write_new_private(path, text.as_bytes())?;
    Ok(NewKey {
        recipient,
        file_text: None,
    })
}

/// Appends a key file's text to `path` (sops' `keys.txt`), creating it (and its folders)
/// readable by its owner only; what is already there is never touched.
pub fn append_private(path: &Path, text: &Plaintext) -> Result<(), SealError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder
            .create(dir)
            .map_err(|e| SealError::Io(IoError::new("create folder", dir, e)))?;
    }
    let ends_open =
        std::fs::read(path).is_ok_and(|bytes| !bytes.is_empty() && !bytes.ends_with(b"\n"));
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| SealError::Io(IoError::new("open", path, e)))?;
    let mut bytes = Vec::new();
    if ends_open {
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(text.expose().as_bytes());
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| SealError::Io(IoError::new("write", path, e)))
}

/// Creates `path` (never overwriting) readable by its owner only, and writes `bytes`.
fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), SealError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            SealError::KeyFileExists {
                path: path.display().to_string(),
            }
        } else {
            SealError::Io(IoError::new("create", path, e))
        }
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| SealError::Io(IoError::new("write", path, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comments_blank_lines_and_several_keys() {
        let text = crate::seal::testutil::fixture("example.agekey.txt");
        let ids = parse_identities(&format!("\n{text}\n\n"), "keys.txt").unwrap();
        let publics: Vec<String> = ids.iter().map(|i| i.to_public().to_string()).collect();
        // age-keygen wrote each identity's recipient as a comment above it.
        let written = crate::seal::testutil::fixture_recipients("example.agekey.txt");
        assert_eq!(written.len(), 2);
        assert_eq!(publics, written);
    }

    #[test]
    fn bad_lines_are_reported_by_number_without_the_line() {
        let secret_typo =
            "AGE-SECRET-KEY-1NJT5YCS2LWU4V4QAJQ6R4JNU7LXPDX602DZ9NUFANVU5GDTGUWCQ5T59M7";
        let Err(err) = parse_identities(&format!("# c\n{secret_typo}\n"), "k.txt") else {
            panic!("accepted a bad key")
        };
        assert_eq!(err.code_str(), "stackc::seal::bad_key_file");
        let message = err.to_string();
        assert!(
            message.contains("line 2") && !message.contains("NJT5"),
            "{message}"
        );
        let Err(empty) = parse_identities("# only a comment\n", "k.txt") else {
            panic!("accepted an empty file")
        };
        assert_eq!(empty.code_str(), "stackc::seal::empty_key_file");
    }

    #[test]
    fn keygen_writes_a_private_file_that_age_keygen_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.txt");
        let key = keygen(Some(&path)).unwrap();
        assert!(key.file_text.is_none());
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("# created: ") && lines[0].ends_with('Z'));
        assert_eq!(lines[1], format!("# public key: {}", key.recipient));
        assert!(lines[2].starts_with("AGE-SECRET-KEY-1") && text.ends_with('\n'));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let out = std::process::Command::new(crate::seal::testutil::require_tool("age-keygen"))
            .arg("-y")
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), key.recipient);

        let again = keygen(Some(&path)).unwrap_err();
        assert_eq!(again.code_str(), "stackc::seal::key_file_exists");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "not overwritten"
        );
    }

    #[test]
    fn keygen_without_path_returns_the_text() {
        let key = keygen(None).unwrap();
        let text = key.file_text.unwrap();
        let ids = parse_identities(text.expose(), "stdout").unwrap();
        assert_eq!(ids[0].to_public().to_string(), key.recipient);
    }
}
