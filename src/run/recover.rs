//! `netscript recover`: finishes the transactions that were interrupted (SIGKILL, crash,
//! power cut of the process), from their journals ([`crate::run::journal`]).
//!
//! For each journal, oldest first, under the host lock:
//! * a journal with a commit record (and no abort after it) was committed: its state
//!   record is saved (again; saving is idempotent) and the journal deleted: *rolled
//!   forward*;
//! * otherwise every started operation that was neither refused nor undone is undone,
//!   in reverse start order (dependencies always start after what they depend on
//!   completed, so this respects them), with the executor's rollback: an undo whose
//!   object is already gone counts as done. Each operation fully undone gets an
//!   `undone` record, so an interrupted recovery resumes where it stopped, and redoing
//!   an undo that was not recorded is harmless. When all is undone the journal is
//!   deleted: *rolled back*. The state files are not touched: an uncommitted transaction
//!   never changed them.
//!
//! A journal that cannot be read (damaged, foreign, newer format) is left in place and
//! reported; nothing is undone on a guess. `--forget` deletes journals without undoing
//! anything, for after a by-hand cleanup.

use crate::exec::{ExecEvent, Executor, RollbackOutcome};
use crate::run::journal::{self, Journal, JournalError};
use crate::plan::{describe, Op, Plan};
use crate::run::state;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub enum Recovered {
    /// Nothing had been started (an empty or header-only journal).
    Empty,
    /// Undone: the system is as before that transaction.
    RolledBack { undone: usize },
    /// It had committed: its ownership record was saved.
    RolledForward,
}

#[derive(Debug)]
pub struct JournalResult {
    pub path: PathBuf,
    pub script: Option<String>,
    pub result: Result<Recovered, RecoverError>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error("{0}")]
    Journal(#[from] JournalError),
    #[error("{0}")]
    State(#[from] state::StateError),
    #[error("cannot start the executor: {0}")]
    Executor(String),
    /// Undo actions the kernel refused: left to do (the journal is kept).
    #[error("could not undo {} operation(s)", .0.len())]
    Incomplete(Vec<String>),
}

#[derive(Debug)]
pub enum RecoverOutcome {
    /// No journal: nothing was interrupted.
    Nothing,
    Journals(Vec<JournalResult>),
    /// Could not start (privileges, lock, listing the journals).
    Setup(String),
}

/// Recovers every interrupted transaction (see the module documentation).
pub fn recover(on_event: &mut dyn FnMut(&ExecEvent)) -> RecoverOutcome {
    if let Err(e) = crate::exec::check_privileges() {
        return RecoverOutcome::Setup(e.to_string());
    }
    let _lock = match crate::run::lock::acquire("recover", &mut crate::run::lock::tell_waiting) {
        Ok(lock) => lock,
        Err(e) => return RecoverOutcome::Setup(e.to_string()),
    };
    let paths = match journal::pending() {
        Ok(p) => p,
        Err(e) => return RecoverOutcome::Setup(e.to_string()),
    };
    if paths.is_empty() {
        return RecoverOutcome::Nothing;
    }
    let mut exec = None;
    let results = paths
        .into_iter()
        .map(|path| {
            let (script, result) = match journal::read(&path) {
                Ok(j) => (j.header.as_ref().and_then(|h| h.script.clone()), recover_one(&j, &mut exec, on_event)),
                Err(e) => (None, Err(e.into())),
            };
            JournalResult { path, script, result }
        })
        .collect();
    RecoverOutcome::Journals(results)
}

fn recover_one(j: &journal::Recovered, exec: &mut Option<Executor>, on_event: &mut dyn FnMut(&ExecEvent)) -> Result<Recovered, RecoverError> {
    if let Some(state) = j.committed() {
        if let Some(record) = state {
            state::save(Path::new(&record.script), record)?;
        }
        journal::remove(&j.path)?;
        return Ok(Recovered::RolledForward);
    }
    let pending = j.to_undo();
    if pending.is_empty() {
        journal::remove(&j.path)?;
        return Ok(if j.header.is_none() || j.entries.is_empty() { Recovered::Empty } else { Recovered::RolledBack { undone: 0 } });
    }
    let exec = match exec {
        Some(e) => e,
        None => exec.insert(Executor::new().map_err(|e| RecoverError::Executor(e.to_string()))?),
    };
    let mut writer = Journal::reopen(j)?;
    // The started operations as a plan of their own (indexes into `pending`).
    let plan = Plan { ops: pending.iter().map(|p| Op { action: p.action.clone(), origin: Default::default(), deps: Vec::new(), undo: p.undo.clone(), removes: None }).collect(), ..Default::default() };
    let order: Vec<usize> = (0..pending.len()).collect();
    let outcome = exec.rollback(&plan, &order, &mut |event: &ExecEvent| {
        let i = journal::event_op(event);
        if let Some(p) = pending.get(i) {
            writer.record(event, p.op, &p.undo);
        }
        on_event(event)
    });
    if let Some(e) = writer.take_error() {
        return Err(e.into());
    }
    match outcome {
        RollbackOutcome::Complete => {
            writer.finish()?;
            Ok(Recovered::RolledBack { undone: pending.len() })
        }
        RollbackOutcome::Incomplete(failures) => Err(RecoverError::Incomplete(failures.iter().map(|f| format!("{} ({})", describe(&f.action), f.error)).collect())),
    }
}

/// Deletes every journal without undoing anything; returns what was deleted.
pub fn forget() -> Result<Vec<PathBuf>, String> {
    let _lock = crate::run::lock::acquire("recover --forget", &mut crate::run::lock::tell_waiting).map_err(|e| e.to_string())?;
    let paths = journal::pending().map_err(|e| e.to_string())?;
    for p in &paths {
        journal::remove(p).map_err(|e| e.to_string())?;
    }
    Ok(paths)
}
