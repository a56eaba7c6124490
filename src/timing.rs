//! Phase timings for profiling: with `NETSCRIPT_TIMINGS` set in the environment, each
//! phase wrapped in [`timed`] prints its duration to stderr
//! (`netscript: timing: observe 12.3ms`). Without it, nothing is measured.

/// Runs `f`, printing how long it took when `NETSCRIPT_TIMINGS` is set.
pub fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    if std::env::var_os("NETSCRIPT_TIMINGS").is_none() {
        return f();
    }
    let started = std::time::Instant::now();
    let result = f();
    eprintln!("netscript: timing: {what} {:.1?}", started.elapsed());
    result
}
