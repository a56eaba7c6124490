//! Named network namespaces, made exactly as `ip netns add` makes them (a bind mount of
//! the namespace onto `/run/netns/NAME`) but from threads of this process, not from a
//! forked `ip`. Namespace work runs on a small pool of dedicated worker threads: a
//! thread's network namespace is per thread, so a worker can `unshare`/`setns` freely and
//! goes back to the executor's own namespace after every job.

use super::ExecError;
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

/// Where named namespaces live, as for iproute2.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// `/run/netns/NAME`.
pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_RUN_DIR).join(name)
}

/// A namespace name must be a single path component (it becomes a file name).
pub fn check_name(name: &str) -> Result<(), ExecError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(ExecError::InvalidPlan(format!("{name:?} is not a valid namespace name")));
    }
    Ok(())
}

/// Makes `/run/netns` exist and be a shared mount point, as iproute2's `netns_add` does:
/// bind mounts of namespaces made under it then propagate to mount namespaces that were
/// cloned from this one (so `ip netns exec` from another mount namespace sees them).
pub fn ensure_run_dir() -> Result<(), ExecError> {
    match nix::unistd::mkdir(NETNS_RUN_DIR, Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(ExecError::os(format!("cannot create {NETNS_RUN_DIR}"), e)),
    }
    let make_shared = || mount(None::<&str>, NETNS_RUN_DIR, Some("none"), MsFlags::MS_SHARED | MsFlags::MS_REC, None::<&str>);
    match make_shared() {
        Ok(()) => Ok(()),
        // Not a mount point yet: bind it onto itself, then retry.
        Err(Errno::EINVAL) => {
            mount(Some(NETNS_RUN_DIR), NETNS_RUN_DIR, Some("none"), MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
                .map_err(|e| ExecError::os(format!("cannot bind-mount {NETNS_RUN_DIR} onto itself"), e))?;
            make_shared().map_err(|e| ExecError::os(format!("cannot make {NETNS_RUN_DIR} a shared mount"), e))
        }
        Err(e) => Err(ExecError::os(format!("cannot make {NETNS_RUN_DIR} a shared mount"), e)),
    }
}

/// The calling thread's network namespace, as a file descriptor.
pub fn current_thread_netns() -> Result<OwnedFd, ExecError> {
    open("/proc/thread-self/ns/net", OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| ExecError::os("cannot open /proc/thread-self/ns/net", e))
}

/// Creates namespace `name` and moves the calling thread into it. Must run on a thread
/// that may change namespace (a worker); the caller restores it afterwards.
/// Returns the new namespace as a file descriptor.
pub fn create_on_this_thread(name: &str) -> Result<OwnedFd, ExecError> {
    check_name(name)?;
    let path = netns_path(name);
    let file = open(&path, OFlag::O_RDONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| ExecError::os(format!("cannot create {}", path.display()), e))?;
    drop(file);
    let made = (|| {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| ExecError::os("unshare(CLONE_NEWNET)", e))?;
        mount(Some("/proc/thread-self/ns/net"), &path, Some("none"), MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| ExecError::os(format!("cannot bind-mount the namespace onto {}", path.display()), e))?;
        current_thread_netns()
    })();
    if made.is_err() {
        let _ = umount2(&path, MntFlags::MNT_DETACH);
        let _ = std::fs::remove_file(&path);
    }
    made
}

/// Deletes namespace `name` as `ip netns del` does: detach the bind mount, remove the
/// file. The namespace itself goes away once nothing else holds it.
pub fn delete(name: &str) -> Result<(), ExecError> {
    check_name(name)?;
    let path = netns_path(name);
    // A symbolic link there is not a namespace netscript made: never follow it.
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(ExecError::Protocol(format!("{} is a symbolic link, not a namespace netscript made; left alone", path.display())));
    }
    match umount2(&path, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW) {
        Ok(()) => {}
        Err(Errno::ENOENT) => return Err(ExecError::NoSuchNamespace(name.to_string())),
        // EINVAL: the file exists but is not a mount point (a leftover): just remove it.
        Err(Errno::EINVAL) => {}
        Err(e) => return Err(ExecError::os(format!("cannot unmount {}", path.display()), e)),
    }
    std::fs::remove_file(&path).map_err(|e| ExecError::io(format!("cannot remove {}", path.display()), &e))
}

/// The inode of the calling thread's network namespace: which namespace it is, whatever
/// its name.
pub fn current_id() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/net").ok().map(|m| m.ino())
}

/// The inode of the namespace `fd` refers to.
pub fn id_of(fd: &OwnedFd) -> Option<u64> {
    nix::sys::stat::fstat(fd).ok().map(|st| st.st_ino)
}

/// Opens an existing named namespace. A file under /run/netns that is not a namespace
/// (a leftover of a failed `ip netns add`) counts as absent.
pub fn open_named(name: &str) -> Result<OwnedFd, ExecError> {
    check_name(name)?;
    let path = netns_path(name);
    // O_NOFOLLOW: a symbolic link there is not a namespace of that name (it would lead
    // netscript into another one).
    let fd = match open(&path, OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Err(ExecError::NoSuchNamespace(name.to_string())),
        Err(Errno::ELOOP) => return Err(ExecError::Protocol(format!("{} is a symbolic link, not a namespace; netscript does not follow it (remove it, or name another namespace)", path.display()))),
        Err(e) => return Err(ExecError::os(format!("cannot open {}", path.display()), e)),
    };
    if !is_netns(&fd) {
        return Err(ExecError::NoSuchNamespace(name.to_string()));
    }
    Ok(fd)
}

/// Opens a namespace given by path (a CNI runtime's `/var/run/netns/x`,
/// `/proc/PID/ns/net`): `NoSuchNamespace` when nothing is there or it is not a network
/// namespace. Symbolic links are followed: the runtime chose the path.
pub fn open_path(path: &Path) -> Result<OwnedFd, ExecError> {
    let fd = match open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Err(ExecError::NoSuchNamespace(path.display().to_string())),
        Err(e) => return Err(ExecError::os(format!("cannot open {}", path.display()), e)),
    };
    if !is_netns(&fd) {
        return Err(ExecError::NoSuchNamespace(path.display().to_string()));
    }
    Ok(fd)
}

/// The calling thread's network namespace's cookie (`SO_NETNS_COOKIE`, Linux 5.14): an
/// identity the kernel never gives another namespace, unlike the inode number, which a
/// namespace made after another is gone can get again. `None` where not supported.
pub fn current_cookie() -> Option<u64> {
    use nix::libc;
    // SAFETY: a plain socket, closed below; getsockopt writes at most `len` bytes.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return None;
        }
        let mut cookie: u64 = 0;
        let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
        let r = libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_NETNS_COOKIE, (&mut cookie as *mut u64).cast(), &mut len);
        libc::close(fd);
        (r == 0 && len as usize == std::mem::size_of::<u64>()).then_some(cookie)
    }
}

/// An open descriptor of `/run/netns/NAME`, whatever it is, to keep the namespace alive
/// after its file is unmounted (see `exec::teardown`); None if it cannot be opened.
/// Unlike [`open_named`] it does not check that the file is a namespace: holding
/// anything else is harmless, and this runs once per namespace of a teardown.
pub fn hold(name: &str) -> Option<OwnedFd> {
    check_name(name).ok()?;
    open(&netns_path(name), OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).ok()
}

fn is_netns(fd: &OwnedFd) -> bool {
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    match nix::sys::statfs::fstatfs(fd) {
        Ok(st) => st.filesystem_type().0 == NSFS_MAGIC,
        Err(_) => false,
    }
}

/// Moves the calling thread into named namespace `name`; for `host` (the executor's own
/// namespace, where worker threads start every job) it stays where it is.
pub fn enter_named(name: &str) -> Result<(), ExecError> {
    if name == crate::model::HOST {
        return Ok(());
    }
    enter(&open_named(name)?)
}

/// Moves the calling thread into the namespace `fd`.
pub fn enter(fd: &OwnedFd) -> Result<(), ExecError> {
    setns(fd.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| ExecError::os("setns(CLONE_NEWNET)", e))
}

type Job = Box<dyn FnOnce() + Send>;

/// Threads that do namespace work (create, open a socket inside, read/write sysctls).
/// After every job the worker returns to `home` (the executor's initial namespace), so
/// that it never keeps a deleted namespace alive. The threads start with the first job:
/// `down` of namespaces alone never needs them.
pub struct NetnsWorkers {
    count: usize,
    home: Arc<OwnedFd>,
    started: std::cell::OnceCell<Started>,
}

struct Started {
    sender: Option<mpsc::Sender<Job>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl NetnsWorkers {
    pub fn new(count: usize, home: Arc<OwnedFd>) -> NetnsWorkers {
        NetnsWorkers { count: count.max(1), home, started: std::cell::OnceCell::new() }
    }

    fn start(&self) -> Result<&Started, ExecError> {
        if let Some(started) = self.started.get() {
            return Ok(started);
        }
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let mut started = Started { sender: Some(sender), threads: Vec::new() };
        for i in 0..self.count {
            let receiver = receiver.clone();
            let home = self.home.clone();
            let thread = std::thread::Builder::new()
                .name(format!("netns-worker-{i}"))
                .spawn(move || {
                    loop {
                        let job = match receiver.lock() {
                            Ok(r) => match r.recv() {
                                Ok(job) => job,
                                Err(_) => return,
                            },
                            Err(_) => return,
                        };
                        job();
                        // If even this fails the thread must not run further jobs from
                        // an unknown namespace.
                        if setns(home.as_fd(), CloneFlags::CLONE_NEWNET).is_err() {
                            return;
                        }
                    }
                })
                .map_err(|e| ExecError::io("cannot start a namespace worker thread", &e))?;
            started.threads.push(thread);
        }
        Ok(self.started.get_or_init(|| started))
    }

    /// Runs `job` on a worker and returns its result.
    pub async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> Result<T, ExecError> + Send + 'static) -> Result<T, ExecError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let boxed: Job = Box::new(move || {
            let _ = tx.send(job());
        });
        self.start()?
            .sender
            .as_ref()
            .and_then(|s| s.send(boxed).ok())
            .ok_or_else(|| ExecError::Protocol("namespace workers are gone".into()))?;
        rx.await.map_err(|_| ExecError::Protocol("a namespace worker stopped".into()))?
    }
}

impl Drop for NetnsWorkers {
    fn drop(&mut self) {
        if let Some(mut started) = self.started.take() {
            started.sender.take();
            for t in started.threads.drain(..) {
                let _ = t.join();
            }
        }
    }
}
