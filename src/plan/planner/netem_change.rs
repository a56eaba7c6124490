//! What a netem change must send. The kernel changes a netem in place (same kind, same
//! handle) and keeps the reorder and corrupt probabilities of the old one when the
//! request carries no TCA_NETEM_REORDER / TCA_NETEM_CORRUPT, which is what tc sends when
//! the command has no `reorder` / `corrupt`: so a script that drops one of them sends it
//! as 0% (the kernel then holds none), where tc would leave the old value in place.
//!
//! The delay table (`distribution`) and the slot table (`slot distribution`) are each
//! kept across a change that sends none, and the kernel refuses an empty one: a netem
//! whose tables change (to another, to none, from none) is deleted and made anew, and
//! its undo makes the old one again, tables included.
//! The kernel never reports a table: the planner knows it from the record (see
//! `exec::traffic::recall_netem_tables`), and refuses to touch a table it cannot know.

use super::Planner;
use crate::diagnostic::Diagnostic;
use crate::source::Span;

use super::super::action::QdiscSpec;
use crate::model::{Netem, NetemTables};
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
            sent.slot = Some(crate::model::NetemSlot::range(crate::units::Duration(0), crate::units::Duration(0)));
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

/// Whether going from `old` to `new` changes a netem's delay or slot table (the kernel
/// keeps an old table across a change without one: the netem is made anew).
pub fn table_changes(old: &QdiscSpec, new: &QdiscSpec) -> bool {
    matches!((old, new), (QdiscSpec::Netem(o), QdiscSpec::Netem(n)) if o.tables() != n.tables())
}

/// A netem's tables in the script's words, for a diagnostic.
fn tables_words(t: NetemTables) -> String {
    let words: Vec<String> = [("distribution", t.delay), ("slot distribution", t.slot)].into_iter().filter_map(|(w, d)| d.map(|d| format!("`{w} {}`", d.name()))).collect();
    if words.is_empty() { "without a table".to_string() } else { format!("with {}", words.join(" and ")) }
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
        if made == NetemTables::default() && wanted.tables() == NetemTables::default() {
            return false;
        }
        let in_ns = if ns == crate::model::HOST { String::new() } else { format!(" -n {ns}") };
        let made_with = tables_words(made);
        self.diagnostics.push(
            Diagnostic::error(super::NETEM_TABLE_UNKNOWN, origin, format!("the netem on `{dev}` in `{ns}` was changed by someone else since netscript made it {made_with}; the tables it holds now cannot be read"))
                .label("this would set or keep a table netscript cannot see")
                .help(format!("the kernel never reports a netem's table, so netscript could neither keep the promise nor give the table back: remove that netem (`tc{in_ns} qdisc del dev {dev} root`) and run again, netscript then makes it anew")),
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{Duration, Percent};

    fn netem(reorder: Option<f64>, corrupt: Option<f64>, slot: bool) -> Netem {
        Netem {
            delay: Duration(10_000_000),
            jitter: None,
            loss: None,
            rate: None,
            limit: None,
            duplicate: None,
            corrupt: corrupt.map(Percent),
            reorder: reorder.map(Percent),
            gap: None,
            slot: slot.then(|| crate::model::NetemSlot::range(Duration(1_000_000), Duration(2_000_000))),
            loss_model: None,
            distribution: None,
        }
    }

    #[test]
    fn what_the_old_netem_has_and_the_script_drops_is_sent_as_zero_and_the_rest_as_written() {
        let old = QdiscSpec::Netem(netem(Some(10.0), Some(2.0), true));
        // Dropped: reorder and corrupt as 0%, the slot as an empty one.
        let sent = sent_netem(&netem(None, None, false), Some(&old));
        assert_eq!((sent.reorder, sent.corrupt), (Some(Percent(0.0)), Some(Percent(0.0))));
        assert_eq!(sent.slot, Some(crate::model::NetemSlot::range(Duration(0), Duration(0))));
        // Edited: the script's values.
        let wanted = netem(Some(20.0), Some(5.0), true);
        assert_eq!(sent_netem(&wanted, Some(&old)), wanted);
        // Nothing to clear: sent as written, with nothing added.
        let bare = netem(None, None, false);
        assert_eq!(sent_netem(&bare, Some(&QdiscSpec::Netem(bare.clone()))), bare);
        assert_eq!(sent_netem(&bare, None), bare);
    }
}
