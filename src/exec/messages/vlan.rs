//! A vlan's IFLA_INFO_DATA read back: its id and tag protocol.

use crate::model::VlanProtocol;
use netlink_packet_route::link::{InfoVlan, VlanProtocol as NlProtocol};

/// The id and protocol of a vlan's info data; `None` without an id.
pub(super) fn decode(data: &[InfoVlan]) -> Option<(u16, VlanProtocol)> {
    let id = data.iter().find_map(|d| match d {
        InfoVlan::Id(id) => Some(*id),
        _ => None,
    })?;
    // The kernel always reports the protocol; 802.1Q is its default when it does not.
    let protocol = data
        .iter()
        .find_map(|d| match d {
            InfoVlan::Protocol(NlProtocol::Ieee8021Ad) => Some(VlanProtocol::Ieee8021Ad),
            InfoVlan::Protocol(_) => Some(VlanProtocol::Ieee8021Q),
            _ => None,
        })
        .unwrap_or_default();
    Some((id, protocol))
}

/// The info data of a vlan with `id` and `protocol`.
pub(super) fn encode(id: u16, protocol: VlanProtocol) -> Vec<InfoVlan> {
    let protocol = match protocol {
        VlanProtocol::Ieee8021Q => NlProtocol::Ieee8021Q,
        VlanProtocol::Ieee8021Ad => NlProtocol::Ieee8021Ad,
    };
    vec![InfoVlan::Id(id), InfoVlan::Protocol(protocol)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_encoded_decodes_back() {
        for protocol in [VlanProtocol::Ieee8021Q, VlanProtocol::Ieee8021Ad] {
            assert_eq!(decode(&encode(4094, protocol)), Some((4094, protocol)));
        }
        assert_eq!(decode(&[InfoVlan::Id(7)]), Some((7, VlanProtocol::Ieee8021Q)));
        assert_eq!(decode(&[]), None);
    }
}
