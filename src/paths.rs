//! Where netscript keeps its files on a host: records, journals, the lock and the notes
//! of loaded eBPF programs, all under one directory. Below every stage, so that the
//! executor (programs) and the run machinery (records) agree without depending on each
//! other.

use std::path::PathBuf;

/// Where records live; `NETSCRIPT_RUN_DIR` moves it (tests, unprivileged tools).
pub fn run_dir() -> PathBuf {
    std::env::var_os("NETSCRIPT_RUN_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/run/netscript"))
}
