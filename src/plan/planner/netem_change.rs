//! What a netem change must send. The kernel changes a netem in place (same kind, same
//! handle) and keeps the reorder and corrupt probabilities of the old one when the
//! request carries no TCA_NETEM_REORDER / TCA_NETEM_CORRUPT, which is what tc sends when
//! the command has no `reorder` / `corrupt`: so a script that drops one of them sends it
//! as 0% (the kernel then holds none), where tc would leave the old value in place.
//!
//! The delay table (`distribution`) is kept across a change that sends none, and the
//! kernel refuses an empty one: a netem whose table changes (to another, to none, from
//! none) is deleted and made anew, and its undo makes the old one again, table included.
//! The kernel never reports a table: the planner knows it from the record (see
//! `exec::traffic::recall_netem_tables`), and refuses to touch a table it cannot know.

use super::Planner;
use crate::diagnostic::Diagnostic;
use crate::source::Span;

use super::super::action::QdiscSpec;
use crate::model::Netem;
use crate::units::Percent;

/// `wanted`, with 0% for a reorder or corrupt probability that `observed` (the netem in
/// place, if any) has and `wanted` does not.
pub fn sent_netem(wanted: &Netem, observed: Option<&QdiscSpec>) -> Netem {
    let mut sent = wanted.clone();
    if let Some(QdiscSpec::Netem(old)) = observed {
        if old.reorder.is_some() && sent.reorder.is_none() {
            sent.reorder = Some(Percent(0.0));
        }
        if old.corrupt.is_some() && sent.corrupt.is_none() {
            sent.corrupt = Some(Percent(0.0));
        }
        // Without TCA_NETEM_SLOT the kernel keeps the old slot; a zero one clears it.
        if old.slot.is_some() && sent.slot.is_none() {
            sent.slot = Some(crate::model::NetemSlot { min: crate::units::Duration(0), max: crate::units::Duration(0), packets: None, bytes: None });
        }
    }
    sent
}

/// The undo of changing the netem `old` into `new`: `old`, with 0% for what `new` adds
/// (the same reason, the other way round). Any other qdisc is put back as it was.
pub fn undo_netem(old: QdiscSpec, new: &QdiscSpec) -> QdiscSpec {
    match &old {
        QdiscSpec::Netem(o) => QdiscSpec::Netem(sent_netem(o, Some(new))),
        _ => old,
    }
}

/// Whether going from `old` to `new` changes a netem's delay table (the kernel keeps the
/// old table across a change without one: the netem is made anew).
pub fn table_changes(old: &QdiscSpec, new: &QdiscSpec) -> bool {
    matches!((old, new), (QdiscSpec::Netem(o), QdiscSpec::Netem(n)) if o.distribution != n.distribution)
}

impl Planner<'_> {
    /// A netem the record made and someone changed since (`netem_drift`): its table is
    /// unknowable. Where that netem had a table or the script wants one, a change would
    /// keep or send a table without knowing what was there, and neither a rollback nor
    /// `down` could give it back: refused, before anything changes. (Without a table on
    /// either side, the drift is put back as for any netem.)
    pub(super) fn netem_table_unknown(&mut self, ns: &str, dev: &str, wanted: &Netem, origin: Span) -> bool {
        if self.is_replaced(ns, dev) {
            return false;
        }
        let Some(made) = self.observed_ns(ns).and_then(|o| o.netem_drift.iter().find(|(d, _)| d == dev)).map(|(_, t)| *t) else { return false };
        if made.is_none() && wanted.distribution.is_none() {
            return false;
        }
        let in_ns = if ns == crate::model::HOST { String::new() } else { format!(" -n {ns}") };
        let made_with = match made {
            Some(d) => format!("with `distribution {}`", d.name()),
            None => "without a delay table".to_string(),
        };
        self.diagnostics.push(
            Diagnostic::error(super::NETEM_TABLE_UNKNOWN, origin, format!("the netem on `{dev}` in `{ns}` was changed by someone else since netscript made it {made_with}; the delay table it holds now cannot be read"))
                .label("this would set or keep a table netscript cannot see")
                .help(format!("the kernel never reports a netem's table, so netscript could neither keep the promise nor give the table back: remove that netem (`tc{in_ns} qdisc del dev {dev} root`) and run again, netscript then makes it anew")),
        );
        true
    }
}
