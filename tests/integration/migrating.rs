//! The documentation is executed: docs/migrating.md's Kustomize repository and its stack are
//! written from the page and must give the same objects (`kubectl kustomize overlays/<env>`
//! against `kubectl kustomize out/<env>`), and every docs/language.md example of the output
//! nodes (`gitops`, `flux`, `argocd`, `namespace`, cluster-scoped services) builds.

use crate::harness::{repo_root, tool, Test};
use stackc::value::Value;
use std::collections::BTreeMap;

/// The fenced code blocks of a page: (the `## ` heading above it, language, body).
fn blocks(page: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut heading = String::new();
    let mut open: Option<(String, String)> = None;
    for line in page.lines() {
        match &mut open {
            Some((lang, body)) => {
                if line == "```" {
                    out.push((heading.clone(), lang.clone(), std::mem::take(body)));
                    open = None;
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
            None => {
                if let Some(lang) = line.strip_prefix("```") {
                    open = Some((lang.to_string(), String::new()));
                } else if line.starts_with("## ")
                    || line.starts_with("### ")
                    || line.starts_with("#### ")
                {
                    heading = line.trim_start_matches('#').trim().to_string();
                }
            }
        }
    }
    out
}

/// The file a block is, from its first line (`# path`, `// path`, `{# path #}`), with the
/// body as the file holds it (a KDL comment line stays: it is valid KDL).
fn as_file(lang: &str, body: &str) -> Option<(String, String)> {
    let (first, rest) = body.split_once('\n')?;
    let path = match lang {
        "yaml" => first.strip_prefix("# ")?,
        "jinja" => first.strip_prefix("{# ")?.strip_suffix(" #}")?,
        "kdl" => first.strip_prefix("// ")?,
        _ => return None,
    };
    if !path.contains('.') || path.contains(' ') {
        return None;
    }
    let text = if lang == "kdl" { body } else { rest };
    Some((path.to_string(), text.to_string()))
}

fn kustomize(dir: &std::path::Path) -> BTreeMap<String, Value> {
    let out = tool("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "{}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    stackc::yaml::parse_documents(&text)
        .unwrap()
        .into_iter()
        .map(|body| {
            let field = |p: &str| {
                body.get_path(p)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            (
                format!(
                    "{} {}/{}",
                    field("kind"),
                    field("metadata.namespace"),
                    field("metadata.name")
                ),
                body,
            )
        })
        .collect()
}

#[test]
fn the_migration_page_gives_the_same_objects_both_ways() {
    let page = std::fs::read_to_string(repo_root().join("docs/migrating.md")).unwrap();
    let kustomize_repo = Test::new();
    let stack = Test::new();
    let (mut repo_files, mut stack_files) = (0, 0);
    let mut diff_shown = None;
    for (heading, lang, body) in blocks(&page) {
        let in_stack = heading.contains("stacks.kdl");
        if lang == "text" && in_stack {
            diff_shown = Some(body.clone());
        }
        let Some((path, text)) = as_file(&lang, &body) else {
            continue;
        };
        if in_stack {
            stack.write(&path, &text);
            stack_files += 1;
        } else {
            kustomize_repo.write(&path, &text);
            repo_files += 1;
        }
    }
    assert!(
        repo_files >= 6 && stack_files >= 3,
        "the page lost its files"
    );
    stack.run(&["build"]).success();
    for env in ["staging", "production"] {
        let before = kustomize(&kustomize_repo.path().join(format!("overlays/{env}")));
        let after = kustomize(&stack.path().join(format!("out/{env}")));
        assert_eq!(
            before, after,
            "{env}: the stack does not give the overlay's objects"
        );
    }
    // The diff the page shows is what stackc prints.
    let shown = diff_shown.expect("the page shows a diff");
    let run = stack.run(&["diff", "staging", "production"]);
    run.status(1);
    assert!(
        run.stdout().starts_with(&shown),
        "{}\n---\n{shown}",
        run.stdout()
    );
}

/// The example blocks of docs/language.md's output sections, each built on the basic stack.
#[test]
fn the_language_examples_of_the_output_nodes_build() {
    let page = std::fs::read_to_string(repo_root().join("docs/language.md")).unwrap();
    let sections = [
        "`layer`",
        "Cluster-scoped services",
        "`gitops`",
        "`flux`",
        "`argocd`",
        "`namespace`",
    ];
    let mut built = 0;
    for (heading, lang, body) in blocks(&page) {
        let mine = sections.iter().any(|s| heading.contains(s));
        let new_syntax = ["flux", "argocd", "gitops", "namespace \"", "cluster-kinds"]
            .iter()
            .any(|word| body.contains(word));
        if lang != "kdl" || !mine || !new_syntax {
            continue;
        }
        let t = Test::basic();
        let text = t.read("stacks.kdl");
        t.write("stacks.kdl", &format!("{text}\n{body}"));
        t.write(
            "manifests/cluster-issuers.yaml",
            "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata:\n  name: letsencrypt\nspec: {}\n",
        );
        let run = t.run(&["build"]);
        assert_eq!(run.code(), 0, "{heading}:\n{body}\n{}", run.stderr());
        for dir in ["out/dev", "out/dev/flux-system", "out/dev/argocd"] {
            if t.path().join(dir).is_dir() {
                kustomize(&t.path().join(dir));
            }
        }
        built += 1;
    }
    assert!(built >= 6, "only {built} examples found");
}
