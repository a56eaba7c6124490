//! An IPv4 tunnel's info data, both ways: ipip's IFLA_IPTUN_LOCAL/REMOTE/TTL, gre's
//! IFLA_GRE_LOCAL/REMOTE/TTL and its key (IFLA_GRE_IKEY/OKEY with GRE_KEY in
//! IFLA_GRE_IFLAGS/OFLAGS, as ip's `key` sets both ways). The kernel's changelink reads
//! every parameter anew (what is not sent is reset), so a change sends them all, as a
//! creation does.

use crate::model::{TunnelKind, TunnelParams};
use netlink_packet_route::IpProtocol;
use netlink_packet_route::link::{GreIOFlags, InfoData, InfoGre, InfoIpTunnel, InfoKind};
use std::net::{IpAddr, Ipv4Addr};

/// The kind and info data that make (or change) a tunnel with `params`.
pub(crate) fn encode(kind: TunnelKind, p: &TunnelParams) -> (InfoKind, InfoData) {
    let local = p.local.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let remote = p.remote.unwrap_or(Ipv4Addr::UNSPECIFIED);
    match kind {
        // Protocol 0 ("any": IPv4 and MPLS inside), as ip sends it; the kernel's own
        // default, when none is sent, is IPPROTO_IPIP.
        TunnelKind::Ipip => (
            InfoKind::IpIp,
            InfoData::IpTunnel(vec![InfoIpTunnel::Local(IpAddr::V4(local)), InfoIpTunnel::Remote(IpAddr::V4(remote)), InfoIpTunnel::Ttl(p.ttl), InfoIpTunnel::Protocol(IpProtocol::Hopopts)]),
        ),
        TunnelKind::Gre => {
            let mut data = vec![InfoGre::Local(local), InfoGre::Remote(remote), InfoGre::Ttl(p.ttl)];
            if let Some(key) = p.key {
                data.extend([InfoGre::IFlags(GreIOFlags::Key), InfoGre::OFlags(GreIOFlags::Key), InfoGre::IKey(key), InfoGre::OKey(key)]);
            }
            (InfoKind::GreTun, InfoData::GreTun(data))
        }
    }
}

/// An ipip tunnel's parameters as the kernel reports them.
pub(crate) fn decode_ipip(data: &[InfoIpTunnel]) -> TunnelParams {
    let mut p = TunnelParams { local: None, remote: None, ttl: 0, key: None };
    for d in data {
        match d {
            InfoIpTunnel::Local(IpAddr::V4(a)) => p.local = Some(*a).filter(|a| !a.is_unspecified()),
            InfoIpTunnel::Remote(IpAddr::V4(a)) => p.remote = Some(*a).filter(|a| !a.is_unspecified()),
            InfoIpTunnel::Ttl(t) => p.ttl = *t,
            _ => {}
        }
    }
    p
}

/// A gre tunnel's parameters as the kernel reports them: its key when it sends one
/// (GRE_KEY in its output flags).
pub(crate) fn decode_gre(data: &[InfoGre]) -> TunnelParams {
    let mut p = TunnelParams { local: None, remote: None, ttl: 0, key: None };
    let (mut keyed, mut okey) = (false, 0);
    for d in data {
        match d {
            InfoGre::Local(a) => p.local = Some(*a).filter(|a| !a.is_unspecified()),
            InfoGre::Remote(a) => p.remote = Some(*a).filter(|a| !a.is_unspecified()),
            InfoGre::Ttl(t) => p.ttl = *t,
            InfoGre::OFlags(f) => keyed = f.contains(GreIOFlags::Key),
            InfoGre::OKey(k) => okey = *k,
            _ => {}
        }
    }
    p.key = keyed.then_some(okey);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_encoded_decodes_back() {
        let p = TunnelParams { local: Some(Ipv4Addr::new(10, 0, 0, 1)), remote: Some(Ipv4Addr::new(10, 0, 0, 2)), ttl: 64, key: None };
        let (kind, InfoData::IpTunnel(data)) = encode(TunnelKind::Ipip, &p) else { panic!("ipip's data") };
        assert_eq!(kind, InfoKind::IpIp);
        assert_eq!(decode_ipip(&data), p);
        let keyed = TunnelParams { key: Some(7), local: None, ..p };
        let (kind, InfoData::GreTun(data)) = encode(TunnelKind::Gre, &keyed) else { panic!("gre's data") };
        assert_eq!(kind, InfoKind::GreTun);
        assert_eq!(decode_gre(&data), keyed);
        let (_, InfoData::GreTun(data)) = encode(TunnelKind::Gre, &p) else { panic!("gre's data") };
        assert_eq!(decode_gre(&data), p);
    }
}
