//! stackc: a compiler from `stacks.kdl` to rendered, SOPS-sealed `GitOps` manifest trees.
//!
//! The modules mirror the pipeline: `model` (parse) -> `resolve` (layering) -> `render`
//! (templates) -> `seal` (SOPS + age) -> `emit` (the out/ tree, its paths decided by `layout`), with `build` (the engine that
//! runs them), `cache`, `diff` and `cli` beside them.

pub mod build;
pub mod cache;
pub mod check;
pub mod cli;
pub mod diagnostics;
pub mod diff;
pub mod edit;
pub mod emit;
pub mod fs;
pub mod graph;
pub mod hook;
pub mod init;
pub mod layout;
pub mod memory;
pub mod model;
pub mod object;
pub mod policy;
pub mod promote;
pub mod render;
pub mod resolve;
pub mod seal;
pub mod source;
pub mod timings;
pub mod value;
pub mod yaml;

/// The cache folder under the stack root (gitignored; safe to delete at any time).
pub const CACHE_DIR: &str = ".stackc-cache";
