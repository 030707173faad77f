//! Which leaves of a SOPS document are encrypted: the one rule stored in the metadata
//! (`encrypted_regex`, `unencrypted_regex`, `encrypted_suffix` or `unencrypted_suffix`, with
//! sops' default `unencrypted_suffix: _unencrypted`). A rule looks at every map key on the path
//! from the root to the leaf, so a key that matches decides for everything below it.

use regex::Regex;

/// The `encrypted_regex` of a Kubernetes Secret manifest: only `data` and `stringData` are sealed.
pub const KUBERNETES_SECRET_REGEX: &str = "^(data|stringData)$";

/// sops' default rule suffix.
pub const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

/// An encryption rule.
#[derive(Clone, Debug)]
pub enum Rule {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(Regex),
    EncryptedRegex(Regex),
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.metadata_entry() == other.metadata_entry()
    }
}

impl Default for Rule {
    fn default() -> Self {
        Rule::UnencryptedSuffix(DEFAULT_UNENCRYPTED_SUFFIX.to_string())
    }
}

impl Rule {
    /// The rule for Kubernetes Secret manifests.
    pub fn kubernetes_secret() -> Self {
        // The pattern is a constant; fall back to the default rule rather than panic.
        Regex::new(KUBERNETES_SECRET_REGEX).map_or_else(|_| Rule::default(), Rule::EncryptedRegex)
    }

    /// Builds a rule from its metadata key and value; `Err` with a reason for a bad regex or key.
    pub fn from_metadata(name: &str, value: &str) -> Result<Self, String> {
        let regex = || Regex::new(value).map_err(|e| format!("invalid `{name}`: {e}"));
        Ok(match name {
            "unencrypted_suffix" => Rule::UnencryptedSuffix(value.to_string()),
            "encrypted_suffix" => Rule::EncryptedSuffix(value.to_string()),
            "unencrypted_regex" => Rule::UnencryptedRegex(regex()?),
            "encrypted_regex" => Rule::EncryptedRegex(regex()?),
            other => return Err(format!("unknown rule `{other}`")),
        })
    }

    /// The metadata key and value that store this rule.
    pub fn metadata_entry(&self) -> (&'static str, &str) {
        match self {
            Rule::UnencryptedSuffix(s) => ("unencrypted_suffix", s),
            Rule::EncryptedSuffix(s) => ("encrypted_suffix", s),
            Rule::UnencryptedRegex(r) => ("unencrypted_regex", r.as_str()),
            Rule::EncryptedRegex(r) => ("encrypted_regex", r.as_str()),
        }
    }

    /// Whether the leaf at this path of map keys is encrypted.
    pub fn encrypts<S: AsRef<str>>(&self, path: &[S]) -> bool {
        let mut keys = path.iter().map(AsRef::as_ref);
        match self {
            Rule::UnencryptedSuffix(s) => !keys.any(|k| k.ends_with(s.as_str())),
            Rule::EncryptedSuffix(s) => keys.any(|k| k.ends_with(s.as_str())),
            Rule::UnencryptedRegex(r) => !keys.any(|k| r.is_match(k)),
            Rule::EncryptedRegex(r) => keys.any(|k| r.is_match(k)),
        }
    }
}

/// The metadata keys that hold a rule, in the order sops checks them.
pub const RULE_KEYS: [&str; 4] = [
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_decide_by_any_key_on_the_path() {
        let k8s = Rule::kubernetes_secret();
        let default = Rule::default();
        let suffix = Rule::from_metadata("encrypted_suffix", "_secret").unwrap();
        let unregex = Rule::from_metadata("unencrypted_regex", "^public").unwrap();
        let table: &[(&Rule, &[&str], bool)] = &[
            (&k8s, &["stringData", "password"], true),
            (&k8s, &["data", "x"], true),
            (&k8s, &["metadata", "name"], false),
            (&k8s, &["metadata", "annotations", "data"], true),
            (&k8s, &["mydata"], false),
            (&default, &["a", "b"], true),
            (&default, &["list_unencrypted", "x"], false),
            (&default, &["a", "b_unencrypted"], false),
            (&suffix, &["db_secret", "pw"], true),
            (&suffix, &["db", "pw"], false),
            (&unregex, &["public_key"], false),
            (&unregex, &["private"], true),
        ];
        for (rule, path, want) in table {
            assert_eq!(rule.encrypts(path), *want, "{rule:?} {path:?}");
        }
    }

    #[test]
    fn bad_rules_are_reported() {
        assert!(Rule::from_metadata("encrypted_regex", "(").is_err());
        assert!(Rule::from_metadata("encrypted_comment_regex", "x").is_err());
    }
}
