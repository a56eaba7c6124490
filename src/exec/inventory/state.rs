//! The live state as the inventory reads it: the data `show` and `export` render
//! ([`crate::live`]), and the host files it is read with (/run/netns, rt_tables).

use super::super::stats::TcStatsEntry;
use crate::model::MacvlanMode;
use crate::plan::action::{ClassSpec, QdiscParent, QdiscSpec, RouteSpec, RuleSpec};
use crate::plan::observed::{ObservedFilter, ObservedProgram};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The live state of the namespaces asked for.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// In the order asked for (`host` first when it is one of them).
    pub namespaces: Vec<LiveNs>,
    /// Routing table names (`/etc/iproute2/rt_tables` and its `.d` directory), besides
    /// main, local and default.
    pub table_names: BTreeMap<u32, String>,
    /// Whether each link's MAC address origin (`addr_assign_type`) could be read.
    pub mac_origins: bool,
}

#[derive(Debug, Clone, Default)]
pub struct LiveNs {
    pub name: String,
    /// The namespace's inode.
    pub id: Option<u64>,
    /// In interface index order.
    pub links: Vec<LiveLink>,
    /// Unicast routes of every table but `local` (which the kernel fills).
    pub routes: Vec<LiveRoute>,
    /// Rules that look up a table, in the kernel's order.
    pub rules: Vec<LiveRule>,
    /// Rules of other actions (goto, blackhole, …), which a script cannot declare: as
    /// `ip rule` would word them, roughly.
    pub other_rules: Vec<String>,
    /// Qdiscs at a root, ingress or clsact attachment point that someone made (the
    /// kernel's defaults, handle 0:, are left out).
    pub qdiscs: Vec<LiveQdisc>,
    /// htb classes, by device.
    pub classes: Vec<(String, ClassSpec)>,
    /// Filters on htb qdiscs (`parent 1:`).
    pub filters: Vec<ObservedFilter>,
    /// Filters on ingress qdiscs (`parent ffff:`), but for the redirects below.
    pub ingress_filters: Vec<ObservedFilter>,
    /// Redirects from an ingress qdisc to an ifb device (`shape ingress`): (device, ifb).
    pub redirects: Vec<(String, String)>,
    pub programs: Vec<ObservedProgram>,
    /// The forwarding sysctls, and every other `net.*` sysctl whose value differs from a
    /// new namespace's.
    pub sysctls: Vec<LiveSysctl>,
    /// `show --stats`.
    pub tc_stats: Option<Vec<TcStatsEntry>>,
    /// netscript's nftables table, when the namespace has one.
    pub firewall: Option<crate::plan::firewall::ObservedFirewall>,
    /// For each chain of `firewall`, each rule's place in the script that made it
    /// (`file:line:col`), where that script still declares it; filled by `show`.
    pub firewall_sources: Vec<Vec<Option<String>>>,
    /// For each inline eBPF program (by id), its rules as the script that attached it
    /// writes them, with their places (`file:line:col`); filled by `show`.
    pub bpf_rule_sources: Vec<(u32, Vec<(String, String)>)>,
    /// `show --stats`: the hit counters of each program netscript compiled (by id), read
    /// from its counter map.
    pub bpf_counters: Vec<(u32, Vec<u64>)>,
}

#[derive(Debug, Clone)]
pub struct LiveLink {
    pub name: String,
    pub index: u32,
    /// The kernel's kind (`veth`, `bridge`, …); `None` for physical devices and `lo`.
    pub kind: Option<String>,
    pub up: bool,
    pub mtu: u32,
    pub mac: Option<[u8; 6]>,
    /// Where the MAC address comes from, when it could be read.
    pub mac_origin: Option<MacOrigin>,
    pub master: Option<String>,
    /// In the kernel's order.
    pub addrs: Vec<crate::model::IfAddr>,
    /// A veth's other end.
    pub peer: Option<Peer>,
    /// A macvlan's, vlan's or ipvlan's parent, a vxlan's `dev` (in the same namespace).
    pub lower: Option<String>,
    pub macvlan_mode: Option<MacvlanMode>,
    pub vxlan: Option<VxlanInfo>,
    /// A VRF's routing table.
    pub vrf_table: Option<u32>,
    /// A vlan's id and tag protocol (its parent is `lower`).
    pub vlan: Option<(u16, crate::model::VlanProtocol)>,
    /// An ipvlan's mode and flag (its parent is `lower`).
    pub ipvlan: Option<(crate::model::IpvlanMode, crate::model::IpvlanFlag)>,
    /// An ipip's or gre's parameters.
    pub tunnel: Option<crate::model::TunnelParams>,
}

impl LiveLink {
    pub fn is_loopback(&self) -> bool {
        self.name == "lo" && self.kind.is_none()
    }
}

/// A veth's other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    In { ns: String, name: String },
    /// In a namespace that has no name under /run/netns (or not found).
    Unknown,
}

/// `addr_assign_type` of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacOrigin {
    Permanent,
    Random,
    Stolen,
    Set,
}

impl MacOrigin {
    pub fn from_sysfs(value: u8) -> Option<MacOrigin> {
        match value {
            0 => Some(MacOrigin::Permanent),
            1 => Some(MacOrigin::Random),
            2 => Some(MacOrigin::Stolen),
            3 => Some(MacOrigin::Set),
            _ => None,
        }
    }
    pub fn word(self) -> &'static str {
        match self {
            MacOrigin::Permanent => "permanent",
            MacOrigin::Random => "random",
            MacOrigin::Stolen => "stolen",
            MacOrigin::Set => "set",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanInfo {
    pub vni: u32,
    /// A unicast remote.
    pub remote: Option<IpAddr>,
    /// A multicast group.
    pub group: Option<IpAddr>,
    pub local: Option<IpAddr>,
    pub port: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct LiveQdisc {
    pub dev: String,
    pub parent: QdiscParent,
    pub kind: String,
    pub handle: u32,
    /// What it is in netscript's terms, when a script can declare it.
    pub spec: Option<QdiscSpec>,
}

#[derive(Debug, Clone)]
pub struct LiveRoute {
    pub spec: RouteSpec,
    /// `rtm_protocol`: 2 kernel, 3 boot, 4 static, 110 netscript…
    pub protocol: u8,
    /// `rtm_scope`: 0 global, 253 link, 254 host.
    pub scope: u8,
}

#[derive(Debug, Clone)]
pub struct LiveRule {
    pub spec: RuleSpec,
    pub protocol: u8,
    /// Selectors a script cannot write (ipproto, ports, tos, l3mdev, suppress_*), as
    /// `ip rule` words them: such a rule is shown, and exported as a comment.
    pub unsupported: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSysctl {
    pub key: String,
    pub value: String,
    /// A new namespace's value (`None`: a new namespace has no such key).
    pub default: Option<String>,
}

/// The namespaces under /run/netns, sorted by name.
pub fn named_namespaces() -> Vec<String> {
    let mut found: Vec<String> = match std::fs::read_dir("/run/netns") {
        Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    };
    found.sort();
    found
}

/// Routing table names from iproute2's files: `/etc/iproute2/rt_tables` (or
/// `/usr/share/iproute2/rt_tables`, where newer iproute2 keeps it) and the `*.conf`
/// files of `rt_tables.d`. Lines are `NUMBER NAME`; `#` starts a comment. The built-in
/// names (main, local, default, unspec) are left out.
pub fn read_table_names() -> BTreeMap<u32, String> {
    let mut names = BTreeMap::new();
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for base in ["/usr/share/iproute2", "/etc/iproute2"] {
        files.push(std::path::Path::new(base).join("rt_tables"));
        if let Ok(entries) = std::fs::read_dir(std::path::Path::new(base).join("rt_tables.d")) {
            let mut more: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "conf")).collect();
            more.sort();
            files.extend(more);
        }
    }
    for file in files {
        let Ok(text) = crate::bounded::read_string(&file, 1024 * 1024) else { continue };
        parse_table_names(&text, &mut names);
    }
    names
}

/// One rt_tables file's names into `names` (later files override earlier ones).
pub fn parse_table_names(text: &str, names: &mut BTreeMap<u32, String>) {
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace();
        let (Some(id), Some(name)) = (words.next(), words.next()) else { continue };
        let id = match id.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => id.parse().ok(),
        };
        let Some(id) = id else { continue };
        if matches!(id, 0 | crate::model::TABLE_MAIN | crate::model::TABLE_LOCAL | crate::model::TABLE_DEFAULT) {
            continue;
        }
        names.insert(id, name.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rt_tables_lines() {
        let mut names = BTreeMap::new();
        parse_table_names("#\n# reserved values\n255\tlocal\n254\tmain\n253 default\n0\tunspec\n100 uplink2 # second uplink\n0x200 vpn\nbad line\n", &mut names);
        assert_eq!(names, BTreeMap::from([(100, "uplink2".to_string()), (0x200, "vpn".to_string())]));
    }
}
