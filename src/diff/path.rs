//! Where in an object a change is: `spec.template.spec.containers[name=web].image`.
//!
//! Map keys follow a dot, or sit in `["..."]` when they hold a dot, bracket, quote or space
//! (`metadata.annotations["cert-manager.io/cluster-issuer"]`); list items are `[key=value]`
//! when matched by an identifying field and `[index]` otherwise.

use crate::yaml::double_quoted;
use std::fmt;

/// One step into a value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Segment {
    /// A map key (normalized, so that both sides name it the same way).
    Key(String),
    /// A list item matched by position.
    Index(usize),
    /// A list item matched by an identifying field (`name`, `key`, `port`, ...).
    Match { field: String, value: String },
}

/// A path from an object's root to a field.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    pub(crate) fn push(&mut self, segment: Segment) {
        self.0.push(segment);
    }

    pub(crate) fn pop(&mut self) {
        self.0.pop();
    }

    /// Whether this is the object's root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

fn key_needs_quotes(key: &str) -> bool {
    key.is_empty()
        || key.chars().any(|c| {
            matches!(c, '.' | '[' | ']' | '"' | '=') || c.is_whitespace() || c.is_control()
        })
}

fn match_value_needs_quotes(value: &str) -> bool {
    value.is_empty()
        || value
            .chars()
            .any(|c| matches!(c, '[' | ']' | '"') || c.is_whitespace() || c.is_control())
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(root)");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if key_needs_quotes(key) => {
                    write!(f, "[{}]", double_quoted(key))?;
                }
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Match { field, value } if match_value_needs_quotes(value) => {
                    write!(f, "[{field}={}]", double_quoted(value))?;
                }
                Segment::Match { field, value } => write!(f, "[{field}={value}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Segment {
        Segment::Key(k.to_string())
    }

    fn by(field: &str, value: &str) -> Segment {
        Segment::Match {
            field: field.to_string(),
            value: value.to_string(),
        }
    }

    #[test]
    fn paths_render_readably_and_unambiguously() {
        let cases = vec![
            (vec![], "(root)"),
            (vec![key("spec"), key("replicas")], "spec.replicas"),
            (
                vec![
                    key("metadata"),
                    key("annotations"),
                    key("cert-manager.io/cluster-issuer"),
                ],
                "metadata.annotations[\"cert-manager.io/cluster-issuer\"]",
            ),
            (vec![key("a.b")], "[\"a.b\"]"),
            (vec![key("")], "[\"\"]"),
            (vec![key("x"), key("say \"hi\"")], "x[\"say \\\"hi\\\"\"]"),
            (
                vec![
                    key("spec"),
                    key("containers"),
                    by("name", "web"),
                    key("image"),
                ],
                "spec.containers[name=web].image",
            ),
            (
                vec![key("ports"), by("containerPort", "8080")],
                "ports[containerPort=8080]",
            ),
            (
                vec![key("rules"), by("host", "a.b]c")],
                "rules[host=\"a.b]c\"]",
            ),
            (vec![key("args"), Segment::Index(2)], "args[2]"),
            (vec![key("labels"), key("app/name")], "labels.app/name"),
        ];
        for (segments, expected) in cases {
            assert_eq!(FieldPath(segments).to_string(), expected);
        }
    }
}
