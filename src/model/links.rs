//! Namespaces' interfaces: links of every kind, their attributes and peers.

use super::*;
use crate::source::{Span, Spanned};
use std::net::IpAddr;

/// An interface in a namespace, by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct IfRef {
    pub ns: String,
    pub name: String,
}

impl std::fmt::Display for IfRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.ns, self.name)
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_qdisc: Option<Spanned<HookQdisc>>,
    /// The u32 filters in a `qdisc ingress < … >` block (tc's `parent ffff:`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress_filters: Vec<super::U32Filter>,
    /// The u32 hash tables of that block (`table ID divisor N prio P`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress_tables: Vec<super::U32Table>,
    pub bpf: Vec<Spanned<BpfAttach>>,
    pub xdp: Option<Box<Spanned<XdpAttach>>>,
}

impl Interface {
    /// The links of its namespace it needs to exist first: its master, the parent a
    /// macvlan, vlan or ipvlan sits on, a vxlan's `dev`.
    pub fn links_it_needs(&self) -> Vec<&str> {
        let mut needs: Vec<&str> = self.master.iter().map(|m| m.node.as_str()).collect();
        match &self.kind {
            IfaceKind::Macvlan { parent, .. } | IfaceKind::Vlan { parent, .. } | IfaceKind::Ipvlan { parent, .. } => needs.push(&parent.node),
            IfaceKind::Vxlan(x) => needs.extend(x.dev.iter().map(|d| d.node.as_str())),
            _ => {}
        }
        needs
    }

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

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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
    /// An IPv4 tunnel (ipip, gre).
    Tunnel(Box<Tunnel>),
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
            IfaceKind::Tunnel(t) => t.kind.word(),
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

impl MacvlanMode {
    /// The script's (and ip's) word for it.
    pub fn word(self) -> &'static str {
        match self {
            MacvlanMode::Private => "private",
            MacvlanMode::Vepa => "vepa",
            MacvlanMode::Bridge => "bridge",
            MacvlanMode::Passthru => "passthru",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Vxlan {
    pub vni: Spanned<u32>,
    pub remote: Option<Spanned<IpAddr>>,
    pub group: Option<Spanned<IpAddr>>,
    pub local: Option<Spanned<IpAddr>>,
    pub dev: Option<Spanned<String>>,
    pub port: Option<Spanned<u16>>,
}

/// An IPv4 tunnel as the script declares it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Tunnel {
    pub kind: TunnelKind,
    pub local: Option<Spanned<std::net::Ipv4Addr>>,
    pub remote: Spanned<std::net::Ipv4Addr>,
    /// 0: the inner packet's (ip's `ttl inherit`), the default.
    pub ttl: Option<Spanned<u8>>,
    /// gre's key (both ways, ip's `key`).
    pub key: Option<Spanned<u32>>,
}

impl Tunnel {
    /// What the kernel is given and reports.
    pub fn params(&self) -> TunnelParams {
        TunnelParams { local: self.local.as_ref().map(|l| l.node), remote: Some(self.remote.node), ttl: self.ttl.as_ref().map_or(0, |t| t.node), key: self.key.as_ref().map(|k| k.node) }
    }
}

/// The kinds of IPv4 tunnels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelKind {
    Ipip,
    Gre,
}

impl TunnelKind {
    pub fn word(self) -> &'static str {
        match self {
            TunnelKind::Ipip => "ipip",
            TunnelKind::Gre => "gre",
        }
    }

    /// The device the kernel makes in every namespace once the module is loaded: the
    /// kernel's, never a script's.
    pub fn is_fallback_device(name: &str) -> bool {
        FALLBACK_DEVICES.iter().any(|(n, _)| *n == name)
    }

    /// Whether the link `name` of the kernel's `kind` is a fallback device.
    pub fn is_fallback(name: &str, kind: Option<&str>) -> bool {
        FALLBACK_DEVICES.iter().any(|(n, k)| *n == name && Some(*k) == kind)
    }
}

/// The tunnel modules' fallback devices (name, kind), made in every namespace.
const FALLBACK_DEVICES: &[(&str, &str)] = &[
    ("tunl0", "ipip"),
    ("gre0", "gre"),
    ("gretap0", "gretap"),
    ("erspan0", "erspan"),
    ("sit0", "sit"),
    ("ip6tnl0", "ip6tnl"),
    ("ip6gre0", "ip6gre"),
    ("ip_vti0", "vti"),
    ("ip6_vti0", "vti6"),
];

/// A tunnel's parameters (IFLA_IPTUN_* / IFLA_GRE_*): all of them change in place (the
/// kernel's ip_tunnel_changelink). `None` for an address left unsaid (0.0.0.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TunnelParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<std::net::Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<std::net::Ipv4Addr>,
    pub ttl: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<u32>,
}

impl TunnelParams {
    /// In ip's words (`local any` and `ttl inherit` left out), each with a space before.
    pub fn ip_words(&self) -> String {
        let mut s = String::new();
        if let Some(l) = self.local {
            s.push_str(&format!(" local {l}"));
        }
        if let Some(r) = self.remote {
            s.push_str(&format!(" remote {r}"));
        }
        if self.ttl != 0 {
            s.push_str(&format!(" ttl {}", self.ttl));
        }
        if let Some(k) = self.key {
            s.push_str(&format!(" key {k}"));
        }
        s
    }
}

/// The longest interface name: IFNAMSIZ less the terminating NUL.
pub const MAX_INTERFACE_NAME: usize = 15;
