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
    /// The kernel refused to load an eBPF program (its verifier, usually).
    #[error("{0}")]
    ProgramRefused(LoadRefusal),
    /// The plan itself is malformed (a dependency out of range, …).
    #[error("invalid plan: {0}")]
    InvalidPlan(String),
    /// The apply was cancelled ([`super::cancel`]) before every operation was sent.
    #[error("interrupted before every operation was applied")]
    Interrupted,
}

/// The kernel's verifier (or loader) refused a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadRefusal {
    pub program: String,
    pub error: KernelError,
    /// The verifier log, trimmed to its last [`VERIFIER_LOG_LINES`](super::bpf::VERIFIER_LOG_LINES) lines.
    pub log: String,
}

impl std::fmt::Display for LoadRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot load program `{}`: {}", self.program, self.error)
    }
}

impl ExecError {
    /// The errno behind this error, if the kernel gave one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            ExecError::Kernel(k) | ExecError::Os { error: k, .. } => Some(k.errno),
            ExecError::ProgramRefused(r) => Some(r.error.errno),
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
        if let ExecError::Kernel(k) = &mut self
            && let Some(meaning) = contextual_meaning(k.errno, action) {
                k.meaning = meaning;
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
        Dummy => "dummy",
        Vrf { .. } => "vrf",
        Macvlan { .. } => "macvlan",
        Vlan { .. } => "vlan",
        Ipvlan { .. } => "ipvlan",
        Tunnel { tunnel, .. } => tunnel.word(),
        Vxlan { .. } => "vxlan",
        Ifb => "ifb",
    }
}

/// What a kernel lacks when it refuses an operation for want of a feature: a qdisc kind,
/// a classifier or an action that is neither built in nor available as a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSupport {
    /// `qdisc netem`, `classifier u32`, `action mirred`.
    pub what: String,
    /// The kernel module that provides it (`sch_netem`).
    pub module: String,
    /// The kernel configuration option that builds it (`CONFIG_NET_SCH_NETEM`).
    pub config: String,
}

impl MissingSupport {
    fn new(what: &str, name: &str, module_prefix: &str, config_prefix: &str) -> MissingSupport {
        MissingSupport {
            what: format!("{what} {name}"),
            module: format!("{module_prefix}_{name}"),
            config: format!("{config_prefix}_{}", name.to_ascii_uppercase()),
        }
    }
}

/// Whether `error`, the kernel's answer to `action`, means that this kernel lacks the
/// qdisc, classifier or action the operation needs (and which).
pub fn missing_kernel_support(action: &Action, error: &ExecError) -> Option<MissingSupport> {
    use crate::plan::action::{FilterSpec, QdiscSpec};
    let ExecError::Kernel(k) = error else { return None };
    let errno = nix::errno::Errno::from_raw(k.errno);
    let extack = k.extack.as_deref().unwrap_or("").to_ascii_lowercase();
    match action {
        // sch_api.c: "Specified qdisc kind is unknown" (ENOENT) when the kind has no
        // ops even after trying to load `sch_KIND`.
        Action::ReplaceQdisc { qdisc, .. } if matches!(errno, nix::errno::Errno::ENOENT | nix::errno::Errno::EOPNOTSUPP) => {
            let kind = qdisc.kind();
            // ingress and clsact both live in sch_ingress.
            let module_kind = if matches!(qdisc, QdiscSpec::Ingress | QdiscSpec::Clsact) { "ingress" } else { kind };
            let mut m = MissingSupport::new("qdisc", module_kind, "sch", "CONFIG_NET_SCH");
            m.what = format!("qdisc {kind}");
            Some(m)
        }
        // cls_api.c: "TC classifier not found" (ENOENT); act_api.c: "Failed to load TC
        // action module" / "Failed to find TC action" (ENOENT). Other ENOENTs of a filter
        // request (a missing parent) are not about support, hence the text check.
        // rtnetlink.c: "Unknown device type" (EOPNOTSUPP) when no module provides the kind.
        Action::CreateLink { kind, .. } if errno == nix::errno::Errno::EOPNOTSUPP => {
            use crate::plan::action::LinkKind;
            let (module, config) = match kind {
                LinkKind::Dummy => ("dummy", "CONFIG_DUMMY"),
                LinkKind::Vrf { .. } => ("vrf", "CONFIG_NET_VRF"),
                LinkKind::Vxlan { .. } => ("vxlan", "CONFIG_VXLAN"),
                LinkKind::Macvlan { .. } => ("macvlan", "CONFIG_MACVLAN"),
                LinkKind::Vlan { .. } => ("8021q", "CONFIG_VLAN_8021Q"),
                LinkKind::Ipvlan { .. } => ("ipvlan", "CONFIG_IPVLAN"),
                LinkKind::Tunnel { tunnel: crate::model::TunnelKind::Ipip, .. } => ("ipip", "CONFIG_NET_IPIP"),
                LinkKind::Tunnel { tunnel: crate::model::TunnelKind::Gre, .. } => ("ip_gre", "CONFIG_NET_IPGRE"),
                LinkKind::Ifb => ("ifb", "CONFIG_IFB"),
                LinkKind::Veth { .. } => ("veth", "CONFIG_VETH"),
                LinkKind::Bridge => ("bridge", "CONFIG_BRIDGE"),
            };
            Some(MissingSupport { what: format!("link kind {}", link_kind_word(kind)), module: module.into(), config: config.into() })
        }
        Action::AddFilter { filter, .. } if errno == nix::errno::Errno::ENOENT => {
            if extack.contains("classifier") {
                Some(MissingSupport::new("classifier", "u32", "cls", "CONFIG_NET_CLS"))
            } else if extack.contains("action") && matches!(filter, FilterSpec::MirredToIfb { .. }) {
                let mut m = MissingSupport::new("action", "mirred", "act", "CONFIG_NET_ACT");
                m.config = "CONFIG_NET_ACT_MIRRED".into();
                Some(m)
            } else if extack.contains("action") && matches!(filter, FilterSpec::U32 { action: Some(_), .. }) {
                let mut m = MissingSupport::new("action", "gact", "act", "CONFIG_NET_ACT");
                m.config = "CONFIG_NET_ACT_GACT".into();
                Some(m)
            } else {
                None
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod missing_support_tests {
    use super::*;
    use crate::plan::action::{FilterSpec, QdiscSpec};

    fn refused(errno: i32, extack: &str) -> ExecError {
        ExecError::Kernel(KernelError::new(errno, Some(extack.to_string())))
    }

    #[test]
    fn names_the_missing_qdisc_classifier_or_action() {
        let netem = Action::ReplaceQdisc {
            ns: "a".into(),
            dev: "v0".into(),
            qdisc: QdiscSpec::Netem(crate::model::Netem::delay(crate::units::Duration(1))),
        };
        let m = missing_kernel_support(&netem, &refused(2, "Specified qdisc kind is unknown")).unwrap();
        assert_eq!((m.what.as_str(), m.module.as_str(), m.config.as_str()), ("qdisc netem", "sch_netem", "CONFIG_NET_SCH_NETEM"));
        let ingress = Action::ReplaceQdisc { ns: "a".into(), dev: "v0".into(), qdisc: QdiscSpec::Ingress };
        assert_eq!(missing_kernel_support(&ingress, &refused(2, "")).unwrap().module, "sch_ingress");
        // Other refusals of a qdisc are not about support.
        assert_eq!(missing_kernel_support(&netem, &refused(22, "bad")), None);
        let mirred = Action::AddFilter { ns: "a".into(), dev: "v0".into(), filter: FilterSpec::MirredToIfb { ifb: "ifb-v0".into() } };
        assert_eq!(missing_kernel_support(&mirred, &refused(2, "TC classifier not found")).unwrap().module, "cls_u32");
        assert_eq!(missing_kernel_support(&mirred, &refused(2, "Failed to load TC action module")).unwrap().module, "act_mirred");
        assert_eq!(missing_kernel_support(&mirred, &refused(2, "Parent Qdisc doesn't exists")), None);
        let gact = Action::AddFilter {
            ns: "a".into(),
            dev: "v0".into(),
            filter: FilterSpec::U32 { ingress: true, prio: 1, proto: None, src: None, dst: None, sport: None, dport: None, flowid: Some(1), link: None, hashkey: None, raw: Vec::new(), ht: None, handle: None, action: Some(crate::model::FilterVerdict::Ok) },
        };
        let m = missing_kernel_support(&gact, &refused(2, "Failed to load TC action module")).unwrap();
        assert_eq!((m.what.as_str(), m.module.as_str(), m.config.as_str()), ("action gact", "act_gact", "CONFIG_NET_ACT_GACT"));
    }
}
