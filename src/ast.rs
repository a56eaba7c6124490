//! The syntax tree. Every node carries its span; nothing of pest leaks out of `syntax`.
//!
//! Values are kept as written (with their interpolations): they only become numbers,
//! addresses and names when the checker evaluates them, inside loops.

use crate::source::{Span, Spanned};
use crate::model::{BpfDirection, ExpectKind, IpProto, IpvlanFlag, IpvlanMode, MacvlanMode, VlanProtocol, XdpMode};

mod firewall;
mod link_options;
pub use firewall::*;
mod tc_options;
mod u32_keys;
pub use tc_options::*;
pub use u32_keys::*;
pub use link_options::*;

pub type Block = Spanned<Vec<Stmt>>;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Script {
    pub stmts: Vec<Stmt>,
}

pub type Stmt = Spanned<StmtKind>;

#[derive(Debug, Clone, serde::Serialize)]
pub enum StmtKind {
    // top level
    Netns { name: Name, body: Option<Block> },
    Host { body: Block },
    Table { name: Ident, number: Expr },
    Let { name: Ident, value: LetValue },
    For { var: Ident, from: Expr, to: Expr, inclusive: bool, body: Block },
    Include { path: Spanned<String> },
    Expect { ns: Name, kind: ExpectKind, addr: IpValue, opts: Vec<ExpectOpt> },

    // interface declarations
    Veth { name: Name, peer: Name, body: Option<Block> },
    Bridge { name: Name, body: Option<Block> },
    Dummy { name: Name, body: Option<Block> },
    /// `vrf NAME table N`: a VRF device bound to routing table N.
    Vrf { name: Name, table: IntValue, body: Option<Block> },
    Macvlan { name: Name, parent: Name, mode: Option<Spanned<MacvlanMode>>, body: Option<Block> },
    /// `vlan NAME on PARENT id N [protocol P]`: an 802.1Q (or 802.1ad) VLAN on a parent.
    Vlan { name: Name, parent: Name, id: IntValue, protocol: Option<Spanned<VlanProtocol>>, body: Option<Block> },
    /// `ipvlan NAME on PARENT [mode l2|l3|l3s] [bridge|private|vepa]`.
    Ipvlan { name: Name, parent: Name, mode: Option<Spanned<IpvlanMode>>, flag: Option<Spanned<IpvlanFlag>>, body: Option<Block> },
    Vxlan { name: Name, opts: Vec<VxlanOpt>, body: Option<Block> },
    /// `ipip NAME …` / `gre NAME …`: an IPv4 tunnel (`local`, `remote`, `ttl`, gre's `key`).
    Tunnel { kind: crate::model::TunnelKind, name: Name, opts: Vec<TunnelOpt>, body: Option<Block> },
    Link { name: Name, body: Option<Block> },

    // interface attributes
    Addr { addrs: Vec<AddrValue> },
    Up,
    Down,
    Mtu { mtu: IntValue },
    Mac { mac: MacValue },
    Master { bridge: Name },
    Shape { ingress: bool, rate: RateValue, opts: Vec<ShapeOpt> },
    /// `qdisc ingress` / `qdisc clsact`: the hook qdisc, an ingress one with its u32
    /// filters in a block.
    Qdisc {
        clsact: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<Block>,
    },
    Htb {
        default: Option<ClassId>,
        /// r2q, direct_qlen; left out of the parse tree when none is given.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        opts: Vec<HtbOpt>,
        body: Option<Block>,
    },
    Class { id: ClassId, opts: Vec<ClassOpt>, body: Option<Block> },
    Filter {
        opts: Vec<FilterOpt>,
        /// `-> ID`; a filter that links to a hash table may have none.
        target: Option<ClassId>,
        /// `action ok|drop|pass|reclassify|continue`: a gact verdict.
        #[serde(skip_serializing_if = "Option::is_none")]
        action: Option<Spanned<crate::model::FilterVerdict>>,
    },
    /// `table ID divisor N prio P` in a `qdisc ingress` block: a u32 hash table
    /// (`tc filter add dev X ingress prio P handle ID: u32 divisor N`).
    U32Table { id: ClassId, divisor: Spanned<IntValue>, prio: Spanned<IntValue> },
    Netem { opts: Vec<NetemOpt> },
    Bpf {
        direction: Spanned<BpfDirection>,
        path: Spanned<String>,
        section: Option<Spanned<String>>,
        /// tc's `prio` and `handle`; left out of the parse tree when none is given.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        places: Vec<BpfPlace>,
    },
    Xdp { path: Spanned<String>, opts: Vec<XdpOpt> },
    /// `bpf ingress|egress < rules >`: rules compiled to eBPF by netscript.
    BpfRules { direction: Spanned<BpfDirection>, rules: Vec<FwRuleAst> },
    /// `xdp [mode generic|native] < rules >`.
    XdpRules { mode: Option<Spanned<XdpMode>>, rules: Vec<FwRuleAst> },

    // namespace-wide
    Route {
        #[serde(skip_serializing_if = "Option::is_none")]
        kind: Option<Spanned<crate::model::RouteKind>>,
        dest: RouteDest,
        opts: Vec<RouteOpt>,
    },
    Rule { opts: Vec<RuleOpt> },
    Forward { on: Option<Spanned<bool>> },
    Sysctl { key: Template, value: Spanned<String> },

    // packet policy
    Firewall(FirewallAst),
}

impl StmtKind {
    /// The leading keyword, as the user wrote it.
    pub fn keyword(&self) -> &'static str {
        match self {
            StmtKind::Netns { .. } => "netns",
            StmtKind::Host { .. } => "host",
            StmtKind::Table { .. } => "table",
            StmtKind::Let { .. } => "let",
            StmtKind::For { .. } => "for",
            StmtKind::Include { .. } => "include",
            StmtKind::Expect { .. } => "expect",
            StmtKind::Veth { .. } => "veth",
            StmtKind::Bridge { .. } => "bridge",
            StmtKind::Dummy { .. } => "dummy",
            StmtKind::Vrf { .. } => "vrf",
            StmtKind::Macvlan { .. } => "macvlan",
            StmtKind::Vlan { .. } => "vlan",
            StmtKind::Ipvlan { .. } => "ipvlan",
            StmtKind::Tunnel { kind, .. } => kind.word(),
            StmtKind::Vxlan { .. } => "vxlan",
            StmtKind::Link { .. } => "link",
            StmtKind::Addr { .. } => "addr",
            StmtKind::Up => "up",
            StmtKind::Down => "down",
            StmtKind::Mtu { .. } => "mtu",
            StmtKind::Mac { .. } => "mac",
            StmtKind::Master { .. } => "master",
            StmtKind::Shape { .. } => "shape",
            StmtKind::Htb { .. } => "htb",
            StmtKind::Class { .. } => "class",
            StmtKind::Filter { .. } => "filter",
            StmtKind::U32Table { .. } => "table",
            StmtKind::Netem { .. } => "netem",
            StmtKind::Qdisc { .. } => "qdisc",
            StmtKind::Bpf { .. } => "bpf",
            StmtKind::Xdp { .. } => "xdp",
            StmtKind::BpfRules { .. } => "bpf",
            StmtKind::XdpRules { .. } => "xdp",
            StmtKind::Route { .. } => "route",
            StmtKind::Rule { .. } => "rule",
            StmtKind::Forward { .. } => "forward",
            StmtKind::Sysctl { .. } => "sysctl",
            StmtKind::Firewall(_) => "firewall",
        }
    }
}

pub type Ident = Spanned<String>;

/// Text with `{expr}` interpolations: names, sysctl keys.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Template {
    pub span: Span,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum Part {
    Text(String),
    Interp(Expr),
}

/// A namespace or interface name, or `NS.NAME`.
pub type Name = Template;

pub type Expr = Spanned<ExprKind>;

#[derive(Debug, Clone, serde::Serialize)]
pub enum ExprKind {
    Int(i64),
    Var(String),
    Neg(Box<Expr>),
    Binary(Box<Expr>, BinOp, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

/// A value position: a literal of its kind, or `{expr}` standing for one.
#[derive(Debug, Clone, serde::Serialize)]
pub enum Value<L> {
    Lit(Spanned<L>),
    Interp(Expr),
}

impl<L> Value<L> {
    pub fn span(&self) -> Span {
        match self {
            Value::Lit(l) => l.span,
            Value::Interp(e) => e.span,
        }
    }
}

pub type IntValue = Value<i64>;
pub type RateValue = Value<crate::units::Rate>;
pub type SizeValue = Value<crate::units::Size>;
pub type DurationValue = Value<crate::units::Duration>;
pub type PercentValue = Value<crate::units::Percent>;
pub type MacValue = Value<[u8; 6]>;

/// An address or prefix: v4 with interpolated octets, v6 as text, or `{expr}`.
#[derive(Debug, Clone, serde::Serialize)]
pub enum IpValue {
    V4 { span: Span, octets: [Octet; 4], prefix: Option<Octet> },
    V6 { span: Span, text: String, prefix: Option<Octet> },
    Interp(Expr),
}

impl IpValue {
    pub fn span(&self) -> Span {
        match self {
            IpValue::V4 { span, .. } | IpValue::V6 { span, .. } => *span,
            IpValue::Interp(e) => e.span,
        }
    }
}

/// One address of `addr`: `LOCAL[/LEN]`, or `LOCAL peer PEER[/LEN]` (point-to-point).
#[derive(Debug, Clone)]
pub struct AddrValue {
    pub local: IpValue,
    pub peer: Option<IpValue>,
}

// Without a peer, as the bare address it was before peers existed (the parse trees'
// snapshots read the same).
impl serde::Serialize for AddrValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        match &self.peer {
            None => self.local.serialize(s),
            Some(peer) => {
                let mut st = s.serialize_struct("AddrValue", 2)?;
                st.serialize_field("local", &self.local)?;
                st.serialize_field("peer", peer)?;
                st.end()
            }
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum Octet {
    Lit(Spanned<u64>),
    // Boxed: an address holds five octets, and most are literals.
    Interp(Box<Expr>),
}

/// A class id as tc reads it: hex digits (`10` is 0x10), or `{expr}` whose decimal
/// digits are read the same way.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClassId {
    pub span: Span,
    pub major: Option<Spanned<String>>,
    pub minor: ClassMinor,
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum ClassMinor {
    Hex(String),
    Interp(Expr),
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum LetValue {
    Rate(Spanned<crate::units::Rate>),
    Size(Spanned<crate::units::Size>),
    Duration(Spanned<crate::units::Duration>),
    Percent(Spanned<crate::units::Percent>),
    Ip(IpValue),
    Expr(Expr),
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum ExpectOpt {
    Port(Spanned<IntValue>),
    Within(Spanned<DurationValue>),
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum RouteDest {
    Default(Span),
    Ip(IpValue),
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum RouteOpt {
    Via(Spanned<IpValue>),
    Dev(Spanned<Name>),
    Src(Spanned<IpValue>),
    Metric(Spanned<IntValue>),
    Table(Spanned<TableRef>),
    /// `onlink`: the gateway is on the link even if no prefix says so.
    Onlink(Span),
    /// `mtu N`: the path MTU of the route (RTAX_MTU).
    Mtu(Spanned<IntValue>),
    /// `advmss N`: the MSS advertised to TCP peers (RTAX_ADVMSS).
    Advmss(Spanned<IntValue>),
    /// `scope host|link|global|N`
    Scope(Spanned<RouteScopeValue>),
    /// `proto N|NAME`: the route's protocol, as `ip route ... proto` names it.
    Proto(Spanned<TableRef>),
    /// `nexthop via IP [dev NAME] [weight N]`: one path of a multipath route.
    Nexthop(Spanned<NexthopAst>),
}

/// One `nexthop` of a route, as written; its span is the whole group.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NexthopAst {
    pub via: Vec<Spanned<IpValue>>,
    pub dev: Vec<Spanned<Name>>,
    pub weight: Vec<Spanned<IntValue>>,
}

/// A route's `scope`: a name iproute2 knows, or a number.
#[derive(Debug, Clone, serde::Serialize)]
pub enum RouteScopeValue {
    Host,
    Link,
    Global,
    Number(IntValue),
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum TableRef {
    Number(IntValue),
    Name(Ident),
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum RuleOpt {
    From(Spanned<IpValue>),
    To(Spanned<IpValue>),
    Iif(Spanned<Name>),
    Oif(Spanned<Name>),
    Fwmark(Spanned<(IntValue, Option<IntValue>)>),
    Uidrange(Spanned<(IntValue, IntValue)>),
    Priority(Spanned<IntValue>),
    Table(Spanned<TableRef>),
    /// `ipproto tcp|udp|icmp|icmpv6|N`
    IpProto(Spanned<RuleProto>),
    /// `sport A[-B][/MASK]`: a port range, or one port with a mask.
    Sport(Spanned<(PortRange, Option<IntValue>)>),
    Dport(Spanned<(PortRange, Option<IntValue>)>),
    /// `tos N` (or `dsfield N`): the header's TOS/DS byte.
    Tos(Spanned<IntValue>),
    /// `dscp N[/MASK]`: the six DSCP bits.
    Dscp(Spanned<(IntValue, Option<IntValue>)>),
    /// `flowlabel N[/MASK]`: an IPv6 flow label (20 bits).
    Flowlabel(Spanned<(IntValue, Option<IntValue>)>),
}

/// A rule's `ipproto`: a name, or a protocol number.
#[derive(Debug, Clone, serde::Serialize)]
pub enum RuleProto {
    Named(crate::model::FwProto),
    Number(IntValue),
}
