//! `stackc init`: a new stack that builds at once, its keys kept where sops looks for them
//! and never inside the stack; built-in templates used directly or copied to customise.

use crate::harness::{sops_decrypt, tool, Test};

/// Every file under `dir`, as text (lossy), for "no private key here" checks.
fn all_text(t: &Test, dir: &str) -> String {
    t.tree(dir)
        .values()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect()
}

#[test]
fn init_with_keys_builds_and_its_secrets_decrypt_with_sops_and_the_printed_keys() {
    let t = Test::new();
    let run = t.run(&["init", "app", "--keys"]);
    run.success().stderr_has(&[
        "created app/stacks.kdl",
        "created app/.sops.yaml",
        "created app/templates/deployment/deployment.yaml.j2",
    ]);
    let keys = t.path().join(".home/.config/sops/age/keys.txt");
    let keys_text = std::fs::read_to_string(&keys).unwrap();
    assert_eq!(
        keys_text.matches("AGE-SECRET-KEY-1").count(),
        3,
        "{keys_text}"
    );
    for env in ["dev", "staging", "production"] {
        let line = run
            .stderr()
            .lines()
            .find(|l| l.starts_with(&format!("{env}: identity age1")))
            .unwrap_or_else(|| panic!("no key printed for {env}"))
            .to_string();
        assert!(
            line.ends_with(&format!("written to {}", keys.display())),
            "{line}"
        );
        let recipient = line.split_whitespace().nth(2).unwrap();
        assert!(keys_text.contains(&format!("# public key: {recipient}")));
        assert!(t
            .read("app/stacks.kdl")
            .contains(&format!("recipients \"{recipient}\"")));
        assert!(t
            .read("app/.sops.yaml")
            .contains(&format!("age: {recipient}")));
    }
    assert!(
        !all_text(&t, "app").contains("AGE-SECRET-KEY"),
        "a private key is in the stack"
    );

    // No identity was set up beforehand: the keys init made are all there is.
    t.run(&["-C", "app", "build"]).success();
    t.run(&["-C", "app", "build", "--check"]).success();
    for env in ["dev", "staging", "production"] {
        let out = tool("kubectl")
            .args(["kustomize", &format!("app/out/{env}")])
            .current_dir(t.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let secret = t.path().join(format!(
            "app/out/{env}/infrastructure/web/secret-web-credentials.yaml"
        ));
        let plain = sops_decrypt(&secret, &keys);
        assert!(plain.contains("api-key: "), "{plain}");
        let store = t
            .path()
            .join(format!("app/environments/{env}.secrets.sops.yaml"));
        assert!(sops_decrypt(&store, &keys).contains("web-credentials:"));
    }
    // The policy of each environment lands in its objects.
    let production = t.read("app/out/production/apps/web/web/deployment-web.yaml");
    assert!(production.contains("replicas: 3"));
    assert!(production.contains("requiredDuringSchedulingIgnoredDuringExecution"));
    assert!(production.contains("value: \"false\""));
    let ingress = t.read("app/out/staging/apps/web/web/ingress-web.yaml");
    assert!(ingress.contains("cert-manager.io/cluster-issuer: letsencrypt-production"));
    assert!(ingress.contains("secretName: web-tls"));
}

#[test]
fn keys_are_appended_never_overwritten_and_never_written_into_the_stack() {
    let t = Test::new().file(
        ".home/.config/sops/age/keys.txt",
        "# mine\nAGE-SECRET-KEY-1OLD",
    );
    t.run(&["init", "app", "--keys"]).success();
    let keys = t.read(".home/.config/sops/age/keys.txt");
    assert!(
        keys.starts_with("# mine\nAGE-SECRET-KEY-1OLD\n# created: "),
        "{keys}"
    );
    assert_eq!(keys.matches("AGE-SECRET-KEY-1").count(), 4);

    let t = Test::new();
    t.run(&["init", "app", "--keys", "--keys-dir", "app/keys"])
        .status(2)
        .stderr_has(&["stackc::init::keys_in_stack"]);
    assert!(!t.path().join("app/stacks.kdl").exists());
    t.run(&["init", "app", "--keys", "--keys-dir", "vault"])
        .success();
    for env in ["dev", "staging", "production"] {
        assert!(t
            .read(&format!("vault/app-{env}.agekey"))
            .contains("AGE-SECRET-KEY-1"));
    }
    t.run(&[
        "-C",
        "app",
        "build",
        "--identity",
        "vault/app-dev.agekey",
        "dev",
    ])
    .success();
}

#[test]
fn init_without_keys_builds_with_no_secrets() {
    let t = Test::new();
    t.run(&["init", "plain"])
        .success()
        .stderr_has(&["no secrets yet: `stackc init --keys`"]);
    assert!(!t.path().join("plain/.sops.yaml").exists());
    t.run(&["-C", "plain", "build"]).success();
    assert!(t
        .read("plain/out/dev/apps/web/web/deployment-web.yaml")
        .contains("nginx:1.27.4"));
}

#[test]
fn init_refuses_a_folder_that_is_not_empty_and_force_keeps_every_file() {
    let t = Test::new().file("app/stacks.kdl", "// mine\n");
    t.run(&["init", "app"])
        .status(2)
        .stderr_has(&["stackc::init::not_empty", "--force"]);
    assert_eq!(t.read("app/stacks.kdl"), "// mine\n");
    assert!(!t.path().join("app/templates").exists());
    t.run(&["init", "app", "--force"]).success().stderr_has(&[
        "kept app/stacks.kdl (it exists)",
        "created app/templates/deployment/service.yaml.j2",
    ]);
    assert_eq!(t.read("app/stacks.kdl"), "// mine\n");
    // A fresh `git init` folder counts as empty.
    let t = Test::new().file("repo/.git/HEAD", "ref: refs/heads/main\n");
    t.run(&["init", "repo"]).success();
}

#[test]
fn a_built_in_template_renders_without_a_templates_folder_and_copies_on_request() {
    let t = Test::new().file(
        "stacks.kdl",
        r#"project "p" domain="example.org"
layer "apps"
environment "dev" wave=0
service "web" layer="apps" namespace="web" template="builtin:deployment" {
    image "nginx" tag="1.27"
    port 80
    ingress host="web.example.org" tls=#true
}
service "chart" layer="apps" namespace="web" template="builtin:helm-release" {
    chart "podinfo" repo="oci://ghcr.io/stefanprodan/charts" version="6.7.1"
}
"#,
    );
    t.run(&["build"]).success();
    assert!(t
        .read("out/dev/apps/web/web/deployment-web.yaml")
        .contains("image: nginx:1.27"));
    assert!(t
        .read("out/dev/apps/web/web/certificate-web-tls.yaml")
        .contains("web.example.org"));
    assert!(t
        .read("out/dev/apps/web/chart/helmrepository-chart.yaml")
        .contains("type: oci"));

    t.run(&["init", "--template", "deployment"])
        .success()
        .stderr_has(&["created ./templates/deployment/deployment.yaml.j2"]);
    assert_eq!(
        t.read("templates/deployment/deployment.yaml.j2"),
        stackc::model::builtin_templates::files("deployment")
            .find(|(f, _)| *f == "deployment.yaml.j2")
            .unwrap()
            .1
    );
    t.run(&["init", "--template", "deployment"])
        .status(2)
        .stderr_has(&["stackc::init::exists"]);
    t.run(&["init", "--template", "deploymnet"])
        .status(2)
        .stderr_has(&[
            "unknown built-in template `deploymnet`",
            "did you mean `deployment`?",
        ]);
    t.edit("stacks.kdl", "builtin:deployment", "builtin:nope");
    t.run(&["build"])
        .status(2)
        .stderr_has(&["unknown template `builtin:nope`"]);
}

#[test]
fn bootstrap_installs_only_the_environment_s_own_key_from_a_shared_keys_txt() {
    let t = Test::new();
    let run = t.run(&["init", "app", "--keys"]);
    run.success();
    let recipient = |env: &str| {
        run.stderr()
            .lines()
            .find(|l| l.starts_with(&format!("{env}: identity ")))
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap()
            .to_string()
    };
    let keys = t.read(".home/.config/sops/age/keys.txt");
    let secret_of = |r: &str| {
        let lines: Vec<&str> = keys.lines().collect();
        let at = lines
            .iter()
            .position(|l| *l == format!("# public key: {r}"))
            .unwrap();
        lines[at + 1].to_string()
    };
    let out = t.run(&["-C", "app", "bootstrap", "production"]);
    out.success()
        .stdout_has(&["name: sops-age", &secret_of(&recipient("production"))]);
    for other in ["dev", "staging"] {
        assert!(
            !out.stdout().contains(&secret_of(&recipient(other))),
            "bootstrap production leaked the {other} key"
        );
    }
}

#[test]
fn a_fresh_stack_of_generated_secrets_needs_only_the_recipients() {
    let t = Test::new();
    // The keys go to a folder stackc does not look in: the build has no identity at all.
    t.run(&["init", "app", "--keys", "--keys-dir", "vault"])
        .success();
    assert!(!t.path().join(".home/.config/sops/age/keys.txt").exists());
    t.run(&["-C", "app", "build"]).success().stderr_has(&[
        "generated dev/web-credentials/api-key into environments/dev.secrets.sops.yaml",
    ]);
    for env in ["dev", "staging", "production"] {
        let key = t.path().join(format!("vault/app-{env}.agekey"));
        let secret = t.path().join(format!(
            "app/out/{env}/infrastructure/web/secret-web-credentials.yaml"
        ));
        assert!(sops_decrypt(&secret, &key).contains("api-key: "));
    }
    // Changing an existing store is where a key is really needed; the error says where
    // stackc looked and how to give it one.
    t.run_with_stdin(
        &[
            "-C",
            "app",
            "secret",
            "rotate",
            "dev",
            "web-credentials",
            "api-key",
        ],
        None,
    )
    .status(2)
    .stderr_has(&[
        "stackc::seal::no_identity",
        "environments/dev.secrets.sops.yaml",
        "looked in:",
        "--identity FILE",
    ]);
}

#[test]
fn init_example_homelab_gives_the_full_example_which_builds_as_committed() {
    let t = Test::new();
    t.run(&["init", "lab", "--example", "homelab"])
        .success()
        .stderr_has(&["files in lab", "public test identity"]);
    let committed = crate::harness::tree(&crate::harness::repo_root().join("out"));
    assert_eq!(t.tree("lab/out"), committed);
    // No identity anywhere: the committed sealed Secrets are current, nothing is rewritten.
    t.run(&["-C", "lab", "build"])
        .success()
        .stderr_has(&["0 files written"]);
    t.run(&["-C", "lab", "check"]).success();
    assert!(!all_text(&t, "lab").contains("AGE-SECRET-KEY"));
}

#[test]
fn init_example_homelab_with_keys_is_encrypted_to_the_new_keys_only() {
    let t = Test::new();
    let run = t.run(&["init", "lab", "--example", "homelab", "--keys"]);
    run.success()
        .stderr_has(&["stackc secret set <env> cloudflare-api-token api-token"]);
    let stack = t.read("lab/stacks.kdl");
    assert!(!stack.contains("age13zz8d57nutfp2effe6ztlyfxdf5akt9q0ltnefswtnlchfq66uvsl4zkex"));
    assert!(!t.path().join("lab/out").exists());
    assert!(!t
        .path()
        .join("lab/environments/dev.secrets.sops.yaml")
        .exists());
    for env in ["dev", "staging", "production"] {
        let line = run
            .stderr()
            .lines()
            .find(|l| l.starts_with(&format!("{env}: identity ")))
            .unwrap()
            .to_string();
        let recipient = line.split_whitespace().nth(2).unwrap();
        assert!(
            stack.contains(&format!("recipients \"{recipient}\"")),
            "{env}"
        );
    }
    // The values stackc cannot generate are set, then the example builds with the new keys.
    for env in ["dev", "staging", "production"] {
        // authentik-credentials takes its database passwords with `from=`: nothing to set.
        for (secret, key) in [
            ("cloudflare-api-token", "api-token"),
            ("flux-notify", "address"),
        ] {
            t.run_with_stdin(
                &["-C", "lab", "secret", "set", env, secret, key],
                Some("s3cret-value"),
            )
            .success();
        }
    }
    t.run(&["-C", "lab", "build"]).success();
    let keys = t.path().join(".home/.config/sops/age/keys.txt");
    let secret = t
        .path()
        .join("lab/out/production/infrastructure/cert-manager/secret-cloudflare-api-token.yaml");
    assert!(sops_decrypt(&secret, &keys).contains("api-token: s3cret-value"));
}
