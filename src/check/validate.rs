//! Checks that need the whole script: references between statements, which may come in
//! any order (a bridge declared after its ports, a table named before its definition).

use super::codes::*;
use super::core::Evaluator;
use super::routing::{builtin_table, TableTarget};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::model::*;
use crate::source::{Span, Spanned};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;

pub fn validate(ev: &mut Evaluator) {
    resolve_tables(ev);
    super::traffic_keys::fill_ht_prios(&mut ev.desired);
    let mut found = Vec::new();
    for ns in ev.desired.namespaces.values() {
        interfaces(ns, &mut found);
        super::ipvlan_ports::ipvlan_ports(ns, &mut found);
        super::link_cycles::link_cycles(ns, &mut found);
        ingress_devices(ns, &mut found);
        super::traffic_options::hook_conflicts(ns, &mut found);
        super::traffic_filters::duplicate_prios(ns, &mut found);
        super::traffic_tables::table_conflicts(ns, &mut found);
        super::traffic_keys::ht_conflicts(ns, &mut found);
        routes(ns, &mut found);
        rules(ns, &mut found);
        forwarding(ns, &mut found);
        super::firewall::validate(ns, &mut found);
    }
    expects(&ev.desired, &mut found);
    for d in found {
        ev.report(d);
    }
}

fn resolve_tables(ev: &mut Evaluator) {
    let pending = std::mem::take(&mut ev.pending_tables);
    for p in pending {
        let Some(id) = ev.desired.tables.get(&p.name.node).map(|t| t.node) else {
            let names: Vec<&str> = ev.desired.tables.keys().map(String::as_str).chain(["main", "local", "default"]).collect();
            let help = did_you_mean(&p.name.node, names.iter().copied())
                .unwrap_or_else(|| format!("define it at the top level: `table {} = 100`", p.name.node));
            ev.report(
                Diagnostic::error(UNKNOWN_TABLE, p.name.span, format!("unknown table `{}`", p.name.node))
                    .label("no table of this name")
                    .help(help),
            );
            continue;
        };
        debug_assert!(builtin_table(&p.name.node).is_none());
        let ns = ev.desired.namespaces.get_mut(&p.ns).expect("table references come from namespaces");
        match p.target {
            TableTarget::Route(i) => {
                if let Some(t) = ns.routes.get_mut(i).and_then(|r| r.table.as_mut()) {
                    t.node.id = id;
                }
            }
            TableTarget::Rule(i) => {
                if let Some(r) = ns.rules.get_mut(i) {
                    r.table.node.id = id;
                }
            }
        }
    }
}

/// Looks up an interface of `ns` named at `name`, with a did-you-mean when it is unknown.
fn lookup<'n>(ns: &'n Namespace, name: &Spanned<String>, role: &str) -> Result<Option<&'n Interface>, Diagnostic> {
    if name.node == "lo" {
        return Ok(ns.interfaces.get("lo"));
    }
    if let Some(iface) = ns.interfaces.get(&name.node) {
        return Ok(Some(iface));
    }
    let help = did_you_mean(&name.node, ns.interfaces.keys().map(String::as_str))
        .unwrap_or_else(|| format!("if `{}` exists already, declare it in `{}` with `link {}`", name.node, ns.name, name.node));
    Err(Diagnostic::error(UNKNOWN_INTERFACE, name.span, format!("unknown interface `{}` in namespace `{}`", name.node, ns.name))
        .label(format!("no such {role} in `{}`", ns.name))
        .help(help))
}

fn interfaces(ns: &Namespace, found: &mut Vec<Diagnostic>) {
    for iface in ns.interfaces.values() {
        if let (Some(shape), Some(bpf)) = (&iface.ingress_shape, iface.bpf.first()) {
            found.push(
                Diagnostic::error(CONFLICTING_QDISC, bpf.span, format!("`{}` cannot have both `shape ingress` and `bpf`", iface.name))
                    .label("needs a clsact qdisc")
                    .also(shape.span, "needs an ingress qdisc")
                    .help("both sit on the interface's ingress hook (ffff:), which holds one qdisc; keep one of the two"),
            );
        }
        if let Some(master) = &iface.master {
            if master.node == "lo" {
                found.push(Diagnostic::error(NOT_A_BRIDGE, master.span, "`lo` is not a bridge").label("the loopback device").help("declare a bridge (`bridge br0`) and write `master br0`"));
                continue;
            }
            match lookup(ns, master, "bridge") {
                Err(d) => found.push(d),
                Ok(Some(target)) if target.name == iface.name => found.push(
                    Diagnostic::error(NOT_A_BRIDGE, master.span, format!("`{}` cannot be its own master", iface.name)).label("the same interface"),
                ),
                Ok(Some(target)) if !matches!(target.kind, IfaceKind::Bridge | IfaceKind::Vrf { .. } | IfaceKind::Existing) => found.push(
                    Diagnostic::error(NOT_A_BRIDGE, master.span, format!("`{}` is not a bridge", master.node))
                        .label(format!("this is a {}", target.kind.word()))
                        .also(target.span, "declared here")
                        .help("declare a bridge (`bridge br0`) and write `master br0`".to_string()),
                ),
                Ok(_) => {}
            }
        }
        match &iface.kind {
            IfaceKind::Macvlan { parent, .. } | IfaceKind::Vlan { parent, .. } | IfaceKind::Ipvlan { parent, .. } => {
                if let Err(d) = lookup(ns, parent, "parent interface") {
                    found.push(d);
                }
            }
            IfaceKind::Vxlan(x) => {
                if let Some(dev) = &x.dev
                    && let Err(d) = lookup(ns, dev, "interface")
                {
                    found.push(d);
                }
                let families: Vec<&Spanned<IpAddr>> = [&x.remote, &x.group, &x.local].into_iter().flatten().collect();
                if let Some(first) = families.first()
                    && let Some(other) = families.iter().find(|a| a.node.is_ipv4() != first.node.is_ipv4())
                {
                    found.push(
                        Diagnostic::error(MIXED_FAMILIES, other.span, "a vxlan's addresses must be of one family")
                            .label("this family differs")
                            .also(first.span, "from this one"),
                    );
                }
            }
            _ => {}
        }
        if let Some(q) = &iface.root_qdisc
            && let Qdisc::Htb(htb) = &q.node
        {
            let classes: HashMap<u32, &HtbClass> = htb.classes.iter().map(|c| (c.id.node, c)).collect();
            for flowid in htb.filters.iter().filter_map(|f| f.flowid.as_ref()) {
                if !classes.contains_key(&flowid.node) {
                    let names: Vec<String> = htb.classes.iter().map(|c| format!("{:x}", c.id.node)).collect();
                    let help = did_you_mean(&format!("{:x}", flowid.node), names.iter().map(String::as_str))
                        .unwrap_or_else(|| "declare the class in this htb block: `class 10 rate 1mbit`".to_string());
                    found.push(
                        Diagnostic::error(UNKNOWN_CLASS, flowid.span, format!("unknown class 1:{:x}", flowid.node))
                            .label("no class with this id in this htb")
                            .help(help),
                    );
                }
            }
            if let Some(d) = &htb.default_class
                && !classes.contains_key(&d.node)
            {
                found.push(
                    Diagnostic::warning(UNKNOWN_CLASS, d.span, format!("the default class 1:{:x} is not declared", d.node))
                        .label("unclassified traffic will bypass shaping")
                        .help("declare it in the htb block, or remove `default`"),
                );
            }
        }
    }
}

fn subnets(ns: &Namespace, dev: Option<&str>) -> Vec<IpNet> {
    ns.interfaces
        .values()
        .filter(|i| dev.is_none_or(|d| d == i.name))
        .flat_map(|i| i.addrs.iter().map(|a| a.node.trunc()))
        .collect()
}

fn routes(ns: &Namespace, found: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<(IpNet, u32, Option<u32>), Span> = HashMap::new();
    for route in &ns.routes {
        if let Some(dev) = &route.dev
            && let Err(d) = lookup(ns, dev, "interface")
        {
            found.push(d);
            continue; // the gateway checks below would only repeat this
        }
        if let Some(d) = route.nexthops.iter().filter_map(|h| h.node.dev.as_ref()).find_map(|dev| lookup(ns, dev, "interface").err()) {
            found.push(d);
            continue;
        }
        let dest_v4 = match &route.dest.node {
            RouteDest::Prefix(p) => Some(p.addr().is_ipv4()),
            RouteDest::Default => None,
        };
        let family_of = |v4: bool| if v4 { "IPv4" } else { "IPv6" };
        if let (Some(v4), Some(via)) = (dest_v4, &route.via)
            && via.node.is_ipv4() != v4
        {
            found.push(
                Diagnostic::error(MIXED_FAMILIES, via.span, format!("an {} gateway for an {} route", family_of(via.node.is_ipv4()), family_of(v4)))
                    .label(format!("this gateway is {}", family_of(via.node.is_ipv4())))
                    .also(route.dest.span, format!("this destination is {}", family_of(v4))),
            );
            continue;
        }
        let v4 = dest_v4.or(route.via.as_ref().map(|v| v.node.is_ipv4())).unwrap_or(true);
        if let Some(src) = &route.src
            && src.node.is_ipv4() != v4
        {
            found.push(
                Diagnostic::error(MIXED_FAMILIES, src.span, format!("an {} source for an {} route", family_of(src.node.is_ipv4()), family_of(v4)))
                    .label("wrong family"),
            );
            continue;
        }
        if let Some(via) = route.via.as_ref().filter(|_| !route.onlink) {
            let nets = subnets(ns, route.dev.as_ref().map(|d| d.node.as_str()));
            let any_address = ns.interfaces.values().any(|i| !i.addrs.is_empty());
            if (any_address || !ns.is_host()) && !nets.iter().any(|n| n.contains(&via.node)) {
                let scope = match &route.dev {
                    Some(d) => format!("`{}`", d.node),
                    None => format!("namespace `{}`", ns.name),
                };
                found.push(
                    Diagnostic::warning(GATEWAY_UNREACHABLE, via.span, format!("the gateway {} is outside every subnet of {scope}", via.node))
                        .label("not on a directly connected subnet")
                        .help("the kernel refuses a gateway it cannot reach directly; add an address in its subnet"),
                );
            }
        }
        let dest = match &route.dest.node {
            RouteDest::Prefix(p) => *p,
            RouteDest::Default if v4 => "0.0.0.0/0".parse().unwrap(),
            RouteDest::Default => "::/0".parse().unwrap(),
        };
        // No metric is the kernel's default metric: 0 for v4, 1024 for v6.
        let metric = route.metric.as_ref().map(|m| m.node).unwrap_or(if v4 { 0 } else { 1024 });
        let key = (dest, route.table_id(), Some(metric));
        if let Some(first) = seen.get(&key) {
            found.push(
                Diagnostic::error(DUPLICATE_ROUTE, route.dest.span, format!("a route to {dest} in this table and metric is declared twice"))
                    .label("declared again here")
                    .also(*first, "first declared here")
                    .help("give one of them another `metric` or `table`"),
            );
        } else {
            seen.insert(key, route.dest.span);
        }
    }
}

fn rules(ns: &Namespace, found: &mut Vec<Diagnostic>) {
    for rule in &ns.rules {
        for name in [&rule.iif, &rule.oif].into_iter().flatten() {
            if let Err(d) = lookup(ns, name, "interface") {
                found.push(d);
            }
        }
    }
}

fn expects(desired: &Desired, found: &mut Vec<Diagnostic>) {
    for e in &desired.expects {
        if e.ns.node == HOST && !desired.namespaces.contains_key(HOST) {
            continue; // the initial namespace always exists; nothing to compare with
        }
        let Some(ns) = desired.namespaces.get(&e.ns.node) else {
            let help = did_you_mean(&e.ns.node, desired.namespaces.keys().map(String::as_str))
                .unwrap_or_else(|| format!("declare it: `netns {}`", e.ns.node));
            found.push(
                Diagnostic::error(UNKNOWN_NAMESPACE, e.ns.span, format!("unknown namespace `{}`", e.ns.node))
                    .label("not declared in this script")
                    .help(help),
            );
            continue;
        };
        let held = desired.namespaces.values().flat_map(|n| n.interfaces.values()).any(|i| i.addrs.iter().any(|a| a.node.addr() == e.addr.node));
        let on_link = subnets(ns, None).iter().any(|n| n.contains(&e.addr.node));
        let routed = ns.routes.iter().any(|r| match &r.dest.node {
            RouteDest::Default => true,
            RouteDest::Prefix(p) => p.contains(&e.addr.node),
        });
        if !held && !on_link && !routed {
            found.push(
                Diagnostic::warning(UNREACHABLE_EXPECT, e.addr.span, format!("no interface holds {} and no route in `{}` covers it", e.addr.node, ns.name))
                    .label("nothing in the script leads here")
                    .help("check the address, or add a route to it"),
            );
        }
    }
}

/// Ingress shaping needs an ifb device per interface; its name must not clash.
fn ingress_devices(ns: &Namespace, found: &mut Vec<Diagnostic>) {
    let mut taken: HashMap<String, &Interface> = HashMap::new();
    for iface in ns.interfaces.values() {
        let Some(shape) = &iface.ingress_shape else { continue };
        let ifb = crate::model::ifb_name(&iface.name);
        if let Some(other) = ns.interfaces.get(&ifb) {
            found.push(
                Diagnostic::error(CONFLICTING_ATTRIBUTE, shape.span, format!("ingress shaping of `{}` needs a device named `{ifb}`, which the script declares", iface.name))
                    .label("needs the name of another interface")
                    .also(other.span, "declared here")
                    .help("rename one of them"),
            );
        } else if let Some(first) = taken.get(&ifb) {
            found.push(
                Diagnostic::error(CONFLICTING_ATTRIBUTE, shape.span, format!("ingress shaping of `{}` and of `{}` both need the device `{ifb}`", first.name, iface.name))
                    .label("same ifb name")
                    .help("interface names that share their first 11 characters cannot both be shaped on ingress; shorten one"),
            );
        } else {
            taken.insert(ifb, iface);
        }
    }
}

/// `forward` sets two sysctls; a `sysctl` of the same key must agree with it.
fn forwarding(ns: &Namespace, found: &mut Vec<Diagnostic>) {
    let Some(forward) = &ns.forward else { return };
    let wanted = if forward.node { "1" } else { "0" };
    for key in ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"] {
        if let Some(value) = ns.sysctls.get(key)
            && value.node.trim() != wanted
        {
            found.push(
                Diagnostic::error(CONFLICTING_ATTRIBUTE, value.span, format!("`{key}` is set to {}, but `forward` sets it to {wanted}", value.node.trim()))
                    .label("conflicts with `forward`")
                    .also(forward.span, "forwarding set here"),
            );
        }
    }
}
