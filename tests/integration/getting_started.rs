//! docs/getting-started.md is executed: every `console` block's `$ ` commands run in order in
//! an empty folder (with an empty HOME), and their output must be what the page shows, with
//! age recipients, the home folder and timings abstracted.

use crate::harness::{repo_root, Test};
use std::process::Command;

/// The commands of the page's `console` blocks, each with the output shown under it.
fn steps(page: &str) -> Vec<(String, String)> {
    let mut steps: Vec<(String, String)> = Vec::new();
    let mut in_console = false;
    for line in page.lines() {
        if line.starts_with("```") {
            in_console = !in_console && line == "```console";
            continue;
        }
        if !in_console {
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            steps.push((command.to_string(), String::new()));
        } else if let Some((_, output)) = steps.last_mut() {
            output.push_str(line);
            output.push('\n');
        }
    }
    steps
}

/// The output with what differs from run to run abstracted as the page writes it.
fn abstracted(text: &str, home: &str) -> String {
    let recipient = regex::Regex::new(r"age1[02-9ac-hj-np-z]{58}").unwrap();
    let timing = regex::Regex::new(r" in [0-9]+\.[0-9]+s").unwrap();
    let text = text.replace(home, "~");
    let text = recipient.replace_all(&text, "age1…");
    timing.replace_all(&text, " in …s").into_owned()
}

#[test]
fn getting_started_runs_as_written() {
    let page = std::fs::read_to_string(repo_root().join("docs/getting-started.md")).unwrap();
    let steps = steps(&page);
    assert!(steps.len() >= 8, "the page lost its commands: {steps:?}");
    let t = Test::new();
    let home = t.path().join(".home");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_stackc"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cwd = t.path().to_path_buf();
    for (command, expected) in steps {
        if let Some(dir) = command.strip_prefix("cd ") {
            cwd = cwd.join(dir);
            continue;
        }
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{command} 2>&1"))
            .current_dir(&cwd)
            .env("PATH", &path)
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("SOPS_AGE_KEY")
            .env_remove("SOPS_AGE_KEY_FILE")
            .env("NO_COLOR", "1")
            .output()
            .expect("sh");
        let shown = abstracted(
            &String::from_utf8_lossy(&out.stdout),
            &home.display().to_string(),
        );
        // `stackc diff` exits 1 when it found differences, as the page says it does.
        let found_something = command.starts_with("stackc diff") && out.status.code() == Some(1);
        assert!(
            out.status.success() || found_something,
            "`{command}` failed:\n{shown}"
        );
        assert_eq!(
            shown, expected,
            "the output of `{command}` is not what the page shows"
        );
    }
}
