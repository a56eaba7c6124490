//! Sysctls, read and written through /proc/sys from a thread that is in the namespace
//! they belong to (net.* sysctls are per network namespace, chosen at open time by the
//! opening thread's namespace).

use super::ExecError;
use std::io::Write;
use std::path::PathBuf;

/// `net.ipv4.ip_forward` → `/proc/sys/net/ipv4/ip_forward`. As with sysctl(8), a key
/// written with slashes (`net/ipv4/conf/eth0.100/forwarding`) keeps its dots, which is
/// how interface names containing dots are named.
///
/// Every key is checked again here, with the checker's rule
/// ([`crate::model::sysctl_key_problem`]): keys also come from state records and
/// journals, files that could be forged, and none may reach outside `net.`
/// (`kernel.hostname`, `kernel/core_pattern`).
pub fn key_path(key: &str) -> Result<PathBuf, ExecError> {
    if let Some(problem) = crate::model::sysctl_key_problem(key) {
        let why = match problem {
            crate::model::SysctlKeyProblem::NotNetwork => "netscript writes only net.* sysctls",
            crate::model::SysctlKeyProblem::Malformed => "not a valid sysctl key",
        };
        return Err(ExecError::InvalidPlan(format!("refusing sysctl {key:?}: {why}")));
    }
    let relative = if key.contains('/') { key.to_string() } else { key.replace('.', "/") };
    Ok(PathBuf::from("/proc/sys").join(relative))
}

/// Writes `value` to sysctl `key` in the calling thread's namespace.
pub fn write(key: &str, value: &str) -> Result<(), ExecError> {
    let path = key_path(key)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| ExecError::io(format!("cannot open sysctl {key}"), &e))?;
    file.write_all(value.as_bytes()).map_err(|e| ExecError::io(format!("cannot set sysctl {key} to {value:?}"), &e))
}

/// Reads sysctl `key` in the calling thread's namespace; `None` when it does not exist.
pub fn read(key: &str) -> Result<Option<String>, ExecError> {
    let path = key_path(key)?;
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok(Some(s.trim_end_matches('\n').to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ExecError::io(format!("cannot read sysctl {key}"), &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_proc_paths() {
        assert_eq!(key_path("net.ipv4.ip_forward").unwrap(), PathBuf::from("/proc/sys/net/ipv4/ip_forward"));
        assert_eq!(
            key_path("net/ipv4/conf/eth0.100/forwarding").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0.100/forwarding")
        );
        assert!(key_path("net..x").is_err());
        assert!(key_path("net/../../etc").is_err());
        // Outside net.*: what a forged state record or journal could ask for.
        for key in ["kernel.hostname", "kernel/hostname", "/net/../kernel/hostname", "/proc/sys/kernel/hostname", "net.x/../../kernel/hostname", "netx.y", ""] {
            assert!(key_path(key).is_err(), "{key}");
        }
    }
}
