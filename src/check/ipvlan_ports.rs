//! Ipvlans on one parent share the parent's ipvlan port: its mode and flag are the
//! port's, so a second ipvlan with another mode would silently change the first one's
//! (the kernel's ipvlan_set_port_mode). And an ipvlan has its parent's MAC, which the
//! kernel does not let anyone change (no ndo_set_mac_address).

use super::codes::*;
use crate::diagnostic::Diagnostic;
use crate::model::{IfaceKind, Interface, Namespace};

pub(super) fn ipvlan_ports(ns: &Namespace, found: &mut Vec<Diagnostic>) {
    let ipvlans: Vec<&Interface> = ns.interfaces.values().filter(|i| matches!(i.kind, IfaceKind::Ipvlan { .. })).collect();
    for (n, iface) in ipvlans.iter().enumerate() {
        let IfaceKind::Ipvlan { parent, mode, flag } = &iface.kind else { continue };
        if let Some(mac) = &iface.mac {
            found.push(
                Diagnostic::error(IPVLAN_MAC, mac.span, format!("ipvlan `{}` cannot have its own MAC", iface.name))
                    .label("an ipvlan has its parent's MAC")
                    .help("remove `mac`; a macvlan has a MAC of its own"),
            );
        }
        // The first ipvlan on this parent sets what the port holds.
        let first = ipvlans[..n].iter().find(|o| matches!(&o.kind, IfaceKind::Ipvlan { parent: p, .. } if p.node == parent.node));
        if let Some(other) = first
            && let IfaceKind::Ipvlan { mode: m, flag: f, .. } = &other.kind
            && (m != mode || f != flag)
        {
            found.push(
                Diagnostic::error(IPVLAN_PORT_CONFLICT, iface.span, format!("ipvlans `{}` and `{}` on `{}` ask for different modes or flags", other.name, iface.name, parent.node))
                    .label(format!("mode {} {}", mode.word(), flag.word()))
                    .also(other.span, format!("mode {} {}", m.word(), f.word()))
                    .help(format!("the ipvlans on one parent share its mode and flag: give both `mode {} {}`, or put them on different parents", m.word(), f.word())),
            );
        }
    }
}
