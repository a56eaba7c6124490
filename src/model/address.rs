//! An interface address: a local address with its prefix, or a point-to-point one
//! (`addr LOCAL peer PEER[/LEN]`), whose prefix is the peer's.

use ipnet::IpNet;
use std::net::IpAddr;

/// What the kernel keys an address by: IFA_LOCAL (`local`), the prefix length and
/// IFA_ADDRESS, which is the local address itself, or the peer of a point-to-point
/// address. An address with a peer is another address than the same local without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IfAddr {
    /// The local address with the address's prefix length (the peer's, if any).
    local: IpNet,
    peer: Option<IpAddr>,
}

impl IfAddr {
    /// `local peer peer`: the prefix length is the peer's (`ip address add` takes it from
    /// there, as the kernel routes the peer prefix). `None` if the families differ.
    pub fn with_peer(local: IpAddr, peer: IpNet) -> Option<IfAddr> {
        if local.is_ipv4() != peer.addr().is_ipv4() {
            return None;
        }
        let local = IpNet::new(local, peer.prefix_len()).ok()?;
        Some(IfAddr { local, peer: Some(peer.addr()) })
    }

    /// The local address (IFA_LOCAL).
    pub fn addr(&self) -> IpAddr {
        self.local.addr()
    }

    pub fn prefix_len(&self) -> u8 {
        self.local.prefix_len()
    }

    /// The local address with the prefix length, as `ip` shows an address without a peer.
    pub fn local(&self) -> IpNet {
        self.local
    }

    /// The peer with its prefix length (IFA_ADDRESS), for a point-to-point address.
    pub fn peer(&self) -> Option<IpNet> {
        self.peer.map(|p| IpNet::new(p, self.prefix_len()).expect("same family as local"))
    }

    /// The prefix IFA_ADDRESS names: the local one's network, or the peer's.
    pub fn address(&self) -> IpAddr {
        self.peer.unwrap_or(self.local.addr())
    }

    /// An IPv6 link-local address (fe80::/10), which the kernel makes by itself.
    pub fn is_v6_link_local(&self) -> bool {
        matches!(self.addr(), IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
    }

    /// The network the kernel adds a route for (its prefix route): the local address's,
    /// or the peer's.
    pub fn trunc(&self) -> IpNet {
        IpNet::new(self.address(), self.prefix_len()).expect("same family as local").trunc()
    }
}

impl From<IpNet> for IfAddr {
    fn from(local: IpNet) -> Self {
        IfAddr { local, peer: None }
    }
}

/// `10.0.0.1/24`, or `192.0.2.1 peer 192.0.2.2/32`: what a script writes.
impl std::fmt::Display for IfAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.peer() {
            None => write!(f, "{}", self.local),
            Some(peer) => write!(f, "{} peer {peer}", self.local.addr()),
        }
    }
}

impl std::str::FromStr for IfAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(" peer ") {
            None => s.parse::<IpNet>().map(IfAddr::from).map_err(|e| e.to_string()),
            Some((local, peer)) => {
                let local: IpAddr = local.trim().parse().map_err(|e: std::net::AddrParseError| e.to_string())?;
                let peer: IpNet = peer.trim().parse().map_err(|e: ipnet::AddrParseError| e.to_string())?;
                IfAddr::with_peer(local, peer).ok_or_else(|| format!("`{s}`: local and peer of different families"))
            }
        }
    }
}

// As a string, its Display: an address without a peer reads as the prefix did before
// peers existed, so journals and ownership records written then read the same.
impl serde::Serialize for IfAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for IfAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_gives_the_prefix_and_reads_back() {
        let a = IfAddr::with_peer("192.0.2.1".parse().unwrap(), "192.0.2.2/32".parse().unwrap()).unwrap();
        assert_eq!(a.to_string(), "192.0.2.1 peer 192.0.2.2/32");
        assert_eq!(a.to_string().parse::<IfAddr>().unwrap(), a);
        assert_eq!(a.trunc(), "192.0.2.2/32".parse::<IpNet>().unwrap());
        assert_ne!(a, IfAddr::from("192.0.2.1/32".parse::<IpNet>().unwrap()));
        let plain: IfAddr = "10.0.0.1/24".parse().unwrap();
        assert_eq!(plain.to_string(), "10.0.0.1/24");
        assert_eq!(serde_json::to_string(&plain).unwrap(), "\"10.0.0.1/24\"");
        assert_eq!(serde_json::from_str::<IfAddr>("\"2001:db8::1 peer 2001:db8::2/128\"").unwrap().peer().unwrap().to_string(), "2001:db8::2/128");
        assert!(IfAddr::with_peer("192.0.2.1".parse().unwrap(), "2001:db8::2/128".parse().unwrap()).is_none());
    }
}
