//! Embeds the example stack at the repository root — its inputs, secret stores and committed
//! `out/` — for `stackc init --example homelab`, so the binary carries a stack that builds.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const PARTS: [&str; 5] = [
    "stacks.kdl",
    "templates",
    "environments",
    "manifests",
    "out",
];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let mut files = Vec::new();
    for part in PARTS {
        println!("cargo:rerun-if-changed={part}");
        collect(&root, &root.join(part), &mut files);
    }
    files.sort();
    let mut code = String::from(
        "/// Every file of the example stack: (path relative to the stack root, bytes).\n\
         pub const FILES: &[(&str, &[u8])] = &[\n",
    );
    for relative in &files {
        let _ = writeln!(
            code,
            "    ({relative:?}, include_bytes!({:?})),",
            root.join(relative).display().to_string()
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out.join("example_homelab.rs"), code).expect("write the example's index");
}

/// Every regular file under `path`, relative to `root` with `/` separators.
fn collect(root: &Path, path: &Path, out: &mut Vec<String>) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_file() {
        if let Ok(relative) = path.strip_prefix(root) {
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    } else if meta.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            collect(root, &entry.path(), out);
        }
    }
}
