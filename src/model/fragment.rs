//! One top-level declaration of `stacks.kdl`, as the parser hands it to the model. Runs of
//! declarations are parsed side by side and put back together in file order.

use super::{Environment, Layer, Project, SecretDecl, Service, Settings};
use crate::source::Span;
use serde::{Deserialize, Serialize};

/// One top-level declaration of `stacks.kdl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Item {
    Project(Project),
    Layer(Layer),
    /// The `defaults` block and the span of its node (a second one is a duplicate).
    Defaults(Settings, Span),
    Environment(Environment),
    Secret(SecretDecl),
    Service(Service),
    /// `gitops ...`: a second one is a duplicate.
    GitOps(super::GitOps),
    Namespace(super::namespaces::NamespaceDecl),
}
