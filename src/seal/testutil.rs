//! Helpers for the seal tests: the project's own SOPS fixtures (`tests/fixtures/sops/`, made
//! by the real sops CLI with committed test-only identities), throwaway keys, and the real
//! `sops` CLI as the judge of what stackc encrypts. A missing tool fails the test with an
//! install hint (`scripts/test` installs every tool); nothing is skipped.

use super::identity::Identities;
use age::secrecy::ExposeSecret as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The SOPS fixture directory (`tests/fixtures/sops/` in the repository).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sops")
}

/// A file in the SOPS fixture directory.
pub fn fixture_path(name: &str) -> PathBuf {
    let path = fixtures().join(name);
    assert!(path.is_file(), "fixture {} is missing", path.display());
    path
}

/// The text of a fixture.
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).unwrap()
}

/// The external tool `name`: on `PATH`, else in the venv `scripts/test` makes. Fails the test,
/// naming the tool, when it is in neither.
pub fn require_tool(name: &str) -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/venv/bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([venv.clone()])
        .map(|dir| dir.join(name))
        .find(|candidate| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::metadata(candidate)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            }
            #[cfg(not(unix))]
            candidate.is_file()
        })
        .unwrap_or_else(|| {
            panic!(
                "the test needs `{name}`, which is not on PATH nor in {}: run scripts/test, \
                 which installs it",
                venv.display()
            )
        })
}

/// `sops decrypt` of `text` (written to a temp file) with `key` as the only identity: the
/// plaintext YAML (or, with `json`, JSON), or sops' error. Real sops checks the MAC.
pub fn sops_decrypt(text: &str, key: &Path, json: bool) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checked.sops.yaml");
    std::fs::write(&file, text).unwrap();
    let mut command = Command::new(require_tool("sops"));
    command
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .env("SOPS_AGE_KEY_FILE", key)
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_CMD")
        .env_remove("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join(".config"))
        .arg("decrypt");
    if json {
        command.args(["--output-type", "json"]);
    }
    let out = command.arg(&file).output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Asserts that real sops opens `text` with `key` (MAC included).
#[track_caller]
pub fn assert_sops_opens(text: &str, key: &Path) {
    if let Err(e) = sops_decrypt(text, key, false) {
        panic!(
            "sops decrypt with {}:\n{e}\n--- file\n{text}",
            key.display()
        );
    }
}

/// The values that `text` holds encrypted (`ENC[...]` leaves), as real sops decrypts them
/// with `key`, in document order (numbers and booleans as written in YAML).
#[track_caller]
pub fn sops_values(text: &str, key: &Path) -> Vec<String> {
    use crate::value::Value;
    fn walk(enc: &Value, plain: &Value, out: &mut Vec<String>) {
        match (enc, plain) {
            (Value::Map(enc), Value::Map(plain)) => {
                for (k, v) in enc {
                    if let Some(p) = plain.get(k) {
                        walk(v, p, out);
                    }
                }
            }
            (Value::List(enc), Value::List(plain)) => {
                enc.iter().zip(plain).for_each(|(e, p)| walk(e, p, out));
            }
            (Value::String(e), plain) if e.starts_with("ENC[AES256_GCM,") => {
                out.push(match plain {
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    Value::Int(i) => i.to_string(),
                    Value::Float(f) => f.to_string(),
                    other => format!("{other:?}"),
                });
            }
            _ => {}
        }
    }
    let plain = sops_decrypt(text, key, false).unwrap_or_else(|e| {
        panic!(
            "sops decrypt with {}:\n{e}\n--- file\n{text}",
            key.display()
        )
    });
    let plain = crate::yaml::parse_documents(&plain).unwrap();
    let enc = crate::yaml::parse_documents(text).unwrap();
    let mut out = Vec::new();
    for (e, p) in enc.iter().zip(&plain) {
        walk(e, p, &mut out);
    }
    out
}

/// A throwaway identity: its recipient, the identities, and a 0600 key file in `dir`.
pub struct TestKey {
    pub recipient: String,
    pub file: PathBuf,
    pub identity: age::x25519::Identity,
}

impl TestKey {
    pub fn new(dir: &Path, name: &str) -> Self {
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let file = dir.join(name);
        std::fs::write(&file, format!("{}\n", identity.to_string().expose_secret())).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        TestKey {
            recipient,
            file,
            identity,
        }
    }

    pub fn identities(&self) -> Identities {
        Identities::from_keys(vec![self.identity.clone()], "test key")
    }
}

/// Identities from a fixture key file's text (the fixtures are world-readable by design).
pub fn fixture_identities(name: &str) -> Identities {
    let text = std::fs::read_to_string(fixture_path(name)).unwrap();
    Identities::from_keys(super::keyfile::parse_identities(&text, name).unwrap(), name)
}

/// The recipients a fixture key file names (its `# public key:` lines), in file order.
pub fn fixture_recipients(name: &str) -> Vec<String> {
    fixture(name)
        .lines()
        .filter_map(|l| l.strip_prefix("# public key: "))
        .map(str::to_string)
        .collect()
}
