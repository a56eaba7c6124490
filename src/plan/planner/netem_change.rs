//! What a netem change must send. The kernel changes a netem in place (same kind, same
//! handle) and keeps the reorder and corrupt probabilities of the old one when the
//! request carries no TCA_NETEM_REORDER / TCA_NETEM_CORRUPT, which is what tc sends when
//! the command has no `reorder` / `corrupt`: so a script that drops one of them sends it
//! as 0% (the kernel then holds none), where tc would leave the old value in place.

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
