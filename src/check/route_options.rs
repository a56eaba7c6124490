//! A route's path attributes: `mtu`, `advmss`, `scope` and `proto` (issue 24), as
//! `ip route add ... mtu N advmss N scope S proto P` takes them.

use super::codes::*;
use super::core::*;
use super::values::{self as v};
use crate::ast::{RouteScopeValue, TableRef};
use crate::diagnostic::Diagnostic;
use crate::model::{Route, ROUTE_PROTOCOLS};
use crate::source::Spanned;

impl Evaluator<'_> {
    /// `mtu N`: the kernel caps a route's MTU at 65520 (and an advertised MSS at 65495),
    /// so a larger value would be read back as another: refused here.
    pub(super) fn route_mtu(&mut self, x: &Spanned<crate::ast::IntValue>) -> Option<Spanned<u32>> {
        self.ok(v::int_in(&self.env, &x.node, "a route MTU", 68, 65520)).map(|m| Spanned::new(m.node as u32, x.span))
    }

    pub(super) fn route_advmss(&mut self, x: &Spanned<crate::ast::IntValue>) -> Option<Spanned<u32>> {
        self.ok(v::int_in(&self.env, &x.node, "an advertised MSS", 1, 65495)).map(|m| Spanned::new(m.node as u32, x.span))
    }

    pub(super) fn route_scope(&mut self, x: &Spanned<RouteScopeValue>) -> Option<Spanned<u8>> {
        let n = match &x.node {
            RouteScopeValue::Host => 254,
            RouteScopeValue::Link => 253,
            RouteScopeValue::Global => 0,
            RouteScopeValue::Number(n) => self.ok(v::int_in(&self.env, n, "a route scope", 0, 254))?.node as u8,
        };
        Some(Spanned::new(n, x.span))
    }

    pub(super) fn route_proto(&mut self, x: &Spanned<TableRef>) -> Option<Spanned<u8>> {
        let n = match &x.node {
            TableRef::Number(n) => self.ok(v::int_in(&self.env, n, "a route protocol", 1, 255))?.node as u8,
            TableRef::Name(name) => match ROUTE_PROTOCOLS.iter().find(|(word, _)| *word == name.node) {
                Some((_, n)) => *n,
                None => {
                    let known: Vec<&str> = ROUTE_PROTOCOLS.iter().map(|(w, _)| *w).collect();
                    self.report(
                        Diagnostic::error(OUT_OF_RANGE, name.span, format!("`{}` is not a route protocol iproute2 names", name.node))
                            .label("unknown protocol")
                            .help(format!("use a number (1-255) or one of: {}", known.join(", "))),
                    );
                    return None;
                }
            },
        };
        Some(Spanned::new(n, x.span))
    }

    /// What the kernel would not keep as written: a scope on an IPv6 route (the kernel
    /// has none for them and reports every one as global), a gateway route of scope
    /// host or link (the kernel refuses a gateway inside the route's own scope).
    pub(super) fn route_scope_fits(&mut self, route: &Route) -> bool {
        let Some(scope) = route.scope.as_ref() else { return true };
        if route.is_ipv6() && scope.node != 0 {
            self.report(
                Diagnostic::error(CONFLICTING_ATTRIBUTE, scope.span, "IPv6 routes have no scope")
                    .label("the kernel keeps every IPv6 route as global")
                    .help("leave `scope` out of IPv6 routes"),
            );
            return false;
        }
        if let Some(via) = route.via.as_ref().filter(|_| scope.node >= 253) {
            self.report(
                Diagnostic::error(CONFLICTING_ATTRIBUTE, scope.span, "a route through a gateway cannot have scope link or host")
                    .label("narrower than a gateway allows")
                    .also(via.span, "the gateway")
                    .help("drop `scope` (a gateway route is global), or route by `dev` alone"),
            );
            return false;
        }
        true
    }
}

impl Evaluator<'_> {
    /// One `nexthop`: a gateway (once), a device and a weight (each at most once).
    pub(super) fn nexthop(&mut self, x: &Spanned<crate::ast::NexthopAst>) -> Option<Spanned<crate::model::NextHop>> {
        let mut seen = Seen::default();
        let (mut via, mut dev, mut weight) = (None, None, None);
        for v in &x.node.via {
            if self.once(&mut seen, "via", v.span) {
                via = self.ok(v::address(&self.env, &v.node));
            }
        }
        for d in &x.node.dev {
            if self.once(&mut seen, "dev", d.span) {
                dev = self.ok(v::template(&self.env, &d.node));
            }
        }
        for w in &x.node.weight {
            if self.once(&mut seen, "weight", w.span) {
                weight = self.ok(v::int_in(&self.env, &w.node, "a nexthop weight", 1, 256)).map(|w| w.node as u32);
            }
        }
        if x.node.via.is_empty() {
            self.report(
                Diagnostic::error(MISSING_OPTION, x.span, "a `nexthop` needs a gateway (`via`)")
                    .label("through which router?")
                    .help("e.g. `nexthop via 10.0.0.2 dev eth0 weight 2`"),
            );
            return None;
        }
        Some(Spanned::new(crate::model::NextHop { via: via?, dev, weight: weight.unwrap_or(1) }, x.span))
    }

    /// A multipath route: two or more nexthops of the destination's family, and no
    /// route-wide `via`, `dev` or `onlink` (each path has its own).
    pub(super) fn multipath_fits(&mut self, route: &Route, seen: &Seen) -> bool {
        let seen = &seen.0;
        let first = seen["nexthop"];
        if let Some((word, &at)) = ["via", "dev", "onlink"].iter().find_map(|w| seen.get_key_value(w)) {
            self.report(
                Diagnostic::error(CONFLICTING_ATTRIBUTE, at, format!("a route with `nexthop`s takes no route-wide `{word}`"))
                    .label("give it in each nexthop")
                    .also(first, "the paths of this route")
                    .help("e.g. `route 10.1.0.0/24 nexthop via 10.0.0.2 dev eth0 nexthop via 10.0.1.2 dev eth1`"),
            );
            return false;
        }
        if route.nexthops.len() < 2 {
            if let Some(hop) = route.nexthops.first() {
                self.report(
                    Diagnostic::error(MISSING_OPTION, hop.span, "a multipath route needs two or more `nexthop`s")
                        .label("the only path")
                        .help("with one path, write `via` (and `dev`) without `nexthop`"),
                );
            }
            return false;
        }
        let v6 = route.is_ipv6();
        if let Some(hop) = route.nexthops.iter().find(|h| h.node.via.node.is_ipv6() != v6) {
            let family = |v6: bool| if v6 { "IPv6" } else { "IPv4" };
            self.report(
                Diagnostic::error(MIXED_FAMILIES, hop.node.via.span, format!("an {} gateway for an {} route", family(!v6), family(v6)))
                    .label("another family")
                    .also(route.dest.span, format!("this destination is {}", family(v6))),
            );
            return false;
        }
        true
    }
}
