//! What can go wrong applying a patch to rendered objects. Every error points at the patch
//! in the user's KDL; a type clash also points at the document that rendered the object.

use miette::{Diagnostic, NamedSource, SourceSpan};
use std::sync::Arc;
use thiserror::Error;

type Src = NamedSource<Arc<str>>;

/// A patch problem, naming the environment (and service) it happened in.
#[derive(Debug, Error, Diagnostic)]
pub enum PatchError {
    #[error("patch of {target} matches no object {scope}")]
    #[diagnostic(code(stackc::render::patch_no_match))]
    NoMatch {
        target: String,
        scope: String,
        #[source_code]
        src: Src,
        #[label("matches nothing")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("patch of {object} ({unit}): `{path}` is {upper_type} in the patch but {lower_type} in the object")]
    #[diagnostic(
        code(stackc::render::patch_type_clash),
        help("a patch merges like values: maps merge with maps, lists and scalars replace each other; use #null to remove the field first, or a JSON6902 `op \"replace\"`")
    )]
    TypeClash {
        object: String,
        unit: String,
        path: String,
        upper_type: &'static str,
        lower_type: &'static str,
        #[source_code]
        src: Src,
        #[label("{upper_type} set here")]
        span: SourceSpan,
        #[related]
        object_at: Vec<ObjectDocument>,
    },

    #[error("patch of {object} ({unit}): `op \"{op}\"` failed: {reason}")]
    #[diagnostic(code(stackc::render::patch_op_failed))]
    OpFailed {
        object: String,
        unit: String,
        op: &'static str,
        reason: String,
        #[source_code]
        src: Src,
        #[label("this operation")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("patch of {object} ({unit}): an adopted SOPS Secret cannot be patched")]
    #[diagnostic(
        code(stackc::render::patch_sealed_secret),
        help("its values and MAC are sealed together; change it with `sops edit` in the manifest file instead")
    )]
    SealedSecret {
        object: String,
        unit: String,
        #[source_code]
        src: Src,
        #[label("patches a SOPS-encrypted Secret")]
        span: SourceSpan,
    },
}

/// The other half of a [`PatchError::TypeClash`]: where the object was rendered.
#[derive(Debug, Error, Diagnostic)]
#[error("the object's {lower_type} comes from this document")]
#[diagnostic(severity(Advice))]
pub struct ObjectDocument {
    pub lower_type: &'static str,
    #[source_code]
    pub src: Src,
    #[label("{lower_type} rendered here")]
    pub span: SourceSpan,
}
