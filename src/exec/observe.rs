//! Reading the current state: for `host` and every namespace the desired state names
//! that exists, one dump per object kind (links, addresses, routes, rules, qdiscs), all
//! namespaces in parallel (the dumps of one namespace take turns on its socket), plus the sysctls the desired state sets.

use super::{ExecError, Inner, messages, netns, sysctl, traffic};
use crate::model::{Desired, HOST, TABLE_MAIN};
use crate::plan::observed::{ObservedFilter, ObservedLink, ObservedNs, ObservedQdisc};
use crate::plan::Observed;
use netlink_packet_route::RouteNetlinkMessage as M;
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{LinkAttribute, LinkExtentMask, LinkMessage};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::rule::RuleMessage;
use netlink_packet_route::tc::{TcAttribute, TcHandle};
use std::collections::{BTreeSet, HashMap};

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
}

fn wants(desired: &Desired, name: &str, scope: Scope) -> Wants {
    let Some(ns) = desired.namespaces.get(name).filter(|_| scope == Scope::Declared) else {
        return Wants { routes: true, rules: true, qdiscs: true };
    };
    let tc = ns.interfaces.values().any(|i| i.root_qdisc.is_some() || i.ingress_shape.is_some() || !i.bpf.is_empty() || i.xdp.is_some());
    Wants { routes: !ns.routes.is_empty(), rules: !ns.rules.is_empty(), qdiscs: tc }
}

pub(crate) async fn observe(inner: &Inner, desired: &Desired, scope: Scope) -> Result<Observed, ExecError> {
    let tables = tables_of(desired);
    let mut names: Vec<String> = vec![HOST.to_string()];
    for (name, ns) in &desired.namespaces {
        if !ns.is_host() && name != HOST && netns::exists(name) {
            names.push(name.clone());
        }
    }
    let sysctl_keys = |name: &str| -> Vec<String> {
        let Some(ns) = desired.namespaces.get(name) else { return Vec::new() };
        let mut keys: Vec<String> = ns.sysctls.keys().cloned().collect();
        if ns.forward.is_some() {
            keys.extend(FORWARD_SYSCTLS.iter().map(|k| k.to_string()));
        }
        keys
    };
    // A bounded number of namespaces at a time; when reading for the planner, each
    // namespace's connection is closed once read (an apply reopens the few it needs), so
    // that memory does not grow with every namespace's socket buffers at once.
    use futures::StreamExt;
    let results: Vec<_> = futures::stream::iter(names.iter().map(|name| {
        let (tables, keys, wants) = (&tables, sysctl_keys(name), wants(desired, name, scope));
        async move {
            let result = observe_ns(inner, name, tables, keys, wants).await;
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
        observed.namespaces.insert(name, result?);
    }
    Ok(observed)
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

async fn observe_ns(inner: &Inner, ns: &str, tables: &BTreeSet<u32>, sysctl_keys: Vec<String>, wants: Wants) -> Result<ObservedNs, ExecError> {
    let conn = inner.conn(ns).await?;
    let fd = conn.ns_fd.clone();
    let read_sysctls = async {
        if sysctl_keys.is_empty() {
            return Ok(Vec::new());
        }
        inner
            .workers
            .run(move || {
                netns::enter(&fd)?;
                let mut values = Vec::new();
                for key in sysctl_keys {
                    if let Some(v) = sysctl::read(&key)? {
                        values.push((key, v));
                    }
                }
                Ok(values)
            })
            .await
    };
    let dump_if = |want: bool, message: M| {
        let conn = conn.clone();
        async move { if want { conn.dump(message).await } else { Ok(Vec::new()) } }
    };
    // Counters are never read: the kernel need not fill them in (as `ip link` asks).
    let mut get_links = LinkMessage::default();
    get_links.attributes.push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    let dumps = futures::future::try_join5(
        conn.dump(M::GetLink(get_links)),
        conn.dump(M::GetAddress(AddressMessage::default())),
        dump_if(wants.routes, M::GetRoute(RouteMessage::default())),
        dump_if(wants.rules, M::GetRule(RuleMessage::default())),
        dump_if(wants.qdiscs, traffic::dump_qdiscs_message()),
    );
    let ((links, addrs, routes, rules, qdiscs), sysctls) = futures::future::try_join(dumps, read_sysctls).await?;

    let mut out = ObservedNs::default();
    let dumped: Vec<_> = links
        .iter()
        .filter_map(|m| match m {
            M::NewLink(l) => messages::decode_link(l),
            _ => None,
        })
        .collect();
    let names: HashMap<u32, String> = dumped.iter().map(|l| (l.index, l.name.clone())).collect();
    inner.remember_links(ns, dumped.iter().map(|l| (l.name.clone(), l.index)));
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
        if let Some(spec) = traffic::decode_qdisc(q) {
            out.qdiscs.push(ObservedQdisc { dev: dev.clone(), spec });
        }
    }
    for (dev, index) in htb_devices {
        for m in conn.dump(traffic::dump_classes_message(index)).await? {
            if let M::NewTrafficClass(c) = &m
                && let Some(spec) = traffic::decode_class(c) {
                    out.classes.push((dev.clone(), spec));
                }
        }
        for m in conn.dump(traffic::dump_filters_message(index)).await? {
            if let M::NewTrafficFilter(f) = &m
                && let Some(d) = traffic::decode_filter(f) {
                    out.filters.push(ObservedFilter { dev: dev.clone(), prio: d.prio, spec: d.spec });
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
    out.programs = super::bpf::observe_programs(&conn, &dumped_links, &clsact).await?;
    out.sysctls = sysctls.into_iter().collect();
    Ok(out)
}
