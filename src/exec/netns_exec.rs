//! Running a command inside a named network namespace, the way `ip netns exec` does
//! (iproute2's `netns_switch`): in the child, after fork and before exec, enter the
//! network namespace, unshare a mount namespace whose mounts do not propagate back,
//! mount a fresh sysfs on `/sys` (so `/sys/class/net` lists the namespace's interfaces),
//! and bind-mount every `/etc/netns/NAME/FILE` over `/etc/FILE`.
//!
//! The caller's process is never moved: the REPL can call [`netns_exec`] and go on.

use super::{ExecError, netns};
use crate::model::HOST;
use nix::libc;
use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus};

/// Runs `argv` (program, then arguments) inside namespace `ns` with inherited standard
/// streams and waits for it. `host` runs it in the caller's own namespace, unchanged.
pub fn netns_exec(ns: &str, argv: &[OsString]) -> Result<ExitStatus, ExecError> {
    let mut command = netns_command(ns, argv)?;
    command.status().map_err(|e| ExecError::io(format!("cannot run {:?} in namespace {ns}", argv[0]), &e))
}

/// The command [`netns_exec`] runs, ready to spawn (for callers that want its output).
pub fn netns_command(ns: &str, argv: &[OsString]) -> Result<Command, ExecError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(ExecError::InvalidPlan("no command to run".into()));
    };
    let mut command = Command::new(program);
    command.args(args);
    if ns == HOST {
        return Ok(command);
    }
    let fd = netns::open_named(ns)?;
    // Everything the child needs is prepared here: between fork and exec only system
    // calls happen (no allocation).
    let sysfs_source = CString::new(ns).map_err(|_| ExecError::InvalidPlan(format!("{ns:?} is not a valid namespace name")))?;
    let etc = etc_binds(ns);
    // SAFETY: the closure runs in the child between fork and exec and only makes
    // async-signal-safe system calls on data prepared beforehand.
    unsafe {
        command.pre_exec(move || {
            let check = |r: libc::c_int| if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) };
            check(libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET))?;
            check(libc::unshare(libc::CLONE_NEWNS))?;
            // Do not let any mount propagate back to the parent.
            check(libc::mount(c"".as_ptr(), c"/".as_ptr(), c"none".as_ptr(), libc::MS_SLAVE | libc::MS_REC, std::ptr::null()))?;
            // A sysfs that describes the namespace. If the old one cannot be unmounted,
            // shadow it (read-only stays read-only).
            let mut flags: libc::c_ulong = 0;
            if libc::umount2(c"/sys".as_ptr(), libc::MNT_DETACH) < 0 {
                let mut st: libc::statvfs = std::mem::zeroed();
                if libc::statvfs(c"/sys".as_ptr(), &mut st) == 0 && st.f_flag & libc::ST_RDONLY != 0 {
                    flags = libc::MS_RDONLY;
                }
            }
            check(libc::mount(sysfs_source.as_ptr(), c"/sys".as_ptr(), c"sysfs".as_ptr(), flags, std::ptr::null()))?;
            // Best effort, as in iproute2 (which only warns).
            for (source, target) in &etc {
                libc::mount(source.as_ptr(), target.as_ptr(), c"none".as_ptr(), libc::MS_BIND, std::ptr::null());
            }
            Ok(())
        });
    }
    Ok(command)
}

/// `(/etc/netns/NAME/FILE, /etc/FILE)` for every file there.
fn etc_binds(ns: &str) -> Vec<(CString, CString)> {
    let dir = std::path::Path::new("/etc/netns").join(ns);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| e.file_name() != "." && e.file_name() != "..")
        .filter_map(|e| {
            let source = CString::new(e.path().as_os_str().as_bytes()).ok()?;
            let target = CString::new(std::path::Path::new("/etc").join(e.file_name()).as_os_str().as_bytes()).ok()?;
            Some((source, target))
        })
        .collect()
}

/// The exit code a shell would show for `status`: the code, or 128 + the signal.
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}
