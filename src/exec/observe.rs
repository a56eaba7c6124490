//! Reading the current state: for `host` and every namespace the desired state names
//! that exists, one dump per object kind (links, addresses, routes, rules, qdiscs), plus
//! the sysctls the desired state sets. Each namespace is read from inside it by a netns
//! worker thread, several namespaces at once.

use super::conn::DumpSocket;
use super::{ExecError, Inner, messages, netns, sysctl, traffic};
use crate::model::{Desired, HOST, TABLE_MAIN};
use crate::plan::action::{LinkKind, QdiscParent};
use crate::plan::observed::{ObservedFilter, ObservedLink, ObservedNs, ObservedQdisc, SeenQdisc};
use crate::plan::Observed;
use crate::plan::firewall::{FirewallSeal, FwTable};
use crate::plan::ownership::Interest;
use netlink_packet_route::RouteNetlinkMessage as M;
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{LinkAttribute, LinkExtentMask, LinkMessage};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::rule::RuleMessage;
use netlink_packet_route::tc::{TcAttribute, TcHandle};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// The sysctls behind `forward on|off`, read whenever a namespace sets `forward`.
pub const FORWARD_SYSCTLS: [&str; 2] = ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"];

/// Namespaces read at once: enough to keep both netns worker threads and the sockets busy.
const OBSERVE_CONCURRENCY: usize = 32;

/// What to read of each namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everything (`show`).
    Full,
    /// What the planner reads: links and addresses always; routes, rules and qdiscs only
    /// in namespaces that declare some (the planner looks at observed objects of a kind
    /// only to compare them with declared ones).
    Declared,
}

/// Which dumps a namespace needs.
#[derive(Clone, Copy, Debug)]
struct Wants {
    routes: bool,
    rules: bool,
    qdiscs: bool,
    firewall: bool,
}

fn wants(desired: &Desired, interest: &Interest, name: &str, scope: Scope) -> Wants {
    if scope == Scope::Full {
        return Wants { routes: true, rules: true, qdiscs: true, firewall: true };
    }
    let owned = interest.namespaces.get(name).cloned().unwrap_or_default();
    let Some(ns) = desired.namespaces.get(name) else {
        return Wants { routes: owned.routes, rules: owned.rules, qdiscs: owned.tc, firewall: owned.firewall };
    };
    let tc = ns.interfaces.values().any(|i| i.root_qdisc.is_some() || i.hook_qdisc.is_some() || i.ingress_shape.is_some() || !i.bpf.is_empty() || i.xdp.is_some());
    Wants { routes: !ns.routes.is_empty() || owned.routes, rules: !ns.rules.is_empty() || owned.rules, qdiscs: tc || owned.tc, firewall: !ns.firewall.is_empty() || owned.firewall }
}

/// The sysctls the planner compares in namespace `name`: those the script sets, and
/// those its record says it changed.
fn sysctl_keys(desired: &Desired, interest: &Interest, name: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    if let Some(ns) = desired.namespaces.get(name) {
        keys.extend(ns.sysctls.keys().cloned());
        if ns.forward.is_some() {
            keys.extend(FORWARD_SYSCTLS.iter().map(|k| k.to_string()));
        }
    }
    if let Some(owned) = interest.namespaces.get(name) {
        keys.extend(owned.sysctls.iter().cloned());
    }
    keys.sort();
    keys.dedup();
    keys
}

pub(crate) async fn observe(inner: &Inner, desired: &Desired, interest: &Interest, scope: Scope) -> Result<Observed, ExecError> {
    let mut tables = tables_of(desired);
    tables.extend(interest.tables.iter().copied());
    let tables = Arc::new(tables);
    let mut names: Vec<String> = vec![HOST.to_string()];
    names.extend(desired.namespaces.iter().filter(|(name, ns)| !ns.is_host() && *name != HOST).map(|(name, _)| name.clone()));
    for name in interest.namespaces.keys() {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let sysctl_keys = |name: &str| sysctl_keys(desired, interest, name);
    // Each namespace is read by a worker thread, from inside it, with a blocking socket:
    // the kernel's work of filling the dumps and the parsing run on all the workers at
    // once. A bounded number are queued at a time. When reading for the planner, a
    // connection the executor holds to the namespace is closed once it is read (an
    // apply reopens the few it needs), so that memory does not grow with every
    // namespace's socket buffers at once.
    use futures::StreamExt;
    let results: Vec<_> = futures::stream::iter(names.iter().map(|name| {
        let (tables, keys, wants, job_name) = (tables.clone(), sysctl_keys(name), wants(desired, interest, name, scope), name.clone());
        let sealed = sealed_firewall(desired, interest, name);
        // A namespace the record made and the script no longer declares goes whole:
        // the planner needs only to know it is there, and whose it is — unless a veth
        // joins it to a namespace the script keeps: a rollback that re-makes that veth
        // must give its end here back its MAC, addresses and routes.
        let goes_whole = scope == Scope::Declared
            && !desired.namespaces.contains_key(name)
            && interest.namespaces.get(name).is_some_and(|i| i.created && !i.veth_peers.iter().any(|p| desired.namespaces.contains_key(p)));
        async move {
            if goes_whole {
                let Ok(fd) = netns::open_named(&job_name) else { return Ok(None) };
                let cookie = inner.workers.run(move || netns::enter_named(&job_name).map(|()| netns::current_cookie())).await.ok().flatten();
                return Ok(Some(ObservedNs { id: netns::id_of(&fd), cookie, ..Default::default() }));
            }
            let result = inner.workers.run(move || read_namespace(&job_name, &tables, keys, wants, sealed)).await;
            if scope == Scope::Declared && name != HOST {
                inner.release(name).await;
            }
            result
        }
    }))
    .buffered(OBSERVE_CONCURRENCY)
    .collect()
    .await;
    let mut observed = Observed::default();
    for (name, result) in names.into_iter().zip(results) {
        // None: the namespace does not exist.
        if let Some(ns) = result? {
            inner.remember_links(&name, ns.links.values().map(|l| (l.name.clone(), l.index)));
            observed.namespaces.insert(name, ns);
        }
    }
    // What a new namespace has of the sysctls set in namespaces still to be made.
    let mut fresh: Vec<String> = desired
        .namespaces
        .keys()
        .filter(|name| !observed.namespaces.contains_key(*name))
        .flat_map(|name| sysctl_keys(name))
        .collect();
    fresh.sort();
    fresh.dedup();
    if !fresh.is_empty() {
        observed.fresh_sysctls = inner.workers.run(move || read_fresh_sysctls(fresh)).await?.into_iter().collect();
    }
    Ok(observed)
}

/// Reads `keys` in a new, empty network namespace (made for that, on a worker thread,
/// and gone when the thread enters another).
fn read_fresh_sysctls(keys: Vec<String>) -> Result<Vec<(String, String)>, ExecError> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| ExecError::io("cannot make a scratch namespace", &std::io::Error::from(e)))?;
    let mut out = Vec::new();
    for key in keys {
        if let Some(v) = sysctl::read(&key)? {
            out.push((key, v));
        }
    }
    Ok(out)
}

fn tables_of(desired: &Desired) -> BTreeSet<u32> {
    let mut tables = BTreeSet::from([TABLE_MAIN]);
    tables.extend(desired.tables.values().map(|t| t.node));
    for ns in desired.namespaces.values() {
        tables.extend(ns.routes.iter().map(|r| r.table_id()));
        tables.extend(ns.rules.iter().map(|r| r.table.id));
    }
    tables
}

/// Reads namespace `ns` (None when it does not exist), on a worker thread: enters it,
/// opens a socket there and dumps what `wants` asks for.
/// The record's seal of `name`'s firewall with the table the script declares there, when
/// the seal is of that very table (else the table is read back).
fn sealed_firewall(desired: &Desired, interest: &Interest, name: &str) -> Option<(FirewallSeal, FwTable)> {
    let seal = interest.firewall_seals.get(name)?;
    let table = desired.namespaces.get(name).and_then(crate::plan::firewall::desired_table)?;
    (table.digest() == seal.table).then(|| (seal.clone(), table))
}

fn read_namespace(ns: &str, tables: &BTreeSet<u32>, sysctl_keys: Vec<String>, wants: Wants, sealed: Option<(FirewallSeal, FwTable)>) -> Result<Option<ObservedNs>, ExecError> {
    match netns::enter_named(ns) {
        Ok(()) => {}
        Err(ExecError::NoSuchNamespace(_)) => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut sysctls = Vec::new();
    for key in sysctl_keys {
        if let Some(v) = sysctl::read(&key)? {
            sysctls.push((key, v));
        }
    }
    let mut socket = DumpSocket::in_current_namespace(ns)?;
    let mut dump_if = |want: bool, message: M| if want { socket.dump(message) } else { Ok(Vec::new()) };
    // Counters are never read: the kernel need not fill them in (as `ip link` asks).
    let mut get_links = LinkMessage::default();
    get_links.attributes.push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    let links = dump_if(true, M::GetLink(get_links))?;
    let addrs = dump_if(true, M::GetAddress(AddressMessage::default()))?;
    let routes = dump_if(wants.routes, M::GetRoute(RouteMessage::default()))?;
    let rules = dump_if(wants.rules, M::GetRule(RuleMessage::default()))?;
    let qdiscs = dump_if(wants.qdiscs, traffic::dump_qdiscs_message())?;

    let mut out = ObservedNs { id: netns::current_id(), cookie: netns::current_cookie(), ..Default::default() };
    let dumped: Vec<_> = links
        .iter()
        .filter_map(|m| match m {
            M::NewLink(l) => messages::decode_link(l),
            _ => None,
        })
        .collect();
    let names: HashMap<u32, String> = dumped.iter().map(|l| (l.index, l.name.clone())).collect();
    for l in &dumped {
        out.links.insert(
            l.name.clone(),
            ObservedLink {
                name: l.name.clone(),
                index: l.index,
                kind: l.kind.clone(),
                up: l.up,
                mtu: l.mtu,
                mac: l.mac,
                master: l.master_index.and_then(|i| names.get(&i).cloned()),
                addrs: Vec::new(),
                vrf_table: l.vrf_table,
                lower: lower_of(l).and_then(|i| names.get(&i).cloned()),
                made_as: made_as(l, &names),
                ipvlan: l.ipvlan.map(|(mode, flag)| crate::plan::observed::ObservedIpvlan { mode, flag, parent: l.link_index.and_then(|i| names.get(&i).cloned()) }),
                tunnel: l.tunnel,
            },
        );
    }
    for m in &addrs {
        if let M::NewAddress(a) = m
            && let Some((index, net)) = messages::decode_address(a)
                && let Some(link) = names.get(&index).and_then(|n| out.links.get_mut(n)) {
                    link.addrs.push(net);
                }
    }
    for m in &routes {
        if let M::NewRoute(r) = m
            && let Some((mut spec, oif)) = messages::decode_route(r)
                && tables.contains(&spec.table) {
                    spec.dev = oif.and_then(|i| names.get(&i).cloned());
                    messages::name_nexthops(&mut spec, &|i| names.get(&i).cloned());
                    out.routes.push(spec);
                }
    }
    out.rules = rules
        .iter()
        .filter_map(|m| match m {
            M::NewRule(r) => messages::decode_rule(r),
            _ => None,
        })
        .collect();
    let mut htb_devices = Vec::new();
    let mut ingress_devices = Vec::new();
    for m in &qdiscs {
        let M::NewQueueDiscipline(q) = m else { continue };
        // Only the qdisc attached at the root or at ingress/clsact: children of
        // classful qdiscs are described by their parents.
        if q.header.parent != TcHandle::ROOT && q.header.parent != TcHandle::INGRESS {
            continue;
        }
        let Some(dev) = names.get(&(q.header.index as u32)) else { continue };
        let kind = q.attributes.iter().find_map(|a| match a {
            TcAttribute::Kind(k) => Some(k.as_str()),
            _ => None,
        });
        let Some(kind) = kind else { continue };
        if kind == "htb" {
            htb_devices.push((dev.clone(), q.header.index as u32));
        }
        if kind == "ingress" {
            ingress_devices.push((dev.clone(), q.header.index as u32));
        }
        let parent = match kind {
            _ if q.header.parent == TcHandle::ROOT => QdiscParent::Root,
            "clsact" => QdiscParent::Clsact,
            _ => QdiscParent::Ingress,
        };
        out.root_qdiscs.push(SeenQdisc { dev: dev.clone(), parent, kind: kind.to_string(), handle: u32::from(q.header.handle) });
        if let Some(spec) = traffic::decode_qdisc(q) {
            out.qdiscs.push(ObservedQdisc { dev: dev.clone(), spec });
        }
    }
    for (dev, index) in htb_devices {
        let r2q = traffic::htb_r2q(&out.qdiscs, &dev);
        for m in socket.dump(traffic::dump_classes_message(index))? {
            if let M::NewTrafficClass(c) = &m
                && let Some(spec) = traffic::decode_class(c, r2q) {
                    out.classes.push((dev.clone(), spec));
                }
        }
        for m in socket.dump(traffic::dump_filters_message(index, traffic::HTB_FILTERS))? {
            if let M::NewTrafficFilter(f) = &m
                && let Some(d) = traffic::decode_filter(f) {
                    out.filters.push(ObservedFilter { dev: dev.clone(), prio: d.prio, handle: d.handle, spec: d.spec });
                }
        }
    }
    for (dev, index) in ingress_devices {
        for m in socket.dump(traffic::dump_filters_message(index, traffic::INGRESS_FILTERS))? {
            let M::NewTrafficFilter(f) = &m else { continue };
            if let Some(target) = traffic::decode_redirect(f).and_then(|i| names.get(&i)) {
                out.redirects.push((dev.clone(), target.clone()));
            } else if let Some(d) = traffic::decode_filter(f) {
                out.ingress_filters.push(ObservedFilter { dev: dev.clone(), prio: d.prio, handle: d.handle, spec: d.spec });
            }
        }
    }
    let clsact: Vec<(String, u32)> = out
        .qdiscs
        .iter()
        .filter(|q| q.spec == crate::plan::action::QdiscSpec::Clsact)
        .filter_map(|q| out.links.get(&q.dev).map(|l| (q.dev.clone(), l.index)))
        .collect();
    let dumped_links: Vec<(String, &LinkMessage)> = links
        .iter()
        .filter_map(|m| match m {
            M::NewLink(l) => names.get(&l.header.index).map(|n| (n.clone(), l)),
            _ => None,
        })
        .collect();
    out.programs = super::bpf::observe_programs(&mut socket, &dumped_links, &clsact)?;
    out.sysctls = sysctls.into_iter().collect();
    if wants.firewall {
        out.firewall = super::nft::observe_unless_sealed(sealed.as_ref().map(|(seal, table)| (seal, table)))?;
    }
    Ok(Some(out))
}

/// The index of the link `l` sits on in its namespace (see `ObservedLink::lower`).
fn lower_of(l: &messages::DumpedLink) -> Option<u32> {
    match l.kind.as_deref() {
        Some("macvlan" | "vlan" | "ipvlan") => l.link_index,
        Some("vxlan") => l.vxlan.as_ref().and_then(|v| v.link),
        _ => None,
    }
}

/// What `l` was made as, in the planner's terms (see `ObservedLink::made_as`).
fn made_as(l: &messages::DumpedLink, names: &HashMap<u32, String>) -> Option<LinkKind> {
    let lower = || lower_of(l).and_then(|i| names.get(&i).cloned()).unwrap_or_default();
    match l.kind.as_deref()? {
        "vlan" => l.vlan.map(|(id, protocol)| LinkKind::Vlan { parent: lower(), id, protocol }),
        "macvlan" => l.macvlan_mode.map(|mode| LinkKind::Macvlan { parent: lower(), mode }),
        "ipvlan" => l.ipvlan.map(|(mode, flag)| LinkKind::Ipvlan { parent: lower(), mode, flag }),
        "vrf" => l.vrf_table.map(|table| LinkKind::Vrf { table }),
        "vxlan" => l.vxlan.as_ref().map(|v| {
            let dev = v.link.map(|_| lower());
            LinkKind::Vxlan { vni: v.vni, remote: v.remote, group: v.group, local: v.local, dev, port: v.port }
        }),
        _ => None,
    }
}
