//! The one test builder: write a stack into a temp dir, run the real `stackc` binary on it,
//! and assert on the exit code, the output and the resulting tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A stack in a temporary directory.
pub struct Test {
    pub dir: tempfile::TempDir,
    envs: Vec<(String, String)>,
}

/// The outcome of one `stackc` run.
pub struct Run {
    pub output: Output,
}

impl Test {
    pub fn new() -> Self {
        Test {
            dir: tempfile::tempdir().expect("temp dir"),
            envs: Vec::new(),
        }
    }

    /// A minimal valid stack: one layer, dev + production, one templated web service.
    pub fn basic() -> Self {
        Test::new()
            .file("stacks.kdl", BASIC_STACK)
            .file(
                "templates/deployment/deployment.yaml.j2",
                DEPLOYMENT_TEMPLATE,
            )
            .file("templates/deployment/service.yaml.j2", SERVICE_TEMPLATE)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating folders).
    pub fn file(self, path: &str, contents: &str) -> Self {
        self.write(path, contents);
        self
    }

    pub fn write(&self, path: &str, contents: &str) {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, contents).unwrap();
    }

    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(path))
            .unwrap_or_else(|e| panic!("read {path}: {e}"))
    }

    /// Replaces `from` by `to` in a file; the text must be there.
    pub fn edit(&self, path: &str, from: &str, to: &str) {
        let text = self.read(path);
        assert!(text.contains(from), "{path} does not contain {from:?}");
        self.write(path, &text.replacen(from, to, 1));
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_string(), value.to_string()));
        self
    }

    /// Runs `stackc ARGS` in the stack's directory.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None)
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        self.run_with(args, stdin, &[])
    }

    /// Runs `stackc ARGS` with extra environment variables for this run only.
    pub fn run_with(&self, args: &[&str], stdin: Option<&str>, envs: &[(&str, &str)]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stackc"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            // The minimal fixtures here (`Test::basic()` and stacks written inline) are
            // objects that `check` rejects; the build's rule gate is on for the example
            // stack (`example()`) and in check_build.rs.
            .env("STACKC_BUILD_RULES", "off")
            .env_remove("SOPS_AGE_KEY")
            .env_remove("SOPS_AGE_KEY_FILE")
            .env("HOME", self.dir.path().join(".home"))
            .env("XDG_CONFIG_HOME", self.dir.path().join(".home/.config"))
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.envs {
            command.env(k, v);
        }
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("run stackc");
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        Run {
            output: child.wait_with_output().expect("wait for stackc"),
        }
    }

    /// Every file under `dir` (relative to the stack) with its bytes.
    pub fn tree(&self, dir: &str) -> BTreeMap<String, Vec<u8>> {
        tree(&self.dir.path().join(dir))
    }

    /// Every file under `dir` with its modification time.
    pub fn mtimes(&self, dir: &str) -> BTreeMap<String, std::time::SystemTime> {
        let root = self.dir.path().join(dir);
        walk(&root)
            .into_iter()
            .map(|p| {
                let m = std::fs::metadata(&p).unwrap().modified().unwrap();
                (rel(&root, &p), m)
            })
            .collect()
    }
}

pub fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(root)
        .into_iter()
        .map(|p| (rel(root, &p), std::fs::read(&p).unwrap()))
        .collect()
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn status(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        self.status(0)
    }

    /// Asserts stderr contains every one of `parts`.
    #[track_caller]
    pub fn stderr_has(&self, parts: &[&str]) -> &Self {
        let err = self.stderr();
        for part in parts {
            assert!(err.contains(part), "stderr lacks {part:?}:\n{err}");
        }
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, parts: &[&str]) -> &Self {
        let out = self.stdout();
        for part in parts {
            assert!(out.contains(part), "stdout lacks {part:?}:\n{out}");
        }
        self
    }
}

pub const BASIC_STACK: &str = r#"project "demo" domain="example.org"

layer "apps"

defaults {
    replicas 1
}

environment "dev" wave=0 domain="dev.example.org"
environment "production" wave=2 promotes-from="dev" {
    replicas 3
    anti-affinity "required"
}

service "web" layer="apps" namespace="web" template="deployment" {
    image "nginx" tag="1.27"
    values {
        labels { team "core" }
    }
}
"#;

pub const DEPLOYMENT_TEMPLATE: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ service.name }}
  namespace: {{ service.namespace }}
  labels:
    {{ service.values.labels | to_yaml(indent=4) }}
spec:
  replicas: {{ service.replicas }}
  selector:
    matchLabels:
      app: {{ service.name }}
  template:
    metadata:
      labels:
        app: {{ service.name }}
    spec:
{% if service.anti_affinity == "required" %}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - labelSelector:
                matchLabels:
                  app: {{ service.name }}
              topologyKey: kubernetes.io/hostname
{% endif %}
      containers:
        - name: {{ service.name }}
          image: "{{ service.image.repository }}:{{ service.image.tag }}"
          resources:
            {{ service.resources | to_yaml(indent=12) }}
"#;

pub const SERVICE_TEMPLATE: &str = r"apiVersion: v1
kind: Service
metadata:
  name: {{ service.name }}
  namespace: {{ service.namespace }}
spec:
  selector:
    app: {{ service.name }}
  ports:
    - port: 80
      targetPort: {{ service.port }}
";

// --- external tools -----------------------------------------------------------------------------
// The tests judge what stackc writes with tools that are not stackc (sops, age, kubectl, ...).
// A missing tool fails the test that needs it, naming the tool: nothing is skipped silently.

/// The repository root (the crate's manifest folder).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the example stack at the repository root (inputs, stores, committed out/ and
/// the example's key folder) in a temp dir: what a fresh clone holds, with no cache.
pub fn example() -> Test {
    // The example passes every rule: its builds run the rule gate as a user's do.
    let t = Test::new().env("STACKC_BUILD_RULES", "on");
    for entry in [
        "stacks.kdl",
        "templates",
        "environments",
        "manifests",
        "out",
        "examples",
    ] {
        let status = Command::new("cp")
            .arg("-r")
            .arg(repo_root().join(entry))
            .arg(t.path())
            .status()
            .expect("cp");
        assert!(status.success());
    }
    t
}

/// Where `scripts/test` installs the Python tools (sops, pre-commit, kubernetes-validate).
pub fn test_tools_bin() -> PathBuf {
    repo_root().join("target/test-tools/venv/bin")
}

/// The path of the external tool `name`: on `PATH`, else in `scripts/test`'s venv. Panics
/// (fails the test) with an install hint when it is in neither.
#[track_caller]
pub fn require_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([test_tools_bin()])
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .unwrap_or_else(|| {
            panic!(
                "the test needs `{name}`, which is not on PATH nor in {}: run scripts/test, \
                 which installs it",
                test_tools_bin().display()
            )
        })
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// A `Command` for the external tool `name` (see [`require_tool`]).
#[track_caller]
pub fn tool(name: &str) -> Command {
    Command::new(require_tool(name))
}

/// The real `sops` CLI, hermetic: the only identity it sees is `identity` (through
/// `SOPS_AGE_KEY_FILE`; no `SOPS_AGE_KEY`, no keys under a home folder or ~/.ssh), no version
/// check over the network.
#[track_caller]
pub fn sops_command(identity: &Path) -> Command {
    let mut command = tool("sops");
    command
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .env("SOPS_AGE_KEY_FILE", identity)
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_CMD")
        .env_remove("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
        .env("HOME", "/nonexistent-stackc-test-home")
        .env("XDG_CONFIG_HOME", "/nonexistent-stackc-test-home/.config");
    command
}

/// `sops decrypt FILE` with only `identity`: the plaintext YAML, or sops' error. sops checks
/// the MAC, so `Ok` means real sops (and Flux, which uses its code) accepts the file.
#[track_caller]
pub fn sops_try_decrypt(path: &Path, identity: &Path, extra: &[&str]) -> Result<String, String> {
    let out = sops_command(identity)
        .arg("decrypt")
        .args(extra)
        .arg(path)
        .output()
        .expect("run sops");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `sops decrypt FILE` with only `identity`, which must succeed: the plaintext YAML.
#[track_caller]
pub fn sops_decrypt(path: &Path, identity: &Path) -> String {
    sops_try_decrypt(path, identity, &[]).unwrap_or_else(|e| {
        panic!(
            "sops decrypt {} with {}:\n{e}\n--- file\n{}",
            path.display(),
            identity.display(),
            std::fs::read_to_string(path).unwrap_or_default()
        )
    })
}

/// The decrypted document of `path` as JSON (`sops decrypt --output-type json`).
#[track_caller]
pub fn sops_json(path: &Path, identity: &Path) -> serde_json::Value {
    let text = sops_try_decrypt(path, identity, &["--output-type", "json"])
        .unwrap_or_else(|e| panic!("sops decrypt {}:\n{e}", path.display()));
    serde_json::from_str(&text).expect("sops prints JSON")
}

/// The values that `path` holds encrypted (its `ENC[...]` leaves), as real sops decrypts them
/// with `identity`, in document order (strings as they are, numbers and booleans as JSON writes
/// them). Clear values (apiVersion, metadata, ...) are left out.
#[track_caller]
pub fn sops_values(path: &Path, identity: &Path) -> Vec<String> {
    use yaml_rust2::Yaml;
    fn walk(enc: &Yaml, plain: &serde_json::Value, out: &mut Vec<String>) {
        match (enc, plain) {
            (Yaml::Hash(enc), serde_json::Value::Object(plain)) => {
                for (k, v) in enc {
                    if let Some(p) = k.as_str().and_then(|k| plain.get(k)) {
                        walk(v, p, out);
                    }
                }
            }
            (Yaml::Array(enc), serde_json::Value::Array(plain)) => {
                enc.iter().zip(plain).for_each(|(e, p)| walk(e, p, out));
            }
            (Yaml::String(e), plain) if e.starts_with("ENC[AES256_GCM,") => out.push(match plain {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            _ => {}
        }
    }
    let plain = sops_json(path, identity);
    let text = std::fs::read_to_string(path).expect("read the encrypted file");
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).expect("the encrypted file is YAML");
    let mut out = Vec::new();
    walk(&docs[0], &plain, &mut out);
    out
}

/// `kubectl kustomize DIR` (relative to the test's stack), which must succeed: its output.
pub fn kustomize(t: &Test, dir: &str) -> String {
    let out = tool("kubectl")
        .args(["kustomize", dir])
        .current_dir(t.path())
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
