//! The host-wide lock: one netscript transaction (`run`, `down`, `recover`, REPL
//! `:apply`) at a time.
//!
//! An exclusive `flock(2)` on `/run/netscript/lock` (under [`crate::run::state::run_dir`]).
//! The holder writes its pid and what it does into the file, for the message of a
//! process that waits. The kernel drops a flock when the last descriptor of it closes,
//! so a holder that dies (even by SIGKILL) releases the lock at once: a lock file left
//! by a dead process is stale by construction and never blocks anyone (the descriptor is
//! close-on-exec, so no child can keep it). A waiter tries again every 50 ms, up to the
//! wait set with `--wait` ([`set_wait`]; [`DEFAULT_WAIT`] by default).
//!
//! The lock file has mode 0600 in a 0700 directory owned by root ([`secure_dir`]):
//! another local user cannot open it, so cannot hold the lock and block every run.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
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
    crate::run::state::run_dir().join("lock")
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

/// Creates the run directory owned by us with mode 0700, or makes an existing one so.
///
/// Any local user who can open the lock file can `flock` it (a read-only descriptor
/// suffices) and so block every transaction; records and journals describe the host's
/// configuration. In a 0700 directory nobody else can open either. A directory owned by
/// someone else is refused: its owner could swap the files under us.
pub fn secure_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    match std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a directory (a symbolic link or a file is refused)"));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("owned by uid {}, not by uid {me}: refused, as its owner could change what netscript reads there; remove it", meta.uid()),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Opens (creating it) a file only its owner may open: mode 0600, no symbolic link
/// followed. A file that another user owns, or that has a wider mode (left by an older
/// netscript), is replaced by a fresh one rather than fixed: whoever opened it already
/// keeps their descriptor, and with it the power to `flock` it.
fn open_private(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let open = || OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).custom_flags(nix::libc::O_NOFOLLOW).open(path);
    for _ in 0..10 {
        let file = open()?;
        let meta = file.metadata()?;
        if meta.uid() == nix::unistd::geteuid().as_raw() && meta.mode() & 0o077 == 0 {
            return Ok(file);
        }
        // Replace atomically, and only the file we looked at (another netscript may
        // have replaced it already).
        let fresh = path.with_extension(format!("new.{}", std::process::id()));
        let _ = std::fs::remove_file(&fresh);
        OpenOptions::new().write(true).create_new(true).mode(0o600).open(&fresh)?;
        if is_current(&file, path) {
            std::fs::rename(&fresh, path)?;
        } else {
            std::fs::remove_file(&fresh)?;
        }
    }
    Err(std::io::Error::other("the lock file keeps being replaced"))
}

/// Removes `*.tmp.PID` files a state save left when it failed (a full disk) or was
/// killed: only a transaction holding the lock writes them, so with the lock held, any
/// that exists is stale.
fn remove_stale_temporaries() {
    let Ok(entries) = std::fs::read_dir(crate::run::state::run_dir().join("state")) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().rsplit_once(".tmp.").is_some_and(|(_, pid)| pid.parse::<u32>().is_ok()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether `path` still names the file `file` has open.
fn is_current(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
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
        secure_dir(dir).map_err(|error| LockError::Io { path: dir.to_path_buf(), error })?;
    }
    let started = Instant::now();
    let mut told = false;
    let mut file = open_private(&path).map_err(err)?;
    let mut lock = loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            // The file may have been replaced since we opened it (an insecure one, see
            // `open_private`): a lock on an unlinked file excludes nobody. Start again.
            Ok(lock) if !is_current(&lock, &path) => {
                drop(lock);
                file = open_private(&path).map_err(err)?;
            }
            Ok(lock) => break lock,
            Err((f, nix::errno::Errno::EWOULDBLOCK)) | Err((f, nix::errno::Errno::EINTR)) => {
                if started.elapsed() >= wait {
                    return Err(LockError::Busy { path, holder: holder(), waited: started.elapsed() });
                }
                if !told {
                    on_wait(&holder(), wait);
                    told = true;
                }
                std::thread::sleep(Duration::from_millis(50).min(wait.saturating_sub(started.elapsed())).max(Duration::from_millis(1)));
                // Reopen: the path may now name a new file (see above).
                file = if is_current(&f, &path) { f } else { open_private(&path).map_err(err)? };
            }
            Err((_, errno)) => return Err(err(std::io::Error::from(errno))),
        }
    };
    remove_stale_temporaries();
    // Who holds it, for waiters' messages (best effort: the lock is what counts).
    let file: &mut File = &mut lock;
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = file.write_all(format!("pid {}: {what}\n", std::process::id()).as_bytes());
    Ok(HostLock { _lock: lock })
}
