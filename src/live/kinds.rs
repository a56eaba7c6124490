//! Long because: one implementation of `Kind` per object kind, side by side, so that
//! their JSON, text and script stay alike.
//! Each kind of object, in show's JSON and text and in an export (see [`super::Kind`]).

use super::export::Script;
use super::{handle_text, mac_text, protocol_name, scope_name, table_name, Live, LiveLink, LiveNs, MacOrigin, Peer};
use crate::model::{BpfDirection, IpProto, MacvlanMode, XdpMode};
use crate::plan::action::{FilterSpec, QdiscParent, QdiscSpec};
use crate::plan::observed::AttachPoint;
use ipnet::IpNet;
use serde_json::{json, Value};

/// One kind of object: how show and export write it. Methods a kind has nothing for
/// are left at their defaults.
pub trait Kind: Sync {
    /// Its list's key in show's JSON.
    fn key(&self) -> &'static str;
    /// Its objects in namespace `ns`, one JSON object each, all of one shape.
    fn json(&self, live: &Live, ns: &LiveNs) -> Vec<Value>;
    /// show's text: lines under a link (without indentation).
    fn link_text(&self, _live: &Live, _ns: &LiveNs, _link: &LiveLink, _out: &mut Vec<String>) {}
    /// show's text: lines of the namespace, after its links.
    fn text(&self, _live: &Live, _ns: &LiveNs, _out: &mut Vec<String>) {}
    /// export: statements on a declared link (its card), without indentation.
    fn link_script(&self, _script: &mut Script, _link: &LiveLink, _out: &mut Vec<String>) {}
    /// export: namespace-wide statements.
    fn script(&self, _script: &mut Script, _out: &mut Vec<String>) {}
}

/// Every kind, in the order show and export write them.
pub static KINDS: &[&dyn Kind] = &[&Links, &Qdiscs, &Classes, &Filters, &Programs, &Routes, &Rules, &Sysctls, &super::firewall::Firewall];

fn family(net: &IpNet) -> &'static str {
    match net {
        IpNet::V4(_) => "inet",
        IpNet::V6(_) => "inet6",
    }
}

/// A prefix as iproute2 prints a destination: `default` for /0, the bare address for a
/// host prefix.
fn prefix_text(net: &IpNet) -> String {
    if net.prefix_len() == 0 {
        "default".into()
    } else if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// Whether the kernel adds this address by itself: IPv6 link-local addresses, and lo's
/// 127.0.0.1/8 and ::1.
pub fn kernel_address(link: &LiveLink, addr: &crate::model::IfAddr) -> bool {
    if addr.peer().is_some() {
        return false;
    }
    match addr.local() {
        IpNet::V6(a) => (a.addr().segments()[0] & 0xffc0) == 0xfe80 || (link.is_loopback() && a.addr().is_loopback() && a.prefix_len() == 128),
        IpNet::V4(a) => link.is_loopback() && a.addr() == std::net::Ipv4Addr::LOCALHOST && a.prefix_len() == 8,
    }
}

// ---------------------------------------------------------------------------- links

pub struct Links;

impl Kind for Links {
    fn key(&self) -> &'static str {
        "links"
    }

    fn json(&self, _live: &Live, ns: &LiveNs) -> Vec<Value> {
        ns.links
            .iter()
            .map(|l| {
                let (link, link_netns) = match (&l.peer, &l.lower) {
                    (Some(Peer::In { ns, name }), _) => (Some(name.clone()), Some(ns.clone())),
                    (_, Some(lower)) => (Some(lower.clone()), None),
                    _ => (None, None),
                };
                let info_data = match (&l.macvlan_mode, &l.vxlan) {
                    (Some(mode), _) => json!({ "mode": MacvlanMode::word(*mode) }),
                    (_, Some(v)) => json!({ "id": v.vni, "remote": v.remote, "group": v.group, "local": v.local, "dstport": v.port }),
                    _ => match (l.vlan, l.ipvlan) {
                        // ip's words: `protocol` and `id`.
                        (Some((id, protocol)), _) => json!({ "protocol": protocol.word(), "id": id }),
                        // ip's: `mode` and `flags` (one word).
                        (_, Some((mode, flag))) => json!({ "mode": mode.word(), "flags": flag.word() }),
                        // ip's words, but `ttl` 0 (inherit) and the key as numbers.
                        _ => match l.tunnel {
                            Some(t) => json!({ "local": t.local, "remote": t.remote, "ttl": t.ttl, "key": t.key }),
                            None => Value::Null,
                        },
                    },
                };
                // A point-to-point address has its peer as `address`, as `ip -json` shows it.
                let addrs: Vec<Value> = l
                    .addrs
                    .iter()
                    .map(|a| match a.peer() {
                        None => json!({ "family": family(&a.local()), "local": a.addr(), "prefixlen": a.prefix_len() }),
                        Some(peer) => json!({ "family": family(&a.local()), "local": a.addr(), "address": peer.addr(), "prefixlen": a.prefix_len() }),
                    })
                    .collect();
                json!({
                    "ifname": l.name,
                    "ifindex": l.index,
                    "kind": l.kind,
                    "up": l.up,
                    "mtu": l.mtu,
                    "address": l.mac.as_ref().map(mac_text),
                    "address_origin": l.mac_origin.map(MacOrigin::word),
                    "master": l.master,
                    "link": link,
                    "link_netns": link_netns,
                    "info_data": info_data,
                    "addr_info": addrs,
                })
            })
            .collect()
    }

    fn link_text(&self, _live: &Live, _ns: &LiveNs, link: &LiveLink, out: &mut Vec<String>) {
        for a in &link.addrs {
            out.push(format!("addr {a}"));
        }
    }

    fn link_script(&self, script: &mut Script, link: &LiveLink, out: &mut Vec<String>) {
        for a in link.addrs.iter().filter(|a| !kernel_address(link, a)) {
            out.push(format!("addr {a}"));
        }
        if let Some(mtu) = script.mtu_to_write(link) {
            out.push(format!("mtu {mtu}"));
        }
        // An ipvlan has its parent's MAC, whatever its origin says (a script cannot set it).
        if let (Some(mac), Some(MacOrigin::Set), false) = (&link.mac, link.mac_origin, link.ipvlan.is_some()) {
            out.push(format!("mac {}", mac_text(mac)));
        }
        if let Some(master) = &link.master {
            if script.declares(master) {
                out.push(format!("master {master}"));
            } else {
                out.push(format!("# master {master}: not an interface this export declares"));
            }
        }
        match (script.is_created(link), link.up) {
            (true, false) => out.push("down".into()),
            (false, up) if !link.is_loopback() => out.push(if up { "up" } else { "down" }.into()),
            (false, false) => out.push("down".into()),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------- qdiscs

pub struct Qdiscs;

fn parent_word(p: QdiscParent) -> &'static str {
    match p {
        QdiscParent::Root => "root",
        QdiscParent::Ingress => "ingress",
        QdiscParent::Clsact => "clsact",
    }
}

fn qdisc_options(spec: &Option<QdiscSpec>) -> Value {
    match spec {
        Some(QdiscSpec::Tbf(t)) => super::tc_options::tbf_json(t),
        Some(QdiscSpec::Htb { default_class, r2q, direct_qlen }) => super::tc_options::htb_json(*default_class, *r2q, *direct_qlen),
        Some(QdiscSpec::Netem(n)) => super::tc_options::netem_slot_json(n, json!({
            "delay": n.delay.micros(),
            "jitter": n.jitter.map(|j| j.micros()),
            "loss": n.loss.map(|l| l.0),
            "rate": n.rate.map(|r| r.bytes_per_sec()),
            "limit": n.limit.unwrap_or(crate::model::NETEM_DEFAULT_LIMIT),
            "duplicate": n.duplicate.map(|p| p.0),
            "corrupt": n.corrupt.map(|p| p.0),
            "reorder": n.reorder.map(|p| p.0),
            "gap": n.gap,
        })),
        _ => Value::Null,
    }
}

/// A qdisc in netscript's words (`tbf rate 1mbit burst 10kb latency 70ms`).
fn qdisc_words(q: &super::LiveQdisc) -> String {
    match &q.spec {
        Some(QdiscSpec::Tbf(t)) => format!("tbf rate {} {}", t.rate, t.option_words()),
        Some(QdiscSpec::Htb { default_class, r2q, direct_qlen }) => format!("htb default {default_class:x}{}", crate::plan::action::htb_option_words(*r2q, *direct_qlen)),
        Some(QdiscSpec::Netem(n)) => netem_words(n),
        _ => q.kind.clone(),
    }
}

fn netem_words(n: &crate::model::Netem) -> String {
    let mut s = format!("netem delay {}", n.delay);
    if let Some(j) = n.jitter {
        s.push_str(&format!(" jitter {j}"));
    }
    if let Some(l) = n.loss {
        s.push_str(&format!(" loss {l}"));
    }
    if let Some(r) = n.rate {
        s.push_str(&format!(" rate {r}"));
    }
    s.push_str(&n.more_words());
    s
}

impl Kind for Qdiscs {
    fn key(&self) -> &'static str {
        "qdiscs"
    }

    fn json(&self, _live: &Live, ns: &LiveNs) -> Vec<Value> {
        ns.qdiscs
            .iter()
            .map(|q| {
                json!({
                    "dev": q.dev,
                    "kind": q.kind,
                    "handle": handle_text(q.handle >> 16, q.handle & 0xffff),
                    "parent": parent_word(q.parent),
                    "options": qdisc_options(&q.spec),
                })
            })
            .collect()
    }

    /// Each qdisc, with the classes and filters under it.
    fn link_text(&self, _live: &Live, ns: &LiveNs, link: &LiveLink, out: &mut Vec<String>) {
        for q in ns.qdiscs.iter().filter(|q| q.dev == link.name) {
            out.push(format!("qdisc {} handle {} {}", parent_word(q.parent), handle_text(q.handle >> 16, q.handle & 0xffff), qdisc_words(q)));
            match q.parent {
                QdiscParent::Root if q.kind == "htb" => {
                    let mut classes: Vec<&crate::plan::action::ClassSpec> = ns.classes.iter().filter(|(d, _)| *d == link.name).map(|(_, c)| c).collect();
                    classes.sort_by_key(|c| c.id);
                    for c in classes {
                        let mut line = format!("  class {} parent {} rate {} ceil {}", handle_text(1, c.id), handle_text(1, c.parent.unwrap_or(0)), c.rate, c.ceil);
                        if let Some(p) = c.prio {
                            line.push_str(&format!(" prio {p}"));
                        }
                        line.push_str(&c.option_words());
                        out.push(line);
                    }
                    for f in ns.filters.iter().filter(|f| f.dev == link.name) {
                        match &f.spec {
                            Some(FilterSpec::U32 { proto, src, dst, sport, dport, flowid, handle, action, link, hashkey, raw, ht, .. }) => {
                                let node = node_words(*handle, *ht);
                                let target = flowid.map(|id| format!(" -> {}", handle_text(1, id))).unwrap_or_default();
                                out.push(format!("  filter prio {}{node}{}{}{target}{}", f.prio, link_words(*link, *hashkey), match_words(*proto, src, dst, *sport, *dport, raw), verdict_words(*action)))
                            }
                            _ => out.push(format!("  filter prio {}: not one netscript writes", f.prio)),
                        }
                    }
                }
                QdiscParent::Ingress => {
                    for (_, ifb) in ns.redirects.iter().filter(|(d, _)| *d == link.name) {
                        out.push(format!("  filter: redirect to {ifb}"));
                    }
                    for f in ns.ingress_filters.iter().filter(|f| f.dev == link.name) {
                        match &f.spec {
                            Some(FilterSpec::U32 { proto, src, dst, sport, dport, flowid, handle, action, link, hashkey, raw, ht, .. }) => {
                                let node = node_words(*handle, *ht);
                                let target = flowid.map(|id| format!(" -> {}", handle_text(1, id))).unwrap_or_default();
                                out.push(format!("  filter prio {}{node}{}{}{target}{}", f.prio, link_words(*link, *hashkey), match_words(*proto, src, dst, *sport, *dport, raw), verdict_words(*action)))
                            }
                            Some(t @ FilterSpec::U32Table { .. }) => out.push(format!("  {}", table_words(t))),
                            _ => out.push(format!("  filter prio {}: not one netscript writes", f.prio)),
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn link_script(&self, script: &mut Script, link: &LiveLink, out: &mut Vec<String>) {
        let ns = script.ns;
        for q in ns.qdiscs.iter().filter(|q| q.dev == link.name) {
            match (q.parent, &q.spec) {
                (QdiscParent::Root, Some(QdiscSpec::Tbf(t))) => out.push(format!("shape {} {}", t.rate, t.option_words())),
                (QdiscParent::Root, Some(QdiscSpec::Netem(n))) => super::tc_options::netem_script(n, netem_words, out),
                (QdiscParent::Root, Some(QdiscSpec::Htb { default_class, r2q, direct_qlen })) => {
                    htb_script(ns, &link.name, *default_class, crate::plan::action::htb_option_words(*r2q, *direct_qlen), out)
                }
                (QdiscParent::Ingress, _) => match script.ingress_shape(&link.name) {
                    Some(t) => out.push(format!("shape ingress {} {}", t.rate, t.option_words())),
                    None => ingress_script(ns, &link.name, out),
                },
                // clsact holds eBPF programs (see `Programs`), which bring it; alone, it is
                // `qdisc clsact`.
                (QdiscParent::Clsact, _) => {
                    if !ns.programs.iter().any(|p| p.dev == link.name && !matches!(p.attach, crate::plan::observed::AttachPoint::Xdp { .. })) {
                        out.push("qdisc clsact".to_string());
                    }
                }
                (_, _) if script.is_ingress_ifb(&link.name) => {}
                (parent, _) => out.push(format!("# qdisc {} {} handle {} - netscript cannot declare this qdisc; left out", q.kind, parent_word(parent), handle_text(q.handle >> 16, q.handle & 0xffff))),
            }
        }
    }
}

/// `htb default D < class … ; filter … >`, classes nested under their parents.
fn htb_script(ns: &LiveNs, dev: &str, default_class: u32, options: String, out: &mut Vec<String>) {
    let classes: Vec<&crate::plan::action::ClassSpec> = ns.classes.iter().filter(|(d, _)| d == dev).map(|(_, c)| c).collect();
    let mut filters: Vec<&crate::plan::observed::ObservedFilter> = ns.filters.iter().filter(|f| f.dev == dev).collect();
    filters.sort_by_key(|f| f.prio);
    let head = if default_class == 0 { format!("htb{options}") } else { format!("htb default {default_class:x}{options}") };
    if classes.is_empty() && filters.is_empty() {
        out.push(head);
        return;
    }
    out.push(format!("{head} <"));
    fn emit(classes: &[&crate::plan::action::ClassSpec], parent: Option<u32>, depth: usize, out: &mut Vec<String>) {
        let mut mine: Vec<&&crate::plan::action::ClassSpec> = classes.iter().filter(|c| c.parent == parent).collect();
        mine.sort_by_key(|c| c.id);
        for c in mine {
            let mut line = format!("{}class {:x} rate {}", "  ".repeat(depth), c.id, c.rate);
            if c.ceil != c.rate {
                line.push_str(&format!(" ceil {}", c.ceil));
            }
            if let Some(p) = c.prio {
                line.push_str(&format!(" prio {p}"));
            }
            line.push_str(&c.option_words());
            if classes.iter().any(|k| k.parent == Some(c.id)) {
                out.push(format!("{line} <"));
                emit(classes, Some(c.id), depth + 1, out);
                out.push(format!("{}>", "  ".repeat(depth)));
            } else {
                out.push(line);
            }
        }
    }
    emit(&classes, None, 1, out);
    filter_script(filters, out);
    out.push(">".into());
}

/// `qdisc ingress`, with its u32 filters in a block when it has some.
fn ingress_script(ns: &LiveNs, dev: &str, out: &mut Vec<String>) {
    let is_table = |f: &&crate::plan::observed::ObservedFilter| matches!(f.spec, Some(FilterSpec::U32Table { .. }));
    let mut tables: Vec<&crate::plan::observed::ObservedFilter> = ns.ingress_filters.iter().filter(|f| f.dev == dev).filter(is_table).collect();
    tables.sort_by_key(|f| match f.spec {
        Some(FilterSpec::U32Table { table, .. }) => table,
        _ => 0,
    });
    let mut filters: Vec<&crate::plan::observed::ObservedFilter> = ns.ingress_filters.iter().filter(|f| f.dev == dev).filter(|f| !is_table(f)).collect();
    if filters.is_empty() && tables.is_empty() {
        out.push("qdisc ingress".to_string());
        return;
    }
    filters.sort_by_key(|f| f.prio);
    out.push("qdisc ingress <".to_string());
    // Tables first: the filters of later steps link to them.
    out.extend(tables.iter().filter_map(|f| f.spec.as_ref()).map(|t| format!("  {}", table_words(t))));
    filter_script(filters, out);
    out.push(">".into());
}

/// The `filter` lines of an htb or ingress block, in priority order. A filter at its
/// position's priority (1, 2, …) needs no `prio`; one elsewhere says it.
fn filter_script(filters: Vec<&crate::plan::observed::ObservedFilter>, out: &mut Vec<String>) {
    for (index, f) in filters.into_iter().enumerate() {
        let place = if f.prio as usize == index + 1 { String::new() } else { format!(" prio {}", f.prio) };
        match &f.spec {
            Some(FilterSpec::U32 { proto, src, dst, sport, dport, flowid, handle, action, link, hashkey, raw, ht, .. }) => {
                let node = node_words(*handle, *ht);
                let target = flowid.map(|id| format!(" -> {id:x}")).unwrap_or_default();
                out.push(format!("  filter{place}{node}{}{}{target}{}", link_words(*link, *hashkey), match_words(*proto, src, dst, *sport, *dport, raw), verdict_words(*action)))
            }
            _ => out.push(format!("  # filter prio {}: not a u32 match netscript writes; left out", f.prio)),
        }
    }
}

/// ` handle N` when the filter has its node id, and ` ht ID:BUCKET` when it sits in a
/// script's hash table.
fn node_words(handle: Option<u32>, ht: Option<crate::model::U32Place>) -> String {
    let node = handle.map(|h| format!(" handle {h:x}")).unwrap_or_default();
    let place = ht.map(|p| format!(" ht {:x}:{:x}", p.table, p.bucket)).unwrap_or_default();
    format!("{node}{place}")
}

/// ` link ID [hashkey mask M at OFF]`, when the filter links to a hash table.
fn link_words(link: Option<u32>, hashkey: Option<crate::model::HashKey>) -> String {
    let Some(table) = link else { return String::new() };
    let key = hashkey.map(|k| format!(" hashkey mask 0x{:08x} at {}", k.mask, k.at)).unwrap_or_default();
    format!(" link {table:x}{key}")
}

/// `table ID divisor N prio P`, a u32 hash table as a script writes it.
fn table_words(t: &FilterSpec) -> String {
    match t {
        FilterSpec::U32Table { prio, table, divisor } => format!("table {table:x} divisor {divisor} prio {prio}"),
        _ => String::new(),
    }
}

/// ` action V`, when the filter has a gact verdict.
fn verdict_words(action: Option<crate::model::FilterVerdict>) -> String {
    action.map(|v| format!(" action {}", v.word())).unwrap_or_default()
}

fn proto_word(p: IpProto) -> &'static str {
    match p {
        IpProto::Tcp => "tcp",
        IpProto::Udp => "udp",
        IpProto::Icmp => "icmp",
    }
}

fn match_words(proto: Option<IpProto>, src: &Option<IpNet>, dst: &Option<IpNet>, sport: Option<u16>, dport: Option<u16>, raw: &[crate::model::RawKey]) -> String {
    let mut s = String::new();
    if let Some(p) = proto {
        s.push_str(&format!(" proto {}", proto_word(p)));
    }
    if let Some(n) = src {
        s.push_str(&format!(" src {n}"));
    }
    if let Some(n) = dst {
        s.push_str(&format!(" dst {n}"));
    }
    if let Some(p) = sport {
        s.push_str(&format!(" sport {p}"));
    }
    if let Some(p) = dport {
        s.push_str(&format!(" dport {p}"));
    }
    for key in raw {
        s.push_str(&format!(" match u32 0x{:08x} 0x{:08x} at {}", key.val, key.mask, key.off));
    }
    s
}

// ---------------------------------------------------------------------------- classes

pub struct Classes;

impl Kind for Classes {
    fn key(&self) -> &'static str {
        "classes"
    }

    fn json(&self, _live: &Live, ns: &LiveNs) -> Vec<Value> {
        ns.classes
            .iter()
            .map(|(dev, c)| {
                let mut class = json!({
                    "dev": dev,
                    "kind": "htb",
                    "handle": handle_text(1, c.id),
                    "parent": handle_text(1, c.parent.unwrap_or(0)),
                    "rate": c.rate.bytes_per_sec(),
                    "ceil": c.ceil.bytes_per_sec(),
                    "prio": c.prio,
                });
                super::tc_options::class_json_extras(c, &mut class);
                class
            })
            .collect()
    }

    // Shown under their qdisc, and exported inside the htb block (`Qdiscs`).
}

// ---------------------------------------------------------------------------- filters

pub struct Filters;

impl Kind for Filters {
    fn key(&self) -> &'static str {
        "filters"
    }

    fn json(&self, _live: &Live, ns: &LiveNs) -> Vec<Value> {
        let on_htb = ns.filters.iter().map(|f| (f, "1:"));
        let on_ingress = ns.ingress_filters.iter().map(|f| (f, "ffff:"));
        let mut out: Vec<Value> = on_htb
            .chain(on_ingress)
            .map(|(f, parent)| {
                if let Some(FilterSpec::U32Table { prio, table, divisor }) = &f.spec {
                    return json!({ "dev": f.dev, "kind": "u32", "parent": parent, "pref": prio, "handle": format!("{table:x}:"), "protocol": "all", "divisor": divisor });
                }
                let (matches, flowid, node, action) = match &f.spec {
                    Some(FilterSpec::U32 { proto, src, dst, sport, dport, flowid, handle, action, link, hashkey, raw, ht, .. }) => (
                        {
                            let mut m = json!({ "ip_proto": proto.map(proto_word), "src": src, "dst": dst, "sport": sport, "dport": dport });
                            if !raw.is_empty() {
                                m["keys"] = raw.iter().map(|k| json!({ "value": format!("0x{:08x}", k.val), "mask": format!("0x{:08x}", k.mask), "at": k.off })).collect();
                            }
                            if let Some(p) = ht {
                                m["ht"] = json!(format!("{:x}:{:x}:", p.table, p.bucket));
                            }
                            if let Some(table) = link {
                                m["link"] = json!(format!("{table:x}:"));
                                m["hashkey"] = hashkey.map_or(Value::Null, |k| json!({ "mask": format!("0x{:08x}", k.mask), "at": k.at }));
                            }
                            m
                        },
                        flowid.map_or(Value::Null, |id| Value::String(handle_text(1, id))),
                        Value::String(format!("::{:x}", handle.unwrap_or(crate::model::U32_DEFAULT_NODE))),
                        action.map_or(Value::Null, |v| json!({ "kind": "gact", "verdict": v.word() })),
                    ),
                    _ => (Value::Null, Value::Null, Value::Null, Value::Null),
                };
                let protocol = if matches!(f.spec, Some(FilterSpec::U32 { ht: Some(_), .. })) { "all" } else { "ip" };
                json!({ "dev": f.dev, "kind": "u32", "parent": parent, "pref": f.prio, "handle": node, "protocol": protocol, "match": matches, "flowid": flowid, "action": action })
            })
            .collect();
        out.extend(ns.redirects.iter().map(|(dev, ifb)| {
            json!({
                "dev": dev, "kind": "u32", "parent": "ffff:", "pref": 1, "handle": null, "protocol": "all", "match": null, "flowid": null,
                "action": { "kind": "mirred", "direction": "egress", "redirect": ifb },
            })
        }));
        out
    }

    // Shown under their qdisc, and exported inside the htb block and as `shape ingress`
    // (`Qdiscs`).
}

// ---------------------------------------------------------------------------- programs

pub struct Programs;

fn hook(p: &crate::plan::observed::ObservedProgram) -> (&'static str, Option<u16>, Option<&'static str>) {
    match p.attach {
        AttachPoint::Tc { direction: BpfDirection::Ingress, prio } => ("ingress", Some(prio), None),
        AttachPoint::Tc { direction: BpfDirection::Egress, prio } => ("egress", Some(prio), None),
        AttachPoint::Xdp { mode: XdpMode::Generic } => ("xdp", None, Some("generic")),
        AttachPoint::Xdp { mode: XdpMode::Native } => ("xdp", None, Some("native")),
    }
}

/// `bpf tc ingress prio 1: id 12 drop_icmp_tc, section classifier of drop_icmp.o`.
pub fn program_text(p: &crate::plan::observed::ObservedProgram) -> String {
    let kernel = crate::exec::bpf::program_info(p.id);
    let handle = p.handle.map(|h| format!(" handle {h}")).unwrap_or_default();
    let mut line = format!("bpf {}{handle}: id {}", p.attach, p.id);
    match (&p.label, &kernel) {
        (Some(l), _) if l.section == crate::plan::bpf_inline::INLINE_SECTION && l.file.is_empty() => line.push_str(&format!(" {}, inline rules (netscript, hash {})", l.function, l.hash)),
        (Some(l), _) => line.push_str(&format!(" {}, section {} of {} (netscript, hash {})", l.function, l.section, l.file, l.hash)),
        (None, Some((name, _))) if !name.is_empty() => line.push_str(&format!(" {name}")),
        _ => {}
    }
    if let Some((_, tag)) = kernel {
        line.push_str(&format!(" tag {tag}"));
    }
    if matches!(p.attach, AttachPoint::Tc { .. }) && !p.direct_action {
        line.push_str(" (not direct-action)");
    }
    line
}

impl Kind for Programs {
    fn key(&self) -> &'static str {
        "programs"
    }

    fn json(&self, _live: &Live, ns: &LiveNs) -> Vec<Value> {
        ns.programs
            .iter()
            .map(|p| {
                let (hook, prio, mode) = hook(p);
                json!({
                    "dev": p.dev, "hook": hook, "prio": prio,
                    "handle": prio.map(|_| p.handle.unwrap_or(crate::model::BPF_DEFAULT_HANDLE)), "mode": mode, "id": p.id,
                    "name": if p.name.is_empty() { None } else { Some(&p.name) },
                    "direct_action": p.direct_action,
                    "netscript": p.label.as_ref().map(|l| json!({ "file": l.file, "section": l.section, "function": l.function, "hash": l.hash })),
                })
            })
            .collect()
    }

    fn link_text(&self, _live: &Live, ns: &LiveNs, link: &LiveLink, out: &mut Vec<String>) {
        for p in ns.programs.iter().filter(|p| p.dev == link.name) {
            out.push(program_text(p));
        }
    }

    fn link_script(&self, _script: &mut Script, link: &LiveLink, out: &mut Vec<String>) {
        for p in _script.ns.programs.iter().filter(|p| p.dev == link.name) {
            let (hook, prio, mode) = hook(p);
            // Where a file's classifier sat: `prio P [handle H]`, which the script can say.
            let place = prio.map(|n| format!(" prio {n}{}", p.handle.map(|h| format!(" handle {h}")).unwrap_or_default())).unwrap_or_default();
            let inline = p.label.as_ref().is_some_and(|l| l.section == crate::plan::bpf_inline::INLINE_SECTION && l.file.is_empty());
            let statement = match (&p.label, hook) {
                (Some(_), "xdp") if inline => format!("xdp{} < ... >", mode.map(|m| format!(" mode {m}")).unwrap_or_default()),
                (Some(_), dir) if inline => format!("bpf {dir} < ... >"),
                (Some(l), "xdp") => format!("xdp \"{}\" section {}{}", l.file, l.section, mode.map(|m| format!(" mode {m}")).unwrap_or_default()),
                (Some(l), dir) => format!("bpf {dir} \"{}\" section {}{place}", l.file, l.section),
                (None, "xdp") => format!("xdp \"?.o\"{}", mode.map(|m| format!(" mode {m}")).unwrap_or_default()),
                (None, dir) => format!("bpf {dir} \"?.o\"{place}"),
            };
            let what = match &p.label {
                Some(l) if inline => format!("program id {} {} (inline rules compiled by netscript, hash {}; the kernel keeps no rules to write back)", p.id, l.function, l.hash),
                Some(l) => format!("program id {} {} (object {}, hash {}; its directory is unknown)", p.id, l.function, l.file, l.hash),
                None => format!("program id {}{} (not attached by netscript; its object file is unknown)", p.id, if p.name.is_empty() { String::new() } else { format!(" {}", p.name) }),
            };
            out.push(format!("# {statement}   # {what}"));
        }
    }
}

// ---------------------------------------------------------------------------- routes

pub struct Routes;

impl Kind for Routes {
    fn key(&self) -> &'static str {
        "routes"
    }

    fn json(&self, live: &Live, ns: &LiveNs) -> Vec<Value> {
        ns.routes
            .iter()
            .map(|r| {
                let mut route = json!({
                    "family": family(&r.spec.dest),
                    "dst": prefix_text(&r.spec.dest),
                    "gateway": r.spec.via,
                    "dev": r.spec.dev,
                    "prefsrc": r.spec.src,
                    "metric": r.spec.metric,
                    "table": table_name(live, r.spec.table),
                    "protocol": protocol_name(r.protocol),
                    "scope": scope_name(r.scope),
                });
                // Path attributes only where set (as `ip -json route` has them).
                for (key, value) in [("mtu", r.spec.mtu), ("advmss", r.spec.advmss)] {
                    if let Some(v) = value {
                        route[key] = json!(v);
                    }
                }
                if !r.spec.nexthops.is_empty() {
                    route["nexthops"] = json!(r.spec.nexthops.iter().map(|h| json!({ "gateway": h.via, "dev": h.dev, "weight": h.weight })).collect::<Vec<_>>());
                }
                route
            })
            .collect()
    }

    fn text(&self, live: &Live, ns: &LiveNs, out: &mut Vec<String>) {
        for r in &ns.routes {
            let mut line = format!("route {}", prefix_text(&r.spec.dest));
            if r.spec.dest.prefix_len() == 0 && matches!(r.spec.dest, IpNet::V6(_)) {
                line.push_str(" (v6)");
            }
            if let Some(v) = r.spec.via {
                line.push_str(&format!(" via {v}"));
            }
            if let Some(d) = &r.spec.dev {
                line.push_str(&format!(" dev {d}"));
            }
            if let Some(s) = r.spec.src {
                line.push_str(&format!(" src {s}"));
            }
            if let Some(m) = r.spec.metric {
                line.push_str(&format!(" metric {m}"));
            }
            line.push_str(&format!(" table {} proto {}", table_name(live, r.spec.table), protocol_name(r.protocol)));
            if r.scope != 0 {
                line.push_str(&format!(" scope {}", scope_name(r.scope)));
            }
            line.push_str(&super::route_attrs::path_words(&r.spec));
            out.push(line);
        }
    }

    fn script(&self, script: &mut Script, out: &mut Vec<String>) {
        let mut routes: Vec<&super::LiveRoute> = script.ns.routes.iter().filter(|r| !matches!(r.protocol, 1 | 2 | 9)).collect();
        routes.sort_by_key(|r| (r.spec.table != crate::model::TABLE_MAIN, r.spec.table, r.spec.dest.addr().is_ipv6(), r.spec.dest, r.spec.metric, r.spec.via));
        for r in routes {
            let v6 = r.spec.dest.addr().is_ipv6();
            let dest = match (&r.spec.dest, r.spec.via) {
                (d, Some(via)) if d.prefix_len() == 0 && via.is_ipv6() == v6 => "default".to_string(),
                (d, _) if d.prefix_len() == 0 && !v6 => "default".to_string(),
                (d, _) => d.to_string(),
            };
            let mut line = match r.spec.kind {
                crate::model::RouteKind::Unicast => format!("route {dest}"),
                kind => format!("route {} {}", kind.word(), if dest == "default" && v6 { "::/0".to_string() } else { dest.clone() }),
            };
            if let Some(v) = r.spec.via {
                line.push_str(&format!(" via {v}"));
            }
            if let Some(d) = &r.spec.dev {
                line.push_str(&format!(" dev {d}"));
            }
            if let Some(s) = r.spec.src {
                line.push_str(&format!(" src {s}"));
            }
            match r.spec.metric {
                Some(1024) if v6 => {}
                Some(m) => line.push_str(&format!(" metric {m}")),
                None => {}
            }
            if r.spec.table != crate::model::TABLE_MAIN {
                line.push_str(&format!(" table {}", script.table(r.spec.table)));
            }
            if r.spec.onlink {
                line.push_str(" onlink");
            }
            line.push_str(&super::route_attrs::script_words(&r.spec));
            match &r.spec.dev {
                Some(d) if !script.declares(d) => out.push(format!("# {line}   # dev {d} is not an interface this export declares")),
                _ => out.push(line),
            }
        }
    }
}

// ---------------------------------------------------------------------------- rules

pub struct Rules;

/// The rules every namespace starts with.
fn default_rule(r: &super::LiveRule) -> bool {
    let s = &r.spec;
    let bare = s.from.is_none() && s.to.is_none() && s.iif.is_none() && s.oif.is_none() && s.fwmark.is_none() && s.uidrange.is_none() && r.unsupported.is_empty();
    r.protocol == 2
        || (bare
            && matches!(
                (s.priority, s.table),
                (Some(0), crate::model::TABLE_LOCAL) | (Some(32766), crate::model::TABLE_MAIN) | (Some(32767), crate::model::TABLE_DEFAULT)
            ))
}

fn rule_words(s: &crate::plan::action::RuleSpec, table: String) -> String {
    let mut words = Vec::new();
    if let Some(f) = s.from {
        words.push(format!("from {}", prefix_text(&f).replace("default", &f.to_string())));
    }
    if let Some(t) = s.to {
        words.push(format!("to {}", prefix_text(&t).replace("default", &t.to_string())));
    }
    if let Some(i) = &s.iif {
        words.push(format!("iif {i}"));
    }
    if let Some(o) = &s.oif {
        words.push(format!("oif {o}"));
    }
    match (s.fwmark, s.fwmask) {
        (Some(m), Some(mask)) => words.push(format!("fwmark {m:#x}/{mask:#x}")),
        (Some(m), None) => words.push(format!("fwmark {m:#x}")),
        _ => {}
    }
    if let Some((a, b)) = s.uidrange {
        words.push(format!("uidrange {a}-{b}"));
    }
    if let Some(p) = s.ipproto {
        words.push(match p {
            6 => "ipproto tcp".to_string(),
            17 => "ipproto udp".to_string(),
            1 => "ipproto icmp".to_string(),
            58 => "ipproto icmpv6".to_string(),
            n => format!("ipproto {n}"),
        });
    }
    words.extend(crate::plan::render::rule_match_words(s));
    if let Some(p) = s.priority {
        words.push(format!("priority {p}"));
    }
    words.push(format!("lookup {table}"));
    words.join(" ")
}

impl Kind for Rules {
    fn key(&self) -> &'static str {
        "rules"
    }

    fn json(&self, live: &Live, ns: &LiveNs) -> Vec<Value> {
        ns.rules
            .iter()
            .map(|r| {
                let s = &r.spec;
                json!({
                    "family": if s.v6 { "inet6" } else { "inet" },
                    "priority": s.priority,
                    "src": s.from.map(|f| f.addr()),
                    "srclen": s.from.map(|f| f.prefix_len()),
                    "dst": s.to.map(|t| t.addr()),
                    "dstlen": s.to.map(|t| t.prefix_len()),
                    "iif": s.iif,
                    "oif": s.oif,
                    "fwmark": s.fwmark.map(|m| format!("{m:#x}")),
                    "fwmask": s.fwmask.map(|m| format!("{m:#x}")),
                    "uid_start": s.uidrange.map(|u| u.0),
                    "uid_end": s.uidrange.map(|u| u.1),
                    "table": table_name(live, s.table),
                    "protocol": protocol_name(r.protocol),
                    "unsupported": r.unsupported,
                })
            })
            .collect()
    }

    fn text(&self, live: &Live, ns: &LiveNs, out: &mut Vec<String>) {
        for r in &ns.rules {
            let mut line = format!("rule{} {} proto {}", if r.spec.v6 { " (v6)" } else { "" }, rule_words(&r.spec, table_name(live, r.spec.table)), protocol_name(r.protocol));
            for u in &r.unsupported {
                line.push_str(&format!(" {u}"));
            }
            out.push(line);
        }
        for o in &ns.other_rules {
            out.push(format!("rule (not a lookup) {o}"));
        }
    }

    fn script(&self, script: &mut Script, out: &mut Vec<String>) {
        let rules: Vec<&super::LiveRule> = script.ns.rules.iter().filter(|r| !default_rule(r)).collect();
        for r in rules {
            let s = &r.spec;
            let line = format!("rule {}", rule_words(s, script.table(s.table)));
            let undeclared = [&s.iif, &s.oif].into_iter().flatten().find(|i| !script.declares(i)).cloned();
            if !r.unsupported.is_empty() {
                out.push(format!("# {line}   # also {}: not expressible in a script", r.unsupported.join(" ")));
            } else if s.v6 && s.from.is_none() && s.to.is_none() {
                // A /0 prefix makes a script's rule IPv6 without selecting anything.
                out.push(format!("rule from ::/0 {}", rule_words(s, script.table(s.table))));
            } else if let Some(i) = undeclared {
                out.push(format!("# {line}   # {i} is not an interface this export declares"));
            } else {
                out.push(line);
            }
        }
        for o in &script.ns.other_rules {
            out.push(format!("# rule {o}   # not a table lookup: not expressible in a script"));
        }
    }
}

// ---------------------------------------------------------------------------- sysctls

pub struct Sysctls;

/// What the kernel sets when forwarding is switched on, besides the two keys `forward`
/// names: (key, family, value).
const FORWARD_ALSO: [(&str, &str, &str); 4] = [
    ("net.ipv4.conf.all.forwarding", "v4", "1"),
    ("net.ipv4.conf.default.forwarding", "v4", "1"),
    ("net.ipv4.conf.all.accept_redirects", "v4", "0"),
    ("net.ipv6.conf.default.forwarding", "v6", "1"),
];

/// A sysctl value as a script writes it: bare when it is a plain word, else quoted.
fn sysctl_value(v: &str) -> String {
    if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "._:-/".contains(c)) {
        return v.to_string();
    }
    let mut s = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\t' => s.push_str("\\t"),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

impl Kind for Sysctls {
    fn key(&self) -> &'static str {
        "sysctls"
    }

    fn json(&self, _live: &Live, ns: &LiveNs) -> Vec<Value> {
        ns.sysctls.iter().map(|s| json!({ "key": s.key, "value": s.value, "default": s.default })).collect()
    }

    fn text(&self, _live: &Live, ns: &LiveNs, out: &mut Vec<String>) {
        for s in &ns.sysctls {
            let default = match &s.default {
                Some(d) if *d == s.value => " (default)".to_string(),
                Some(d) => format!(" (default {})", sysctl_value(d)),
                None => String::new(),
            };
            out.push(format!("sysctl {} = {}{default}", s.key, sysctl_value(&s.value)));
        }
    }

    fn script(&self, script: &mut Script, out: &mut Vec<String>) {
        let ns = script.ns;
        let value = |k: &str| ns.sysctls.iter().find(|s| s.key == k);
        let v4 = value("net.ipv4.ip_forward");
        let v6 = value("net.ipv6.conf.all.forwarding");
        let on = |s: Option<&super::LiveSysctl>| s.is_some_and(|s| s.value == "1");
        let changed = |s: Option<&super::LiveSysctl>| s.is_some_and(|s| s.default.as_deref() != Some(s.value.as_str()));
        let forward = on(v4) && on(v6);
        if forward {
            out.push("forward".into());
        } else if !on(v4) && !on(v6) && (changed(v4) || changed(v6)) && v4.is_some() && v6.is_some() {
            out.push("forward off".into());
        }
        for s in &ns.sysctls {
            let is_forward_key = s.key == "net.ipv4.ip_forward" || s.key == "net.ipv6.conf.all.forwarding";
            if is_forward_key && (forward || !on(v4) && !on(v6)) {
                continue;
            }
            if is_forward_key && s.default.as_deref() == Some(s.value.as_str()) {
                continue;
            }
            // What `forward` (or the key it names) sets by itself.
            let implied = FORWARD_ALSO.iter().any(|(k, family, value)| *k == s.key && s.value == *value && on(if *family == "v4" { v4 } else { v6 }));
            if implied {
                continue;
            }
            out.push(format!("sysctl {} = {}", s.key, sysctl_value(&s.value)));
        }
    }
}
