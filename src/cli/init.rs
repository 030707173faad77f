//! `stackc init [DIR]`: scaffold a stack that builds at once (`--keys`: with one new age
//! identity per environment, kept where sops looks for keys, never inside the stack), or
//! `stackc init --template NAME`: copy a built-in template into `templates/` to customise.

use super::GlobalArgs;
use crate::diagnostics::{did_you_mean, Diagnostics, IoError};
use crate::init::{self, ENVIRONMENTS};
use clap::Args;
use miette::Diagnostic;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use thiserror::Error;

/// Arguments of `stackc init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to create the stack (default: the current folder, or -C).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Make one age identity per environment and fill in the recipients; the identities are
    /// appended to sops' keys.txt (or written to --keys-dir), never into the stack.
    #[arg(long)]
    pub keys: bool,
    /// With --keys: write each identity to DIR/<project>-<env>.agekey instead of keys.txt.
    #[arg(long, value_name = "DIR", requires = "keys")]
    pub keys_dir: Option<PathBuf>,
    /// Create the stack in a folder that is not empty (no existing file is overwritten).
    #[arg(long)]
    pub force: bool,
    /// Copy the built-in template NAME into templates/NAME/ of the stack, and nothing else.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["keys", "force", "example"])]
    pub template: Option<String>,
    /// Create a full example stack instead of the starter (`homelab`: cert-manager, Traefik,
    /// `PostgreSQL`, Redis, Authentik and a web service; with --keys, encrypted to new keys).
    #[arg(long, value_enum, value_name = "NAME")]
    pub example: Option<Example>,
}

/// The example stacks `init --example` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Example {
    /// The stackc repository's own example stack.
    Homelab,
}

/// An `init` that cannot run.
#[derive(Debug, Error, Diagnostic)]
pub enum InitError {
    #[error("{dir} is not empty")]
    #[diagnostic(
        code(stackc::init::not_empty),
        help("`stackc init DIR` creates a stack in a new folder; `--force` adds one here, keeping every existing file as it is")
    )]
    NotEmpty { dir: String },

    #[error("unknown built-in template `{name}`")]
    #[diagnostic(code(stackc::init::unknown_template))]
    UnknownTemplate {
        name: String,
        #[help]
        help: String,
    },

    #[error("{path} already exists")]
    #[diagnostic(
        code(stackc::init::exists),
        help("stackc init never overwrites a file; move it away first")
    )]
    Exists { path: String },

    #[error("--keys-dir {dir} is inside the stack")]
    #[diagnostic(
        code(stackc::init::keys_in_stack),
        help("a private key must never be committed: keep identities outside the repository (the default, sops' keys.txt, is)")
    )]
    KeysInStack { dir: String },

    #[error("cannot find where sops keeps age keys: neither XDG_CONFIG_HOME nor HOME is set")]
    #[diagnostic(
        code(stackc::init::no_home),
        help("pass --keys-dir DIR to write the identities there")
    )]
    NoHome,
}

/// Runs `stackc init`.
pub fn run(global: &GlobalArgs, args: &InitArgs) -> Result<ExitCode, Diagnostics> {
    let dir = args.dir.clone().unwrap_or_else(|| global.root.clone());
    if let Some(name) = &args.template {
        return copy_template(global, &dir, name);
    }
    if dir.exists() && !is_empty(&dir)? && !args.force {
        return Err(InitError::NotEmpty {
            dir: dir.display().to_string(),
        }
        .into());
    }
    if let Some(keys_dir) = &args.keys_dir {
        // Checked before anything is created: a refused init leaves no trace.
        if absolute(keys_dir)?.starts_with(absolute(&dir)?) {
            return Err(InitError::KeysInStack {
                dir: keys_dir.display().to_string(),
            }
            .into());
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| IoError::new("create folder", &dir, e))?;
    let folder = dir
        .canonicalize()
        .map_err(|e| IoError::new("resolve", &dir, e))?;
    let project = init::project_name(
        &folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    let keys = if args.keys {
        Some(make_keys(&folder, &project, args.keys_dir.as_deref())?)
    } else {
        None
    };
    let recipients: Option<BTreeMap<String, String>> = keys.as_ref().map(|k| {
        k.iter()
            .map(|key| (key.env.clone(), key.recipient.clone()))
            .collect()
    });
    let files = match args.example {
        None => init::scaffold(&project, recipients.as_ref())
            .into_iter()
            .map(|(p, t)| (p, t.into_bytes()))
            .collect(),
        Some(Example::Homelab) => init::homelab::files(recipients.as_ref()),
    };
    let mut created = Vec::new();
    let mut kept = Vec::new();
    for (path, bytes) in files {
        let full = dir.join(&path);
        if full.exists() {
            kept.push(path);
            continue;
        }
        write_new(&full, &bytes)?;
        created.push(path);
    }
    if !global.quiet {
        if args.example.is_some() && created.len() > 20 {
            eprintln!("created {} files in {}", created.len(), dir.display());
        } else {
            for path in &created {
                eprintln!("created {}", dir.join(path).display());
            }
        }
        for path in &kept {
            eprintln!("kept {} (it exists)", dir.join(path).display());
        }
        match &keys {
            Some(keys) => {
                for key in keys {
                    eprintln!(
                        "{}: identity {} written to {}",
                        key.env,
                        key.recipient,
                        key.place.display()
                    );
                }
            }
            None if args.example.is_some() => eprintln!(
                "the example's secrets are encrypted to its public test identity (examples/keys/example.agekey in the stackc repository); `--keys` makes your own"
            ),
            None => eprintln!(
                "no secrets yet: `stackc init --keys` (or `stackc keygen` and `recipients` in each environment) sets up encryption"
            ),
        }
        if args.example.is_some() && keys.is_some() {
            eprintln!(
                "set the values stackc cannot generate before the first build, in each environment: `stackc secret set <env> cloudflare-api-token api-token`, and authentik-credentials' postgresql-password and redis-password"
            );
        }
        eprintln!(
            "next: `stackc -C {} build`, then point Flux at out/<env>/flux-system",
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// An identity `init` made: its environment, its recipient and where the private key went.
struct NewIdentity {
    env: String,
    recipient: String,
    place: PathBuf,
}

/// One new identity per environment, stored outside the stack.
fn make_keys(
    stack: &Path,
    project: &str,
    keys_dir: Option<&Path>,
) -> Result<Vec<NewIdentity>, Diagnostics> {
    let mut out = Vec::new();
    if let Some(dir) = keys_dir {
        std::fs::create_dir_all(dir).map_err(|e| IoError::new("create folder", dir, e))?;
        let resolved = dir
            .canonicalize()
            .map_err(|e| IoError::new("resolve", dir, e))?;
        if resolved.starts_with(stack) {
            return Err(InitError::KeysInStack {
                dir: dir.display().to_string(),
            }
            .into());
        }
        for env in ENVIRONMENTS {
            let path = dir.join(format!("{project}-{env}.agekey"));
            let key = crate::seal::keygen(Some(&path))?;
            out.push(NewIdentity {
                env: env.to_string(),
                recipient: key.recipient,
                place: path,
            });
        }
        return Ok(out);
    }
    let keys_txt = sops_keys_file().ok_or(InitError::NoHome)?;
    for env in ENVIRONMENTS {
        let key = crate::seal::keygen(None)?;
        if let Some(text) = &key.file_text {
            crate::seal::append_private(&keys_txt, text)?;
        }
        out.push(NewIdentity {
            env: env.to_string(),
            recipient: key.recipient,
            place: keys_txt.clone(),
        });
    }
    Ok(out)
}

/// `path` made absolute and without `.` or `..` parts, without touching the disk.
fn absolute(path: &Path) -> Result<PathBuf, Diagnostics> {
    let full = std::path::absolute(path).map_err(|e| IoError::new("resolve", path, e))?;
    let mut out = PathBuf::new();
    for part in full.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Where sops looks for age keys first: `$XDG_CONFIG_HOME/sops/age/keys.txt`, else
/// `~/.config/sops/age/keys.txt`.
fn sops_keys_file() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    var("XDG_CONFIG_HOME")
        .map(|x| PathBuf::from(x).join("sops/age/keys.txt"))
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config/sops/age/keys.txt")))
}

fn copy_template(global: &GlobalArgs, root: &Path, name: &str) -> Result<ExitCode, Diagnostics> {
    let files = init::template_files(name);
    if files.is_empty() {
        let kinds = crate::model::builtin_templates::kinds();
        return Err(InitError::UnknownTemplate {
            name: name.to_string(),
            help: did_you_mean(name, kinds.iter().copied())
                .unwrap_or_else(|| format!("built-in templates: {}", kinds.join(", "))),
        }
        .into());
    }
    for (path, _) in &files {
        let full = root.join(path);
        if full.exists() {
            return Err(InitError::Exists {
                path: full.display().to_string(),
            }
            .into());
        }
    }
    for (path, text) in &files {
        write_new(&root.join(path), text.as_bytes())?;
        if !global.quiet {
            eprintln!("created {}", root.join(path).display());
        }
    }
    if !global.quiet {
        eprintln!("use it with template=\"{name}\" (it replaces template=\"builtin:{name}\")");
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether a folder holds nothing but a `.git` (a fresh `git init` is still empty).
fn is_empty(dir: &Path) -> Result<bool, Diagnostics> {
    let entries = std::fs::read_dir(dir).map_err(|e| IoError::new("read", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| IoError::new("read", dir, e))?;
        if entry.file_name() != ".git" {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Creates a new file (and its folders), never replacing one.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Diagnostics> {
    use std::io::Write as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| IoError::new("create folder", parent, e))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| IoError::new("create", path, e))?;
    file.write_all(bytes)
        .map_err(|e| IoError::new("write", path, e))?;
    Ok(())
}
