//! `stackc promote SERVICE --from dev --to staging`: copy a service's pinned versions into the
//! next environment by editing its KDL in place (comments and formatting kept). `--dry-run`
//! prints the KDL edit as a unified diff and the rendered change as `stackc diff` shows it,
//! and writes nothing.

use super::{GlobalArgs, Session, UnknownName};
use crate::diagnostics::{did_you_mean, Diagnostics, Internal, IoError};
use crate::edit::KdlFile;
use crate::promote::{self, Promotion, Request};
use crate::value::Value;
use clap::Args;
use kdl::KdlValue;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `stackc promote`.
#[derive(Debug, Args)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub identity: super::IdentityArgs,
    /// The service whose pinned values move (or --all).
    #[arg(
        value_name = "SERVICE",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub service: Option<String>,
    /// Every service whose pinned values differ.
    #[arg(long)]
    pub all: bool,
    /// The environment the values come from.
    #[arg(long, value_name = "ENV")]
    pub from: String,
    /// The environment that receives them.
    #[arg(long, value_name = "ENV")]
    pub to: String,
    /// Only this value (repeatable): `image.tag`, `chart.version` or a `promotable` path.
    #[arg(long, value_name = "PATH")]
    pub only: Vec<String>,
    /// Allow a promotion that does not follow the environments' `promotes-from`.
    #[arg(long)]
    pub skip_order: bool,
    /// Print the KDL edit and the rendered change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `stackc promote`.
pub fn run(global: &GlobalArgs, args: &PromoteArgs) -> Result<ExitCode, Diagnostics> {
    let session = Session::open(global)?;
    session.select_environments(&[args.from.clone(), args.to.clone()])?;
    if let Some(name) = &args.service {
        let model = &session.stack.model;
        if model.service(name).is_none() {
            return Err(UnknownName {
                kind: "service",
                name: name.clone(),
                help: did_you_mean(name, model.services.iter().map(|s| s.name.as_str())),
            }
            .into());
        }
    }
    let request = Request {
        from: args.from.clone(),
        to: args.to.clone(),
        services: args.service.iter().cloned().collect(),
        only: args.only.clone(),
        skip_order: args.skip_order,
    };
    let promotions = promote::plan(&session.stack, &request)?;
    if promotions.is_empty() {
        if !global.quiet {
            eprintln!(
                "nothing to promote: {} already has {}'s pinned values",
                args.to, args.from
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let edited = edit_files(&session.stack.root, &promotions)?;
    // Prove the edit on a copy: the target now resolves to the promoted values.
    let copy = StackCopy::new(&session, &edited)?;
    let after = copy.verify(&args.to, &promotions)?;

    if args.dry_run {
        for (file, edit) in &edited {
            print!("{}", unified(file, edit.original(), &edit.text()));
        }
        let identities = crate::seal::Identities::discover(&args.identity.identities)?;
        let before = crate::diff::Sides::new(&session.stack, &session.resolved, &identities)?
            .environment(&args.to)?
            .relabel(format!("{} now", args.to));
        let after = crate::diff::Sides::new(&after.0, &after.1, &identities)?
            .environment(&args.to)?
            .relabel(format!("{} promoted", args.to));
        let options = crate::diff::DiffOptions::default();
        print!(
            "{}",
            crate::diff::diff(&before, &after, &options).to_text(false)
        );
        return Ok(ExitCode::SUCCESS);
    }
    for (file, edit) in &edited {
        write_atomic(&session.stack.root.join(file), edit.text().as_bytes())?;
    }
    if !global.quiet {
        for p in &promotions {
            eprintln!(
                "promoted {} {}: {} -> {} into {}",
                p.service,
                p.path,
                p.previous
                    .as_ref()
                    .map_or("(unset)".to_string(), Value::to_display),
                p.value.to_display(),
                p.file
            );
        }
        eprintln!("run `stackc build` to render {}", args.to);
    }
    Ok(ExitCode::SUCCESS)
}

/// Every file the promotion edits, parsed and edited in memory.
fn edit_files(
    root: &Path,
    promotions: &[Promotion],
) -> Result<BTreeMap<String, KdlFile>, Diagnostics> {
    let mut files: BTreeMap<String, KdlFile> = BTreeMap::new();
    for p in promotions {
        if !files.contains_key(&p.file) {
            let path = root.join(&p.file);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(IoError::new("read", &path, e).into()),
            };
            files.insert(p.file.clone(), KdlFile::parse(&p.file, &text)?);
        }
        let value = kdl_value(&p.value)
            .ok_or_else(|| Internal(format!("{} of {} is not a scalar", p.path, p.service)))?;
        files
            .get_mut(&p.file)
            .ok_or_else(|| Internal(format!("{} vanished", p.file)))?
            .set(&p.scope, &p.kdl_path(), &value)?;
    }
    Ok(files)
}

fn kdl_value(value: &Value) -> Option<KdlValue> {
    Some(match value {
        Value::Null => KdlValue::Null,
        Value::Bool(b) => KdlValue::Bool(*b),
        Value::Int(i) => KdlValue::Integer(i128::from(*i)),
        Value::Float(f) => KdlValue::Float(*f),
        Value::String(s) => KdlValue::String(s.clone()),
        Value::List(_) | Value::Map(_) => return None,
    })
}

/// The stack's inputs copied to a temporary folder with the edited files in place.
struct StackCopy {
    dir: tempfile::TempDir,
}

impl StackCopy {
    fn new(session: &Session, edited: &BTreeMap<String, KdlFile>) -> Result<Self, Diagnostics> {
        let root = &session.stack.root;
        let dir = tempfile::tempdir()
            .map_err(|e| IoError::new("create a temporary folder", std::env::temp_dir(), e))?;
        let mut inputs: Vec<PathBuf> = vec![
            "stacks.kdl".into(),
            "environments".into(),
            "templates".into(),
        ];
        inputs.extend(session.stack.manifests.keys().map(PathBuf::from));
        for input in inputs {
            copy_tree(&root.join(&input), &dir.path().join(&input))?;
        }
        for (file, edit) in edited {
            let path = dir.path().join(file);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| IoError::new("create folder", parent, e))?;
            }
            std::fs::write(&path, edit.text()).map_err(|e| IoError::new("write", &path, e))?;
        }
        Ok(StackCopy { dir })
    }

    /// Loads the copy and checks that `env` now resolves every promoted value.
    fn verify(
        &self,
        env: &str,
        promotions: &[Promotion],
    ) -> Result<(crate::model::Stack, crate::resolve::Resolved), Diagnostics> {
        let stack = crate::model::load(self.dir.path())?;
        let resolved = crate::resolve::resolve(&stack)?;
        for p in promotions {
            let service = crate::resolve::resolve_one(&stack, env, &p.service)?.values();
            if service.get_path(&p.path) != Some(&p.value) {
                return Err(Internal(format!(
                    "after editing {}, {} of {} in {env} is not {}",
                    p.file,
                    p.path,
                    p.service,
                    p.value.to_display()
                ))
                .into());
            }
        }
        Ok((stack, resolved))
    }
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), Diagnostics> {
    let Ok(meta) = std::fs::symlink_metadata(from) else {
        return Ok(());
    };
    if meta.is_file() {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| IoError::new("create folder", parent, e))?;
        }
        std::fs::copy(from, to).map_err(|e| IoError::new("copy", from, e))?;
    } else if meta.is_dir() {
        for entry in walkdir::WalkDir::new(from).follow_links(false) {
            let entry = entry.map_err(|e| IoError::new("read", from, e.into()))?;
            let Ok(relative) = entry.path().strip_prefix(from) else {
                continue;
            };
            let target = to.join(relative);
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(&target)
                    .map_err(|e| IoError::new("create folder", &target, e))?;
            } else if entry.file_type().is_file() {
                std::fs::copy(entry.path(), &target)
                    .map_err(|e| IoError::new("copy", entry.path(), e))?;
            }
        }
    }
    Ok(())
}

/// A unified diff of one file, `git diff` style.
fn unified(file: &str, before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{file}"), &format!("b/{file}"))
        .to_string()
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Diagnostics> {
    // Through folder handles that refuse symlinks, temp file and rename, like every write.
    crate::fs::write_file(path, bytes).map_err(Diagnostics::from)
}
