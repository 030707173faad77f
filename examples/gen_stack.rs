//! Generates a synthetic stack for benchmarking `stackc build` (see docs/benchmark.md).
//!
//! ```text
//! cargo run --release --example gen_stack -- --services 1000 /tmp/stack
//! cargo run --release --example gen_stack -- --services 1000 --kustomize /tmp/kustomize
//! cargo run --release --example gen_stack -- --services 1000 --kapitan /tmp/kapitan
//! cargo run --release --example gen_stack -- --services 1000 --jinja2 /tmp/jinja2
//! ```
//!
//! The stack has N services x 3 environments (dev, staging, production, each with its own
//! domain), 3 layers and 10 namespaces. Every service renders a Deployment (replicas and
//! resources by environment, required pod anti-affinity in production), a Service, a
//! `ConfigMap` of 10 keys (from its `values`) and an Ingress with TLS; every 10th service adds
//! a `PersistentVolumeClaim` (8Gi, 20Gi in production). No secrets. The output depends only on
//! N, so two runs write the same bytes.
//!
//! `--kustomize` writes the same objects as a Kustomize base plus three overlays, and
//! `--kapitan` as a Kapitan inventory (3 targets) with a kadet component: the peers'
//! idiomatic shape for the same workload. `--jinja2` writes the same templates and one JSON
//! file of every unit's template context (as stackc resolves it), for `bench/jinja2_twin.py`:
//! plain Jinja2 rendering the same files, the floor of any Jinja-based tool.

use clap::Parser;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one flag per output shape, as bench/run.sh calls them"
)]
#[command(about = "Generate a synthetic stack of N services x 3 environments")]
struct Args {
    /// Number of services.
    #[arg(long, default_value_t = 1000)]
    services: usize,
    /// Write the equivalent Kustomize base + overlays instead of a stackc stack.
    #[arg(long, conflicts_with = "kapitan")]
    kustomize: bool,
    /// With --kustomize: every per-service patch in the overlay's own kustomization.yaml
    /// instead of one small overlay per service (kustomize is quadratic in that shape).
    #[arg(long, requires = "kustomize")]
    flat: bool,
    /// Write the equivalent Kapitan inventory + kadet component instead of a stackc stack.
    #[arg(long, conflicts_with = "jinja2")]
    kapitan: bool,
    /// Write the templates and every unit's context as JSON, for the plain Jinja2 twin.
    #[arg(long, conflicts_with = "kustomize")]
    jinja2: bool,
    /// The folder to write into (created; existing files with the same names are replaced).
    outdir: PathBuf,
}

const NAMESPACES: usize = 10;
const ENVS: [Env; 3] = [
    Env {
        name: "dev",
        domain: "dev.bench.example",
        replicas: 1,
        res: ["100m", "128Mi", "500m", "256Mi"],
        log_level: "debug",
        debug: true,
    },
    Env {
        name: "staging",
        domain: "staging.bench.example",
        replicas: 2,
        res: ["200m", "256Mi", "1000m", "512Mi"],
        log_level: "info",
        debug: false,
    },
    Env {
        name: "production",
        domain: "bench.example",
        replicas: 3,
        res: ["500m", "512Mi", "2000m", "1Gi"],
        log_level: "warn",
        debug: false,
    },
];

struct Env {
    name: &'static str,
    domain: &'static str,
    replicas: u32,
    /// cpu, memory, cpu-limit, memory-limit
    res: [&'static str; 4],
    log_level: &'static str,
    debug: bool,
}

/// One generated service; everything derives from its index.
pub(crate) struct Service {
    name: String,
    namespace: String,
    layer: &'static str,
    tag: String,
    stateful: bool,
    /// Extra production replicas (`env "production" { replicas 4 }`) on every 5th service.
    prod_replicas: Option<u32>,
    /// The `ConfigMap`'s keys, apart from `LOG_LEVEL` (which comes from the environment).
    config: Vec<(String, String)>,
}

pub(crate) fn service(i: usize) -> Service {
    let stateful = i % 10 == 0;
    let layer = if stateful {
        "data"
    } else if i % 10 == 1 {
        "platform"
    } else {
        "apps"
    };
    let name = format!("svc-{i:04}");
    let namespace = format!("team-{:02}", i % NAMESPACES);
    let config = vec![
        ("SERVICE_NAME".into(), name.clone()),
        ("HTTP_PORT".into(), "8080".into()),
        ("METRICS_PORT".into(), "9090".into()),
        ("CACHE_TTL_SECONDS".into(), format!("{}", 60 + i % 240)),
        ("MAX_CONNECTIONS".into(), format!("{}", 100 + (i * 7) % 900)),
        (
            "FEATURE_FLAGS".into(),
            format!("search,export,beta-{}", i % 4),
        ),
        (
            "UPSTREAM_URL".into(),
            format!(
                "http://svc-{:04}.team-{:02}.svc.cluster.local:8080",
                (i + 1) % 10_000,
                (i + 1) % NAMESPACES
            ),
        ),
        ("REQUEST_TIMEOUT".into(), "30s".into()),
        ("TRACING_SAMPLE_RATE".into(), "0.1".into()),
    ];
    Service {
        tag: format!("1.{}.{}", i % 20, i % 7),
        stateful,
        prod_replicas: (i % 5 == 0).then_some(4),
        layer,
        name,
        namespace,
        config,
    }
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let services: Vec<Service> = (0..args.services).map(service).collect();
    if args.kustomize {
        kustomize(&args.outdir, &services, args.flat)
    } else if args.kapitan {
        kapitan(&args.outdir, &services)
    } else if args.jinja2 {
        jinja2(&args.outdir, &services)
    } else {
        stackc(&args.outdir, &services)
    }
}

fn write(root: &Path, path: &str, text: &str) -> std::io::Result<()> {
    let path = root.join(path);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, text)
}

// ------------------------------------------------------------------------------ stackc

pub(crate) fn stackc(root: &Path, services: &[Service]) -> std::io::Result<()> {
    let mut kdl = String::from(
        "// Generated by `cargo run --example gen_stack`: a benchmark stack, not an example to copy.\n\
         project \"bench\" domain=\"bench.example\"\n\n\
         layer \"platform\"\n\
         layer \"data\" depends-on=\"platform\"\n\
         layer \"apps\" depends-on=\"data\"\n\n\
         defaults {\n    replicas 1\n    resources cpu=\"100m\" memory=\"128Mi\" cpu-limit=\"500m\" memory-limit=\"256Mi\"\n    anti-affinity \"none\"\n}\n\n",
    );
    for (wave, env) in ENVS.iter().enumerate() {
        let promotes = if wave == 0 {
            String::new()
        } else {
            format!(" promotes-from=\"{}\"", ENVS[wave - 1].name)
        };
        let _ = writeln!(
            kdl,
            "environment \"{}\" wave={wave}{promotes} domain=\"{}\" {{",
            env.name, env.domain
        );
        let _ = writeln!(kdl, "    replicas {}", env.replicas);
        let [cpu, memory, cpu_limit, memory_limit] = env.res;
        let _ = writeln!(kdl, "    resources cpu=\"{cpu}\" memory=\"{memory}\" cpu-limit=\"{cpu_limit}\" memory-limit=\"{memory_limit}\"");
        let _ = writeln!(
            kdl,
            "    debug {}",
            if env.debug { "#true" } else { "#false" }
        );
        let _ = writeln!(
            kdl,
            "    values {{ config {{ LOG_LEVEL \"{}\" }} }}",
            env.log_level
        );
        kdl.push_str("}\n");
    }
    kdl.push('\n');
    // The issuer every Ingress names (stackc's ingress-tls rule wants it declared).
    kdl.push_str(
        "service \"letsencrypt\" layer=\"platform\" namespace=\"cert-manager\" {\n    \
         manifests \"manifests/clusterissuer.yaml\"\n}\n",
    );
    write(root, "manifests/clusterissuer.yaml", CLUSTER_ISSUER)?;
    for s in services {
        let _ = writeln!(
            kdl,
            "service \"{}\" layer=\"{}\" namespace=\"{}\" template=\"web\" {{",
            s.name, s.layer, s.namespace
        );
        let _ = writeln!(
            kdl,
            "    image \"ghcr.io/bench/{}\" tag=\"{}\"",
            s.name, s.tag
        );
        kdl.push_str("    port 8080\n");
        kdl.push_str("    ingress host=\"{{ service.name }}.{{ environment.domain }}\" tls=#true class=\"traefik\"\n");
        if s.stateful {
            kdl.push_str("    persistence size=\"8Gi\" storage-class=\"local-path\"\n");
        }
        kdl.push_str("    values {\n        config {\n");
        for (k, v) in &s.config {
            let _ = writeln!(kdl, "            {k} \"{v}\"");
        }
        kdl.push_str("        }\n    }\n");
        if s.stateful || s.prod_replicas.is_some() {
            kdl.push_str("    env \"production\" {\n");
            if let Some(r) = s.prod_replicas {
                let _ = writeln!(kdl, "        replicas {r}");
            }
            if s.stateful {
                kdl.push_str("        persistence size=\"20Gi\"\n");
            }
            kdl.push_str("    }\n");
        }
        kdl.push_str("}\n");
    }
    write(root, "stacks.kdl", &kdl)?;
    write(
        root,
        "environments/production.kdl",
        "// Production policy: strict pod anti-affinity.\nanti-affinity \"required\"\n",
    )?;
    // Staging runs several replicas: stackc's replicas rule wants them spread.
    write(
        root,
        "environments/staging.kdl",
        "// Staging policy: spread the replicas where the nodes allow.\nanti-affinity \"preferred\"\n",
    )?;
    for (path, text) in TEMPLATES {
        write(root, path, text)?;
    }
    Ok(())
}

const CLUSTER_ISSUER: &str = "apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: letsencrypt-production
spec:
  acme:
    server: https://acme-v02.api.letsencrypt.org/directory
    email: admin@bench.example
    privateKeySecretRef:
      name: letsencrypt-production-account-key
    solvers:
      - http01:
          ingress:
            ingressClassName: traefik
";

const TEMPLATES: [(&str, &str); 7] = [
    (
        "templates/_shared/meta.j2",
        r#"{% macro labels(project, service, indent) -%}
{{ {
  "app.kubernetes.io/name": service.name,
  "app.kubernetes.io/instance": service.name,
  "app.kubernetes.io/part-of": project.name,
  "app.kubernetes.io/managed-by": "stackc",
} | to_yaml(indent=indent) }}
{%- endmacro %}
{% macro selector(service, indent) -%}
{{ {"app.kubernetes.io/name": service.name, "app.kubernetes.io/instance": service.name} | to_yaml(indent=indent) }}
{%- endmacro %}
"#,
    ),
    (
        "templates/web/deployment.yaml.j2",
        r#"{% from "_shared/meta.j2" import labels, selector %}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ service.name }}
  namespace: {{ service.namespace }}
  labels:
    {{ labels(project, service, 4) }}
spec:
  replicas: {{ service.replicas }}
  selector:
    matchLabels:
      {{ selector(service, 6) }}
  template:
    metadata:
      labels:
        {{ labels(project, service, 8) }}
    spec:
{% if service.anti_affinity == "required" %}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - labelSelector:
                matchLabels:
                  {{ selector(service, 18) }}
              topologyKey: kubernetes.io/hostname
{% endif %}
      containers:
        - name: {{ service.name }}
          image: {{ (service.image.repository ~ ":" ~ service.image.tag) | to_yaml }}
          ports:
            - name: http
              containerPort: {{ service.port }}
              protocol: TCP
          env:
            - name: DEBUG
              value: {{ ("true" if service.debug else "false") | to_yaml }}
          envFrom:
            - configMapRef:
                name: {{ service.name }}-config
          resources:
            {{ service.resources | to_yaml(indent=12) }}
{% if service.persistence is defined %}
          volumeMounts:
            - name: data
              mountPath: /data
      volumes:
        - name: data
          persistentVolumeClaim:
            claimName: {{ service.name }}-data
{% endif %}
"#,
    ),
    (
        "templates/web/service.yaml.j2",
        r#"{% from "_shared/meta.j2" import labels, selector %}
apiVersion: v1
kind: Service
metadata:
  name: {{ service.name }}
  namespace: {{ service.namespace }}
  labels:
    {{ labels(project, service, 4) }}
spec:
  type: ClusterIP
  selector:
    {{ selector(service, 4) }}
  ports:
    - name: http
      port: {{ service.port }}
      targetPort: http
      protocol: TCP
"#,
    ),
    (
        "templates/web/configmap.yaml.j2",
        r#"{% from "_shared/meta.j2" import labels %}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ service.name }}-config
  namespace: {{ service.namespace }}
  labels:
    {{ labels(project, service, 4) }}
  annotations:
    bench.stackc.dev/revision: "1"
data:
{% for key, value in service.values.config | items %}
  {{ key }}: {{ value | string | to_yaml }}
{% endfor %}
"#,
    ),
    (
        "templates/web/ingress.yaml.j2",
        r#"{% from "_shared/meta.j2" import labels %}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ service.name }}
  namespace: {{ service.namespace }}
  labels:
    {{ labels(project, service, 4) }}
  annotations:
    cert-manager.io/cluster-issuer: letsencrypt-production
spec:
  ingressClassName: {{ service.ingress.class }}
  tls:
    - hosts:
        - {{ service.ingress.host }}
      secretName: {{ service.name }}-tls
  rules:
    - host: {{ service.ingress.host }}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {{ service.name }}
                port:
                  number: {{ service.port }}
"#,
    ),
    (
        "templates/web/pvc.yaml.j2",
        r#"{% if service.persistence is defined %}
{% from "_shared/meta.j2" import labels %}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ service.name }}-data
  namespace: {{ service.namespace }}
  labels:
    {{ labels(project, service, 4) }}
spec:
  accessModes:
    - ReadWriteOnce
  storageClassName: {{ service.persistence.storage_class }}
  resources:
    requests:
      storage: {{ service.persistence.size }}
{% endif %}
"#,
    ),
    (
        "templates/README.md",
        "Generated by gen_stack: one `web` template set, every service uses it.\n",
    ),
];

// ------------------------------------------------------------------------------ jinja2

/// A JSON string literal.
fn js(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn jinja2(root: &Path, services: &[Service]) -> std::io::Result<()> {
    let mut units = Vec::new();
    for env in &ENVS {
        for s in services {
            let replicas = match (env.name, s.prod_replicas) {
                ("production", Some(r)) => r,
                _ => env.replicas,
            };
            let [cpu, memory, cpu_limit, memory_limit] = env.res;
            let anti = if env.name == "production" {
                "required"
            } else {
                "none"
            };
            let mut config: Vec<String> = s
                .config
                .iter()
                .map(|(k, v)| format!("{}: {}", js(k), js(v)))
                .collect();
            config.push(format!("\"LOG_LEVEL\": {}", js(env.log_level)));
            let persistence = if s.stateful {
                let size = if env.name == "production" {
                    "20Gi"
                } else {
                    "8Gi"
                };
                format!(", \"persistence\": {{\"size\": \"{size}\", \"storage_class\": \"local-path\"}}")
            } else {
                String::new()
            };
            units.push(format!(
                "{{\"env\": \"{env}\", \"layer\": \"{layer}\", \"project\": {{\"name\": \"bench\"}}, \
                 \"environment\": {{\"name\": \"{env}\", \"domain\": \"{domain}\"}}, \
                 \"service\": {{\"name\": \"{name}\", \"namespace\": \"{ns}\", \"layer\": \"{layer}\", \
                 \"replicas\": {replicas}, \"anti_affinity\": \"{anti}\", \"debug\": {debug}, \"port\": 8080, \
                 \"image\": {{\"repository\": \"ghcr.io/bench/{name}\", \"tag\": \"{tag}\"}}, \
                 \"resources\": {{\"requests\": {{\"cpu\": \"{cpu}\", \"memory\": \"{memory}\"}}, \
                 \"limits\": {{\"cpu\": \"{cpu_limit}\", \"memory\": \"{memory_limit}\"}}}}, \
                 \"ingress\": {{\"host\": \"{name}.{domain}\", \"class\": \"traefik\", \"tls\": true}}, \
                 \"values\": {{\"config\": {{{config}}}}}{persistence}}}}}",
                env = env.name,
                domain = env.domain,
                layer = s.layer,
                name = s.name,
                ns = s.namespace,
                debug = env.debug,
                tag = s.tag,
                config = config.join(", "),
            ));
        }
    }
    write(
        root,
        "contexts.json",
        &format!("[\n{}\n]\n", units.join(",\n")),
    )?;
    for (path, text) in TEMPLATES {
        write(root, path, text)?;
    }
    Ok(())
}

// ------------------------------------------------------------------------------ kustomize

fn labels_yaml(s: &Service, indent: usize) -> String {
    let pad = " ".repeat(indent);
    format!(
        "{pad}app.kubernetes.io/instance: {n}\n{pad}app.kubernetes.io/managed-by: stackc\n{pad}app.kubernetes.io/name: {n}\n{pad}app.kubernetes.io/part-of: bench\n",
        n = s.name
    )
}

fn selector_yaml(s: &Service, indent: usize) -> String {
    let pad = " ".repeat(indent);
    format!(
        "{pad}app.kubernetes.io/instance: {n}\n{pad}app.kubernetes.io/name: {n}\n",
        n = s.name
    )
}

/// A base with dev's values (and a placeholder host), three overlays that patch what
/// differs: a kind-wide patch for policy (resources, `DEBUG`, `LOG_LEVEL`), and per-service
/// patches for what is per service (host, anti-affinity, PVC size, replicas). The per-service
/// patches sit in one small overlay per service (`overlays/<env>/<ns>/<svc>/`), so each
/// patch scans only its service's objects; with `flat` they all sit in
/// `overlays/<env>/kustomization.yaml`, where every patch scans every object.
fn kustomize(root: &Path, services: &[Service], flat: bool) -> std::io::Result<()> {
    let mut base = String::from(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
    );
    for ns in 0..NAMESPACES {
        let path = format!("namespaces/team-{ns:02}.yaml");
        write(
            &root.join("base"),
            &path,
            &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-{ns:02}\n"),
        )?;
        let _ = writeln!(base, "  - {path}");
    }
    let dev = &ENVS[0];
    for s in services {
        let dir = format!("{}/{}", s.namespace, s.name);
        let l4 = labels_yaml(s, 4);
        let deployment = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {n}\n  namespace: {ns}\n  labels:\n{l4}spec:\n  replicas: 1\n  selector:\n    matchLabels:\n{sel6}  template:\n    metadata:\n      labels:\n{l8}    spec:\n      containers:\n        - name: {n}\n          image: ghcr.io/bench/{n}:{tag}\n          ports:\n            - name: http\n              containerPort: 8080\n              protocol: TCP\n          env:\n            - name: DEBUG\n              value: \"true\"\n          envFrom:\n            - configMapRef:\n                name: {n}-config\n          resources:\n            limits:\n              cpu: {cl}\n              memory: {ml}\n            requests:\n              cpu: {c}\n              memory: {m}\n{vol}",
            n = s.name,
            ns = s.namespace,
            tag = s.tag,
            sel6 = selector_yaml(s, 6),
            l8 = labels_yaml(s, 8),
            c = dev.res[0],
            m = dev.res[1],
            cl = dev.res[2],
            ml = dev.res[3],
            vol = if s.stateful {
                format!("          volumeMounts:\n            - name: data\n              mountPath: /data\n      volumes:\n        - name: data\n          persistentVolumeClaim:\n            claimName: {}-data\n", s.name)
            } else {
                String::new()
            },
        );
        let svc = format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {n}\n  namespace: {ns}\n  labels:\n{l4}spec:\n  type: ClusterIP\n  selector:\n{sel4}  ports:\n    - name: http\n      port: 8080\n      targetPort: http\n      protocol: TCP\n",
            n = s.name,
            ns = s.namespace,
            sel4 = selector_yaml(s, 4)
        );
        let mut data = String::new();
        for (k, v) in &s.config {
            let _ = writeln!(data, "  {k}: \"{v}\"");
        }
        let cm = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}-config\n  namespace: {ns}\n  labels:\n{l4}  annotations:\n    bench.stackc.dev/revision: \"1\"\ndata:\n  LOG_LEVEL: debug\n{data}",
            n = s.name,
            ns = s.namespace
        );
        let ing = format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {n}\n  namespace: {ns}\n  labels:\n{l4}  annotations:\n    cert-manager.io/cluster-issuer: letsencrypt-production\nspec:\n  ingressClassName: traefik\n  tls:\n    - hosts:\n        - {n}.HOST\n      secretName: {n}-tls\n  rules:\n    - host: {n}.HOST\n      http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service:\n                name: {n}\n                port:\n                  number: 8080\n",
            n = s.name,
            ns = s.namespace
        );
        let mut files = vec![
            ("deployment.yaml", deployment),
            ("service.yaml", svc),
            ("configmap.yaml", cm),
            ("ingress.yaml", ing),
        ];
        if s.stateful {
            files.push((
                "pvc.yaml",
                format!(
                    "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {n}-data\n  namespace: {ns}\n  labels:\n{l4}spec:\n  accessModes:\n    - ReadWriteOnce\n  storageClassName: local-path\n  resources:\n    requests:\n      storage: 8Gi\n",
                    n = s.name,
                    ns = s.namespace
                ),
            ));
        }
        let mut kust = String::from(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
        );
        for (file, text) in &files {
            write(&root.join("base"), &format!("{dir}/{file}"), text)?;
            let _ = writeln!(kust, "  - {file}");
        }
        write(
            &root.join("base"),
            &format!("{dir}/kustomization.yaml"),
            &kust,
        )?;
        let _ = writeln!(base, "  - {dir}");
    }
    write(root, "base/kustomization.yaml", &base)?;

    if !flat {
        // The overlays take the base's folders one by one, through their per-service overlays.
        let mut namespaces = String::from(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
        );
        for ns in 0..NAMESPACES {
            let _ = writeln!(namespaces, "  - team-{ns:02}.yaml");
        }
        write(root, "base/namespaces/kustomization.yaml", &namespaces)?;
    }
    for env in &ENVS {
        let mut k = String::from(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
        );
        if flat {
            k.push_str("  - ../../base\n");
        } else {
            k.push_str("  - ../../base/namespaces\n");
            for s in services {
                let _ = writeln!(k, "  - {}/{}", s.namespace, s.name);
            }
        }
        let _ = write!(
            k,
            "patches:\n  - target:\n      kind: Deployment\n    patch: |-\n      - op: replace\n        path: /spec/template/spec/containers/0/resources\n        value: {{requests: {{cpu: {c}, memory: {m}}}, limits: {{cpu: {cl}, memory: {ml}}}}}\n      - op: replace\n        path: /spec/template/spec/containers/0/env/0/value\n        value: \"{d}\"\n  - target:\n      kind: ConfigMap\n    patch: |-\n      - op: replace\n        path: /data/LOG_LEVEL\n        value: {ll}\n",
            c = env.res[0],
            m = env.res[1],
            cl = env.res[2],
            ml = env.res[3],
            d = env.debug,
            ll = env.log_level
        );
        let mut patches = String::new();
        for s in services {
            if !flat {
                patches.clear();
            }
            let host = format!("{}.{}", s.name, env.domain);
            let _ = write!(
                patches,
                "  - target:\n      kind: Ingress\n      name: {n}\n    patch: |-\n      - op: replace\n        path: /spec/rules/0/host\n        value: {host}\n      - op: replace\n        path: /spec/tls/0/hosts/0\n        value: {host}\n",
                n = s.name
            );
            let replicas = if env.name == "production" {
                s.prod_replicas.unwrap_or(env.replicas)
            } else {
                env.replicas
            };
            let mut ops = String::new();
            if replicas != 1 {
                let _ = write!(ops, "      - op: replace\n        path: /spec/replicas\n        value: {replicas}\n");
            }
            if env.name == "production" {
                let _ = write!(
                    ops,
                    "      - op: add\n        path: /spec/template/spec/affinity\n        value: {{podAntiAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: [{{labelSelector: {{matchLabels: {{app.kubernetes.io/instance: {n}, app.kubernetes.io/name: {n}}}}}, topologyKey: kubernetes.io/hostname}}]}}}}\n",
                    n = s.name
                );
            }
            if !ops.is_empty() {
                let _ = write!(
                    patches,
                    "  - target:\n      kind: Deployment\n      name: {}\n    patch: |-\n{ops}",
                    s.name
                );
            }
            if s.stateful && env.name == "production" {
                let _ = write!(
                    patches,
                    "  - target:\n      kind: PersistentVolumeClaim\n      name: {}-data\n    patch: |-\n      - op: replace\n        path: /spec/resources/requests/storage\n        value: 20Gi\n",
                    s.name
                );
            }
            if !flat {
                write(
                    root,
                    &format!("overlays/{}/{}/{}/kustomization.yaml", env.name, s.namespace, s.name),
                    &format!(
                        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../../../base/{}/{}\npatches:\n{patches}",
                        s.namespace, s.name
                    ),
                )?;
            }
        }
        if flat {
            k.push_str(&patches);
        }
        write(
            root,
            &format!("overlays/{}/kustomization.yaml", env.name),
            &k,
        )?;
    }
    Ok(())
}

// ------------------------------------------------------------------------------ kapitan

/// An inventory (a class with the services and defaults, a class per environment, one target
/// per environment with its per-service overrides) and a kadet component writing one file
/// per object, the way stackc does.
fn kapitan(root: &Path, services: &[Service]) -> std::io::Result<()> {
    let mut common = String::from(
        "parameters:\n  project: bench\n  defaults:\n    replicas: 1\n    anti_affinity: none\n  services:\n",
    );
    for s in services {
        let _ = write!(
            common,
            "    {n}:\n      namespace: {ns}\n      layer: {l}\n      image: ghcr.io/bench/{n}\n      tag: \"{t}\"\n      port: 8080\n",
            n = s.name,
            ns = s.namespace,
            l = s.layer,
            t = s.tag
        );
        if s.stateful {
            common.push_str("      persistence: {size: 8Gi, storage_class: local-path}\n");
        }
        common.push_str("      config:\n");
        for (k, v) in &s.config {
            let _ = writeln!(common, "        {k}: \"{v}\"");
        }
    }
    write(root, "inventory/classes/common.yml", &common)?;
    for env in &ENVS {
        let mut class = format!(
            "parameters:\n  env:\n    name: {n}\n    domain: {d}\n    replicas: {r}\n    debug: {dbg}\n    log_level: {ll}\n    anti_affinity: {aa}\n    resources:\n      requests: {{cpu: {c}, memory: {m}}}\n      limits: {{cpu: {cl}, memory: {ml}}}\n",
            n = env.name,
            d = env.domain,
            r = env.replicas,
            dbg = env.debug,
            ll = env.log_level,
            aa = if env.name == "production" { "required" } else { "none" },
            c = env.res[0],
            m = env.res[1],
            cl = env.res[2],
            ml = env.res[3],
        );
        if env.name == "production" {
            class.push_str("  services:\n");
            for s in services
                .iter()
                .filter(|s| s.stateful || s.prod_replicas.is_some())
            {
                let _ = writeln!(class, "    {}:", s.name);
                if let Some(r) = s.prod_replicas {
                    let _ = writeln!(class, "      replicas: {r}");
                }
                if s.stateful {
                    class.push_str("      persistence: {size: 20Gi}\n");
                }
            }
        }
        write(
            root,
            &format!("inventory/classes/env/{}.yml", env.name),
            &class,
        )?;
        write(
            root,
            &format!("inventory/targets/{}.yml", env.name),
            &format!(
                "classes:\n  - common\n  - env.{n}\nparameters:\n  kapitan:\n    vars:\n      target: {n}\n    compile:\n      - output_path: .\n        input_type: kadet\n        output_type: yml\n        input_paths:\n          - components/web\n",
                n = env.name
            ),
        )?;
    }
    write(root, "components/web/__init__.py", KADET)?;
    Ok(())
}

const KADET: &str = r#"from kapitan.inputs.kadet import BaseObj, inventory

inv = inventory()


def labels(name):
    return {
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "stackc",
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": inv.parameters.project,
    }


def selector(name):
    return {"app.kubernetes.io/instance": name, "app.kubernetes.io/name": name}


def obj(api_version, kind, name, namespace, **extra):
    o = BaseObj()
    o.root.apiVersion = api_version
    o.root.kind = kind
    o.root.metadata.name = name
    o.root.metadata.namespace = namespace
    o.root.metadata.labels = labels(extra.pop("owner", name))
    for k, v in extra.items():
        o.root[k] = v
    return o


def main(input_params):
    p = inv.parameters
    env = p.env
    out = {}
    for name, s in p.services.items():
        ns = s.namespace
        replicas = s.get("replicas", env.replicas)
        host = name + "." + env.domain
        spec = {
            "containers": [{
                "name": name,
                "image": s.image + ":" + s.tag,
                "ports": [{"name": "http", "containerPort": s.port, "protocol": "TCP"}],
                "env": [{"name": "DEBUG", "value": "true" if env.debug else "false"}],
                "envFrom": [{"configMapRef": {"name": name + "-config"}}],
                "resources": {"requests": dict(env.resources.requests), "limits": dict(env.resources.limits)},
            }],
        }
        if env.anti_affinity == "required":
            spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": selector(name)}, "topologyKey": "kubernetes.io/hostname"}]}}
        if "persistence" in s:
            spec["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
            spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": name + "-data"}}]
        d = s.layer + "/" + ns + "/" + name + "/"
        out[d + "deployment-" + name] = obj("apps/v1", "Deployment", name, ns, spec={
            "replicas": replicas,
            "selector": {"matchLabels": selector(name)},
            "template": {"metadata": {"labels": labels(name)}, "spec": spec},
        })
        out[d + "service-" + name] = obj("v1", "Service", name, ns, spec={
            "type": "ClusterIP", "selector": selector(name),
            "ports": [{"name": "http", "port": s.port, "targetPort": "http", "protocol": "TCP"}],
        })
        cm = obj("v1", "ConfigMap", name + "-config", ns, owner=name, data=dict({"LOG_LEVEL": env.log_level}, **s.config))
        cm.root.metadata.annotations = {"bench.stackc.dev/revision": "1"}
        out[d + "configmap-" + name + "-config"] = cm
        ing = obj("networking.k8s.io/v1", "Ingress", name, ns, spec={
            "ingressClassName": "traefik",
            "tls": [{"hosts": [host], "secretName": name + "-tls"}],
            "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                "service": {"name": name, "port": {"number": s.port}}}}]}}],
        })
        ing.root.metadata.annotations = {"cert-manager.io/cluster-issuer": "letsencrypt-production"}
        out[d + "ingress-" + name] = ing
        if "persistence" in s:
            out[d + "persistentvolumeclaim-" + name + "-data"] = obj("v1", "PersistentVolumeClaim", name + "-data", ns, owner=name, spec={
                "accessModes": ["ReadWriteOnce"], "storageClassName": s.persistence.storage_class,
                "resources": {"requests": {"storage": s.persistence.size}},
            })
    return out
"#;
