//! `network-policy ingress= egress= ingress-controller= instance= { allow ... }`: when an
//! environment denies ingress (or egress), every namespace gets a default-deny `NetworkPolicy`
//! and every workload one that lets in exactly what the declaration says it needs: the
//! services that `depends-on` it, on its ports; the ingress controller, for an `ingress` or a
//! `tcp-route`; and the extra `allow` rules. Egress, when denied, is opened for DNS, for the
//! services it depends on and, for the ingress controller, for the services it routes to.

use super::{get, int, kube_object, located, selector, text, PolicyError, INSTANCE};
use crate::diagnostics::{did_you_mean, Diagnostics};
use crate::model::{Stack, Tracked, TrackedValue};
use crate::object::ObjectId;
use crate::resolve::{ResolvedEnvironment, ResolvedService};
use crate::value::{map, Value};
use std::collections::BTreeSet;

/// Whether the environment denies each direction by default.
fn denied(env_settings: &Tracked) -> (bool, bool) {
    let deny = |dir: &str| {
        text(env_settings, &format!("network_policy.{dir}")).is_some_and(|(v, _)| v == "deny")
    };
    (deny("ingress"), deny("egress"))
}

/// The default-deny `NetworkPolicy` of every namespace, when a direction is denied.
pub fn default_deny(env_settings: &Tracked) -> Option<Value> {
    let (ingress, egress) = denied(env_settings);
    let mut types = Vec::new();
    if ingress {
        types.push(Value::from("Ingress"));
    }
    if egress {
        types.push(Value::from("Egress"));
    }
    if types.is_empty() {
        return None;
    }
    let spec = map([
        ("podSelector", Value::Map(crate::value::Map::default())),
        ("policyTypes", Value::List(types)),
    ]);
    Some(
        kube_object(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "default-deny",
            "",
            spec,
        )
        .1,
    )
}

/// The ports a service serves: its `port` and its `tcp-route` port.
fn ports(settings: &Tracked) -> BTreeSet<i64> {
    ["port", "tcp_route.port"]
        .iter()
        .filter_map(|p| int(settings, p).map(|(v, _)| v))
        .collect()
}

fn instance(service: &ResolvedService) -> &str {
    text(&service.settings, "network_policy.instance").map_or(service.name.as_str(), |(i, _)| i)
}

fn namespace_peer(namespace: &str) -> Value {
    map([(
        "namespaceSelector",
        map([(
            "matchLabels",
            map([("kubernetes.io/metadata.name", namespace)]),
        )]),
    )])
}

fn pod_peer(service: &ResolvedService) -> Value {
    let mut peer = namespace_peer(&service.namespace);
    if let Value::Map(m) = &mut peer {
        m.insert(
            "podSelector".into(),
            map([("matchLabels", map([(INSTANCE, instance(service))]))]),
        );
    }
    peer
}

fn port_list(ports: impl IntoIterator<Item = i64>) -> Value {
    Value::List(
        ports
            .into_iter()
            .map(|p| map([("protocol", Value::from("TCP")), ("port", Value::Int(p))]))
            .collect(),
    )
}

fn rule(direction: &str, peers: Vec<Value>, ports: Option<Value>) -> Value {
    let mut fields = vec![(direction, Value::List(peers))];
    if let Some(ports) = ports {
        fields.push(("ports", ports));
    }
    map(fields)
}

/// `policy.network`: the ingress and egress rules of the service's `NetworkPolicy` (`Null`
/// when the environment denies nothing), and the instance label its pods carry.
pub fn rules(
    stack: &Stack,
    env: &ResolvedEnvironment,
    service: &ResolvedService,
    env_settings: &Tracked,
    unit: &str,
) -> Result<Value, Diagnostics> {
    let model = &stack.model;
    let settings = &service.settings;
    let resolve = |name: &str| crate::resolve::resolve_one(stack, &env.name, name);
    let own_ports = ports(settings);
    let mut errors = Diagnostics::new();
    let names = || model.services.iter().map(|s| s.name.as_str());

    // The extra rules are checked in every environment, denied or not.
    let mut extra_in = Vec::new();
    let mut extra_out = Vec::new();
    if let Some(Tracked {
        value: TrackedValue::List(allows),
        ..
    }) = get(settings, "network_policy.allow")
    {
        for allow in allows {
            let port = int(allow, "port");
            let ports = port.map(|(p, _)| port_list([p]));
            if let Some((cidr, _)) = text(allow, "cidr") {
                extra_out.push(rule(
                    "to",
                    vec![map([("ipBlock", map([("cidr", cidr)]))])],
                    ports,
                ));
                continue;
            }
            if let Some((p, span)) = port {
                if !own_ports.contains(&p) {
                    let at = located(&stack.sources, span);
                    errors.push(PolicyError::UnknownPort {
                        port: p,
                        unit: unit.into(),
                        src: at.source,
                        span: at.span,
                        help: format!(
                            "{} serves {}; an ingress rule lets peers reach one of the service's own ports (`port`, `tcp-route port=`)",
                            service.name,
                            if own_ports.is_empty() {
                                "no port".to_string()
                            } else {
                                own_ports.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
                            }
                        ),
                    });
                    continue;
                }
            }
            let ports = ports.or_else(|| Some(port_list(own_ports.iter().copied())));
            if let Some((namespace, _)) = text(allow, "namespace") {
                extra_in.push(rule("from", vec![namespace_peer(namespace)], ports));
            } else if let Some((from, span)) = text(allow, "from") {
                if model.service(from).is_none() {
                    let at = located(&stack.sources, span);
                    errors.push(PolicyError::UnknownService {
                        name: from.into(),
                        unit: unit.into(),
                        src: at.source,
                        span: at.span,
                        help: did_you_mean(from, names()),
                    });
                    continue;
                }
                let peer = resolve(from)?;
                extra_in.push(rule("from", vec![pod_peer(&peer)], ports));
            }
        }
    }
    let controller = match text(settings, "network_policy.ingress_controller") {
        Some((name, span)) if model.service(name).is_none() => {
            let at = located(&stack.sources, span);
            errors.push(PolicyError::UnknownController {
                name: name.into(),
                unit: unit.into(),
                src: at.source,
                span: at.span,
                help: did_you_mean(name, names()),
            });
            None
        }
        Some((name, _)) => Some(resolve(name)?),
        None => None,
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    // A direction is written when the namespace denies it (the service may open it again
    // with `allow`) or when the service itself denies it (its pods alone are locked down).
    let (env_in, env_out) = denied(env_settings);
    let (own_in, own_out) = denied(settings);
    let (deny_in, deny_out) = (env_in || own_in, env_out || own_out);
    if !(deny_in || deny_out) || service.template.is_none() {
        return Ok(Value::Null);
    }
    let allow_all = |dir: &str| {
        text(settings, &format!("network_policy.{dir}")).is_none_or(|(v, _)| v != "deny")
    };
    let mut out = crate::value::Map::default();
    out.insert("instance".into(), Value::from(instance(service)));

    if deny_in {
        let ingress = if allow_all("ingress") {
            vec![map([] as [(&str, Value); 0])]
        } else {
            let mut found = Vec::new();
            for dependent in model
                .services
                .iter()
                .filter(|s| s.depends_on.iter().any(|d| d.value == service.name))
            {
                let dependent = resolve(&dependent.name.value)?;
                found.push(rule(
                    "from",
                    vec![pod_peer(&dependent)],
                    Some(port_list(own_ports.iter().copied())),
                ));
            }
            // Routed traffic comes from the controller's namespace (its pods' labels are the
            // chart's business), or from anywhere when no controller is named.
            let routed: BTreeSet<i64> = [
                get(settings, "ingress").and_then(|_| int(settings, "port")),
                int(settings, "tcp_route.port"),
            ]
            .into_iter()
            .flatten()
            .map(|(p, _)| p)
            .collect();
            if !routed.is_empty() {
                let peer = controller.as_ref().map_or_else(
                    || {
                        map([(
                            "namespaceSelector",
                            Value::Map(crate::value::Map::default()),
                        )])
                    },
                    |c| namespace_peer(&c.namespace),
                );
                found.push(rule("from", vec![peer], Some(port_list(routed))));
            }
            found.extend(extra_in);
            found
        };
        out.insert("ingress".into(), Value::List(ingress));
    }
    if deny_out {
        let egress = if allow_all("egress") {
            vec![map([] as [(&str, Value); 0])]
        } else {
            let dns = map([
                (
                    "namespaceSelector",
                    map([(
                        "matchLabels",
                        map([("kubernetes.io/metadata.name", "kube-system")]),
                    )]),
                ),
                (
                    "podSelector",
                    map([("matchLabels", map([("k8s-app", "kube-dns")]))]),
                ),
            ]);
            let mut found = vec![rule(
                "to",
                vec![dns],
                Some(Value::List(vec![
                    map([("protocol", Value::from("UDP")), ("port", Value::Int(53))]),
                    map([("protocol", Value::from("TCP")), ("port", Value::Int(53))]),
                ])),
            )];
            for dependency in &service.depends_on {
                let dependency = resolve(dependency)?;
                let ports = ports(&dependency.settings);
                found.push(rule(
                    "to",
                    vec![pod_peer(&dependency)],
                    Some(port_list(ports)),
                ));
            }
            // The ingress controller (the one the environment names) reaches every service
            // it routes to; resolving every service is paid only in its unit.
            let is_controller = text(env_settings, "network_policy.ingress_controller")
                .is_some_and(|(c, _)| c == service.name);
            for other in model.services.iter().filter(|_| is_controller) {
                if other.name.value == service.name {
                    continue;
                }
                let other = resolve(&other.name.value)?;
                let routes_here = text(&other.settings, "network_policy.ingress_controller")
                    .is_some_and(|(c, _)| c == service.name);
                let routed: BTreeSet<i64> = [
                    get(&other.settings, "ingress").and_then(|_| int(&other.settings, "port")),
                    int(&other.settings, "tcp_route.port"),
                ]
                .into_iter()
                .flatten()
                .map(|(p, _)| p)
                .collect();
                if routes_here && !routed.is_empty() {
                    found.push(rule("to", vec![pod_peer(&other)], Some(port_list(routed))));
                }
            }
            found.extend(extra_out);
            found
        };
        out.insert("egress".into(), Value::List(egress));
    }
    Ok(Value::Map(out))
}

/// The service's `NetworkPolicy`, from its `policy` context.
pub fn service_object(name: &str, namespace: &str, policy: &Value) -> Option<(ObjectId, Value)> {
    let network = policy.get_path("network")?.as_map()?;
    let instance = network.get("instance")?.as_str()?;
    let mut spec = crate::value::Map::default();
    spec.insert("podSelector".into(), selector(instance));
    let mut types = Vec::new();
    for (key, kind) in [("ingress", "Ingress"), ("egress", "Egress")] {
        if let Some(rules) = network.get(key) {
            types.push(Value::from(kind));
            spec.insert(key.into(), rules.clone());
        }
    }
    spec.insert("policyTypes".into(), Value::List(types));
    Some(kube_object(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        name,
        namespace,
        Value::Map(spec),
    ))
}
