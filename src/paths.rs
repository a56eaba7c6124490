//! Where netscript keeps its files on a host: records, journals, the lock and the notes
//! of loaded eBPF programs, all under one directory. Below every stage, so that the
//! executor (programs) and the run machinery (records) agree without depending on each
//! other.

use std::path::PathBuf;
use std::sync::Mutex;

/// A directory set by a front end for the rest of the process ([`set_run_dir`]).
static RUN_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Where records live; `NETSCRIPT_RUN_DIR` moves it (tests, unprivileged tools).
pub fn run_dir() -> PathBuf {
    if let Some(dir) = RUN_DIR.lock().unwrap_or_else(|e| e.into_inner()).clone() {
        return dir;
    }
    base_run_dir()
}

/// The host's run directory, whatever [`set_run_dir`] says.
pub fn base_run_dir() -> PathBuf {
    std::env::var_os("NETSCRIPT_RUN_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/run/netscript"))
}

/// Moves this process's run directory (records, journal, lock) to `dir` (`None`: back to
/// the host's). The CNI plugin keeps each attachment's files in a directory of its own,
/// so that pods do not share a lock.
pub fn set_run_dir(dir: Option<PathBuf>) {
    *RUN_DIR.lock().unwrap_or_else(|e| e.into_inner()) = dir;
}
