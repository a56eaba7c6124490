//! Addresses, routes (protocol 110) and rules, and the same back from dumps.

use crate::model::{IfAddr, RouteKind};
use crate::plan::NETSCRIPT_ROUTE_PROTOCOL;
use crate::plan::action::{NextHopSpec, RouteSpec, RuleSpec};
use ipnet::IpNet;
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage, AddressScope};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteMetric, RouteNextHop, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::rule::{RulePortRange, RuleAction, RuleAttribute, RuleMessage, RuleUidRange};
use netlink_packet_route::AddressFamily;
use std::net::IpAddr;

/// `RT_TABLE_COMPAT`: the header's 8-bit table field when the real id needs `RTA_TABLE`.
const RT_TABLE_COMPAT: u8 = 252;

fn family_of(addr: &IpAddr) -> AddressFamily {
    match addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn header_table(table: u32) -> u8 {
    if table < 256 { table as u8 } else { RT_TABLE_COMPAT }
}

/// RTM_NEWADDR / RTM_DELADDR. IPv6 addresses get `IFA_F_NODAD`: duplicate address
/// detection would keep them "tentative" (unusable) for a second or more after the run,
/// and the namespaces netscript builds are its own, so there is nothing to detect.
pub fn address(index: u32, addr: &IfAddr) -> AddressMessage {
    let mut msg = AddressMessage::default();
    let ip = addr.addr();
    msg.header.family = family_of(&ip);
    msg.header.prefix_len = addr.prefix_len();
    msg.header.index = index;
    msg.header.scope = default_address_scope(&ip);
    if ip.is_ipv6() {
        msg.header.flags = AddressHeaderFlags::Nodad;
    }
    msg.attributes.push(AddressAttribute::Local(ip));
    // IFA_ADDRESS: the peer of a point-to-point address, else the local one again.
    msg.attributes.push(AddressAttribute::Address(addr.address()));
    msg
}

/// The scope `ip addr add` gives an address when none is named.
fn default_address_scope(ip: &IpAddr) -> AddressScope {
    match ip {
        IpAddr::V4(a) if a.is_loopback() => AddressScope::Host,
        IpAddr::V6(a) if a.is_loopback() => AddressScope::Host,
        IpAddr::V6(a) if (a.segments()[0] & 0xffc0) == 0xfe80 => AddressScope::Link,
        _ => AddressScope::Universe,
    }
}

/// RTM_NEWROUTE / RTM_DELROUTE. `oif` is the resolved `dev`. Routes carry netscript's
/// protocol ([`NETSCRIPT_ROUTE_PROTOCOL`]); a delete names it too, so that it can only
/// remove netscript's route, never a routing daemon's or the operator's. Its scope
/// "nowhere" matches any scope.
// RouteHeader is non_exhaustive: no struct literal, so its fields are set one by one.
#[allow(clippy::field_reassign_with_default)]
pub fn route(spec: &RouteSpec, oif: Option<u32>, for_delete: bool) -> RouteMessage {
    let mut msg = RouteMessage::default();
    let dest = spec.dest;
    let family = family_of(&dest.addr());
    let mut header = RouteHeader::default();
    header.address_family = family;
    header.destination_prefix_length = dest.prefix_len();
    header.table = header_table(spec.table);
    header.kind = match spec.kind {
        RouteKind::Unicast => RouteType::Unicast,
        RouteKind::Blackhole => RouteType::BlackHole,
        RouteKind::Unreachable => RouteType::Unreachable,
        RouteKind::Prohibit => RouteType::Prohibit,
    };
    header.protocol = RouteProtocol::from(spec.proto.unwrap_or(NETSCRIPT_ROUTE_PROTOCOL));
    if for_delete {
        header.scope = RouteScope::NoWhere;
    } else {
        // Routes without a gateway are on-link, unless the script names a scope.
        // (iproute2's rule; routes that refuse packets keep the universe scope.)
        header.scope = RouteScope::from(spec.scope_or_default());
    }
    msg.header = header;
    msg.attributes.push(RouteAttribute::Table(spec.table));
    if dest.prefix_len() > 0 {
        msg.attributes.push(RouteAttribute::Destination(RouteAddress::from(dest.network())));
    }
    if let Some(via) = spec.via {
        msg.attributes.push(RouteAttribute::Gateway(RouteAddress::from(via)));
    }
    if let Some(oif) = oif {
        msg.attributes.push(RouteAttribute::Oif(oif));
    }
    if let Some(src) = spec.src {
        msg.attributes.push(RouteAttribute::PrefSource(RouteAddress::from(src)));
    }
    if let Some(metric) = spec.metric {
        msg.attributes.push(RouteAttribute::Priority(metric));
    }
    if spec.onlink {
        msg.header.flags |= RouteFlags::Onlink;
    }
    // A delete names no metrics: the route is found by its place and gateway.
    let metrics: Vec<RouteMetric> = [spec.mtu.map(RouteMetric::Mtu), spec.advmss.map(RouteMetric::Advmss)].into_iter().flatten().collect();
    if !metrics.is_empty() && !for_delete {
        msg.attributes.push(RouteAttribute::Metrics(metrics));
    }
    msg
}

/// RTM_NEWRULE / RTM_DELRULE, every selector of the spec, and netscript's protocol
/// (`proto 110` in `ip rule`): a delete then matches netscript's rule only.
pub fn rule(spec: &RuleSpec) -> RuleMessage {
    let mut msg = RuleMessage::default();
    msg.header.family = if spec.v6 { AddressFamily::Inet6 } else { AddressFamily::Inet };
    msg.header.table = header_table(spec.table);
    msg.header.action = RuleAction::ToTable;
    if let Some(from) = spec.from {
        msg.header.src_len = from.prefix_len();
        msg.attributes.push(RuleAttribute::Source(from.network()));
    }
    if let Some(to) = spec.to {
        msg.header.dst_len = to.prefix_len();
        msg.attributes.push(RuleAttribute::Destination(to.network()));
    }
    if let Some(iif) = &spec.iif {
        msg.attributes.push(RuleAttribute::Iifname(iif.clone()));
    }
    if let Some(oif) = &spec.oif {
        msg.attributes.push(RuleAttribute::Oifname(oif.clone()));
    }
    if let Some(mark) = spec.fwmark {
        msg.attributes.push(RuleAttribute::FwMark(mark));
    }
    if let Some(mask) = spec.fwmask {
        msg.attributes.push(RuleAttribute::FwMask(mask));
    }
    if let Some((start, end)) = spec.uidrange {
        msg.attributes.push(RuleAttribute::UidRange(RuleUidRange { start, end }));
    }
    if let Some(priority) = spec.priority {
        msg.attributes.push(RuleAttribute::Priority(priority));
    }
    if let Some(proto) = spec.ipproto {
        msg.attributes.push(RuleAttribute::IpProtocol(netlink_packet_route::IpProtocol::from(proto)));
    }
    if let Some((start, end)) = spec.sport {
        msg.attributes.push(RuleAttribute::SourcePortRange(RulePortRange { start, end }));
    }
    if let Some((start, end)) = spec.dport {
        msg.attributes.push(RuleAttribute::DestinationPortRange(RulePortRange { start, end }));
    }
    msg.header.tos = spec.tos.unwrap_or(0);
    super::rule_selectors::push_masked(&mut msg, spec);
    msg.attributes.push(RuleAttribute::Table(spec.table));
    msg.attributes.push(RuleAttribute::Protocol(RouteProtocol::from(NETSCRIPT_ROUTE_PROTOCOL)));
    msg
}


/// (interface index, address) of an address message.
pub fn decode_address(msg: &AddressMessage) -> Option<(u32, IfAddr)> {
    let mut local = None;
    let mut address = None;
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(a) => local = Some(*a),
            AddressAttribute::Address(a) => address = Some(*a),
            _ => {}
        }
    }
    // For point-to-point addresses IFA_ADDRESS is the peer; IFA_LOCAL is ours. IPv6
    // addresses without a peer carry IFA_ADDRESS alone.
    let ip = local.or(address)?;
    let addr = match address {
        Some(peer) if peer != ip => IfAddr::with_peer(ip, IpNet::new(peer, msg.header.prefix_len).ok()?)?,
        _ => IfAddr::from(IpNet::new(ip, msg.header.prefix_len).ok()?),
    };
    Some((msg.header.index, addr))
}

fn route_ip(addr: &RouteAddress) -> Option<IpAddr> {
    match addr {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

/// A route as a `RouteSpec` (dev as an index, to be named by the caller), or `None` for
/// what a `RouteSpec` cannot express and a script cannot name: routes of other types than
/// unicast, blackhole, unreachable and prohibit (local, broadcast, multicast, throw,
/// nat…), cached clones, multipath routes.
pub fn decode_route(msg: &RouteMessage) -> Option<(RouteSpec, Option<u32>)> {
    let kind = match msg.header.kind {
        RouteType::Unicast => RouteKind::Unicast,
        RouteType::BlackHole => RouteKind::Blackhole,
        RouteType::Unreachable => RouteKind::Unreachable,
        RouteType::Prohibit => RouteKind::Prohibit,
        _ => return None,
    };
    if msg.header.flags.contains(RouteFlags::Cloned) {
        return None;
    }
    let family = msg.header.address_family;
    let unspecified: IpAddr = match family {
        AddressFamily::Inet => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        AddressFamily::Inet6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        _ => return None,
    };
    let mut dest = unspecified;
    let mut via = None;
    let mut oif = None;
    let mut src = None;
    let mut metric = None;
    let mut table = msg.header.table as u32;
    let (mut mtu, mut advmss) = (None, None);
    let mut nexthops = Vec::new();
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Destination(a) => dest = route_ip(a)?,
            RouteAttribute::Gateway(a) => via = route_ip(a),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::PrefSource(a) => src = route_ip(a),
            RouteAttribute::Priority(p) => metric = Some(*p),
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::MultiPath(hops) => nexthops = hops.iter().map(decode_nexthop).collect::<Option<Vec<_>>>()?,
            RouteAttribute::Metrics(metrics) => {
                for m in metrics {
                    match m {
                        RouteMetric::Mtu(n) => mtu = Some(*n),
                        RouteMetric::Advmss(n) => advmss = Some(*n),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let dest = IpNet::new(dest, msg.header.destination_prefix_length).ok()?;
    let onlink = msg.header.flags.contains(RouteFlags::Onlink);
    // The kernel gives a refusing IPv6 route the loopback device: not part of its identity.
    let oif = oif.filter(|_| kind == RouteKind::Unicast);
    let protocol = u8::from(msg.header.protocol);
    let proto = (protocol != NETSCRIPT_ROUTE_PROTOCOL).then_some(protocol);
    let mut spec = RouteSpec { dest, via, dev: None, src, metric, table, onlink, kind, mtu, advmss, scope: None, proto, nexthops };
    let scope = u8::from(msg.header.scope);
    spec.scope = (scope != spec.default_scope()).then_some(scope);
    Some((spec, oif))
}

/// A rule as a `RuleSpec`, or `None` for rules whose action is not "lookup a table"
/// (goto, blackhole, unreachable, prohibit, nop), which a `RuleSpec` cannot express.
/// A mask of all ones is reported by the kernel whenever a fwmark is set; it is the
/// same as no mask, so it is normalised to `None`, as a script writes it.
pub fn decode_rule(msg: &RuleMessage) -> Option<RuleSpec> {
    if msg.header.action != RuleAction::ToTable {
        return None;
    }
    let v6 = match msg.header.family {
        AddressFamily::Inet => false,
        AddressFamily::Inet6 => true,
        _ => return None,
    };
    let mut spec = RuleSpec {
        v6,
        from: None,
        to: None,
        iif: None,
        oif: None,
        fwmark: None,
        fwmask: None,
        uidrange: None,
        priority: None,
        table: msg.header.table as u32,
        ipproto: None,
        sport: None,
        dport: None,
        tos: None,
        sport_mask: None,
        dport_mask: None,
        dscp: None,
        flowlabel: None,
    };
    for attr in &msg.attributes {
        if super::rule_selectors::decode_masked(attr, &mut spec) {
            continue;
        }
        match attr {
            RuleAttribute::Source(a) => spec.from = IpNet::new(*a, msg.header.src_len).ok(),
            RuleAttribute::Destination(a) => spec.to = IpNet::new(*a, msg.header.dst_len).ok(),
            RuleAttribute::Iifname(n) => spec.iif = Some(n.clone()),
            RuleAttribute::Oifname(n) => spec.oif = Some(n.clone()),
            RuleAttribute::FwMark(m) => spec.fwmark = Some(*m),
            RuleAttribute::FwMask(m) => spec.fwmask = Some(*m),
            RuleAttribute::UidRange(r) => spec.uidrange = Some((r.start, r.end)),
            RuleAttribute::Priority(p) => spec.priority = Some(*p),
            RuleAttribute::Table(t) => spec.table = *t,
            RuleAttribute::IpProtocol(p) => spec.ipproto = Some(u8::from(*p)),
            RuleAttribute::SourcePortRange(r) => spec.sport = Some((r.start, r.end)),
            RuleAttribute::DestinationPortRange(r) => spec.dport = Some((r.start, r.end)),
            _ => {}
        }
    }
    spec.tos = (msg.header.tos != 0).then_some(msg.header.tos);
    super::rule_selectors::normalise_masked(&mut spec);
    if spec.fwmask == Some(u32::MAX) || (spec.fwmark.is_none() && spec.fwmask == Some(0)) {
        spec.fwmask = None;
    }
    Some(spec)
}

/// RTA_MULTIPATH for a multipath route: each path's gateway, device (`oifs`, resolved by
/// the caller in the order of `spec.nexthops`) and weight (the kernel's `hops` is the
/// weight less one).
pub fn add_nexthops(msg: &mut RouteMessage, spec: &RouteSpec, oifs: &[Option<u32>]) {
    if spec.nexthops.is_empty() {
        return;
    }
    let hops = spec
        .nexthops
        .iter()
        .zip(oifs.iter().chain(std::iter::repeat(&None)))
        .map(|(hop, oif)| {
            let mut nh = RouteNextHop::default();
            nh.hops = (hop.weight.clamp(1, 256) - 1) as u8;
            nh.interface_index = oif.unwrap_or(0);
            nh.attributes.push(RouteAttribute::Gateway(RouteAddress::from(hop.via)));
            nh
        })
        .collect();
    msg.attributes.push(RouteAttribute::MultiPath(hops));
}

/// One path as the kernel reports it (its device as an index in `dev`, named by the
/// caller with [`name_nexthops`]).
fn decode_nexthop(nh: &RouteNextHop) -> Option<NextHopSpec> {
    let via = nh.attributes.iter().find_map(|a| match a {
        RouteAttribute::Gateway(g) => route_ip(g),
        _ => None,
    })?;
    let dev = (nh.interface_index != 0).then(|| nh.interface_index.to_string());
    Some(NextHopSpec { via, dev, weight: nh.hops as u32 + 1 })
}

/// Gives the paths of a decoded route their device names (`names`: index to name).
pub fn name_nexthops(spec: &mut RouteSpec, names: &dyn Fn(u32) -> Option<String>) {
    for hop in &mut spec.nexthops {
        hop.dev = hop.dev.as_ref().and_then(|i| i.parse().ok()).and_then(names);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
    use netlink_packet_route::RouteNetlinkMessage;

    #[test]
    fn rule_round_trips_every_selector() {
        let spec = RuleSpec {
            v6: false,
            from: Some("10.1.0.0/16".parse().unwrap()),
            to: Some("10.2.3.0/24".parse().unwrap()),
            iif: Some("a0".into()),
            oif: Some("b0".into()),
            fwmark: Some(0x10),
            fwmask: Some(0xff),
            uidrange: Some((1000, 2000)),
            priority: Some(100),
            table: 1000,
            ipproto: Some(6),
            sport: Some((1000, 1005)),
            dport: Some((80, 80)),
            tos: Some(0x10),
            sport_mask: Some(0xfff0),
            dport_mask: None,
            dscp: Some((0x0f, 0x0f)),
            flowlabel: Some((0x8000, 0x8000)),
        };
        let mut packet = NetlinkMessage::from(RouteNetlinkMessage::NewRule(rule(&spec)));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf).unwrap();
        let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRule(parsed)) = parsed.payload else { panic!("not a rule") };
        assert_eq!(decode_rule(&parsed), Some(spec));
    }

    #[test]
    fn default_route_has_no_destination_attribute() {
        let spec = RouteSpec { dest: "0.0.0.0/0".parse().unwrap(), via: Some("10.0.0.1".parse().unwrap()), dev: None, src: None, metric: None, table: 254, onlink: false, kind: Default::default(), mtu: None, advmss: None, scope: None, proto: None, nexthops: Vec::new() };
        let msg = route(&spec, None, false);
        assert!(!msg.attributes.iter().any(|a| matches!(a, RouteAttribute::Destination(_))));
        assert_eq!(decode_route(&msg).map(|(s, _)| s), Some(spec));
    }
}
