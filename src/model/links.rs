//! Namespaces' interfaces: links of every kind, their attributes and peers.

use super::*;
use crate::source::{Span, Spanned};
use std::net::IpAddr;

/// An interface in a namespace, by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct IfRef {
    pub ns: String,
    pub name: String,
}

impl std::fmt::Display for IfRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.ns, self.name)
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Interface {
    pub name: String,
    #[serde(skip)]
    pub span: Span,
    pub kind: IfaceKind,
    pub addrs: Vec<Spanned<IfAddr>>,
    /// `up`/`down`; `None` means the default: up for interfaces the script creates,
    /// unchanged for `link` on an existing one.
    pub admin_up: Option<Spanned<bool>>,
    pub mtu: Option<Spanned<u32>>,
    pub mac: Option<Spanned<[u8; 6]>>,
    pub master: Option<Spanned<String>>,
    // Boxed: most interfaces have none, and a 100,000-line script holds tens of
    // thousands of interfaces (they were 768 bytes each, mostly these).
    pub root_qdisc: Option<Box<Spanned<Qdisc>>>,
    /// `shape ingress ...`: an ifb device, a mirred redirect to it, and a tbf on it.
    pub ingress_shape: Option<Box<Spanned<Tbf>>>,
    /// `qdisc ingress` / `qdisc clsact`: the hook qdisc without filters of netscript's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_qdisc: Option<Spanned<HookQdisc>>,
    /// The u32 filters in a `qdisc ingress < … >` block (tc's `parent ffff:`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ingress_filters: Vec<super::U32Filter>,
    /// The u32 hash tables of that block (`table ID divisor N prio P`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ingress_tables: Vec<super::U32Table>,
    pub bpf: Vec<Spanned<BpfAttach>>,
    pub xdp: Option<Box<Spanned<XdpAttach>>>,
}

impl Interface {
    pub fn new(name: String, kind: IfaceKind, span: Span) -> Self {
        Interface {
            name,
            span,
            kind,
            addrs: Vec::new(),
            admin_up: None,
            mtu: None,
            mac: None,
            master: None,
            root_qdisc: None,
            ingress_shape: None,
            hook_qdisc: None,
            ingress_filters: Vec::new(),
            ingress_tables: Vec::new(),
            bpf: Vec::new(),
            xdp: None,
        }
    }
    /// Whether the script creates this interface (as opposed to configuring one that exists).
    pub fn is_created(&self) -> bool {
        !matches!(self.kind, IfaceKind::Existing | IfaceKind::Loopback)
    }
    /// The administrative state the script asks for, defaults applied.
    pub fn wants_up(&self) -> Option<bool> {
        match &self.admin_up {
            Some(s) => Some(s.node),
            None if self.is_created() || matches!(self.kind, IfaceKind::Loopback) => Some(true),
            None => None,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum IfaceKind {
    /// This end declared the pair; the pair is created from here.
    Veth { peer: IfRef },
    /// The far end of a pair declared elsewhere.
    VethPeer { of: IfRef },
    Bridge,
    Dummy,
    /// A VRF device and the routing table it binds.
    Vrf { table: Spanned<u32> },
    Macvlan { parent: Spanned<String>, mode: MacvlanMode },
    /// An 802.1Q VLAN on a parent: its id (1-4094) and tag protocol.
    Vlan { parent: Spanned<String>, id: Spanned<u16>, protocol: VlanProtocol },
    /// An ipvlan on a parent: its mode and flag (the parent's port holds both, shared by
    /// every ipvlan on it).
    Ipvlan { parent: Spanned<String>, mode: IpvlanMode, flag: IpvlanFlag },
    // Boxed: the largest kind by far, and the rarest.
    Vxlan(Box<Vxlan>),
    /// `link NAME` for an interface the script does not create.
    Existing,
    /// `lo`, present in every namespace.
    Loopback,
}

impl IfaceKind {
    pub fn word(&self) -> &'static str {
        match self {
            IfaceKind::Veth { .. } | IfaceKind::VethPeer { .. } => "veth",
            IfaceKind::Bridge => "bridge",
            IfaceKind::Dummy => "dummy",
            IfaceKind::Vrf { .. } => "vrf",
            IfaceKind::Macvlan { .. } => "macvlan",
            IfaceKind::Vlan { .. } => "vlan",
            IfaceKind::Ipvlan { .. } => "ipvlan",
            IfaceKind::Vxlan(_) => "vxlan",
            IfaceKind::Existing => "link",
            IfaceKind::Loopback => "loopback",
        }
    }
}

/// A VLAN's tag protocol (iproute2's `protocol`): 802.1Q, or 802.1ad (the outer tag of QinQ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum VlanProtocol {
    #[default]
    Ieee8021Q,
    Ieee8021Ad,
}

impl VlanProtocol {
    /// iproute2's word for it.
    pub fn word(self) -> &'static str {
        match self {
            VlanProtocol::Ieee8021Q => "802.1Q",
            VlanProtocol::Ieee8021Ad => "802.1ad",
        }
    }
}

/// An ipvlan's mode (iproute2's `mode`): l3 is iproute2's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpvlanMode {
    L2,
    #[default]
    L3,
    L3s,
}

/// An ipvlan's flag (iproute2's `bridge`, `private`, `vepa`): bridge is the default (no
/// flag bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpvlanFlag {
    #[default]
    Bridge,
    Private,
    Vepa,
}

impl IpvlanMode {
    /// iproute2's word for it.
    pub fn word(self) -> &'static str {
        match self {
            IpvlanMode::L2 => "l2",
            IpvlanMode::L3 => "l3",
            IpvlanMode::L3s => "l3s",
        }
    }
}

impl IpvlanFlag {
    /// iproute2's word for it.
    pub fn word(self) -> &'static str {
        match self {
            IpvlanFlag::Bridge => "bridge",
            IpvlanFlag::Private => "private",
            IpvlanFlag::Vepa => "vepa",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MacvlanMode {
    Private,
    Vepa,
    Bridge,
    Passthru,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Vxlan {
    pub vni: Spanned<u32>,
    pub remote: Option<Spanned<IpAddr>>,
    pub group: Option<Spanned<IpAddr>>,
    pub local: Option<Spanned<IpAddr>>,
    pub dev: Option<Spanned<String>>,
    pub port: Option<Spanned<u16>>,
}

/// The longest interface name: IFNAMSIZ less the terminating NUL.
pub const MAX_INTERFACE_NAME: usize = 15;
