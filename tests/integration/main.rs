//! Integration tests: the real `stackc` binary on real files.

mod harness;

mod build;
mod check;
mod cli_json;
mod diff;
mod errors;
mod example;
mod explain;
mod getting_started;
mod graph;
mod hook;
mod hostile_engine;
mod hostile_model;
mod hostile_render;
mod hostile_secrets;
mod incremental;
mod init;
mod mutation;
mod policy;
mod promote;
mod secrets;
