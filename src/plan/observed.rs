//! The observed state: what the kernel holds now, for the namespaces a script names.
//! The executor fills it; the planner only reads it.

use crate::model::{BpfDirection, XdpMode};
use crate::plan::action::{BpfLabel, ClassSpec, FilterSpec, QdiscSpec, RouteSpec, RuleSpec};
use indexmap::IndexMap;

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Observed {
    /// Namespaces that exist, by name (`host` for the initial one). A namespace the
    /// script names but that is absent here does not exist yet.
    pub namespaces: IndexMap<String, ObservedNs>,
    /// Planning without a kernel (`check`, `--dry-run --offline`): interfaces named by
    /// `link` are assumed to exist.
    pub offline: bool,
    /// The values a new namespace has of the sysctls the script sets in namespaces that
    /// do not exist yet (what giving them back means there).
    pub fresh_sysctls: IndexMap<String, String>,
}

impl Observed {
    /// Nothing exists but the host namespace, which is empty: what `check` plans against.
    pub fn empty() -> Self {
        let mut namespaces = IndexMap::new();
        namespaces.insert(crate::model::HOST.to_string(), ObservedNs::default());
        Observed { namespaces, offline: true, ..Default::default() }
    }
}

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct ObservedNs {
    /// The network namespace's inode: who made a namespace of this name.
    pub id: Option<u64>,
    /// The namespace's cookie (`SO_NETNS_COOKIE`): unlike the inode number, never given
    /// to another namespace (an inode is reused once its namespace is freed).
    pub cookie: Option<u64>,
    pub links: IndexMap<String, ObservedLink>,
    /// Routes of the tables the script uses.
    pub routes: Vec<RouteSpec>,
    pub rules: Vec<RuleSpec>,
    pub qdiscs: Vec<ObservedQdisc>,
    /// Every qdisc at a root, ingress or clsact attachment point, whatever its kind.
    pub root_qdiscs: Vec<SeenQdisc>,
    pub classes: Vec<(String, ClassSpec)>,
    /// Filters on the htb qdiscs (`parent 1:`), by device.
    pub filters: Vec<ObservedFilter>,
    /// Filters on the ingress qdiscs (`parent ffff:`), by device, but for the redirects
    /// of `shape ingress` (in `redirects`).
    pub ingress_filters: Vec<ObservedFilter>,
    /// Redirects to an ifb device on the ingress qdiscs (`parent ffff:`), as written for
    /// `shape ingress`: (device, the ifb it redirects to).
    pub redirects: Vec<(String, String)>,
    /// Values of the sysctls the script sets.
    pub sysctls: IndexMap<String, String>,
    /// eBPF programs attached to the links (tc clsact hooks and XDP).
    pub programs: Vec<ObservedProgram>,
    /// netscript's nftables table (`inet netscript`), when it exists and was read.
    pub firewall: Option<crate::plan::firewall::ObservedFirewall>,
    /// Root netems the script's record made whose parameters are no longer the ones it
    /// made them with (someone else changed or re-made them), by device, with the tables
    /// (delay, slot) the record made them with: the table the kernel holds now cannot be known
    /// (it never reports one). Where the parameters are still the record's, the
    /// observed netem carries the record's table instead (see docs/OWNERSHIP.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub netem_drift: Vec<(String, crate::model::NetemTables)>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ObservedLink {
    pub name: String,
    pub index: u32,
    /// The kernel's kind (`veth`, `bridge`, …), `None` for physical devices and `lo`.
    pub kind: Option<String>,
    pub up: bool,
    pub mtu: u32,
    pub mac: Option<[u8; 6]>,
    pub master: Option<String>,
    pub addrs: Vec<crate::model::IfAddr>,
    /// A vrf's routing table, as the kernel reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vrf_table: Option<u32>,
    /// The link it sits on in its namespace, which the kernel deletes it with: a
    /// macvlan's, vlan's or ipvlan's parent, a vxlan's `dev`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower: Option<String>,
    /// What it was made as, as the kernel reports it (vlan, macvlan, ipvlan, vxlan, vrf; a
    /// parent in another namespace as an empty name): compared with the script's, and
    /// what makes it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_as: Option<crate::plan::action::LinkKind>,
    /// An ipvlan's mode, flag and parent, as the kernel reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipvlan: Option<ObservedIpvlan>,
    /// A tunnel's parameters, as the kernel reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<crate::model::TunnelParams>,
}

/// An ipvlan as the kernel reports it (IFLA_IPVLAN_MODE, IFLA_IPVLAN_FLAGS, IFLA_LINK):
/// the mode and flag are its parent's port's.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedIpvlan {
    pub mode: crate::model::IpvlanMode,
    pub flag: crate::model::IpvlanFlag,
    /// The parent's name, when it is in the ipvlan's namespace.
    pub parent: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ObservedQdisc {
    pub dev: String,
    pub spec: QdiscSpec,
}

/// A qdisc at an attachment point, as the kernel names it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SeenQdisc {
    pub dev: String,
    pub parent: crate::plan::action::QdiscParent,
    pub kind: String,
    pub handle: u32,
}

/// A filter on an htb qdisc 1: or an ingress qdisc. `spec` is `None` for one netscript would not have
/// written (another classifier, other matches): present at `prio`, but foreign.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ObservedFilter {
    pub dev: String,
    pub prio: u32,
    /// The kernel's handle: for a u32 key node `table:bucket:node`, which places a
    /// foreign one too (its spec is `None`).
    pub handle: u32,
    pub spec: Option<FilterSpec>,
}

/// An eBPF program attached to an interface.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedProgram {
    pub dev: String,
    pub attach: AttachPoint,
    /// The kernel's program id.
    pub id: u32,
    /// The tc filter's name; for XDP, empty.
    pub name: String,
    /// tc: whether the filter is in direct-action mode (always, for XDP).
    pub direct_action: bool,
    /// What netscript attached there (from the filter name, or the label it keeps for an
    /// XDP program); `None` for a program netscript did not attach.
    pub label: Option<BpfLabel>,
    /// tc: the filter's handle when it is not netscript's default, 1; for XDP, `None`.
    pub handle: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachPoint {
    Tc { direction: BpfDirection, prio: u16 },
    Xdp { mode: XdpMode },
}

impl std::fmt::Display for AttachPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttachPoint::Tc { direction: BpfDirection::Ingress, prio } => write!(f, "tc ingress prio {prio}"),
            AttachPoint::Tc { direction: BpfDirection::Egress, prio } => write!(f, "tc egress prio {prio}"),
            AttachPoint::Xdp { mode: XdpMode::Generic } => write!(f, "xdp generic"),
            AttachPoint::Xdp { mode: XdpMode::Native } => write!(f, "xdp native"),
        }
    }
}
