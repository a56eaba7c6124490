//! SIGINT, SIGTERM and SIGHUP during a transaction.
//!
//! While a [`Guard`] lives, these signals do not kill the process: the first one is
//! remembered ([`received`]) and cancels the apply ([`crate::exec::cancel`]): no new
//! operation is sent, those in flight finish, everything this run changed is rolled
//! back, and the CLI exits with 128 + the signal number (130, 143, 129). A further
//! signal during that rollback only prints that netscript is finishing the rollback.
//! Without a guard (before the first transaction, between REPL transactions) the
//! signals keep their default action (signal-hook's emulation of it).
//!
//! The handlers are installed once per process: an async-signal-safe flag store in the
//! handler, and a thread (signal-hook's iterator) that does the printing.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};

/// Signals that roll a transaction back.
pub const SIGNALS: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

static RECEIVED: AtomicI32 = AtomicI32::new(0);
static ROLLING_BACK: AtomicBool = AtomicBool::new(false);
static INSTALLED: OnceLock<Result<Arc<AtomicBool>, String>> = OnceLock::new();

pub fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// The first signal received while the current guard lives.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// The exit code for a run stopped by `signal`: 128 + its number.
pub fn exit_code(signal: i32) -> i32 {
    128 + signal
}

/// Says that the rollback has begun (a further signal then says netscript is finishing).
pub fn rolling_back(on: bool) {
    ROLLING_BACK.store(on, Ordering::SeqCst);
}

fn install() -> Result<Arc<AtomicBool>, String> {
    // `passthrough` true: the default action (terminate) runs as if netscript had no
    // handler. It is registered first, so it runs before the iterator's handler.
    let passthrough = Arc::new(AtomicBool::new(true));
    for s in SIGNALS {
        signal_hook::flag::register_conditional_default(s, passthrough.clone()).map_err(|e| e.to_string())?;
    }
    let mut signals = signal_hook::iterator::Signals::new(SIGNALS).map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("netscript-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                    crate::exec::cancel::request();
                    eprintln!("netscript: {} received: sending nothing more, rolling back what this run changed", name(signal));
                } else if ROLLING_BACK.load(Ordering::SeqCst) {
                    eprintln!("netscript: {} received: still rolling back, finishing it so that the system is left as it was", name(signal));
                } else {
                    eprintln!("netscript: {} received: already stopping", name(signal));
                }
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(passthrough)
}

/// Holds the signals for the duration of a transaction.
#[derive(Debug)]
pub struct Guard {
    passthrough: Option<Arc<AtomicBool>>,
}

impl Guard {
    /// Starts catching the signals; clears what an earlier guard received. If the
    /// handlers cannot be installed, signals keep their default action (reported on
    /// stderr once).
    pub fn arm() -> Guard {
        RECEIVED.store(0, Ordering::SeqCst);
        ROLLING_BACK.store(false, Ordering::SeqCst);
        crate::exec::cancel::reset();
        match INSTALLED.get_or_init(install) {
            Ok(passthrough) => {
                passthrough.store(false, Ordering::SeqCst);
                Guard { passthrough: Some(passthrough.clone()) }
            }
            Err(e) => {
                eprintln!("netscript: warning: cannot handle signals ({e}); an interrupted run will need `netscript recover`");
                Guard { passthrough: None }
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        ROLLING_BACK.store(false, Ordering::SeqCst);
        if let Some(p) = &self.passthrough {
            p.store(true, Ordering::SeqCst);
        }
    }
}
