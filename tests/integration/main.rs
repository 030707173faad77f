//! Integration tests: the real `stackc` binary on real files.

mod harness;

mod build;
mod diff;
mod errors;
mod example;
mod explain;
mod hostile_model;
mod incremental;
mod mutation;
mod secrets;
