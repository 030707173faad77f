//! The light document the parser produces: nodes, entries and values with byte spans, and no
//! formatting. Its accessors mirror the part of the `kdl` crate's API that the model reads
//! (`name().value()`, `entries()`, `entry(key)`, `children()`, `iter_children()`, `span()`),
//! so the model can move from one to the other by changing its `use` lines.

use miette::SourceSpan;

/// A parsed KDL document, or the children block of a node.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub(super) nodes: Vec<Node>,
    /// The whole text for a document; `{` to `}` for a children block.
    pub(super) span: SourceSpan,
}

/// One node: `(type)name entries... { children }`. (Type annotations are rare, so they are
/// boxed: the tree is mostly nodes and entries, and their size is most of its cost.)
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub(super) ty: Option<Box<Ident>>,
    pub(super) name: Ident,
    pub(super) entries: Vec<Entry>,
    pub(super) children: Option<Document>,
    /// From the type annotation (or the name) to the last entry or the closing `}`.
    pub(super) span: SourceSpan,
}

/// An argument (no name) or a property (`name=value`).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub(super) name: Option<Ident>,
    pub(super) ty: Option<Box<Ident>>,
    pub(super) value: Value,
    /// From the property name (or type annotation, or value) to the end of the value.
    pub(super) span: SourceSpan,
}

/// A string in name position (node name, property key, type annotation), with its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub(super) value: String,
    pub(super) span: SourceSpan,
}

/// A KDL value. Integers are exact; one too large for `i128` is kept as written so the model
/// can point at it instead of the parser rejecting the whole file.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(String),
    Integer(i128),
    /// An integer literal (as written, sign, prefix and `_` included) outside `i128`.
    IntegerTooLarge(String),
    Float(f64),
    Bool(bool),
    Null,
}

impl Document {
    /// Parses a whole KDL v2 document.
    pub fn parse(text: &str) -> Result<Document, super::SyntaxError> {
        super::parser::parse(text)
    }

    /// The top-level nodes (or the nodes of a children block).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn span(&self) -> SourceSpan {
        self.span
    }
}

impl Node {
    pub fn name(&self) -> &Ident {
        &self.name
    }

    /// The `(type)` annotation before the name.
    pub fn ty(&self) -> Option<&Ident> {
        self.ty.as_deref()
    }

    /// Arguments and properties, in source order (slashdashed ones left out).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The property `key`; the last one when it is given several times, as in the `kdl` crate
    /// (and the spec: a later property overrides an earlier one).
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.name.as_ref().is_some_and(|n| n.value == key))
    }

    /// The `index`th argument (entries without a name).
    pub fn arg(&self, index: usize) -> Option<&Entry> {
        self.entries.iter().filter(|e| e.name.is_none()).nth(index)
    }

    /// The children block, if the node has one (even an empty `{}`).
    pub fn children(&self) -> Option<&Document> {
        self.children.as_ref()
    }

    /// The child nodes; empty for a node without a children block.
    pub fn iter_children(&self) -> std::slice::Iter<'_, Node> {
        self.children.as_ref().map_or([].iter(), |c| c.nodes.iter())
    }

    pub fn span(&self) -> SourceSpan {
        self.span
    }
}

impl Entry {
    /// The property name; `None` for an argument.
    pub fn name(&self) -> Option<&Ident> {
        self.name.as_ref()
    }

    /// The `(type)` annotation before the value.
    pub fn ty(&self) -> Option<&Ident> {
        self.ty.as_deref()
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    pub fn span(&self) -> SourceSpan {
        self.span
    }
}

impl Ident {
    /// The string, escapes resolved and quotes removed.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The string as written, quotes included.
    pub fn span(&self) -> SourceSpan {
        self.span
    }
}

impl Value {
    pub fn as_string(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_integer(&self) -> Option<i128> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}
