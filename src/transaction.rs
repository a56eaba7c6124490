//! A run as one transaction: observe → plan → apply → verify → record. Any failure
//! after the first change is rolled back; the result says what happened, for any front
//! end (CLI, REPL) to show.

use crate::diagnostic::Diagnostic;
use crate::exec::apply::means_gone;
use crate::exec::{ApplyFailure, ExecError, ExecEvent, Executor, RollbackOutcome};
use crate::journal::{self, Journal};
use crate::model::Desired;
use crate::plan::{self, describe, Action, Plan};
use crate::state::{self, Record};
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
    text.push_str("undo these by hand (`ip`/`tc`), or fix the cause and run `netscript down` on the script\n");
    Some(text)
}

/// Applies `desired` (checked, error-free) as one transaction.
///
/// Crash safety: the run holds the host lock ([`crate::lock`]), refuses to start while an
/// interrupted transaction's journal exists, journals every operation before it is sent
/// ([`crate::journal`]), and rolls back on SIGINT/SIGTERM/SIGHUP ([`crate::interrupt`]).
pub fn run(desired: &Desired, script: Option<&Path>, on_event: &mut dyn FnMut(&ExecEvent)) -> Outcome {
    if let Err(e) = crate::exec::check_privileges() {
        return Outcome::Setup(e.to_string());
    }
    let what = format!("run {}", script.map(state::script_key).unwrap_or_else(|| "<stdin>".into()));
    let _lock = match crate::lock::acquire(&what, &mut crate::lock::tell_waiting) {
        Ok(lock) => lock,
        Err(e) => return Outcome::Setup(e.to_string()),
    };
    if let Err(e) = journal::refuse_if_pending() {
        return Outcome::Setup(e);
    }
    let signals = crate::interrupt::Guard::arm();
    let previous = match crate::timing::timed("state load", || script.map(state::load).transpose()) {
        Ok(record) => record.flatten(),
        Err(e) => return Outcome::Setup(e.to_string()),
    };
    let mut exec = match Executor::new() {
        Ok(exec) => exec,
        Err(e) => return Outcome::Setup(format!("cannot start the executor: {e}")),
    };
    let observed = match exec.observe_for_plan(desired) {
        Ok(o) => o,
        Err(e) => return Outcome::Setup(format!("cannot read the current state: {e}")),
    };
    let plan = match crate::timing::timed("plan", || plan::plan(desired, &observed)) {
        Ok(plan) => plan,
        Err(diagnostics) => return Outcome::Refused(diagnostics),
    };
    if let Some(signal) = crate::interrupt::received() {
        return Outcome::Setup(format!("interrupted by {} before any change", crate::interrupt::name(signal)));
    }
    let started = Instant::now();
    let mut summary = Summary::default();
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
        if crate::interrupt::received().is_some() || crate::exec::cancel::requested() {
            // Stopped after the last operation was sent: roll back all of it.
            let rollback = exec.rollback(&plan, &report.completed, &mut journal::with_plan(&mut journal, &plan, on_event));
            return journal_rolled_back(journal, &plan, Vec::new(), rollback);
        }
        // Verify: what the kernel now holds must be what the script declares.
        let verify = exec.observe_for_plan(desired).map_err(|e| e.to_string()).and_then(|o| plan::plan(desired, &o).map_err(|d| format!("{} problem(s)", d.len())));
        let mismatch = match verify {
            Ok(again) if again.ops.is_empty() => None,
            Ok(again) => Some(again.ops.iter().map(|op| (op.origin, describe(&op.action))).collect::<Vec<_>>()),
            Err(e) => Some(vec![(plan.ops[0].origin, format!("re-reading the state failed: {e}"))]),
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
        let results = crate::expectations::check(desired);
        if results.iter().any(|(_, r)| !r.holds) {
            // Rolled back through the journal like any other failure, so that a complete
            // rollback leaves no pending journal behind.
            let rollback = exec.rollback(&plan, &report.completed, &mut journal::with_plan(&mut journal, &plan, on_event));
            let aftermath = match &rollback {
                RollbackOutcome::Complete => "the run was rolled back: the system is as it was",
                RollbackOutcome::Incomplete(_) => "the run was rolled back, but not completely; see below",
            };
            let diagnostics = crate::expectations::unmet(&results, aftermath);
            return journal_rolled_back(journal, &plan, diagnostics, rollback);
        }
        let mut record = previous.clone().unwrap_or_else(|| Record {
            format: state::STATE_FORMAT,
            script: script.map(state::script_key).unwrap_or_default(),
            undo: Vec::new(),
        });
        for &i in &report.completed {
            record.undo.extend(plan.ops[i].undo.iter().cloned());
            summary.undo.extend(plan.ops[i].undo.iter().cloned());
            if is_creation(&plan.ops[i].action) {
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
    }
    if plan.ops.is_empty() {
        let results = crate::expectations::check(desired);
        let unmet = crate::expectations::unmet(&results, "this run changed nothing: the system already held what the script declares");
        if !unmet.is_empty() {
            return Outcome::Failed { diagnostics: unmet, rollback: RollbackOutcome::Complete };
        }
    }
    // Committed: a signal from here on has its default effect (what follows only
    // removes objects of earlier runs, and a re-run or `down` finishes that).
    drop(signals);
    // What an earlier run created and the script no longer declares goes now, after the
    // new state is committed.
    if let (Some(script), Some(_)) = (script, &previous) {
        summary.removed = remove_undeclared(&mut exec, desired, script, on_event);
    }
    summary.elapsed = started.elapsed();
    if plan.ops.is_empty() { Outcome::UpToDate { removed: summary.removed } } else { Outcome::Applied(summary) }
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

fn remove_undeclared(exec: &mut Executor, desired: &Desired, script: &Path, on_event: &mut dyn FnMut(&ExecEvent)) -> usize {
    let Ok(Some(mut record)) = state::load(script) else { return 0 };
    let (keep, stale): (Vec<Action>, Vec<Action>) = record.undo.drain(..).partition(|a| state::declares(desired, a));
    let mut removed = 0;
    let mut left = Vec::new();
    for action in stale.into_iter().rev() {
        on_event(&ExecEvent::Undoing { op: usize::MAX, action: &action });
        match exec.run_action(&action) {
            Ok(()) => removed += 1,
            Err(e) if means_gone(&e) => {}
            Err(e) => {
                eprintln!("netscript: warning: could not remove {}: {e}", describe(&action));
                left.push(action);
            }
        }
    }
    record.undo = keep;
    left.reverse();
    record.undo.extend(left);
    let _ = state::save(script, &record);
    removed
}

#[derive(Debug)]
pub enum DownOutcome {
    NothingRecorded,
    Removed { actions: usize, elapsed: Duration },
    Incomplete { left: Vec<String> },
    Setup(String),
}

/// Removes what runs of `script` created, and restores what they changed.
pub fn down(script: &Path, on_event: &mut dyn FnMut(&ExecEvent)) -> DownOutcome {
    if let Err(e) = crate::exec::check_privileges() {
        return DownOutcome::Setup(e.to_string());
    }
    let _lock = match crate::lock::acquire(&format!("down {}", state::script_key(script)), &mut crate::lock::tell_waiting) {
        Ok(lock) => lock,
        Err(e) => return DownOutcome::Setup(e.to_string()),
    };
    if let Err(e) = journal::refuse_if_pending() {
        return DownOutcome::Setup(e);
    }
    let mut record = match crate::timing::timed("state load", || state::load(script)) {
        Ok(Some(record)) => record,
        Ok(None) => return DownOutcome::NothingRecorded,
        Err(e) => return DownOutcome::Setup(e.to_string()),
    };
    let mut exec = match Executor::new() {
        Ok(exec) => exec,
        Err(e) => return DownOutcome::Setup(format!("cannot start the executor: {e}")),
    };
    let started = Instant::now();
    let mut done = 0;
    let mut failed = Vec::new();
    // Backwards, with namespace deletions in parallel (exec::teardown).
    for (action, result) in exec.undo_in_reverse(std::mem::take(&mut record.undo), on_event) {
        match result {
            Ok(()) => done += 1,
            Err(e) if means_gone(&e) => {}
            Err(e) => failed.push((action, e)),
        }
    }
    // Programs this executor detached are freed once it lets go of them; then their
    // labels can go too.
    drop(exec);
    crate::exec::bpf::prune_labels();
    if failed.is_empty() {
        let _ = crate::timing::timed("state save", || state::save(script, &record));
        return DownOutcome::Removed { actions: done, elapsed: started.elapsed() };
    }
    let left = failed.iter().map(|(a, e)| format!("{} ({e})", describe(a))).collect();
    record.undo = failed.into_iter().rev().map(|(a, _)| a).collect();
    let _ = state::save(script, &record);
    DownOutcome::Incomplete { left }
}
