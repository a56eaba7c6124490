//! The attachment's facts as netscript variables, predefined for the snippet: `ifname`,
//! `containerid` (names), and from `prevResult`'s first address of each family on the
//! container's interface: `ip4` (the address), `ip4cidr` (with its prefix length),
//! `net4` (the network), `gw4` (its gateway); `ip6`, `ip6cidr`, `net6`, `gw6` likewise.
//! A variable whose fact is missing is not defined: a snippet that uses it is refused
//! with the checker's "unknown variable".

use super::types::{PrevIp, PrevResult};
use crate::check::Val;
use ipnet::IpNet;
use std::net::IpAddr;

pub fn predefined(ifname: &str, container_id: &str, prev: &PrevResult) -> Vec<(String, Val)> {
    let mut vars = vec![("ifname".to_string(), Val::Name(ifname.to_string())), ("containerid".to_string(), Val::Name(container_id.to_string()))];
    for (suffix, v4) in [("4", true), ("6", false)] {
        let Some((net, gateway)) = address(prev, ifname, v4) else { continue };
        vars.push((format!("ip{suffix}"), Val::Ip(net.addr(), None)));
        vars.push((format!("ip{suffix}cidr"), Val::Ip(net.addr(), Some(net.prefix_len()))));
        vars.push((format!("net{suffix}"), Val::Ip(net.network(), Some(net.prefix_len()))));
        if let Some(gw) = gateway {
            vars.push((format!("gw{suffix}"), Val::Ip(gw, None)));
        }
    }
    vars
}

/// The first address of the family on `ifname` in the container (an `ips` entry whose
/// `interface` names it), else the first of the family at all.
fn address(prev: &PrevResult, ifname: &str, v4: bool) -> Option<(IpNet, Option<IpAddr>)> {
    let parsed = |ip: &PrevIp| -> Option<(IpNet, Option<IpAddr>)> {
        let net: IpNet = ip.address.parse().ok()?;
        let gateway = ip.gateway.as_deref().and_then(|g| g.parse().ok());
        (net.addr().is_ipv4() == v4).then_some((net, gateway))
    };
    let on_ifname = |ip: &&PrevIp| {
        ip.interface.and_then(|i| prev.interfaces.get(i)).is_some_and(|i| i.name == ifname && i.sandbox.as_deref().is_some_and(|s| !s.is_empty()))
    };
    prev.ips.iter().filter(on_ifname).find_map(parsed).or_else(|| prev.ips.iter().find_map(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_container_side_address_is_chosen() {
        let prev: PrevResult = serde_json::from_value(serde_json::json!({
            "interfaces": [{"name": "cni0"}, {"name": "veth1"}, {"name": "eth0", "sandbox": "/run/netns/x"}],
            "ips": [{"address": "192.0.2.1/24", "interface": 0}, {"address": "10.1.0.5/16", "gateway": "10.1.0.1", "interface": 2},
                    {"address": "fd00::5/64", "gateway": "fd00::1", "interface": 2}]
        }))
        .unwrap();
        let vars = predefined("eth0", "abc", &prev);
        let get = |n: &str| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(get("ifname"), Some(Val::Name("eth0".into())));
        assert_eq!(get("ip4"), Some(Val::Ip("10.1.0.5".parse().unwrap(), None)));
        assert_eq!(get("ip4cidr"), Some(Val::Ip("10.1.0.5".parse().unwrap(), Some(16))));
        assert_eq!(get("net4"), Some(Val::Ip("10.1.0.0".parse().unwrap(), Some(16))));
        assert_eq!(get("gw4"), Some(Val::Ip("10.1.0.1".parse().unwrap(), None)));
        assert_eq!(get("gw6"), Some(Val::Ip("fd00::1".parse().unwrap(), None)));
        // Nothing of a family: not defined.
        assert_eq!(predefined("eth0", "abc", &PrevResult::default()).len(), 2);
    }
}
