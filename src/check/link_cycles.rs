//! Links that need one another first (a master, the parent a macvlan, vlan or ipvlan
//! sits on, a vxlan's `dev`) in a cycle: no order makes them (the kernel needs each one's
//! before it), so every run of the script would be refused and rolled back.

use super::codes::LINK_CYCLE;
use crate::diagnostic::Diagnostic;
use crate::model::Namespace;
use std::collections::HashMap;

pub(super) fn link_cycles(ns: &Namespace, found: &mut Vec<Diagnostic>) {
    let names: Vec<&str> = ns.interfaces.keys().map(String::as_str).collect();
    let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    // A link its own master is `not_a_bridge`'s to report.
    let needs: Vec<Vec<usize>> = ns
        .interfaces
        .values()
        .map(|i| {
            let its_own_master = i.master.as_ref().is_some_and(|m| m.node == i.name);
            i.links_it_needs().iter().filter(|n| !(its_own_master && **n == i.name)).filter_map(|n| index.get(n).copied()).collect()
        })
        .collect();
    // Depth first without recursion (a script may chain many links): 0 unseen, 1 on the
    // path, 2 done.
    let mut state = vec![0u8; names.len()];
    for root in 0..names.len() {
        if state[root] != 0 {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(&mut (at, ref mut next)) = path.last_mut() {
            let Some(&dep) = needs[at].get(*next) else {
                state[at] = 2;
                path.pop();
                continue;
            };
            *next += 1;
            match state[dep] {
                0 => {
                    state[dep] = 1;
                    path.push((dep, 0));
                }
                1 => {
                    let from = path.iter().position(|(n, _)| *n == dep).expect("on the path");
                    let cycle: Vec<usize> = path[from..].iter().map(|(n, _)| *n).collect();
                    found.push(cycle_diagnostic(ns, &names, &cycle));
                }
                _ => {}
            }
        }
    }
}

fn cycle_diagnostic(ns: &Namespace, names: &[&str], cycle: &[usize]) -> Diagnostic {
    let chain: Vec<String> = cycle.iter().chain(cycle.first()).map(|i| format!("`{}`", names[*i])).collect();
    let first = &ns.interfaces[names[cycle[0]]];
    let message = match cycle {
        [one] => format!("in `{}`, `{}` needs itself made first: no order makes it", ns.name, names[*one]),
        _ => format!("in `{}`, each of {} needs the next one made first: no order makes them", ns.name, chain.join(" → ")),
    };
    let mut d = Diagnostic::error(LINK_CYCLE, first.span, message)
        .label("needs a link that needs it")
        .help("a link's master, the parent it sits on and a vxlan's `dev` must be made before it; one of them must not need this link");
    for i in &cycle[1..] {
        d = d.also(ns.interfaces[names[*i]].span, "part of the cycle");
    }
    d
}
