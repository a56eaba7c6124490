//! Running a record's undo actions backwards (`netscript down`), with namespace
//! deletions in parallel.
//!
//! Deleting a named namespace is `umount2(MNT_DETACH)` of its bind mount plus an
//! `unlink`; the unmount waits for an RCU grace period (~0.7 ms) after dropping the
//! mount lock. One at a time, 1000 namespaces cost 1000 grace periods; from several
//! threads the waits overlap. Consecutive deletions of namespaces are independent of
//! each other, so each such run of the list goes to a pool of threads; every other
//! action keeps its place in the order.

use super::{ExecError, ExecEvent, Inner, netns};
use crate::model::HOST;
use crate::plan::Action;

fn is_deletion(action: Option<&Action>) -> bool {
    matches!(action, Some(Action::DeleteNetns { ns }) if ns != HOST)
}

/// Threads deleting namespaces at once. The work is waiting (grace periods), not CPU.
const DELETE_THREADS: usize = 16;

/// Runs `undo` (undo actions in the order their operations were applied) in reverse
/// order. Returns every action with its result, in the order tried; nothing stops at a
/// failure. `on_event` sees `Undoing` before each action.
pub(crate) async fn undo_in_reverse(inner: &Inner, undo: Vec<Action>, on_event: &mut dyn FnMut(&ExecEvent)) -> Vec<(Action, Result<(), ExecError>)> {
    let mut results = Vec::with_capacity(undo.len());
    let mut rest = undo;
    while let Some(action) = rest.pop() {
        if !is_deletion(Some(&action)) {
            on_event(&ExecEvent::Undoing { op: usize::MAX, action: &action });
            let result = inner.run_action(&action).await.map_err(|e| e.in_context_of(&action));
            results.push((action, result));
            continue;
        }
        // This deletion and every deletion right before it in the record.
        let mut batch = vec![action];
        while is_deletion(rest.last()) {
            batch.push(rest.pop().expect("checked"));
        }
        for action in &batch {
            on_event(&ExecEvent::Undoing { op: usize::MAX, action });
        }
        let names: Vec<String> = batch.iter().map(|a| a.namespace().to_string()).collect();
        for name in &names {
            inner.forget_netns(name).await;
        }
        let outcomes = delete_all(&names);
        results.extend(batch.into_iter().zip(outcomes));
    }
    results
}

/// Deletes every namespace of `names` (from a few threads); results in `names` order.
fn delete_all(names: &[String]) -> Vec<Result<(), ExecError>> {
    if names.len() == 1 {
        return vec![netns::delete(&names[0])];
    }
    let threads = DELETE_THREADS.min(names.len());
    let chunk = names.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = names.chunks(chunk).map(|part| (part, scope.spawn(move || part.iter().map(|n| netns::delete(n)).collect::<Vec<_>>()))).collect();
        handles
            .into_iter()
            .flat_map(|(part, h)| {
                h.join().unwrap_or_else(|_| part.iter().map(|_| Err(ExecError::Protocol("a namespace deletion thread panicked".into()))).collect())
            })
            .collect()
    })
}
