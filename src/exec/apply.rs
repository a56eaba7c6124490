//! Running a plan as one transaction, and undoing it.

use super::{ExecError, Inner};
use crate::plan::action::LinkKind;
use crate::plan::{Action, Plan};
use std::collections::HashMap;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Progress, for `-v` output: every operation starts, then is done or fails; on rollback
/// each undo action is reported.
#[derive(Debug)]
pub enum ExecEvent<'a> {
    Started { op: usize, action: &'a Action },
    Done { op: usize, action: &'a Action },
    Failed { op: usize, action: &'a Action, error: &'a ExecError },
    /// An undo action of operation `op` is about to run.
    Undoing { op: usize, action: &'a Action },
    Undone { op: usize, action: &'a Action },
    UndoFailed { op: usize, action: &'a Action, error: &'a ExecError },
}

/// A plan applied in full.
#[derive(Debug, Clone)]
pub struct ApplyReport {
    /// Every op index, in the order the kernel completed them: what [`super::Executor::rollback`]
    /// takes to undo the run (e.g. after a failed verification).
    pub completed: Vec<usize>,
    pub elapsed: Duration,
}

/// A plan that failed, and what its rollback achieved.
#[derive(Debug, Clone)]
pub struct ApplyFailure {
    /// The first operation the kernel refused; `None` when the executor could not start,
    /// or when the apply was cancelled (`error` is then [`ExecError::Interrupted`]).
    pub failed_op: Option<usize>,
    pub error: ExecError,
    /// Operations that were in flight with it and failed too.
    pub other_failures: Vec<(usize, ExecError)>,
    /// Operations that had completed (completion order) and were then rolled back.
    pub completed: Vec<usize>,
    pub rollback: RollbackOutcome,
}

impl ApplyFailure {
    pub(crate) fn before_start(error: ExecError) -> ApplyFailure {
        ApplyFailure { failed_op: None, error, other_failures: Vec::new(), completed: Vec::new(), rollback: RollbackOutcome::Complete }
    }
}

impl std::fmt::Display for ApplyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.failed_op {
            Some(op) => write!(f, "operation {op} failed: {}", self.error)?,
            None => write!(f, "{}", self.error)?,
        }
        match &self.rollback {
            RollbackOutcome::Complete => write!(f, "; everything was rolled back"),
            RollbackOutcome::Incomplete(failures) => write!(f, "; rollback incomplete: {} undo action(s) failed", failures.len()),
        }
    }
}

/// What a rollback achieved.
#[derive(Debug, Clone)]
pub enum RollbackOutcome {
    /// The state is as before the run.
    Complete,
    /// These undo actions failed (in the order tried): what is left to clean up by hand.
    Incomplete(Vec<UndoFailure>),
}

impl RollbackOutcome {
    pub fn is_complete(&self) -> bool {
        matches!(self, RollbackOutcome::Complete)
    }

    pub(crate) fn could_not_start(plan: &Plan, completed: &[usize], error: ExecError) -> RollbackOutcome {
        let failures = completed
            .iter()
            .rev()
            .filter_map(|&op| plan.ops.get(op).map(|o| (op, o)))
            .flat_map(|(op, o)| o.undo.iter().map(move |a| (op, a)))
            .map(|(op, action)| UndoFailure { op, action: action.clone(), error: error.clone() })
            .collect::<Vec<_>>();
        if failures.is_empty() { RollbackOutcome::Complete } else { RollbackOutcome::Incomplete(failures) }
    }
}

#[derive(Debug, Clone)]
pub struct UndoFailure {
    /// The operation whose undo this is.
    pub op: usize,
    pub action: Action,
    pub error: ExecError,
}

pub(crate) async fn apply(inner: &Inner, plan: &Plan, on_event: &mut dyn FnMut(&ExecEvent)) -> Result<ApplyReport, ApplyFailure> {
    let started = Instant::now();
    let n = plan.ops.len();
    let mut waiting = vec![0usize; n];
    let mut dependents = vec![Vec::new(); n];
    for (i, op) in plan.ops.iter().enumerate() {
        let mut deps = op.deps.clone();
        deps.sort_unstable();
        deps.dedup();
        for d in deps {
            if d >= n || d == i {
                return Err(ApplyFailure::before_start(ExecError::InvalidPlan(format!("operation {i} depends on operation {d}"))));
            }
            waiting[i] += 1;
            dependents[d].push(i);
        }
    }
    let mut ready: VecDeque<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut in_flight = FuturesUnordered::new();
    let mut completed = Vec::with_capacity(n);
    let mut first_failure: Option<(usize, ExecError)> = None;
    let mut other_failures = Vec::new();
    loop {
        // After a failure or a cancellation nothing new starts; what is in flight is
        // waited for.
        if first_failure.is_none() && !super::cancel::requested() {
            while let Some(i) = ready.pop_front() {
                let action = &plan.ops[i].action;
                inner.keep_what_a_deletion_frees(&plan.ops[i]);
                on_event(&ExecEvent::Started { op: i, action });
                in_flight.push(async move { (i, super::fault::run_op(inner, plan, i).await.map_err(|e| e.in_context_of(action))) });
            }
        }
        let Some((i, result)) = in_flight.next().await else { break };
        let action = &plan.ops[i].action;
        // A removal whose object is already gone has reached its goal.
        let result = match result {
            Err(e) if plan.ops[i].removes.is_some() && is_already_gone(action, &e) => Ok(()),
            other => other,
        };
        match result {
            Ok(()) => {
                completed.push(i);
                on_event(&ExecEvent::Done { op: i, action });
                for &d in &dependents[i] {
                    waiting[d] -= 1;
                    if waiting[d] == 0 {
                        ready.push_back(d);
                    }
                }
            }
            Err(error) => {
                on_event(&ExecEvent::Failed { op: i, action, error: &error });
                match first_failure {
                    None => first_failure = Some((i, error)),
                    Some(_) => other_failures.push((i, error)),
                }
            }
        }
    }
    if first_failure.is_none() && completed.len() < n && super::cancel::requested() {
        first_failure = Some((usize::MAX, ExecError::Interrupted));
    }
    if first_failure.is_none() && completed.len() < n {
        let stuck = (0..n).find(|i| waiting[*i] > 0).unwrap_or(0);
        first_failure = Some((stuck, ExecError::InvalidPlan(format!("operation {stuck} is part of a dependency cycle"))));
    }
    match first_failure {
        None => Ok(ApplyReport { completed, elapsed: started.elapsed() }),
        Some((failed, error)) => {
            let rollback = rollback(inner, plan, &completed, on_event).await;
            let failed_op = (failed != usize::MAX).then_some(failed);
            Err(ApplyFailure { failed_op, error, other_failures, completed, rollback })
        }
    }
}

/// Runs the undo actions of `completed` in reverse completion order, each op's own list
/// in its order. One failure does not stop the rest: more of the state is restored, and
/// every failure is reported. An undo that deletes something already gone (ENOENT,
/// ESRCH, ENODEV, EADDRNOTAVAIL, or a namespace that no longer exists) has reached its
/// goal and counts as done: deleting a namespace or a veth end takes other objects with it.
///
/// An undo inside a namespace that this same rollback deletes afterwards is not sent
/// (it is reported as undone): the namespace's deletion removes it, and the kernel
/// destroys a dying namespace's devices in one batch instead of one RCU grace period per
/// deleted link (1000 veths: ~20 s one by one). Only when nothing outside can notice: a
/// veth is skipped only if both its ends are in dying namespaces.
pub(crate) async fn rollback(inner: &Inner, plan: &Plan, completed: &[usize], on_event: &mut dyn FnMut(&ExecEvent)) -> RollbackOutcome {
    let order: Vec<(usize, &Action)> = completed
        .iter()
        .rev()
        .filter_map(|&op| plan.ops.get(op).map(|o| (op, o)))
        .flat_map(|(op, o)| o.undo.iter().map(move |a| (op, a)))
        .collect();
    let mut dies_at: HashMap<&str, usize> = HashMap::new();
    for (pos, (_, action)) in order.iter().enumerate() {
        if let Action::DeleteNetns { ns } = action {
            dies_at.insert(ns.as_str(), pos);
        }
    }
    let dies_after = |ns: &str, pos: usize| dies_at.get(ns).is_some_and(|&at| at > pos);
    let mut failures = Vec::new();
    for (pos, &(op, action)) in order.iter().enumerate() {
        on_event(&ExecEvent::Undoing { op, action });
        if dies_after(action.namespace(), pos) && stays_inside(plan, action, |ns| dies_after(ns, pos)) {
            on_event(&ExecEvent::Undone { op, action });
            continue;
        }
        match super::fault::run_undo(inner, action).await.map_err(|e| e.in_context_of(action)) {
            Ok(()) => on_event(&ExecEvent::Undone { op, action }),
            Err(e) if is_already_gone(action, &e) || is_already_there(action, &e) => on_event(&ExecEvent::Undone { op, action }),
            Err(error) => {
                on_event(&ExecEvent::UndoFailed { op, action, error: &error });
                failures.push(UndoFailure { op, action: action.clone(), error });
            }
        }
    }
    if failures.is_empty() { RollbackOutcome::Complete } else { RollbackOutcome::Incomplete(failures) }
}

/// Whether skipping `action` (its namespace is about to be deleted) is invisible from
/// other namespaces: everything but deleting a veth end is local to its namespace; a
/// veth end is skipped only when the plan made it and its peer's namespace dies too.
fn stays_inside(plan: &Plan, action: &Action, dying: impl Fn(&str) -> bool) -> bool {
    let Action::DeleteLink { ns, name } = action else { return true };
    for o in &plan.ops {
        if let Action::CreateLink { ns: cns, name: cname, kind, .. } = &o.action {
            match kind {
                LinkKind::Veth { peer_ns, peer_name, .. } => {
                    if cns == ns && cname == name {
                        return dying(peer_ns);
                    }
                    if peer_ns == ns && peer_name == name {
                        return dying(cns);
                    }
                }
                _ if cns == ns && cname == name => return true,
                _ => {}
            }
        }
    }
    false
}

/// Whether `error` says the object an action targets does not exist (any more).
pub fn means_gone(error: &ExecError) -> bool {
    use nix::libc::{EADDRNOTAVAIL, ENODEV, ENOENT, ESRCH};
    matches!(error, ExecError::NoSuchNamespace(_)) || matches!(error.errno(), Some(e) if [ENOENT, ESRCH, ENODEV, EADDRNOTAVAIL].contains(&e))
}

/// Whether `error` says the object an undo puts back is there already: the undo of a
/// removal that was journaled as started but never reached the kernel (a SIGKILL between
/// the journal record and the request) finds its object in place.
fn is_already_there(action: &Action, error: &ExecError) -> bool {
    let adds = matches!(
        action,
        Action::CreateNetns { .. }
            | Action::CreateLink { .. }
            | Action::AddAddr { .. }
            | Action::AddRoute { .. }
            | Action::AddRule { .. }
            | Action::AddFilter { .. }
            | Action::AttachBpf { .. }
    );
    adds && error.errno() == Some(nix::libc::EEXIST)
}

fn is_already_gone(action: &Action, error: &ExecError) -> bool {
    let deletes = action.removes_an_object()
        || matches!(
            action,
            Action::DetachBpf { .. }
                | Action::DetachXdp { .. }
                // Putting back a program by id that the kernel has freed meanwhile.
                | Action::AttachBpf { program: crate::plan::action::BpfSource::Loaded { again: None, .. }, .. }
                | Action::AttachXdp { program: crate::plan::action::BpfSource::Loaded { again: None, .. }, .. }
        );
    deletes && means_gone(error)
}
