//! An ipvlan's info data (IFLA_IPVLAN_MODE, IFLA_IPVLAN_FLAGS), both ways, and the
//! requests that change a link's info data in place (the kernel's ipvlan_link_changelink,
//! ip_tunnel_changelink).

use crate::model::{IpvlanFlag, IpvlanMode};
use netlink_packet_route::link::{InfoData, InfoIpVlan, InfoKind, IpVlanFlags, IpVlanMode, LinkAttribute, LinkInfo, LinkMessage};

/// The mode and flag an ipvlan reports; `None` for a mode netscript has no word for.
pub(crate) fn decode(data: &[InfoIpVlan]) -> Option<(IpvlanMode, IpvlanFlag)> {
    let mode = data.iter().find_map(|d| match d {
        InfoIpVlan::Mode(IpVlanMode::L2) => Some(Some(IpvlanMode::L2)),
        InfoIpVlan::Mode(IpVlanMode::L3) => Some(Some(IpvlanMode::L3)),
        InfoIpVlan::Mode(IpVlanMode::L3S) => Some(Some(IpvlanMode::L3s)),
        InfoIpVlan::Mode(_) => Some(None),
        _ => None,
    })??;
    // No flags attribute (kernels before 4.15): bridge, the only behaviour they had.
    let flags = data.iter().find_map(|d| match d {
        InfoIpVlan::Flags(f) => Some(*f),
        _ => None,
    });
    let flag = match flags {
        Some(f) if f.contains(IpVlanFlags::Private) => IpvlanFlag::Private,
        Some(f) if f.contains(IpVlanFlags::Vepa) => IpvlanFlag::Vepa,
        _ => IpvlanFlag::Bridge,
    };
    Some((mode, flag))
}

/// The info data of an ipvlan in `mode` with `flag` (both always sent, as ip does).
pub(crate) fn encode(mode: IpvlanMode, flag: IpvlanFlag) -> Vec<InfoIpVlan> {
    let mode = match mode {
        IpvlanMode::L2 => IpVlanMode::L2,
        IpvlanMode::L3 => IpVlanMode::L3,
        IpvlanMode::L3s => IpVlanMode::L3S,
    };
    let flags = match flag {
        IpvlanFlag::Bridge => IpVlanFlags::empty(),
        IpvlanFlag::Private => IpVlanFlags::Private,
        IpvlanFlag::Vepa => IpVlanFlags::Vepa,
    };
    vec![InfoIpVlan::Mode(mode), InfoIpVlan::Flags(flags)]
}

/// RTM_NEWLINK without CREATE for the ipvlan `name`: `ip link set NAME type ipvlan mode
/// MODE FLAG`. The mode and flag are its parent's port's: every ipvlan on that parent
/// changes with it.
pub fn change_ipvlan(name: &str, mode: IpvlanMode, flag: IpvlanFlag) -> LinkMessage {
    change(name, InfoKind::IpVlan, InfoData::IpVlan(encode(mode, flag)))
}

/// RTM_NEWLINK without CREATE for the tunnel `name`: `ip link set NAME type ipip|gre …`
/// with all its parameters.
pub fn change_tunnel(name: &str, kind: crate::model::TunnelKind, params: &crate::model::TunnelParams) -> LinkMessage {
    let (kind, data) = super::tunnel::encode(kind, params);
    change(name, kind, data)
}

fn change(name: &str, kind: InfoKind, data: InfoData) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    msg.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(kind), LinkInfo::Data(data)]));
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_encoded_decodes_back() {
        for mode in [IpvlanMode::L2, IpvlanMode::L3, IpvlanMode::L3s] {
            for flag in [IpvlanFlag::Bridge, IpvlanFlag::Private, IpvlanFlag::Vepa] {
                assert_eq!(decode(&encode(mode, flag)), Some((mode, flag)));
            }
        }
        assert_eq!(decode(&[InfoIpVlan::Mode(IpVlanMode::L2)]), Some((IpvlanMode::L2, IpvlanFlag::Bridge)));
        assert_eq!(decode(&[]), None);
    }

    #[test]
    fn the_change_names_the_kind_and_both_attributes() {
        let msg = change_ipvlan("iv0", IpvlanMode::L2, IpvlanFlag::Vepa);
        let info = msg.attributes.iter().find_map(|a| match a {
            LinkAttribute::LinkInfo(i) => Some(i.clone()),
            _ => None,
        });
        assert_eq!(info, Some(vec![LinkInfo::Kind(InfoKind::IpVlan), LinkInfo::Data(InfoData::IpVlan(vec![InfoIpVlan::Mode(IpVlanMode::L2), InfoIpVlan::Flags(IpVlanFlags::Vepa)]))]));
    }
}
