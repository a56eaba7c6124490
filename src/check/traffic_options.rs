//! tc's finer options: tbf `limit`, `peakrate`, `mtu`; htb `r2q`, `direct_qlen`; htb class
//! `burst`, `cburst`, `quantum`, `mtu`. Each is checked against what tc and the kernel
//! accept, so a refusal is a located diagnostic rather than an error mid-run.

use super::codes::*;
use super::core::*;
use super::values::{self as v};
use crate::ast::{ClassOpt, HtbOpt, ShapeOpt};
use crate::diagnostic::Diagnostic;
use crate::source::{Span, Spanned};
use crate::units::{Rate, Size};
use crate::model::HookQdisc;

/// The options of `shape` besides the rate, `burst` and `latency`.
#[derive(Default)]
pub(super) struct TbfExtra {
    pub limit: Option<Spanned<Size>>,
    pub peakrate: Option<Spanned<Rate>>,
    pub mtu: Option<Spanned<Size>>,
    pub framing: crate::model::Framing,
}

/// The options of `class` besides `rate`, `ceil` and `prio`.
#[derive(Default)]
pub(super) struct ClassExtra {
    pub burst: Option<Size>,
    pub cburst: Option<Size>,
    pub quantum: Option<u32>,
    pub mtu: Option<u32>,
    pub framing: crate::model::Framing,
}

impl Evaluator<'_> {
    /// A byte count tc keeps in 32 bits, at least 1.
    fn bytes32(&mut self, value: &crate::ast::SizeValue, what: &str) -> Option<Spanned<Size>> {
        let size = self.ok(v::size(&self.env, value))?;
        if size.node.0 == 0 || size.node.0 >= 1 << 32 {
            self.report(v::out_of_range(size.span, what, size.node, "1b", "4gb (exclusive)"));
            return None;
        }
        Some(size)
    }

    pub(super) fn tbf_extra(&mut self, seen: &mut Seen, opt: &ShapeOpt, extra: &mut TbfExtra) {
        match opt {
            ShapeOpt::Limit(l) if self.once(seen, "limit", l.span) => extra.limit = self.bytes32(&l.node, "a tbf limit"),
            ShapeOpt::Peakrate(p) if self.once(seen, "peakrate", p.span) => extra.peakrate = self.ok(v::rate(&self.env, &p.node)),
            ShapeOpt::Mtu(m) if self.once(seen, "mtu", m.span) => extra.mtu = self.bytes32(&m.node, "a tbf mtu"),
            ShapeOpt::Framing(f) => self.framing_opt(seen, f, &mut extra.framing),
            _ => {}
        }
    }

    /// What tc and the kernel refuse: `limit` with `latency`, `peakrate` without `mtu`,
    /// a peak rate not above the rate.
    pub(super) fn tbf_extra_valid(&mut self, rate: &Spanned<Rate>, latency: Option<Span>, extra: &TbfExtra, stmt: Span) -> bool {
        if let (Some(limit), Some(latency)) = (&extra.limit, latency) {
            self.report(
                Diagnostic::error(CONFLICTING_ATTRIBUTE, limit.span, "`limit` and `latency` both bound the queue")
                    .label("the queue's size in bytes")
                    .also(latency, "the queue's size as a wait")
                    .help("give one of them, as tc takes one: `latency` is turned into a limit of rate × latency + burst"),
            );
            return false;
        }
        if let Some(peak) = &extra.peakrate {
            if extra.mtu.is_none() {
                self.report(
                    Diagnostic::error(MISSING_OPTION, stmt, "a tbf with a `peakrate` needs an `mtu`")
                        .label("no mtu given")
                        .also(peak.span, "peak rate given here")
                        .help("the mtu is the depth of the peak bucket, usually the interface's MTU plus headers: e.g. `mtu 1514b`"),
                );
                return false;
            }
            if peak.node.bytes_per_sec() <= rate.node.bytes_per_sec() {
                self.report(
                    Diagnostic::error(OUT_OF_RANGE, peak.span, format!("the peak rate ({}) must be above the rate ({})", peak.node, rate.node))
                        .label("not above the rate")
                        .also(rate.span, "rate given here")
                        .help("the kernel refuses a peak rate at or below the rate (sch_tbf: \"peakrate is lower than or equals to rate\")"),
                );
                return false;
            }
        }
        true
    }

    pub(super) fn class_extra(&mut self, seen: &mut Seen, opt: &ClassOpt, extra: &mut ClassExtra) {
        let bytes = |this: &mut Self, value, what| this.bytes32(value, what).map(|s| s.node);
        match opt {
            ClassOpt::Burst(b) if self.once(seen, "burst", b.span) => extra.burst = bytes(self, &b.node, "a class burst"),
            ClassOpt::Cburst(c) if self.once(seen, "cburst", c.span) => extra.cburst = bytes(self, &c.node, "a class cburst"),
            ClassOpt::Quantum(q) if self.once(seen, "quantum", q.span) => extra.quantum = bytes(self, &q.node, "a class quantum").map(|s| s.0 as u32),
            ClassOpt::Mtu(m) if self.once(seen, "mtu", m.span) => extra.mtu = bytes(self, &m.node, "a class mtu").map(|s| s.0 as u32),
            ClassOpt::Framing(f) => self.framing_opt(seen, f, &mut extra.framing),
            _ => {}
        }
    }

    /// `r2q` (at least 1: the kernel divides by it) and `direct_qlen` (packets); one that
    /// is invalid is reported and left out, so that the htb's block is still checked.
    pub(super) fn htb_options(&mut self, opts: &[HtbOpt]) -> (Option<u32>, Option<u32>) {
        let mut seen = Seen::default();
        let (mut r2q, mut direct_qlen) = (None, None);
        for opt in opts {
            match opt {
                HtbOpt::R2q(r) if self.once(&mut seen, "r2q", r.span) => {
                    r2q = self.ok(v::int_in(&self.env, &r.node, "an htb r2q", 1, u32::MAX as i64)).map(|r| r.node as u32);
                }
                HtbOpt::DirectQlen(q) if self.once(&mut seen, "direct_qlen", q.span) => {
                    direct_qlen = self.ok(v::int_in(&self.env, &q.node, "an htb direct_qlen", 0, u32::MAX as i64)).map(|q| q.node as u32);
                }
                _ => {}
            }
        }
        (r2q, direct_qlen)
    }
}

impl Evaluator<'_> {
    /// `qdisc ingress` / `qdisc clsact`: one per interface.
    pub(super) fn hook_qdisc(&mut self, ns: &str, iface: &str, stmt: &crate::ast::Stmt, clsact: bool, body: Option<&crate::ast::Block>) {
        let hook = if clsact { HookQdisc::Clsact } else { HookQdisc::Ingress };
        let target = &mut self.iface_mut(ns, iface).hook_qdisc;
        if let Some(first) = target.as_ref().map(|t| t.span) {
            self.report(
                Diagnostic::error(CONFLICTING_QDISC, stmt.span, format!("`{iface}` already has a `qdisc` statement"))
                    .label("a second one")
                    .also(first, "the first one")
                    .help("the ingress hook (ffff:) holds one qdisc: ingress or clsact"),
            );
            return;
        }
        *target = Some(Spanned::new(hook, stmt.span));
        let Some(block) = body else { return };
        if clsact {
            self.report(
                Diagnostic::error(MISPLACED, block.span, "a `qdisc clsact` block has no statements netscript writes there")
                    .label("filters here are not supported")
                    .help("u32 filters go in a `qdisc ingress < filter … >` block; programs on clsact are `bpf ingress|egress`"),
            );
            return;
        }
        let mut inner = super::core::Body::Ingress { ns: ns.to_string(), iface: iface.to_string() };
        self.stmts(&block.node, &mut inner);
    }
}

/// A hook qdisc that another statement's qdisc excludes: `qdisc ingress` with `bpf`
/// (which needs clsact), `qdisc clsact` with `shape ingress` (which needs ingress).
pub(super) fn hook_conflicts(ns: &crate::model::Namespace, found: &mut Vec<Diagnostic>) {
    for iface in ns.interfaces.values() {
        let Some(hook) = &iface.hook_qdisc else { continue };
        let first_in_block = iface.ingress_filters.first().map(|f| f.span).into_iter().chain(iface.ingress_tables.first().map(|t| t.span)).min_by_key(|s| s.start);
        if let (Some(first), Some(shape)) = (first_in_block, &iface.ingress_shape) {
            // The redirect of `shape ingress` sits at prio 1 and takes every packet.
            found.push(
                Diagnostic::error(CONFLICTING_QDISC, first, format!("`{}` is shaped on ingress: its ingress qdisc holds netscript's redirect", iface.name))
                    .label("a filter on the ingress qdisc")
                    .also(shape.span, "redirects every packet to the ifb device")
                    .help("filter on the ingress qdisc or shape ingress through an ifb, not both"),
            );
        }
        let other = match hook.node {
            HookQdisc::Ingress => iface.bpf.first().map(|b| (b.span, "`bpf` needs a clsact qdisc there")),
            HookQdisc::Clsact => iface.ingress_shape.as_ref().map(|s| (s.span, "`shape ingress` needs an ingress qdisc there")),
        };
        if let Some((span, why)) = other {
            found.push(
                Diagnostic::error(CONFLICTING_QDISC, hook.span, format!("`{}` cannot have this qdisc on its ingress hook", iface.name))
                    .label("one qdisc for the ingress hook")
                    .also(span, why)
                    .help("the ingress hook (ffff:) holds one qdisc: write `qdisc clsact` with `bpf`, `qdisc ingress` with `shape ingress`, or leave the `qdisc` statement out"),
            );
        }
    }
}
