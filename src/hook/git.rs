//! The git plumbing the hook needs, through the `git` command (whatever repository layout,
//! worktree or index file git itself was started with, e.g. `GIT_INDEX_FILE` during a hook).

use crate::diagnostics::Diagnostics;
use miette::Diagnostic;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use thiserror::Error;

/// A git command that failed.
#[derive(Debug, Error, Diagnostic)]
#[error("`git {command}` failed: {message}")]
#[diagnostic(
    code(stackc::hook::git),
    help("the hook works inside a git repository, with `git` on PATH")
)]
pub struct GitError {
    pub command: String,
    pub message: String,
}

fn git(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Result<Vec<u8>, GitError> {
    let failed = |message: String| GitError {
        command: args.join(" "),
        message,
    };
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A writer thread, so that a large output cannot block git while we feed it.
        let input = input.to_vec();
        let writer = std::thread::spawn(move || pipe.write_all(&input));
        let output = child
            .wait_with_output()
            .map_err(|e| failed(e.to_string()))?;
        let _ = writer.join();
        return finish(output, failed);
    }
    let output = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    finish(output, failed)
}

fn finish(
    output: std::process::Output,
    failed: impl Fn(String) -> GitError,
) -> Result<Vec<u8>, GitError> {
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(failed(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ))
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches('\n')
        .to_string()
}

fn nul_list(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

/// The top of the work tree that contains `dir`.
pub fn top_level(dir: &Path) -> Result<PathBuf, GitError> {
    Ok(PathBuf::from(text(&git(
        dir,
        &["rev-parse", "--show-toplevel"],
        None,
    )?)))
}

/// The folder git runs hooks from (`core.hooksPath` when set; the common hooks folder of a
/// linked worktree otherwise).
pub fn hooks_dir(dir: &Path) -> Result<PathBuf, GitError> {
    let path = PathBuf::from(text(&git(
        dir,
        &["rev-parse", "--git-path", "hooks"],
        None,
    )?));
    Ok(if path.is_absolute() {
        path
    } else {
        dir.join(path)
    })
}

/// The paths (relative to the top) added, copied, modified or renamed in the index.
pub fn staged_paths(top: &Path) -> Result<Vec<String>, GitError> {
    Ok(nul_list(&git(
        top,
        &[
            "diff",
            "--cached",
            "--name-only",
            "-z",
            "--no-renames",
            "--diff-filter=ACM",
        ],
        None,
    )?))
}

/// The staged bytes of each path (`git cat-file --batch` on `:path`).
pub fn staged_blobs(top: &Path, paths: &[String]) -> Result<Vec<(String, Vec<u8>)>, GitError> {
    // A path with a newline cannot be named on a --batch line; such a file is read through
    // `git show` instead.
    let (plain, odd): (Vec<&String>, Vec<&String>) = paths.iter().partition(|p| !p.contains('\n'));
    let mut input = Vec::new();
    for path in &plain {
        input.extend_from_slice(format!(":{path}\n").as_bytes());
    }
    let mut out = Vec::with_capacity(paths.len());
    if !plain.is_empty() {
        let bytes = git(top, &["cat-file", "--batch"], Some(&input))?;
        let mut reader = std::io::Cursor::new(bytes);
        for path in plain {
            let mut header = Vec::new();
            loop {
                let mut byte = [0u8; 1];
                if reader.read(&mut byte).unwrap_or(0) == 0 || byte[0] == b'\n' {
                    break;
                }
                header.push(byte[0]);
            }
            let header = String::from_utf8_lossy(&header).into_owned();
            let size = header
                .rsplit(' ')
                .next()
                .and_then(|s| s.parse::<usize>().ok())
                .filter(|_| header.split(' ').nth(1) == Some("blob"));
            let Some(size) = size else {
                // "missing" (a submodule or a gitlink): nothing to scan.
                continue;
            };
            let mut blob = vec![0u8; size];
            reader.read_exact(&mut blob).map_err(|e| GitError {
                command: "cat-file --batch".into(),
                message: e.to_string(),
            })?;
            let mut newline = [0u8; 1];
            let _ = reader.read(&mut newline);
            out.push((path.clone(), blob));
        }
    }
    for path in odd {
        out.push((
            path.clone(),
            git(top, &["show", &format!(":{path}")], None)?,
        ));
    }
    Ok(out)
}

/// Whether the work tree differs from the index under `specs` (unstaged or untracked files),
/// so that a check of the work tree would not be a check of what is committed.
pub fn work_tree_differs(top: &Path, specs: &[String]) -> Result<bool, GitError> {
    let mut diff = vec!["diff", "--name-only", "-z", "--"];
    diff.extend(specs.iter().map(String::as_str));
    if !git(top, &diff, None)?.is_empty() {
        return Ok(true);
    }
    let mut others = vec!["ls-files", "--others", "--exclude-standard", "-z", "--"];
    others.extend(specs.iter().map(String::as_str));
    Ok(!git(top, &others, None)?.is_empty())
}

/// Writes the index's copy of every file under `specs` below `dest` (a snapshot of what is
/// about to be committed).
pub fn export_index(top: &Path, specs: &[String], dest: &Path) -> Result<(), Diagnostics> {
    let mut list = vec!["ls-files", "-z", "--"];
    list.extend(specs.iter().map(String::as_str));
    let files = git(top, &list, None)?;
    let mut prefix = dest.display().to_string();
    if !prefix.ends_with('/') {
        prefix.push('/');
    }
    git(
        top,
        &[
            "checkout-index",
            "-z",
            "--stdin",
            &format!("--prefix={prefix}"),
        ],
        Some(&files),
    )?;
    Ok(())
}
