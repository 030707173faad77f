//! The `seal` stage: SOPS-format encryption with age, compatible byte for byte with what
//! `sops` writes, so `sops -d`, `sops edit` and Flux's kustomize-controller read our files.
//!
//! - [`plaintext`]: the [`Plaintext`] wrapper every secret lives in.
//! - [`cipher`]: one value <-> `ENC[AES256_GCM,...]`.
//! - [`rule`]: which leaves a file encrypts.
//! - [`tree`]: documents whose secret leaves are typed as secret.
//! - [`metadata`], [`sops`]: whole SOPS files: parse, decrypt and verify, encrypt, rekey.
//! - [`recipient`], [`identity`], [`keyfile`]: age recipients, identity discovery, key files.
//! - [`store`]: the per-environment secret store `environments/<env>.secrets.sops.yaml`.
//! - [`manifest`]: sealing one Kubernetes Secret manifest per declared secret, without churn.
//! - [`environment`]: sealing every declared secret of one environment of a stack.
//! - [`scan`]: whether a file's bytes hold a plaintext Secret or an unencrypted store (the
//!   pre-commit hook and `stackc check`).

pub mod cipher;
pub mod environment;
pub mod error;
pub mod identity;
pub mod keyfile;
pub mod manifest;
pub mod metadata;
pub mod plaintext;
pub mod recipient;
pub mod rule;
pub mod scan;
pub mod sops;
pub mod store;
pub mod tree;

pub use error::SealError;
pub use identity::Identities;
pub use keyfile::{append_private, keygen, NewKey};
pub use manifest::{
    bootstrap_secret, fill_generated, seal_secret, KeyPlan, KeySource, SealEnv, SecretPlan,
};
pub use plaintext::Plaintext;
pub use recipient::Recipients;
pub use rule::Rule;
pub use sops::{encrypt, rekey, Opened, SopsFile};
pub use store::{store_path, OpenStore, Store};
pub use tree::Node;

#[cfg(test)]
pub(crate) mod testutil;
