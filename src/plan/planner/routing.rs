//! Addresses and routing: addresses (IPv4 primary/secondary order, what a link going
//! down takes with it), routes and rules (protocol 110, explicit rule priorities), and
//! sysctls.

use super::*;
use crate::source::Span;

impl Planner<'_> {
    pub(super) fn addresses(&mut self, ns: &Namespace, iface: &Interface) {
        let (nsn, dev) = (ns.name.clone(), iface.name.clone());
        let mut present: Vec<IfAddr> = self.observed_link(&nsn, &dev).map(|l| l.addrs.clone()).unwrap_or_default();
        present.retain(|a| !self.gone_addrs.contains(&(nsn.clone(), dev.clone(), *a)));
        let mut first_deps = Vec::new();
        // The same local address with another peer or prefix length where the script's
        // address (which the record says netscript made) should be: its peer changed by
        // someone else. Deleted first (the kernel keys an IPv6 address by its local
        // address alone, and an IPv4 one by local, length and peer prefix: the add
        // would be refused), put back on rollback.
        for addr in &iface.addrs {
            let key = super::super::ownership::key(&Action::AddAddr { ns: nsn.clone(), dev: dev.clone(), addr: addr.node });
            if present.contains(&addr.node) || !self.owns(&key) {
                continue;
            }
            for other in present.clone().into_iter().filter(|p| p.addr() == addr.node.addr()) {
                let deps = self.link_deps(&nsn, &dev);
                let undo = vec![Action::AddAddr { ns: nsn.clone(), dev: dev.clone(), addr: other }];
                first_deps.push(self.push(Action::DelAddr { ns: nsn.clone(), dev: dev.clone(), addr: other }, addr.span, deps, undo));
                present.retain(|p| *p != other);
            }
        }
        // IPv4 keeps one primary address per subnet (the first added; the source of what
        // leaves through it). Where the kernel's order would not be the script's, the
        // script's own addresses of that subnet are deleted (secondaries first: deleting
        // a primary takes its secondaries) and added again in the script's order.
        let mut subnets: Vec<ipnet::IpNet> = iface.addrs.iter().filter(|a| a.node.addr().is_ipv4()).map(|a| a.node.trunc()).collect();
        subnets.dedup();
        for subnet in subnets {
            let declared: Vec<IfAddr> = iface.addrs.iter().map(|a| a.node).filter(|a| a.trunc() == subnet).collect();
            let here: Vec<IfAddr> = present.iter().copied().filter(|a| a.trunc() == subnet).collect();
            let kept: Vec<IfAddr> = here.iter().copied().filter(|a| declared.contains(a)).collect();
            let mut after: Vec<IfAddr> = kept.clone();
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

    /// Taking a link down also makes the kernel delete every route through it: the
    /// script's are added again after (`routes`), and a rollback puts back those it had —
    /// but for those a removal of this plan deletes (its undo does) — once the link is up
    /// again and its IPv6 addresses are back, and after its IPv4 addresses: when a
    /// removal deletes one first, on that removal, which a rollback undoes later.
    pub(super) fn goes_down_with_routes(&mut self, ns: &str, dev: &str) -> Vec<Action> {
        let mut put_back = self.goes_down(ns, dev);
        if !self.observed_link(ns, dev).is_some_and(|l| l.up) {
            return put_back;
        }
        self.downed_devs.insert((ns.to_string(), dev.to_string()));
        let removed = |route: &RouteSpec| self.ops.iter().any(|o| o.removes.is_some() && matches!(&o.action, Action::DelRoute { ns: n, route: r } if n == ns && route_matches(r, route)));
        let routes: Vec<Action> = self.routes_through(ns, dev).into_iter().filter(|a| !matches!(a, Action::AddRoute { route, .. } if removed(route))).collect();
        match self.first_address_removal(ns, dev) {
            Some(first) => {
                for route in routes {
                    if !self.ops[first].undo.contains(&route) {
                        self.ops[first].undo.push(route);
                    }
                }
            }
            None => put_back.extend(routes),
        }
        put_back
    }

    pub(super) fn routes(&mut self, ns: &Namespace) {
        let mut observed: Vec<RouteSpec> = self.observed_ns(&ns.name).map(|o| o.routes.clone()).unwrap_or_default();
        observed.retain(|r| !(r.dest.addr().is_ipv4() && r.dev.as_ref().is_some_and(|d| self.flushed_devs.contains(&(ns.name.clone(), d.clone())))));
        // Routes through a link this plan deletes or takes down go with it.
        observed.retain(|r| !r.dev.as_ref().is_some_and(|d| self.is_replaced(&ns.name, d) || self.downed_devs.contains(&(ns.name.clone(), d.clone()))));
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
            if let Some(old) = self.drifted_route(&ns.name, &exact, &observed) {
                let undo = vec![Action::AddRoute { ns: ns.name.clone(), route: old.clone() }];
                let op = self.push(Action::DelRoute { ns: ns.name.clone(), route: old }, route.span, deps.clone(), undo);
                deps.push(op);
            }
            let undo = vec![Action::DelRoute { ns: ns.name.clone(), route: exact }];
            self.push(Action::AddRoute { ns: ns.name.clone(), route: spec }, route.span, deps, undo);
        }
    }

    /// A route this script made that has changed since (its `mtu`, `scope`, gateway… set
    /// by someone else): it holds the place the script's route takes, where the kernel
    /// refuses a second one, so it is deleted first (and put back on rollback). Not one
    /// a removal of this plan deletes already, nor one of another protocol than the
    /// script gives it, or that the record does not hold.
    fn drifted_route(&self, ns: &str, exact: &RouteSpec, observed: &[RouteSpec]) -> Option<RouteSpec> {
        if !self.owns(&super::super::ownership::key(&Action::DelRoute { ns: ns.to_string(), route: exact.clone() })) {
            return None;
        }
        let deleted = |have: &RouteSpec| self.ops.iter().any(|op| matches!(&op.action, Action::DelRoute { ns: n, route: r } if n == ns && route_matches(r, have)));
        observed.iter().find(|have| same_route_slot(exact, have) && have.proto == exact.proto && !deleted(have)).cloned()
    }

    pub(super) fn rules(&mut self, ns: &Namespace) {
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

    pub(super) fn sysctls(&mut self, ns: &Namespace) {
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
pub(super) fn default_rules() -> Vec<RuleSpec> {
    let rule = |v6: bool, priority: u32, table: u32| RuleSpec { v6, from: None, to: None, iif: None, oif: None, fwmark: None, fwmask: None, uidrange: None, priority: Some(priority), table, ipproto: None, sport: None, dport: None, tos: None, sport_mask: None, dport_mask: None, dscp: None, flowlabel: None };
    vec![rule(false, 0, TABLE_LOCAL), rule(false, 32766, TABLE_MAIN), rule(false, 32767, TABLE_DEFAULT), rule(true, 0, TABLE_LOCAL), rule(true, 32766, TABLE_MAIN)]
}

/// The metric the kernel gives an IPv6 route added without one.
pub const IPV6_DEFAULT_METRIC: u32 = 1024;

/// The priority the kernel gives a rule added without one (`fib_default_rule_pref`):
/// one below the second rule's, given the priorities it holds (sorted).
pub(super) fn kernel_rule_priority(sorted: &[u32]) -> u32 {
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

pub fn route_spec(route: &Route) -> RouteSpec {
    let dest = match &route.dest.node {
        RouteDest::Prefix(p) => *p,
        RouteDest::Default if route.is_ipv6() => "::/0".parse().unwrap(),
        RouteDest::Default => "0.0.0.0/0".parse().unwrap(),
    };
    let mut spec = RouteSpec {
        dest,
        via: route.via.as_ref().map(|v| v.node),
        dev: route.dev.as_ref().map(|d| d.node.clone()),
        src: route.src.as_ref().map(|s| s.node),
        metric: route.metric.as_ref().map(|m| m.node),
        table: route.table_id(),
        onlink: route.onlink,
        kind: route.kind,
        mtu: route.mtu.as_ref().map(|m| m.node),
        advmss: route.advmss.as_ref().map(|m| m.node),
        scope: None,
        proto: route.proto.as_ref().map(|p| p.node).filter(|&p| p != NETSCRIPT_ROUTE_PROTOCOL),
        nexthops: route
            .nexthops
            .iter()
            .map(|h| NextHopSpec { via: h.node.via.node, dev: h.node.dev.as_ref().map(|d| d.node.clone()), weight: h.node.weight })
            .collect(),
    };
    // Normalised as the decoder does: a scope equal to the default is no scope.
    spec.scope = route.scope.as_ref().map(|s| s.node).filter(|&s| s != spec.default_scope());
    spec
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
        ipproto: rule.ipproto.as_ref().map(|p| p.node),
        sport: rule.sport.as_ref().map(|p| p.node),
        dport: rule.dport.as_ref().map(|p| p.node),
        tos: rule.tos.as_ref().map(|t| t.node),
        sport_mask: rule.sport_mask.as_ref().map(|m| m.node),
        dport_mask: rule.dport_mask.as_ref().map(|m| m.node),
        dscp: rule.dscp.as_ref().map(|d| d.node),
        flowlabel: rule.flowlabel.as_ref().map(|f| f.node),
    }
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
        && want.onlink == have.onlink
        && want.kind == have.kind
        && want.mtu == have.mtu
        && want.advmss == have.advmss
        && want.scope == have.scope
        && open_or_eq(&want.proto, &have.proto)
        && same_nexthops(&want.nexthops, &have.nexthops)
}

/// The same paths, in any order; a path's device, left open, is any.
fn same_nexthops(want: &[NextHopSpec], have: &[NextHopSpec]) -> bool {
    want.len() == have.len() && want.iter().all(|w| have.iter().any(|h| w.via == h.via && w.weight == h.weight && (w.dev.is_none() || w.dev == h.dev)))
}

/// Whether two routes take the same place in the kernel's table, where a second one
/// is refused (EEXIST): the same table, prefix and metric (IPv6: 1024 when none).
pub fn same_route_slot(a: &RouteSpec, b: &RouteSpec) -> bool {
    let metric = |r: &RouteSpec| r.metric.unwrap_or(if r.dest.addr().is_ipv6() { IPV6_DEFAULT_METRIC } else { 0 });
    a.table == b.table && a.dest == b.dest && metric(a) == metric(b)
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
        && want.ipproto == have.ipproto
        && want.sport == have.sport
        && want.dport == have.dport
        && want.tos == have.tos
        && want.sport_mask == have.sport_mask
        && want.dport_mask == have.dport_mask
        && want.dscp == have.dscp
        && want.flowlabel == have.flowlabel
        && want.table == have.table
        && (want.priority.is_none() || want.priority == have.priority)
}

#[cfg(test)]
mod tests {
    use super::kernel_rule_priority;

    /// As the kernel's `fib_default_rule_pref`: one below the second rule's priority, or
    /// 0 when there is no second rule or its priority is 0 (no underflow).
    #[test]
    fn a_rule_without_priority_goes_below_the_second_rule() {
        assert_eq!(kernel_rule_priority(&[0, 32766, 32767]), 32765);
        assert_eq!(kernel_rule_priority(&[0, 100, 32766]), 99);
        assert_eq!(kernel_rule_priority(&[0, 0, 32766]), 0);
        assert_eq!(kernel_rule_priority(&[0]), 0);
        assert_eq!(kernel_rule_priority(&[]), 0);
    }
}
