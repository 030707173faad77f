//! The output edge: lay out each environment's files, compare them with `out/`, and apply a
//! build's plan (the only place a build writes).

mod apply;
mod layout;
mod placement;
mod write;

pub use apply::{apply, Applied, EnvPlan, Plan};
pub use layout::{layout, namespace_path, secret_path, Content, EnvLayout, Files, INDEX_FILE};
pub use placement::{layer_plan, namespace_homes};
pub use write::{
    compare, index_bytes, load_index, read_index, EnvChanges, Index, NoMemory, WrittenBefore,
};
