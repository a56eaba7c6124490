//! `netscript run` and `netscript down`.

use super::{exit, load_and_check, Output};
use crate::exec::ExecEvent;
use crate::plan::describe;
use crate::source::SourceMap;
use crate::transaction::{self, DownOutcome, Outcome};
use std::io::Write;
use std::path::Path;

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

pub(crate) fn events(out: &Output) -> impl FnMut(&ExecEvent) + '_ {
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

/// `record`: the name the run is recorded under (see `cli::record_name`).
pub fn run(out: &Output, path: &Path, record: Option<&Path>) -> i32 {
    let mut sources = SourceMap::new();
    let Some(checked) = load_and_check(out, &mut sources, path) else { return exit::SCRIPT_ERRORS };
    let outcome = transaction::run(&checked.desired, record, &mut events(out));
    let code = report(out, &sources, outcome);
    interrupted(code)
}

/// A run stopped by a signal and rolled back exits with 128 + the signal's number.
pub(super) fn interrupted(code: i32) -> i32 {
    match crate::interrupt::received() {
        Some(signal) if code == exit::RUN_FAILED => {
            eprintln!("interrupted by {}: everything this run had changed was rolled back", crate::interrupt::name(signal));
            crate::interrupt::exit_code(signal)
        }
        _ => code,
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

/// `down --dry-run`: what `down` would remove and give back.
pub fn down_dry_run(out: &Output, path: &Path, format: super::args::Format) -> i32 {
    let key = crate::state::script_key(path);
    match crate::state::load(path) {
        Ok(Some(_)) => {}
        Ok(None) => {
            eprintln!("nothing to do: no run of {key} is recorded");
            return exit::OK;
        }
        Err(e) => {
            eprintln!("netscript: {e}");
            return exit::RUN_FAILED;
        }
    }
    let nothing = crate::model::Desired::default();
    let planned = crate::exec::Executor::new().map_err(|e| Outcome::Setup(e.to_string())).and_then(|mut exec| transaction::plan_live(&mut exec, &nothing, Some(path)));
    let plan = match planned {
        Ok(p) => p.plan,
        Err(outcome) => return report(out, &SourceMap::new(), outcome),
    };
    let sources = SourceMap::new();
    let text = match format {
        super::args::Format::Text => crate::plan::render_text(&plan, &nothing, &sources),
        super::args::Format::Json => crate::plan::render_json(&plan, &nothing, &sources),
        super::args::Format::Dot => crate::plan::render_dot(&plan, &sources),
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    exit::OK
}

pub fn down(out: &Output, path: &Path) -> i32 {
    let key = crate::state::script_key(path);
    if !out.quiet && !path.exists() && !key.starts_with(crate::state::STDIN_PREFIX) {
        eprintln!("{} no longer exists: removing what the runs recorded for {key}", path.display());
    }
    match transaction::down(path, &mut events(out)) {
        DownOutcome::NothingRecorded => {
            if !out.quiet {
                eprintln!("nothing to do: no run of {key} is recorded");
            }
            exit::OK
        }
        DownOutcome::Removed { actions, elapsed } => {
            if !out.quiet {
                eprintln!("removed: {actions} operation(s) undone in {elapsed:.0?}");
            }
            exit::OK
        }
        DownOutcome::Failed { diagnostics, rollback } => {
            // `down` has no script text to point into: the diagnostics' words alone.
            for d in &diagnostics {
                eprintln!("netscript: error: {} [{}]", d.message, d.code);
                if let Some(help) = &d.help {
                    eprintln!("  help: {}", help.replace('\n', "\n        "));
                }
            }
            match transaction::leftover_text(&rollback) {
                None => {
                    eprintln!("netscript: `down` failed and was rolled back: everything is as it was");
                    exit::RUN_FAILED
                }
                Some(text) => {
                    eprint!("{text}");
                    exit::ROLLBACK_INCOMPLETE
                }
            }
        }
        DownOutcome::Setup(message) => {
            eprintln!("netscript: {message}");
            exit::RUN_FAILED
        }
    }
}
