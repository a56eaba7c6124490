//! A run as one transaction: observe → plan → apply → verify → record. Any failure
//! after the first change is rolled back; the result says what happened, for any front
//! end (CLI, REPL) to show.

use crate::diagnostic::Diagnostic;
use crate::exec::apply::means_gone;
use crate::exec::{ApplyFailure, ExecError, ExecEvent, Executor, RollbackOutcome};
use crate::run::journal::{self, Journal};
use crate::model::Desired;
use crate::exec::apply::UndoFailure;
use crate::plan::ownership::{self, Owned};
use crate::plan::{self, describe, Action, Ownership, Plan};
use crate::plan::firewall::FirewallSeal;
use crate::run::committed::{firewall_seals, next_record, verify};
use crate::run::state::{self, Record};
use std::path::Path;
use std::time::{Duration, Instant};

pub const KERNEL_REFUSED: &str = "netscript::run::kernel_refused";
pub const VERIFY_FAILED: &str = "netscript::run::verification_failed";

#[derive(Debug)]
pub enum Outcome {
    /// The kernel already holds what the script declares.
    UpToDate { removed: usize },
    Applied(Summary),
    /// The script cannot be applied to this system; nothing was changed.
    Refused(Vec<Diagnostic>),
    /// Something failed after changes began; `rollback` says whether all were undone.
    Failed { diagnostics: Vec<Diagnostic>, rollback: RollbackOutcome },
    /// netscript could not start (privileges, state file, kernel access); nothing changed.
    Setup(String),
    /// Committed, but namespaces the script no longer declares could not be deleted: the
    /// record keeps them, and the next run or `down` tries again.
    Leftover(String),
}

#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub created: usize,
    pub changed: usize,
    pub removed: usize,
    pub operations: usize,
    pub elapsed: Duration,
    /// The undo actions of this run's operations, in the order they were applied (the
    /// REPL's `:undo` runs them in reverse).
    pub undo: Vec<Action>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "applied {} operation{} ({} created, {} changed, {} removed) in {:.0?}",
            self.operations,
            if self.operations == 1 { "" } else { "s" },
            self.created,
            self.changed,
            self.removed,
            self.elapsed
        )
    }
}

fn is_creation(action: &Action) -> bool {
    matches!(
        action,
        Action::CreateNetns { .. } | Action::CreateLink { .. } | Action::AddAddr { .. } | Action::AddRoute { .. } | Action::AddRule { .. } | Action::AddFilter { .. }
            | Action::AttachBpf { .. } | Action::AttachXdp { .. }
    )
}


/// The diagnostic for a kernel refusal, on the statement that asked for the operation.
pub fn refusal(plan: &Plan, op: usize, error: &ExecError, rollback: &RollbackOutcome) -> Diagnostic {
    let origin = plan.ops[op].origin;
    let what = describe(&plan.ops[op].action);
    let mut help = match error {
        ExecError::Kernel(k) => match &k.extack {
            Some(msg) => format!("the kernel said: {msg}"),
            None => String::new(),
        },
        ExecError::ProgramRefused(r) if !r.log.is_empty() => format!("the verifier's log ends:\n{}", r.log),
        _ => String::new(),
    };
    let aftermath = match rollback {
        RollbackOutcome::Complete => "everything this run had changed was rolled back: the system is as it was".to_string(),
        RollbackOutcome::Incomplete(failures) => format!("the rollback could not undo {} operation(s); see below", failures.len()),
    };
    if !help.is_empty() {
        help.push('\n');
    }
    help.push_str(&aftermath);
    if let Some(missing) = crate::exec::error::missing_kernel_support(&plan.ops[op].action, error) {
        return Diagnostic::error(KERNEL_REFUSED, origin, format!("this kernel does not support the {}, which this statement needs", missing.what))
            .label(format!("needs the {} (kernel module {})", missing.what, missing.module))
            .help(format!("load it with `modprobe {}`, or use a kernel built with {}\n{help}", missing.module, missing.config));
    }
    Diagnostic::error(KERNEL_REFUSED, origin, format!("the kernel refused to {what}: {error}")).label("this statement").help(help)
}

fn rollback_leftovers(rollback: &RollbackOutcome) -> Vec<String> {
    match rollback {
        RollbackOutcome::Complete => Vec::new(),
        RollbackOutcome::Incomplete(failures) => failures.iter().map(|f| format!("{} ({})", describe(&f.action), f.error)).collect(),
    }
}

/// What is left after an incomplete rollback, and how to finish by hand.
pub fn leftover_text(rollback: &RollbackOutcome) -> Option<String> {
    let left = rollback_leftovers(rollback);
    if left.is_empty() {
        return None;
    }
    let mut text = String::from("the rollback did not complete; still to undo, in this order:\n");
    for l in &left {
        text.push_str(&format!("  - {l}\n"));
    }
    text.push_str("undo these by hand (`ip`/`tc`), or fix the cause and run `netscript recover`, which retries them from the journal\n");
    Some(text)
}

/// What the script's record says, and the live state as the planner needs it to plan
/// `desired` with it: for `run`, `down` and their dry runs.
pub struct Planned {
    pub record: Record,
    /// The records of the other scripts on this host.
    pub others: Vec<ownership::OtherScript>,
    pub plan: Plan,
    /// The seals of the firewall tables this observation saw as declared.
    pub firewall_seals: std::collections::BTreeMap<String, FirewallSeal>,
}

/// Observes and plans `desired` against the live state and `script`'s record (`None`:
/// nothing recorded). Changes nothing.
pub fn plan_live(exec: &mut Executor, desired: &Desired, script: Option<&Path>) -> Result<Planned, Outcome> {
    let record = match crate::timing::timed("state load", || script.map(state::load).transpose()) {
        Ok(record) => record.flatten().unwrap_or_else(|| Record::new(script.map(state::script_key).unwrap_or_default())),
        Err(e) => return Err(Outcome::Setup(e.to_string())),
    };
    let others = crate::timing::timed("state load", || state::load_others(&record.script));
    let mut interest = ownership::interest(&record.owned);
    interest.firewall_seals = record.firewall_seals.clone();
    let observed = match exec.observe_owned(desired, &interest) {
        Ok(o) => o,
        Err(e) => return Err(Outcome::Setup(format!("cannot read the current state: {e}"))),
    };
    let firewall_seals = firewall_seals(desired, &observed);
    let ownership = Ownership { entries: &record.owned, netns_ids: &record.netns_ids, netns_cookies: &record.netns_cookies, others: &others };
    super::capture::plan_inputs(desired, &observed, ownership);
    let plan = match crate::timing::timed("plan", || plan::plan_owned(desired, &observed, ownership)) {
        Ok(plan) => plan,
        Err(diagnostics) => return Err(Outcome::Refused(diagnostics)),
    };
    Ok(Planned { record, others, plan, firewall_seals })
}

/// Applies `desired` (checked, error-free) as one transaction.
///
/// Crash safety: the run holds the host lock ([`crate::run::lock`]), refuses to start while an
/// interrupted transaction's journal exists, journals every operation before it is sent
/// ([`crate::run::journal`]), and rolls back on SIGINT/SIGTERM/SIGHUP ([`crate::run::interrupt`])
/// at any point before its commit record, `expect` probes included.
///
/// One plan covers the whole edit: what the script's earlier runs made and it no longer
/// declares is removed (or given back) inside the transaction, before anything is added;
/// namespaces it no longer declares are deleted once the run is committed.
pub fn run(desired: &Desired, script: Option<&Path>, on_event: &mut dyn FnMut(&ExecEvent)) -> Outcome {
    run_confirmed(desired, script, on_event, &mut |_| true)
}

/// [`run`], keeping the change only if `confirm` says so: it is called once the run is
/// applied and verified and its expectations hold, with the journal's path, before the
/// commit record is written. `false` (or a signal while it waits) rolls the run back,
/// as a failure would (an `Outcome::Failed` with no diagnostics); a process killed while
/// it waits leaves an uncommitted journal, which `recover` rolls back.
pub fn run_confirmed(desired: &Desired, script: Option<&Path>, on_event: &mut dyn FnMut(&ExecEvent), confirm: &mut dyn FnMut(&Path) -> bool) -> Outcome {
    if let Err(e) = crate::exec::check_privileges() {
        return Outcome::Setup(e.to_string());
    }
    let what = format!("run {}", script.map(state::script_key).unwrap_or_else(|| "<stdin>".into()));
    let _lock = match crate::timing::timed("lock", || crate::run::lock::acquire(&what, &mut crate::run::lock::tell_waiting)) {
        Ok(lock) => lock,
        Err(e) => return Outcome::Setup(e.to_string()),
    };
    if let Err(e) = journal::refuse_if_pending() {
        return Outcome::Setup(e);
    }
    let signals = crate::run::interrupt::Guard::arm();
    let mut exec = match Executor::new() {
        Ok(exec) => exec,
        Err(e) => return Outcome::Setup(format!("cannot start the executor: {e}")),
    };
    let Planned { record, plan, others, firewall_seals: seen_seals } = match plan_live(&mut exec, desired, script) {
        Ok(planned) => planned,
        Err(outcome) => return outcome,
    };
    if let Some(signal) = crate::run::interrupt::received() {
        return Outcome::Setup(format!("interrupted by {} before any change", crate::run::interrupt::name(signal)));
    }
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut record = record;
    if !plan.ops.is_empty() {
        let mut journal = match Journal::create(script.map(state::script_key)) {
            Ok(j) => j,
            Err(e) => return Outcome::Setup(format!("cannot start the journal: {e}")),
        };
        let applied = exec.apply(&plan, &mut journal::with_plan(&mut journal, &plan, on_event));
        let report = match applied {
            Ok(report) => report,
            Err(failure) => return journal_failed(journal, &plan, failure),
        };
        if stopped() {
            // Stopped after the last operation was sent: roll back all of it.
            let rollback = exec.rollback(&plan, &report.completed, &mut journal::with_plan(&mut journal, &plan, on_event));
            return journal_rolled_back(journal, &plan, Vec::new(), rollback);
        }
        let next = next_record(&record, &plan, &report.completed);
        // Verify: what the kernel now holds must be what the script declares, with
        // nothing left of what it no longer declares (but the namespaces still to go).
        let verify = verify(&mut exec, desired, &next, &others);
        let (mismatch, ids, seals) = match verify {
            Ok((again, ids, seals)) if again.ops.is_empty() => (None, ids, seals),
            Ok((again, _, _)) => (Some(again.ops.iter().map(|op| (op.origin, describe(&op.action))).collect::<Vec<_>>()), Default::default(), Default::default()),
            Err(e) => (Some(vec![(plan.ops[0].origin, format!("re-reading the state failed: {e}"))]), Default::default(), Default::default()),
        };
        if let Some(mismatch) = mismatch {
            let rollback = exec.rollback(&plan, &report.completed, &mut journal::with_plan(&mut journal, &plan, on_event));
            let diagnostics = mismatch
                .into_iter()
                .map(|(origin, what)| {
                    Diagnostic::error(VERIFY_FAILED, origin, format!("after applying, the kernel does not hold what this statement declares: still to {what}"))
                        .label("not as declared")
                        .help("the run was rolled back; this is a netscript or kernel bug, please report it with `netscript plan` output")
                })
                .collect();
            return journal_rolled_back(journal, &plan, diagnostics, rollback);
        }
        // Expectations: the run is kept only if the network it built works.
        let results = crate::run::expectations::check(desired);
        if results.iter().any(|(_, r)| !r.holds) || stopped() {
            // Rolled back through the journal like any other failure, so that a complete
            // rollback leaves no pending journal behind.
            let rollback = exec.rollback(&plan, &report.completed, &mut journal::with_plan(&mut journal, &plan, on_event));
            if stopped() {
                return journal_rolled_back(journal, &plan, Vec::new(), rollback);
            }
            let aftermath = match &rollback {
                RollbackOutcome::Complete => "the run was rolled back: the system is as it was",
                RollbackOutcome::Incomplete(_) => "the run was rolled back, but not completely; see below",
            };
            let diagnostics = crate::run::expectations::unmet(&results, aftermath);
            return journal_rolled_back(journal, &plan, diagnostics, rollback);
        }
        // Confirm-or-revert: nothing is committed until confirmed.
        if !confirm(journal.path()) || stopped() {
            let rollback = exec.rollback(&plan, &report.completed, &mut journal::with_plan(&mut journal, &plan, on_event));
            return journal_rolled_back(journal, &plan, Vec::new(), rollback);
        }
        record = next;
        record.netns_ids.extend(ids.iter().map(|(ns, (id, _))| (ns.clone(), *id)));
        record.netns_cookies.extend(ids.iter().filter_map(|(ns, (_, cookie))| Some((ns.clone(), (*cookie)?))));
        record.firewall_seals = seals;
        for &i in &report.completed {
            let op = &plan.ops[i];
            summary.undo.extend(op.undo.iter().cloned());
            if op.removes.is_some() {
                summary.removed += 1;
            } else if is_creation(&op.action) {
                summary.created += 1;
            } else {
                summary.changed += 1;
            }
        }
        summary.operations = plan.ops.len();
        // Commit: the commit record (with the state record) is the commit point; then
        // the state file (atomic), then the journal goes. See `journal`.
        let commit = journal.append(&journal::Entry::Commit { state: script.map(|_| record.clone()) }).map_err(|e| format!("cannot write the journal: {e}"));
        let saved = commit.and_then(|()| match script {
            Some(script) => state::save(script, &record).map_err(|e| {
                let _ = journal.append(&journal::Entry::Abort);
                format!("cannot record the run: {e}")
            }),
            None => Ok(()),
        });
        if let Err(e) = saved {
            let rollback = exec.rollback(&plan, &report.completed, &mut journal::with_plan(&mut journal, &plan, on_event));
            let diagnostics = vec![Diagnostic::error(KERNEL_REFUSED, plan.ops[0].origin, e).label("rolled back")];
            return journal_rolled_back(journal, &plan, diagnostics, rollback);
        }
        if let Err(e) = journal.finish() {
            eprintln!("netscript: warning: the run is committed, but its journal could not be deleted ({e}); `netscript recover` will finish it");
        }
    } else {
        let results = crate::run::expectations::check(desired);
        let unmet = crate::run::expectations::unmet(&results, "this run changed nothing: the system already held what the script declares");
        if !unmet.is_empty() {
            return Outcome::Failed { diagnostics: unmet, rollback: RollbackOutcome::Complete };
        }
        // A record whose seals went stale (someone changed another nftables table of
        // the namespace) takes the new ones, so that the next no-op run reads nothing.
        let reseal = seen_seals != record.firewall_seals && !record.owned.is_empty();
        if !plan.forget.is_empty() || !plan.handover.is_empty() || reseal {
            record = next_record(&record, &plan, &[]);
            record.firewall_seals = seen_seals;
            if let Some(script) = script
                && let Err(e) = state::save(script, &record)
            {
                return Outcome::Setup(format!("cannot record the run: {e}"));
            }
        }
    }
    // What another script changed since this one: its record takes this one's
    // original value (after this one's commit: a crash in between leaves the other
    // script giving back this one's value, never a foreign one).
    for h in &plan.handover {
        if let Err(e) = state::take_over(&h.script, h.their_entry, h.undo.clone()) {
            eprintln!("netscript: warning: could not hand the original value over to {}: {e}", h.script);
        }
    }
    // Committed: a signal from here on has its default effect (what follows only
    // deletes namespaces the committed record still owns, which a re-run or `down`
    // finishes).
    drop(signals);
    for action in &plan.drop_links {
        on_event(&ExecEvent::Undoing { op: usize::MAX, action });
        match exec.run_action(action) {
            Ok(()) => on_event(&ExecEvent::Undone { op: usize::MAX, action }),
            Err(e) if means_gone(&e) => {}
            Err(e) => eprintln!("netscript: warning: could not {} ({e}); it goes with the namespace of its other end", describe(action)),
        }
    }
    match drop_namespaces(&mut exec, &mut record, &plan.drop_netns, script, on_event) {
        Ok(n) => summary.removed += n,
        Err(left) => {
            let what: Vec<String> = left.iter().map(|f| format!("{} ({})", describe(&f.action), f.error)).collect();
            return Outcome::Leftover(format!(
                "the run is committed, but these namespaces it no longer declares could not be deleted: {}; the record keeps them, and the next `run` or `down` tries again",
                what.join(", ")
            ));
        }
    }
    summary.elapsed = started.elapsed();
    // Programs this executor detached are freed once it lets go of them; then their
    // labels can go too.
    drop(exec);
    crate::exec::bpf::prune_labels();
    if plan.ops.is_empty() { Outcome::UpToDate { removed: summary.removed } } else { Outcome::Applied(summary) }
}

fn stopped() -> bool {
    crate::run::interrupt::received().is_some() || crate::exec::cancel::requested()
}

/// Deletes the namespaces the script no longer declares, after the commit; the record
/// forgets each (and everything in it) once it is gone. On failure: what is left.
fn drop_namespaces(exec: &mut Executor, record: &mut Record, names: &[String], script: Option<&Path>, on_event: &mut dyn FnMut(&ExecEvent)) -> Result<usize, Vec<UndoFailure>> {
    if names.is_empty() {
        return Ok(0);
    }
    let actions: Vec<Action> = names.iter().rev().map(|ns| Action::DeleteNetns { ns: ns.clone() }).collect();
    let mut gone = Vec::new();
    let mut left = Vec::new();
    for (action, result) in exec.undo_in_reverse(actions, on_event) {
        match result {
            Ok(()) => gone.push(action.namespace().to_string()),
            Err(e) if means_gone(&e) => gone.push(action.namespace().to_string()),
            Err(error) => left.push(UndoFailure { op: usize::MAX, action, error }),
        }
    }
    let count = gone.len();
    let gone_set: std::collections::HashSet<&str> = gone.iter().map(String::as_str).collect();
    let went_with = |o: &Owned| matches!(&o.made, Some(Action::CreateLink { kind: crate::plan::action::LinkKind::Veth { peer_ns, .. }, .. }) if gone_set.contains(peer_ns.as_str()));
    record.owned.retain(|o| o.undo.first().is_none_or(|a| !gone_set.contains(a.namespace())) && !went_with(o));
    record.netns_ids.retain(|ns, _| !gone.contains(ns));
    record.netns_cookies.retain(|ns, _| !gone.contains(ns));
    if let Some(script) = script {
        let _ = crate::timing::timed("state save", || state::save(script, record));
    }
    if left.is_empty() { Ok(count) } else { Err(left) }
}

fn failed(plan: &Plan, failure: ApplyFailure) -> Outcome {
    let diagnostics = match failure.failed_op {
        Some(op) => vec![refusal(plan, op, &failure.error, &failure.rollback)],
        None => return Outcome::Setup(failure.error.to_string()),
    };
    Outcome::Failed { diagnostics, rollback: failure.rollback }
}

/// A failed apply (refusal, signal, journal write error): the executor has rolled back.
fn journal_failed(journal: Journal, plan: &Plan, failure: ApplyFailure) -> Outcome {
    if matches!(failure.error, ExecError::Interrupted) {
        return journal_rolled_back(journal, plan, Vec::new(), failure.rollback);
    }
    let outcome = failed(plan, failure);
    if let Outcome::Failed { rollback, .. } = &outcome
        && rollback.is_complete()
    {
        let _ = journal.finish();
    }
    outcome
}

/// After a rollback: the journal goes if it is complete (else `netscript recover` retries
/// from it); a journal write error becomes a diagnostic.
fn journal_rolled_back(mut journal: Journal, plan: &Plan, mut diagnostics: Vec<Diagnostic>, rollback: RollbackOutcome) -> Outcome {
    if let Some(e) = journal.take_error() {
        diagnostics.push(Diagnostic::error(KERNEL_REFUSED, plan.ops[0].origin, format!("cannot write the journal, so the run was stopped: {e}")).label("rolled back"));
    }
    if rollback.is_complete() {
        let _ = journal.finish();
    }
    Outcome::Failed { diagnostics, rollback }
}

#[derive(Debug)]
pub enum DownOutcome {
    NothingRecorded,
    Removed { actions: usize, elapsed: Duration },
    /// Failed: rolled back (completely or not), or namespaces left to delete.
    Failed { diagnostics: Vec<Diagnostic>, rollback: RollbackOutcome },
    Setup(String),
}

/// Removes what runs of `script` created, and restores what they changed: a run of a
/// script that declares nothing, with the same plan, journal and rollback.
pub fn down(script: &Path, on_event: &mut dyn FnMut(&ExecEvent)) -> DownOutcome {
    if let Err(e) = crate::exec::check_privileges() {
        return DownOutcome::Setup(e.to_string());
    }
    // An interrupted transaction comes first, whatever this script's record says.
    if let Err(e) = journal::refuse_if_pending() {
        return DownOutcome::Setup(e);
    }
    // Whether anything is recorded: the file's existence is enough here (the run reads
    // and checks it, once).
    if !state::record_path(script).exists() {
        return DownOutcome::NothingRecorded;
    }
    let nothing = Desired::default();
    let started = Instant::now();
    match run(&nothing, Some(script), on_event) {
        Outcome::UpToDate { removed } => DownOutcome::Removed { actions: removed, elapsed: started.elapsed() },
        Outcome::Applied(summary) => DownOutcome::Removed { actions: summary.removed, elapsed: summary.elapsed },
        Outcome::Refused(diagnostics) => DownOutcome::Failed { diagnostics, rollback: RollbackOutcome::Complete },
        Outcome::Failed { diagnostics, rollback } => DownOutcome::Failed { diagnostics, rollback },
        Outcome::Setup(message) => DownOutcome::Setup(message),
        Outcome::Leftover(message) => DownOutcome::Setup(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::error::{KernelError, LoadRefusal};
    use crate::plan::Op;

    fn one_op_plan() -> Plan {
        let op = Op { action: Action::CreateNetns { ns: "a".into() }, origin: Default::default(), deps: Vec::new(), undo: Vec::new(), removes: None };
        Plan { ops: vec![op], ..Default::default() }
    }

    fn help_for(log: &str) -> String {
        let refused = ExecError::ProgramRefused(LoadRefusal { program: "p".into(), error: KernelError::new(22, None), log: log.into() });
        refusal(&one_op_plan(), 0, &refused, &RollbackOutcome::Complete).help.unwrap_or_default()
    }

    #[test]
    fn a_refused_program_shows_the_verifiers_log_only_when_there_is_one() {
        // A load refused before the verifier ran (a bad attribute, no memory) has no log:
        // no heading announcing one.
        assert_eq!(help_for(""), "everything this run had changed was rolled back: the system is as it was");
        assert!(help_for("R1 invalid mem access").starts_with("the verifier's log ends:\nR1 invalid mem access\n"), "{}", help_for("R1 invalid mem access"));
    }
}
