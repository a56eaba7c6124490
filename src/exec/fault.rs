//! Fault injection for the tests: the one place where the apply loop runs an operation
//! ([`run_op`]), and where a debug build can be told to make that operation go wrong.
//!
//! # Only in debug builds
//!
//! The hooks exist when `debug_assertions` is on, which is the profile `cargo build` and
//! `cargo test` use (the tests drive `target/debug/netscript`); a release build compiles
//! [`run_op`] to a plain call and never reads these variables. `debug_assertions` rather
//! than a cargo feature: the test binaries need no extra flag (`cargo test` as it is), and
//! a feature could be switched on in a release build by `--features` or by a dependent
//! crate's feature unification, where a release profile has no debug assertions.
//!
//! # The variables (each does nothing unless set; read once per process)
//!
//! Operations are counted from 0 in the order they reach the kernel, across the process
//! (a `run` applies one plan).
//!
//! * `NETSCRIPT_FAULT_AFTER_OPS=N`: the first N operations run; operation N is refused
//!   without being sent, with `EIO` and an extended-ack message naming this hook. The
//!   transaction sees a kernel refusal like any other (a `failed` journal record, a
//!   rollback, exit 3).
//! * `NETSCRIPT_FAULT_CLASH_AFTER_OPS=N`: if operation N adds a namespace, link,
//!   address, route or rule, it is run twice: once by this hook, as another program
//!   making the same object just before netscript would (outside the transaction and its
//!   journal), then by netscript, which the kernel refuses (`EEXIST`). The object the
//!   other program made must survive the rollback. Any other operation N runs as usual.
//! * `NETSCRIPT_FAULT_REVERT_AFTER_OPS=N`: operation N runs and succeeds, then its undo
//!   actions run behind the transaction's back, as another program changing the system
//!   between netscript's apply and its verification would. The verification must see it
//!   (`verification_failed`) and roll back.
//! * `NETSCRIPT_FAULT_UNDO_AFTER_UNDOS=N`: in the rollbacks of this process, the first N
//!   undo actions sent run; undo action N is refused without being sent (`EIO`), as a
//!   kernel refusing an undo would. The rollback goes on with the others and reports the
//!   one it could not do (exit 4); the journal stays for `netscript recover`.
//! * `NETSCRIPT_TEST_SERIAL_OPS=1`: one operation in the kernel at a time, in the order
//!   the apply loop started them (its queue's order, which depends on the plan only):
//!   the journal's records come in the same order on every run, so a crash test's kill
//!   points are the same on every run.
//!
//! Each injected fault prints one `netscript: test fault: …` line to stderr.

use super::{ExecError, Inner};
use crate::plan::Plan;

pub const FAIL_ENV: &str = "NETSCRIPT_FAULT_AFTER_OPS";
pub const CLASH_ENV: &str = "NETSCRIPT_FAULT_CLASH_AFTER_OPS";
pub const REVERT_ENV: &str = "NETSCRIPT_FAULT_REVERT_AFTER_OPS";
pub const UNDO_FAIL_ENV: &str = "NETSCRIPT_FAULT_UNDO_AFTER_UNDOS";
pub const SERIAL_ENV: &str = "NETSCRIPT_TEST_SERIAL_OPS";

/// Runs operation `i` of `plan` (what the apply loop sends for it), with the fault this
/// process was told to inject, if any.
#[cfg(not(debug_assertions))]
pub(crate) async fn run_op(inner: &Inner, plan: &Plan, i: usize) -> Result<(), ExecError> {
    inner.run_action(&plan.ops[i].action).await
}

/// Runs operation `i` of `plan` (what the apply loop sends for it), with the fault this
/// process was told to inject, if any.
#[cfg(debug_assertions)]
pub(crate) async fn run_op(inner: &Inner, plan: &Plan, i: usize) -> Result<(), ExecError> {
    hooks::run_op(inner, plan, i).await
}

/// Sends one undo action of a rollback, with the fault this process was told to inject.
#[cfg(not(debug_assertions))]
pub(crate) async fn run_undo(inner: &Inner, action: &crate::plan::Action) -> Result<(), ExecError> {
    inner.run_action(action).await
}

/// Sends one undo action of a rollback, with the fault this process was told to inject.
#[cfg(debug_assertions)]
pub(crate) async fn run_undo(inner: &Inner, action: &crate::plan::Action) -> Result<(), ExecError> {
    hooks::run_undo(inner, action).await
}

#[cfg(debug_assertions)]
mod hooks {
    use super::*;
    use crate::exec::KernelError;
    use crate::plan::{describe, Action};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug, Default)]
    struct Faults {
        fail: Option<usize>,
        clash: Option<usize>,
        revert: Option<usize>,
        undo_fail: Option<usize>,
        serial: bool,
    }

    fn faults() -> &'static Faults {
        static FAULTS: OnceLock<Faults> = OnceLock::new();
        FAULTS.get_or_init(|| {
            let num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
            Faults { fail: num(FAIL_ENV), clash: num(CLASH_ENV), revert: num(REVERT_ENV), undo_fail: num(UNDO_FAIL_ENV), serial: std::env::var_os(SERIAL_ENV).is_some() }
        })
    }

    /// Operations that reached [`run_op`] so far in this process.
    static SENT: AtomicUsize = AtomicUsize::new(0);
    /// Undo actions of rollbacks that reached [`run_undo`] so far in this process.
    static UNDOS_SENT: AtomicUsize = AtomicUsize::new(0);
    /// Held while an operation is in the kernel, in serial mode (tokio's mutex is fair:
    /// waiters get it in the order they asked).
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    fn injected(what: &str) -> ExecError {
        let mut error = KernelError::new(nix::libc::EIO, Some(format!("fault injected by {what} (a test hook of debug builds)")));
        error.meaning = "injected fault".into();
        ExecError::Kernel(error)
    }

    pub(super) async fn run_op(inner: &Inner, plan: &Plan, i: usize) -> Result<(), ExecError> {
        let f = faults();
        let _turn = if f.serial { Some(ONE_AT_A_TIME.lock().await) } else { None };
        let n = SENT.fetch_add(1, Ordering::SeqCst);
        let op = &plan.ops[i];
        if f.fail == Some(n) {
            eprintln!("netscript: test fault: refusing operation {i} ({}) without sending it", describe(&op.action));
            return Err(injected(FAIL_ENV));
        }
        let adds = matches!(op.action, Action::CreateNetns { .. } | Action::CreateLink { .. } | Action::AddAddr { .. } | Action::AddRoute { .. } | Action::AddRule { .. });
        if f.clash == Some(n) && adds {
            let made = inner.run_action(&op.action).await;
            let json = serde_json::to_string(&op.action).unwrap_or_default();
            eprintln!("netscript: test fault: another program did operation {i} ({}) first: {made:?}; action {json}", describe(&op.action));
        }
        let result = inner.run_action(&op.action).await;
        if f.revert == Some(n) && result.is_ok() {
            for undo in &op.undo {
                let undone = inner.run_action(undo).await;
                eprintln!("netscript: test fault: another program undid operation {i} ({}) behind netscript's back: {undone:?}", describe(undo));
            }
        }
        result
    }

    pub(super) async fn run_undo(inner: &Inner, action: &Action) -> Result<(), ExecError> {
        let n = UNDOS_SENT.fetch_add(1, Ordering::SeqCst);
        if faults().undo_fail == Some(n) {
            eprintln!("netscript: test fault: refusing undo action {n} ({}) without sending it", describe(action));
            return Err(injected(UNDO_FAIL_ENV));
        }
        inner.run_action(action).await
    }
}
