//! `patch kind="HelmRelease" name="authentik" { ... }`: a change to one object a service
//! renders, declared per environment (in an `environment` block, in a service's `env` block,
//! or in `environments/<env>.kdl`), so that fields outside `values` (a `HelmRelease`'s
//! `releaseName`, `interval`, `test`) differ per environment without editing templates.
//!
//! A patch's children are either a deep merge (any nodes, read like `values`: maps merge,
//! lists replace, `#null` removes) or a JSON6902 list of `op` nodes for what a merge cannot
//! say. Only the syntax is checked here; whether the target and paths exist is known once the
//! objects are rendered.

use super::parse::Parser;
use super::syntax::{Node as KdlNode, Value as KdlValue};
use super::{ModelError, Named, Tracked};
use crate::source::Span;
use crate::value::Value;
use serde::{Deserialize, Serialize};

/// One declared patch.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Patch {
    pub target: PatchTarget,
    pub body: PatchBody,
    pub span: Span,
}

/// Which objects a patch applies to: kind and name, optionally apiVersion and namespace.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PatchTarget {
    pub kind: Named,
    pub name: Named,
    pub api_version: Option<Named>,
    pub namespace: Option<Named>,
}

impl PatchTarget {
    /// `HelmRelease authentik` (with `apps/v1` or `ns/` when given), for messages.
    pub fn describe(&self) -> String {
        let mut text = self.kind.value.clone();
        if let Some(api) = &self.api_version {
            text = format!("{} {text}", api.value);
        }
        match &self.namespace {
            Some(ns) => format!("{text} {}/{}", ns.value, self.name.value),
            None => format!("{text} {}", self.name.value),
        }
    }
}

/// What a patch does.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum PatchBody {
    /// A tree merged into the object, with the same rules as values.
    Merge(Tracked),
    /// RFC 6902 operations, applied in order.
    Json(Vec<PatchOp>),
}

/// One RFC 6902 operation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PatchOp {
    pub op: OpKind,
    pub path: Pointer,
    /// The source of `move` and `copy`.
    pub from: Option<Pointer>,
    /// The value of `add`, `replace` and `test`.
    pub value: Option<Tracked>,
    pub span: Span,
}

/// The six operations RFC 6902 defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
    Move,
    Copy,
    Test,
}

impl OpKind {
    const NAMES: [&'static str; 6] = ["add", "remove", "replace", "move", "copy", "test"];

    /// The operation's name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
            OpKind::Move => "move",
            OpKind::Copy => "copy",
            OpKind::Test => "test",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "add" => OpKind::Add,
            "remove" => OpKind::Remove,
            "replace" => OpKind::Replace,
            "move" => OpKind::Move,
            "copy" => OpKind::Copy,
            "test" => OpKind::Test,
            _ => return None,
        })
    }
}

/// A JSON pointer (RFC 6901), as written and split into unescaped reference tokens.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pointer {
    pub text: Named,
    pub tokens: Vec<String>,
}

impl Pointer {
    /// Splits `/a/b~1c/0` into `a`, `b/c`, `0`; `None` names what is wrong.
    pub fn parse(text: &str) -> Result<Vec<String>, &'static str> {
        if text.is_empty() {
            return Err("the empty pointer names the whole object, which a patch cannot replace");
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err("a JSON pointer starts with `/`");
        };
        rest.split('/')
            .map(|token| {
                let mut out = String::with_capacity(token.len());
                let mut chars = token.chars();
                while let Some(c) = chars.next() {
                    if c == '~' {
                        match chars.next() {
                            Some('0') => out.push('~'),
                            Some('1') => out.push('/'),
                            _ => return Err("`~` must be followed by 0 (for `~`) or 1 (for `/`)"),
                        }
                    } else {
                        out.push(c);
                    }
                }
                Ok(out)
            })
            .collect()
    }
}

const PATCH_PROPS: &[&str] = &["kind", "name", "api-version", "namespace"];

impl Parser<'_> {
    /// `patch kind=".." name=".." [api-version=".."] [namespace=".."] { merge or ops }`.
    pub(super) fn patch(&mut self, node: &KdlNode) -> Option<Patch> {
        self.shape_with_children(node, 0, PATCH_PROPS)?;
        let span = self.span(node.span());
        let kind = self.string_prop(node, "kind");
        let name = self.string_prop(node, "name");
        let api_version = self.string_prop(node, "api-version");
        let namespace = self.string_prop(node, "namespace");
        let (Some(kind), Some(name)) = (kind, name) else {
            self.errors.push(ModelError::Missing {
                node: "patch".into(),
                what: "`kind` and `name` properties".into(),
                src: self.src(),
                span: self.at(node.name().span()),
                help: Some(
                    "`patch kind=\"HelmRelease\" name=\"authentik\" { spec { interval \"10m\" } }`"
                        .into(),
                ),
            });
            return None;
        };
        let children: Vec<&KdlNode> = node.iter_children().collect();
        if children.is_empty() {
            self.errors.push(ModelError::Missing {
                node: "patch".into(),
                what: "a block of fields to merge or `op` nodes".into(),
                src: self.src(),
                span: self.at(node.span()),
                help: None,
            });
            return None;
        }
        let ops = children.iter().filter(|c| c.name().value() == "op").count();
        let body = if ops == 0 {
            PatchBody::Merge(self.free_map(node))
        } else if ops == children.len() {
            let mut list = Vec::new();
            for child in children {
                list.extend(self.patch_op(child));
            }
            PatchBody::Json(list)
        } else {
            let other = children
                .iter()
                .find(|c| c.name().value() != "op")
                .map_or(node.span(), |c| c.name().span());
            self.errors.push(ModelError::Invalid {
                message: "a patch is either fields to merge or a list of `op` nodes, not both"
                    .into(),
                src: self.src(),
                span: self.at(other),
                label: "a merge field among `op` nodes".into(),
                help: Some(
                    "write two `patch` nodes for the same object: one merge, one list of ops"
                        .into(),
                ),
            });
            return None;
        };
        Some(Patch {
            target: PatchTarget {
                kind,
                name,
                api_version,
                namespace,
            },
            body,
            span,
        })
    }

    /// `op "replace" path="/spec/x" value=1`, `op "move" from="/a" path="/b"`, or a value
    /// of any shape as a child: `op "add" path="/spec/x" { value { a 1 } }`.
    fn patch_op(&mut self, node: &KdlNode) -> Option<PatchOp> {
        self.shape_with_children(node, 1, &["path", "from", "value"])?;
        let span = self.span(node.span());
        let name = self.string_arg(node, 0, "operation")?;
        let Some(op) = OpKind::parse(&name.value) else {
            self.errors.push(ModelError::Invalid {
                message: format!("`{}` is not a JSON6902 operation", name.value),
                src: self.src(),
                span: name.span.source_span(),
                label: "unknown operation".into(),
                help: crate::diagnostics::did_you_mean(&name.value, OpKind::NAMES)
                    .or_else(|| Some(format!("operations: {}", OpKind::NAMES.join(", ")))),
            });
            return None;
        };
        let Some(path) = self.string_prop(node, "path") else {
            self.missing_prop(node, "path");
            return None;
        };
        let path = self.pointer(path)?;
        let from = match self.string_prop(node, "from") {
            Some(from) => Some(self.pointer(from)?),
            None => None,
        };
        let value = self.op_value(node);
        let wants_value = matches!(op, OpKind::Add | OpKind::Replace | OpKind::Test);
        let wants_from = matches!(op, OpKind::Move | OpKind::Copy);
        if wants_value && value.is_none() {
            self.missing_prop(node, "value");
            return None;
        }
        if wants_from && from.is_none() {
            self.missing_prop(node, "from");
            return None;
        }
        let stray = if wants_value {
            None
        } else {
            value.as_ref().map(|v| ("value", v.span))
        }
        .or_else(|| {
            if wants_from {
                None
            } else {
                from.as_ref().map(|f| ("from", f.text.span))
            }
        });
        if let Some((what, at)) = stray {
            self.errors.push(ModelError::Invalid {
                message: format!("`{}` takes no `{what}`", op.as_str()),
                src: self.src(),
                span: at.source_span(),
                label: format!("not used by `{}`", op.as_str()),
                help: None,
            });
            return None;
        }
        Some(PatchOp {
            op,
            path,
            from,
            value,
            span,
        })
    }

    fn missing_prop(&mut self, node: &KdlNode, prop: &str) {
        self.errors.push(ModelError::Missing {
            node: "op".into(),
            what: format!("a `{prop}` property"),
            src: self.src(),
            span: self.at(node.span()),
            help: Some("`op \"replace\" path=\"/spec/interval\" value=\"10m\"`; `op \"move\" from=\"/a\" path=\"/b\"`".into()),
        });
    }

    fn pointer(&mut self, text: Named) -> Option<Pointer> {
        match Pointer::parse(&text.value) {
            Ok(tokens) => Some(Pointer { text, tokens }),
            Err(reason) => {
                self.errors.push(ModelError::Invalid {
                    message: format!("`{}` is not a JSON pointer: {reason}", text.value),
                    src: self.src(),
                    span: text.span.source_span(),
                    label: "not a JSON pointer".into(),
                    help: Some("a pointer names a field by its path: `/spec/containers/0/image`; `-` appends to a list".into()),
                });
                None
            }
        }
    }

    /// `value=<scalar>`, or a `value` child read like `values` (a map, a list, a scalar).
    fn op_value(&mut self, node: &KdlNode) -> Option<Tracked> {
        if let Some(entry) = node.entry("value") {
            let span = self.span(entry.span());
            let value = match entry.value() {
                KdlValue::String(s) => Value::from(s.as_str()),
                KdlValue::Integer(i) => match i64::try_from(*i) {
                    Ok(i) => Value::Int(i),
                    Err(_) => {
                        self.wrong_type(
                            "value",
                            "an integer that fits in 64 bits",
                            entry.value(),
                            span,
                        );
                        return None;
                    }
                },
                KdlValue::Float(f) if f.is_finite() => Value::Float(*f),
                KdlValue::Bool(b) => Value::Bool(*b),
                KdlValue::Null => Value::Null,
                other => {
                    self.wrong_type("value", "a string, number, boolean or #null", other, span);
                    return None;
                }
            };
            return Some(Tracked::scalar(value, span));
        }
        node.children()?;
        let super::TrackedValue::Map(mut entries) = self.free_map(node).value else {
            return None;
        };
        let value = entries.shift_remove("value");
        if let Some((key, extra)) = entries.first() {
            self.errors.push(ModelError::Invalid {
                message: format!("`{key}` is not part of an `op`"),
                src: self.src(),
                span: extra.span.source_span(),
                label: "only a `value` child belongs here".into(),
                help: None,
            });
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::Pointer;

    #[test]
    fn pointers_unescape_and_refuse_bad_syntax() {
        let ok: &[(&str, &[&str])] = &[
            ("/spec/x", &["spec", "x"]),
            ("/a~1b/c~0d", &["a/b", "c~d"]),
            ("/~01", &["~1"]),
            ("/list/-", &["list", "-"]),
            ("/", &[""]),
        ];
        for (text, tokens) in ok {
            let parsed = Pointer::parse(text).expect("a valid pointer");
            assert_eq!(parsed, *tokens, "{text}");
        }
        for bad in ["", "spec/x", "/a~2", "/a~"] {
            assert!(Pointer::parse(bad).is_err(), "{bad}");
        }
    }
}
