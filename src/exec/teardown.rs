//! Running a record's undo actions backwards (`netscript down`), with runs of namespace
//! deletions done as one batch.
//!
//! Deleting a named namespace is `umount2(MNT_DETACH)` of its bind mount plus an
//! `unlink`, as `ip netns del` does. Two things make that slow in bulk:
//! - every unmount waits for an expedited RCU grace period; callers waiting at the same
//!   time share one, so many threads help for large batches (and cost their start-up
//!   for small ones);
//! - the unmount drops the namespace's last reference, and the kernel starts destroying
//!   it on a workqueue (`cleanup_net`), which then competes with the remaining unmounts.
//!   So every namespace of the batch is opened first and held until all are unmounted.
//!
//! Measured on this 2-core machine (min–max of 5, a chain of veth-joined namespaces, a C
//! program doing only the deletions): 50 namespaces one after another 2.3–4.8 ms,
//! holding them 1.1–2.1 ms, 16 threads holding 2.9–5.9 ms; 200: 5.0–8.1, 4.5–6.0,
//! 6.8–8.4 ms; 1000: 20–535, 21–253, 24–32 ms. In `netscript down` of 1000, 16 threads
//! took 40–97 ms and 32 threads 30–42 ms over the same period (expedited grace periods
//! are slow whenever the other CPU is busy, so single runs vary with the machine).
//! The kernel's destruction itself is the same either way and happens after `down`
//! returns, as it does after `ip netns del`.

use super::{ExecError, ExecEvent, Inner, netns};
use crate::model::HOST;
use crate::plan::Action;

fn is_deletion(action: Option<&Action>) -> bool {
    matches!(action, Some(Action::DeleteNetns { ns }) if ns != HOST)
}

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

/// From this many namespaces on, a batch is unmounted from [`DELETE_THREADS`] threads.
const PARALLEL_FROM: usize = 500;
/// Threads unmounting at once in a large batch (they mostly wait for grace periods).
const DELETE_THREADS: usize = 32;

/// Deletes every namespace of `names`; results in `names` order. Each is held open until
/// all are unmounted (see the module comment).
fn delete_all(names: &[String]) -> Vec<Result<(), ExecError>> {
    let held: Vec<_> = if raise_open_file_limit(names.len()) { names.iter().filter_map(|n| netns::hold(n)).collect() } else { Vec::new() };
    let results = if names.len() < PARALLEL_FROM {
        names.iter().map(|n| netns::delete(n)).collect()
    } else {
        let chunk = names.len().div_ceil(DELETE_THREADS);
        std::thread::scope(|scope| {
            let handles: Vec<_> = names.chunks(chunk).map(|part| (part, scope.spawn(move || part.iter().map(|n| netns::delete(n)).collect::<Vec<_>>()))).collect();
            handles
                .into_iter()
                .flat_map(|(part, h)| {
                    h.join().unwrap_or_else(|_| part.iter().map(|_| Err(ExecError::Protocol("a namespace deletion thread panicked".into()))).collect())
                })
                .collect()
        })
    };
    drop(held);
    results
}

/// Makes room for `wanted` more open files (the soft limit is often 1024; the hard one
/// much higher). False when there is not, and then nothing should be held open.
fn raise_open_file_limit(wanted: usize) -> bool {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    // Descriptors the process already uses (netlink sockets, the lock, stdio) and a margin.
    const SPARE: u64 = 256;
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else { return false };
    let needed = wanted as u64 + SPARE;
    if soft >= needed {
        return true;
    }
    needed <= hard && setrlimit(Resource::RLIMIT_NOFILE, needed, hard).is_ok()
}
