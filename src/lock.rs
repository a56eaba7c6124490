//! The host-wide lock: one netscript transaction (`run`, `down`, `recover`, REPL
//! `:apply`) at a time.
//!
//! An exclusive `flock(2)` on `/run/netscript/lock` (under [`crate::state::run_dir`]).
//! The holder writes its pid and what it does into the file, for the message of a
//! process that waits. The kernel drops a flock when the last descriptor of it closes,
//! so a holder that dies (even by SIGKILL) releases the lock at once: a lock file left
//! by a dead process is stale by construction and never blocks anyone (the descriptor is
//! close-on-exec, so no child can keep it). A waiter tries again every 50 ms, up to the
//! wait set with `--wait` ([`set_wait`]; [`DEFAULT_WAIT`] by default).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

static WAIT_MS: AtomicU64 = AtomicU64::new(DEFAULT_WAIT.as_millis() as u64);

/// How long later [`acquire`] calls wait for a busy lock (the CLI's `--wait`).
pub fn set_wait(wait: Duration) {
    WAIT_MS.store(wait.as_millis().min(u64::MAX as u128) as u64, Ordering::SeqCst);
}

pub fn wait() -> Duration {
    Duration::from_millis(WAIT_MS.load(Ordering::SeqCst))
}

pub fn path() -> PathBuf {
    crate::state::run_dir().join("lock")
}

/// The lock, held until dropped.
#[derive(Debug)]
pub struct HostLock {
    _lock: nix::fcntl::Flock<File>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open the lock {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("another netscript transaction holds the host lock {path} ({holder}); gave up after waiting {waited:.1?} (see --wait)")]
    Busy { path: PathBuf, holder: String, waited: Duration },
}

/// Who holds the lock, as its holder wrote it ("pid 123: run /x.ns"), and whether that
/// process still runs.
pub fn holder() -> String {
    let mut text = String::new();
    let _ = File::open(path()).and_then(|mut f| f.read_to_string(&mut text));
    let text = text.trim();
    if text.is_empty() {
        return "holder unknown".into();
    }
    let pid = text.strip_prefix("pid ").and_then(|t| t.split(':').next()).and_then(|p| p.parse::<i32>().ok());
    match pid {
        Some(pid) if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() => format!("{text}; that process is gone"),
        _ => text.to_string(),
    }
}

/// The usual `on_wait`: says on stderr what it waits for, and for how long at most.
pub fn tell_waiting(holder: &str, wait: Duration) {
    eprintln!("netscript: waiting for the host lock ({holder}), up to {wait:.1?}");
}

/// Takes the lock for `what` ("run /x.ns"), waiting up to [`wait`]; `on_wait` is called
/// once, with the holder, if it has to wait.
pub fn acquire(what: &str, on_wait: &mut dyn FnMut(&str, Duration)) -> Result<HostLock, LockError> {
    acquire_within(what, wait(), on_wait)
}

pub fn acquire_within(what: &str, wait: Duration, on_wait: &mut dyn FnMut(&str, Duration)) -> Result<HostLock, LockError> {
    use nix::fcntl::{Flock, FlockArg};
    let path = path();
    let err = |error| LockError::Io { path: path.clone(), error };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let started = Instant::now();
    let mut told = false;
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(err)?;
    let mut lock = loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => break lock,
            Err((f, nix::errno::Errno::EWOULDBLOCK)) | Err((f, nix::errno::Errno::EINTR)) => {
                file = f;
                if started.elapsed() >= wait {
                    return Err(LockError::Busy { path, holder: holder(), waited: started.elapsed() });
                }
                if !told {
                    on_wait(&holder(), wait);
                    told = true;
                }
                std::thread::sleep(Duration::from_millis(50).min(wait.saturating_sub(started.elapsed())).max(Duration::from_millis(1)));
            }
            Err((_, errno)) => return Err(err(std::io::Error::from(errno))),
        }
    };
    // Who holds it, for waiters' messages (best effort: the lock is what counts).
    let file: &mut File = &mut lock;
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = file.write_all(format!("pid {}: {what}\n", std::process::id()).as_bytes());
    Ok(HostLock { _lock: lock })
}
