//! Routing tables, routes and rules.

use crate::source::{Span, Spanned};
use ipnet::IpNet;
use std::net::IpAddr;

/// A routing table, resolved to its number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Table {
    pub id: u32,
    /// The name the script used, if any (`main`, or one from `table NAME = N`).
    pub name: Option<String>,
}

pub const TABLE_MAIN: u32 = 254;
pub const TABLE_LOCAL: u32 = 255;
pub const TABLE_DEFAULT: u32 = 253;

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name}"),
            None => write!(f, "{}", self.id),
        }
    }
}

/// What a route does with a packet: forward it (unicast, the default), or refuse it
/// (`route blackhole|unreachable|prohibit PREFIX`: dropped silently, or with an ICMP
/// unreachable, or an ICMP administratively prohibited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteKind {
    #[default]
    Unicast,
    Blackhole,
    Unreachable,
    Prohibit,
}

impl RouteKind {
    pub fn word(self) -> &'static str {
        match self {
            RouteKind::Unicast => "unicast",
            RouteKind::Blackhole => "blackhole",
            RouteKind::Unreachable => "unreachable",
            RouteKind::Prohibit => "prohibit",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RouteDest {
    /// `default`: 0.0.0.0/0, or ::/0 when the gateway is v6.
    Default,
    Prefix(IpNet),
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Route {
    #[serde(skip)]
    pub span: Span,
    pub dest: Spanned<RouteDest>,
    pub via: Option<Spanned<IpAddr>>,
    pub dev: Option<Spanned<String>>,
    pub src: Option<Spanned<IpAddr>>,
    pub metric: Option<Spanned<u32>>,
    pub table: Option<Spanned<Table>>,
    /// `onlink`: the gateway is taken to be on the link.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub onlink: bool,
    #[serde(default, skip_serializing_if = "is_unicast")]
    pub kind: RouteKind,
    /// `mtu N` (RTAX_MTU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<Spanned<u32>>,
    /// `advmss N` (RTAX_ADVMSS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advmss: Option<Spanned<u32>>,
    /// `scope`: RT_SCOPE_* (0 global, 253 link, 254 host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Spanned<u8>>,
    /// `proto`: the route's protocol, instead of netscript's 110.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto: Option<Spanned<u8>>,
    /// `nexthop via … [dev …] [weight N]`, two or more: a multipath route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nexthops: Vec<Spanned<NextHop>>,
}

/// One path of a multipath route.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NextHop {
    pub via: Spanned<IpAddr>,
    pub dev: Option<Spanned<String>>,
    /// 1–256 (`ip route`'s weight; the kernel stores weight − 1).
    pub weight: u32,
}

fn is_unicast(kind: &RouteKind) -> bool {
    *kind == RouteKind::Unicast
}

impl Route {
    pub fn is_ipv6(&self) -> bool {
        match &self.dest.node {
            RouteDest::Prefix(p) => matches!(p, IpNet::V6(_)),
            RouteDest::Default => matches!(self.via.as_ref().map(|v| v.node).or(self.nexthops.first().map(|h| h.node.via.node)), Some(IpAddr::V6(_))),
        }
    }
    pub fn table_id(&self) -> u32 {
        self.table.as_ref().map(|t| t.id).unwrap_or(TABLE_MAIN)
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Rule {
    #[serde(skip)]
    pub span: Span,
    pub from: Option<Spanned<IpNet>>,
    pub to: Option<Spanned<IpNet>>,
    pub iif: Option<Spanned<String>>,
    pub oif: Option<Spanned<String>>,
    pub fwmark: Option<Spanned<(u32, Option<u32>)>>,
    pub uidrange: Option<Spanned<(u32, u32)>>,
    pub priority: Option<Spanned<u32>>,
    pub table: Spanned<Table>,
    /// `ipproto`: the IP protocol number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipproto: Option<Spanned<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sport: Option<Spanned<(u16, u16)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dport: Option<Spanned<(u16, u16)>>,
    /// `tos`/`dsfield`: the TOS (IPv4) or traffic class (IPv6) byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos: Option<Spanned<u8>>,
    /// `sport V/MASK`, `dport V/MASK`: the mask of a single port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sport_mask: Option<Spanned<u16>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dport_mask: Option<Spanned<u16>>,
    /// `dscp V[/MASK]`: (value, mask), the mask 0x3f when none is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dscp: Option<Spanned<(u8, u8)>>,
    /// `flowlabel V[/MASK]` (IPv6): (value, mask), the mask 0xfffff when none is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flowlabel: Option<Spanned<(u32, u32)>>,
}

impl Rule {
    pub fn is_ipv6(&self) -> bool {
        matches!(self.from.as_ref().map(|f| f.node), Some(IpNet::V6(_)))
            || matches!(self.to.as_ref().map(|f| f.node), Some(IpNet::V6(_)))
    }
}

/// The route protocols iproute2 names (its `rt_protos`), for `route ... proto NAME`.
pub const ROUTE_PROTOCOLS: &[(&str, u8)] = &[
    ("redirect", 1),
    ("kernel", 2),
    ("boot", 3),
    ("static", 4),
    ("gated", 8),
    ("ra", 9),
    ("mrt", 10),
    ("zebra", 11),
    ("bird", 12),
    ("dnrouted", 13),
    ("xorp", 14),
    ("ntk", 15),
    ("dhcp", 16),
    ("keepalived", 18),
    ("babel", 42),
    ("openr", 99),
    ("bgp", 186),
    ("isis", 187),
    ("ospf", 188),
    ("rip", 189),
    ("eigrp", 192),
];

/// The name iproute2 gives a route protocol, if it has one.
pub fn route_protocol_name(number: u8) -> Option<&'static str> {
    ROUTE_PROTOCOLS.iter().find(|(_, n)| *n == number).map(|(name, _)| *name)
}
