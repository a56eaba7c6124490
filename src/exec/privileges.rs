//! Whether this process may do what the executor does.

use super::ExecError;

const CAP_SYS_ADMIN: u32 = 21;
const CAP_NET_ADMIN: u32 = 12;

/// Checks the effective capabilities (CapEff in /proc/self/status): CAP_NET_ADMIN for
/// netlink changes, CAP_SYS_ADMIN for namespaces (unshare, setns, mount).
pub fn check_privileges() -> Result<(), ExecError> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| ExecError::io("cannot read /proc/self/status", &e))?;
    let missing = missing_capabilities(&status)?;
    if missing.is_empty() { Ok(()) } else { Err(ExecError::Privileges { missing }) }
}

fn missing_capabilities(status: &str) -> Result<Vec<&'static str>, ExecError> {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(str::trim)
        .ok_or_else(|| ExecError::Protocol("no CapEff line in /proc/self/status".into()))?;
    let eff = u64::from_str_radix(hex, 16).map_err(|_| ExecError::Protocol(format!("unreadable CapEff {hex:?}")))?;
    let mut missing = Vec::new();
    if eff & (1 << CAP_NET_ADMIN) == 0 {
        missing.push("CAP_NET_ADMIN");
    }
    if eff & (1 << CAP_SYS_ADMIN) == 0 {
        missing.push("CAP_SYS_ADMIN");
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_missing_capability() {
        assert_eq!(missing_capabilities("Name:\tx\nCapEff:\t000001fffeffffff\n").unwrap(), Vec::<&str>::new());
        assert_eq!(missing_capabilities("CapEff:\t0000000000000000\n").unwrap(), vec!["CAP_NET_ADMIN", "CAP_SYS_ADMIN"]);
        assert_eq!(missing_capabilities("CapEff:\t0000000000001000\n").unwrap(), vec!["CAP_SYS_ADMIN"]);
        assert!(missing_capabilities("nothing").is_err());
    }
}
