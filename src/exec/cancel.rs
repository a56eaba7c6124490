//! Cancellation of a running [`super::Executor::apply`]: once requested (a signal, a
//! journal that cannot be written), the apply loop starts no new operation, waits for
//! those in flight, and rolls back like after a kernel refusal
//! ([`super::ExecError::Interrupted`]). Process-wide: one transaction runs at a time
//! (the host lock, the run machinery's host lock).

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks the running apply to stop (async-signal-safe: one atomic store).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Clears a request (at the start of a transaction).
pub fn reset() {
    REQUESTED.store(false, Ordering::SeqCst);
}
