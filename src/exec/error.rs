//! Errors of the executor. Every kernel refusal keeps its errno, the kernel's own
//! explanation (netlink extended ack) when it gave one, and a plain-English meaning.

use crate::plan::Action;
use std::fmt;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ExecError {
    /// The kernel refused a netlink request.
    #[error("{0}")]
    Kernel(KernelError),
    /// A system call outside netlink failed (namespace files, mounts, sysctls).
    #[error("{what}: {error}")]
    Os { what: String, error: KernelError },
    #[error("missing privileges: {} (run as root)", .missing.join(" and "))]
    Privileges { missing: Vec<&'static str> },
    #[error("namespace {0} does not exist (no /run/netns/{0})")]
    NoSuchNamespace(String),
    /// Not implemented by this build (the tc encoding placeholder).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The kernel answered something netlink does not allow, or did not answer.
    #[error("netlink protocol error: {0}")]
    Protocol(String),
    /// The plan itself is malformed (a dependency out of range, …).
    #[error("invalid plan: {0}")]
    InvalidPlan(String),
    /// The apply was cancelled ([`super::cancel`]) before every operation was sent.
    #[error("interrupted before every operation was applied")]
    Interrupted,
}

impl ExecError {
    /// The errno behind this error, if the kernel gave one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            ExecError::Kernel(k) | ExecError::Os { error: k, .. } => Some(k.errno),
            _ => None,
        }
    }

    pub(crate) fn os(what: impl Into<String>, errno: nix::errno::Errno) -> ExecError {
        ExecError::Os { what: what.into(), error: KernelError::new(errno as i32, None) }
    }

    pub(crate) fn io(what: impl Into<String>, err: &std::io::Error) -> ExecError {
        match err.raw_os_error() {
            Some(errno) => ExecError::Os { what: what.into(), error: KernelError::new(errno, None) },
            None => ExecError::Protocol(format!("{}: {err}", what.into())),
        }
    }

    /// Rewrites the meaning of a kernel error for the action that caused it, where the
    /// generic errno text would mislead (ENOENT on a qdisc is a missing kernel module).
    pub(crate) fn in_context_of(mut self, action: &Action) -> ExecError {
        if let ExecError::Kernel(k) = &mut self {
            if let Some(meaning) = contextual_meaning(k.errno, action) {
                k.meaning = meaning;
            }
        }
        self
    }
}

/// An errno from the kernel, with its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError {
    /// Positive errno value (EEXIST = 17).
    pub errno: i32,
    /// Symbolic name, `EEXIST`.
    pub name: String,
    /// The kernel's extended-ack message (`NLMSGERR_ATTR_MSG`), when it sent one.
    pub extack: Option<String>,
    /// What it means, in plain English.
    pub meaning: String,
}

impl KernelError {
    pub fn new(errno: i32, extack: Option<String>) -> KernelError {
        let errno = errno.abs();
        let e = nix::errno::Errno::from_raw(errno);
        KernelError { errno, name: format!("{e:?}"), extack, meaning: generic_meaning(errno) }
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.meaning, self.name)?;
        if let Some(msg) = &self.extack {
            write!(f, ": kernel says \"{msg}\"")?;
        }
        Ok(())
    }
}

fn generic_meaning(errno: i32) -> String {
    use nix::errno::Errno::*;
    let e = nix::errno::Errno::from_raw(errno);
    let text = match e {
        EEXIST => "already exists",
        ENOENT => "no such object",
        ENODEV => "no such network device",
        ESRCH => "no such object",
        ENETUNREACH => "the gateway is not reachable through any interface",
        EADDRNOTAVAIL => "the address is not available here",
        EPERM | EACCES => "operation not permitted (needs CAP_NET_ADMIN / CAP_SYS_ADMIN)",
        EBUSY => "the object is busy",
        EINVAL => "invalid argument",
        EOPNOTSUPP => "not supported by this kernel or device",
        ERANGE => "value out of range",
        ENOBUFS | ENOMEM => "the kernel ran out of memory or buffer space",
        EAFNOSUPPORT => "address family not supported (is IPv6 disabled?)",
        ELOOP => "it would create a loop",
        ENOTDIR | EISDIR => "not a valid sysctl key",
        _ => return e.desc().to_string(),
    };
    text.to_string()
}

fn contextual_meaning(errno: i32, action: &Action) -> Option<String> {
    use nix::errno::Errno;
    let e = Errno::from_raw(errno);
    match action {
        Action::ReplaceQdisc { qdisc, .. } if matches!(e, Errno::ENOENT | Errno::EOPNOTSUPP) => {
            Some(format!("this kernel does not support qdisc {}", qdisc.kind()))
        }
        Action::CreateLink { kind, .. } if e == Errno::EOPNOTSUPP => {
            Some(format!("this kernel does not support links of kind {}", link_kind_word(kind)))
        }
        Action::CreateLink { .. } | Action::CreateNetns { .. } if e == Errno::EEXIST => {
            Some("already exists".into())
        }
        Action::DelRoute { .. } if e == Errno::ESRCH => Some("no such route".into()),
        Action::DelRule { .. } if e == Errno::ENOENT => Some("no such rule".into()),
        Action::DelAddr { .. } if e == Errno::EADDRNOTAVAIL => Some("no such address on this device".into()),
        Action::AddRoute { .. } if e == Errno::ENETUNREACH => {
            Some("the gateway is not reachable through any interface".into())
        }
        Action::SetSysctl { .. } if e == Errno::ENOENT => Some("no such sysctl".into()),
        _ => None,
    }
}

pub(crate) fn link_kind_word(kind: &crate::plan::action::LinkKind) -> &'static str {
    use crate::plan::action::LinkKind::*;
    match kind {
        Veth { .. } => "veth",
        Bridge => "bridge",
        Macvlan { .. } => "macvlan",
        Vxlan { .. } => "vxlan",
        Ifb => "ifb",
    }
}
