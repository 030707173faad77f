//! `placement`: files sit where the layout says. Every object of a service is written under
//! that service's folder, `<layer>/<namespace>/<service>/`, and a namespaced object is in the
//! service's namespace: an object a template sends to another namespace would sit in the
//! wrong folder (and that namespace's Kustomization would not apply it).

use crate::check::context::object_label;
use crate::check::{Context, EnvCheck, Finding};

/// Objects outside their service's folder or namespace.
pub fn placement(ctx: &Context<'_>, env: &EnvCheck<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for object in env.objects.iter() {
        let Some(service) = object.service.as_deref().and_then(|name| env.service(name)) else {
            continue;
        };
        let folder = format!("{}/{}/{}/", service.layer, service.namespace, service.name);
        let mut finding = |message: String, help: String| {
            let mut f = Finding::new(message)
                .service(&service.name)
                .object(object_label(object))
                .help(help);
            f.span = Some(ctx.user_span(service, service.span));
            out.push(f);
        };
        if !object.path.starts_with(&folder) {
            finding(
                format!("is written to `{}`, outside the service's folder `{folder}`", object.path),
                "each object of a service belongs under its folder; this is a bug in the layout if a template did not cause it".into(),
            );
        }
        if !object.id.namespace.is_empty() && object.id.namespace != service.namespace {
            finding(
                format!(
                    "is in namespace `{}`, but its service `{}` is in `{}` (its file is under `{folder}`)",
                    object.id.namespace, service.name, service.namespace
                ),
                format!(
                    "render it in `{}` (`namespace: {{{{ service.namespace }}}}`), or move it to a service of namespace `{}`",
                    service.namespace, object.id.namespace
                ),
            );
        }
    }
    out
}
