//! Moving a parsed statement by a number of bytes: what the incremental parse
//! (syntax/incremental.rs) does to the statements after an edit, instead of parsing
//! them again.
//!
//! Every node with a span is visited; the matches are exhaustive so that a new statement
//! or option does not compile until it is handled here. Firewall rules (`firewall`, and
//! the rules of `bpf`/`xdp` blocks) and rule port ranges are not moved: `shift` answers
//! false for them, and the caller parses their text again.

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::source::{Span, Spanned};

pub(super) trait Shift {
    /// Moves every span by `delta` bytes. False when the node cannot be moved (the
    /// caller then parses it again; it may be half moved).
    fn shift(&mut self, delta: i64) -> bool;
}

impl Shift for Span {
    fn shift(&mut self, delta: i64) -> bool {
        self.start = (self.start as i64 + delta) as u32;
        self.end = (self.end as i64 + delta) as u32;
        true
    }
}

impl<T: Shift> Shift for Spanned<T> {
    fn shift(&mut self, delta: i64) -> bool {
        self.span.shift(delta) && self.node.shift(delta)
    }
}

impl<T: Shift> Shift for Option<T> {
    fn shift(&mut self, delta: i64) -> bool {
        self.as_mut().is_none_or(|t| t.shift(delta))
    }
}

impl<T: Shift> Shift for Vec<T> {
    fn shift(&mut self, delta: i64) -> bool {
        self.iter_mut().all(|t| t.shift(delta))
    }
}

impl<T: Shift> Shift for Box<T> {
    fn shift(&mut self, delta: i64) -> bool {
        (**self).shift(delta)
    }
}

impl<A: Shift, B: Shift> Shift for (A, B) {
    fn shift(&mut self, delta: i64) -> bool {
        self.0.shift(delta) && self.1.shift(delta)
    }
}

/// Nodes without a span.
macro_rules! leaf {
    ($($t:ty),* $(,)?) => {
        $(impl Shift for $t {
            fn shift(&mut self, _: i64) -> bool {
                true
            }
        })*
    };
}

leaf!(
    String,
    i64,
    u64,
    bool,
    [u8; 6],
    BinOp,
    crate::units::Rate,
    crate::units::Size,
    crate::units::Duration,
    crate::units::Percent,
    crate::model::BpfDirection,
    crate::model::ExpectKind,
    crate::model::IpProto,
    crate::model::FilterVerdict,
    crate::model::KeyWidth,
    crate::model::MacvlanMode,
    crate::model::VlanProtocol,
    crate::model::IpvlanMode,
    crate::model::IpvlanFlag,
    crate::model::TunnelKind,
    crate::model::XdpMode,
    crate::model::RouteKind,
    crate::model::LinkLayer,
);

impl Shift for Diagnostic {
    fn shift(&mut self, delta: i64) -> bool {
        self.span.shift(delta) && self.secondary.iter_mut().all(|(span, _)| span.shift(delta))
    }
}

impl Shift for StmtKind {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            StmtKind::Netns { name, body } => name.shift(d) && body.shift(d),
            StmtKind::Host { body } => body.shift(d),
            StmtKind::Table { name, number } => name.shift(d) && number.shift(d),
            StmtKind::Let { name, value } => name.shift(d) && value.shift(d),
            StmtKind::For { var, from, to, inclusive: _, body } => var.shift(d) && from.shift(d) && to.shift(d) && body.shift(d),
            StmtKind::Include { path } => path.shift(d),
            StmtKind::Expect { ns, kind: _, addr, opts } => ns.shift(d) && addr.shift(d) && opts.shift(d),
            StmtKind::Veth { name, peer, body } => name.shift(d) && peer.shift(d) && body.shift(d),
            StmtKind::Bridge { name, body } | StmtKind::Dummy { name, body } | StmtKind::Link { name, body } => name.shift(d) && body.shift(d),
            StmtKind::Vrf { name, table, body } => name.shift(d) && table.shift(d) && body.shift(d),
            StmtKind::Macvlan { name, parent, mode, body } => name.shift(d) && parent.shift(d) && mode.shift(d) && body.shift(d),
            StmtKind::Vlan { name, parent, id, protocol, body } => name.shift(d) && parent.shift(d) && id.shift(d) && protocol.shift(d) && body.shift(d),
            StmtKind::Tunnel { kind: _, name, opts, body } => name.shift(d) && opts.shift(d) && body.shift(d),
            StmtKind::Ipvlan { name, parent, mode, flag, body } => name.shift(d) && parent.shift(d) && mode.shift(d) && flag.shift(d) && body.shift(d),
            StmtKind::Vxlan { name, opts, body } => name.shift(d) && opts.shift(d) && body.shift(d),
            StmtKind::Addr { addrs } => addrs.shift(d),
            StmtKind::Up | StmtKind::Down => true,
            StmtKind::Qdisc { clsact: _, body } => body.shift(d),
            StmtKind::U32Table { id, divisor, prio } => id.shift(d) && divisor.shift(d) && prio.shift(d),
            StmtKind::Mtu { mtu } => mtu.shift(d),
            StmtKind::Mac { mac } => mac.shift(d),
            StmtKind::Master { bridge } => bridge.shift(d),
            StmtKind::Shape { ingress: _, rate, opts } => rate.shift(d) && opts.shift(d),
            StmtKind::Htb { default, opts, body } => default.shift(d) && opts.shift(d) && body.shift(d),
            StmtKind::Class { id, opts, body } => id.shift(d) && opts.shift(d) && body.shift(d),
            StmtKind::Filter { opts, target, action } => opts.shift(d) && target.shift(d) && action.shift(d),
            StmtKind::Netem { opts } => opts.shift(d),
            StmtKind::Bpf { direction, path, section, places } => direction.shift(d) && path.shift(d) && section.shift(d) && places.shift(d),
            StmtKind::Xdp { path, opts } => path.shift(d) && opts.shift(d),
            StmtKind::Route { kind, dest, opts } => kind.shift(d) && dest.shift(d) && opts.shift(d),
            StmtKind::Rule { opts } => opts.shift(d),
            StmtKind::Forward { on } => on.shift(d),
            StmtKind::Sysctl { key, value } => key.shift(d) && value.shift(d),
            StmtKind::BpfRules { .. } | StmtKind::XdpRules { .. } | StmtKind::Firewall(_) => false,
        }
    }
}

impl Shift for Template {
    fn shift(&mut self, d: i64) -> bool {
        let Template { span, parts } = self;
        span.shift(d) && parts.shift(d)
    }
}

impl Shift for Part {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            Part::Text(_) => true,
            Part::Interp(e) => e.shift(d),
        }
    }
}

impl Shift for ExprKind {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            ExprKind::Int(_) | ExprKind::Var(_) => true,
            ExprKind::Neg(e) => e.shift(d),
            ExprKind::Binary(a, _, b) => a.shift(d) && b.shift(d),
        }
    }
}

impl<L: Shift> Shift for Value<L> {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            Value::Lit(l) => l.shift(d),
            Value::Interp(e) => e.shift(d),
        }
    }
}

impl Shift for IpValue {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            IpValue::V4 { span, octets, prefix } => span.shift(d) && octets.iter_mut().all(|o| o.shift(d)) && prefix.shift(d),
            IpValue::V6 { span, text: _, prefix } => span.shift(d) && prefix.shift(d),
            IpValue::Interp(e) => e.shift(d),
        }
    }
}

impl Shift for AddrValue {
    fn shift(&mut self, d: i64) -> bool {
        self.local.shift(d) && self.peer.shift(d)
    }
}

impl Shift for Octet {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            Octet::Lit(l) => l.shift(d),
            Octet::Interp(e) => e.shift(d),
        }
    }
}

impl Shift for ClassId {
    fn shift(&mut self, d: i64) -> bool {
        let ClassId { span, major, minor } = self;
        span.shift(d)
            && major.shift(d)
            && match minor {
                ClassMinor::Hex(_) => true,
                ClassMinor::Interp(e) => e.shift(d),
            }
    }
}

impl Shift for LetValue {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            LetValue::Rate(v) => v.shift(d),
            LetValue::Size(v) => v.shift(d),
            LetValue::Duration(v) => v.shift(d),
            LetValue::Percent(v) => v.shift(d),
            LetValue::Ip(v) => v.shift(d),
            LetValue::Expr(v) => v.shift(d),
        }
    }
}

impl Shift for ExpectOpt {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            ExpectOpt::Port(v) => v.shift(d),
            ExpectOpt::Within(v) => v.shift(d),
        }
    }
}

impl Shift for TunnelOpt {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            TunnelOpt::Local(v) | TunnelOpt::Remote(v) => v.shift(d),
            TunnelOpt::Ttl(v) | TunnelOpt::Key(v) => v.shift(d),
        }
    }
}

impl Shift for VxlanOpt {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            VxlanOpt::Id(v) | VxlanOpt::Port(v) => v.shift(d),
            VxlanOpt::Remote(v) | VxlanOpt::Group(v) | VxlanOpt::Local(v) => v.shift(d),
            VxlanOpt::Dev(v) => v.shift(d),
        }
    }
}

impl Shift for ShapeOpt {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            ShapeOpt::Burst(v) | ShapeOpt::Limit(v) | ShapeOpt::Mtu(v) => v.shift(d),
            ShapeOpt::Latency(v) => v.shift(d),
            ShapeOpt::Peakrate(v) => v.shift(d),
            ShapeOpt::Framing(f) => f.shift(d),
        }
    }
}

impl Shift for HtbOpt {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            HtbOpt::R2q(v) | HtbOpt::DirectQlen(v) => v.shift(d),
        }
    }
}

impl Shift for ClassOpt {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            ClassOpt::Rate(v) | ClassOpt::Ceil(v) => v.shift(d),
            ClassOpt::Prio(v) => v.shift(d),
            ClassOpt::Burst(v) | ClassOpt::Cburst(v) | ClassOpt::Quantum(v) | ClassOpt::Mtu(v) => v.shift(d),
            ClassOpt::Framing(f) => f.shift(d),
        }
    }
}

impl Shift for FramingOpt {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            FramingOpt::Overhead(v) => v.shift(d),
            FramingOpt::Mpu(v) => v.shift(d),
            FramingOpt::Linklayer(v) => v.shift(d),
        }
    }
}

impl Shift for FilterOpt {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            FilterOpt::Proto(v) => v.shift(d),
            FilterOpt::Src(v) | FilterOpt::Dst(v) => v.shift(d),
            FilterOpt::Sport(v) | FilterOpt::Dport(v) | FilterOpt::Prio(v) => v.shift(d),
            FilterOpt::Handle(id) => id.shift(d),
            FilterOpt::Link { table, hashkey } => table.shift(d) && hashkey.as_mut().is_none_or(|(m, a)| m.shift(d) && a.shift(d)),
            FilterOpt::Ht(id) => id.shift(d),
            FilterOpt::Sample(k) | FilterOpt::Match(k) => k.span.shift(d) && k.width.shift(d) && k.value.shift(d) && k.mask.shift(d) && k.at.shift(d),
        }
    }
}

impl Shift for NetemOpt {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            NetemOpt::Delay(v) | NetemOpt::Jitter(v) => v.shift(d),
            NetemOpt::Loss(v) => v.shift(d),
            NetemOpt::Rate(v) => v.shift(d),
            NetemOpt::Limit(v) | NetemOpt::Gap(v) => v.shift(d),
            NetemOpt::Duplicate(v) | NetemOpt::Corrupt(v) | NetemOpt::Reorder(v) => v.shift(d),
            NetemOpt::Slot(v) => v.shift(d),
            NetemOpt::LossModel(v) => v.shift(d),
            NetemOpt::Distribution(v) => v.shift(d),
        }
    }
}

impl Shift for LossModelAst {
    fn shift(&mut self, d: i64) -> bool {
        self.values.shift(d)
    }
}

impl Shift for SlotAst {
    fn shift(&mut self, d: i64) -> bool {
        let times = match &mut self.times {
            SlotTimes::Range { min, max } => min.shift(d) && max.shift(d),
            SlotTimes::Distribution { table, delay, jitter } => table.shift(d) && delay.shift(d) && jitter.shift(d),
        };
        times && self.packets.shift(d) && self.bytes.shift(d)
    }
}

impl Shift for BpfPlace {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            BpfPlace::Prio(v) | BpfPlace::Handle(v) => v.shift(d),
        }
    }
}

impl Shift for XdpOpt {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            XdpOpt::Section(v) => v.shift(d),
            XdpOpt::Mode(v) => v.shift(d),
        }
    }
}

impl Shift for RouteDest {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            RouteDest::Default(span) => span.shift(d),
            RouteDest::Ip(v) => v.shift(d),
        }
    }
}

impl Shift for RouteOpt {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            RouteOpt::Via(v) | RouteOpt::Src(v) => v.shift(d),
            RouteOpt::Dev(v) => v.shift(d),
            RouteOpt::Metric(v) => v.shift(d),
            RouteOpt::Table(v) => v.shift(d),
            RouteOpt::Onlink(span) => span.shift(d),
            RouteOpt::Mtu(v) | RouteOpt::Advmss(v) => v.shift(d),
            RouteOpt::Scope(v) => v.shift(d),
            RouteOpt::Proto(v) => v.shift(d),
            RouteOpt::Nexthop(v) => v.shift(d),
        }
    }
}

impl Shift for RouteScopeValue {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            RouteScopeValue::Host | RouteScopeValue::Link | RouteScopeValue::Global => true,
            RouteScopeValue::Number(v) => v.shift(d),
        }
    }
}

impl Shift for NexthopAst {
    fn shift(&mut self, d: i64) -> bool {
        let NexthopAst { via, dev, weight } = self;
        via.shift(d) && dev.shift(d) && weight.shift(d)
    }
}

impl Shift for TableRef {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            TableRef::Number(v) => v.shift(d),
            TableRef::Name(v) => v.shift(d),
        }
    }
}

impl Shift for RuleOpt {
    fn shift(&mut self, d: i64) -> bool {
        match self {
            RuleOpt::From(v) | RuleOpt::To(v) => v.shift(d),
            RuleOpt::Iif(v) | RuleOpt::Oif(v) => v.shift(d),
            RuleOpt::Fwmark(v) | RuleOpt::Dscp(v) | RuleOpt::Flowlabel(v) => v.shift(d),
            RuleOpt::Uidrange(v) => v.shift(d),
            RuleOpt::Priority(v) | RuleOpt::Tos(v) => v.shift(d),
            RuleOpt::Table(v) => v.shift(d),
            RuleOpt::IpProto(v) => {
                v.span.shift(d)
                    && match &mut v.node {
                        RuleProto::Named(_) => true,
                        RuleProto::Number(n) => n.shift(d),
                    }
            }
            // Port ranges are the firewall's type (ast/firewall.rs): parsed again.
            RuleOpt::Sport(_) | RuleOpt::Dport(_) => false,
        }
    }
}
