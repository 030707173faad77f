//! The output edge: lay out each environment's files and bring `out/` to them.

mod layout;
mod placement;
mod write;

pub use layout::{layout, namespace_path, secret_path, Content, EnvLayout, Files, INDEX_FILE};
pub use placement::{layer_plan, namespace_homes};
pub use write::{
    apply, compare, index_bytes, load_index, read_index, write_atomic, EnvChanges, Index, NoMemory,
    WrittenBefore,
};
