//! stackc: a compiler from `stacks.kdl` to rendered, SOPS-sealed GitOps manifest trees.
//!
//! The modules mirror the pipeline: `model` (parse) -> `resolve` (layering) -> `render`
//! (templates) -> `seal` (SOPS + age) -> `emit` (the out/ tree), with `cache`, `diff` and
//! `cli` beside them.

pub mod value;
pub mod yaml;
pub mod diagnostics;
pub mod source;
pub mod cli;
pub mod object;
pub mod model;
pub mod resolve;
pub mod render;
pub mod emit;
pub mod build;

/// The cache folder under the stack root (gitignored; safe to delete at any time).
pub const CACHE_DIR: &str = ".stackc-cache";
pub mod diff;
pub mod cache;
