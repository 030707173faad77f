//! Finding the user's age identities the way sops users expect: the explicit `--identity`
//! files, then `SOPS_AGE_KEY_FILE`, then `SOPS_AGE_KEY` (one or more keys inline), then
//! `$XDG_CONFIG_HOME/sops/age/keys.txt` and `~/.config/sops/age/keys.txt`. Every key found is
//! used, and every place looked is remembered for the "no identity could decrypt" message.
//!
//! A key file readable by group or others is refused (as ssh does with private keys).

use super::error::SealError;
use super::keyfile::parse_identities;
use crate::diagnostics::IoError;
use std::fmt;
use std::path::{Path, PathBuf};

/// The identities found, and where stackc looked.
#[derive(Default)]
pub struct Identities {
    keys: Vec<age::x25519::Identity>,
    looked_in: Vec<String>,
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identities")
            .field("keys", &format_args!("[{} redacted]", self.keys.len()))
            .field("looked_in", &self.looked_in)
            .finish()
    }
}

impl Identities {
    /// Discovers identities from `--identity` files and the process environment.
    pub fn discover(explicit: &[PathBuf]) -> Result<Self, SealError> {
        Self::discover_with(explicit, |name| std::env::var(name).ok())
    }

    /// Discovers identities with `env` standing for the environment (for tests).
    pub fn discover_with(
        explicit: &[PathBuf],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SealError> {
        let mut found = Identities::default();
        for path in explicit {
            found.keys.extend(read_key_file(path)?);
            found
                .looked_in
                .push(format!("--identity {}", path.display()));
        }
        match env("SOPS_AGE_KEY_FILE").filter(|v| !v.trim().is_empty()) {
            Some(file) => {
                found.keys.extend(read_key_file(Path::new(&file))?);
                found.looked_in.push(format!("SOPS_AGE_KEY_FILE={file}"));
            }
            None => found
                .looked_in
                .push("SOPS_AGE_KEY_FILE (not set)".to_string()),
        }
        match env("SOPS_AGE_KEY").filter(|v| !v.trim().is_empty()) {
            Some(text) => {
                found.keys.extend(parse_identities(&text, "SOPS_AGE_KEY")?);
                found.looked_in.push("SOPS_AGE_KEY".to_string());
            }
            None => found.looked_in.push("SOPS_AGE_KEY (not set)".to_string()),
        }
        let mut defaults = Vec::new();
        if let Some(xdg) = env("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            defaults.push(Path::new(&xdg).join("sops/age/keys.txt"));
        }
        if let Some(home) = env("HOME").filter(|v| !v.is_empty()) {
            defaults.push(Path::new(&home).join(".config/sops/age/keys.txt"));
        }
        defaults.dedup();
        for path in defaults {
            if path.exists() {
                found.keys.extend(read_key_file(&path)?);
                found.looked_in.push(path.display().to_string());
            } else {
                found
                    .looked_in
                    .push(format!("{} (not found)", path.display()));
            }
        }
        Ok(found)
    }

    /// Identities given directly (tests, or a caller that already holds keys).
    pub fn from_keys(keys: Vec<age::x25519::Identity>, origin: &str) -> Self {
        Identities {
            keys,
            looked_in: vec![origin.to_string()],
        }
    }

    /// Whether no identity was found.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every place looked, in order, for error messages.
    pub fn looked_in(&self) -> &[String] {
        &self.looked_in
    }

    /// The recipients of the identities found (public, safe to print).
    pub fn recipients(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| k.to_public().to_string())
            .collect()
    }

    /// A key file holding only the identities whose recipients are among `recipients` (one
    /// environment's keys, never the others found beside them); `None` when there are none.
    pub fn key_file_for(&self, recipients: &[String]) -> Option<super::Plaintext> {
        use age::secrecy::ExposeSecret as _;
        let mut text = String::new();
        let mut seen = Vec::new();
        for key in &self.keys {
            let public = key.to_public().to_string();
            if recipients.contains(&public) && !seen.contains(&public) {
                text.push_str("# public key: ");
                text.push_str(&public);
                text.push('\n');
                text.push_str(key.to_string().expose_secret());
                text.push('\n');
                seen.push(public);
            }
        }
        (!seen.is_empty()).then(|| super::Plaintext::new(text))
    }

    pub(crate) fn as_dyn(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.keys.iter().map(|k| k as &dyn age::Identity)
    }
}

/// Reads a key file, refusing one that group or others can read.
pub fn read_key_file(path: &Path) -> Result<Vec<age::x25519::Identity>, SealError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = std::fs::metadata(path).map_err(|e| IoError::new("read", path, e))?;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(SealError::KeyFilePermissions {
                path: path.display().to_string(),
                mode: mode & 0o777,
            });
        }
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| IoError::new("read", path, e))?,
    );
    parse_identities(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn private_copy(dir: &Path, name: &str, fixture: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::copy(crate::seal::testutil::fixture_path(fixture), &path).unwrap();
        set_mode(&path, 0o600);
        path
    }

    fn set_mode(path: &Path, mode: u32) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }

    #[test]
    fn looks_everywhere_in_order_and_uses_every_key() {
        let dir = tempfile::tempdir().unwrap();
        let explicit = private_copy(dir.path(), "explicit.txt", "secret.agekey.txt");
        let env_file = private_copy(dir.path(), "env.txt", "other.agekey.txt");
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".config/sops/age")).unwrap();
        private_copy(
            &home.join(".config/sops/age"),
            "keys.txt",
            "example.agekey.txt",
        );
        let inline = age::x25519::Identity::generate();
        let inline_text = {
            use age::secrecy::ExposeSecret as _;
            format!("# a comment\n{}\n", inline.to_string().expose_secret())
        };
        let vars: HashMap<&str, String> = HashMap::from([
            ("SOPS_AGE_KEY_FILE", env_file.display().to_string()),
            ("SOPS_AGE_KEY", inline_text),
            ("HOME", home.display().to_string()),
        ]);
        let found =
            Identities::discover_with(std::slice::from_ref(&explicit), |k| vars.get(k).cloned())
                .unwrap();
        assert_eq!(found.recipients().len(), 5);
        assert_eq!(found.recipients()[2], inline.to_public().to_string());
        let looked = found.looked_in();
        assert_eq!(looked[0], format!("--identity {}", explicit.display()));
        assert_eq!(
            looked[1],
            format!("SOPS_AGE_KEY_FILE={}", env_file.display())
        );
        assert_eq!(looked[2], "SOPS_AGE_KEY");
        assert!(looked[3].ends_with(".config/sops/age/keys.txt"));
        assert!(!format!("{found:?}").contains("AGE-SECRET-KEY"));
    }

    #[test]
    fn nothing_set_lists_the_places_looked() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().display().to_string();
        let found = Identities::discover_with(&[], |k| match k {
            "HOME" => Some(home.clone()),
            "XDG_CONFIG_HOME" => Some(format!("{home}/xdg")),
            _ => None,
        })
        .unwrap();
        assert!(found.is_empty());
        assert_eq!(
            found.looked_in(),
            [
                "SOPS_AGE_KEY_FILE (not set)".to_string(),
                "SOPS_AGE_KEY (not set)".to_string(),
                format!("{home}/xdg/sops/age/keys.txt (not found)"),
                format!("{home}/.config/sops/age/keys.txt (not found)"),
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_key_files_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = private_copy(dir.path(), "k.txt", "secret.agekey.txt");
        for mode in [0o640, 0o604, 0o644] {
            set_mode(&path, mode);
            let err = Identities::discover_with(std::slice::from_ref(&path), |_| None).unwrap_err();
            assert_eq!(err.code_str(), "stackc::seal::key_file_permissions");
            let help = miette::Diagnostic::help(&err).unwrap().to_string();
            assert!(
                help.contains("chmod 600") && help.contains("k.txt"),
                "{help}"
            );
        }
    }

    #[test]
    fn a_missing_explicit_file_is_an_error() {
        let err = Identities::discover_with(&[PathBuf::from("/nonexistent/k.txt")], |_| None)
            .unwrap_err();
        assert_eq!(err.code_str(), "stackc::io");
    }
}
