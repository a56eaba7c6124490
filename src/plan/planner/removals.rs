//! What the script's earlier runs made and it no longer declares: removed (or given
//! back, for what they changed) before anything is added, in the reverse of the order it
//! was made, each with an undo that puts it back should the run fail. Namespaces are the
//! exception: their deletion cannot be rolled back, so they go after the commit
//! ([`Plan::drop_netns`](crate::plan::Plan)), with everything in them.
//!
//! What is already gone (deleted by hand, or by deleting what held it) is forgotten, not
//! removed; what sits in a namespace that someone else made anew under the same name is
//! no longer netscript's and is forgotten too.

use super::super::action::*;
use crate::model::IfAddr;
use super::super::ownership::{self, Owned};
use super::{route_matches, rule_matches, same_sysctl_value, Planner};
use crate::model::HOST;
use std::collections::{BTreeMap, HashSet};

impl Planner<'_> {
    pub(super) fn removals(&mut self, netns_ids: &BTreeMap<String, u64>, netns_cookies: &BTreeMap<String, u64>) {
        let owned: &[Owned] = self.owned;
        // Namespaces first: which are no longer ours, which go.
        let mut not_ours: HashSet<String> = HashSet::new();
        let mut dying: HashSet<String> = HashSet::new();
        for entry in owned {
            let Some(Action::DeleteNetns { ns }) = entry.undo.first() else { continue };
            match self.observed.namespaces.get(ns) {
                None => {
                    not_ours.insert(ns.clone());
                }
                Some(seen) if made_by_someone_else(ns, seen, netns_ids, netns_cookies) => {
                    not_ours.insert(ns.clone());
                }
                Some(_) if !ownership::declares(self.desired, &entry.undo[0]) => {
                    dying.insert(ns.clone());
                }
                Some(_) => {}
            }
        }
        for (i, entry) in owned.iter().enumerate() {
            let Some(first) = entry.undo.first() else {
                self.forget.push(i);
                continue;
            };
            let ns = first.namespace();
            if not_ours.contains(ns) || (ns != HOST && !self.observed.namespaces.contains_key(ns) && !self.observed.offline) {
                self.forget.push(i);
            }
        }
        let forgotten: HashSet<usize> = self.forget.iter().copied().collect();
        self.drop_netns = owned
            .iter()
            .filter_map(|e| match e.undo.first() {
                Some(Action::DeleteNetns { ns }) if dying.contains(ns) => Some(ns.clone()),
                _ => None,
            })
            .collect();
        for (i, entry) in owned.iter().enumerate().rev() {
            if forgotten.contains(&i) {
                continue;
            }
            let Some(first) = entry.undo.first() else { continue };
            // A veth in a namespace that goes whose other end stays: deleted right before
            // the namespace (its destruction is asynchronous: the end that stays would
            // outlive the run a moment).
            if dying.contains(first.namespace())
                && matches!(first, Action::DeleteLink { .. })
                && let Some(Action::CreateLink { kind: LinkKind::Veth { peer_ns, .. }, .. }) = &entry.made
                && !dying.contains(peer_ns)
                && self.observed.namespaces.contains_key(peer_ns)
            {
                self.drop_links.push(first.clone());
                continue;
            }
            if matches!(first, Action::DeleteNetns { .. }) || dying.contains(first.namespace()) || (self.still_declared(first) && !self.redundant_rule(first)) {
                continue;
            }
            // A veth whose other end is in a namespace that goes: deleted with the
            // namespaces, after the commit (a rollback could not make it again as it was,
            // its other end's MAC unread), and before them (a dying namespace's devices go
            // asynchronously: left to it, the end here would outlive `down` a moment).
            if let Some(Action::CreateLink { kind: LinkKind::Veth { peer_ns, .. }, .. }) = &entry.made
                && matches!(first, Action::DeleteLink { .. })
                && dying.contains(peer_ns)
            {
                self.drop_links.push(first.clone());
                continue;
            }
            if let Some((script, their_entry)) = ownership::stacked_above(entry.made.as_ref(), first, self.others) {
                self.handover.push(crate::plan::Handover { entry: i, script, their_entry, undo: entry.undo.clone() });
                continue;
            }
            let mut any = false;
            for action in &entry.undo {
                match self.removal_undo(action, entry) {
                    Removal::Gone => {}
                    Removal::Do(undo) => {
                        self.secondaries_first(action, i);
                        self.note_flush(action);
                        self.note_gone_link(action, entry);
                        let action = keep_for_rollback(action, &undo);
                        let op = self.push(action, Default::default(), Vec::new(), undo);
                        self.ops[op].removes = Some(i);
                        self.last_removal = Some(op);
                        any = true;
                    }
                }
            }
            if !any {
                self.forget.push(i);
            }
        }
        self.restore_flushed_routes();
    }

    /// A rollback must put back the routes the kernel flushed with a device's last IPv4
    /// address: on the first removal of an address of that device, which a rollback
    /// undoes last, when every address is back.
    fn restore_flushed_routes(&mut self) {
        let mut devices: Vec<(String, String)> = self.flushed_devs.iter().cloned().collect();
        devices.sort();
        for (ns, dev) in devices {
            let Some(first) = self.first_address_removal(&ns, &dev) else { continue };
            let routes = self.flushed_route_restores(&ns, &dev);
            self.ops[first].undo.extend(routes);
        }
    }

    /// The first of this plan's removals that deletes an address of `ns.dev`: a rollback
    /// undoes it after the others, when the device's addresses are back but that one.
    pub(super) fn first_address_removal(&self, ns: &str, dev: &str) -> Option<usize> {
        self.ops.iter().position(|o| o.removes.is_some() && matches!(&o.action, Action::DelAddr { ns: n, dev: d, .. } if n == ns && d == dev))
    }

    /// What puts back the IPv4 routes through `dev` that the kernel flushes with its
    /// last IPv4 address: not the kernel's own prefix routes, which come back with their
    /// addresses.
    pub(super) fn flushed_route_restores(&self, ns: &str, dev: &str) -> Vec<Action> {
        self.routes_through(ns, dev).into_iter().filter(|a| matches!(a, Action::AddRoute { route, .. } if route.dest.addr().is_ipv4())).collect()
    }

    /// What puts back the routes through `dev` (as observed), but the kernel's own
    /// prefix routes, which come back with their addresses.
    /// The addresses of `ns.dev` as observed (IPv6 link-local ones left to the kernel), as
    /// actions that put them back.
    pub(super) fn addrs_of(&self, ns: &str, dev: &str) -> Vec<Action> {
        let Some(l) = self.observed_ns(ns).and_then(|n| n.links.get(dev)) else { return Vec::new() };
        l.addrs
            .iter()
            .filter(|a| !a.is_v6_link_local())
            .map(|addr| Action::AddAddr { ns: ns.to_string(), dev: dev.to_string(), addr: *addr })
            .collect()
    }

    /// What deleting the veth `entry` made takes with it and a rollback must put back:
    /// the addresses of both ends, then the routes through either end (a gateway needs
    /// its subnet's address first; an address the rollback puts back again later, as the
    /// undo of its own removal, is found there already).
    fn goes_with_veth(&self, entry: &Owned) -> Vec<Action> {
        let Some(Action::CreateLink { ns, name, kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. }) = &entry.made else { return Vec::new() };
        let mut undo = self.addrs_of(ns, name);
        undo.extend(self.addrs_of(peer_ns, peer_name));
        undo.extend(self.routes_through(ns, name));
        undo.extend(self.routes_through(peer_ns, peer_name));
        undo
    }

    pub(super) fn routes_through(&self, ns: &str, dev: &str) -> Vec<Action> {
        let Some(seen) = self.observed_ns(ns) else { return Vec::new() };
        let connected: Vec<ipnet::IpNet> = seen.links.get(dev).map(|l| l.addrs.iter().map(|a| a.trunc()).collect()).unwrap_or_default();
        seen.routes
            .iter()
            .filter(|r| r.dev.as_deref() == Some(dev) && !(r.via.is_none() && connected.contains(&r.dest)))
            .map(|route| Action::AddRoute { ns: ns.to_string(), route: route.clone() })
            .collect()
    }

    /// Before an IPv4 address that is the primary of its subnet is deleted, its
    /// secondaries are (the kernel would drop them with it, and nothing would put them
    /// back on rollback): each with an undo, as part of removing entry `entry`. Those the
    /// script declares are added again after the removals.
    fn secondaries_first(&mut self, action: &Action, entry: usize) {
        let Action::DelAddr { ns, dev, addr } = action else { return };
        if !addr.addr().is_ipv4() {
            return;
        }
        let Some(l) = self.observed_link(ns, dev) else { return };
        let subnet: Vec<IfAddr> = l.addrs.iter().copied().filter(|a| a.trunc() == addr.trunc() && !self.gone_addrs.contains(&(ns.clone(), dev.clone(), *a))).collect();
        if subnet.first() != Some(addr) {
            self.gone_addrs.insert((ns.clone(), dev.clone(), *addr));
            return;
        }
        for a in subnet.iter().skip(1).rev() {
            let undo = vec![Action::AddAddr { ns: ns.clone(), dev: dev.clone(), addr: *a }];
            let op = self.push(Action::DelAddr { ns: ns.clone(), dev: dev.clone(), addr: *a }, Default::default(), Vec::new(), undo);
            self.ops[op].removes = Some(entry);
            self.last_removal = Some(op);
            self.gone_addrs.insert((ns.clone(), dev.clone(), *a));
        }
        self.gone_addrs.insert((ns.clone(), dev.clone(), *addr));
    }

    /// What a rollback that puts back the IPv4 secondary `addr` does next: delete and add
    /// again the secondaries of its subnet that followed it on the link (`addrs`, the
    /// kernel's order). The kernel appends an address and keeps secondaries in the order
    /// they came (the first is promoted should the primary go): without this, `addr`
    /// would come back last. Only when those are all netscript's own (another's would
    /// lose its flags and label); for a primary, `secondaries_first` already does it.
    fn secondaries_after(&self, ns: &str, dev: &str, addr: IfAddr, addrs: &[IfAddr]) -> Vec<Action> {
        if !addr.addr().is_ipv4() {
            return Vec::new();
        }
        let subnet: Vec<IfAddr> = addrs.iter().copied().filter(|a| a.trunc() == addr.trunc()).collect();
        let Some(at) = subnet.iter().position(|a| *a == addr) else { return Vec::new() };
        let after = &subnet[at + 1..];
        if at == 0 || !after.iter().all(|a| self.owns(&format!("addr {ns} {dev} {a}"))) {
            return Vec::new();
        }
        after
            .iter()
            .flat_map(|a| [Action::DelAddr { ns: ns.to_string(), dev: dev.to_string(), addr: *a }, Action::AddAddr { ns: ns.to_string(), dev: dev.to_string(), addr: *a }])
            .collect()
    }

    /// A rule the script made that its declarations no longer need: each declared rule
    /// it satisfies is satisfied by another rule there that the script did not make (a
    /// rule without `pref` matches any priority, the kernel's own `lookup main` too).
    /// The script run alone would add none; after an earlier version it removes its old
    /// one, so that the history does not decide what the system holds.
    fn redundant_rule(&self, undo: &Action) -> bool {
        let Action::DelRule { ns, rule } = undo else { return false };
        let (Some(want), Some(seen)) = (self.desired.namespaces.get(ns), self.observed_ns(ns)) else { return false };
        let ours = |have: &RuleSpec| self.owned.iter().any(|o| matches!(o.undo.first(), Some(Action::DelRule { ns: n, rule: r }) if n == ns && rule_matches(r, have)));
        want.rules
            .iter()
            .map(crate::plan::rule_spec)
            .filter(|w| rule_matches(w, rule))
            .all(|w| seen.rules.iter().any(|have| !rule_matches(rule, have) && rule_matches(&w, have) && !ours(have)))
    }

    /// Whether the script still declares what the record's `undo` removes. A route is
    /// compared as the kernel holds it: what the record made without a `dev` (the kernel
    /// picked one) is still declared by a route that names the device the kernel picked
    /// — which the additions then find present (they match against the kernel's).
    fn still_declared(&self, undo: &Action) -> bool {
        if let Action::DelRoute { ns, route } = undo
            && let Some(seen) = self.observed_ns(ns)
            && let Some(have) = seen.routes.iter().find(|have| route_matches(route, have))
        {
            let declared = self.desired.namespaces.get(ns).map(|n| n.routes.as_slice()).unwrap_or_default();
            return declared.iter().any(|r| route_matches(&crate::plan::route_spec(r), have));
        }
        ownership::declares(self.desired, undo)
    }

    /// A link this plan deletes (and a veth's other end with it) is not there for what
    /// follows: made anew if still declared, with all its configuration.
    fn note_gone_link(&mut self, action: &Action, entry: &Owned) {
        let Action::DeleteLink { ns, name } = action else { return };
        self.replaced.push((ns.clone(), name.clone()));
        if let Some(Action::CreateLink { kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. }) = &entry.made {
            self.replaced.push((peer_ns.clone(), peer_name.clone()));
        }
    }

    /// Deleting the last IPv4 address of a device makes the kernel flush every IPv4 route
    /// through it: notes the device, whose routes are then not present for the additions
    /// (the script's are added again), and are put back by a rollback.
    fn note_flush(&mut self, action: &Action) {
        let Action::DelAddr { ns, dev, addr } = action else { return };
        if !addr.addr().is_ipv4() {
            return;
        }
        let Some(l) = self.observed_link(ns, dev) else { return };
        let left = l.addrs.iter().any(|a| a.addr().is_ipv4() && !self.gone_addrs.contains(&(ns.clone(), dev.clone(), *a)));
        if !left {
            self.flushed_devs.insert((ns.clone(), dev.clone()));
        }
    }

    /// Whether `action` (an entry's undo) still has something to do, and what puts the
    /// state back should it have to be rolled back.
    fn removal_undo(&mut self, action: &Action, entry: &Owned) -> Removal {
        use Removal::{Do, Gone};
        let seen = self.observed_ns(action.namespace());
        let link = |ns: &str, name: &str| self.observed_link(ns, name);
        match action {
            Action::DeleteLink { ns, name } => match link(ns, name) {
                None => Gone,
                // Made again as it is now, MACs included (a rollback must not change them);
                // a veth's other end with its addresses, and the routes through either end,
                // which go with the pair.
                Some(l) => Do(entry
                    .made
                    .iter()
                    .filter_map(|m| match m {
                        Action::CreateLink { ns: n, name: nm, kind, attrs } => {
                            let mut kind = kind.clone();
                            if let LinkKind::Veth { peer_ns, peer_name, peer_attrs } = &mut kind {
                                peer_attrs.mac = self.observed_link(peer_ns, peer_name).and_then(|p| p.mac).or(peer_attrs.mac);
                            }
                            // A bridge made with an explicit MAC has no carrier until it has a
                            // port: every other kind's MAC is given again.
                            let mac = if matches!(kind, LinkKind::Bridge) { attrs.mac } else { l.mac.or(attrs.mac) };
                            Some(Action::CreateLink { ns: n.clone(), name: nm.clone(), kind, attrs: LinkAttrs { mac, ..attrs.clone() } })
                        }
                        _ => None,
                    })
                    .chain(self.goes_with_veth(entry))
                    .chain(self.held_by_ends(ns, name, entry.made.as_ref()))
                    .chain(self.stacked_put_back(ns, name))
                    .chain(match &entry.made {
                        Some(Action::CreateLink { kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. }) => self.stacked_put_back(peer_ns, peer_name),
                        _ => Vec::new(),
                    })
                    .collect()),
            },
            Action::DelAddr { ns, dev, addr } => match link(ns, dev) {
                Some(l) if l.addrs.contains(addr) && !self.gone_addrs.contains(&(ns.clone(), dev.clone(), *addr)) => {
                    let mut undo = vec![Action::AddAddr { ns: ns.clone(), dev: dev.clone(), addr: *addr }];
                    undo.extend(self.secondaries_after(ns, dev, *addr, &l.addrs));
                    Do(undo)
                }
                _ => Gone,
            },
            Action::DelRoute { ns, route } => match seen {
                Some(o) if o.routes.iter().any(|have| route_matches(route, have)) => Do(vec![Action::AddRoute { ns: ns.clone(), route: route.clone() }]),
                _ => Gone,
            },
            Action::DelRule { ns, rule } => match seen {
                Some(o) if o.rules.iter().any(|have| rule_matches(rule, have)) => Do(vec![Action::AddRule { ns: ns.clone(), rule: rule.clone() }]),
                _ => Gone,
            },
            Action::DelQdisc { ns, dev, parent } => {
                let present = seen.is_some_and(|o| o.root_qdiscs.iter().any(|q| q.dev == *dev && q.parent == *parent && (q.parent != QdiscParent::Root || q.handle >> 16 != 0)));
                // An ingress qdisc that holds another's filter is left to it (deleting
                // the qdisc would delete the filter): forgotten, not removed.
                let holds_foreign = *parent == QdiscParent::Ingress
                    && seen.is_some_and(|o| o.ingress_filters.iter().any(|f| f.dev == *dev && !matches!(f.spec, Some(FilterSpec::U32Table { .. })) && !self.owns_filter(ns, dev, f.spec.as_ref())));
                if !present || holds_foreign {
                    return Gone;
                }
                Do(self.qdisc_on(ns, dev, *parent).map(|q| Action::ReplaceQdisc { ns: ns.clone(), dev: dev.clone(), qdisc: q.clone() }).into_iter().collect())
            }
            Action::ReplaceQdisc { ns, dev, qdisc } => match (link(ns, dev), self.qdisc_on(ns, dev, qdisc.parent())) {
                (None, _) => Gone,
                (Some(_), Some(now)) if now == qdisc => Gone,
                (Some(_), Some(now)) => Do(vec![Action::ReplaceQdisc { ns: ns.clone(), dev: dev.clone(), qdisc: now.clone() }]),
                (Some(_), None) => Do(vec![Action::DelQdisc { ns: ns.clone(), dev: dev.clone(), parent: qdisc.parent() }]),
            },
            Action::DelClass { ns, dev, id } => match seen.and_then(|o| o.classes.iter().find(|(d, c)| d == dev && c.id == *id)) {
                Some((_, class)) => Do(vec![Action::ReplaceClass { ns: ns.clone(), dev: dev.clone(), class: class.clone() }]),
                None => Gone,
            },
            Action::ReplaceClass { ns, dev, class } => match seen.and_then(|o| o.classes.iter().find(|(d, c)| d == dev && c.id == class.id)) {
                Some((_, now)) if now == class => Gone,
                Some((_, now)) => Do(vec![Action::ReplaceClass { ns: ns.clone(), dev: dev.clone(), class: now.clone() }]),
                None => Gone,
            },
            Action::DelFilter { ns, dev, filter } => {
                let present = match filter {
                    FilterSpec::U32 { prio, ingress, .. } => seen.is_some_and(|o| {
                        let list = if *ingress { &o.ingress_filters } else { &o.filters };
                        list.iter().any(|f| f.dev == *dev && f.prio == *prio && f.spec.as_ref() == Some(filter))
                    }),
                    FilterSpec::MirredToIfb { ifb } => seen.is_some_and(|o| o.redirects.iter().any(|(d, to)| d == dev && to == ifb)),
                    // A table that holds another's filter is left to it (deleting the
                    // table would delete the filter): forgotten, not removed.
                    FilterSpec::U32Table { table, .. } => seen.is_some_and(|o| {
                        let list = o.ingress_filters.iter().filter(|f| f.dev == *dev);
                        let foreign_inside = list.clone().any(|f| f.handle >> 20 == *table && f.handle & 0xf_ffff != 0 && !self.owns_filter(ns, dev, f.spec.as_ref()));
                        !foreign_inside && list.clone().any(|f| f.spec.as_ref() == Some(filter))
                    }),
                };
                match (present, filter) {
                    (false, _) => Gone,
                    // A node of a table: the table first, should the kernel take it with
                    // its priority's last node.
                    (true, FilterSpec::U32 { ht: Some(_), .. }) => {
                        let seen_here: Vec<_> = seen.map(|o| o.ingress_filters.iter().filter(|f| f.dev == *dev).cloned().collect()).unwrap_or_default();
                        Do(super::traffic_ht::node_back(ns, dev, &seen_here, filter.clone()))
                    }
                    (true, _) => Do(vec![Action::AddFilter { ns: ns.clone(), dev: dev.clone(), filter: filter.clone() }]),
                }
            }
            Action::SetSysctl { ns, key, value } => match seen.and_then(|o| o.sysctls.get(key)) {
                Some(now) if same_sysctl_value(now, value) => Gone,
                Some(now) => Do(vec![Action::SetSysctl { ns: ns.clone(), key: key.clone(), value: now.clone() }]),
                None => Gone,
            },
            Action::SetLink { ns, name, set } => {
                let Some(l) = link(ns, name) else { return Gone };
                let mut now = LinkSet::default();
                let mut differs = false;
                if let Some(up) = set.up {
                    now.up = Some(l.up);
                    differs |= up != l.up;
                }
                if let Some(mtu) = set.mtu {
                    now.mtu = Some(l.mtu);
                    differs |= mtu != l.mtu;
                }
                if let Some(mac) = set.mac {
                    now.mac = l.mac;
                    differs |= Some(mac) != l.mac;
                }
                if let Some(master) = &set.master {
                    now.master = Some(l.master.clone());
                    differs |= *master != l.master;
                }
                if !differs {
                    return Gone;
                }
                let mut undo = vec![Action::SetLink { ns: ns.clone(), name: name.clone(), set: now }];
                match set.up {
                    Some(false) => undo.extend(self.goes_down_with_routes(ns, name)),
                    // Undone, the link goes down again and the kernel drops its IPv6
                    // addresses: the undo puts back those it has now.
                    Some(true) if !l.up => undo.extend(super::links::v6_addrs_dropped_on_down(l).map(|addr| Action::AddAddr { ns: ns.clone(), dev: name.clone(), addr })),
                    _ => {}
                }
                Do(undo)
            }
            Action::DetachBpf { ns, dev, direction, prio, .. } => {
                let at = super::super::observed::AttachPoint::Tc { direction: *direction, prio: *prio };
                match seen.and_then(|o| o.programs.iter().find(|p| p.dev == *dev && p.attach == at)) {
                    Some(p) => Do(vec![Action::AttachBpf { ns: ns.clone(), dev: dev.clone(), direction: *direction, prio: *prio, handle: p.handle, program: self.restore(p) }]),
                    None => Gone,
                }
            }
            Action::DetachXdp { ns, dev, .. } => {
                match seen.and_then(|o| o.programs.iter().find(|p| p.dev == *dev && matches!(p.attach, super::super::observed::AttachPoint::Xdp { .. }))) {
                    Some(p) => {
                        let super::super::observed::AttachPoint::Xdp { mode } = p.attach else { unreachable!() };
                        Do(vec![Action::AttachXdp { ns: ns.clone(), dev: dev.clone(), mode: Some(mode), program: self.restore(p), keep: None }])
                    }
                    None => Gone,
                }
            }
            Action::DeleteFirewall { ns } => match seen.and_then(|o| o.firewall.as_ref()) {
                Some(f) => Do(vec![Action::SetFirewall { ns: ns.clone(), table: f.table.clone() }]),
                None => Gone,
            },
            // Putting back what was there before (a program by id, a redirect): tried,
            // with nothing to undo it.
            _ => Do(Vec::new()),
        }
    }
}

/// A program detached by a removal stays loaded until the run ends, so that a rollback
/// can attach it again by id.
fn keep_for_rollback(action: &Action, undo: &[Action]) -> Action {
    let loaded = undo.iter().find_map(|u| match u {
        Action::AttachBpf { program: BpfSource::Loaded { id, .. }, .. } | Action::AttachXdp { program: BpfSource::Loaded { id, .. }, .. } => Some(*id),
        _ => None,
    });
    let mut action = action.clone();
    if let Action::DetachBpf { keep, .. } | Action::DetachXdp { keep, .. } = &mut action {
        *keep = loaded.or(*keep);
    }
    action
}

enum Removal {
    /// Nothing left to remove or give back.
    Gone,
    /// To do, with this undo.
    Do(Vec<Action>),
}

/// Whether namespace `ns` of the record is, under the same name, another namespace: by
/// cookie where the record has one (an inode number is given again once a namespace
/// is freed), else by inode.
fn made_by_someone_else(ns: &str, seen: &crate::plan::observed::ObservedNs, netns_ids: &BTreeMap<String, u64>, netns_cookies: &BTreeMap<String, u64>) -> bool {
    match (netns_cookies.get(ns), seen.cookie) {
        (Some(recorded), Some(seen)) => *recorded != seen,
        _ => netns_ids.get(ns).is_some_and(|id| seen.id.is_some_and(|s| s != *id)),
    }
}
