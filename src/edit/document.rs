//! One KDL file, parsed with the `kdl` crate (whose document model keeps formatting and
//! comments), and the one edit `promote` needs: set a setting's value for a service, in
//! `environments/<env>.kdl` (creating the `service` block and the setting's nodes when they
//! are missing) or in a service's `env "<name>"` block in `stacks.kdl`.

use kdl::{KdlDocument, KdlDocumentFormat, KdlEntry, KdlNode, KdlValue};
use miette::Diagnostic;
use thiserror::Error;

/// An edit that cannot be made.
#[derive(Debug, Error, Diagnostic)]
pub enum EditError {
    #[error("{file} is not valid KDL: {message}")]
    #[diagnostic(
        code(stackc::edit::syntax),
        help("fix the file first; nothing was changed")
    )]
    Syntax { file: String, message: String },

    #[error("{file} has no {what}")]
    #[diagnostic(code(stackc::edit::missing_block))]
    MissingBlock { file: String, what: String },

    #[error("`{path}` in {file} is set by a node stackc cannot edit in place ({reason})")]
    #[diagnostic(
        code(stackc::edit::unsupported),
        help("edit the value by hand; nothing was changed")
    )]
    Unsupported {
        file: String,
        path: String,
        reason: String,
    },
}

/// Where in a file a service's settings are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// `service "<name>" { ... }` at the top of an overlay file (created when missing).
    OverlayService(String),
    /// `service "<name>" { env "<env>" { ... } }` in `stacks.kdl` (must exist).
    EnvBlock { service: String, env: String },
}

/// A KDL file being edited.
pub struct KdlFile {
    name: String,
    original: String,
    doc: KdlDocument,
}

impl KdlFile {
    /// Parses `text` (`name` is for messages); an empty text is an empty document.
    pub fn parse(name: &str, text: &str) -> Result<Self, EditError> {
        // A last node without a newline would run into a node appended after it.
        let mut source = text.to_string();
        if !source.is_empty() && !source.ends_with('\n') {
            source.push('\n');
        }
        let doc = source
            .parse::<KdlDocument>()
            .map_err(|e| EditError::Syntax {
                file: name.to_string(),
                message: e
                    .diagnostics
                    .first()
                    .and_then(|d| d.message.clone())
                    .unwrap_or_else(|| "invalid KDL".to_string()),
            })?;
        Ok(KdlFile {
            name: name.to_string(),
            original: text.to_string(),
            doc,
        })
    }

    /// The file's text as read.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// The file's text now.
    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    /// Sets `path` (KDL node names: `["image", "tag"]`, `["values", "app", "version"]`) to
    /// `value` in `scope`.
    pub fn set(
        &mut self,
        scope: &Scope,
        path: &[String],
        value: &KdlValue,
    ) -> Result<(), EditError> {
        let name = self.name.clone();
        let unsupported = |reason: &str| EditError::Unsupported {
            file: name.clone(),
            path: path.join("."),
            reason: reason.to_string(),
        };
        let (block, depth) = match scope {
            Scope::OverlayService(service) => {
                let node = ensure_child(&mut self.doc, "service", Some(service), 0, true)?;
                (children(node, 1), 1)
            }
            Scope::EnvBlock { service, env } => {
                let missing = || EditError::MissingBlock {
                    file: name.clone(),
                    what: format!("`env \"{env}\"` block in service `{service}`"),
                };
                let node = find_mut(&mut self.doc, "service", Some(service)).ok_or_else(missing)?;
                let kids = node.children_mut().as_mut().ok_or_else(missing)?;
                let env_node = find_mut(kids, "env", Some(env)).ok_or_else(missing)?;
                (children(env_node, 2), 2)
            }
        };
        let (last, parents) = path
            .split_last()
            .ok_or_else(|| unsupported("an empty path"))?;
        let Some((leaf_parent, through)) = parents.split_last() else {
            // The leaf sits directly in the block (`replicas 3`).
            if let Some(node) = find_mut(block, last, None) {
                return set_arg(node, value).ok_or_else(|| unsupported("it is not a single value"));
            }
            let indent = indent_of(block, depth);
            block
                .nodes_mut()
                .push(snippet(&format!("{last} {}\n", repr(value)), &indent)?);
            return Ok(());
        };
        let mut doc = block;
        let mut level = depth;
        for segment in through {
            let node = ensure_child(doc, segment, None, level, true)?;
            if holds_value(node) {
                return Err(unsupported(&format!(
                    "`{segment}` holds a value, not settings"
                )));
            }
            level += 1;
            doc = children(node, level);
        }
        let node = ensure_child(doc, leaf_parent, None, level, false)?;
        // A setting node takes properties beside its argument (`image "nginx" tag="1.27"`); a
        // node inside `values` that holds a value cannot also hold a map.
        if level > depth && holds_value(node) {
            return Err(unsupported(&format!(
                "`{leaf_parent}` holds a value, not settings"
            )));
        }
        set_leaf(node, last, value, level + 1)
            .ok_or_else(|| unsupported("it is not a single value"))
    }
}

/// Whether a node is a value (`key 1`) rather than a map of settings.
fn holds_value(node: &KdlNode) -> bool {
    node.entries().iter().any(|e| e.name().is_none()) && node.children().is_none()
}

/// The child node `name` (with first argument `arg`) of `doc`, appended when missing; `depth`
/// is the nesting of `doc`'s nodes (for the indentation of a new one).
fn ensure_child<'d>(
    doc: &'d mut KdlDocument,
    name: &str,
    arg: Option<&str>,
    depth: usize,
    with_block: bool,
) -> Result<&'d mut KdlNode, EditError> {
    if find(doc, name, arg).is_none() {
        let indent = indent_of(doc, depth);
        let head = match arg {
            Some(arg) => format!("{name} {}", kdl_string(arg)),
            None => name.to_string(),
        };
        let mut node = snippet(&format!("{head}\n"), &indent)?;
        // A new top-level block is set off from what is above it by a blank line.
        if depth == 0 && !doc.nodes().is_empty() {
            if let Some(format) = node.format_mut() {
                format.leading = format!("\n{indent}");
            }
        }
        if with_block {
            node.set_children(empty_block(&indent));
            if let Some(format) = node.format_mut() {
                format.before_children = " ".into();
            }
        }
        doc.nodes_mut().push(node);
    }
    find_mut(doc, name, arg).ok_or_else(|| EditError::MissingBlock {
        file: "<generated>".into(),
        what: format!("`{name}` node"),
    })
}

/// Sets the entry `key` of `node`: its property, its child node's argument, a new child
/// node (when the node has a children block) or a new property.
fn set_leaf(node: &mut KdlNode, key: &str, value: &KdlValue, depth: usize) -> Option<()> {
    if let Some(entry) = node.entry_mut(key) {
        set_entry(entry, value);
        return Some(());
    }
    if let Some(kids) = node.children_mut() {
        if let Some(child) = find_mut(kids, key, None) {
            return set_arg(child, value);
        }
        let indent = indent_of(kids, depth);
        kids.nodes_mut()
            .push(snippet(&format!("{key} {}\n", repr(value)), &indent).ok()?);
        return Some(());
    }
    let mut entry = KdlEntry::new_prop(key, value.clone());
    if let Some(format) = entry.format_mut() {
        format.value_repr = repr(value);
    }
    node.push(entry);
    Some(())
}

/// Sets the single argument of `node` (`replicas 3`, `version "1.2"`).
fn set_arg(node: &mut KdlNode, value: &KdlValue) -> Option<()> {
    let args: Vec<usize> = node
        .entries()
        .iter()
        .enumerate()
        .filter(|(_, e)| e.name().is_none())
        .map(|(i, _)| i)
        .collect();
    match args.as_slice() {
        [index] if node.children().is_none() => {
            set_entry(&mut node.entries_mut()[*index], value);
            Some(())
        }
        _ => None,
    }
}

fn set_entry(entry: &mut KdlEntry, value: &KdlValue) {
    entry.set_value(value.clone());
    match entry.format_mut() {
        Some(format) => format.value_repr = repr(value),
        None => entry.autoformat(),
    }
}

/// The children of `node`, creating an empty block (on its own lines) when it has none.
fn children(node: &mut KdlNode, depth: usize) -> &mut KdlDocument {
    if node.children().is_none() {
        node.set_children(empty_block(&"    ".repeat(depth.saturating_sub(1))));
        if let Some(format) = node.format_mut() {
            format.before_children = " ".into();
        }
    }
    node.ensure_children()
}

/// `{` newline ... `indent}`: an empty block whose closing brace lines up with its node.
fn empty_block(indent: &str) -> KdlDocument {
    let mut block = KdlDocument::new();
    block.set_format(KdlDocumentFormat {
        leading: "\n".into(),
        trailing: indent.to_string(),
    });
    block
}

fn find<'d>(doc: &'d KdlDocument, name: &str, arg: Option<&str>) -> Option<&'d KdlNode> {
    doc.nodes()
        .iter()
        .find(|n| n.name().value() == name && arg.is_none_or(|a| first_arg(n) == Some(a)))
}

fn find_mut<'d>(
    doc: &'d mut KdlDocument,
    name: &str,
    arg: Option<&str>,
) -> Option<&'d mut KdlNode> {
    doc.nodes_mut()
        .iter_mut()
        .find(|n| n.name().value() == name && arg.is_none_or(|a| first_arg(n) == Some(a)))
}

fn first_arg(node: &KdlNode) -> Option<&str> {
    node.entries()
        .iter()
        .find(|e| e.name().is_none())
        .and_then(|e| e.value().as_string())
}

/// The indentation for a node added to `doc`: its last node's, else four spaces a level.
fn indent_of(doc: &KdlDocument, depth: usize) -> String {
    doc.nodes()
        .last()
        .and_then(KdlNode::format)
        .map(|f| f.leading.rsplit('\n').next().unwrap_or("").to_string())
        .filter(|indent| indent.chars().all(char::is_whitespace))
        .unwrap_or_else(|| "    ".repeat(depth))
}

/// A node from text, indented by `indent` (nested lines of the text are indented too).
fn snippet(text: &str, indent: &str) -> Result<KdlNode, EditError> {
    let indented: String = text
        .split_inclusive('\n')
        .enumerate()
        .map(|(i, line)| {
            if i == 0 || line.trim().is_empty() {
                line.to_string()
            } else {
                format!("{indent}{line}")
            }
        })
        .collect();
    let doc: KdlDocument = indented.parse().map_err(|_| EditError::Unsupported {
        file: "<generated>".into(),
        path: text.trim().to_string(),
        reason: "the new node is not valid KDL".into(),
    })?;
    let mut node = doc
        .nodes()
        .first()
        .cloned()
        .ok_or_else(|| EditError::Unsupported {
            file: "<generated>".into(),
            path: text.trim().to_string(),
            reason: "no node".into(),
        })?;
    if let Some(format) = node.format_mut() {
        format.leading = indent.to_string();
        format.terminator = "\n".into();
    }
    Ok(node)
}

/// How a value is written: strings always quoted (the style of stackc's docs).
fn repr(value: &KdlValue) -> String {
    match value {
        KdlValue::String(s) => kdl_string(s),
        other => other.to_string(),
    }
}

/// A KDL v2 quoted string.
pub fn kdl_string(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(str::to_string).collect()
    }

    #[test]
    fn an_existing_property_changes_and_every_comment_stays() {
        let text = "// staging\nservice \"web\" {\n    // pinned\n    image \"nginx\" tag=\"1.27\" // why\n}\n";
        let mut file = KdlFile::parse("staging.kdl", text).unwrap();
        let scope = Scope::OverlayService("web".into());
        file.set(&scope, &path("image.tag"), &KdlValue::String("1.28".into()))
            .unwrap();
        assert_eq!(
            file.text(),
            "// staging\nservice \"web\" {\n    // pinned\n    image \"nginx\" tag=\"1.28\" // why\n}\n"
        );
    }

    #[test]
    fn missing_blocks_and_nodes_are_created_in_the_file_s_style() {
        let mut file = KdlFile::parse("e.kdl", "// top\nreplicas 2\n").unwrap();
        let scope = Scope::OverlayService("web".into());
        file.set(&scope, &path("image.tag"), &KdlValue::String("1.28".into()))
            .unwrap();
        file.set(
            &scope,
            &path("values.app.version"),
            &KdlValue::String("2".into()),
        )
        .unwrap();
        file.set(
            &scope,
            &path("chart.version"),
            &KdlValue::String("3.1".into()),
        )
        .unwrap();
        assert_eq!(
            file.text(),
            "// top\nreplicas 2\n\nservice \"web\" {\n    image tag=\"1.28\"\n    values {\n        app version=\"2\"\n    }\n    chart version=\"3.1\"\n}\n"
        );
        let reparsed: KdlDocument = file.text().parse().unwrap();
        assert_eq!(reparsed.nodes().len(), 2);
    }

    #[test]
    fn a_child_node_value_and_an_env_block_are_edited_in_place() {
        let text = "service \"web\" layer=\"apps\" {\n    env \"staging\" {\n        values {\n            app { version \"1\" }\n        }\n    }\n}\n";
        let mut file = KdlFile::parse("stacks.kdl", text).unwrap();
        let scope = Scope::EnvBlock {
            service: "web".into(),
            env: "staging".into(),
        };
        file.set(
            &scope,
            &path("values.app.version"),
            &KdlValue::String("2".into()),
        )
        .unwrap();
        assert_eq!(file.text(), text.replace("\"1\"", "\"2\""));
        let missing = Scope::EnvBlock {
            service: "web".into(),
            env: "production".into(),
        };
        assert!(matches!(
            file.set(&missing, &path("image.tag"), &KdlValue::String("x".into())),
            Err(EditError::MissingBlock { .. })
        ));
    }

    #[test]
    fn strings_are_quoted_and_escaped() {
        assert_eq!(kdl_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u{1}\"");
    }
}
