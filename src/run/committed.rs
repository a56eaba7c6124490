//! What a run commits: the record once its operations are applied, and the check that
//! the kernel now holds what the script declares (re-read, re-planned: nothing left).

use crate::exec::Executor;
use crate::model::Desired;
use crate::plan::firewall::FirewallSeal;
use crate::plan::ownership::{self, Owned};
use crate::plan::{self, Action, Ownership, Plan};
use crate::run::state::Record;

/// The record once `completed` ops of `plan` are applied: what they removed goes, what
/// was forgotten goes, what they made is added (see [`ownership::merge`]).
pub(super) fn next_record(record: &Record, plan: &Plan, completed: &[usize]) -> Record {
    let removed: std::collections::HashSet<usize> =
        completed.iter().filter_map(|&i| plan.ops[i].removes).chain(plan.forget.iter().copied()).chain(plan.handover.iter().map(|h| h.entry)).collect();
    let mut next = record.clone();
    next.owned = record.owned.iter().enumerate().filter(|(i, _)| !removed.contains(i)).map(|(_, o)| o.clone()).collect();
    // A link change gives back each attribute on its own: one entry per attribute.
    let made = completed.iter().map(|&i| &plan.ops[i]).filter(|op| op.removes.is_none()).flat_map(|op| match op.action {
        Action::SetLink { .. } => op
            .undo
            .iter()
            // Addresses a link taken down loses are put back by a rollback only.
            .filter(|u| matches!(u, Action::SetLink { .. }))
            .map(|u| Owned { made: Some(op.action.clone()), undo: vec![u.clone()] })
            .collect::<Vec<_>>(),
        _ => vec![Owned { made: Some(op.action.clone()), undo: op.undo.clone() }],
    });
    ownership::merge(&mut next.owned, made);
    let made_netns: std::collections::HashSet<&str> = next.owned.iter().filter_map(|o| match o.undo.first() {
        Some(Action::DeleteNetns { ns }) => Some(ns.as_str()),
        _ => None,
    }).collect();
    let keep: std::collections::HashSet<String> = next.netns_ids.keys().filter(|ns| made_netns.contains(ns.as_str())).cloned().collect();
    next.netns_ids.retain(|ns, _| keep.contains(ns));
    next.netns_cookies.retain(|ns, _| keep.contains(ns));
    next
}

/// The plan left to do, the identity (inode, cookie) of each namespace the record owns,
/// and the firewall seals.
pub(super) type Verified = (Plan, std::collections::BTreeMap<String, (u64, Option<u64>)>, std::collections::BTreeMap<String, FirewallSeal>);

/// The seal of each namespace's firewall table that `observed` saw as `desired` declares it.
pub(super) fn firewall_seals(desired: &Desired, observed: &crate::plan::Observed) -> std::collections::BTreeMap<String, FirewallSeal> {
    desired
        .namespaces
        .iter()
        .filter_map(|(name, ns)| {
            let want = crate::plan::firewall::desired_table(ns)?;
            let seen = observed.namespaces.get(name)?;
            Some((name.clone(), seen.firewall.as_ref()?.seal(&want)?))
        })
        .collect()
}

/// Re-reads the state and re-plans with the record the run would commit: nothing must
/// be left to do. Also returns the identities of the namespaces that record owns and the
/// seals of the firewall tables it saw as declared.
pub(super) fn verify(exec: &mut Executor, desired: &Desired, next: &Record, others: &[ownership::OtherScript]) -> Result<Verified, String> {
    let interest = ownership::interest(&next.owned);
    let observed = exec.observe_owned(desired, &interest).map_err(|e| e.to_string())?;
    let ownership = Ownership { entries: &next.owned, netns_ids: &next.netns_ids, netns_cookies: &next.netns_cookies, others };
    super::capture::plan_inputs(desired, &observed, ownership);
    let again = plan::plan_owned(desired, &observed, ownership).map_err(|d| format!("{} problem(s)", d.len()))?;
    let ids = next
        .owned
        .iter()
        .filter_map(|o| match o.undo.first() {
            Some(Action::DeleteNetns { ns }) => observed.namespaces.get(ns).and_then(|n| Some((ns.clone(), (n.id?, n.cookie)))),
            _ => None,
        })
        .collect();
    Ok((again, ids, firewall_seals(desired, &observed)))
}

