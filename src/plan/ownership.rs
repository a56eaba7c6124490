//! What a script owns, and what follows from it: the removals of an edit or a `down`.
//!
//! # The model
//!
//! * **Owned**: every object a run of the script *created* (a namespace, a link, an
//!   address, a route, a rule, a qdisc, a class, a filter, a program), inside namespaces
//!   netscript created as much as outside them. Recorded with its exact kernel identity
//!   (a rule by all its selectors and its priority, a route by table, prefix, metric and
//!   netscript's route protocol), it is removed when the script stops declaring it.
//! * **Modified**: an attribute of something netscript did not create (a link's mtu or
//!   state, a sysctl, the root qdisc of an existing link), recorded with the value it had
//!   before the script first changed it; that value is put back when the script stops
//!   declaring the attribute, and by `down`.
//! * **Never touched**: everything else — objects that others add, even inside a
//!   namespace netscript created (a routing daemon's routes, a DHCP client's address,
//!   the operator's own rule), and whatever the script does not name.
//!
//! The record is a list of [`Owned`] entries, in the order their operations were applied.

use super::action::*;
use super::{route_matches, rule_matches, ifb_name, route_spec, rule_spec};
use crate::model::{Desired, HOST, Qdisc};

/// One thing a script's runs made: the operation as applied, and what undoes it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Owned {
    /// The operation as it was applied: what puts the object back if its removal must be
    /// rolled back. `None` in records of format 1, which kept only the undo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made: Option<Action>,
    /// What restores the state from before it (removes what it created, puts back what
    /// it changed).
    pub undo: Vec<Action>,
}

/// The identity of what an undo action removes or restores: two entries with the same
/// key are about the same object or attribute.
pub fn key(undo: &Action) -> String {
    match undo {
        Action::DeleteNetns { ns, .. } | Action::CreateNetns { ns } => format!("netns {ns}"),
        Action::DeleteLink { ns, name } => format!("link {ns} {name}"),
        Action::CreateLink { ns, name, .. } => format!("link {ns} {name}"),
        Action::SetLink { ns, name, set } => {
            let attr = if set.up.is_some() {
                "up"
            } else if set.mtu.is_some() {
                "mtu"
            } else if set.mac.is_some() {
                "mac"
            } else {
                "master"
            };
            format!("link-attr {ns} {name} {attr}")
        }
        Action::ChangeLink { ns, name, .. } => format!("link-kind {ns} {name}"),
        Action::AddAddr { ns, dev, addr } | Action::DelAddr { ns, dev, addr } => format!("addr {ns} {dev} {addr}"),
        Action::AddRoute { ns, route } | Action::DelRoute { ns, route } => {
            format!("route {ns} {} {} {:?} {:?}", route.table, route.dest, route.via, route.metric)
        }
        Action::AddRule { ns, rule } | Action::DelRule { ns, rule } => format!("rule {ns} {rule:?}"),
        Action::ReplaceQdisc { ns, dev, qdisc } => format!("qdisc {ns} {dev} {:?}", qdisc.parent()),
        Action::DelQdisc { ns, dev, parent } => format!("qdisc {ns} {dev} {parent:?}"),
        Action::ReplaceClass { ns, dev, class } => format!("class {ns} {dev} {}", class.id),
        Action::DelClass { ns, dev, id } => format!("class {ns} {dev} {id}"),
        Action::AddFilter { ns, dev, filter } | Action::DelFilter { ns, dev, filter } => match filter {
            // A node of a script's hash table: by its whole handle (a table holds many).
            FilterSpec::U32 { ht: Some(place), handle, .. } => {
                format!("ingress-node {ns} {dev} {:x}:{:x}:{:x}", place.table, place.bucket, handle.unwrap_or(crate::model::U32_FIRST_NODE))
            }
            FilterSpec::U32 { prio, ingress: false, .. } => format!("filter {ns} {dev} {prio}"),
            FilterSpec::U32 { prio, ingress: true, .. } => format!("ingress-filter {ns} {dev} {prio}"),
            FilterSpec::MirredToIfb { .. } => format!("redirect {ns} {dev}"),
            FilterSpec::U32Table { table, .. } => format!("ingress-table {ns} {dev} {table:x}"),
        },
        Action::SetSysctl { ns, key, .. } => format!("sysctl {ns} {key}"),
        Action::AttachBpf { ns, dev, direction, prio, .. } | Action::DetachBpf { ns, dev, direction, prio, .. } => format!("bpf {ns} {dev} {direction:?} {prio}"),
        Action::AttachXdp { ns, dev, .. } | Action::DetachXdp { ns, dev, .. } => format!("xdp {ns} {dev}"),
        Action::SetFirewall { ns, .. } | Action::DeleteFirewall { ns } => format!("firewall {ns}"),
    }
}

/// The key of an entry: that of its first undo action.
pub fn entry_key(owned: &Owned) -> Option<String> {
    owned.undo.first().map(key)
}

/// Adds the entries of a run to a record. An entry about an object or attribute the
/// record already holds keeps the record's undo (the state from before the script first
/// touched it, which is what `down` must give back) and takes the new `made` — but for
/// an object the script made and now makes anew (a u32 filter with other matches at the
/// same priority): `down` removes the object as it is now, so the new removal replaces
/// the old.
pub fn merge(record: &mut Vec<Owned>, new: impl IntoIterator<Item = Owned>) {
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, e) in record.iter().enumerate() {
        if let Some(k) = entry_key(e) {
            at.entry(k).or_insert(i);
        }
    }
    for entry in new {
        let Some(k) = entry_key(&entry) else { continue };
        match at.get(&k) {
            Some(&i) => {
                let made_anew = record[i].undo.first().is_some_and(Action::removes_an_object) && entry.undo.first().is_some_and(Action::removes_an_object);
                if made_anew {
                    record[i].undo = entry.undo;
                }
                record[i].made = entry.made;
            }
            None => {
                at.insert(k, record.len());
                record.push(entry);
            }
        }
    }
    // An attribute of a link the script created is not kept apart: the link is the
    // script's in full, and what the script leaves unsaid returns to the link's default.
    let created: Vec<(String, String)> = record
        .iter()
        .flat_map(|o| {
            let mut links = Vec::new();
            if let Some(Action::DeleteLink { ns, name }) = o.undo.first() {
                links.push((ns.clone(), name.clone()));
            }
            if let Some(Action::CreateLink { kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. }) = &o.made {
                links.push((peer_ns.clone(), peer_name.clone()));
            }
            links
        })
        .collect();
    // A kind change in place (an ipvlan's mode) is the link's as it is made from now on.
    let changes: Vec<(String, String, LinkKind)> = record
        .iter()
        .filter_map(|o| match &o.made {
            Some(Action::ChangeLink { ns, name, kind }) => Some((ns.clone(), name.clone(), kind.clone())),
            _ => None,
        })
        .collect();
    for (ns, name, kind) in changes {
        for o in record.iter_mut() {
            if let Some(Action::CreateLink { ns: n, name: l, kind: made, .. }) = &mut o.made
                && *n == ns
                && *l == name
            {
                *made = kind.clone();
            }
        }
    }
    record.retain(|o| !matches!(o.undo.first(), Some(Action::SetLink { ns, name, .. } | Action::ChangeLink { ns, name, .. }) if created.iter().any(|(n, l)| n == ns && l == name)));
}

/// Whether `desired` still declares the object or attribute that `undo` removes or
/// restores (then it stays; else it goes with this run).
pub fn declares(desired: &Desired, undo: &Action) -> bool {
    let ns_of = |ns: &str| desired.namespaces.get(ns);
    let iface = |ns: &str, name: &str| ns_of(ns).and_then(|n| n.interfaces.get(name));
    let shapes_ingress_via = |ns: &str, ifb: &str| ns_of(ns).is_some_and(|n| n.interfaces.values().any(|i| i.ingress_shape.is_some() && ifb_name(&i.name) == ifb));
    let qdisc_declared = |ns: &str, dev: &str, parent: QdiscParent| match parent {
        QdiscParent::Root => iface(ns, dev).is_some_and(|i| i.root_qdisc.is_some()) || shapes_ingress_via(ns, dev),
        QdiscParent::Ingress => iface(ns, dev).is_some_and(|i| i.ingress_shape.is_some() || i.hook_qdisc.as_ref().is_some_and(|h| h.node == crate::model::HookQdisc::Ingress)),
        QdiscParent::Clsact => iface(ns, dev).is_some_and(|i| !i.bpf.is_empty() || i.hook_qdisc.as_ref().is_some_and(|h| h.node == crate::model::HookQdisc::Clsact)),
    };
    match undo {
        Action::DeleteNetns { ns, .. } => ns_of(ns).is_some_and(|n| n.name != HOST),
        Action::DeleteLink { ns, name } => iface(ns, name).is_some_and(|i| i.is_created()) || shapes_ingress_via(ns, name),
        Action::DelAddr { ns, dev, addr } => iface(ns, dev).is_some_and(|i| i.addrs.iter().any(|a| a.node == *addr)),
        Action::DelRoute { ns, route } => ns_of(ns).is_some_and(|n| n.routes.iter().any(|r| route_matches(&route_spec(r), route))),
        Action::DelRule { ns, rule } => ns_of(ns).is_some_and(|n| n.rules.iter().any(|r| rule_matches(&rule_spec(r), rule))),
        Action::DelQdisc { ns, dev, parent } => qdisc_declared(ns, dev, *parent),
        Action::ReplaceQdisc { ns, dev, qdisc } => qdisc_declared(ns, dev, qdisc.parent()),
        Action::DelClass { ns, dev, id } | Action::ReplaceClass { ns, dev, class: ClassSpec { id, .. } } => iface(ns, dev)
            .and_then(|i| i.root_qdisc.as_ref())
            .is_some_and(|q| matches!(&q.node, Qdisc::Htb(h) if h.classes.iter().any(|c| c.id.node == *id))),
        Action::DelFilter { ns, dev, filter: FilterSpec::MirredToIfb { .. } } | Action::AddFilter { ns, dev, filter: FilterSpec::MirredToIfb { .. } } => {
            iface(ns, dev).is_some_and(|i| i.ingress_shape.is_some())
        }
        Action::DelFilter { ns, dev, filter: FilterSpec::U32Table { table, .. } } | Action::AddFilter { ns, dev, filter: FilterSpec::U32Table { table, .. } } => {
            iface(ns, dev).is_some_and(|i| i.ingress_shape.is_none() && i.ingress_tables.iter().any(|t| t.id.node == *table))
        }
        Action::DelFilter { ns, dev, filter: FilterSpec::U32 { ht: Some(place), handle, .. } } | Action::AddFilter { ns, dev, filter: FilterSpec::U32 { ht: Some(place), handle, .. } } => iface(ns, dev).is_some_and(|i| {
            let nodes = crate::model::u32_ht_nodes(&i.ingress_filters);
            i.ingress_shape.is_none()
                && i.ingress_filters.iter().zip(nodes).any(|(f, node)| f.ht.as_ref().is_some_and(|h| h.table.node == place.table && h.bucket == place.bucket) && node == *handle)
        }),
        Action::DelFilter { ns, dev, filter: FilterSpec::U32 { prio, ingress: true, .. } } | Action::AddFilter { ns, dev, filter: FilterSpec::U32 { prio, ingress: true, .. } } => {
            iface(ns, dev).is_some_and(|i| i.ingress_shape.is_none() && i.ingress_filters.iter().enumerate().any(|(n, f)| f.ht.is_none() && f.prio_at(n) == *prio))
        }
        Action::DelFilter { ns, dev, filter: FilterSpec::U32 { prio, .. } } | Action::AddFilter { ns, dev, filter: FilterSpec::U32 { prio, .. } } => iface(ns, dev)
            .and_then(|i| i.root_qdisc.as_ref())
            .is_some_and(|q| matches!(&q.node, Qdisc::Htb(h) if h.filters.iter().enumerate().any(|(i, f)| f.prio_at(i) == *prio))),
        Action::SetSysctl { ns, key, .. } => ns_of(ns).is_some_and(|n| {
            n.sysctls.contains_key(key) || (n.forward.is_some() && (key == "net.ipv4.ip_forward" || key == "net.ipv6.conf.all.forwarding"))
        }),
        Action::SetLink { ns, name, set } => {
            // An interface the script no longer names gets back what it had.
            let Some(i) = iface(ns, name) else { return false };
            (set.up.is_none() || i.admin_up.is_some() || i.is_created())
                && (set.mtu.is_none() || i.mtu.is_some())
                && (set.mac.is_none() || i.mac.is_some())
                && (set.master.is_none() || i.master.is_some())
        }
        Action::DetachBpf { ns, dev, direction, prio, .. } | Action::AttachBpf { ns, dev, direction, prio, .. } => {
            iface(ns, dev).is_some_and(|i| i.bpf.iter().filter(|b| b.node.direction == *direction).enumerate().any(|(n, b)| b.node.prio_at(n) == *prio))
        }
        Action::DetachXdp { ns, dev, .. } | Action::AttachXdp { ns, dev, .. } => iface(ns, dev).is_some_and(|i| i.xdp.is_some()),
        Action::DeleteFirewall { ns } | Action::SetFirewall { ns, .. } => ns_of(ns).is_some_and(|n| !n.firewall.is_empty()),
        // Forward actions never appear as undo.
        _ => true,
    }
}

/// What the observer must read for a plan to see what the record owns: its namespaces,
/// and in each the kinds of objects it made there.
#[derive(Debug, Clone, Default)]
pub struct Interest {
    pub namespaces: std::collections::BTreeMap<String, NsInterest>,
    pub tables: std::collections::BTreeSet<u32>,
    /// The record's seals of netscript's firewall table, by namespace: where one still
    /// holds, the table need not be read back (see [`crate::plan::firewall::FirewallSeal`]).
    pub firewall_seals: std::collections::BTreeMap<String, crate::plan::firewall::FirewallSeal>,
    /// The root netems the record made, as last applied, by (namespace, device): the
    /// kernel never reports a netem's delay table, the record does.
    pub netems: std::collections::BTreeMap<(String, String), crate::model::Netem>,
}

#[derive(Debug, Clone, Default)]
pub struct NsInterest {
    /// The record holds this namespace itself (it made it).
    pub created: bool,
    pub routes: bool,
    pub rules: bool,
    pub tc: bool,
    pub sysctls: Vec<String>,
    /// netscript's nftables table.
    pub firewall: bool,
    /// The namespaces at the other end of veths the record made from this one.
    pub veth_peers: std::collections::BTreeSet<String>,
}

pub fn interest(owned: &[Owned]) -> Interest {
    let mut out = Interest::default();
    for action in owned.iter().flat_map(|o| o.undo.iter()) {
        let ns = out.namespaces.entry(action.namespace().to_string()).or_default();
        match action {
            Action::DelRoute { route, .. } | Action::AddRoute { route, .. } => {
                ns.routes = true;
                out.tables.insert(route.table);
            }
            Action::DelRule { .. } | Action::AddRule { .. } => ns.rules = true,
            Action::DelQdisc { .. } | Action::ReplaceQdisc { .. } | Action::DelClass { .. } | Action::ReplaceClass { .. } | Action::DelFilter { .. } | Action::AddFilter { .. } => ns.tc = true,
            Action::DetachBpf { .. } | Action::AttachBpf { .. } | Action::DetachXdp { .. } | Action::AttachXdp { .. } => ns.tc = true,
            Action::SetSysctl { key, .. } => ns.sysctls.push(key.clone()),
            Action::DeleteNetns { .. } => ns.created = true,
            Action::DeleteFirewall { .. } | Action::SetFirewall { .. } => ns.firewall = true,
            _ => {}
        }
    }
    for made in owned.iter().filter_map(|o| o.made.as_ref()) {
        if let Action::ReplaceQdisc { ns, dev, qdisc: QdiscSpec::Netem(netem) } = made {
            out.netems.insert((ns.clone(), dev.clone()), netem.clone());
        }
        if let Action::CreateLink { ns, kind: crate::plan::action::LinkKind::Veth { peer_ns, .. }, .. } = made
            && ns != peer_ns
        {
            out.namespaces.entry(ns.clone()).or_default().veth_peers.insert(peer_ns.clone());
            out.namespaces.entry(peer_ns.clone()).or_default().veth_peers.insert(ns.clone());
        }
    }
    out
}

/// Another script's record, as the planner sees it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OtherScript {
    pub script: String,
    pub owned: Vec<Owned>,
}

/// Objects `desired` declares that another script's runs made: two scripts cannot both
/// own one object (the other's `down` would take it from under this one). Attributes
/// (an mtu, a sysctl) are not objects: changes to them stack (see [`stacked_above`]).
/// Namespaces are shared: a script may add to a namespace another one made.
pub fn claimed_by_others<'o>(desired: &Desired, others: &'o [OtherScript]) -> Vec<(crate::source::Span, String, &'o str)> {
    let mut out = Vec::new();
    if others.is_empty() {
        return out;
    }
    let owner = |probe: &dyn Fn(&Action) -> bool| -> Option<&'o str> {
        others.iter().find(|o| o.owned.iter().any(|e| e.undo.first().is_some_and(probe))).map(|o| o.script.as_str())
    };
    for ns in desired.namespaces.values() {
        let n = ns.name.as_str();
        for iface in ns.interfaces.values() {
            if iface.is_created()
                && let Some(by) = owner(&|u| matches!(u, Action::DeleteLink { ns, name } if ns == n && *name == iface.name))
            {
                out.push((iface.span, format!("interface `{}` in `{n}`", iface.name), by));
            }
            for addr in &iface.addrs {
                if let Some(by) = owner(&|u| matches!(u, Action::DelAddr { ns, dev, addr: a } if ns == n && *dev == iface.name && *a == addr.node)) {
                    out.push((addr.span, format!("address {} on `{}` in `{n}`", addr.node, iface.name), by));
                }
            }
            if let Some(q) = &iface.root_qdisc
                && let Some(by) = owner(&|u| matches!(u, Action::DelQdisc { ns, dev, parent: QdiscParent::Root } if ns == n && *dev == iface.name))
            {
                out.push((q.span, format!("the root qdisc of `{}` in `{n}`", iface.name), by));
            }
        }
        for route in &ns.routes {
            let want = route_spec(route);
            if let Some(by) = owner(&|u| matches!(u, Action::DelRoute { ns, route: r } if ns == n && route_matches(&want, r))) {
                out.push((route.span, format!("the route to {} in `{n}`", want.dest), by));
            }
        }
        for rule in &ns.rules {
            let want = rule_spec(rule);
            if let Some(by) = owner(&|u| matches!(u, Action::DelRule { ns, rule: r } if ns == n && rule_matches(&want, r))) {
                out.push((rule.span, format!("this rule in `{n}`"), by));
            }
        }
    }
    out
}

/// Whether another script changed the attribute that `undo` gives back *after* this
/// one did (its undo holds the value this one made): then this one's value is no longer
/// in the kernel, and giving back must not touch it. Returns (script, entry index).
pub fn stacked_above(made: Option<&Action>, undo: &Action, others: &[OtherScript]) -> Option<(String, usize)> {
    let k = key(undo);
    if !matches!(undo, Action::SetLink { .. } | Action::SetSysctl { .. }) {
        return None;
    }
    let made_value = |other_undo: &Action| match (made, other_undo) {
        (Some(Action::SetLink { set: m, .. }), Action::SetLink { set: o, .. }) => {
            (o.up.is_none() || o.up == m.up) && (o.mtu.is_none() || o.mtu == m.mtu) && (o.mac.is_none() || o.mac == m.mac) && (o.master.is_none() || o.master == m.master)
        }
        (Some(Action::SetSysctl { value: m, .. }), Action::SetSysctl { value: o, .. }) => m.split_whitespace().eq(o.split_whitespace()),
        _ => false,
    };
    others.iter().find_map(|o| {
        o.owned.iter().position(|e| e.undo.first().is_some_and(|u| key(u) == k && made_value(u))).map(|i| (o.script.clone(), i))
    })
}
