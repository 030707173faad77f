//! Settings: the layered values of `defaults`, `environment`, `service`, `env` blocks and
//! overlays. Typed settings (`replicas 3`, `resources cpu="100m"`) and the free-form `values`
//! block all become one [`Tracked`] tree whose every node keeps its span, so that layering can
//! say which `file:line` set each value.

use super::parse::Parser;
use super::syntax::{Entry as KdlEntry, Node as KdlNode, Value as KdlValue};
use super::{ModelError, Settings};
use crate::source::Span;
use crate::value::{Map, MapHasher, Value};
use indexmap::IndexMap;

/// A value with the span that set it, at every level.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tracked {
    pub value: TrackedValue,
    pub span: Span,
}

/// A map of tracked values, in the order they were written.
pub type TrackedMap = IndexMap<String, Tracked, MapHasher>;

/// The shape of a [`Tracked`] value.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum TrackedValue {
    Scalar(#[serde(with = "scalar_serde")] Value),
    List(Vec<Tracked>),
    Map(TrackedMap),
}

impl Tracked {
    /// A scalar set at `span`.
    pub fn scalar(value: Value, span: Span) -> Self {
        Tracked {
            value: TrackedValue::Scalar(value),
            span,
        }
    }

    /// A map set at `span`.
    pub fn map(entries: TrackedMap, span: Span) -> Self {
        Tracked {
            value: TrackedValue::Map(entries),
            span,
        }
    }

    /// The plain value, spans dropped.
    pub fn to_value(&self) -> Value {
        match &self.value {
            TrackedValue::Scalar(v) => v.clone(),
            TrackedValue::List(items) => Value::List(items.iter().map(Tracked::to_value).collect()),
            TrackedValue::Map(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect::<Map>(),
            ),
        }
    }

    /// What kind of value this is, for type-clash messages.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            TrackedValue::Scalar(v) => v.type_name(),
            TrackedValue::List(_) => "list",
            TrackedValue::Map(_) => "map",
        }
    }
}

/// The setting nodes, as written in KDL (the policy's are in model/policy.rs).
pub const SETTING_NODES: &[&str] = &[
    "replicas",
    "resources",
    "anti-affinity",
    "debug",
    "image",
    "chart",
    "persistence",
    "port",
    "ingress",
    "tcp-route",
    "policy",
    "values",
];

/// Every setting node: [`SETTING_NODES`] and the environment policy's
/// ([`super::policy::POLICY_NODES`], parsed in model/policy.rs).
pub fn setting_nodes() -> Vec<&'static str> {
    let mut nodes = SETTING_NODES.to_vec();
    nodes.extend_from_slice(super::policy::POLICY_NODES);
    nodes
}

impl Parser<'_> {
    /// Parses `node` as a setting into `settings`. Returns `false` when `node` is not a
    /// setting (the caller then tries its own node names or reports it unknown).
    pub(super) fn setting(&mut self, node: &KdlNode, settings: &mut Settings) -> bool {
        let name = node.name().value();
        if !SETTING_NODES.contains(&name) && !super::policy::POLICY_NODES.contains(&name) {
            return false;
        }
        let span = self.span(node.span());
        let parsed = match name {
            "replicas" | "port" => {
                let range = if name == "port" {
                    super::ranges::PORT
                } else {
                    super::ranges::REPLICAS
                };
                self.only_args(node, 1, &[])
                    .and_then(|()| self.int_arg(node, 0, name, range))
                    .map(|(v, s)| Tracked::scalar(Value::Int(v), s))
            }
            "debug" => self
                .only_args(node, 1, &[])
                .and_then(|()| self.bool_arg(node, 0, name))
                .map(|(v, s)| Tracked::scalar(Value::Bool(v), s)),
            "anti-affinity" => self.only_args(node, 1, &[]).and_then(|()| {
                let arg = self.string_arg(node, 0, "anti-affinity")?;
                if ["none", "preferred", "required"].contains(&arg.as_str()) {
                    Some(Tracked::scalar(Value::from(arg.value), arg.span))
                } else {
                    self.errors.push(ModelError::WrongType {
                        what: "anti-affinity".into(),
                        expected: "one of \"none\", \"preferred\", \"required\"".into(),
                        found: format!("\"{}\"", arg.value),
                        src: self.src(),
                        span: arg.span.source_span(),
                    });
                    None
                }
            }),
            "resources" => self
                .only_args(node, 0, &["cpu", "memory", "cpu-limit", "memory-limit"])
                .map(|()| {
                    let mut requests = IndexMap::with_capacity_and_hasher(2, MapHasher);
                    let mut limits = IndexMap::with_capacity_and_hasher(2, MapHasher);
                    for (prop, is_limit, key) in [
                        ("cpu", false, "cpu"),
                        ("memory", false, "memory"),
                        ("cpu-limit", true, "cpu"),
                        ("memory-limit", true, "memory"),
                    ] {
                        if let Some(v) = self.string_prop(node, prop) {
                            let target = if is_limit { &mut limits } else { &mut requests };
                            target.insert(
                                key.to_string(),
                                Tracked::scalar(Value::from(v.value), v.span),
                            );
                        }
                    }
                    let mut entries = IndexMap::with_capacity_and_hasher(2, MapHasher);
                    if !requests.is_empty() {
                        entries.insert("requests".to_string(), Tracked::map(requests, span));
                    }
                    if !limits.is_empty() {
                        entries.insert("limits".to_string(), Tracked::map(limits, span));
                    }
                    Tracked::map(entries, span)
                }),
            "image" => self.record(node, Some("repository"), &[("tag", Kind::Str)], span),
            "chart" => self.record(
                node,
                Some("name"),
                &[("repo", Kind::Str), ("version", Kind::Str)],
                span,
            ),
            "persistence" => self.record(
                node,
                None,
                &[("size", Kind::Str), ("storage-class", Kind::Str)],
                span,
            ),
            "ingress" => self.record(
                node,
                None,
                &[
                    ("host", Kind::Str),
                    ("tls", Kind::Bool),
                    ("path", Kind::Str),
                    ("class", Kind::Str),
                ],
                span,
            ),
            "tcp-route" => self.record(
                node,
                None,
                &[
                    ("host", Kind::Str),
                    ("port", Kind::Port),
                    ("entry-point", Kind::Str),
                ],
                span,
            ),
            // The thresholds `stackc check` holds this layer's services to.
            "policy" => self.record(
                node,
                None,
                &[
                    ("min-replicas", Kind::Replicas),
                    ("anti-affinity", Kind::Str),
                    ("kubernetes", Kind::Str),
                ],
                span,
            ),
            "values" => self
                .shape_with_children(node, 0, &[])
                .map(|()| self.free_map(node)),
            name if super::policy::POLICY_NODES.contains(&name) => self.policy_setting(node, span),
            _ => None,
        };
        if let Some(tracked) = parsed {
            let key = name.replace('-', "_");
            if let Some(previous) = settings.get(&key) {
                self.errors.push(ModelError::Duplicate {
                    kind: "setting",
                    name: name.to_string(),
                    src: self.src(),
                    first: previous.span.source_span(),
                    second: span.source_span(),
                });
            } else {
                settings.insert(key, tracked);
            }
        }
        true
    }

    /// A setting made of an optional first argument and typed properties, as a map.
    fn record(
        &mut self,
        node: &KdlNode,
        arg: Option<&str>,
        props: &[(&str, Kind)],
        span: Span,
    ) -> Option<Tracked> {
        let names: Vec<&str> = props.iter().map(|(p, _)| *p).collect();
        self.only_args(node, usize::from(arg.is_some()), &names)?;
        let mut entries = IndexMap::with_capacity_and_hasher(node.entries().len(), MapHasher);
        // The argument is optional, so a higher layer can override just `tag=` or `version=`.
        let has_arg = node.entries().iter().any(|e| e.name().is_none());
        if let (Some(arg_name), true) = (arg, has_arg) {
            let value = self.string_arg(node, 0, node.name().value())?;
            entries.insert(
                arg_name.to_string(),
                Tracked::scalar(Value::from(value.value), value.span),
            );
        }
        for (prop, kind) in props {
            let Some(entry) = node.entry(prop) else {
                continue;
            };
            let entry_span = self.span(entry.span());
            let value = match (kind, entry.value()) {
                (Kind::Str, KdlValue::String(s)) => Value::from(s.as_str()),
                (Kind::Bool, KdlValue::Bool(b)) => Value::Bool(*b),
                (Kind::Port, _) => match self.int_entry(entry, prop, super::ranges::PORT) {
                    Some((i, _)) => Value::Int(i),
                    None => continue,
                },
                (Kind::Replicas, _) => match self.int_entry(entry, prop, super::ranges::REPLICAS) {
                    Some((i, _)) => Value::Int(i),
                    None => continue,
                },
                (kind, other) => {
                    self.wrong_type(prop, kind.describe(), other, entry_span);
                    continue;
                }
            };
            entries.insert(prop.replace('-', "_"), Tracked::scalar(value, entry_span));
        }
        if entries.is_empty() {
            self.errors.push(ModelError::Missing {
                node: node.name().value().to_string(),
                what: format!(
                    "at least one of {}",
                    arg.into_iter()
                        .chain(names.iter().copied())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                src: self.src(),
                span: self.at(node.span()),
                help: None,
            });
            return None;
        }
        Some(Tracked::map(entries, span))
    }

    /// A free-form `values { ... }` block: child nodes become map entries.
    pub(super) fn free_map(&mut self, node: &KdlNode) -> Tracked {
        let span = self.span(node.span());
        Tracked::map(self.free_entries(node), span)
    }

    fn free_entries(&mut self, node: &KdlNode) -> TrackedMap {
        let mut entries: TrackedMap =
            IndexMap::with_capacity_and_hasher(node.iter_children().len(), MapHasher);
        for child in node.iter_children() {
            let key = child.name().value().to_string();
            let value = self.free_value(child);
            if let Some(previous) = entries.get(&key) {
                self.errors.push(ModelError::Duplicate {
                    kind: "value",
                    name: key,
                    src: self.src(),
                    first: previous.span.source_span(),
                    second: self.at(child.span()),
                });
            } else {
                entries.insert(key, value);
            }
        }
        entries
    }

    /// One node of a free-form block: `key 1` (scalar), `key 1 2` (list), `key a=1 { b 2 }`
    /// (map), `key { - 1; - { x 2 } }` (list of `-` items), `(list)key` (empty list).
    fn free_value(&mut self, node: &KdlNode) -> Tracked {
        let span = self.span(node.span());
        // Every setting node of every service passes through here: its entries and children
        // are walked where they lie, never collected into vectors of their own.
        let args = || node.entries().iter().filter(|e| e.name().is_none());
        let props = || node.entries().iter().filter(|e| e.name().is_some());
        let arg_count = args().count();
        let has_props = arg_count < node.entries().len();
        let children = node.iter_children();
        let is_list_type = node.ty().is_some_and(|t| t.value() == "list");
        if let Some(first) = args().next().filter(|_| has_props || children.len() > 0) {
            self.errors.push(ModelError::Unexpected {
                node: node.name().value().to_string(),
                expected: "either values (`key 1 2`) or properties and children (`key a=1 { b 2 }`), not both".into(),
                src: self.src(),
                span: self.at(first.span()),
            });
        }
        let dashes = children.clone().filter(|c| c.name().value() == "-").count();
        if dashes > 0 && dashes < children.len() {
            let named = children
                .clone()
                .find(|c| c.name().value() != "-")
                .map_or(self.at(node.span()), |c| self.at(c.name().span()));
            self.errors.push(ModelError::Unexpected {
                node: node.name().value().to_string(),
                expected: "either `-` list items or named entries, not both".into(),
                src: self.src(),
                span: named,
            });
        }
        if is_list_type || (children.len() > 0 && dashes == children.len()) {
            let mut items: Vec<Tracked> = Vec::with_capacity(arg_count + children.len());
            items.extend(args().map(|a| self.scalar_entry(a)));
            items.extend(children.map(|c| self.free_value(c)));
            return Tracked {
                value: TrackedValue::List(items),
                span,
            };
        }
        match arg_count {
            0 if !has_props && node.children().is_none() => Tracked::scalar(Value::Null, span),
            // Without properties the children are the whole map: built once, at its size.
            0 if !has_props => Tracked::map(self.free_entries(node), span),
            0 => {
                let mut entries: TrackedMap = IndexMap::with_capacity_and_hasher(
                    node.entries().len() + children.len(),
                    MapHasher,
                );
                for prop in props() {
                    let key = prop
                        .name()
                        .map(|n| n.value().to_string())
                        .unwrap_or_default();
                    entries.insert(key, self.scalar_entry(prop));
                }
                for (key, value) in self.free_entries(node) {
                    if let Some(previous) = entries.get(&key) {
                        self.errors.push(ModelError::Duplicate {
                            kind: "value",
                            name: key,
                            src: self.src(),
                            first: previous.span.source_span(),
                            second: value.span.source_span(),
                        });
                    } else {
                        entries.insert(key, value);
                    }
                }
                Tracked::map(entries, span)
            }
            1 => match args().next() {
                Some(arg) => self.scalar_entry(arg),
                None => Tracked::scalar(Value::Null, span),
            },
            _ => Tracked {
                value: TrackedValue::List(args().map(|a| self.scalar_entry(a)).collect()),
                span,
            },
        }
    }

    fn scalar_entry(&mut self, entry: &KdlEntry) -> Tracked {
        let span = self.span(entry.span());
        let value = match entry.value() {
            KdlValue::String(s) => Value::from(s.as_str()),
            // Too large for 64 bits (or even for 128, `IntegerTooLarge`): an error, not a guess.
            KdlValue::Integer(_) | KdlValue::IntegerTooLarge(_) => {
                match entry
                    .value()
                    .as_integer()
                    .and_then(|i| i64::try_from(i).ok())
                {
                    Some(i) => Value::Int(i),
                    None => {
                        self.wrong_type(
                            "value",
                            "an integer that fits in 64 bits",
                            entry.value(),
                            span,
                        );
                        Value::Null
                    }
                }
            }
            // `1e999` reads as infinity; only `#inf`, `#-inf` and `#nan` may mean that.
            KdlValue::Float(f) if !f.is_finite() && !self.snippet(span).contains('#') => {
                self.wrong_type(
                    "value",
                    "a number that fits in 64 bits",
                    entry.value(),
                    span,
                );
                Value::Null
            }
            KdlValue::Float(f) => Value::Float(*f),
            KdlValue::Bool(b) => Value::Bool(*b),
            KdlValue::Null => Value::Null,
        };
        Tracked::scalar(value, span)
    }
}

/// The type a property of a record setting takes.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    /// A TCP port, in [`ranges::PORT`](super::ranges::PORT).
    Port,
    /// A number of replicas, in [`ranges::REPLICAS`](super::ranges::REPLICAS).
    Replicas,
    Bool,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Port => "a port number",
            Kind::Replicas => "a number of replicas",
            Kind::Bool => "#true or #false",
        }
    }
}

/// Scalars through JSON values (our [`Value`] serializes untagged).
mod scalar_serde {
    use crate::value::Value;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(value: &Value, serializer: S) -> Result<S::Ok, S::Error> {
        value.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        serde_json::Value::deserialize(deserializer).map(Value::from)
    }
}
