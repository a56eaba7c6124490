//! The order links are planned in: bridges, parents and devices before the links that
//! name them; links that sit on a parent after every namespace's other links.

use crate::model::{IfaceKind, Interface, Namespace};

/// Interfaces in an order where bridges, parents and devices come before the links that
/// name them.
pub(super) fn link_order(ns: &Namespace) -> Vec<&Interface> {
    fn visit<'n>(ns: &'n Namespace, iface: &'n Interface, done: &mut Vec<&'n str>, out: &mut Vec<&'n Interface>, depth: usize) {
        if done.contains(&iface.name.as_str()) || depth > ns.interfaces.len() {
            return;
        }
        for dep in iface.links_it_needs() {
            if let Some(d) = ns.interfaces.get(dep) {
                visit(ns, d, done, out, depth + 1);
            }
        }
        if !done.contains(&iface.name.as_str()) {
            done.push(&iface.name);
            out.push(iface);
        }
    }
    let mut done = Vec::new();
    let mut out = Vec::new();
    for iface in ns.interfaces.values() {
        visit(ns, iface, &mut done, &mut out, 0);
    }
    out
}

/// A macvlan, vlan or ipvlan on its parent, a vxlan on its `dev`.
pub(super) fn sits_on_a_parent(iface: &Interface) -> bool {
    matches!(&iface.kind, IfaceKind::Macvlan { .. } | IfaceKind::Vlan { .. } | IfaceKind::Ipvlan { .. }) || matches!(&iface.kind, IfaceKind::Vxlan(x) if x.dev.is_some())
}
