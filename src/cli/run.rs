//! `netscript run` and `netscript down`.

use super::{exit, load_and_check, Output};
use crate::console::{events, report};
use crate::source::SourceMap;
use crate::run::transaction::{self, DownOutcome, Outcome};
use std::io::Write;
use std::path::Path;

/// A run stopped by a signal and rolled back exits with 128 + the signal's number.
pub(super) fn interrupted(code: i32) -> i32 {
    match crate::run::interrupt::received() {
        Some(signal) if code == exit::RUN_FAILED => {
            eprintln!("interrupted by {}: everything this run had changed was rolled back", crate::run::interrupt::name(signal));
            crate::run::interrupt::exit_code(signal)
        }
        _ => code,
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

/// `down --dry-run`: what `down` would remove and give back.
pub fn down_dry_run(out: &Output, path: &Path, format: super::args::Format) -> i32 {
    let key = crate::run::state::script_key(path);
    match crate::run::state::load(path) {
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
        super::args::Format::Dot => crate::plan::render_dot(&plan, &nothing, &sources),
        super::args::Format::Bpf => crate::plan::render_bpf::render_bpf(&nothing, &sources),
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    exit::OK
}

pub fn down(out: &Output, path: &Path) -> i32 {
    let key = crate::run::state::script_key(path);
    if !out.quiet && !path.exists() && !key.starts_with(crate::run::state::STDIN_PREFIX) {
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
