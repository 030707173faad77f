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
pub mod seal;
