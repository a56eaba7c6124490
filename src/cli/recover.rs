//! `netscript recover`.

use super::{exit, Output};
use crate::run::recover::{self, RecoverError, RecoverOutcome, Recovered};

pub fn recover(out: &Output, forget: bool) -> i32 {
    if forget {
        return match recover::forget() {
            Ok(paths) => {
                for p in &paths {
                    eprintln!("forgot {} (nothing was undone)", p.display());
                }
                if paths.is_empty() && !out.quiet {
                    eprintln!("nothing to forget: no interrupted transaction");
                }
                exit::OK
            }
            Err(e) => {
                eprintln!("netscript: {e}");
                exit::RUN_FAILED
            }
        };
    }
    let mut events = crate::console::events(out);
    match recover::recover(&mut events) {
        RecoverOutcome::Nothing => {
            if !out.quiet {
                eprintln!("nothing to recover: no interrupted transaction");
            }
            exit::OK
        }
        RecoverOutcome::Setup(message) => {
            eprintln!("netscript: {message}");
            exit::RUN_FAILED
        }
        RecoverOutcome::Journals(results) => {
            let mut code = exit::OK;
            for r in results {
                let script = r.script.as_deref().unwrap_or("<stdin>");
                match r.result {
                    Ok(done) => {
                        if !out.quiet {
                            match done {
                                Recovered::Empty => eprintln!("{}: nothing had been changed; journal removed", r.path.display()),
                                Recovered::RolledBack { undone } => eprintln!("rolled back the interrupted run of {script}: {undone} operation(s) undone"),
                                Recovered::RolledForward => eprintln!("the interrupted run of {script} had committed: its record was saved"),
                            }
                        }
                    }
                    Err(RecoverError::Incomplete(left)) => {
                        eprintln!("netscript: could not undo all of the interrupted run of {script}; still left:");
                        for l in left {
                            eprintln!("  - {l}");
                        }
                        eprintln!("fix the cause and run `netscript recover` again (or undo by hand, then `netscript recover --forget`)");
                        code = code.max(exit::ROLLBACK_INCOMPLETE);
                    }
                    Err(e) => {
                        eprintln!("netscript: {e}");
                        code = code.max(exit::RUN_FAILED);
                    }
                }
            }
            code
        }
    }
}
