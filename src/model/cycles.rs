//! Cycles in a graph of declarations: layers' `depends-on`, environments' `promotes-from`
//! (model errors, the stack cannot be laid out) and services' `depends-on` (a check rule).
//! One search for all three, depth-first with an explicit stack, so a long chain costs no
//! recursion.

use super::Named;
use std::collections::{BTreeMap, BTreeSet};

/// Each cycle of `graph` once, as the names along it (the first repeated at the end), with
/// the reference that closes it. References to names not in the graph lead nowhere (they
/// are reported as unknown names elsewhere).
pub fn cycles<'m>(graph: &[(&'m Named, Vec<&'m Named>)]) -> Vec<(Vec<String>, &'m Named)> {
    let edges: BTreeMap<&str, &Vec<&Named>> =
        graph.iter().map(|(n, deps)| (n.as_str(), deps)).collect();
    // `false` while a name is on the current path, `true` once everything after it is.
    let mut done: BTreeMap<&str, bool> = BTreeMap::new();
    let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut out = Vec::new();
    for (start, _) in graph {
        if done.contains_key(start.as_str()) {
            continue;
        }
        done.insert(start.as_str(), false);
        // The path from `start`, each name with the index of its next edge to follow.
        let mut path: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        while let Some(&(current, next)) = path.last() {
            let deps = edges.get(current).map_or(&[][..], |d| d.as_slice());
            let Some(&dep) = deps.get(next) else {
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
                None if edges.contains_key(dep.as_str()) => {
                    done.insert(dep.as_str(), false);
                    path.push((dep.as_str(), 0));
                }
                Some(true) | None => {}
            }
        }
    }
    out
}
