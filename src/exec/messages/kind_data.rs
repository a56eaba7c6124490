//! What a link was made with, as the kernel reports it back in IFLA_INFO_DATA, for the
//! kinds whose creation attributes netscript compares with the script (macvlan, vxlan;
//! vlan in `vlan.rs`, vrf in `links.rs`).

use crate::model::MacvlanMode;
use netlink_packet_route::link::{InfoMacVlan, InfoVxlan, MacVlanMode};
use std::net::IpAddr;

/// A vxlan as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanData {
    pub vni: u32,
    /// A unicast remote.
    pub remote: Option<IpAddr>,
    /// A multicast group.
    pub group: Option<IpAddr>,
    pub local: Option<IpAddr>,
    pub port: Option<u16>,
    /// IFLA_VXLAN_LINK: the index of its `dev`.
    pub link: Option<u32>,
}

pub fn decode_macvlan_mode(data: &[InfoMacVlan]) -> Option<MacvlanMode> {
    data.iter().find_map(|d| match d {
        InfoMacVlan::Mode(MacVlanMode::Private) => Some(MacvlanMode::Private),
        InfoMacVlan::Mode(MacVlanMode::Vepa) => Some(MacvlanMode::Vepa),
        InfoMacVlan::Mode(MacVlanMode::Bridge) => Some(MacvlanMode::Bridge),
        InfoMacVlan::Mode(MacVlanMode::Passthrough) => Some(MacvlanMode::Passthru),
        _ => None,
    })
}

pub fn decode_vxlan(data: &[InfoVxlan]) -> VxlanData {
    let mut v = VxlanData { vni: 0, remote: None, group: None, local: None, port: None, link: None };
    let mut peer: Option<IpAddr> = None;
    for d in data {
        match d {
            InfoVxlan::Id(id) => v.vni = *id,
            InfoVxlan::Group(a) => peer = Some(IpAddr::V4(*a)),
            InfoVxlan::Group6(a) => peer = Some(IpAddr::V6(*a)),
            InfoVxlan::Local(a) => v.local = Some(IpAddr::V4(*a)),
            InfoVxlan::Local6(a) => v.local = Some(IpAddr::V6(*a)),
            InfoVxlan::Link(i) if *i != 0 => v.link = Some(*i),
            InfoVxlan::Port(p) => v.port = Some(*p),
            _ => {}
        }
    }
    // The kernel keeps a unicast remote and a multicast group in one attribute, as
    // `ip -d link` tells them apart.
    match peer {
        Some(a) if a.is_multicast() => v.group = Some(a),
        Some(a) if !a.is_unspecified() => v.remote = Some(a),
        _ => {}
    }
    v
}
