//! desired + observed → operations. Only what is missing or different becomes an
//! operation; each carries its undo, computed from what was observed.

use super::action::*;
use super::observed::{ObservedFilter, ObservedLink, ObservedNs};
use super::ownership::{self, Owned};
use super::{Observed, Op, Plan};
use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::source::Span;
use std::collections::HashMap;

mod bpf;
mod removals;

pub const MISSING_INTERFACE: &str = "netscript::plan::missing_interface";
pub const KIND_CONFLICT: &str = "netscript::plan::kind_conflict";
pub const FILTER_CONFLICT: &str = "netscript::plan::filter_conflict";
pub const FOREIGN_QDISC: &str = "netscript::plan::foreign_qdisc";
pub const FOREIGN_LINK: &str = "netscript::plan::foreign_link";
pub const OWNED_BY_OTHER: &str = "netscript::plan::owned_by_other";

/// The name of the ifb device that carries `iface`'s ingress shaping.
pub fn ifb_name(iface: &str) -> String {
    let mut name = String::from("ifb-");
    name.extend(iface.chars().take(crate::check::MAX_INTERFACE_NAME - 4));
    name
}

/// The protocol netscript's routes carry (`proto 110` in `ip route`): ownership visible
/// in the kernel's own output, and a delete that matches netscript's route only.
pub const NETSCRIPT_ROUTE_PROTOCOL: u8 = 110;

/// What the script's earlier runs made (its ownership record), for [`plan_owned`].
#[derive(Debug, Clone, Copy)]
pub struct Ownership<'a> {
    pub entries: &'a [Owned],
    /// The inode of each namespace the record owns, as it was when created: a namespace
    /// of that name with another inode was made by someone else since.
    pub netns_ids: &'a std::collections::BTreeMap<String, u64>,
    /// The records of the other scripts on this host.
    pub others: &'a [ownership::OtherScript],
}

static NO_IDS: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();

impl Default for Ownership<'_> {
    /// Nothing owned: a script's first run, `check`, offline plans.
    fn default() -> Self {
        Ownership { entries: &[], netns_ids: &NO_IDS, others: &[] }
    }
}

/// The record, indexed once per plan (a record of a thousand namespaces holds
/// thousands of entries, looked up once per declared object).
struct OwnedIndex<'a> {
    keys: std::collections::HashSet<String>,
    /// Links the record made, both ends of a veth.
    created_links: std::collections::HashSet<(String, String)>,
    /// The veths the record made, by their declaring end.
    veths: HashMap<(String, String), &'a Action>,
}

impl<'a> OwnedIndex<'a> {
    fn new(owned: &'a [Owned]) -> Self {
        let mut index = OwnedIndex { keys: Default::default(), created_links: Default::default(), veths: HashMap::new() };
        for o in owned {
            if let Some(k) = ownership::entry_key(o) {
                index.keys.insert(k);
            }
            if let Some(Action::DeleteLink { ns, name }) = o.undo.first() {
                index.created_links.insert((ns.clone(), name.clone()));
            }
            if let Some(made @ Action::CreateLink { ns, name, kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. }) = &o.made {
                index.created_links.insert((peer_ns.clone(), peer_name.clone()));
                index.veths.insert((ns.clone(), name.clone()), made);
            }
        }
        index
    }
}

struct Planner<'a> {
    desired: &'a Desired,
    observed: &'a Observed,
    owned: &'a [Owned],
    index: OwnedIndex<'a>,
    ops: Vec<Op>,
    diagnostics: Vec<Diagnostic>,
    /// The op that makes each namespace exist (absent: it exists already).
    ns_op: HashMap<String, usize>,
    /// The ops that create or change each link, by (namespace, name).
    link_ops: HashMap<(String, String), Vec<usize>>,
    /// Every link and address op of a namespace, which routes wait for.
    ns_link_ops: HashMap<String, Vec<usize>>,
    /// The last removal: what the script no longer declares goes before anything is
    /// added (a renumbered address, a route with a new gateway, a new qdisc kind).
    last_removal: Option<usize>,
    /// Namespaces of the record that go (after the commit).
    drop_netns: Vec<String>,
    /// Veth ends whose other end's namespace goes: deleted just before it.
    drop_links: Vec<Action>,
    /// Record entries that are no longer netscript's.
    forget: Vec<usize>,
    /// Addresses this plan deletes before it adds any (removals, and the secondaries a
    /// removed primary takes with it): not present for the additions.
    gone_addrs: std::collections::HashSet<(String, String, ipnet::IpNet)>,
    /// Links this plan deletes and makes anew (a veth paired with another end).
    replaced: Vec<(String, String)>,
    /// Root htb qdiscs this plan deletes and makes anew (another `default`).
    recreated_htb: Vec<(String, String)>,
    /// Devices whose IPv4 routes the kernel flushes in this plan (their last IPv4
    /// address is deleted).
    flushed_devs: std::collections::HashSet<(String, String)>,
    others: &'a [ownership::OtherScript],
    /// Entries whose attribute another script changed since: handed to it, not undone.
    handover: Vec<super::Handover>,
    /// Priorities of the rules of each (namespace, IPv6?) as the kernel will hold them,
    /// with those this plan adds: to give a rule without `pref` the priority the kernel
    /// would pick, explicitly, so that its record names it exactly.
    rule_prios: HashMap<(String, bool), Vec<u32>>,
}

pub fn plan(desired: &Desired, observed: &Observed) -> Result<Plan, Vec<Diagnostic>> {
    plan_owned(desired, observed, Ownership::default())
}

/// Plans `desired` against `observed`, knowing what the script's earlier runs made:
/// what it no longer declares is removed first (or restored, for what it changed).
pub fn plan_owned(desired: &Desired, observed: &Observed, ownership: Ownership) -> Result<Plan, Vec<Diagnostic>> {
    let mut p = Planner {
        desired,
        observed,
        owned: ownership.entries,
        index: OwnedIndex::new(ownership.entries),
        ops: Vec::new(),
        diagnostics: Vec::new(),
        ns_op: HashMap::new(),
        link_ops: HashMap::new(),
        ns_link_ops: HashMap::new(),
        last_removal: None,
        drop_netns: Vec::new(),
        drop_links: Vec::new(),
        forget: Vec::new(),
        others: ownership.others,
        gone_addrs: Default::default(),
        flushed_devs: Default::default(),
        replaced: Vec::new(),
        recreated_htb: Vec::new(),
        handover: Vec::new(),
        rule_prios: HashMap::new(),
    };
    for (span, what, by) in ownership::claimed_by_others(desired, ownership.others) {
        p.diagnostics.push(
            Diagnostic::error(OWNED_BY_OTHER, span, format!("{what} was made by another script, {by}"))
                .label("declared here too")
                .help(format!("an object belongs to one script, so that `down` of either cannot take it from the other; declare it in one of them (or `netscript down {by}` first)")),
        );
    }
    p.removals(ownership.netns_ids);
    for ns in desired.namespaces.values() {
        p.namespace(ns);
    }
    for ns in desired.namespaces.values() {
        for iface in link_order(ns) {
            p.link(ns, iface);
        }
    }
    for ns in desired.namespaces.values() {
        for iface in ns.interfaces.values() {
            p.addresses(ns, iface);
        }
    }
    for ns in desired.namespaces.values() {
        for iface in ns.interfaces.values() {
            p.traffic_control(ns, iface);
            p.programs(ns, iface);
        }
        p.routes(ns);
        p.rules(ns);
        p.sysctls(ns);
    }
    if p.diagnostics.is_empty() { Ok(Plan { ops: p.ops, drop_netns: p.drop_netns, drop_links: p.drop_links, forget: p.forget, handover: p.handover }) } else { Err(p.diagnostics) }
}

/// Interfaces in an order where bridges, parents and devices come before the links that
/// name them.
fn link_order(ns: &Namespace) -> Vec<&Interface> {
    fn visit<'n>(ns: &'n Namespace, iface: &'n Interface, done: &mut Vec<&'n str>, out: &mut Vec<&'n Interface>, depth: usize) {
        if done.contains(&iface.name.as_str()) || depth > ns.interfaces.len() {
            return;
        }
        for dep in link_dependencies(iface) {
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

fn link_dependencies(iface: &Interface) -> Vec<&str> {
    let mut deps: Vec<&str> = iface.master.iter().map(|m| m.node.as_str()).collect();
    match &iface.kind {
        IfaceKind::Macvlan { parent, .. } => deps.push(&parent.node),
        IfaceKind::Vxlan(x) => deps.extend(x.dev.iter().map(|d| d.node.as_str())),
        _ => {}
    }
    deps
}

impl<'a> Planner<'a> {
    fn push(&mut self, action: Action, origin: Span, mut deps: Vec<usize>, undo: Vec<Action>) -> usize {
        deps.extend(self.last_removal);
        deps.sort_unstable();
        deps.dedup();
        self.ops.push(Op { action, origin, deps, undo, removes: None });
        self.ops.len() - 1
    }

    /// Whether the script's earlier runs created this link (or this plan does): then
    /// netscript owns all of it, and what the script leaves unsaid takes its default.
    fn created_by_script(&self, ns: &str, name: &str) -> bool {
        let made_here = self.link_ops.get(&(ns.to_string(), name.to_string())).is_some_and(|ops| ops.iter().any(|&i| matches!(self.ops[i].action, Action::CreateLink { .. })));
        made_here || self.index.created_links.contains(&(ns.to_string(), name.to_string()))
    }

    /// The veth the script's earlier runs made at (ns, name), if it paired with another
    /// end than `peer`: what it was made as.
    fn moved_veth(&self, ns: &str, name: &str, peer: &IfRef) -> Option<&'a Action> {
        let made = *self.index.veths.get(&(ns.to_string(), name.to_string()))?;
        match made {
            Action::CreateLink { kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. } if peer_ns != &peer.ns || peer_name != &peer.name => Some(made),
            _ => None,
        }
    }

    /// `made` (a veth's creation) as the link is now, MACs included: what puts it back.
    fn as_it_is(&self, made: &Action, found: &ObservedLink) -> Action {
        let mut action = made.clone();
        if let Action::CreateLink { attrs, kind: LinkKind::Veth { peer_ns, peer_name, peer_attrs }, .. } = &mut action {
            attrs.mac = found.mac.or(attrs.mac);
            peer_attrs.mac = self.observed_link(peer_ns, peer_name).and_then(|p| p.mac).or(peer_attrs.mac);
        }
        action
    }

    /// Whether the record holds something with this key (see [`ownership::key`]).
    fn owns(&self, key: &str) -> bool {
        self.index.keys.contains(key)
    }

    fn observed_ns(&self, ns: &str) -> Option<&ObservedNs> {
        self.observed.namespaces.get(ns)
    }

    /// The link as observed; `None` for one this plan makes anew (what was seen of it
    /// is gone with it).
    fn observed_link(&self, ns: &str, name: &str) -> Option<&ObservedLink> {
        if self.is_replaced(ns, name) {
            return None;
        }
        self.observed_ns(ns).and_then(|n| n.links.get(name))
    }

    fn is_replaced(&self, ns: &str, name: &str) -> bool {
        self.replaced.iter().any(|(n, l)| n == ns && l == name)
    }

    fn ns_deps(&self, ns: &str) -> Vec<usize> {
        self.ns_op.get(ns).copied().into_iter().collect()
    }

    fn link_deps(&self, ns: &str, name: &str) -> Vec<usize> {
        let mut deps = self.ns_deps(ns);
        if let Some(ops) = self.link_ops.get(&(ns.to_string(), name.to_string())) {
            deps.extend(ops);
        }
        deps
    }

    fn record_link_op(&mut self, ns: &str, name: &str, op: usize) {
        self.link_ops.entry((ns.to_string(), name.to_string())).or_default().push(op);
        self.ns_link_ops.entry(ns.to_string()).or_default().push(op);
    }

    fn namespace(&mut self, ns: &Namespace) {
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

    fn attrs(iface: &Interface) -> LinkAttrs {
        LinkAttrs {
            up: iface.wants_up().unwrap_or(true),
            mtu: iface.mtu.as_ref().map(|m| m.node),
            mac: iface.mac.as_ref().map(|m| m.node),
            master: iface.master.as_ref().map(|m| m.node.clone()),
        }
    }

    fn link(&mut self, ns: &Namespace, iface: &Interface) {
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
            IfaceKind::Macvlan { parent, mode } => Some(LinkKind::Macvlan { parent: parent.node.clone(), mode: *mode }),
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
            (Some(kind), None) => self.create_link(ns, iface, kind),
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
                    let mut deps = self.link_deps(&ns.name, &iface.name);
                    deps.extend(self.ns_deps(&peer.ns));
                    // A rollback makes it again with its addresses and the routes through it.
                    let mut put_back = vec![self.as_it_is(made, &found)];
                    put_back.extend(found.addrs.iter().filter(|a| !matches!(a, ipnet::IpNet::V6(v6) if (v6.addr().segments()[0] & 0xffc0) == 0xfe80)).map(|addr| Action::AddAddr { ns: ns.name.clone(), dev: iface.name.clone(), addr: *addr }));
                    if let Action::CreateLink { kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. } = made {
                        put_back.extend(self.addrs_of(peer_ns, peer_name));
                    }
                    put_back.extend(self.routes_through(&ns.name, &iface.name));
                    if let Action::CreateLink { kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. } = made {
                        put_back.extend(self.routes_through(peer_ns, peer_name));
                    }
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
                IfaceKind::Loopback => {}
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

    fn peer_interface(&self, peer: &IfRef) -> Option<&'a Interface> {
        self.desired.namespaces.get(&peer.ns)?.interfaces.get(&peer.name)
    }

    fn create_link(&mut self, ns: &Namespace, iface: &Interface, kind: LinkKind) {
        let mut deps = self.ns_deps(&ns.name);
        if let LinkKind::Veth { peer_ns, peer_attrs, .. } = &kind {
            deps.extend(self.ns_deps(peer_ns));
            if let Some(m) = &peer_attrs.master {
                deps.extend(self.link_deps(peer_ns, m));
            }
        }
        for dep in link_dependencies(iface) {
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

    fn reconcile_link(&mut self, ns: &Namespace, iface: &Interface, found: &ObservedLink) {
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
        let wanted_mtu = iface.mtu.as_ref().map(|m| m.node).or_else(|| if owned_link { self.default_mtu(ns, iface, found) } else { None });
        if let Some(mtu) = wanted_mtu
            && mtu != found.mtu
        {
            set.mtu = Some(mtu);
            undo.push(one(LinkSet { mtu: Some(found.mtu), ..Default::default() }));
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
        if let Some(master) = wanted_master
            && master != found.master
        {
            set.master = Some(master);
            undo.push(one(LinkSet { master: Some(found.master.clone()), ..Default::default() }));
        }
        if set == LinkSet::default() {
            return;
        }
        if set.up == Some(false) {
            undo.extend(self.goes_down(&ns.name, &iface.name));
        }
        let mut deps = self.link_deps(&ns.name, &iface.name);
        if let Some(m) = &iface.master {
            deps.extend(self.link_deps(&ns.name, &m.node));
        }
        let op = self.push(one(set), iface.span, deps, undo);
        self.record_link_op(&ns.name, &iface.name, op);
    }

    /// Taking a link down makes the kernel drop its IPv6 addresses (`keep_addr_on_down`
    /// is 0 by default): they are not present for the additions (the script's are added
    /// again), and a rollback puts back those it had (after the link is up again).
    fn goes_down(&mut self, ns: &str, dev: &str) -> Vec<Action> {
        let Some(l) = self.observed_link(ns, dev).filter(|l| l.up) else { return Vec::new() };
        let dropped: Vec<ipnet::IpNet> = l.addrs.iter().copied().filter(|a| matches!(a, ipnet::IpNet::V6(v6) if (v6.addr().segments()[0] & 0xffc0) != 0xfe80)).collect();
        for a in &dropped {
            self.gone_addrs.insert((ns.to_string(), dev.to_string(), *a));
        }
        dropped.into_iter().map(|addr| Action::AddAddr { ns: ns.to_string(), dev: dev.to_string(), addr }).collect()
    }

    /// The mtu a link netscript creates has when the script does not set one, where it
    /// is known: 1500 for veth and ifb, the parent's for a macvlan.
    fn default_mtu(&self, ns: &Namespace, iface: &Interface, found: &ObservedLink) -> Option<u32> {
        match (&iface.kind, found.kind.as_deref()) {
            (IfaceKind::Macvlan { parent, .. }, _) => self.observed_link(&ns.name, &parent.node).map(|p| p.mtu),
            (_, Some("veth" | "ifb")) => Some(1500),
            _ => None,
        }
    }

    fn addresses(&mut self, ns: &Namespace, iface: &Interface) {
        let (nsn, dev) = (ns.name.clone(), iface.name.clone());
        let mut present: Vec<ipnet::IpNet> = self.observed_link(&nsn, &dev).map(|l| l.addrs.clone()).unwrap_or_default();
        present.retain(|a| !self.gone_addrs.contains(&(nsn.clone(), dev.clone(), *a)));
        let mut first_deps = Vec::new();
        // IPv4 keeps one primary address per subnet (the first added; the source of what
        // leaves through it). Where the kernel's order would not be the script's, the
        // script's own addresses of that subnet are deleted (secondaries first: deleting
        // a primary takes its secondaries) and added again in the script's order.
        let mut subnets: Vec<ipnet::IpNet> = iface.addrs.iter().filter(|a| a.node.addr().is_ipv4()).map(|a| a.node.trunc()).collect();
        subnets.dedup();
        for subnet in subnets {
            let declared: Vec<ipnet::IpNet> = iface.addrs.iter().map(|a| a.node).filter(|a| a.trunc() == subnet).collect();
            let here: Vec<ipnet::IpNet> = present.iter().copied().filter(|a| a.trunc() == subnet).collect();
            let kept: Vec<ipnet::IpNet> = here.iter().copied().filter(|a| declared.contains(a)).collect();
            let mut after: Vec<ipnet::IpNet> = kept.clone();
            after.extend(declared.iter().filter(|a| !here.contains(a)));
            let all_ours = here.iter().all(|a| self.owns(&format!("addr {nsn} {dev} {a}")));
            if after == declared || kept.is_empty() || !all_ours {
                continue;
            }
            for a in here.iter().rev() {
                let deps = self.link_deps(&nsn, &dev);
                let undo = vec![Action::AddAddr { ns: nsn.clone(), dev: dev.clone(), addr: *a }];
                let span = iface.addrs.iter().find(|d| d.node == *a).map(|d| d.span).unwrap_or(iface.span);
                let op = self.push(Action::DelAddr { ns: nsn.clone(), dev: dev.clone(), addr: *a }, span, deps, undo);
                first_deps.push(op);
                present.retain(|p| p != a);
            }
        }
        // Without any IPv4 address left for a moment, the device loses its IPv4 routes:
        // the script's are added again, and a rollback puts every one back (after the
        // addresses: on the first deletion, which it undoes last).
        if let Some(&first) = first_deps.first()
            && !present.iter().any(|a| a.addr().is_ipv4())
        {
            self.flushed_devs.insert((nsn.clone(), dev.clone()));
            let routes = self.flushed_route_restores(&nsn, &dev);
            self.ops[first].undo.extend(routes);
        }
        for addr in &iface.addrs {
            if present.contains(&addr.node) {
                continue;
            }
            let mut deps = self.link_deps(&nsn, &dev);
            deps.extend(first_deps.iter().copied());
            let undo = vec![Action::DelAddr { ns: nsn.clone(), dev: dev.clone(), addr: addr.node }];
            let op = self.push(Action::AddAddr { ns: nsn.clone(), dev: dev.clone(), addr: addr.node }, addr.span, deps, undo);
            // In the script's order: each waits for the one before.
            first_deps.push(op);
            self.ns_link_ops.entry(nsn.clone()).or_default().push(op);
        }
    }

    fn qdisc_on(&self, ns: &str, dev: &str, parent: QdiscParent) -> Option<&QdiscSpec> {
        if self.is_replaced(ns, dev) {
            return None;
        }
        self.observed_ns(ns)?.qdiscs.iter().find(|q| q.dev == dev && q.spec.parent() == parent).map(|q| &q.spec)
    }

    /// Replaces (or adds) a qdisc; returns its op, or `None` when it is already as wanted.
    fn qdisc(&mut self, ns: &str, dev: &str, spec: QdiscSpec, origin: Span, extra_deps: Vec<usize>) -> Option<usize> {
        let parent = spec.parent();
        if self.foreign_qdisc(ns, dev, parent, origin) {
            return None;
        }
        let existing = self.qdisc_on(ns, dev, parent).cloned();
        if existing.as_ref() == Some(&spec) {
            return None;
        }
        let mut deps = self.link_deps(ns, dev);
        deps.extend(extra_deps);
        let undo = match existing {
            // Another kind at the same place, or an htb with another default (the kernel
            // changes neither in place): the old one goes first, with its classes and
            // filters, which a rollback puts back after it.
            Some(old) if old.kind() != spec.kind() || matches!(old, QdiscSpec::Htb { .. }) => {
                let mut put_back = vec![Action::ReplaceQdisc { ns: ns.into(), dev: dev.into(), qdisc: old.clone() }];
                if matches!(old, QdiscSpec::Htb { .. }) {
                    put_back.extend(self.htb_contents(ns, dev));
                    self.recreated_htb.push((ns.to_string(), dev.to_string()));
                }
                let del = self.push(Action::DelQdisc { ns: ns.into(), dev: dev.into(), parent }, origin, deps.clone(), put_back);
                deps.push(del);
                vec![Action::DelQdisc { ns: ns.into(), dev: dev.into(), parent }]
            }
            Some(old) => vec![Action::ReplaceQdisc { ns: ns.into(), dev: dev.into(), qdisc: old }],
            None => vec![Action::DelQdisc { ns: ns.into(), dev: dev.into(), parent }],
        };
        Some(self.push(Action::ReplaceQdisc { ns: ns.into(), dev: dev.into(), qdisc: spec }, origin, deps, undo))
    }

    /// What puts an htb's classes (parents first) and filters back, as observed.
    fn htb_contents(&self, ns: &str, dev: &str) -> Vec<Action> {
        let Some(seen) = self.observed_ns(ns) else { return Vec::new() };
        let mut classes: Vec<&ClassSpec> = seen.classes.iter().filter(|(d, _)| d == dev).map(|(_, c)| c).collect();
        // Parents before their children.
        let mut ordered: Vec<&ClassSpec> = Vec::new();
        while !classes.is_empty() {
            let before = classes.len();
            classes.retain(|c| {
                let ready = c.parent.is_none_or(|p| ordered.iter().any(|o| o.id == p));
                if ready {
                    ordered.push(c);
                }
                !ready
            });
            if classes.len() == before {
                ordered.append(&mut classes);
            }
        }
        let mut out: Vec<Action> = ordered.into_iter().map(|c| Action::ReplaceClass { ns: ns.into(), dev: dev.into(), class: c.clone() }).collect();
        out.extend(seen.filters.iter().filter(|f| f.dev == dev).filter_map(|f| f.spec.clone()).map(|filter| Action::AddFilter { ns: ns.into(), dev: dev.into(), filter }));
        out
    }

    /// A root or ingress qdisc that someone else put there (not the kernel's default,
    /// not recorded as the script's): netscript cannot put it back as it was (its
    /// classes, filters, handle), so it refuses to replace it, before changing anything.
    /// A clsact qdisc is shared: netscript only adds its own filters to it.
    fn foreign_qdisc(&mut self, ns: &str, dev: &str, parent: QdiscParent, origin: Span) -> bool {
        if parent == QdiscParent::Clsact || self.is_replaced(ns, dev) || self.owns(&format!("qdisc {ns} {dev} {parent:?}")) {
            return false;
        }
        let Some(seen) = self.observed_ns(ns).and_then(|o| o.root_qdiscs.iter().find(|q| q.dev == dev && q.parent == parent)) else { return false };
        if parent == QdiscParent::Root && seen.handle >> 16 == 0 {
            // The kernel's own default (noqueue, pfifo_fast, mq): handle 0:.
            return false;
        }
        let (kind, handle) = (seen.kind.clone(), seen.handle);
        let (where_, del) = match parent {
            QdiscParent::Root => ("root", format!("tc qdisc del dev {dev} root")),
            _ => ("ingress", format!("tc qdisc del dev {dev} ingress")),
        };
        self.diagnostics.push(
            Diagnostic::error(FOREIGN_QDISC, origin, format!("`{dev}` in `{ns}` already has a {where_} qdisc that netscript did not make ({kind} {:x}:)", handle >> 16))
                .label("this would replace it")
                .help(format!("netscript replaces only qdiscs it can give back exactly; remove that one first (`{del}`), or leave this interface's qdisc out of the script")),
        );
        true
    }

    fn traffic_control(&mut self, ns: &Namespace, iface: &Interface) {
        if let Some(q) = &iface.root_qdisc {
            match &q.node {
                Qdisc::Tbf(tbf) => {
                    self.qdisc(&ns.name, &iface.name, QdiscSpec::Tbf(tbf.clone()), q.span, vec![]);
                }
                Qdisc::Netem(netem) => {
                    self.qdisc(&ns.name, &iface.name, QdiscSpec::Netem(netem.clone()), q.span, vec![]);
                }
                Qdisc::Htb(htb) => self.htb(ns, iface, htb, q.span),
            }
        }
        if let Some(shape) = &iface.ingress_shape {
            self.ingress_shape(ns, iface, shape.node.clone(), shape.span);
        }
    }

    fn htb(&mut self, ns: &Namespace, iface: &Interface, htb: &Htb, span: Span) {
        let qdisc_op = self.qdisc(&ns.name, &iface.name, QdiscSpec::from(htb), span, vec![]);
        let recreated = self.recreated_htb.iter().any(|(n, d)| *n == ns.name && *d == iface.name);
        let observed: Vec<ClassSpec> = self
            .observed_ns(&ns.name)
            .filter(|_| !self.is_replaced(&ns.name, &iface.name) && !recreated)
            .map(|o| o.classes.iter().filter(|(d, _)| *d == iface.name).map(|(_, c)| c.clone()).collect())
            .unwrap_or_default();
        let mut class_ops: HashMap<u32, usize> = HashMap::new();
        for class in &htb.classes {
            let spec = class_spec(class);
            let old = observed.iter().find(|c| c.id == spec.id);
            if old == Some(&spec) {
                continue;
            }
            let undo = match old {
                Some(old) => vec![Action::ReplaceClass { ns: ns.name.clone(), dev: iface.name.clone(), class: old.clone() }],
                None => vec![Action::DelClass { ns: ns.name.clone(), dev: iface.name.clone(), id: spec.id }],
            };
            let mut deps: Vec<usize> = qdisc_op.into_iter().collect();
            deps.extend(self.link_deps(&ns.name, &iface.name));
            if let Some(parent) = class.parent.and_then(|p| class_ops.get(&p)) {
                deps.push(*parent);
            }
            let op = self.push(Action::ReplaceClass { ns: ns.name.clone(), dev: iface.name.clone(), class: spec }, class.span, deps, undo);
            class_ops.insert(class.id.node, op);
        }
        // An htb that stays (its parameters may change in place) keeps its filters:
        // compare them, priority by priority. A new htb starts without any.
        let recreated = self.recreated_htb.iter().any(|(n, d)| *n == ns.name && *d == iface.name);
        let in_place = !recreated && matches!(self.qdisc_on(&ns.name, &iface.name, QdiscParent::Root), Some(QdiscSpec::Htb { .. }));
        let seen: Vec<ObservedFilter> = if in_place && !self.observed.offline {
            self.observed_ns(&ns.name).map(|o| o.filters.iter().filter(|f| f.dev == iface.name).cloned().collect()).unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut wanted_prios = Vec::new();
        for (index, f) in htb.filters.iter().enumerate() {
            let prio = index as u32 + 1;
            wanted_prios.push(prio);
            let filter = FilterSpec::U32 {
                prio,
                proto: f.proto,
                src: f.src.as_ref().map(|s| s.node),
                dst: f.dst.as_ref().map(|s| s.node),
                sport: f.sport.as_ref().map(|s| s.node),
                dport: f.dport.as_ref().map(|s| s.node),
                flowid: f.flowid.node,
            };
            let at_prio: Vec<&ObservedFilter> = seen.iter().filter(|o| o.prio == prio).collect();
            if let [only] = at_prio.as_slice()
                && only.spec.as_ref() == Some(&filter)
            {
                continue;
            }
            let mut deps: Vec<usize> = qdisc_op.into_iter().collect();
            deps.extend(self.link_deps(&ns.name, &iface.name));
            deps.extend(class_ops.get(&f.flowid.node));
            if !at_prio.is_empty() {
                // Something else sits at this priority: netscript's own earlier filter
                // (removed, and put back by the undo), or one it cannot restore.
                let olds: Vec<FilterSpec> = at_prio.iter().filter_map(|o| o.spec.clone()).collect();
                let ours = self.owns(&format!("filter {} {} {prio}", ns.name, iface.name));
                if olds.len() != at_prio.len() || olds.len() > 1 || !ours {
                    self.diagnostics.push(
                        Diagnostic::error(FILTER_CONFLICT, f.span, format!("`{}` in `{}` already has a filter at prio {prio} that netscript did not write", iface.name, ns.name))
                            .label("this filter would take its place")
                            .help(format!("netscript numbers filters by their order in the htb block; remove the other one (`tc filter del dev {} parent 1: prio {prio}`)", iface.name)),
                    );
                    continue;
                }
                let old = olds.into_iter().next().expect("one decoded filter");
                let undo = vec![Action::AddFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: old.clone() }];
                let del = self.push(Action::DelFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: old }, f.span, deps.clone(), undo);
                deps.push(del);
            }
            let undo = vec![Action::DelFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: filter.clone() }];
            self.push(Action::AddFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter }, f.span, deps, undo);
        }
    }

    fn ingress_shape(&mut self, ns: &Namespace, iface: &Interface, tbf: Tbf, span: Span) {
        let ifb = ifb_name(&iface.name);
        if let Some(found) = self.observed_link(&ns.name, &ifb)
            && (found.kind.as_deref() != Some("ifb") || !self.owns(&format!("link {} {ifb}", ns.name)))
        {
            let kind = found.kind.clone().unwrap_or_else(|| "device".into());
            self.diagnostics.push(
                Diagnostic::error(FOREIGN_LINK, span, format!("`{ifb}` exists in `{}` (a {kind}) and is not netscript's", ns.name))
                    .label("ingress shaping needs its own ifb device of this name")
                    .help(format!("netscript shapes `{}`'s ingress through a device named `{ifb}`; rename or delete the existing one", iface.name)),
            );
            return;
        }
        if self.observed_link(&ns.name, &ifb).is_none() {
            let mut deps = self.ns_deps(&ns.name);
            deps.extend(self.link_deps(&ns.name, &iface.name));
            // Always undone by name, even in a namespace this plan creates: the record of
            // the run must hold it, so that a re-run without `shape ingress` removes it.
            // (A rollback skips it when it deletes the namespace anyway.)
            let undo = vec![Action::DeleteLink { ns: ns.name.clone(), name: ifb.clone() }];
            let op = self.push(
                Action::CreateLink { ns: ns.name.clone(), name: ifb.clone(), kind: LinkKind::Ifb, attrs: LinkAttrs { up: true, ..Default::default() } },
                span,
                deps,
                undo,
            );
            self.record_link_op(&ns.name, &ifb, op);
        }
        let ingress_op = self.qdisc(&ns.name, &iface.name, QdiscSpec::Ingress, span, vec![]);
        self.qdisc(&ns.name, &ifb, QdiscSpec::Tbf(tbf), span, vec![]);
        let filter = FilterSpec::MirredToIfb { ifb: ifb.clone() };
        match ingress_op {
            // A new ingress qdisc: the redirect goes with it (and away with it).
            Some(ingress_op) => {
                let mut deps = vec![ingress_op];
                deps.extend(self.link_deps(&ns.name, &ifb));
                self.push(Action::AddFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter }, span, deps, vec![]);
            }
            // The qdisc is there; the redirect must be too (it may have been deleted by
            // hand, and without it nothing reaches the ifb's shaper).
            None => {
                let redirected = self.observed_ns(&ns.name).is_some_and(|o| o.redirects.iter().any(|(dev, to)| *dev == iface.name && *to == ifb));
                if !redirected {
                    let mut deps = self.link_deps(&ns.name, &iface.name);
                    deps.extend(self.link_deps(&ns.name, &ifb));
                    let undo = vec![Action::DelFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: filter.clone() }];
                    self.push(Action::AddFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter }, span, deps, undo);
                }
            }
        }
    }

    fn routes(&mut self, ns: &Namespace) {
        let mut observed: Vec<RouteSpec> = self.observed_ns(&ns.name).map(|o| o.routes.clone()).unwrap_or_default();
        observed.retain(|r| !(r.dest.addr().is_ipv4() && r.dev.as_ref().is_some_and(|d| self.flushed_devs.contains(&(ns.name.clone(), d.clone())))));
        // Routes through a link this plan deletes go with it.
        observed.retain(|r| !r.dev.as_ref().is_some_and(|d| self.is_replaced(&ns.name, d)));
        for route in &ns.routes {
            let spec = route_spec(route);
            if observed.iter().any(|have| route_matches(&spec, have)) {
                continue;
            }
            let mut deps = self.ns_deps(&ns.name);
            deps.extend(self.ns_link_ops.get(&ns.name).cloned().unwrap_or_default());
            // Deleted by its exact identity: the kernel's default metric made explicit
            // (IPv6 routes differ by metric; an IPv4 delete matches netscript's protocol).
            let mut exact = spec.clone();
            if exact.metric.is_none() && route.is_ipv6() {
                exact.metric = Some(IPV6_DEFAULT_METRIC);
            }
            let undo = vec![Action::DelRoute { ns: ns.name.clone(), route: exact }];
            self.push(Action::AddRoute { ns: ns.name.clone(), route: spec }, route.span, deps, undo);
        }
    }

    fn rules(&mut self, ns: &Namespace) {
        // A namespace still to be made has the kernel's default rules: a script's rule
        // equal to one of them is there already, as it is in an existing namespace.
        let observed: Vec<RuleSpec> = match self.observed_ns(&ns.name) {
            Some(o) => o.rules.clone(),
            None => default_rules(),
        };
        for rule in &ns.rules {
            let mut spec = rule_spec(rule);
            if observed.iter().any(|have| rule_matches(&spec, have)) {
                continue;
            }
            // The priority the kernel would pick, given explicitly: the record then
            // names this rule exactly, and its delete cannot take another rule.
            let prios = self.rule_prios.entry((ns.name.clone(), spec.v6)).or_insert_with(|| {
                // The kernel leaves out the priority of a rule at 0 (`local`).
                let mut seen: Vec<u32> = observed.iter().filter(|r| r.v6 == spec.v6).map(|r| r.priority.unwrap_or(0)).collect();
                seen.sort_unstable();
                if seen.is_empty() {
                    // A namespace being created (or planning offline): the kernel's defaults.
                    seen = if spec.v6 { vec![0, 32766] } else { vec![0, 32766, 32767] };
                }
                seen
            });
            let priority = spec.priority.unwrap_or_else(|| kernel_rule_priority(prios));
            prios.push(priority);
            prios.sort_unstable();
            spec.priority = Some(priority);
            let deps = self.ns_deps(&ns.name);
            let undo = vec![Action::DelRule { ns: ns.name.clone(), rule: spec.clone() }];
            self.push(Action::AddRule { ns: ns.name.clone(), rule: spec }, rule.span, deps, undo);
        }
    }

    fn sysctls(&mut self, ns: &Namespace) {
        let mut wanted: Vec<(String, String, Span)> = Vec::new();
        if let Some(forward) = &ns.forward {
            let v = if forward.node { "1" } else { "0" };
            wanted.push(("net.ipv4.ip_forward".into(), v.into(), forward.span));
            wanted.push(("net.ipv6.conf.all.forwarding".into(), v.into(), forward.span));
        }
        for (key, value) in &ns.sysctls {
            if !wanted.iter().any(|(k, _, _)| k == key) {
                wanted.push((key.clone(), value.node.clone(), value.span));
            }
        }
        for (key, value, span) in wanted {
            let current = self.observed_ns(&ns.name).and_then(|o| o.sysctls.get(&key)).cloned();
            if current.as_deref().is_some_and(|c| same_sysctl_value(c, &value)) {
                continue;
            }
            let mut deps = self.ns_deps(&ns.name);
            deps.extend(self.ns_link_ops.get(&ns.name).cloned().unwrap_or_default());
            // In a namespace this plan creates, what it had before is what a new
            // namespace has (read from a throw-away one).
            let before = current.or_else(|| self.observed.fresh_sysctls.get(&key).cloned());
            let undo = before.map(|old| Action::SetSysctl { ns: ns.name.clone(), key: key.clone(), value: old }).into_iter().collect();
            self.push(Action::SetSysctl { ns: ns.name.clone(), key, value }, span, deps, undo);
        }
    }
}

/// The rules every new network namespace has (`ip rule` of a fresh one).
fn default_rules() -> Vec<RuleSpec> {
    let rule = |v6: bool, priority: u32, table: u32| RuleSpec { v6, from: None, to: None, iif: None, oif: None, fwmark: None, fwmask: None, uidrange: None, priority: Some(priority), table };
    vec![rule(false, 0, TABLE_LOCAL), rule(false, 32766, TABLE_MAIN), rule(false, 32767, TABLE_DEFAULT), rule(true, 0, TABLE_LOCAL), rule(true, 32766, TABLE_MAIN)]
}

/// The mtu of `lo` in a new namespace.
const LOOPBACK_MTU: u32 = 65536;

/// The metric the kernel gives an IPv6 route added without one.
pub const IPV6_DEFAULT_METRIC: u32 = 1024;

/// The priority the kernel gives a rule added without one (`fib_default_rule_pref`):
/// one below the second rule's, given the priorities it holds (sorted).
fn kernel_rule_priority(sorted: &[u32]) -> u32 {
    match sorted.get(1) {
        Some(&second) if second > 0 => second - 1,
        _ => 0,
    }
}

/// Sysctl values compare as the kernel's words: it reads multi-value ones back
/// tab-separated (`net.ipv4.ping_group_range = 0 2147483647`).
pub fn same_sysctl_value(have: &str, want: &str) -> bool {
    have.split_whitespace().eq(want.split_whitespace())
}

fn kind_word(kind: &LinkKind) -> &'static str {
    match kind {
        LinkKind::Veth { .. } => "veth",
        LinkKind::Bridge => "bridge",
        LinkKind::Macvlan { .. } => "macvlan",
        LinkKind::Vxlan { .. } => "vxlan",
        LinkKind::Ifb => "ifb",
    }
}

pub fn route_spec(route: &Route) -> RouteSpec {
    let dest = match &route.dest.node {
        RouteDest::Prefix(p) => *p,
        RouteDest::Default if route.is_ipv6() => "::/0".parse().unwrap(),
        RouteDest::Default => "0.0.0.0/0".parse().unwrap(),
    };
    RouteSpec {
        dest,
        via: route.via.as_ref().map(|v| v.node),
        dev: route.dev.as_ref().map(|d| d.node.clone()),
        src: route.src.as_ref().map(|s| s.node),
        metric: route.metric.as_ref().map(|m| m.node),
        table: route.table_id(),
    }
}

pub fn rule_spec(rule: &Rule) -> RuleSpec {
    // A /0 selector matches everything: the kernel keeps none ("from all"), and so does
    // the spec, so that it compares equal with what the kernel reports.
    let selector = |s: &Option<crate::source::Spanned<ipnet::IpNet>>| s.as_ref().map(|f| f.node).filter(|n| n.prefix_len() > 0);
    RuleSpec {
        v6: rule.is_ipv6(),
        from: selector(&rule.from),
        to: selector(&rule.to),
        iif: rule.iif.as_ref().map(|i| i.node.clone()),
        oif: rule.oif.as_ref().map(|o| o.node.clone()),
        fwmark: rule.fwmark.as_ref().map(|f| f.node.0),
        fwmask: rule.fwmark.as_ref().and_then(|f| f.node.1),
        uidrange: rule.uidrange.as_ref().map(|u| u.node),
        priority: rule.priority.as_ref().map(|p| p.node),
        table: rule.table.id,
    }
}

/// The class an htb `class` statement asks for (ceil defaults to the rate, as in tc).
pub fn class_spec(class: &HtbClass) -> ClassSpec {
    ClassSpec {
        id: class.id.node,
        parent: class.parent,
        rate: class.rate.node,
        ceil: class.ceil.as_ref().map(|c| c.node).unwrap_or(class.rate.node),
        prio: class.prio.as_ref().map(|p| p.node),
    }
}

/// Every qdisc a namespace's interfaces ask for, by device, and every htb class.
pub fn desired_tc(ns: &Namespace) -> (Vec<(String, QdiscSpec)>, Vec<(String, ClassSpec)>) {
    let mut qdiscs = Vec::new();
    let mut classes = Vec::new();
    for iface in ns.interfaces.values() {
        if let Some(q) = &iface.root_qdisc {
            let spec = match &q.node {
                Qdisc::Tbf(t) => QdiscSpec::Tbf(t.clone()),
                Qdisc::Netem(n) => QdiscSpec::Netem(n.clone()),
                Qdisc::Htb(h) => {
                    classes.extend(h.classes.iter().map(|c| (iface.name.clone(), class_spec(c))));
                    QdiscSpec::from(h)
                }
            };
            qdiscs.push((iface.name.clone(), spec));
        }
        if let Some(shape) = &iface.ingress_shape {
            qdiscs.push((iface.name.clone(), QdiscSpec::Ingress));
            qdiscs.push((ifb_name(&iface.name), QdiscSpec::Tbf(shape.node.clone())));
        }
    }
    (qdiscs, classes)
}

/// Whether an observed route is the one a script asks for. What the script leaves open
/// (the device of a gateway route, the source, the metric) the kernel fills in: any value
/// matches.
pub fn route_matches(want: &RouteSpec, have: &RouteSpec) -> bool {
    fn open_or_eq<T: PartialEq>(want: &Option<T>, have: &Option<T>) -> bool {
        want.is_none() || want == have
    }
    want.dest == have.dest
        && want.table == have.table
        && want.via == have.via
        && open_or_eq(&want.dev, &have.dev)
        && open_or_eq(&want.src, &have.src)
        && open_or_eq(&want.metric, &have.metric)
}

/// Whether an observed rule is the one a script asks for: the kernel picks a priority
/// when none is given, and a fwmark without a mask has the full mask.
pub fn rule_matches(want: &RuleSpec, have: &RuleSpec) -> bool {
    let mask = |r: &RuleSpec| r.fwmark.map(|_| r.fwmask.unwrap_or(u32::MAX));
    want.v6 == have.v6
        && want.from == have.from
        && want.to == have.to
        && want.iif == have.iif
        && want.oif == have.oif
        && want.fwmark == have.fwmark
        && mask(want) == mask(have)
        && want.uidrange == have.uidrange
        && want.table == have.table
        && (want.priority.is_none() || want.priority == have.priority)
}
