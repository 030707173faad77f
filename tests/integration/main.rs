//! Integration tests: the real `stackc` binary on real files.

mod harness;

mod build;
mod errors;
mod explain;
mod secrets;
