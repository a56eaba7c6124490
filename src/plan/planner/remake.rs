//! A link whose creation attributes differ from the script's — a vlan's id, protocol or
//! parent, a macvlan's mode or parent, a vxlan's id, remote, group, local address, `dev`
//! or port — because the script changed them or someone else did. The kernel cannot
//! change most of them on a live link, so one the script made is deleted and made again
//! with the script's (vrf tables: `vrf.rs`). A rollback makes the old one again as it
//! was (MAC, master, up), with its addresses, what it held (qdiscs, classes, filters,
//! programs), the routes through it and the links on it (`stacked.rs`).
//!
//! One the script did not make is refused (`link_conflict`): netscript does not make
//! again an interface it did not create, and adopting it would leave the script untrue.

use super::super::action::*;
use super::super::observed::ObservedLink;
use super::{Planner, LINK_CONFLICT};
use crate::diagnostic::Diagnostic;
use crate::model::{Interface, Namespace};

/// What the kernel holds at the script's link, against what the script makes.
pub(super) enum Made {
    /// As the script says (or nothing netscript can read to compare).
    Same,
    /// The script's link, made otherwise: what makes it again as it is now.
    Remake(LinkKind),
    /// Another's link, made otherwise: refused.
    Refused,
}

impl Planner<'_> {
    pub(super) fn made_check(&mut self, ns: &str, iface: &Interface, kind: &LinkKind, found: &ObservedLink) -> Made {
        let Some(now) = &found.made_as else { return Made::Same };
        if made_alike(kind, now) {
            return Made::Same;
        }
        if self.created_by_script(ns, &iface.name) {
            // A vrf made again takes its ports out and back: vrf.rs.
            return if matches!(kind, LinkKind::Vrf { .. }) { Made::Same } else { Made::Remake(with_unread_parent(now, kind)) };
        }
        self.diagnostics.push(
            Diagnostic::error(LINK_CONFLICT, iface.span, format!("`{}` exists in `{ns}` as {}, not as declared ({})", iface.name, describe(now), describe(kind)))
                .label("declared here")
                .help(format!("netscript does not make again an interface it did not create; delete it (`{}`) or declare it as it is", super::stacked::ip_link_del(ns, &iface.name))),
        );
        Made::Refused
    }

    pub(super) fn remake_link(&mut self, ns: &Namespace, iface: &Interface, kind: LinkKind, found: &ObservedLink, old: LinkKind) {
        let (nsn, name) = (ns.name.clone(), iface.name.clone());
        if !self.stacked_are_ours(&nsn, &name, iface.span) {
            return;
        }
        // With its MAC: a rollback gives back the link as it was.
        let attrs = super::links::observed_attrs(found, &LinkAttrs::default());
        let put_back = self.old_pair_put_back(&nsn, &name, &Action::CreateLink { ns: nsn.clone(), name: name.clone(), kind: old, attrs }, found);
        let deps = self.link_deps(&nsn, &name);
        let op = self.push(Action::DeleteLink { ns: nsn.clone(), name: name.clone() }, iface.span, deps, put_back);
        self.record_link_op(&nsn, &name, op);
        self.replaced.push((nsn, name));
        self.create_link(ns, iface, kind);
    }
}

/// Whether the kernel's link `now` is what the script's `wanted` makes. A parent in
/// another namespace (read as an empty name) is not compared; a vxlan without `port`
/// is made with 4789 (as ip makes it).
fn made_alike(wanted: &LinkKind, now: &LinkKind) -> bool {
    let parent_alike = |want: &str, have: &str| have.is_empty() || want == have;
    match (wanted, now) {
        (LinkKind::Vlan { parent: p, id: i, protocol: r }, LinkKind::Vlan { parent, id, protocol }) => i == id && r == protocol && parent_alike(p, parent),
        (LinkKind::Macvlan { parent: p, mode: m }, LinkKind::Macvlan { parent, mode }) => m == mode && parent_alike(p, parent),
        (LinkKind::Vrf { table: t }, LinkKind::Vrf { table }) => t == table,
        (
            LinkKind::Vxlan { vni: v, remote: r, group: g, local: l, dev: d, port: p },
            LinkKind::Vxlan { vni, remote, group, local, dev, port },
        ) => {
            let dev_alike = match (d, dev) {
                (Some(want), Some(have)) => parent_alike(want, have),
                (want, have) => want.is_none() && have.is_none(),
            };
            v == vni && r == remote && g == group && l == local && dev_alike && port.is_none_or(|have| p.unwrap_or(4789) == have)
        }
        _ => true,
    }
}

/// `now` with the script's parent where the kernel's is in another namespace (unread).
fn with_unread_parent(now: &LinkKind, wanted: &LinkKind) -> LinkKind {
    let mut now = now.clone();
    match (&mut now, wanted) {
        (LinkKind::Vlan { parent, .. }, LinkKind::Vlan { parent: p, .. }) | (LinkKind::Macvlan { parent, .. }, LinkKind::Macvlan { parent: p, .. }) if parent.is_empty() => *parent = p.clone(),
        (LinkKind::Vxlan { dev: Some(dev), .. }, LinkKind::Vxlan { dev: d, .. }) if dev.is_empty() => *dev = d.clone().unwrap_or_default(),
        _ => {}
    }
    now
}

/// A link kind in the script's words, for a diagnostic.
fn describe(kind: &LinkKind) -> String {
    match kind {
        LinkKind::Vlan { parent, id, protocol } => format!("a vlan on `{parent}` id {id} protocol {}", protocol.word()),
        LinkKind::Macvlan { parent, mode } => format!("a macvlan on `{parent}` mode {}", mode.word()),
        LinkKind::Vrf { table } => format!("a vrf with table {table}"),
        LinkKind::Vxlan { vni, remote, group, local, dev, port } => {
            let mut s = format!("a vxlan id {vni}");
            for (word, value) in [("remote", remote.map(|a| a.to_string())), ("group", group.map(|a| a.to_string())), ("local", local.map(|a| a.to_string())), ("dev", dev.clone()), ("dstport", Some(port.unwrap_or(4789).to_string()))] {
                if let Some(v) = value {
                    s.push_str(&format!(" {word} {v}"));
                }
            }
            s
        }
        other => format!("a {}", super::kind_word(other)),
    }
}
