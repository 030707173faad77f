//! Where every resolved value came from: for each leaf path, every layer that set it, lowest
//! first. `explain` prints it; diagnostics about a value point at its last origin.

use super::{join, LayerLabel};
use crate::model::{Tracked, TrackedValue};
use crate::source::Span;
use crate::value::Value;
use std::collections::BTreeMap;

/// One layer's contribution to a value.
#[derive(Clone, Debug, PartialEq)]
pub struct Origin {
    pub layer: LayerLabel,
    pub span: Span,
    pub value: Value,
}

/// Leaf path (`resources.limits.cpu`) to the layers that set it, lowest first. Lists are
/// leaves: they replace, so their history is of whole lists.
#[derive(Clone, Debug, Default)]
pub struct Provenance {
    pub paths: BTreeMap<String, Vec<Origin>>,
}

impl Provenance {
    /// Records every leaf that `layer` sets.
    pub fn record(&mut self, layer: &LayerLabel, tree: &Tracked) {
        self.walk(layer, tree, "");
    }

    fn walk(&mut self, layer: &LayerLabel, tree: &Tracked, path: &str) {
        match &tree.value {
            TrackedValue::Map(entries) => {
                for (key, child) in entries {
                    self.walk(layer, child, &join(path, key));
                }
            }
            _ => {
                let origins = self.paths.entry(path.to_string()).or_default();
                // A value that replaces a map hides the map's leaves: record the replacement
                // on each hidden leaf too, so their history ends where they were overridden.
                origins.push(Origin {
                    layer: layer.clone(),
                    span: tree.span,
                    value: tree.to_value(),
                });
                let prefix = format!("{path}.");
                let hidden: Vec<String> = self
                    .paths
                    .keys()
                    .filter(|k| k.starts_with(&prefix))
                    .cloned()
                    .collect();
                for key in hidden {
                    if let Some(list) = self.paths.get_mut(&key) {
                        list.push(Origin {
                            layer: layer.clone(),
                            span: tree.span,
                            value: tree.to_value(),
                        });
                    }
                }
            }
        }
    }

    /// The origins of every leaf at or under `prefix` (all leaves when empty).
    pub fn under<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Vec<Origin>)> + 'a {
        self.paths.iter().filter(move |(path, _)| {
            prefix.is_empty() || path.as_str() == prefix || path.starts_with(&format!("{prefix}."))
        })
    }
}
