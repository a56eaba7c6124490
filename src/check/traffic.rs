//! Traffic control: `shape`, `htb` with its classes and filters, `netem`.

use super::codes::*;
use super::core::*;
use super::values::{self as v};
use super::traffic_options::{ClassExtra, TbfExtra};
use crate::ast::{self, ClassOpt, FilterOpt, NetemOpt, ShapeOpt, Stmt, StmtKind};
use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::source::{Span, Spanned};

impl Evaluator<'_> {
    pub(super) fn set_root_qdisc(&mut self, ns: &str, iface: &str, qdisc: Spanned<Qdisc>) -> bool {
        let span = qdisc.span;
        let target = &mut self.iface_mut(ns, iface).root_qdisc;
        if let Some(previous) = target {
            let (first, kind) = (previous.span, previous.node.kind());
            self.report(
                Diagnostic::error(CONFLICTING_QDISC, span, format!("`{iface}` already has a root qdisc ({kind})"))
                    .label("a second root qdisc")
                    .also(first, "the first one")
                    .help("an interface has one root qdisc: keep one of `shape`, `htb` and `netem`"),
            );
            return false;
        }
        *target = Some(Box::new(qdisc));
        true
    }

    pub(super) fn shape(&mut self, ns: &str, iface: &str, stmt: &Stmt, ingress: bool, rate: &ast::RateValue, opts: &[ShapeOpt]) {
        let Some(rate) = self.ok(v::rate(&self.env, rate)) else { return };
        if rate.node.0 < 8 {
            self.report(
                Diagnostic::error(OUT_OF_RANGE, rate.span, format!("a shaping rate must be at least 8bit, not {}", rate.node)).label("too slow to shape"),
            );
            return;
        }
        let mut seen = Seen::default();
        let mut burst = None;
        let mut latency = None;
        let mut extra = TbfExtra::default();
        for opt in opts {
            match opt {
                ShapeOpt::Burst(b) if self.once(&mut seen, "burst", b.span) => burst = self.ok(v::size(&self.env, &b.node)),
                ShapeOpt::Latency(l) if self.once(&mut seen, "latency", l.span) => latency = self.ok(v::duration(&self.env, &l.node)),
                other => self.tbf_extra(&mut seen, other, &mut extra),
            }
        }
        if let Some(b) = &burst
            && (b.node.0 == 0 || b.node.0 >= 1 << 32)
        {
            self.report(v::out_of_range(b.span, "a burst", b.node, "1b", "4gb (exclusive)"));
            return;
        }
        if !self.tbf_extra_valid(&rate, latency.as_ref().map(|l| l.span), &extra, stmt.span) {
            return;
        }
        let tbf = Tbf {
            rate: rate.node,
            burst: burst.map(|b| b.node).unwrap_or_else(|| shape_default_burst(rate.node)),
            latency: match extra.limit {
                Some(_) => crate::units::Duration(0),
                None => latency.map(|l| l.node).unwrap_or(SHAPE_DEFAULT_LATENCY),
            },
            limit: extra.limit.map(|l| l.node),
            peakrate: extra.peakrate.map(|p| p.node),
            mtu: extra.mtu.map(|m| m.node),
            framing: extra.framing,
        };
        if ingress {
            let target = &mut self.iface_mut(ns, iface).ingress_shape;
            if let Some(first) = target.as_ref().map(|t| t.span) {
                self.report(
                    Diagnostic::error(CONFLICTING_QDISC, stmt.span, format!("`{iface}` is already shaped on ingress"))
                        .label("a second ingress shaper")
                        .also(first, "the first one"),
                );
                return;
            }
            *target = Some(Box::new(Spanned::new(tbf, stmt.span)));
        } else {
            self.set_root_qdisc(ns, iface, Spanned::new(Qdisc::Tbf(tbf), stmt.span));
        }
    }

    pub(super) fn netem(&mut self, ns: &str, iface: &str, stmt: &Stmt, opts: &[NetemOpt]) {
        let mut seen = Seen::default();
        let mut netem = Netem::delay(crate::units::Duration(0));
        for opt in opts {
            match opt {
                NetemOpt::Delay(d) if self.once(&mut seen, "delay", d.span) => {
                    if let Some(d) = self.ok(v::duration(&self.env, &d.node)) {
                        netem.delay = d.node;
                    }
                }
                NetemOpt::Jitter(j) if self.once(&mut seen, "jitter", j.span) => netem.jitter = self.ok(v::duration(&self.env, &j.node)).map(|j| j.node),
                NetemOpt::Loss(l) if self.once(&mut seen, "loss", l.span) => {
                    if let Some(p) = self.ok(v::percent(&self.env, &l.node)) {
                        if !(0.0..=100.0).contains(&p.node.0) {
                            self.report(v::out_of_range(p.span, "a loss percentage", p.node, "0%", "100%"));
                        } else {
                            netem.loss = Some(p.node);
                        }
                    }
                }
                NetemOpt::Rate(r) if self.once(&mut seen, "rate", r.span) => netem.rate = self.ok(v::rate(&self.env, &r.node)).map(|r| r.node),
                other => self.netem_more(&mut seen, &mut netem, other),
            }
        }
        if !self.netem_consistent(stmt, opts, &netem) {
            return;
        }
        self.set_root_qdisc(ns, iface, Spanned::new(Qdisc::Netem(netem), stmt.span));
    }

    pub(super) fn htb_mut(&mut self, ns: &str, iface: &str) -> &mut Htb {
        match self.iface_mut(ns, iface).root_qdisc.as_mut().map(|q| &mut q.node) {
            Some(Qdisc::Htb(h)) => h,
            _ => unreachable!("an htb block is only entered after its qdisc is set"),
        }
    }

    pub(super) fn class(&mut self, ns: &str, iface: &str, parent: Option<u32>, span: Span, id: &ast::ClassId, opts: &[ClassOpt]) -> Option<u32> {
        let minor = self.ok(v::class_minor(&self.env, id))?;
        let mut seen = Seen::default();
        let (mut rate, mut ceil, mut prio) = (None, None, None);
        let mut extra = ClassExtra::default();
        for opt in opts {
            match opt {
                ClassOpt::Rate(r) if self.once(&mut seen, "rate", r.span) => rate = self.ok(v::rate(&self.env, &r.node)),
                ClassOpt::Ceil(c) if self.once(&mut seen, "ceil", c.span) => ceil = self.ok(v::rate(&self.env, &c.node)),
                ClassOpt::Prio(p) if self.once(&mut seen, "prio", p.span) => {
                    prio = self.ok(v::int_in(&self.env, &p.node, "an htb class priority", 0, 7)).map(|s| s.map(|p| p as u32));
                }
                other => self.class_extra(&mut seen, other, &mut extra),
            }
        }
        let Some(rate) = rate else {
            if !seen.0.contains_key("rate") {
                self.report(
                    Diagnostic::error(MISSING_OPTION, id.span, format!("class {} needs a `rate`", id_text(minor.node)))
                        .label("no rate given")
                        .help("e.g. `class 10 rate 8mbit ceil 10mbit`"),
                );
            }
            return None;
        };
        if let Some(c) = &ceil
            && c.node < rate.node
        {
            // tc and the kernel accept it (the class then never borrows, and its ceil
            // caps it below its rate): a warning, not an error, for parity with tc.
            self.report(
                Diagnostic::warning(CEIL_BELOW_RATE, c.span, format!("the ceil ({}) is below the rate ({})", c.node, rate.node))
                    .label("the class can never send faster than this")
                    .also(rate.span, "rate given here")
                    .help("a ceil is usually at least the rate; tc accepts this, and so does netscript"),
            );
        }
        let htb = self.htb_mut(ns, iface);
        if let Some(first) = htb.classes.iter().find(|c| c.id.node == minor.node).map(|c| c.id.span) {
            self.report(
                Diagnostic::error(DUPLICATE_CLASS, minor.span, format!("class {} is declared twice", id_text(minor.node)))
                    .label("declared again here")
                    .also(first, "first declared here"),
            );
            return None;
        }
        let ClassExtra { burst, cburst, quantum, mtu, framing } = extra;
        crate::model::push_lean(&mut htb.classes, HtbClass { span, id: minor.clone(), parent, rate, ceil, prio, burst, cburst, quantum, mtu, framing });
        Some(minor.node)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn filter(&mut self, ns: &str, iface: &str, span: Span, opts: &[FilterOpt], target: Option<&ast::ClassId>, action: Option<Spanned<FilterVerdict>>, place: FilterPlace) {
        let flowid = match target {
            Some(target) => match self.ok(v::class_minor(&self.env, target)) {
                Some(flowid) => Some(flowid),
                None => return,
            },
            None => None,
        };
        let linked = opts.iter().any(|o| matches!(o, FilterOpt::Link { .. }));
        if flowid.is_none() && !linked {
            self.report(
                Diagnostic::error(MISSING_OPTION, span, "this filter has no `-> ID`")
                    .label("where do matching packets go?")
                    .help("end it with `-> ID` (tc's `flowid 1:ID`); only a filter with `link` may leave it out"),
            );
            return;
        }
        let mut seen = Seen::default();
        let mut f = U32Filter { span, proto: None, src: None, dst: None, sport: None, dport: None, flowid, link: None, prio: None, handle: None, action, raw: Vec::new(), ht: None };
        let (mut ht, mut sample, mut node_800) = (None, None, None);
        for opt in opts {
            match opt {
                FilterOpt::Proto(p) if self.once(&mut seen, "proto", p.span) => f.proto = Some(p.node),
                FilterOpt::Src(s) if self.once(&mut seen, "src", s.span) => f.src = self.ok(v::network(&self.env, &s.node)),
                FilterOpt::Dst(d) if self.once(&mut seen, "dst", d.span) => f.dst = self.ok(v::network(&self.env, &d.node)),
                FilterOpt::Sport(p) if self.once(&mut seen, "sport", p.span) => {
                    f.sport = self.ok(v::int_in(&self.env, &p.node, "a port", 1, 65535)).map(|s| s.map(|p| p as u16));
                }
                FilterOpt::Dport(p) if self.once(&mut seen, "dport", p.span) => {
                    f.dport = self.ok(v::int_in(&self.env, &p.node, "a port", 1, 65535)).map(|s| s.map(|p| p as u16));
                }
                FilterOpt::Prio(p) if self.once(&mut seen, "prio", p.span) => f.prio = self.filter_prio(p),
                FilterOpt::Handle(h) if self.once(&mut seen, "handle", h.span) => {
                    f.handle = self.u32_handle(h);
                    // `handle 800` is kept as none (the kernel's first) but in a table,
                    // where it must stay 800 (see `u32_ht_nodes`).
                    node_800 = matches!(&h.minor, ast::ClassMinor::Hex(x) if h.major.is_none() && u32::from_str_radix(x, 16) == Ok(U32_DEFAULT_NODE)).then_some(h.span);
                }
                FilterOpt::Link { table, hashkey } if self.once(&mut seen, "link", table.span) => {
                    if place == FilterPlace::Htb {
                        self.report(
                            Diagnostic::error(MISPLACED, table.span, "an htb filter cannot link to a hash table")
                                .label("`link` here")
                                .help("hash tables (`table ID divisor N prio P`) and `link` are for filters in a `qdisc ingress` block"),
                        );
                        return;
                    }
                    let Some(link) = self.u32_link(table, hashkey.as_ref()) else { return };
                    f.link = Some(link);
                }
                FilterOpt::Ht(id) if self.once(&mut seen, "ht", id.span) => {
                    if place == FilterPlace::Htb {
                        self.report(
                            Diagnostic::error(MISPLACED, id.span, "an htb filter cannot sit in a hash table")
                                .label("`ht` here")
                                .help("hash tables (`table ID divisor N prio P`) are for filters in a `qdisc ingress` block"),
                        );
                        return;
                    }
                    ht = Some((self.u32_ht(id), id.span));
                }
                FilterOpt::Sample(k) if self.once(&mut seen, "sample", k.span) => sample = Some((self.u32_raw_key(k), k.span)),
                FilterOpt::Match(k) => match self.u32_raw_key(k) {
                    Some(key) => f.raw.push(key),
                    None => return,
                },
                _ => {}
            }
        }
        if !self.u32_place(&mut f, ht, sample) {
            return;
        }
        if let (Some(_), None, Some(span)) = (&f.ht, &f.handle, node_800) {
            f.handle = Some(Spanned::new(U32_DEFAULT_NODE, span));
        }
        for (prefix, what) in [(&f.src, "src"), (&f.dst, "dst")] {
            if let Some(p) = prefix
                && matches!(p.node, ipnet::IpNet::V6(_))
            {
                self.report(
                    Diagnostic::error(MIXED_FAMILIES, p.span, format!("{} filters match IPv4; `{what}` is an IPv6 prefix", place.word()))
                        .label("IPv6 is not matched by these filters"),
                );
                return;
            }
        }
        if (f.sport.is_some() || f.dport.is_some()) && f.proto == Some(IpProto::Icmp) {
            self.report(
                Diagnostic::error(CONFLICTING_ATTRIBUTE, span, "ICMP has no ports")
                    .label("`sport`/`dport` with `proto icmp`")
                    .help("match ports with `proto tcp` or `proto udp`"),
            );
            return;
        }
        match place {
            FilterPlace::Htb => crate::model::push_lean(&mut self.htb_mut(ns, iface).filters, f),
            FilterPlace::Ingress => crate::model::push_lean(&mut self.iface_mut(ns, iface).ingress_filters, f),
        }
    }

    pub(super) fn traffic_attribute(&mut self, ns: &str, iface: &str, stmt: &Stmt) {
        match &stmt.node {
            StmtKind::Shape { ingress, rate, opts } => self.shape(ns, iface, stmt, *ingress, rate, opts),
            StmtKind::Htb { default, opts, body: block } => {
                let default = match default {
                    Some(d) => match self.ok(v::class_minor(&self.env, d)) {
                        Some(m) => Some(m),
                        None => return,
                    },
                    None => None,
                };
                let (r2q, direct_qlen) = self.htb_options(opts);
                let htb = Qdisc::Htb(Htb { default_class: default, r2q, direct_qlen, classes: Vec::new(), filters: Vec::new() });
                if !self.set_root_qdisc(ns, iface, Spanned::new(htb, keyword_span(stmt))) {
                    return;
                }
                if let Some(block) = block {
                    let mut inner = Body::Htb { ns: ns.to_string(), iface: iface.to_string(), parent: None };
                    self.stmts(&block.node, &mut inner);
                }
            }
            StmtKind::Netem { opts } => self.netem(ns, iface, stmt, opts),
            StmtKind::Qdisc { clsact, body } => self.hook_qdisc(ns, iface, stmt, *clsact, body.as_ref()),
            _ => unreachable!("not a traffic_attribute statement")
        }
    }
}

/// Where a `filter` statement stands: in an htb block (tc's `parent 1:`) or in a
/// `qdisc ingress` block (`parent ffff:`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum FilterPlace {
    Htb,
    Ingress,
}

impl FilterPlace {
    fn word(self) -> &'static str {
        match self {
            FilterPlace::Htb => "htb",
            FilterPlace::Ingress => "ingress",
        }
    }
}

pub(super) fn id_text(minor: u32) -> String {
    format!("1:{minor:x}")
}
