//! Policy settings (issue 14): `network-policy`, `quota`, `limit-range`, `autoscale`,
//! `disruption-budget`, `rollout`, `probes`, `pod-security` and `notify`. They are ordinary
//! layered settings (a map per node, every entry with its span), so `explain` shows them and
//! an environment file overrides them like `replicas`; `src/policy/` turns the resolved values
//! into objects and template values. Only the shape is checked here: cross-references
//! (a rule's service, the notify secret) need the whole stack and are checked there.

use super::parse::Parser;
use super::syntax::{Node as KdlNode, Value as KdlValue};
use super::{ModelError, Tracked, TrackedMap, TrackedValue};
use crate::source::Span;
use crate::value::Value;
use indexmap::IndexMap;

/// The policy setting nodes, as written in KDL.
pub const POLICY_NODES: &[&str] = &[
    "network-policy",
    "quota",
    "limit-range",
    "autoscale",
    "disruption-budget",
    "rollout",
    "probes",
    "pod-security",
    "notify",
];

/// Pod Security Admission levels.
const LEVELS: &[&str] = &["privileged", "baseline", "restricted"];

/// The type of one property of a policy node.
#[derive(Clone, Copy)]
enum Prop {
    Str,
    OneOf(&'static [&'static str]),
    /// An integer from the first to the second, inclusive.
    Int(i64, i64),
    Bool,
    /// A count or a percentage: `1` or `"25%"` (what Kubernetes calls an `IntOrString`).
    Count,
}

impl Prop {
    fn describe(&self) -> String {
        match self {
            Prop::Str => "a string".into(),
            Prop::OneOf(choices) => format!(
                "one of {}",
                choices
                    .iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Prop::Int(min, max) => format!("an integer from {min} to {max}"),
            Prop::Bool => "#true or #false".into(),
            Prop::Count => "a non-negative integer or a percentage like \"25%\"".into(),
        }
    }
}

const PERCENT: Prop = Prop::Int(1, 100);
const SECONDS: Prop = Prop::Int(0, 3_600);
const PODS: Prop = Prop::Int(0, 100_000);
/// Autoscaler bounds, like `replicas` but at least one.
const MINMAX: Prop = Prop::Int(1, 10_000);

/// A property of a policy node: its KDL name and type.
type PropSpec = (&'static str, Prop);

/// The properties of each node (the first argument, where one is taken, is listed first with
/// the name it gets as a key).
fn spec(name: &str) -> (Option<PropSpec>, &'static [PropSpec]) {
    const ALLOW_DENY: Prop = Prop::OneOf(&["allow", "deny"]);
    match name {
        "network-policy" => (
            None,
            &[
                ("ingress", ALLOW_DENY),
                ("egress", ALLOW_DENY),
                ("ingress-controller", Prop::Str),
                ("instance", Prop::Str),
            ],
        ),
        "quota" => (
            None,
            &[
                ("cpu", Prop::Str),
                ("memory", Prop::Str),
                ("cpu-limit", Prop::Str),
                ("memory-limit", Prop::Str),
                ("pods", PODS),
            ],
        ),
        "limit-range" => (
            None,
            &[
                ("cpu", Prop::Str),
                ("memory", Prop::Str),
                ("cpu-limit", Prop::Str),
                ("memory-limit", Prop::Str),
            ],
        ),
        "autoscale" => (
            None,
            &[
                ("min", MINMAX),
                ("max", MINMAX),
                ("cpu", PERCENT),
                ("target", Prop::Str),
                ("enabled", Prop::Bool),
            ],
        ),
        "disruption-budget" => (
            None,
            &[
                ("min-available", Prop::Count),
                ("max-unavailable", Prop::Count),
                ("enabled", Prop::Bool),
            ],
        ),
        "rollout" => (
            None,
            &[("max-unavailable", Prop::Count), ("max-surge", Prop::Count)],
        ),
        "probes" => (
            None,
            &[
                ("path", Prop::Str),
                ("delay", SECONDS),
                ("period", Prop::Int(1, 3_600)),
                ("enabled", Prop::Bool),
            ],
        ),
        "pod-security" => (
            Some(("enforce", Prop::OneOf(LEVELS))),
            &[
                ("audit", Prop::OneOf(LEVELS)),
                ("warn", Prop::OneOf(LEVELS)),
            ],
        ),
        "notify" => (
            None,
            &[
                ("provider", Prop::OneOf(&["slack", "generic"])),
                ("channel", Prop::Str),
                ("secret", Prop::Str),
                ("severity", Prop::OneOf(&["info", "error"])),
            ],
        ),
        _ => (None, &[]),
    }
}

/// The properties of one `allow` rule inside `network-policy { ... }`.
const ALLOW_PROPS: &[(&str, Prop)] = &[
    ("from", Prop::Str),
    ("namespace", Prop::Str),
    ("cidr", Prop::Str),
    (
        "port",
        Prop::Int(*super::ranges::PORT.start(), *super::ranges::PORT.end()),
    ),
];

impl Parser<'_> {
    /// Parses a policy node (one of [`POLICY_NODES`]) into its setting map.
    pub(super) fn policy_setting(&mut self, node: &KdlNode, span: Span) -> Option<Tracked> {
        let name = node.name().value();
        let (arg, props) = spec(name);
        let prop_names: Vec<&str> = props.iter().map(|(p, _)| *p).collect();
        let entries_ok = if name == "network-policy" {
            self.shape_with_children(node, 0, &prop_names)
        } else {
            self.only_args(node, usize::from(arg.is_some()), &prop_names)
        };
        entries_ok?;
        let mut entries = IndexMap::default();
        if let (Some((key, prop)), Some(entry)) = (arg, node.arg(0)) {
            let entry_span = self.span(entry.span());
            if let Some(value) = self.policy_value(name, prop, entry.value(), entry_span) {
                entries.insert(key.to_string(), Tracked::scalar(value, entry_span));
            }
        }
        self.policy_props(node, props, &mut entries);
        if name == "disruption-budget" {
            // One rule, not two keys that merge: a higher layer's `min-available` replaces a
            // lower layer's `max-unavailable` instead of both reaching the budget.
            let rule = ["min_available", "max_unavailable"]
                .into_iter()
                .filter_map(|k| entries.shift_remove(k).map(|v| (k, v)))
                .collect::<Vec<_>>();
            if let [first, second] = rule.as_slice() {
                self.errors.push(ModelError::Duplicate {
                    kind: "disruption-budget rule",
                    name: "min-available / max-unavailable".into(),
                    src: self.src(),
                    first: first.1.span.source_span(),
                    second: second.1.span.source_span(),
                });
            } else if let Some((key, value)) = rule.into_iter().next() {
                entries.insert(
                    "rule".into(),
                    Tracked::scalar(Value::from(key.replace('_', "-")), value.span),
                );
                entries.insert("value".into(), value);
            }
        }
        if name == "network-policy" {
            let mut rules = Vec::new();
            for child in node.iter_children() {
                if let Some(rule) = self.allow_rule(child) {
                    rules.push(rule);
                }
            }
            if node.children().is_some() {
                entries.insert(
                    "allow".into(),
                    Tracked {
                        value: TrackedValue::List(rules),
                        span,
                    },
                );
            }
        }
        if entries.is_empty() {
            self.errors.push(ModelError::Missing {
                node: name.to_string(),
                what: format!(
                    "at least one of {}",
                    arg.map(|(a, _)| a)
                        .into_iter()
                        .chain(prop_names.iter().copied())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                src: self.src(),
                span: self.at(node.span()),
                help: Some("see docs/policy.md for each policy setting".into()),
            });
            return None;
        }
        Some(Tracked::map(entries, span))
    }

    /// `allow from="service" port=N` / `allow namespace="ns"` / `allow cidr="10.0.0.0/8"`.
    fn allow_rule(&mut self, node: &KdlNode) -> Option<Tracked> {
        if node.name().value() != "allow" {
            self.errors.push(ModelError::UnknownNode {
                name: node.name().value().to_string(),
                context: "a network-policy block".into(),
                src: self.src(),
                span: self.at(node.name().span()),
                help: Some("a network-policy block holds `allow from=\"service\" port=N`, `allow namespace=\"ns\"` or `allow cidr=\"10.0.0.0/8\" port=N` rules".into()),
            });
            return None;
        }
        let names: Vec<&str> = ALLOW_PROPS.iter().map(|(p, _)| *p).collect();
        self.only_args(node, 0, &names)?;
        let mut entries = TrackedMap::default();
        self.policy_props(node, ALLOW_PROPS, &mut entries);
        if let Some(cidr) = entries.get("cidr") {
            if let TrackedValue::Scalar(Value::String(text)) = &cidr.value {
                if !is_cidr(text) {
                    let span = cidr.span;
                    self.wrong_type(
                        "cidr",
                        "an address range like \"10.0.0.0/8\" or \"fd00::/8\"",
                        &KdlValue::String(text.clone()),
                        span,
                    );
                    return None;
                }
            }
        }
        let peers = ["from", "namespace", "cidr"]
            .iter()
            .filter(|k| entries.contains_key(**k))
            .count();
        if peers != 1 {
            self.errors.push(ModelError::Missing {
                node: "allow".into(),
                what: "exactly one of from, namespace, cidr".into(),
                src: self.src(),
                span: self.at(node.span()),
                help: Some(
                    "`from` names a service of the stack, `namespace` a namespace, `cidr` an egress address range"
                        .into(),
                ),
            });
            return None;
        }
        Some(Tracked::map(entries, self.span(node.span())))
    }

    fn policy_props(&mut self, node: &KdlNode, props: &[(&str, Prop)], entries: &mut TrackedMap) {
        for (prop, kind) in props {
            let Some(entry) = node.entry(prop) else {
                continue;
            };
            let entry_span = self.span(entry.span());
            if let Some(value) = self.policy_value(prop, *kind, entry.value(), entry_span) {
                entries.insert(prop.replace('-', "_"), Tracked::scalar(value, entry_span));
            }
        }
    }

    fn policy_value(
        &mut self,
        what: &str,
        kind: Prop,
        found: &KdlValue,
        span: Span,
    ) -> Option<Value> {
        let value = match (kind, found) {
            (Prop::Str, KdlValue::String(s)) => Some(Value::from(s.as_str())),
            (Prop::OneOf(choices), KdlValue::String(s)) if choices.contains(&s.as_str()) => {
                Some(Value::from(s.as_str()))
            }
            (Prop::Bool, KdlValue::Bool(b)) => Some(Value::Bool(*b)),
            (Prop::Int(min, max), KdlValue::Integer(i)) => i64::try_from(*i)
                .ok()
                .filter(|i| (min..=max).contains(i))
                .map(Value::Int),
            (Prop::Count, KdlValue::Integer(i)) => i64::try_from(*i)
                .ok()
                .filter(|i| (0..=10_000).contains(i))
                .map(Value::Int),
            (Prop::Count, KdlValue::String(s)) if is_percent(s) => Some(Value::from(s.as_str())),
            _ => None,
        };
        if value.is_none() {
            self.wrong_type(what, &kind.describe(), found, span);
        }
        value
    }
}

/// An IPv4 or IPv6 network: an address, `/`, a prefix length that fits it.
fn is_cidr(text: &str) -> bool {
    let Some((address, prefix)) = text.split_once('/') else {
        return false;
    };
    let Ok(prefix) = prefix.parse::<u8>() else {
        return false;
    };
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => prefix <= 32,
        Ok(std::net::IpAddr::V6(_)) => prefix <= 128,
        Err(_) => false,
    }
}

/// `0%` to `100%`.
fn is_percent(text: &str) -> bool {
    text.strip_suffix('%')
        .filter(|n| !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n <= 100)
}

#[cfg(test)]
mod tests {
    #[test]
    fn address_ranges_are_networks_with_a_prefix_that_fits() {
        for (text, ok) in [
            ("0.0.0.0/0", true),
            ("10.0.0.0/8", true),
            ("fd00::/8", true),
            ("10.0.0.0/33", false),
            ("10.0.0.0", false),
            ("10.0.0/8", false),
            ("::/129", false),
            ("example.org/8", false),
        ] {
            assert_eq!(super::is_cidr(text), ok, "{text}");
        }
    }

    #[test]
    fn percentages_are_whole_numbers_up_to_a_hundred() {
        for (text, ok) in [
            ("0%", true),
            ("25%", true),
            ("100%", true),
            ("101%", false),
            ("%", false),
            ("2.5%", false),
            ("25", false),
            ("-1%", false),
        ] {
            assert_eq!(super::is_percent(text), ok, "{text}");
        }
    }
}
