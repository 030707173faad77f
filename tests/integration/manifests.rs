//! `manifests` files of several documents, with Secrets adopted from an existing repository:
//! a SOPS-encrypted Secret is written through (and still decrypts with the real `sops`) only
//! when it is encrypted by itself to exactly the environment's recipients; anything else is
//! refused at the document, without printing a value. The encrypted fixtures were written by
//! the real sops (tests/fixtures/sops/regenerate.sh).

use crate::harness::{repo_root, sops_json, tool, Test};
use crate::untouched::refused;

const CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\n  namespace: web\ndata:\n  mode: production\n";
const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: app\n  namespace: web\nspec:\n  ports:\n    - port: 80\n";
const OUT: &str = "out/dev/apps/web/web";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/sops").join(name))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn recipient(key_file: &str) -> String {
    fixture(key_file)
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("a public key line")
        .to_string()
}

/// The basic stack encrypting to the fixtures' Secret identity, web listing
/// `manifests/app.yaml` made of `documents` joined with `---`.
fn stack(documents: &[&str]) -> Test {
    let to = recipient("secret.agekey.txt");
    let t = Test::basic().file("identity.txt", &fixture("secret.agekey.txt"));
    t.edit(
        "stacks.kdl",
        "environment \"dev\" wave=0 domain=\"dev.example.org\"",
        &format!(
            "environment \"dev\" wave=0 domain=\"dev.example.org\" {{\n    recipients \"{to}\"\n}}"
        ),
    );
    t.edit(
        "stacks.kdl",
        "replicas 3\n",
        &format!("replicas 3\n    recipients \"{to}\"\n"),
    );
    t.edit(
        "stacks.kdl",
        "image \"nginx\" tag=\"1.27\"",
        "image \"nginx\" tag=\"1.27\"\n    manifests \"manifests/app.yaml\"",
    );
    t.write("manifests/app.yaml", &documents.join("---\n"));
    t
}

fn decrypted(t: &Test, file: &str) -> serde_json::Value {
    sops_json(&t.path().join(file), &t.path().join("identity.txt"))
}

#[test]
fn a_three_document_manifest_writes_each_object_and_passes_its_sops_secret_through() {
    let tls = fixture("tls.enc.yaml");
    let t = stack(&[CONFIG_MAP, &tls, SERVICE]);
    t.run(&["build"]).success();
    for file in [
        "configmap-app-config.yaml",
        "secret-app-tls.yaml",
        "service-app.yaml",
    ] {
        assert!(t.path().join(OUT).join(file).is_file(), "{file}");
    }
    let written = t.read(&format!("{OUT}/secret-app-tls.yaml"));
    assert!(!written.contains("test-only-private-key"), "{written}");
    // Real sops opens the written file, MAC included, to the fixture's plaintext.
    let secret = decrypted(&t, &format!("{OUT}/secret-app-tls.yaml"));
    assert_eq!(secret["type"], "kubernetes.io/tls");
    assert_eq!(secret["stringData"]["tls.key"], "test-only-private-key");
    assert_eq!(
        decrypted(&t, "out/production/apps/web/web/secret-app-tls.yaml"),
        secret
    );
    let kustomization = t.read(&format!("{OUT}/kustomization.yaml"));
    assert!(
        kustomization.contains("secret-app-tls.yaml"),
        "{kustomization}"
    );
    let built = tool("kubectl")
        .args(["kustomize", &format!("{}/out/dev", t.path().display())])
        .output()
        .expect("kubectl");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let text = String::from_utf8_lossy(&built.stdout);
    assert!(
        text.contains("name: app-tls") && text.contains("name: app-config"),
        "{text}"
    );
    // Nothing changes on a rebuild: the adopted bytes are stable.
    let before = t.tree("out");
    t.run(&["build"]).success();
    assert!(before == t.tree("out"));
}

#[test]
fn two_secrets_each_encrypted_by_itself_pass_through_from_one_manifest() {
    let (one, two) = (fixture("secret.enc.yaml"), fixture("tls.enc.yaml"));
    let t = stack(&[&one, CONFIG_MAP, &two]);
    t.run(&["build"]).success();
    assert_eq!(
        decrypted(&t, &format!("{OUT}/secret-app-credentials.yaml"))["stringData"]["password"],
        "s3cr3t-test-only"
    );
    assert_eq!(
        decrypted(&t, &format!("{OUT}/secret-app-tls.yaml"))["stringData"]["tls.crt"],
        "test-only-certificate"
    );
}

#[test]
fn a_sops_secret_encrypted_to_a_foreign_recipient_is_refused_at_its_document() {
    let other = recipient("other.agekey.txt");
    let mine = recipient("secret.agekey.txt");
    let t = stack(&[CONFIG_MAP, SERVICE]);
    let foreign = fixture("tls-other.enc.yaml");
    let stderr = refused(
        &t,
        |t| {
            t.write(
                "manifests/app.yaml",
                &[CONFIG_MAP, SERVICE, &foreign].join("---\n"),
            );
        },
        &["build"],
        &[
            "stackc::render::plaintext_secret",
            "document 3 is Secret web/app-tls, which stackc did not seal",
            &format!("it is encrypted to {other} but environment dev encrypts to {mine}"),
            // The label is the Secret's `kind:` line, in the third document.
            "manifests/app.yaml:19:1",
        ],
    );
    assert!(!stderr.contains("ENC[AES256_GCM"), "{stderr}");
}

#[test]
fn a_plaintext_secret_in_a_multi_document_manifest_is_refused_without_its_values() {
    let plain = fixture("tls.plain.yaml");
    let t = stack(&[CONFIG_MAP, SERVICE]);
    let stderr = refused(
        &t,
        |t| {
            t.write(
                "manifests/app.yaml",
                &[CONFIG_MAP, &plain, SERVICE].join("---\n"),
            );
        },
        &["build"],
        &[
            "stackc::render::plaintext_secret",
            "document 2 is Secret web/app-tls",
            "it is not encrypted",
            "manifests/app.yaml:10:1",
        ],
    );
    assert!(
        !stderr.contains("test-only-private-key") && !stderr.contains("test-only-certificate"),
        "{stderr}"
    );
}

#[test]
fn secrets_encrypted_together_as_one_file_are_refused() {
    let pair = fixture("pair.enc.yaml");
    let t = stack(&[CONFIG_MAP]);
    refused(
        &t,
        |t| {
            t.write("manifests/app.yaml", &[CONFIG_MAP, &pair].join("---\n"));
        },
        &["build"],
        &[
            "stackc::render::plaintext_secret",
            "document 2 is Secret web/pair-one",
            "encrypted together with 1 other document(s) of manifests/app.yaml",
            "encrypt each Secret by itself",
        ],
    );
}
