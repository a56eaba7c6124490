//! A vlan whose id, protocol or parent the script changed (or someone else did): the
//! kernel cannot change them on a vlan, so the vlan the script made is deleted and made
//! again with the script's. A rollback makes the old vlan again (same MAC, master, up),
//! with its addresses, what it held (qdiscs, classes, filters, programs) and the routes
//! through it.

use super::super::action::*;
use super::super::observed::ObservedLink;
use super::Planner;
use crate::model::{Interface, Namespace};

impl Planner<'_> {
    /// The vlan as it is now (as a link kind to make it again), if the script made it
    /// and asks for another id, protocol or parent.
    pub(super) fn vlan_changed(&self, ns: &str, iface: &Interface, kind: &LinkKind, found: &ObservedLink) -> Option<LinkKind> {
        let LinkKind::Vlan { parent, id, protocol } = kind else { return None };
        let now = found.vlan.as_ref()?;
        // A parent in another namespace is not read: only id and protocol compared.
        let same_parent = now.parent.as_ref().is_none_or(|p| p == parent);
        let same = now.id == *id && now.protocol == *protocol && same_parent;
        if same || !self.created_by_script(ns, &iface.name) {
            return None;
        }
        Some(LinkKind::Vlan { parent: now.parent.clone().unwrap_or_else(|| parent.clone()), id: now.id, protocol: now.protocol })
    }

    /// Deletes the link the script made at (ns, iface) and makes it again as `kind`; a
    /// rollback makes `old` again with what it held. For attributes the kernel cannot
    /// change in place (a vlan's id, an ipvlan's parent).
    pub(super) fn remake_link(&mut self, ns: &Namespace, iface: &Interface, kind: LinkKind, found: &ObservedLink, old: LinkKind) {
        let (nsn, name) = (ns.name.clone(), iface.name.clone());
        // With its MAC: a rollback gives back the link as it was.
        let attrs = LinkAttrs { up: found.up, mtu: Some(found.mtu), mac: found.mac, master: found.master.clone() };
        let put_back = self.old_pair_put_back(&nsn, &name, &Action::CreateLink { ns: nsn.clone(), name: name.clone(), kind: old, attrs }, found);
        let deps = self.link_deps(&nsn, &name);
        let op = self.push(Action::DeleteLink { ns: nsn.clone(), name: name.clone() }, iface.span, deps, put_back);
        self.record_link_op(&nsn, &name, op);
        self.replaced.push((nsn, name));
        self.create_link(ns, iface, kind);
    }
}
