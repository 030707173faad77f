//! The `schema` rule: rendered objects against the API schemas compiled into stackc. A
//! misspelt field, a wrong type and a missing required field are caught in a template, in a
//! plain manifest and in a CRD kind, pointing at the template line; the Kubernetes version is
//! a setting; and the Python package `kubernetes-validate` agrees with stackc on the same files.

use crate::harness::{require_tool, Test};
use serde_json::Value as Json;
use std::process::Command;

const STACK: &str = r#"project "shop" domain="example.org"

layer "apps"

defaults {
    resources cpu="100m" memory="128Mi" cpu-limit="500m" memory-limit="256Mi"
}

environment "dev" wave=0 domain="dev.example.org"

service "web" layer="apps" namespace="web" template="web" {
    image "nginx" tag="1.27.3"
    port 80
}
"#;

/// A Deployment template that validates, with `{{ '{{' }}` left to minijinja.
const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ service.name }}
  namespace: {{ service.namespace }}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {{ service.name }}
  template:
    metadata:
      labels:
        app: {{ service.name }}
    spec:
      containers:
        - name: {{ service.name }}
          image: nginx:1.27.3
          ports:
            - containerPort: {{ service.port }}
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: 500m, memory: 256Mi}
";

fn with_template(template: &str) -> Test {
    Test::new()
        .file("stacks.kdl", STACK)
        .file("templates/web/deployment.yaml.j2", template)
}

/// The `schema` findings of `stackc check --format json`, and its exit code.
fn schema_findings(t: &Test) -> (i32, Vec<Json>) {
    let run = t.run(&["check", "--format", "json"]);
    let doc: Json = serde_json::from_str(&run.stdout())
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", run.stdout(), run.stderr()));
    let all = doc["findings"].as_array().cloned().unwrap_or_default();
    (
        run.code(),
        all.into_iter().filter(|f| f["rule"] == "schema").collect(),
    )
}

fn line_of(text: &str, needle: &str) -> u64 {
    text.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1
}

#[test]
fn a_valid_template_passes_the_schema() {
    let (code, found) = schema_findings(&with_template(DEPLOYMENT));
    assert_eq!((code, found.len()), (0, 0), "{found:#?}");
}

#[test]
fn a_misspelt_field_in_a_template_names_the_path_and_the_template_line() {
    let template = DEPLOYMENT.replace("  replicas: 1", "  replica: 1");
    let t = with_template(&template);
    let (code, found) = schema_findings(&t);
    assert_eq!(code, 1);
    assert_eq!(found.len(), 1, "{found:#?}");
    let hit = &found[0];
    assert_eq!(hit["code"], "stackc::check::schema");
    assert_eq!(hit["object"], "Deployment web/web");
    assert_eq!(hit["file"], "templates/web/deployment.yaml.j2");
    assert_eq!(hit["line"], line_of(&template, "replica: 1"));
    assert!(
        hit["message"]
            .as_str()
            .unwrap()
            .starts_with("unknown field `spec.replica` in the schema of apps/v1 Deployment"),
        "{hit:#}"
    );
    assert_eq!(hit["help"], "did you mean `replicas`?");
    // The text output shows the template line.
    t.run(&["check"]).status(1).stderr_has(&[
        "stackc::check::schema",
        &format!(
            "[templates/web/deployment.yaml.j2:{}:",
            line_of(&template, "replica: 1")
        ),
        "replica: 1",
    ]);
}

#[test]
fn a_wrong_type_and_a_missing_required_field_in_a_template() {
    let template = DEPLOYMENT
        .replace("  replicas: 1", "  replicas: \"1\"")
        .replace(
            "        - name: {{ service.name }}\n          image:",
            "        - image:",
        );
    let (code, found) = schema_findings(&with_template(&template));
    assert_eq!(code, 1);
    let messages: Vec<&str> = found
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    let wrong = found
        .iter()
        .find(|f| {
            f["message"]
                .as_str()
                .unwrap()
                .starts_with("field `spec.replicas` is a string")
        })
        .unwrap_or_else(|| panic!("{messages:#?}"));
    assert_eq!(wrong["line"], line_of(&template, "replicas: \"1\""));
    let missing = found
        .iter()
        .find(|f| {
            f["message"]
                .as_str()
                .unwrap()
                .starts_with("missing required field `spec.template.spec.containers[0].name`")
        })
        .unwrap_or_else(|| panic!("{messages:#?}"));
    assert_eq!(missing["line"], line_of(&template, "containers:"));
    assert_eq!(found.len(), 2, "{messages:#?}");
}

/// One process checks a kind's first few objects with schemas cut to their fields and the
/// rest with the kind's whole schema: twelve services with the same mistakes get the same
/// findings, whichever way each was checked.
#[test]
fn every_object_of_a_kind_gets_the_same_findings_cut_or_whole() {
    use std::fmt::Write as _;
    let mut stack = STACK.split("service \"web\"").next().unwrap().to_string();
    for i in 0..12 {
        writeln!(
            stack,
            "service \"web{i:02}\" layer=\"apps\" namespace=\"web{i:02}\" template=\"web\" {{\n    image \"nginx\" tag=\"1.27.3\"\n    port 80\n}}"
        )
        .unwrap();
    }
    let template = DEPLOYMENT
        .replace("  replicas: 1", "  replica: \"1\"")
        .replace(
            "          ports:",
            "          imagePullPolicy: 3\n          readinessProbe: {httpGet: {prot: 1, port: 80}}\n          ports:",
        )
        .replace("            - containerPort: {{ service.port }}", "            - containerPort: http");
    let t = Test::new()
        .file("stacks.kdl", &stack)
        .file("templates/web/deployment.yaml.j2", &template);
    let (code, found) = schema_findings(&t);
    assert_eq!(code, 1);
    let mut by_service = std::collections::BTreeMap::<String, Vec<String>>::new();
    for f in &found {
        let object = f["object"].as_str().unwrap();
        let service = object.rsplit('/').next().unwrap().to_string();
        by_service.entry(service.clone()).or_default().push(format!(
            "{} | {} | {}",
            f["message"].as_str().unwrap().replace(&service, "SERVICE"),
            f["help"],
            f["line"]
        ));
    }
    assert_eq!(by_service.len(), 12, "{found:#?}");
    let first = by_service.values().next().unwrap().clone();
    assert_eq!(first.len(), 4, "{first:#?}");
    for (service, findings) in &by_service {
        assert_eq!(findings, &first, "{service}");
    }
    for wanted in [
        "unknown field `spec.replica`",
        "field `spec.template.spec.containers[0].imagePullPolicy` is a number",
        "unknown field `spec.template.spec.containers[0].readinessProbe.httpGet.prot`",
        "field `spec.template.spec.containers[0].ports[0].containerPort` is a string",
    ] {
        assert!(
            first.iter().any(|f| f.starts_with(wanted)),
            "{wanted}: {first:#?}"
        );
    }
}

#[test]
fn a_plain_manifest_is_checked_and_an_allow_switches_the_rule_off() {
    let manifest = "apiVersion: v1\nkind: Service\nmetadata:\n  name: extra\n  namespace: web\nspec:\n  ports:\n    - port: \"80\"\n      protocl: TCP\n";
    let stack = STACK.replace(
        "    port 80\n",
        "    port 80\n    manifests \"manifests/extra.yaml\"\n",
    );
    let t = with_template(DEPLOYMENT)
        .file("stacks.kdl", &stack)
        .file("manifests/extra.yaml", manifest);
    let (code, found) = schema_findings(&t);
    assert_eq!(code, 1);
    assert_eq!(found.len(), 2, "{found:#?}");
    for f in &found {
        assert_eq!(f["file"], "manifests/extra.yaml", "{f:#}");
        assert_eq!(f["object"], "Service web/extra");
    }
    assert!(found.iter().any(|f| f["message"]
        .as_str()
        .unwrap()
        .starts_with("field `spec.ports[0].port` is a string (\"80\"), the schema of v1 Service wants an integer")
        && f["line"] == line_of(manifest, "port: \"80\"")));
    assert!(found.iter().any(|f| f["message"]
        .as_str()
        .unwrap()
        .starts_with("unknown field `spec.ports[0].protocl`")
        && f["help"] == "did you mean `protocol`?"
        && f["line"] == line_of(manifest, "protocl")));

    let allowed = stack.replace(
        "    port 80\n",
        "    port 80\n    allow \"schema\" reason=\"the service is generated elsewhere\"\n",
    );
    t.write("stacks.kdl", &allowed);
    assert!(schema_findings(&t).1.is_empty());
}

#[test]
fn crd_kinds_validate_against_their_crd_schemas() {
    // A Certificate (cert-manager) with a misspelt field, a wrong type and no issuerRef.
    let certificate = "apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: web-tls
  namespace: web
spec:
  secretName: web-tls
  dnsNames: web.example.org
  duraton: 2160h
";
    let release = "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: web
spec:
  interval: 10m
  chart:
    spec:
      chart: podinfo
      sourceRef:
        kind: HelmRepository
        name: podinfo
  values:
    anything: goes
    here: [1, 2]
";
    let stack = STACK.replace(
        "    port 80\n",
        "    port 80\n    manifests \"manifests/certificate.yaml\" \"manifests/release.yaml\"\n",
    );
    let t = with_template(DEPLOYMENT)
        .file("stacks.kdl", &stack)
        .file("manifests/certificate.yaml", certificate)
        .file("manifests/release.yaml", release);
    let (code, found) = schema_findings(&t);
    assert_eq!(code, 1);
    let messages: Vec<&str> = found
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(found.len(), 3, "{messages:#?}");
    assert!(found
        .iter()
        .all(|f| f["file"] == "manifests/certificate.yaml"));
    let has = |start: &str, line: &str| {
        assert!(
            found
                .iter()
                .any(|f| f["message"].as_str().unwrap().starts_with(start)
                    && f["line"] == line_of(certificate, line)),
            "{start}: {messages:#?}"
        );
    };
    has(
        "unknown field `spec.duraton` in the schema of cert-manager.io/v1 Certificate",
        "duraton",
    );
    has("field `spec.dnsNames` is a string", "dnsNames");
    has("missing required field `spec.issuerRef`", "spec:");
}

#[test]
fn the_kubernetes_version_is_a_setting_and_a_removed_api_is_named() {
    let hpa = "apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
";
    let stack = STACK.replace(
        "    port 80\n",
        "    port 80\n    manifests \"manifests/hpa.yaml\"\n",
    );
    let t = with_template(DEPLOYMENT)
        .file("stacks.kdl", &stack)
        .file("manifests/hpa.yaml", hpa);
    let (_, found) = schema_findings(&t);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0]["message"],
        "Kubernetes 1.37 does not serve HorizontalPodAutoscaler as `apiVersion: autoscaling/v2beta2`"
    );
    assert_eq!(
        found[0]["help"],
        "use `apiVersion: autoscaling/v1` or `autoscaling/v2`"
    );
    assert_eq!(found[0]["line"], 1);

    // An unknown version is a finding at the setting; a known one is used.
    let text = STACK.replace(
        "environment \"dev\" wave=0 domain=\"dev.example.org\"",
        "environment \"dev\" wave=0 domain=\"dev.example.org\" {\n    policy kubernetes=\"1.20\"\n}",
    );
    let t = with_template(DEPLOYMENT).file("stacks.kdl", &text);
    let (code, found) = schema_findings(&t);
    assert_eq!(code, 1);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0]["message"],
        "stackc has no schemas for Kubernetes `1.20`"
    );
    assert_eq!(found[0]["file"], "stacks.kdl");
    assert_eq!(found[0]["line"], line_of(&text, "policy kubernetes"));
    t.write("stacks.kdl", &text.replace("1.20", "1.33"));
    assert_eq!(schema_findings(&t), (0, Vec::new()));
}

/// Objects that are valid for Kubernetes 1.37, one per file.
const VALID: &[&str] = &[
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c1\n  namespace: web\ndata:\n  key: value\n",
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: s1\n  namespace: web\nspec:\n  selector: {app: web}\n  ports:\n    - port: 80\n      targetPort: http\n",
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: s2\n  namespace: web\nspec:\n  type: NodePort\n  ports:\n    - port: 443\n      targetPort: 8443\n      nodePort: 30443\n      protocol: TCP\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d1\n  namespace: web\n  labels: {app: web}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27.3\n          resources:\n            requests: {cpu: 0.5, memory: 128Mi}\n            limits: {cpu: 1, memory: 256Mi}\n          readinessProbe:\n            httpGet: {path: /, port: http}\n",
    "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: st1\n  namespace: web\nspec:\n  serviceName: st1\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec:\n      containers:\n        - name: db\n          image: postgres:17\n  volumeClaimTemplates:\n    - metadata: {name: data}\n      spec:\n        accessModes: [ReadWriteOnce]\n        resources: {requests: {storage: 10Gi}}\n",
    "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: ds1\n  namespace: web\nspec:\n  selector: {matchLabels: {app: agent}}\n  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      tolerations:\n        - operator: Exists\n      containers:\n        - name: agent\n          image: busybox:1.37\n",
    "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j1\n  namespace: web\nspec:\n  backoffLimit: 2\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: once\n          image: busybox:1.37\n          command: [sh, -c, 'echo hi']\n",
    "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: cj1\n  namespace: web\nspec:\n  schedule: '*/5 * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n            - name: tick\n              image: busybox:1.37\n",
    "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: i1\n  namespace: web\n  annotations: {cert-manager.io/cluster-issuer: letsencrypt}\nspec:\n  ingressClassName: traefik\n  tls:\n    - hosts: [web.example.org]\n      secretName: web-tls\n  rules:\n    - host: web.example.org\n      http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service: {name: web, port: {number: 80}}\n",
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np1\n  namespace: web\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n    - from:\n        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: traefik}}\n      ports:\n        - port: 80\n          protocol: TCP\n",
    "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: pdb1\n  namespace: web\nspec:\n  minAvailable: 50%\n  selector: {matchLabels: {app: web}}\n",
    "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: h1\n  namespace: web\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d1}\n  minReplicas: 2\n  maxReplicas: 5\n  metrics:\n    - type: Resource\n      resource:\n        name: cpu\n        target: {type: Utilization, averageUtilization: 80}\n",
    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa1\n  namespace: web\nautomountServiceAccountToken: false\n",
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: r1\n  namespace: web\nrules:\n  - apiGroups: ['']\n    resources: [configmaps]\n    verbs: [get, list]\n",
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb1\n  namespace: web\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r1}\nsubjects:\n  - kind: ServiceAccount\n    name: sa1\n    namespace: web\n",
    "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: pvc1\n  namespace: web\nspec:\n  accessModes: [ReadWriteOnce]\n  storageClassName: local-path\n  resources: {requests: {storage: 5Gi}}\n",
    "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: lr1\n  namespace: web\nspec:\n  limits:\n    - type: Container\n      default: {cpu: 500m, memory: 256Mi}\n      defaultRequest: {cpu: 100m, memory: 128Mi}\n",
    "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: rq1\n  namespace: web\nspec:\n  hard: {pods: '10', requests.cpu: '4', limits.memory: 8Gi}\n",
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\n  namespace: web\nspec:\n  containers:\n    - name: app\n      image: nginx:1.27.3\n      env:\n        - name: MODE\n          value: production\n        - name: PASSWORD\n          valueFrom: {secretKeyRef: {name: app, key: password}}\n      ports:\n        - containerPort: 8080\n          name: http\n",
    "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: l1\n  namespace: web\nspec:\n  holderIdentity: node-a\n  leaseDurationSeconds: 15\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d2\n  namespace: web\nspec:\n  strategy:\n    type: RollingUpdate\n    rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}\n  selector: {matchLabels: {app: d2}}\n  template:\n    metadata: {labels: {app: d2}}\n    spec:\n      affinity:\n        podAntiAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            - labelSelector: {matchLabels: {app: d2}}\n              topologyKey: kubernetes.io/hostname\n      containers:\n        - name: d2\n          image: nginx:1.27.3\n",
];

/// Objects that are not: a misspelt field, a wrong type or a missing required field each.
const INVALID: &[&str] = &[
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x1\n  namespace: web\nspec:\n  replica: 2\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec:\n      containers: [{name: x, image: 'nginx:1'}]\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x2\n  namespace: web\nspec:\n  replicas: '3'\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec:\n      containers: [{name: x, image: 'nginx:1'}]\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x3\n  namespace: web\nspec:\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec:\n      containers: [{image: 'nginx:1'}]\n",
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: x4\n  namespace: web\nspec:\n  ports:\n    - port: '80'\n",
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: x5\n  namespace: web\nspec:\n  ports:\n    - targetPort: 80\n",
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: x6\n  namespace: web\nspec:\n  tpye: ClusterIP\n  ports: [{port: 80}]\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x7\n  namespace: web\ndata:\n  count: 1\n",
    "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: x8\n  namespace: web\nspec:\n  rules:\n    - host: 5\n",
    "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: x9\n  namespace: web\nspec:\n  rules:\n    - host: web.example.org\n      http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service: {port: {number: 80}}\n",
    "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: x10\n  namespace: web\nspec:\n  serviceName: x10\n  template:\n    spec:\n      containers: [{name: db, image: 'postgres:17'}]\n",
    "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x11\n  namespace: web\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: j, image: 5}]\n",
    "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: x12\n  namespace: web\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers: [{name: t, image: 'busybox:1'}]\n",
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: x13\n  namespace: web\nspec:\n  podSelector: {}\n  policyTypes: Ingress\n",
    "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: x14\n  namespace: web\nspec:\n  minAvailable: true\n",
    "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: x15\n  namespace: web\nspec:\n  minReplicas: 1\n  maxReplicas: 3\n",
    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x16\n  namespace: web\nautomountServiceAccountToken: 'yes'\n",
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: x17\n  namespace: web\nrules:\n  - apiGroups: ['']\n    resources: [pods]\n",
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: x18\n  namespace: web\nsubjects:\n  - kind: ServiceAccount\n    name: sa1\n",
    "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: x19\n  namespace: web\nspec:\n  accessModes: ReadWriteOnce\n",
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x20\n  namespace: web\nspec:\n  containers:\n    - name: app\n      image: nginx:1\n      ports:\n        - name: http\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x21\n  namespace: web\n  labels: {tier: 1}\n",
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x22\n  namespace: web\nspec:\n  containers:\n    - name: app\n      image: nginx:1\n      resources: {limits: {cpu: true}}\n",
];

#[test]
fn kubernetes_validate_agrees_with_stackc_on_valid_and_invalid_objects() {
    assert!(VALID.len() >= 20 && INVALID.len() >= 20);
    let validator = require_tool("kubernetes-validate");
    let objects: Vec<(&str, bool)> = VALID
        .iter()
        .map(|o| (*o, true))
        .chain(INVALID.iter().map(|o| (*o, false)))
        .collect();
    let files: Vec<String> = (0..objects.len())
        .map(|i| format!("manifests/object-{i:02}.yaml"))
        .collect();
    let list: Vec<String> = files.iter().map(|f| format!("{f:?}")).collect();
    let stack = STACK.replace(
        "    port 80\n",
        &format!("    port 80\n    manifests {}\n", list.join(" ")),
    );
    let mut t = with_template(DEPLOYMENT).file("stacks.kdl", &stack);
    for (file, (text, _)) in files.iter().zip(&objects) {
        t = t.file(file, text);
    }
    let (_, found) = schema_findings(&t);
    for (file, (text, valid)) in files.iter().zip(&objects) {
        let stackc_valid = !found.iter().any(|f| f["file"] == file.as_str());
        let run = Command::new(&validator)
            .args(["--strict", "--kubernetes-version", "1.37.0"])
            .arg(t.path().join(file))
            .output()
            .expect("kubernetes-validate runs");
        let report = String::from_utf8_lossy(&run.stdout).into_owned();
        let python_valid = run.status.success();
        assert_eq!(
            (stackc_valid, python_valid),
            (*valid, *valid),
            "{file} (stackc valid, kubernetes-validate valid):\n{text}\nkubernetes-validate: {report}\nstackc: {found:#?}"
        );
    }
}
