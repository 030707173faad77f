//! `stackc init`: the files of a new stack, as data. A stack that builds at once: dev,
//! staging and production with the policy of a typical `GitOps` repository (dev relaxed,
//! staging two replicas spread over nodes, production three with strict anti-affinity and no
//! debug), a web service (Deployment, Service, Ingress with TLS), a Helm chart, plain
//! manifests, starter templates to edit, and — when recipients are given — a generated secret
//! and a `.sops.yaml` whose creation rules match the stores, so plain `sops` edits them.

use crate::model::builtin_templates;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A new stack's `.gitignore`: the cache, never committed.
pub const GITIGNORE: &str = include_str!("gitignore");

/// The environments a new stack has, in rollout order.
pub const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "production"];

/// Every file of a new stack: (path relative to the stack root, text), sorted by path.
/// `recipients` maps each environment to its age recipient (with `--keys`).
pub fn scaffold(
    project: &str,
    recipients: Option<&BTreeMap<String, String>>,
) -> Vec<(String, String)> {
    let mut stack = include_str!("stacks.kdl.in").replace("@PROJECT@", project);
    for env in ENVIRONMENTS {
        let line = recipients
            .and_then(|r| r.get(env))
            .map(|r| format!("    recipients \"{r}\"\n"))
            .unwrap_or_default();
        stack = stack.replace(&format!("@RECIPIENTS_{}@", env.to_ascii_uppercase()), &line);
    }
    let with_secrets = recipients.is_some();
    stack = stack.replace(
        "@SECRETS@",
        if with_secrets {
            "\n// Secrets are declared here; their values live encrypted per environment in\n\
             // environments/<env>.secrets.sops.yaml (generated values are made on the first build).\n\
             secret \"web-credentials\" namespace=\"web\" {\n    key \"api-key\" generate=32\n}\n"
        } else {
            ""
        },
    );
    stack = stack.replace(
        "@USES_SECRET@",
        if with_secrets {
            "    uses-secret \"web-credentials\"\n"
        } else {
            ""
        },
    );
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    files.insert("stacks.kdl".into(), stack);
    files.insert(
        "environments/dev.kdl".into(),
        include_str!("dev.kdl").into(),
    );
    files.insert(
        "environments/staging.kdl".into(),
        include_str!("staging.kdl").into(),
    );
    files.insert(
        "environments/production.kdl".into(),
        include_str!("production.kdl").into(),
    );
    files.insert(
        "manifests/limitrange.yaml".into(),
        include_str!("limitrange.yaml").into(),
    );
    files.insert(".gitignore".into(), GITIGNORE.into());
    for kind in ["deployment", "helm-release"] {
        for (path, text) in template_files(kind) {
            files.insert(path, text.to_string());
        }
    }
    if let Some(recipients) = recipients {
        files.insert(".sops.yaml".into(), sops_config(recipients));
    }
    files.into_iter().collect()
}

/// The example stack of the stackc repository (the homelab), embedded at build time.
pub mod homelab {
    include!(concat!(env!("OUT_DIR"), "/example_homelab.rs"));

    /// The public recipient the example encrypts to (its identity is published test data,
    /// `examples/keys/example.agekey` in the stackc repository).
    pub fn recipient() -> Option<String> {
        let text = FILES
            .iter()
            .find(|(path, _)| *path == "stacks.kdl")
            .and_then(|(_, bytes)| std::str::from_utf8(bytes).ok())?;
        let at = text.find("recipients \"")? + "recipients \"".len();
        text[at..].split('"').next().map(str::to_string)
    }

    /// The example's files with `.sops.yaml` and `.gitignore`: as published (encrypted to the
    /// example's public test identity, stores and out/ included) without `recipients`; for a
    /// stack of one's own with them.
    pub fn files(
        recipients: Option<&std::collections::BTreeMap<String, String>>,
    ) -> Vec<(String, Vec<u8>)> {
        let (mut files, rules) = match recipients {
            Some(recipients) => (with_recipients(recipients), recipients.clone()),
            None => {
                let example = recipient().unwrap_or_default();
                let all = super::ENVIRONMENTS
                    .iter()
                    .map(|e| ((*e).to_string(), example.clone()))
                    .collect();
                let files = FILES
                    .iter()
                    .map(|(p, b)| ((*p).to_string(), b.to_vec()))
                    .collect();
                (files, all)
            }
        };
        files.push((".sops.yaml".into(), super::sops_config(&rules).into_bytes()));
        files.push((".gitignore".into(), super::GITIGNORE.as_bytes().to_vec()));
        files
    }

    /// The example's files for a stack of one's own: without its stores and out/ (they are
    /// encrypted to the example's identity), the environments' recipients replaced.
    fn with_recipients(
        recipients: &std::collections::BTreeMap<String, String>,
    ) -> Vec<(String, Vec<u8>)> {
        let example = recipient().unwrap_or_default();
        FILES
            .iter()
            .filter(|(path, _)| !path.starts_with("out/") && !path.ends_with(".secrets.sops.yaml"))
            .map(|(path, bytes)| {
                let mut bytes = bytes.to_vec();
                if *path == "stacks.kdl" {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    bytes = replace_in_environments(&text, &example, recipients).into_bytes();
                }
                ((*path).to_string(), bytes)
            })
            .collect()
    }

    /// `example` replaced, in each `environment "<env>"` block, by that environment's recipient.
    fn replace_in_environments(
        text: &str,
        example: &str,
        recipients: &std::collections::BTreeMap<String, String>,
    ) -> String {
        let mut out = String::with_capacity(text.len());
        let mut current: Option<&str> = None;
        for line in text.split_inclusive('\n') {
            if let Some(rest) = line.strip_prefix("environment \"") {
                current = rest.split('"').next();
            } else if line.starts_with(|c: char| c.is_ascii_alphabetic()) {
                current = None;
            }
            match current.and_then(|env| recipients.get(env)) {
                Some(recipient) if !example.is_empty() => {
                    out.push_str(&line.replace(example, recipient));
                }
                _ => out.push_str(line),
            }
        }
        out
    }
}

/// The files of a built-in template kind as they go under `templates/`.
pub fn template_files(kind: &str) -> Vec<(String, &'static str)> {
    builtin_templates::files(kind)
        .map(|(file, text)| (format!("templates/{kind}/{file}"), text))
        .collect()
}

/// `.sops.yaml`: one creation rule per environment store, so `sops` edits each with its
/// environment's recipient.
fn sops_config(recipients: &BTreeMap<String, String>) -> String {
    let mut out = String::from(
        "# sops (`sops environments/<env>.secrets.sops.yaml`) encrypts each store to its\n\
         # environment's recipients, as stackc does.\ncreation_rules:\n",
    );
    for env in ENVIRONMENTS {
        if let Some(recipient) = recipients.get(env) {
            let _ = write!(
                out,
                "  - path_regex: environments/{env}\\.secrets\\.sops\\.yaml$\n    age: {recipient}\n"
            );
        }
    }
    out
}

/// A project name from a folder name: a DNS-1123 label (`My App` -> `my-app`).
pub fn project_name(folder: &str) -> String {
    let mut name = String::new();
    for c in folder.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    let name: String = name.trim_matches('-').chars().take(63).collect();
    let name = name.trim_end_matches('-').to_string();
    if name.is_empty() {
        "stack".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_dns_labels() {
        assert_eq!(project_name("My App"), "my-app");
        assert_eq!(project_name("--"), "stack");
        assert_eq!(project_name("café_2"), "caf-2");
        assert!(crate::model::is_dns_label(&project_name(&"x".repeat(100))));
    }

    #[test]
    fn recipients_bring_a_secret_and_sops_rules() {
        let plain = scaffold("app", None);
        assert!(!plain.iter().any(|(p, _)| p == ".sops.yaml"));
        let stack = &plain.iter().find(|(p, _)| p == "stacks.kdl").unwrap().1;
        assert!(!stack.contains('@'), "{stack}");
        assert!(!stack.contains("secret \""));
        let recipients: BTreeMap<String, String> = ENVIRONMENTS
            .iter()
            .map(|e| ((*e).to_string(), format!("age1{e}")))
            .collect();
        let keyed = scaffold("app", Some(&recipients));
        let sops = &keyed.iter().find(|(p, _)| p == ".sops.yaml").unwrap().1;
        assert!(sops.contains(
            "path_regex: environments/staging\\.secrets\\.sops\\.yaml$\n    age: age1staging\n"
        ));
        let stack = &keyed.iter().find(|(p, _)| p == "stacks.kdl").unwrap().1;
        assert!(stack.contains("    recipients \"age1production\"\n    replicas 3"));
        assert!(stack.contains("uses-secret \"web-credentials\""));
    }
}
