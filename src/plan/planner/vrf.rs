//! A vrf whose table the script changed (or someone else did): the kernel cannot move a
//! vrf to another table, so the vrf the script made is deleted and made again with the
//! script's table. Deleting it releases its ports (the kernel takes each down and up:
//! IPv4 routes through them and their IPv6 addresses go), so the ports are enslaved
//! again by their own `master` and what they lose is added again; a rollback makes the
//! old vrf again with its addresses and what it held (qdiscs, classes, filters,
//! programs), puts its ports back in it, and their addresses and routes.

use super::super::action::*;
use super::super::observed::ObservedLink;
use super::Planner;
use crate::model::{Interface, Namespace};

impl Planner<'_> {
    /// The table the vrf has now, if the script made it and asks for another.
    pub(super) fn vrf_table_changed(&self, ns: &str, iface: &Interface, kind: &LinkKind, found: &ObservedLink) -> Option<u32> {
        let LinkKind::Vrf { table } = kind else { return None };
        let now = found.vrf_table?;
        (now != *table && self.created_by_script(ns, &iface.name)).then_some(now)
    }

    pub(super) fn replace_vrf(&mut self, ns: &Namespace, iface: &Interface, kind: LinkKind, found: &ObservedLink, old_table: u32) {
        let (nsn, name) = (ns.name.clone(), iface.name.clone());
        if !self.stacked_are_ours(&nsn, &name, iface.span) {
            return;
        }
        let ports: Vec<String> = self
            .observed_ns(&nsn)
            .map(|o| o.links.values().filter(|l| l.master.as_deref() == Some(name.as_str())).map(|l| l.name.clone()).collect())
            .unwrap_or_default();
        // With its MAC: a rollback gives back the vrf as it was.
        let attrs = LinkAttrs { up: found.up, mtu: None, mac: found.mac, master: found.master.clone() };
        let mut put_back = vec![Action::CreateLink { ns: nsn.clone(), name: name.clone(), kind: LinkKind::Vrf { table: old_table }, attrs }];
        put_back.extend(self.addrs_of(&nsn, &name));
        put_back.extend(self.held_by_ends(&nsn, &name, None));
        for port in &ports {
            put_back.push(Action::SetLink { ns: nsn.clone(), name: port.clone(), set: LinkSet { master: Some(Some(name.clone())), ..Default::default() } });
            put_back.extend(self.goes_down(&nsn, port));
        }
        for port in &ports {
            put_back.extend(self.routes_through(&nsn, port));
            self.flushed_devs.insert((nsn.clone(), port.clone()));
        }
        put_back.extend(self.routes_through(&nsn, &name));
        put_back.extend(self.stacked_put_back(&nsn, &name));
        let deps = self.link_deps(&nsn, &name);
        let op = self.push(Action::DeleteLink { ns: nsn.clone(), name: name.clone() }, iface.span, deps, put_back);
        self.record_link_op(&nsn, &name, op);
        for port in &ports {
            self.record_link_op(&nsn, port, op);
        }
        self.replaced.push((nsn, name));
        self.create_link(ns, iface, kind);
    }
}
