//! `depends-on`: a service's `depends-on` names real services and no chain of them comes
//! back to where it started (Flux would wait forever; `stackc graph` could not order them).
//! Layers are checked while the stack is read: their order is the out/ layout itself.

use crate::check::{Context, EnvCheck, Finding};
use crate::diagnostics::did_you_mean;
use crate::model::Named;
use std::collections::BTreeSet;

/// Unknown services and cycles in the services' `depends-on`.
pub fn depends_on(ctx: &Context<'_>, env: &EnvCheck<'_>) -> Vec<Finding> {
    // The declaration is the same in every environment: report it once, in the first.
    if ctx
        .envs
        .first()
        .is_some_and(|first| first.env.name != env.env.name)
    {
        return Vec::new();
    }
    let model = &ctx.stack.model;
    let names: BTreeSet<&str> = model.services.iter().map(|s| s.name.as_str()).collect();
    let mut out = Vec::new();
    for service in &model.services {
        for dep in &service.depends_on {
            if !names.contains(dep.as_str()) {
                let finding = Finding::new(format!(
                    "depends on `{}`, which is not a service",
                    dep.value
                ))
                .service(service.name.as_str())
                .at(dep.span);
                out.push(match did_you_mean(&dep.value, names.iter().copied()) {
                    Some(hint) => finding.help(hint),
                    None => finding.help("name a service declared in stacks.kdl"),
                });
            }
        }
    }
    let graph: Vec<(&Named, Vec<&Named>)> = model
        .services
        .iter()
        .map(|s| (&s.name, s.depends_on.iter().collect()))
        .collect();
    for (cycle, closing) in crate::model::cycles(&graph) {
        out.push(
            Finding::new(format!("depends-on cycle: {}", cycle.join(" -> ")))
                .service(cycle[cycle.len() - 2].as_str())
                .at(closing.span)
                .help("remove one of the dependencies: Flux would wait for each service forever"),
        );
    }
    out
}
