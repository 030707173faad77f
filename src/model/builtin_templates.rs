//! stackc's built-in starter templates, compiled into the binary: `template="builtin:NAME"`
//! renders them with no templates/ folder at all, and `stackc init --template NAME` copies
//! them into `templates/NAME/` to customise. They read only the typed settings every stack has.

/// Every built-in template: (kind, file name, text).
pub const TEMPLATES: &[(&str, &str, &str)] = &[
    (
        "deployment",
        "deployment.yaml.j2",
        include_str!("builtin_templates/deployment/deployment.yaml.j2"),
    ),
    (
        "deployment",
        "ingress.yaml.j2",
        include_str!("builtin_templates/deployment/ingress.yaml.j2"),
    ),
    (
        "deployment",
        "service.yaml.j2",
        include_str!("builtin_templates/deployment/service.yaml.j2"),
    ),
    (
        "helm-release",
        "helmrelease.yaml.j2",
        include_str!("builtin_templates/helm-release/helmrelease.yaml.j2"),
    ),
    (
        "helm-release",
        "helmrepository.yaml.j2",
        include_str!("builtin_templates/helm-release/helmrepository.yaml.j2"),
    ),
];

/// How a built-in kind is named in `template=`.
pub const PREFIX: &str = "builtin:";

/// The built-in kinds, sorted.
pub fn kinds() -> Vec<&'static str> {
    let mut kinds: Vec<&str> = TEMPLATES.iter().map(|(kind, _, _)| *kind).collect();
    kinds.dedup();
    kinds
}

/// The files of one built-in kind.
pub fn files(kind: &str) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
    TEMPLATES
        .iter()
        .filter(move |(k, _, _)| *k == kind)
        .map(|(_, file, text)| (*file, *text))
}
