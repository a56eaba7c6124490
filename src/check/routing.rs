//! Addresses and routing: `addr`, `table`, `route`, `rule`, `forward`, `sysctl`.

use super::codes::*;
use super::core::*;
use super::names;
use super::values::{self as v};
use crate::ast::{self, RouteOpt, RuleOpt, Stmt, StmtKind, TableRef};
use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::source::{Span, Spanned};

/// A table reference to resolve once every `table` statement has been seen.
pub struct PendingTable {
    pub ns: String,
    pub target: TableTarget,
    pub name: Spanned<String>,
}

pub enum TableTarget {
    Route(usize),
    Rule(usize),
}

impl Evaluator<'_> {
    pub(super) fn table(&mut self, name: &ast::Ident, number: &ast::Expr) {
        if let Some(builtin) = builtin_table(&name.node) {
            self.report(
                Diagnostic::error(DUPLICATE_TABLE, name.span, format!("`{}` is a built-in table ({builtin})", name.node))
                    .label("already defined")
                    .help("choose another name"),
            );
            return;
        }
        let Some(id) = self.ok(v::int(&self.env, number)) else { return };
        if !(1..=u32::MAX as i64).contains(&id) {
            self.report(v::out_of_range(number.span, "a table number", id, 1, u32::MAX));
            return;
        }
        if (TABLE_DEFAULT as i64..=TABLE_LOCAL as i64).contains(&id) {
            let builtin = match id as u32 {
                TABLE_DEFAULT => "default",
                TABLE_MAIN => "main",
                _ => "local",
            };
            self.report(
                Diagnostic::error(DUPLICATE_TABLE, number.span, format!("table number {id} is the built-in table `{builtin}`"))
                    .label("already taken")
                    .help(format!("use `{builtin}` by name, or choose another number")),
            );
            return;
        }
        if let Some(previous) = self.desired.tables.get(&name.node) {
            let (prev_span, prev_id) = (previous.span, previous.node);
            if prev_id != id as u32 {
                self.report(
                    Diagnostic::error(DUPLICATE_TABLE, name.span, format!("table `{}` is already defined as {prev_id}", name.node))
                        .label(format!("redefined as {id}"))
                        .also(prev_span, "first defined here"),
                );
            }
            return;
        }
        self.desired.tables.insert(name.node.clone(), Spanned::new(id as u32, name.span));
    }

    pub(super) fn namespace_wide(&mut self, ns: &str, stmt: &Stmt) {
        match &stmt.node {
            StmtKind::Route { kind, dest, opts } => self.route(ns, stmt.span, kind.as_ref(), dest, opts),
            StmtKind::Rule { opts } => self.rule(ns, stmt, opts),
            StmtKind::Forward { on } => {
                let on = on.clone().unwrap_or(Spanned::new(true, stmt.span));
                let namespace = self.desired.namespaces.get_mut(ns).expect("entered");
                match &namespace.forward {
                    Some(previous) if previous.node != on.node => {
                        let first = previous.span;
                        self.report(
                            Diagnostic::error(CONFLICTING_ATTRIBUTE, on.span, format!("forwarding in `{ns}` is set both on and off"))
                                .label("conflicts with the earlier one")
                                .also(first, "first set here"),
                        );
                    }
                    Some(_) => {}
                    None => namespace.forward = Some(on),
                }
            }
            StmtKind::Sysctl { key, value } => {
                let Some(key) = self.ok(v::template(&self.env, key)) else { return };
                if let Err(d) = names::sysctl_key(&key) {
                    self.report(d);
                    return;
                }
                let namespace = self.desired.namespaces.get_mut(ns).expect("entered");
                match namespace.sysctls.get(&key.node) {
                    Some(previous) if previous.node != value.node => {
                        let first = previous.span;
                        self.report(
                            Diagnostic::error(CONFLICTING_ATTRIBUTE, value.span, format!("`{}` is set to two different values", key.node))
                                .label("conflicts with the earlier one")
                                .also(first, "first set here"),
                        );
                    }
                    Some(_) => {}
                    None => {
                        namespace.sysctls.insert(key.node, value.clone());
                    }
                }
            }
            _ => unreachable!("not namespace-wide"),
        }
    }

    pub(super) fn table_ref(&mut self, ns: &str, r: &Spanned<TableRef>, target: TableTarget) -> Option<Spanned<Table>> {
        match &r.node {
            TableRef::Number(n) => {
                let id = self.ok(v::int_in(&self.env, n, "a table number", 1, u32::MAX as i64))?;
                Some(Spanned::new(Table { id: id.node as u32, name: None }, r.span))
            }
            TableRef::Name(name) => {
                if let Some(id) = builtin_table(&name.node) {
                    return Some(Spanned::new(Table { id, name: Some(name.node.clone()) }, r.span));
                }
                // Named tables may be defined anywhere at top level: resolved after evaluation.
                self.pending_tables.push(PendingTable { ns: ns.to_string(), target, name: name.clone() });
                Some(Spanned::new(Table { id: 0, name: Some(name.node.clone()) }, r.span))
            }
        }
    }

    pub(super) fn route(&mut self, ns: &str, span: Span, kind: Option<&Spanned<RouteKind>>, dest: &ast::RouteDest, opts: &[RouteOpt]) {
        let dest = match dest {
            ast::RouteDest::Default(s) => Spanned::new(RouteDest::Default, *s),
            ast::RouteDest::Ip(ip) => match self.ok(v::network(&self.env, ip)) {
                Some(p) => p.map(RouteDest::Prefix),
                None => return,
            },
        };
        let index = self.desired.namespaces[ns].routes.len();
        let mut route = Route { span, dest, via: None, dev: None, src: None, metric: None, table: None, onlink: false, kind: kind.map(|k| k.node).unwrap_or_default(), mtu: None, advmss: None, scope: None, proto: None, nexthops: Vec::new() };
        let mut seen = Seen::default();
        for opt in opts {
            match opt {
                RouteOpt::Via(x) if self.once(&mut seen, "via", x.span) => route.via = self.ok(v::address(&self.env, &x.node)),
                RouteOpt::Dev(x) if self.once(&mut seen, "dev", x.span) => route.dev = self.ok(v::template(&self.env, &x.node)),
                RouteOpt::Src(x) if self.once(&mut seen, "src", x.span) => route.src = self.ok(v::address(&self.env, &x.node)),
                RouteOpt::Metric(x) if self.once(&mut seen, "metric", x.span) => {
                    route.metric = self.ok(v::int_in(&self.env, &x.node, "a metric", 0, u32::MAX as i64)).map(|s| s.map(|m| m as u32));
                }
                RouteOpt::Table(x) if self.once(&mut seen, "table", x.span) => route.table = self.table_ref(ns, x, TableTarget::Route(index)),
                RouteOpt::Onlink(x) if self.once(&mut seen, "onlink", *x) => route.onlink = true,
                RouteOpt::Mtu(x) if self.once(&mut seen, "mtu", x.span) => route.mtu = self.route_mtu(x),
                RouteOpt::Advmss(x) if self.once(&mut seen, "advmss", x.span) => route.advmss = self.route_advmss(x),
                RouteOpt::Scope(x) if self.once(&mut seen, "scope", x.span) => route.scope = self.route_scope(x),
                RouteOpt::Proto(x) if self.once(&mut seen, "proto", x.span) => route.proto = self.route_proto(x),
                RouteOpt::Nexthop(x) => {
                    seen.0.entry("nexthop").or_insert(x.span);
                    match self.nexthop(x) {
                        Some(hop) => route.nexthops.push(hop),
                        // Reported: the route is not checked further (no follow-on errors).
                        None => {
                            seen.0.insert("nexthop failed", x.span);
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(kind) = kind {
            // A route that refuses packets has nowhere to send them.
            if let Some((word, &at)) = ["via", "dev", "onlink", "nexthop"].iter().find_map(|w| seen.0.get_key_value(w)) {
                self.report(
                    Diagnostic::error(CONFLICTING_ATTRIBUTE, at, format!("a {} route sends packets nowhere: it takes no `{word}`", kind.node.word()))
                        .label("not for this kind of route")
                        .also(kind.span, "the route refuses what it matches")
                        .help(format!("write `route {} PREFIX [metric N] [table T]`", kind.node.word())),
                );
                return;
            }
            if self.route_scope_fits(&route) {
                crate::model::push_lean(&mut self.desired.namespaces.get_mut(ns).expect("entered").routes, route);
            }
            return;
        }
        if seen.0.contains_key("nexthop") {
            if !seen.0.contains_key("nexthop failed") && self.multipath_fits(&route, &seen) {
                crate::model::push_lean(&mut self.desired.namespaces.get_mut(ns).expect("entered").routes, route);
            }
            return;
        }
        if !seen.0.contains_key("via") && !seen.0.contains_key("dev") {
            self.report(
                Diagnostic::error(MISSING_OPTION, span, "a route needs a gateway (`via`) or a device (`dev`)")
                    .label("where should packets go?")
                    .help("e.g. `route default via 192.168.1.1` or `route 10.1.0.0/16 dev eth0`"),
            );
            return;
        }
        if route.via.is_none() && route.dev.is_none() {
            return; // already reported: the `via` or `dev` given did not evaluate
        }
        if route.onlink && !(seen.0.contains_key("via") && seen.0.contains_key("dev")) {
            self.report(
                Diagnostic::error(MISSING_OPTION, seen.0["onlink"], "`onlink` needs a gateway (`via`) and a device (`dev`)")
                    .label("on which link?")
                    .help("e.g. `route 198.51.100.0/24 via 10.9.9.9 dev eth0 onlink`"),
            );
            return;
        }
        if !self.route_scope_fits(&route) {
            return;
        }
        crate::model::push_lean(&mut self.desired.namespaces.get_mut(ns).expect("entered").routes, route);
    }

    pub(super) fn rule(&mut self, ns: &str, stmt: &Stmt, opts: &[RuleOpt]) {
        let index = self.desired.namespaces[ns].rules.len();
        let mut seen = Seen::default();
        let (mut from, mut to, mut iif, mut oif, mut fwmark, mut uidrange, mut priority, mut table) = (None, None, None, None, None, None, None, None);
        let (mut ipproto, mut tos) = (None, None);
        let mut masked = super::rule_selectors::Masked::default();
        for opt in opts {
            match opt {
                RuleOpt::From(x) if self.once(&mut seen, "from", x.span) => from = self.ok(v::network(&self.env, &x.node)),
                RuleOpt::To(x) if self.once(&mut seen, "to", x.span) => to = self.ok(v::network(&self.env, &x.node)),
                RuleOpt::Iif(x) if self.once(&mut seen, "iif", x.span) => iif = self.ok(v::template(&self.env, &x.node)),
                RuleOpt::Oif(x) if self.once(&mut seen, "oif", x.span) => oif = self.ok(v::template(&self.env, &x.node)),
                RuleOpt::Fwmark(x) if self.once(&mut seen, "fwmark", x.span) => {
                    let (mark, mask) = &x.node;
                    let mark = self.ok(v::int_in(&self.env, mark, "a fwmark", 0, u32::MAX as i64));
                    let mask = mask.as_ref().map(|m| self.ok(v::int_in(&self.env, m, "a fwmark mask", 0, u32::MAX as i64)));
                    if let (Some(mark), Some(mask)) = (mark, mask.unwrap_or(Some(Spanned::new(-1, x.span)))) {
                        let mask = (mask.node >= 0).then_some(mask.node as u32);
                        fwmark = Some(Spanned::new((mark.node as u32, mask), x.span));
                    }
                }
                RuleOpt::Uidrange(x) if self.once(&mut seen, "uidrange", x.span) => {
                    let (a, b) = &x.node;
                    let a = self.ok(v::int_in(&self.env, a, "a uid", 0, u32::MAX as i64));
                    let b = self.ok(v::int_in(&self.env, b, "a uid", 0, u32::MAX as i64));
                    if let (Some(a), Some(b)) = (a, b) {
                        if a.node > b.node {
                            self.report(
                                Diagnostic::error(OUT_OF_RANGE, x.span, format!("the uid range {}-{} is reversed", a.node, b.node))
                                    .label("the first uid must not exceed the second")
                                    .help(format!("write `uidrange {}-{}`", b.node, a.node)),
                            );
                        } else {
                            uidrange = Some(Spanned::new((a.node as u32, b.node as u32), x.span));
                        }
                    }
                }
                RuleOpt::Priority(x) if self.once(&mut seen, "priority", x.span) => {
                    priority = self.ok(v::int_in(&self.env, &x.node, "a rule priority", 0, u32::MAX as i64)).map(|s| s.map(|p| p as u32));
                }
                RuleOpt::Table(x) if self.once(&mut seen, "table", x.span) => table = self.table_ref(ns, x, TableTarget::Rule(index)),
                RuleOpt::IpProto(x) if self.once(&mut seen, "ipproto", x.span) => {
                    ipproto = match &x.node {
                        ast::RuleProto::Named(p) => Some(Spanned::new(p.number(), x.span)),
                        ast::RuleProto::Number(n) => self.ok(v::int_in(&self.env, n, "an IP protocol number", 0, 255)).map(|n| Spanned::new(n.node as u8, x.span)),
                    };
                }
                RuleOpt::Sport(x) if self.once(&mut seen, "sport", x.span) => {
                    if let Some((p, m)) = self.rule_port("sport", x) {
                        (masked.sport, masked.sport_mask) = (Some(p), m);
                    }
                }
                RuleOpt::Dport(x) if self.once(&mut seen, "dport", x.span) => {
                    if let Some((p, m)) = self.rule_port("dport", x) {
                        (masked.dport, masked.dport_mask) = (Some(p), m);
                    }
                }
                RuleOpt::Dscp(x) if self.once(&mut seen, "dscp", x.span) => masked.dscp = self.rule_dscp(x),
                RuleOpt::Flowlabel(x) if self.once(&mut seen, "flowlabel", x.span) => masked.flowlabel = self.rule_flowlabel(x),
                RuleOpt::Tos(x) if self.once(&mut seen, "tos", x.span) => tos = self.ok(v::int_in(&self.env, &x.node, "a TOS value", 0, 255)).map(|t| Spanned::new(t.node as u8, x.span)),
                _ => {}
            }
        }
        let Some(table) = table else {
            if !seen.0.contains_key("table") {
                self.report(
                    Diagnostic::error(MISSING_OPTION, keyword_span(stmt), "a rule needs a table to look up")
                        .label("no `table` or `lookup` given")
                        .help("e.g. `rule from 10.0.0.100 table 100`"),
                );
            }
            return;
        };
        if let (Some(f), Some(t)) = (&from, &to)
            && f.node.addr().is_ipv4() != t.node.addr().is_ipv4()
        {
            self.report(
                Diagnostic::error(MIXED_FAMILIES, t.span, "a rule matches one address family; `from` and `to` differ")
                    .label(format!("this is IPv{}", if t.node.addr().is_ipv4() { 4 } else { 6 }))
                    .also(f.span, format!("this is IPv{}", if f.node.addr().is_ipv4() { 4 } else { 6 })),
            );
            return;
        }
        let v6 = from.as_ref().or(to.as_ref()).is_some_and(|p| !p.node.addr().is_ipv4());
        if let Some(t) = &tos {
            // What the kernel accepts: IPv4 rules match the TOS bits (mask 0x1e), IPv6
            // rules the DSCP (mask 0xfc).
            let (mask, family, example) = if v6 { (0xfcu8, "IPv6", "`tos 0x20` (DSCP 8, CS1)") } else { (0x1eu8, "IPv4", "`tos 0x10` (low delay)") };
            if t.node & !mask != 0 {
                self.report(
                    Diagnostic::error(OUT_OF_RANGE, t.span, format!("{:#04x} is not a TOS value an {family} rule can match", t.node))
                        .label(format!("{family} rules match the bits {mask:#04x} of the TOS byte"))
                        .help(format!("e.g. {example}")),
                );
                return;
            }
        }
        if !self.rule_masked_fits(v6, tos.as_ref(), &masked) {
            return;
        }
        let super::rule_selectors::Masked { sport, sport_mask, dport, dport_mask, dscp, flowlabel } = masked;
        let rule = Rule { span: stmt.span, from, to, iif, oif, fwmark, uidrange, priority, table, ipproto, sport, dport, tos, sport_mask, dport_mask, dscp, flowlabel };
        crate::model::push_lean(&mut self.desired.namespaces.get_mut(ns).expect("entered").rules, rule);
    }
    pub(super) fn addresses(&mut self, ns: &str, iface: &str, addrs: &[ast::AddrValue]) {
        for a in addrs {
            let Some(p) = (match &a.peer {
                None => self.plain_address(&a.local),
                Some(peer) => self.peer_address(&a.local, peer),
            }) else {
                continue;
            };
            let existing = self.iface_mut(ns, iface).addrs.iter().find(|x| x.node.addr() == p.node.addr()).map(|x| x.span);
            match existing {
                Some(first) => self.report(
                    Diagnostic::error(DUPLICATE_ADDRESS, p.span, format!("`{}` already has the address {}", iface, p.node.addr()))
                        .label("given again here")
                        .also(first, "first given here"),
                ),
                None => crate::model::push_lean(&mut self.iface_mut(ns, iface).addrs, p),
            }
        }
    }

    fn plain_address(&mut self, a: &ast::IpValue) -> Option<Spanned<crate::model::IfAddr>> {
        // A bare address is a host prefix (/32, /128), as in iproute2: then
        // the interface has no connected route, and the run fails later, far
        // away (a gateway "unreachable"). Say so here.
        if let Ok(written) = v::ip(&self.env, a)
            && written.node.1.is_none()
        {
            let host = if written.node.0.is_ipv4() { 32 } else { 128 };
            let example = if written.node.0.is_ipv4() { 24 } else { 64 };
            self.report(
                Diagnostic::warning(ADDRESS_WITHOUT_PREFIX, written.span, format!("the address {} has no prefix length: it is taken as /{host}", written.node.0))
                    .label(format!("means {}/{host}, a network of one address", written.node.0))
                    .help(format!("write the prefix of its network, e.g. `{}/{example}`, or `/{host}` if a single address is meant", written.node.0)),
            );
        }
        let p = self.ok(v::prefix(&self.env, a))?;
        Some(Spanned::new(p.node.into(), p.span))
    }
}

pub fn builtin_table(name: &str) -> Option<u32> {
    match name {
        "main" => Some(TABLE_MAIN),
        "local" => Some(TABLE_LOCAL),
        "default" => Some(TABLE_DEFAULT),
        _ => None,
    }
}
