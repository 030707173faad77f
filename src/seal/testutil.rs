//! Helpers shared by the seal tests: throwaway keys and the independent checker.

use super::identity::Identities;
use age::secrecy::ExposeSecret as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `shared/` directory next to the repository (`../shared` from the crate root in CI; a
/// worktree may sit deeper, so look up the ancestors).
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared"))
        .find(|dir| dir.join("tools/sops_check.py").exists())
        .expect("../shared (fixtures and sops_check.py) not found above the crate")
}

/// A file in the SOPS fixture directory.
pub fn fixture_path(name: &str) -> PathBuf {
    shared().join("fixtures/sops").join(name)
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

/// Runs `sops_check.py` on `text` (written to a temp file); returns (success, stdout, stderr).
pub fn sops_check(text: &str, key: &Path, extra: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checked.sops.yaml");
    std::fs::write(&file, text).unwrap();
    let out = Command::new("python3")
        .arg(shared().join("tools/sops_check.py"))
        .arg("--identity")
        .arg(key)
        .args(extra)
        .arg(&file)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
