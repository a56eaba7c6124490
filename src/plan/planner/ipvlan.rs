//! An ipvlan or tunnel the script changed (a tunnel's parameters all change in place).
//!
//! An ipvlan the script changed. Its mode and flag change in place (the kernel's
//! ipvlan_link_changelink sets them on the parent's port); its parent cannot change, so
//! an ipvlan on another parent is deleted and made again, as a vlan with another id is.

use super::super::action::*;
use super::super::observed::ObservedLink;
use super::Planner;
use crate::model::Interface;

impl Planner<'_> {
    /// The ipvlan as it is now, if the script made it on another parent than it names.
    pub(super) fn ipvlan_parent_changed(&self, ns: &str, iface: &Interface, kind: &LinkKind, found: &ObservedLink) -> Option<LinkKind> {
        let LinkKind::Ipvlan { parent, .. } = kind else { return None };
        let now = found.ipvlan.as_ref()?;
        // A parent in another namespace is not read: not compared.
        let now_parent = now.parent.as_ref()?;
        if now_parent == parent || !self.created_by_script(ns, &iface.name) {
            return None;
        }
        Some(LinkKind::Ipvlan { parent: now_parent.clone(), mode: now.mode, flag: now.flag })
    }

    /// Sets the script's parameters on a tunnel it made whose parameters differ (all of
    /// them change in place: the kernel's ip_tunnel_changelink); a rollback sets back
    /// those it had.
    pub(super) fn change_tunnel(&mut self, ns: &str, iface: &Interface, kind: &LinkKind, found: &ObservedLink) {
        let LinkKind::Tunnel { tunnel, params } = kind else { return };
        let Some(now) = found.tunnel else { return };
        if now == *params || !self.created_by_script(ns, &iface.name) {
            return;
        }
        let change = |params| Action::ChangeLink { ns: ns.to_string(), name: iface.name.clone(), kind: LinkKind::Tunnel { tunnel: *tunnel, params } };
        let undo = vec![change(now)];
        let deps = self.link_deps(ns, &iface.name);
        let op = self.push(change(*params), iface.span, deps, undo);
        self.record_link_op(ns, &iface.name, op);
    }

    /// Sets the script's mode and flag on an ipvlan it made whose mode or flag differ; a
    /// rollback sets back those it had.
    pub(super) fn change_ipvlan(&mut self, ns: &str, iface: &Interface, kind: &LinkKind, found: &ObservedLink) {
        let LinkKind::Ipvlan { parent, mode, flag } = kind else { return };
        let Some(now) = found.ipvlan.as_ref() else { return };
        if (now.mode, now.flag) == (*mode, *flag) || !self.created_by_script(ns, &iface.name) {
            return;
        }
        let change = |mode, flag| Action::ChangeLink { ns: ns.to_string(), name: iface.name.clone(), kind: LinkKind::Ipvlan { parent: parent.clone(), mode, flag } };
        let undo = vec![change(now.mode, now.flag)];
        let deps = self.link_deps(ns, &iface.name);
        let op = self.push(change(*mode, *flag), iface.span, deps, undo);
        self.record_link_op(ns, &iface.name, op);
    }
}
