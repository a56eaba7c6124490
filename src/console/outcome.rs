//! A run's progress (a spinner on a terminal, each operation under `-v`) and its outcome
//! as text and an exit code.

use super::{exit, Output};
use crate::exec::ExecEvent;
use crate::plan::describe;
use crate::run::transaction::{self, Outcome};
use crate::source::SourceMap;
use std::io::Write;

/// A spinner with a count, on a terminal only, for runs that take more than a moment.
struct Progress {
    started: std::time::Instant,
    bar: Option<indicatif::ProgressBar>,
    enabled: bool,
    done: u64,
    undone: u64,
}

impl Progress {
    fn new(out: &Output) -> Self {
        use std::io::IsTerminal;
        let enabled = !out.quiet && !out.verbose && std::io::stderr().is_terminal();
        Progress { started: std::time::Instant::now(), bar: None, enabled, done: 0, undone: 0 }
    }

    fn tick(&mut self, event: &ExecEvent) {
        match event {
            ExecEvent::Done { .. } => self.done += 1,
            ExecEvent::Undone { .. } => self.undone += 1,
            _ => return,
        }
        if !self.enabled || self.started.elapsed() < std::time::Duration::from_millis(300) {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
            bar
        });
        let message = match self.undone {
            0 => format!("applying: {} operations done", self.done),
            n => format!("rolling back: {n} operations undone"),
        };
        bar.set_message(message);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

pub fn events(out: &Output) -> impl FnMut(&ExecEvent) + '_ {
    let mut progress = Progress::new(out);
    move |event| {
        progress.tick(event);
        if !out.verbose {
            return;
        }
        let line = match event {
            ExecEvent::Done { action, .. } => format!("  + {}", describe(action)),
            ExecEvent::Failed { action, error, .. } => format!("  ! {}: {error}", describe(action)),
            ExecEvent::Undone { action, .. } => format!("  - undone: {}", describe(action)),
            ExecEvent::UndoFailed { action, error, .. } => format!("  ! could not undo: {}: {error}", describe(action)),
            _ => return,
        };
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

/// Prints a transaction's outcome; returns the exit code.
pub fn report(out: &Output, sources: &SourceMap, outcome: Outcome) -> i32 {
    match outcome {
        Outcome::UpToDate { removed } => {
            if !out.quiet {
                match removed {
                    0 => eprintln!("up to date: nothing to do"),
                    n => eprintln!("up to date; removed {n} object(s) the script no longer declares"),
                }
            }
            exit::OK
        }
        Outcome::Applied(summary) => {
            if !out.quiet {
                eprintln!("{summary}");
            }
            exit::OK
        }
        Outcome::Refused(diagnostics) => {
            out.diagnostics(&diagnostics, sources);
            eprintln!("nothing was changed");
            exit::SCRIPT_ERRORS
        }
        Outcome::Failed { diagnostics, rollback } => {
            out.diagnostics(&diagnostics, sources);
            match transaction::leftover_text(&rollback) {
                None => exit::RUN_FAILED,
                Some(text) => {
                    eprint!("{text}");
                    exit::ROLLBACK_INCOMPLETE
                }
            }
        }
        Outcome::Setup(message) => {
            eprintln!("netscript: {message}");
            eprintln!("nothing was changed");
            exit::RUN_FAILED
        }
        Outcome::Leftover(message) => {
            eprintln!("netscript: {message}");
            exit::ROLLBACK_INCOMPLETE
        }
    }
}

