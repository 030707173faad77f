//! The shape of a stack as a graph: environments with their waves and promotion order, layers
//! in the order Flux applies them, the services of each layer with their `depends-on` edges,
//! and the secrets each service uses. [`graph`] reads the model (a pure function); the three
//! renderings (plain text, Graphviz DOT, Mermaid) are pure functions of the [`Graph`].

use crate::model::Model;
use std::fmt::Write as _;

/// The stack as a graph, in a deterministic order (layers in dependency order, services and
/// secrets in declaration order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    pub project: String,
    /// The environments shown (one when the caller asked for one), in promotion order.
    pub environments: Vec<EnvironmentNode>,
    pub layers: Vec<LayerNode>,
    pub secrets: Vec<SecretNode>,
}

/// An environment and where it sits in the rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentNode {
    pub name: String,
    pub wave: i64,
    pub promotes_from: Option<String>,
}

/// A layer, the layers it waits for, and its services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerNode {
    pub name: String,
    pub depends_on: Vec<String>,
    pub services: Vec<ServiceNode>,
}

/// A service and its edges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNode {
    pub name: String,
    pub namespace: String,
    pub depends_on: Vec<String>,
    pub secrets: Vec<String>,
}

/// A declared secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretNode {
    pub name: String,
    pub namespace: String,
}

/// The graph of `model`, for every environment or only `env` (the caller has checked it).
pub fn graph(model: &Model, env: Option<&str>) -> Graph {
    let mut environments: Vec<EnvironmentNode> = model
        .environments
        .iter()
        .filter(|e| env.is_none_or(|only| e.name.value == only))
        .map(|e| EnvironmentNode {
            name: e.name.value.clone(),
            wave: e.wave,
            promotes_from: e.promotes_from.as_ref().map(|p| p.value.clone()),
        })
        .collect();
    // Waves order the rollout; declaration order breaks ties.
    environments.sort_by_key(|e| e.wave);
    let layers = model
        .layer_order()
        .into_iter()
        .map(|name| LayerNode {
            name: name.to_string(),
            depends_on: model
                .layers
                .iter()
                .find(|l| l.name.value == name)
                .map(|l| l.depends_on.iter().map(|d| d.value.clone()).collect())
                .unwrap_or_default(),
            services: model
                .services
                .iter()
                .filter(|s| s.layer.value == name)
                .map(|s| ServiceNode {
                    name: s.name.value.clone(),
                    namespace: s.namespace.value.clone(),
                    depends_on: s.depends_on.iter().map(|d| d.value.clone()).collect(),
                    secrets: s.uses_secrets.iter().map(|d| d.value.clone()).collect(),
                })
                .collect(),
        })
        .collect();
    Graph {
        project: model.project.name.value.clone(),
        environments,
        layers,
        secrets: model
            .secrets
            .iter()
            .map(|s| SecretNode {
                name: s.name.value.clone(),
                namespace: s.namespace.value.clone(),
            })
            .collect(),
    }
}

impl Graph {
    /// Plain text, for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "project {}", self.project);
        out.push_str("environments (rollout order):\n");
        for env in &self.environments {
            let _ = write!(out, "  {} (wave {})", env.name, env.wave);
            if let Some(from) = &env.promotes_from {
                let _ = write!(out, ", promoted from {from}");
            }
            out.push('\n');
        }
        out.push_str("layers (applied in this order):\n");
        for layer in &self.layers {
            let _ = write!(out, "  {}", layer.name);
            if !layer.depends_on.is_empty() {
                let _ = write!(out, " (after {})", layer.depends_on.join(", "));
            }
            out.push('\n');
            let width = layer
                .services
                .iter()
                .map(|s| s.name.len())
                .max()
                .unwrap_or(0);
            for service in &layer.services {
                let _ = write!(
                    out,
                    "    {:width$}  namespace {}",
                    service.name, service.namespace
                );
                if !service.depends_on.is_empty() {
                    let _ = write!(out, "; depends on {}", service.depends_on.join(", "));
                }
                if !service.secrets.is_empty() {
                    let _ = write!(out, "; uses secret {}", service.secrets.join(", "));
                }
                out.push('\n');
            }
        }
        if !self.secrets.is_empty() {
            out.push_str("secrets:\n");
            for secret in &self.secrets {
                let _ = writeln!(out, "  {} (namespace {})", secret.name, secret.namespace);
            }
        }
        out
    }

    /// Graphviz DOT: a cluster per layer, service -> dependency edges, dashed service ->
    /// secret edges, and the environments as a chain of waves.
    pub fn to_dot(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "digraph {} {{", dot_id(&self.project));
        out.push_str("  rankdir=LR;\n  node [shape=box];\n");
        if !self.environments.is_empty() {
            out.push_str("  subgraph cluster_environments {\n    label=\"environments\";\n");
            for env in &self.environments {
                let _ = writeln!(
                    out,
                    "    {} [label={}, shape=ellipse];",
                    dot_id(&format!("env:{}", env.name)),
                    dot_id(&format!("{} (wave {})", env.name, env.wave))
                );
            }
            out.push_str("  }\n");
            for env in &self.environments {
                if let Some(from) = &env.promotes_from {
                    if self.environments.iter().any(|e| &e.name == from) {
                        let _ = writeln!(
                            out,
                            "  {} -> {} [label=\"promotes\"];",
                            dot_id(&format!("env:{from}")),
                            dot_id(&format!("env:{}", env.name))
                        );
                    }
                }
            }
        }
        for (index, layer) in self.layers.iter().enumerate() {
            let _ = writeln!(
                out,
                "  subgraph cluster_layer_{index} {{\n    label={};",
                dot_id(&format!("layer {}", layer.name))
            );
            for service in &layer.services {
                let _ = writeln!(
                    out,
                    "    {} [label={}];",
                    dot_id(&format!("service:{}", service.name)),
                    dot_id(&format!("{}\\n{}", service.name, service.namespace))
                );
            }
            out.push_str("  }\n");
        }
        for secret in &self.secrets {
            let _ = writeln!(
                out,
                "  {} [label={}, shape=note];",
                dot_id(&format!("secret:{}", secret.name)),
                dot_id(&format!("{}\\n{}", secret.name, secret.namespace))
            );
        }
        for service in self.layers.iter().flat_map(|l| &l.services) {
            let from = dot_id(&format!("service:{}", service.name));
            for dep in &service.depends_on {
                let _ = writeln!(out, "  {from} -> {};", dot_id(&format!("service:{dep}")));
            }
            for secret in &service.secrets {
                let _ = writeln!(
                    out,
                    "  {from} -> {} [style=dashed];",
                    dot_id(&format!("secret:{secret}"))
                );
            }
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid flowchart (renders on GitHub and GitLab): a subgraph per layer.
    pub fn to_mermaid(&self) -> String {
        let ids = MermaidIds::new(self);
        let mut out = String::from("flowchart LR\n");
        if !self.environments.is_empty() {
            out.push_str("  subgraph environments\n");
            for (i, env) in self.environments.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "    e{i}([{}])",
                    mermaid_text(&format!("{} (wave {})", env.name, env.wave))
                );
            }
            out.push_str("  end\n");
            for (i, env) in self.environments.iter().enumerate() {
                if let Some(from) = env
                    .promotes_from
                    .as_ref()
                    .and_then(|f| self.environments.iter().position(|e| &e.name == f))
                {
                    let _ = writeln!(out, "  e{from} -- promotes --> e{i}");
                }
            }
        }
        for (index, layer) in self.layers.iter().enumerate() {
            let _ = writeln!(
                out,
                "  subgraph l{index}[{}]",
                mermaid_text(&format!("layer {}", layer.name))
            );
            for service in &layer.services {
                let _ = writeln!(
                    out,
                    "    {}[{}]",
                    ids.service(&service.name),
                    mermaid_text(&format!("{} ({})", service.name, service.namespace))
                );
            }
            out.push_str("  end\n");
        }
        for (i, secret) in self.secrets.iter().enumerate() {
            let _ = writeln!(
                out,
                "  k{i}[/{}/]",
                mermaid_text(&format!("secret {}", secret.name))
            );
        }
        for service in self.layers.iter().flat_map(|l| &l.services) {
            let from = ids.service(&service.name);
            for dep in &service.depends_on {
                let _ = writeln!(out, "  {from} --> {}", ids.service(dep));
            }
            for secret in &service.secrets {
                let _ = writeln!(out, "  {from} -.-> {}", ids.secret(secret));
            }
        }
        out
    }
}

/// Mermaid node ids are plain identifiers: services and secrets are numbered.
struct MermaidIds<'g> {
    services: Vec<&'g str>,
    secrets: Vec<&'g str>,
}

impl<'g> MermaidIds<'g> {
    fn new(graph: &'g Graph) -> Self {
        MermaidIds {
            services: graph
                .layers
                .iter()
                .flat_map(|l| &l.services)
                .map(|s| s.name.as_str())
                .collect(),
            secrets: graph.secrets.iter().map(|s| s.name.as_str()).collect(),
        }
    }

    fn service(&self, name: &str) -> String {
        // A name that is not a service (validation refuses it) still gets a stable id.
        self.services
            .iter()
            .position(|s| *s == name)
            .map_or_else(|| format!("x_{}", sanitize(name)), |i| format!("s{i}"))
    }

    fn secret(&self, name: &str) -> String {
        self.secrets
            .iter()
            .position(|s| *s == name)
            .map_or_else(|| format!("x_{}", sanitize(name)), |i| format!("k{i}"))
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A DOT quoted id (`\n` sequences in labels are kept as DOT line breaks).
fn dot_id(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' if chars.peek() == Some(&'n') => out.push('\\'),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Mermaid label text, quoted so that punctuation in names cannot break the syntax.
fn mermaid_text(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "#quot;"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Graph {
        Graph {
            project: "p".into(),
            environments: vec![
                EnvironmentNode {
                    name: "dev".into(),
                    wave: 0,
                    promotes_from: None,
                },
                EnvironmentNode {
                    name: "prod".into(),
                    wave: 1,
                    promotes_from: Some("dev".into()),
                },
            ],
            layers: vec![
                LayerNode {
                    name: "db".into(),
                    depends_on: vec![],
                    services: vec![ServiceNode {
                        name: "pg".into(),
                        namespace: "data".into(),
                        depends_on: vec![],
                        secrets: vec!["pg-creds".into()],
                    }],
                },
                LayerNode {
                    name: "apps".into(),
                    depends_on: vec!["db".into()],
                    services: vec![ServiceNode {
                        name: "web".into(),
                        namespace: "web".into(),
                        depends_on: vec!["pg".into()],
                        secrets: vec![],
                    }],
                },
            ],
            secrets: vec![SecretNode {
                name: "pg-creds".into(),
                namespace: "data".into(),
            }],
        }
    }

    #[test]
    fn text_lists_waves_layers_edges_and_secrets() {
        assert_eq!(
            sample().to_text(),
            "project p\n\
             environments (rollout order):\n  dev (wave 0)\n  prod (wave 1), promoted from dev\n\
             layers (applied in this order):\n  db\n    pg  namespace data; uses secret pg-creds\n\
             \x20 apps (after db)\n    web  namespace web; depends on pg\n\
             secrets:\n  pg-creds (namespace data)\n"
        );
    }

    #[test]
    fn dot_and_mermaid_have_every_edge() {
        let dot = sample().to_dot();
        assert!(dot.contains("\"service:web\" -> \"service:pg\";"), "{dot}");
        assert!(
            dot.contains("\"service:pg\" -> \"secret:pg-creds\" [style=dashed];"),
            "{dot}"
        );
        assert!(dot.contains("\"env:dev\" -> \"env:prod\""), "{dot}");
        let mermaid = sample().to_mermaid();
        assert!(mermaid.contains("  s1 --> s0\n"), "{mermaid}");
        assert!(mermaid.contains("  s0 -.-> k0\n"), "{mermaid}");
        assert!(mermaid.contains("  e0 -- promotes --> e1\n"), "{mermaid}");
    }

    #[test]
    fn quoting_keeps_names_from_breaking_the_syntax() {
        assert_eq!(dot_id("a\"b\\c\\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(mermaid_text("a\"b"), "\"a#quot;b\"");
    }
}
