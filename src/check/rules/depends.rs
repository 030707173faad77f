//! `depends-on`: a service's `depends-on` names real services and no chain of them comes
//! back to where it started (Flux would wait forever; `stackc graph` could not order them).
//! Layers are checked while the stack is read: their order is the out/ layout itself.

use crate::check::{Context, EnvCheck, Finding};
use crate::diagnostics::did_you_mean;
use crate::model::Named;
use std::collections::{BTreeMap, BTreeSet};

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
    let graph: BTreeMap<&str, (&str, &Vec<Named>)> = model
        .services
        .iter()
        .map(|s| (s.name.as_str(), (s.name.as_str(), &s.depends_on)))
        .collect();
    for (cycle, closing) in cycles(&graph) {
        out.push(
            Finding::new(format!("depends-on cycle: {}", cycle.join(" -> ")))
                .service(cycle[cycle.len() - 2].as_str())
                .at(closing.span)
                .help("remove one of the dependencies: Flux would wait for each service forever"),
        );
    }
    out
}

/// Each cycle once (as the names along it, the first repeated at the end) with the
/// dependency that closes it. Depth-first with an explicit stack, so a long chain costs no
/// recursion.
fn cycles<'m>(
    graph: &BTreeMap<&'m str, (&'m str, &'m Vec<Named>)>,
) -> Vec<(Vec<String>, &'m Named)> {
    let mut done: BTreeMap<&str, bool> = BTreeMap::new();
    let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut out = Vec::new();
    for start in graph.keys() {
        if done.contains_key(start) {
            continue;
        }
        done.insert(start, false);
        let mut path: Vec<(&str, usize)> = vec![(start, 0)];
        while let Some(&(current, next)) = path.last() {
            let deps = graph.get(current).map_or(&[][..], |(_, d)| d.as_slice());
            let Some(dep) = deps.get(next) else {
                done.insert(current, true);
                path.pop();
                continue;
            };
            if let Some(top) = path.last_mut() {
                top.1 += 1;
            }
            match done.get(dep.as_str()) {
                Some(false) => {
                    let at = path
                        .iter()
                        .position(|(p, _)| *p == dep.as_str())
                        .unwrap_or(0);
                    let mut cycle: Vec<String> =
                        path[at..].iter().map(|(s, _)| (*s).to_string()).collect();
                    let mut key = cycle.clone();
                    key.sort();
                    if reported.insert(key) {
                        cycle.push(dep.value.clone());
                        out.push((cycle, dep));
                    }
                }
                None if graph.contains_key(dep.as_str()) => {
                    done.insert(dep.as_str(), false);
                    path.push((dep.as_str(), 0));
                }
                Some(true) | None => {}
            }
        }
    }
    out
}
