//! `stackc graph`, `stackc completions` and `stackc man` through the binary.

use crate::harness::Test;
use std::process::Command;

const STACK: &str = r#"project "shop" domain="example.org"
layer "data"
layer "apps" depends-on="data"
environment "dev" wave=0
environment "production" wave=2 promotes-from="staging"
environment "staging" wave=1 promotes-from="dev"
secret "pg" namespace="db" {
    key "password" generate=32
}
service "postgres" layer="data" namespace="db" template="t" {
    uses-secret "pg"
}
service "web" layer="apps" namespace="web" template="t" {
    depends-on "postgres"
}
"#;

fn stack() -> Test {
    Test::new()
        .file("stacks.kdl", STACK)
        .file("templates/t/a.yaml.j2", "")
}

#[test]
fn graph_text_shows_waves_layers_edges_and_secrets() {
    let run = stack().run(&["graph"]);
    run.success();
    assert_eq!(
        run.stdout(),
        "project shop\n\
         environments (rollout order):\n\
         \x20 dev (wave 0)\n\
         \x20 staging (wave 1), promoted from dev\n\
         \x20 production (wave 2), promoted from staging\n\
         layers (applied in this order):\n\
         \x20 data\n\
         \x20   postgres  namespace db; uses secret pg\n\
         \x20 apps (after data)\n\
         \x20   web  namespace web; depends on postgres\n\
         secrets:\n\
         \x20 pg (namespace db)\n"
    );
}

#[test]
fn graph_of_one_environment_shows_only_its_wave() {
    let run = stack().run(&["graph", "staging"]);
    run.success()
        .stdout_has(&["  staging (wave 1), promoted from dev\n"]);
    assert!(!run.stdout().contains("production"), "{}", run.stdout());
}

#[test]
fn graph_dot_and_mermaid_carry_every_edge() {
    let t = stack();
    t.run(&["graph", "--format", "dot"]).success().stdout_has(&[
        "digraph \"shop\" {",
        "\"service:web\" -> \"service:postgres\";",
        "\"service:postgres\" -> \"secret:pg\" [style=dashed];",
        "\"env:dev\" -> \"env:staging\" [label=\"promotes\"];",
        "subgraph cluster_layer_0 {\n    label=\"layer data\";",
    ]);
    t.run(&["graph", "--format", "mermaid"])
        .success()
        .stdout_has(&[
            "flowchart LR\n",
            "  subgraph l1[\"layer apps\"]\n    s1[\"web (web)\"]\n  end\n",
            "  s1 --> s0\n",
            "  s0 -.-> k0\n",
            "  e0 -- promotes --> e1\n",
        ]);
}

#[test]
fn graph_refuses_an_unknown_environment() {
    stack()
        .run(&["graph", "prod"])
        .status(2)
        .stderr_has(&["unknown environment `prod`", "did you mean `production`?"]);
}

#[test]
fn completions_are_generated_for_every_shell_and_bash_loads_them() {
    let t = Test::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = t.run(&["completions", shell]);
        run.success()
            .stdout_has(&["stackc", "build", "diff", "explain"]);
    }
    let script = t.path().join("stackc.bash");
    std::fs::write(&script, t.run(&["completions", "bash"]).stdout()).unwrap();
    // bash parses the script, registers the completion, and completes `stackc bu` to `build`.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p stackc >/dev/null && COMP_WORDS=(stackc bu); COMP_CWORD=1; COMP_LINE='stackc bu'; COMP_POINT=9; _stackc stackc bu stackc && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.lines().any(|l| l == "build"), "{stdout}");
    t.run(&["completions", "tcsh"])
        .status(2)
        .stderr_has(&["invalid value 'tcsh'"]);
}

#[test]
fn the_man_page_renders_with_man() {
    let t = Test::new();
    let run = t.run(&["man"]);
    run.success()
        .stdout_has(&[".TH stackc 1", ".SH NAME", ".SH SUBCOMMANDS"]);
    let page = t.path().join("stackc.1");
    std::fs::write(&page, run.stdout()).unwrap();
    let out = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for part in ["SYNOPSIS", "stackc-build(1)", "stackc-graph(1)", "--dir"] {
        assert!(text.contains(part), "man page lacks {part:?}:\n{text}");
    }
}

#[test]
fn commands_offer_only_the_flags_that_mean_something_to_them() {
    let t = Test::new();
    for (command, offered) in [
        (
            &["build", "--help"][..],
            &["--identity", "--verbose", "--dir", "--quiet"][..],
        ),
        (&["diff", "--help"], &["--identity", "--dir"]),
        (&["secret", "get", "--help"], &["--identity"]),
    ] {
        let run = t.run(command);
        run.success().stdout_has(offered);
    }
    for (command, absent) in [
        (&["graph", "--help"][..], &["--identity", "--verbose"][..]),
        (&["explain", "--help"], &["--identity", "--verbose"]),
        (&["init", "--help"], &["--identity", "--verbose"]),
        (&["completions", "--help"], &["--identity", "--verbose"]),
    ] {
        let help = t.run(command).stdout();
        for flag in absent {
            assert!(!help.contains(flag), "{command:?} offers {flag}:\n{help}");
        }
    }
    t.run(&["graph", "--identity", "k"])
        .status(2)
        .stderr_has(&["unexpected argument '--identity'"]);
}
