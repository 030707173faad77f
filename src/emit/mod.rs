//! The output edge: lay out each environment's files, compare them with `out/`, and apply a
//! build's plan (the only place a build writes).

mod absent;
mod apply;
pub mod roots;
mod write;

pub use crate::layout::{Content, Files, Hashed, INDEX_FILE};
pub use absent::Absent;
pub use apply::{abandon, apply, open_tree, save_caches, Applied, EnvPlan, Plan};
pub use write::{
    compare, index_file, load_index, read_index, EnvChanges, Index, NoMemory, Written,
    WrittenBefore,
};
