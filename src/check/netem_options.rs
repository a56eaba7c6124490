//! netem's finer options (issue 24): `limit N` (packets), `duplicate P`, `corrupt P`,
//! `reorder P` and `gap N`, `slot` (and `slot distribution`), loss models,
//! `distribution NAME`, checked against what tc (q_netem.c) accepts.

use super::codes::*;
use super::core::*;
use super::values::{self as v};
use crate::ast::{DurationValue, NetemOpt, PercentValue, SlotTimes, Stmt};
use crate::diagnostic::Diagnostic;
use crate::model::{LossModel, Netem, NetemDistribution, NetemSlot, SlotSpacing, NETEM_DEFAULT_LIMIT};
use crate::source::Spanned;
use crate::units::{Duration, Percent};

impl Evaluator<'_> {
    /// A percentage of 0–100%, as tc's `get_percent` takes it.
    fn netem_percent(&mut self, p: &Spanned<PercentValue>, what: &str) -> Option<Percent> {
        let p = self.ok(v::percent(&self.env, &p.node))?;
        if !(0.0..=100.0).contains(&p.node.0) {
            self.report(v::out_of_range(p.span, what, p.node, "0%", "100%"));
            return None;
        }
        Some(p.node)
    }

    /// The options `netem` reads besides delay, jitter, loss and rate.
    pub(super) fn netem_more(&mut self, seen: &mut Seen, netem: &mut Netem, opt: &NetemOpt) {
        match opt {
            NetemOpt::Limit(l) if self.once(seen, "limit", l.span) => {
                netem.limit = self.ok(v::int_in(&self.env, &l.node, "a netem limit (packets)", 1, u32::MAX as i64)).map(|n| n.node as u32).filter(|n| *n != NETEM_DEFAULT_LIMIT);
            }
            NetemOpt::Duplicate(p) if self.once(seen, "duplicate", p.span) => netem.duplicate = self.netem_percent(p, "a duplicate percentage"),
            NetemOpt::Corrupt(p) if self.once(seen, "corrupt", p.span) => netem.corrupt = self.netem_percent(p, "a corrupt percentage"),
            NetemOpt::Reorder(p) if self.once(seen, "reorder", p.span) => netem.reorder = self.netem_percent(p, "a reorder percentage"),
            NetemOpt::Gap(g) if self.once(seen, "gap", g.span) => {
                // tc's gap 1 is what a `reorder` without `gap` gets: kept as none.
                netem.gap = self.ok(v::int_in(&self.env, &g.node, "a reorder gap", 1, u32::MAX as i64)).map(|n| n.node as u32).filter(|n| *n != 1);
            }
            NetemOpt::Slot(slot) if self.once(seen, "slot", slot.span) => netem.slot = self.netem_slot(&slot.node),
            // `loss` once, whether a percentage or a model (tc: "duplicate loss argument").
            NetemOpt::LossModel(m) if self.once(seen, "loss", m.span) => netem.loss_model = self.loss_model(&m.node),
            NetemOpt::Distribution(name) if self.once(seen, "distribution", name.span) => netem.distribution = self.distribution(name, "delay"),
            _ => {}
        }
    }

    /// `slot MIN [MAX] [packets N] [bytes SIZE]`: MAX at least MIN (tc refuses a smaller
    /// one) and above 0 (a slot of 0 is none: the kernel keeps nothing of it); or `slot
    /// distribution TABLE DELAY JITTER` (see [`Self::slot_spacing`]); the limits at least 1
    /// and below the kernel's "no limit" (INT_MAX), each once.
    fn netem_slot(&mut self, slot: &crate::ast::SlotAst) -> Option<NetemSlot> {
        let (min, max, spacing) = match &slot.times {
            SlotTimes::Range { min, max } => {
                let (min, max) = self.slot_range(min, max.as_ref())?;
                (min, max, None)
            }
            SlotTimes::Distribution { table, delay, jitter } => {
                let zero = crate::units::Duration(0);
                (zero, zero, Some(self.slot_spacing(table, delay, jitter)?))
            }
        };
        let mut seen = Seen::default();
        let mut packets = None;
        for p in &slot.packets {
            if self.once(&mut seen, "packets", p.span) {
                packets = Some(self.ok(v::int_in(&self.env, &p.node, "a slot's packets", 1, i32::MAX as i64 - 1))?.node as u32);
            }
        }
        let mut bytes = None;
        for b in &slot.bytes {
            if self.once(&mut seen, "bytes", b.span) {
                let size = self.ok(v::size(&self.env, &b.node))?;
                if size.node.0 == 0 || size.node.0 >= i32::MAX as u64 {
                    self.report(v::out_of_range(size.span, "a slot's bytes", size.node, "1b", "2147483646b"));
                    return None;
                }
                bytes = Some(size.node.0 as u32);
            }
        }
        Some(NetemSlot { min, max, packets, bytes, spacing })
    }

    fn slot_range(&mut self, min: &Spanned<DurationValue>, max: Option<&Spanned<DurationValue>>) -> Option<(Duration, Duration)> {
        let min = self.ok(v::duration(&self.env, &min.node))?;
        let max = match max {
            Some(m) => self.ok(v::duration(&self.env, &m.node))?,
            None => min.clone(),
        };
        if max.node < min.node {
            self.report(
                Diagnostic::error(OUT_OF_RANGE, max.span, format!("a slot's max ({}) is below its min ({})", max.node, min.node))
                    .label("below the min")
                    .also(min.span, "min given here")
                    .help("slots start every MIN to MAX, picked uniformly: give MAX ≥ MIN (tc refuses it too)"),
            );
            return None;
        }
        if max.node.0 == 0 || max.node.0 > i64::MAX as u64 {
            self.report(
                v::out_of_range(max.span, "a slot", max.node, "1ns", Duration(i64::MAX as u64))
                    .help("a slot of 0 is no slot: the kernel keeps none (leave `slot` out)"),
            );
            return None;
        }
        Some((min.node, max.node))
    }

    /// `slot distribution TABLE DELAY JITTER`: one of the computed tables, a DELAY the
    /// kernel's s64 holds (0 is tc's too), a JITTER above 0 (tc: "Non-positive jitter")
    /// and at most INT_MAX ns, where the kernel caps it (it would read back otherwise).
    fn slot_spacing(&mut self, table: &Spanned<String>, delay: &Spanned<DurationValue>, jitter: &Spanned<DurationValue>) -> Option<SlotSpacing> {
        let table = self.distribution(table, "slot");
        let delay = self.ok(v::duration(&self.env, &delay.node))?;
        let jitter = self.ok(v::duration(&self.env, &jitter.node))?;
        if delay.node.0 > i64::MAX as u64 {
            self.report(v::out_of_range(delay.span, "a slot delay", delay.node, "0ns", Duration(i64::MAX as u64)));
            return None;
        }
        if jitter.node.0 == 0 || jitter.node.0 > i32::MAX as u64 {
            self.report(
                v::out_of_range(jitter.span, "a slot jitter", jitter.node, "1ns", Duration(i32::MAX as u64))
                    .help("the table scales the jitter around the delay: tc refuses a jitter of 0, and the kernel caps it at 2147483647ns"),
            );
            return None;
        }
        Some(SlotSpacing { delay: delay.node, jitter: jitter.node, table: Some(table?) })
    }

    /// `distribution NAME` (`what`: `delay`) or `slot distribution NAME` (`slot`): one of
    /// the tables netscript computes (iproute2's generated ones; `experimental` is
    /// measured data, not computed).
    fn distribution(&mut self, name: &Spanned<String>, what: &str) -> Option<NetemDistribution> {
        if let Some(d) = NetemDistribution::from_name(&name.node) {
            return Some(d);
        }
        let known = NetemDistribution::ALL.map(|d| d.name());
        let nearest = known.iter().min_by_key(|k| strsim::levenshtein(k, &name.node)).filter(|k| strsim::levenshtein(k, &name.node) <= 3);
        // tc's `uniform` is no table: a plain jitter, or a plain `slot MIN MAX`.
        let uniform = if what == "slot" { "uniform slots are `slot MIN MAX`" } else { "tc's uniform jitter is no `distribution` at all" };
        let help = match nearest {
            Some(k) => format!("did you mean `{k}`? netscript has the tables `normal`, `pareto` and `paretonormal` ({uniform})"),
            None => format!("netscript has the tables `normal`, `pareto` and `paretonormal`, which it computes as iproute2 does ({uniform}; `experimental` and custom tables are files netscript does not read)"),
        };
        self.report(Diagnostic::error(UNKNOWN_DISTRIBUTION, name.span, format!("unknown {what} distribution `{}`", name.node)).label("not a table netscript knows").help(help));
        None
    }

    /// `loss state …` / `loss gemodel …`: every probability 0–100% (tc's get_percent).
    fn loss_model(&mut self, m: &crate::ast::LossModelAst) -> Option<LossModel> {
        let mut values = Vec::new();
        for p in &m.values {
            values.push(self.netem_percent(p, "a loss model probability")?);
        }
        let first = values[0];
        let rest = |i: usize| values.get(i).copied();
        Some(if m.gemodel {
            LossModel::Gemodel { p: first, rest: [rest(1), rest(2), rest(3)] }
        } else {
            LossModel::State { p13: first, rest: [rest(1), rest(2), rest(3), rest(4)] }
        })
    }

    /// What tc refuses of a netem as a whole: `reorder` without a delay (nothing to be
    /// ahead of), `gap` without `reorder`.
    pub(super) fn netem_consistent(&mut self, stmt: &Stmt, opts: &[NetemOpt], netem: &Netem) -> bool {
        let span_of = |want: fn(&NetemOpt) -> bool| opts.iter().find(|o| want(o)).map(|o| match o {
            NetemOpt::Reorder(p) => p.span,
            NetemOpt::Gap(g) => g.span,
            _ => stmt.span,
        });
        if netem.reorder.is_some() && netem.delay.0 == 0 {
            let at = span_of(|o| matches!(o, NetemOpt::Reorder(_))).unwrap_or(stmt.span);
            self.report(
                Diagnostic::error(MISSING_OPTION, at, "`reorder` needs a `delay`")
                    .label("reordered packets are sent ahead of the delayed ones")
                    .help("give the netem a delay, e.g. `netem delay 10ms reorder 25%`"),
            );
            return false;
        }
        // q_netem.c: "distribution specified but no latency and jitter values" (both as
        // tc sends them, whole µs: a table scales the jitter around the delay).
        if netem.distribution.is_some() && (netem.delay.micros() == 0 || netem.jitter.is_none_or(|j| j.micros() == 0)) {
            let at = opts.iter().find_map(|o| match o {
                NetemOpt::Distribution(n) => Some(n.span),
                _ => None,
            });
            self.report(
                Diagnostic::error(MISSING_OPTION, at.unwrap_or(stmt.span), "`distribution` needs a `delay` and a `jitter`")
                    .label("the table shapes the jitter around the delay")
                    .help("give both, e.g. `netem delay 100ms jitter 10ms distribution normal` (tc refuses it too)"),
            );
            return false;
        }
        let gap_given = opts.iter().any(|o| matches!(o, NetemOpt::Gap(_)));
        let reorder_given = opts.iter().any(|o| matches!(o, NetemOpt::Reorder(_)));
        if gap_given && !reorder_given {
            let at = span_of(|o| matches!(o, NetemOpt::Gap(_))).unwrap_or(stmt.span);
            self.report(
                Diagnostic::error(MISSING_OPTION, at, "`gap` needs `reorder`")
                    .label("a gap without a reorder probability")
                    .help("write `reorder P gap N`: every Nth packet is sent at once, the others with probability P"),
            );
            return false;
        }
        true
    }
}
