//! A rule's selectors netlink-packet-route has no type for (issue 24), as raw attributes:
//! the masks of single ports, the DSCP and the IPv6 flow label, with the kernel's
//! numbers (include/uapi/linux/fib_rules.h) and encodings (net/core/fib_rules.c,
//! net/ipv4/fib_rules.c, net/ipv6/fib6_rules.c).

use crate::plan::action::RuleSpec;
use netlink_packet_core::{DefaultNla, Nla};
use netlink_packet_route::rule::{RuleAttribute, RuleMessage};

/// u8: the six DSCP bits (the DS field shifted right by 2).
pub const FRA_DSCP: u16 = 25;
/// __be32: the 20-bit flow label.
pub const FRA_FLOWLABEL: u16 = 26;
/// __be32: its mask.
pub const FRA_FLOWLABEL_MASK: u16 = 27;
/// u16 (host order, as the port ranges): the mask of a single source port.
pub const FRA_SPORT_MASK: u16 = 28;
pub const FRA_DPORT_MASK: u16 = 29;
/// u8: the DSCP's mask (the kernel reports 0x3f for a `dscp` given without one).
pub const FRA_DSCP_MASK: u16 = 30;

fn raw(kind: u16, value: Vec<u8>) -> RuleAttribute {
    RuleAttribute::Other(DefaultNla::new(kind, value))
}

/// Appends the attributes for the spec's masked selectors.
pub fn push_masked(msg: &mut RuleMessage, spec: &RuleSpec) {
    if let Some(m) = spec.sport_mask {
        msg.attributes.push(raw(FRA_SPORT_MASK, m.to_ne_bytes().to_vec()));
    }
    if let Some(m) = spec.dport_mask {
        msg.attributes.push(raw(FRA_DPORT_MASK, m.to_ne_bytes().to_vec()));
    }
    if let Some((dscp, mask)) = spec.dscp {
        msg.attributes.push(raw(FRA_DSCP, vec![dscp]));
        msg.attributes.push(raw(FRA_DSCP_MASK, vec![mask]));
    }
    if let Some((label, mask)) = spec.flowlabel {
        msg.attributes.push(raw(FRA_FLOWLABEL, label.to_be_bytes().to_vec()));
        msg.attributes.push(raw(FRA_FLOWLABEL_MASK, mask.to_be_bytes().to_vec()));
    }
}

/// Reads one attribute of a dump into the spec, if it is one of these; true when it was.
pub fn decode_masked(attr: &RuleAttribute, spec: &mut RuleSpec) -> bool {
    let RuleAttribute::Other(nla) = attr else { return false };
    let mut value = vec![0u8; nla.value_len()];
    nla.emit_value(&mut value);
    let u16_of = |v: &[u8]| v.get(..2).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    let be32_of = |v: &[u8]| v.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    match nla.kind() {
        FRA_SPORT_MASK => spec.sport_mask = u16_of(&value),
        FRA_DPORT_MASK => spec.dport_mask = u16_of(&value),
        FRA_DSCP => spec.dscp = value.first().map(|d| (*d, spec.dscp.map_or(0x3f, |(_, m)| m))),
        FRA_DSCP_MASK => spec.dscp = value.first().map(|m| (spec.dscp.map_or(0, |(d, _)| d), *m)),
        FRA_FLOWLABEL => spec.flowlabel = be32_of(&value).map(|l| (l, spec.flowlabel.map_or(0xfffff, |(_, m)| m))),
        FRA_FLOWLABEL_MASK => spec.flowlabel = be32_of(&value).map(|m| (spec.flowlabel.map_or(0, |(l, _)| l), m)),
        _ => return false,
    }
    true
}

/// What the kernel adds by itself, taken out as a script leaves it out: the full mask
/// 0xffff it reports for a single port given without one (a script's `sport 22`).
pub fn normalise_masked(spec: &mut RuleSpec) {
    for (range, mask) in [(spec.sport, &mut spec.sport_mask), (spec.dport, &mut spec.dport_mask)] {
        if matches!(range, Some((a, b)) if a == b) && *mask == Some(u16::MAX) {
            *mask = None;
        }
    }
}
