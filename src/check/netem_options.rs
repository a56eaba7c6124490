//! netem's finer options (issue 24): `limit N` (packets), `duplicate P`, `corrupt P`,
//! `reorder P` and `gap N`, checked against what tc (q_netem.c) accepts.

use super::codes::*;
use super::core::*;
use super::values::{self as v};
use crate::ast::{NetemOpt, PercentValue, Stmt};
use crate::diagnostic::Diagnostic;
use crate::model::{Netem, NETEM_DEFAULT_LIMIT};
use crate::source::Spanned;
use crate::units::Percent;

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
            _ => {}
        }
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
