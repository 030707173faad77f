//! Integration tests: the real `stackc` binary on real files.

mod harness;

mod argocd;
mod build;
mod check;
mod check_build;
mod check_generated;
mod check_schema;
mod cli_json;
mod diff;
mod errors;
mod example;
mod explain;
mod flux;
mod getting_started;
mod graph;
mod hook;
mod hostile_engine;
mod hostile_model;
mod hostile_render;
mod hostile_secrets;
mod incremental;
mod init;
mod layout;
mod manifests;
mod migrating;
mod mutation;
mod namespaces;
mod patches;
mod promote;
mod secrets;
mod secrets_from;
mod two_cluster;
mod untouched;
