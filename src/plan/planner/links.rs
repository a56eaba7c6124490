//! Namespaces and links: creating namespaces, links of every kind (veth pairs, bridges,
//! macvlan, vxlan, ifb), reconciling their attributes (mtu, mac, master, up/down), and
//! what a moved or re-paired veth needs.

use super::super::observed::{AttachPoint, ObservedLink};
use super::*;
use crate::diagnostic::Diagnostic;

impl<'a> Planner<'a> {
    /// Whether the script's earlier runs created this link (or this plan does): then
    /// netscript owns all of it, and what the script leaves unsaid takes its default.
    pub(super) fn created_by_script(&self, ns: &str, name: &str) -> bool {
        let made_here = self.link_ops.get(&(ns.to_string(), name.to_string())).is_some_and(|ops| ops.iter().any(|&i| matches!(self.ops[i].action, Action::CreateLink { .. })));
        made_here || self.index.created_links.contains(&(ns.to_string(), name.to_string()))
    }

    /// The veth the script's earlier runs made at (ns, name), if it paired with another
    /// end than `peer`: what it was made as.
    pub(super) fn moved_veth(&self, ns: &str, name: &str, peer: &IfRef) -> Option<&'a Action> {
        let made = *self.index.veths.get(&(ns.to_string(), name.to_string()))?;
        match made {
            Action::CreateLink { kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. } if peer_ns != &peer.ns || peer_name != &peer.name => Some(made),
            _ => None,
        }
    }

    /// `made` (a veth's creation) as the link is now: MACs, mtu, up and master of both
    /// ends as observed (edits since its creation changed them): what puts it back.
    pub(super) fn as_it_is(&self, made: &Action, found: &ObservedLink) -> Action {
        let mut action = made.clone();
        if let Action::CreateLink { attrs, kind: LinkKind::Veth { peer_ns, peer_name, peer_attrs }, .. } = &mut action {
            *attrs = observed_attrs(found, attrs);
            if let Some(peer) = self.observed_link(peer_ns, peer_name) {
                *peer_attrs = observed_attrs(peer, peer_attrs);
            }
        }
        action
    }

    /// What the ends of the link `made` hold (qdiscs, classes, filters, programs), which
    /// go with it when it is deleted: put back after it, except what a removal of this
    /// plan restores itself (see `held_by`).
    pub(super) fn held_by_ends(&self, ns: &str, name: &str, made: Option<&Action>) -> Vec<Action> {
        let mut held = self.held_by(ns, name);
        if let Some(Action::CreateLink { kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. }) = made {
            held.extend(self.held_by(peer_ns, peer_name));
        }
        held
    }

    /// What the link `ns.dev` holds besides its addresses, as actions that put it back on
    /// the link made again: its root qdisc, htb classes (parents first) and filters, its
    /// ingress or clsact qdisc, the redirects, u32 filters and eBPF classifiers on it, its
    /// XDP program.
    pub(super) fn held_by(&self, ns: &str, dev: &str) -> Vec<Action> {
        let Some(seen) = self.observed_ns(ns) else { return Vec::new() };
        let on_dev = |d: &str| d == dev;
        let at = |parent: QdiscParent| seen.qdiscs.iter().filter(move |q| on_dev(&q.dev) && q.spec.parent() == parent);
        let qdisc = |q: &super::super::observed::ObservedQdisc| Action::ReplaceQdisc { ns: ns.to_string(), dev: dev.to_string(), qdisc: q.spec.clone() };
        let mut put_back: Vec<Action> = at(QdiscParent::Root).map(qdisc).collect();
        let mut classes: Vec<&ClassSpec> = seen.classes.iter().filter(|(d, _)| on_dev(d)).map(|(_, c)| c).collect();
        let mut placed: Vec<u32> = Vec::new();
        while !classes.is_empty() {
            let before = classes.len();
            classes.retain(|c| {
                let ready = c.parent.is_none_or(|p| placed.contains(&p));
                if ready {
                    put_back.push(Action::ReplaceClass { ns: ns.to_string(), dev: dev.to_string(), class: (*c).clone() });
                    placed.push(c.id);
                }
                !ready
            });
            if classes.len() == before {
                break; // a class under a parent the dump lacks: left out
            }
        }
        put_back.extend(seen.filters.iter().filter(|f| on_dev(&f.dev)).filter_map(|f| f.spec.clone()).map(|filter| Action::AddFilter { ns: ns.to_string(), dev: dev.to_string(), filter }));
        put_back.extend(at(QdiscParent::Ingress).chain(at(QdiscParent::Clsact)).map(qdisc));
        put_back.extend(seen.redirects.iter().filter(|(d, _)| on_dev(d)).map(|(_, ifb)| Action::AddFilter { ns: ns.to_string(), dev: dev.to_string(), filter: FilterSpec::MirredToIfb { ifb: ifb.clone() } }));
        put_back.extend(seen.ingress_filters.iter().filter(|f| on_dev(&f.dev)).filter_map(|f| f.spec.clone()).map(|filter| Action::AddFilter { ns: ns.to_string(), dev: dev.to_string(), filter }));
        for p in seen.programs.iter().filter(|p| on_dev(&p.dev)) {
            put_back.push(match p.attach {
                AttachPoint::Tc { direction, prio } => Action::AttachBpf { ns: ns.to_string(), dev: dev.to_string(), direction, prio, handle: p.handle, program: self.restore(p) },
                AttachPoint::Xdp { mode } => Action::AttachXdp { ns: ns.to_string(), dev: dev.to_string(), mode: Some(mode), program: self.restore(p), keep: None },
            });
        }
        // What a removal of this plan takes off first puts back itself, after the link is
        // made again (its undo runs later): twice, a qdisc without a `change` (htb) refuses
        // the second.
        put_back.retain(|a| !self.ops.iter().any(|o| o.removes.is_some() && o.undo.contains(a)));
        put_back
    }

    pub(super) fn is_replaced(&self, ns: &str, name: &str) -> bool {
        self.replaced.iter().any(|(n, l)| n == ns && l == name)
    }

    pub(super) fn namespace(&mut self, ns: &Namespace) {
        if ns.is_host() {
            return;
        }
        if self.observed_ns(&ns.name).is_none() {
            let op = self.push(
                Action::CreateNetns { ns: ns.name.clone() },
                ns.span,
                vec![],
                vec![Action::DeleteNetns { ns: ns.name.clone() }],
            );
            self.ns_op.insert(ns.name.clone(), op);
        }
        // Every namespace netscript creates gets its loopback up. A namespace that exists
        // already keeps its loopback as it is (unless the script says `link lo`): bringing
        // lo up adds 127.0.0.1 and a qdisc, which a later `down` could not take back.
        if self.ns_op.contains_key(&ns.name) && !ns.interfaces.contains_key("lo") {
            let deps = self.ns_deps(&ns.name);
            let up = Action::SetLink { ns: ns.name.clone(), name: "lo".into(), set: LinkSet { up: Some(true), ..Default::default() } };
            let op = self.push(up, ns.span, deps, vec![]);
            self.record_link_op(&ns.name, "lo", op);
        }
    }

    pub(super) fn attrs(iface: &Interface) -> LinkAttrs {
        LinkAttrs {
            up: iface.wants_up().unwrap_or(true),
            mtu: iface.mtu.as_ref().map(|m| m.node),
            mac: iface.mac.as_ref().map(|m| m.node),
            master: iface.master.as_ref().map(|m| m.node.clone()),
        }
    }

    pub(super) fn link(&mut self, ns: &Namespace, iface: &Interface) {
        if self.sits_on_replaced(&ns.name, &iface.name) && self.created_by_script(&ns.name, &iface.name) {
            self.replaced.push((ns.name.clone(), iface.name.clone()));
        }
        let observed = self.observed_link(&ns.name, &iface.name).cloned();
        let create_kind = match &iface.kind {
            IfaceKind::Veth { peer } => {
                let peer_iface = self.peer_interface(peer);
                Some(LinkKind::Veth {
                    peer_ns: peer.ns.clone(),
                    peer_name: peer.name.clone(),
                    peer_attrs: peer_iface.map(Self::attrs).unwrap_or(LinkAttrs { up: true, ..Default::default() }),
                })
            }
            IfaceKind::Bridge => Some(LinkKind::Bridge),
            IfaceKind::Dummy => Some(LinkKind::Dummy),
            IfaceKind::Vrf { table } => Some(LinkKind::Vrf { table: table.node }),
            IfaceKind::Macvlan { parent, mode } => Some(LinkKind::Macvlan { parent: parent.node.clone(), mode: *mode }),
            IfaceKind::Vlan { parent, id, protocol } => Some(LinkKind::Vlan { parent: parent.node.clone(), id: id.node, protocol: *protocol }),
            IfaceKind::Ipvlan { parent, mode, flag } => Some(LinkKind::Ipvlan { parent: parent.node.clone(), mode: *mode, flag: *flag }),
            IfaceKind::Tunnel(t) => Some(LinkKind::Tunnel { tunnel: t.kind, params: t.params() }),
            IfaceKind::Vxlan(x) => Some(LinkKind::Vxlan {
                vni: x.vni.node,
                remote: x.remote.as_ref().map(|a| a.node),
                group: x.group.as_ref().map(|a| a.node),
                local: x.local.as_ref().map(|a| a.node),
                dev: x.dev.as_ref().map(|d| d.node.clone()),
                port: x.port.as_ref().map(|p| p.node),
            }),
            IfaceKind::VethPeer { .. } | IfaceKind::Existing | IfaceKind::Loopback => None,
        };
        match (create_kind, observed) {
            (Some(kind), None) => {
                if let IfaceKind::Veth { peer } = &iface.kind {
                    self.free_peer_name(ns, iface, peer);
                }
                self.create_link(ns, iface, kind)
            }
            (Some(kind), Some(found)) => {
                let wanted = kind_word(&kind);
                if found.kind.as_deref() != Some(wanted) {
                    self.diagnostics.push(
                        Diagnostic::error(KIND_CONFLICT, iface.span, format!("`{}` exists in `{}` as a {}, not a {wanted}", iface.name, ns.name, found.kind.as_deref().unwrap_or("device")))
                            .label("declared here")
                            .help("netscript does not replace an interface it did not create; rename this one, or delete the other first"),
                    );
                    return;
                }
                if let IfaceKind::Veth { peer } = &iface.kind
                    && let Some(made) = self.moved_veth(&ns.name, &iface.name, peer)
                {
                    // The script's veth now pairs with another end: made anew.
                    let old_peer = match made {
                        Action::CreateLink { kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. } => Some((peer_ns.clone(), peer_name.clone())),
                        _ => None,
                    };
                    let peer_ours = old_peer.is_none_or(|(pns, pname)| self.stacked_are_ours(&pns, &pname, iface.span));
                    if !(self.stacked_are_ours(&ns.name, &iface.name, iface.span) && peer_ours) {
                        return;
                    }
                    let mut deps = self.link_deps(&ns.name, &iface.name);
                    deps.extend(self.ns_deps(&peer.ns));
                    // A rollback makes it again with its addresses and the routes through it.
                    let put_back = self.old_pair_put_back(&ns.name, &iface.name, made, &found);
                    let op = self.push(Action::DeleteLink { ns: ns.name.clone(), name: iface.name.clone() }, iface.span, deps, put_back);
                    self.record_link_op(&ns.name, &iface.name, op);
                    self.replaced.push((ns.name.clone(), iface.name.clone()));
                    self.replaced.push((peer.ns.clone(), peer.name.clone()));
                    // And the end it paired with until now, which goes with it.
                    if let Action::CreateLink { kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. } = made {
                        self.replaced.push((peer_ns.clone(), peer_name.clone()));
                    }
                    self.create_link(ns, iface, kind);
                    return;
                }
                match self.made_check(&ns.name, iface, &kind, &found) {
                    Made::Refused => return,
                    Made::Remake(old) => return self.remake_link(ns, iface, kind, &found, old),
                    Made::Same => {}
                }
                if let Some(old) = self.ipvlan_parent_changed(&ns.name, iface, &kind, &found) {
                    self.remake_link(ns, iface, kind, &found, old);
                    return;
                }
                self.change_ipvlan(&ns.name, iface, &kind, &found);
                self.change_tunnel(&ns.name, iface, &kind, &found);
                if let Some(old_table) = self.vrf_table_changed(&ns.name, iface, &kind, &found) {
                    self.replace_vrf(ns, iface, kind, &found, old_table);
                    return;
                }
                self.reconcile_link(ns, iface, &found);
            }
            (None, Some(found)) => self.reconcile_link(ns, iface, &found),
            (None, None) => match &iface.kind {
                // Created with its pair: its attributes went into the pair's create op.
                IfaceKind::VethPeer { of } => {
                    let pair_exists = self.observed_link(&of.ns, &of.name).is_some();
                    let moving = self.moved_veth(&of.ns, &of.name, &IfRef { ns: ns.name.clone(), name: iface.name.clone() }).is_some();
                    if pair_exists && !moving {
                        self.diagnostics.push(
                            Diagnostic::error(MISSING_INTERFACE, iface.span, format!("veth `{of}` exists, but its peer `{}` is not in `{}`", iface.name, ns.name))
                                .label("expected here")
                                .help(format!("the existing `{of}` is not the pair this script declares; delete it or rename this pair")),
                        );
                    }
                }
                // lo exists in a namespace being created: configure it as declared.
                IfaceKind::Loopback if self.ns_op.contains_key(&ns.name) => {
                    let set = LinkSet { up: iface.wants_up(), mtu: iface.mtu.as_ref().map(|m| m.node), mac: iface.mac.as_ref().map(|m| m.node), master: None };
                    let deps = self.ns_deps(&ns.name);
                    // Recorded so that a version without the line gives back what a new
                    // namespace's lo has (its state is netscript's default: up).
                    let undo = set.mtu.map(|_| Action::SetLink { ns: ns.name.clone(), name: iface.name.clone(), set: LinkSet { mtu: Some(LOOPBACK_MTU), ..Default::default() } }).into_iter().collect();
                    let op = self.push(Action::SetLink { ns: ns.name.clone(), name: iface.name.clone(), set }, iface.span, deps, undo);
                    self.record_link_op(&ns.name, &iface.name, op);
                }
                // Offline, lo is assumed as declared like any link (below).
                IfaceKind::Loopback if !self.observed.offline => {}
                _ if self.observed.offline => {
                    // Planning without a kernel: assume the interface exists, as declared.
                    let set = LinkSet { up: iface.wants_up(), mtu: iface.mtu.as_ref().map(|m| m.node), mac: iface.mac.as_ref().map(|m| m.node), master: iface.master.as_ref().map(|m| Some(m.node.clone())) };
                    if set != LinkSet::default() {
                        let mut deps = self.link_deps(&ns.name, &iface.name);
                        if let Some(m) = &iface.master {
                            deps.extend(self.link_deps(&ns.name, &m.node));
                        }
                        let op = self.push(Action::SetLink { ns: ns.name.clone(), name: iface.name.clone(), set }, iface.span, deps, vec![]);
                        self.record_link_op(&ns.name, &iface.name, op);
                    }
                }
                _ => {
                    // The namespace's existing interfaces are the likeliest meaning of a typo.
                    let existing = self.observed.namespaces.get(&ns.name).map(|o| o.links.keys().map(String::as_str).collect::<Vec<_>>()).unwrap_or_default();
                    let help = match crate::diagnostic::did_you_mean(&iface.name, existing) {
                        Some(guess) => format!("{guess} (it exists in `{}`); or create this one in the script (`veth`, `bridge`, …)", ns.name),
                        None => "create it in the script (`veth`, `bridge`, …), or check its name with `ip link`".to_string(),
                    };
                    self.diagnostics.push(
                        Diagnostic::error(MISSING_INTERFACE, iface.span, format!("there is no interface `{}` in `{}`", iface.name, ns.name))
                            .label("`link` names an interface that must exist")
                            .help(help),
                    );
                }
            },
        }
    }

    /// What makes the script's old link `made` again (a veth: the pair), its end (ns,
    /// name) observed as `found`: the link as it is now (MACs included), the addresses of
    /// its ends (not the link-local ones the kernel makes), what they held, then the
    /// routes through them.
    pub(super) fn old_pair_put_back(&self, ns: &str, name: &str, made: &Action, found: &ObservedLink) -> Vec<Action> {
        let mut put_back = vec![self.as_it_is(made, found)];
        put_back.extend(self.addrs_of(ns, name));
        if let Action::CreateLink { kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. } = made {
            put_back.extend(self.addrs_of(peer_ns, peer_name));
        }
        put_back.extend(self.held_by_ends(ns, name, Some(made)));
        put_back.extend(self.routes_through(ns, name));
        put_back.extend(self.stacked_put_back(ns, name));
        if let Action::CreateLink { kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. } = made {
            put_back.extend(self.routes_through(peer_ns, peer_name));
            put_back.extend(self.stacked_put_back(peer_ns, peer_name));
        }
        put_back
    }

    /// A veth made anew at (ns, name) whose declared peer end still exists as an end of
    /// the script's old veth (this end moved to another namespace, the peer stayed): the
    /// old pair is deleted first, or the peer's name is taken. A rollback makes it again
    /// with its addresses and routes, as for a veth that changes its peer.
    fn free_peer_name(&mut self, ns: &Namespace, iface: &Interface, peer: &IfRef) {
        if self.observed_link(&peer.ns, &peer.name).is_none() {
            return;
        }
        let peer_key = (peer.ns.clone(), peer.name.clone());
        let old = self.index.veths.iter().find_map(|(creator, made)| match made {
            Action::CreateLink { kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. }
                if *creator != (ns.name.clone(), iface.name.clone()) && (*creator == peer_key || (peer_ns.clone(), peer_name.clone()) == peer_key) =>
            {
                Some((creator.clone(), *made))
            }
            _ => None,
        });
        let Some(((old_ns, old_name), made)) = old else { return };
        let Some(found) = self.observed_link(&old_ns, &old_name).cloned() else { return };
        if !self.stacked_are_ours(&old_ns, &old_name, iface.span) {
            return;
        }
        let put_back = self.old_pair_put_back(&old_ns, &old_name, made, &found);
        if let Action::CreateLink { kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. } = made {
            self.replaced.push((peer_ns.clone(), peer_name.clone()));
        }
        let mut deps = self.link_deps(&old_ns, &old_name);
        deps.extend(self.ns_deps(&ns.name));
        let op = self.push(Action::DeleteLink { ns: old_ns.clone(), name: old_name.clone() }, iface.span, deps, put_back);
        self.record_link_op(&old_ns, &old_name, op);
        // The new pair's creation waits for the name.
        self.record_link_op(&ns.name, &iface.name, op);
        self.replaced.push((old_ns, old_name));
    }

    pub(super) fn peer_interface(&self, peer: &IfRef) -> Option<&'a Interface> {
        self.desired.namespaces.get(&peer.ns)?.interfaces.get(&peer.name)
    }

    pub(super) fn create_link(&mut self, ns: &Namespace, iface: &Interface, kind: LinkKind) {
        // What this plan already does at the name (deleting the old pair that held it, or
        // its peer's name) comes first, even from another namespace's socket.
        let mut deps = self.link_deps(&ns.name, &iface.name);
        if let LinkKind::Veth { peer_ns, peer_attrs, .. } = &kind {
            deps.extend(self.ns_deps(peer_ns));
            if let Some(m) = &peer_attrs.master {
                deps.extend(self.link_deps(peer_ns, m));
            }
        }
        for dep in iface.links_it_needs() {
            deps.extend(self.link_deps(&ns.name, dep));
        }
        let action = Action::CreateLink { ns: ns.name.clone(), name: iface.name.clone(), kind: kind.clone(), attrs: Self::attrs(iface) };
        // Always undone by name, even in a namespace this plan creates: the record must
        // hold the link, so that a later version of the script without it removes it.
        // (A rollback skips it when it deletes the namespace anyway.)
        let undo = vec![Action::DeleteLink { ns: ns.name.clone(), name: iface.name.clone() }];
        let op = self.push(action, iface.span, deps, undo);
        self.record_link_op(&ns.name, &iface.name, op);
        if let LinkKind::Veth { peer_ns, peer_name, .. } = &kind {
            self.record_link_op(peer_ns, peer_name, op);
        }
    }

    pub(super) fn reconcile_link(&mut self, ns: &Namespace, iface: &Interface, found: &ObservedLink) {
        let mut set = LinkSet::default();
        // One undo per attribute: each is owned (and given back) on its own.
        let mut undo = Vec::new();
        let one = |set: LinkSet| Action::SetLink { ns: ns.name.clone(), name: iface.name.clone(), set };
        // A link the script created is the script's in full: what it leaves unsaid takes
        // the value the link was created with.
        let owned_link = self.created_by_script(&ns.name, &iface.name);
        if let Some(up) = iface.wants_up()
            && up != found.up
        {
            set.up = Some(up);
            undo.push(one(LinkSet { up: Some(found.up), ..Default::default() }));
        }
        // A link on a parent whose mtu goes below its own is lowered by the kernel.
        let lowered_with_parent = |mtu: &u32| iface.mtu.is_none() && super::link_order::sits_on_a_parent(iface) && *mtu < found.mtu;
        let wanted_mtu = self.scripts_mtu(ns, iface, found).filter(|m| !lowered_with_parent(m));
        if let Some(mtu) = wanted_mtu
            && mtu != found.mtu
        {
            set.mtu = Some(mtu);
            undo.push(one(LinkSet { mtu: Some(found.mtu), ..Default::default() }));
            undo.extend(self.stacked_mtus_put_back(&ns.name, &iface.name, mtu));
        }
        if let Some(mac) = &iface.mac
            && Some(mac.node) != found.mac
        {
            set.mac = Some(mac.node);
            undo.extend(found.mac.map(|m| one(LinkSet { mac: Some(m), ..Default::default() })));
        }
        let wanted_master = match &iface.master {
            Some(m) => Some(Some(m.node.clone())),
            None if owned_link => Some(None),
            None => None,
        };
        // A master this plan makes anew (a vrf with another table) has lost its ports.
        let found_master = found.master.clone().filter(|m| !self.is_replaced(&ns.name, m));
        if let Some(master) = wanted_master
            && master != found_master
        {
            set.master = Some(master);
            undo.push(one(LinkSet { master: Some(found_master), ..Default::default() }));
        }
        if set == LinkSet::default() {
            return;
        }
        match set.up {
            Some(false) => undo.extend(self.goes_down_with_routes(&ns.name, &iface.name)),
            // Undone, the link goes down again and the kernel drops its IPv6 addresses:
            // the undo puts back those it had (after the SetLink that takes it down).
            Some(true) => undo.extend(v6_addrs_dropped_on_down(found).map(|addr| Action::AddAddr { ns: ns.name.clone(), dev: iface.name.clone(), addr })),
            None => {}
        }
        // After its master's and its parent's (an mtu raised with the parent's).
        let mut deps = self.link_deps(&ns.name, &iface.name);
        for needed in iface.links_it_needs() {
            deps.extend(self.link_deps(&ns.name, needed));
        }
        let op = self.push(one(set), iface.span, deps, undo);
        self.record_link_op(&ns.name, &iface.name, op);
    }

    /// Taking a link down makes the kernel drop its IPv6 addresses (`keep_addr_on_down`
    /// is 0 by default): they are not present for the additions (the script's are added
    /// again), and a rollback puts back those it had (after the link is up again).
    pub(super) fn goes_down(&mut self, ns: &str, dev: &str) -> Vec<Action> {
        let Some(l) = self.observed_link(ns, dev).filter(|l| l.up) else { return Vec::new() };
        let dropped: Vec<IfAddr> = v6_addrs_dropped_on_down(l).collect();
        for a in &dropped {
            self.gone_addrs.insert((ns.to_string(), dev.to_string(), *a));
        }
        dropped.into_iter().map(|addr| Action::AddAddr { ns: ns.to_string(), dev: dev.to_string(), addr }).collect()
    }

    /// The mtu a link netscript creates has when the script does not set one, where it
    /// is known: 1500 for veth and ifb, for a macvlan, vlan or ipvlan its parent's once
    /// this plan is applied (the script run alone makes it on that parent).
    pub(super) fn default_mtu(&self, ns: &Namespace, iface: &Interface, found: &ObservedLink) -> Option<u32> {
        match (&iface.kind, found.kind.as_deref()) {
            (IfaceKind::Macvlan { parent, .. } | IfaceKind::Vlan { parent, .. } | IfaceKind::Ipvlan { parent, .. }, _) => self.mtu_after_plan(ns, &parent.node),
            (_, Some("veth" | "ifb")) => Some(1500),
            _ => None,
        }
    }

    /// The mtu the script gives `iface` (`found` as the kernel has it): as declared, else
    /// its default when the script made it; `None` leaves it as it is.
    fn scripts_mtu(&self, ns: &Namespace, iface: &Interface, found: &ObservedLink) -> Option<u32> {
        iface.mtu.as_ref().map(|m| m.node).or_else(|| if self.created_by_script(&ns.name, &iface.name) { self.default_mtu(ns, iface, found) } else { None })
    }

    /// The mtu link `name` of `ns` has once this plan is applied, where known: the
    /// script's, or as it is. (No cycle of parents reaches here: `check`'s `link_cycle`.)
    fn mtu_after_plan(&self, ns: &Namespace, name: &str) -> Option<u32> {
        let found = self.observed_link(&ns.name, name);
        match (ns.interfaces.get(name), found) {
            (Some(iface), Some(found)) => self.scripts_mtu(ns, iface, found).or(Some(found.mtu)),
            (Some(iface), None) => iface.mtu.as_ref().map(|m| m.node),
            (None, found) => found.map(|f| f.mtu),
        }
    }
}

/// The addresses of `link` the kernel drops when it goes down: IPv6 ones but link-local
/// (which it makes again when the link comes up).
pub(super) fn v6_addrs_dropped_on_down(link: &ObservedLink) -> impl Iterator<Item = IfAddr> + '_ {
    link.addrs.iter().copied().filter(|a| a.addr().is_ipv6() && !a.is_v6_link_local())
}

/// The mtu of `lo` in a new namespace.
pub(super) const LOOPBACK_MTU: u32 = 65536;

pub(super) fn kind_word(kind: &LinkKind) -> &'static str {
    match kind {
        LinkKind::Veth { .. } => "veth",
        LinkKind::Bridge => "bridge",
        LinkKind::Dummy => "dummy",
        LinkKind::Vrf { .. } => "vrf",
        LinkKind::Macvlan { .. } => "macvlan",
        LinkKind::Vlan { .. } => "vlan",
        LinkKind::Ipvlan { .. } => "ipvlan",
        LinkKind::Tunnel { tunnel, .. } => tunnel.word(),
        LinkKind::Vxlan { .. } => "vxlan",
        LinkKind::Ifb => "ifb",
    }
}

/// `made`'s attributes with what the kernel reports for the link now: MAC, mtu, up and
/// master (`LinkAttrs::default()` for `made`: the link as it is now).
pub(super) fn observed_attrs(link: &ObservedLink, made: &LinkAttrs) -> LinkAttrs {
    LinkAttrs { up: link.up, mtu: Some(link.mtu), mac: link.mac.or(made.mac), master: link.master.clone() }
}
