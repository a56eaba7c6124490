//! A netscript rule as nftables expressions, encoded as `nft` encodes the equivalent
//! rule text, and byte for byte as the kernel lists them back (nests without the
//! `NLA_F_NESTED` flag, attributes in the kernel's order, the attributes it would add
//! written out): so that reading a rule back and comparing it is mostly a `memcmp`
//! ([`expressions_match`]). The rule text (checked by tests/firewall_kernel.rs, which compares both rulesets as
//! `nft -j` prints them): the layer 3 family and prefixes, then the layer 4 protocol
//! and ports, interfaces, mark, conntrack state, counter, and the action last.

use super::wire::{attr, parse_attrs, Attrs, NFPROTO_IPV4, NFPROTO_IPV6};
use crate::model::FwAction;
use crate::plan::firewall::FwRuleSpec;
use ipnet::IpNet;
use std::net::IpAddr;

const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;

const REG_VERDICT: u32 = 0;
const REG_1: u32 = 1;
const REG_2: u32 = 2;

const NFT_META_PRIORITY: u32 = 2;
const NFT_META_MARK: u32 = 3;
const NFT_META_IIFNAME: u32 = 6;
const NFT_META_OIFNAME: u32 = 7;
const NFT_META_NFPROTO: u32 = 15;
const NFT_META_L4PROTO: u32 = 16;

const NFT_CMP_EQ: u32 = 0;
const NFT_CMP_NEQ: u32 = 1;
const NFT_CMP_LTE: u32 = 3;
const NFT_CMP_GTE: u32 = 5;

const BASE_NETWORK: u32 = 1;
const BASE_TRANSPORT: u32 = 2;

const NF_DROP: u32 = 0;
const NF_ACCEPT: u32 = 1;

const IFNAMSIZ: usize = 16;

/// Writes the expressions of `rule` into `list` (the content of a
/// `NFTA_RULE_EXPRESSIONS` nest), in place: no nest is built apart and copied.
pub fn write_expressions(list: &mut Attrs, rule: &FwRuleSpec) {
    let mut e = Exprs { list };
    let family = match (&rule.src, &rule.dst, &rule.action) {
        (Some(n), _, _) | (None, Some(n), _) => Some(matches!(n, IpNet::V4(_))),
        _ => None,
    };
    if let Some(v4) = family {
        e.meta_load(NFT_META_NFPROTO);
        e.cmp(NFT_CMP_EQ, &[if v4 { NFPROTO_IPV4 as u8 } else { NFPROTO_IPV6 as u8 }]);
        for (net, is_src) in [(rule.src, true), (rule.dst, false)] {
            if let Some(net) = net {
                e.prefix(net, is_src);
            }
        }
    }
    if let Some(p) = rule.proto {
        e.meta_load(NFT_META_L4PROTO);
        e.cmp(NFT_CMP_EQ, &[p.number()]);
        for (range, offset) in [(rule.sport, 0), (rule.dport, 2)] {
            let Some((from, to)) = range else { continue };
            e.payload(BASE_TRANSPORT, offset, 2);
            if from == to {
                e.cmp(NFT_CMP_EQ, &from.to_be_bytes());
            } else {
                e.cmp(NFT_CMP_GTE, &from.to_be_bytes());
                e.cmp(NFT_CMP_LTE, &to.to_be_bytes());
            }
        }
    }
    for (name, key) in [(&rule.iif, NFT_META_IIFNAME), (&rule.oif, NFT_META_OIFNAME)] {
        if let Some(name) = name {
            let mut value = [0u8; IFNAMSIZ];
            let bytes = name.as_bytes();
            value[..bytes.len().min(IFNAMSIZ - 1)].copy_from_slice(&bytes[..bytes.len().min(IFNAMSIZ - 1)]);
            e.meta_load(key);
            e.cmp(NFT_CMP_EQ, &value);
        }
    }
    if let Some((mark, mask)) = rule.mark {
        e.meta_load(NFT_META_MARK);
        if let Some(mask) = mask {
            e.bitwise(&mask.to_ne_bytes(), 4);
        }
        e.cmp(NFT_CMP_EQ, &mark.to_ne_bytes());
    }
    if !rule.ct.is_empty() {
        let bits: u32 = rule.ct.iter().map(|c| c.bit()).sum();
        e.push("ct", |d| {
            d.be32(1, REG_1).be32(2, 0); // NFTA_CT_DREG, NFTA_CT_KEY = NFT_CT_STATE
        });
        e.bitwise(&bits.to_ne_bytes(), 4);
        e.cmp(NFT_CMP_NEQ, &0u32.to_ne_bytes());
    }
    if rule.counter {
        e.push("counter", |d| {
            d.be64(1, 0).be64(2, 0); // NFTA_COUNTER_BYTES, NFTA_COUNTER_PACKETS
        });
    }
    match &rule.action {
        FwAction::Accept => e.verdict(NF_ACCEPT),
        FwAction::Drop => e.verdict(NF_DROP),
        FwAction::Reject => {
            // `reject` in an inet table: ICMPx port unreachable, as nft writes it.
            e.push("reject", |d| {
                d.be32(1, 2); // NFTA_REJECT_TYPE = NFT_REJECT_ICMPX_UNREACH
                d.raw(2, &[1]); // NFTA_REJECT_ICMP_CODE = NFT_REJECT_ICMPX_PORT_UNREACH
            });
        }
        FwAction::Mark(m) => e.meta_set(NFT_META_MARK, &m.to_ne_bytes()),
        FwAction::Classify(minor) => e.meta_set(NFT_META_PRIORITY, &((1u32 << 16) | minor).to_ne_bytes()),
        FwAction::Masquerade => e.push("masq", |_| {}),
        FwAction::Snat(addr) => e.nat(0, *addr, None),
        FwAction::Dnat(addr, port) => e.nat(1, *addr, *port),
    }
}

/// Expressions being written into a list.
struct Exprs<'a> {
    list: &'a mut Attrs,
}

fn data_value(d: &mut Attrs, kind: u16, value: &[u8]) {
    d.nest_plain_with(kind, |v| {
        v.raw(NFTA_DATA_VALUE, value);
    });
}

impl Exprs<'_> {
    /// One expression: its name, and its data written by `data`.
    fn push(&mut self, name: &str, data: impl FnOnce(&mut Attrs)) {
        self.list.nest_plain_with(NFTA_LIST_ELEM, |elem| {
            elem.str(NFTA_EXPR_NAME, name);
            elem.nest_plain_with(NFTA_EXPR_DATA, data);
        });
    }
    fn meta_load(&mut self, key: u32) {
        self.push("meta", |d| {
            d.be32(2, key).be32(1, REG_1); // NFTA_META_KEY, NFTA_META_DREG
        });
    }
    fn meta_set(&mut self, key: u32, value: &[u8]) {
        self.immediate(REG_1, value);
        self.push("meta", |d| {
            d.be32(2, key).be32(3, REG_1); // NFTA_META_KEY, NFTA_META_SREG
        });
    }
    fn cmp(&mut self, op: u32, value: &[u8]) {
        self.push("cmp", |d| {
            d.be32(1, REG_1).be32(2, op); // SREG, OP
            data_value(d, 3, value); // DATA
        });
    }
    fn payload(&mut self, base: u32, offset: u32, len: u32) {
        self.push("payload", |d| {
            d.be32(1, REG_1).be32(2, base).be32(3, offset).be32(4, len); // DREG, BASE, OFFSET, LEN
        });
    }
    fn bitwise(&mut self, mask: &[u8], len: u32) {
        self.push("bitwise", |d| {
            d.be32(1, REG_1).be32(2, REG_1).be32(3, len); // SREG, DREG, LEN
            d.be32(6, 0); // NFTA_BITWISE_OP = NFT_BITWISE_BOOL (mask and xor)
            data_value(d, 4, mask); // MASK
            data_value(d, 5, &[0u8; 16][..mask.len()]); // XOR
        });
    }
    fn immediate(&mut self, reg: u32, value: &[u8]) {
        self.push("immediate", |d| {
            d.be32(1, reg); // NFTA_IMMEDIATE_DREG
            data_value(d, 2, value); // NFTA_IMMEDIATE_DATA
        });
    }
    fn verdict(&mut self, code: u32) {
        self.push("immediate", |d| {
            d.be32(1, REG_VERDICT);
            d.nest_plain_with(2, |data| {
                data.nest_plain_with(NFTA_DATA_VERDICT, |v| {
                    v.be32(NFTA_VERDICT_CODE, code);
                });
            });
        });
    }
    /// `ip saddr 10.0.0.0/8`: a prefix on a byte boundary loads those bytes only; any
    /// other loads the whole address and masks it, as nft does.
    fn prefix(&mut self, net: IpNet, is_src: bool) {
        let (offset, addr, width): (u32, Vec<u8>, u32) = match net {
            IpNet::V4(n) => (if is_src { 12 } else { 16 }, n.network().octets().to_vec(), 4),
            IpNet::V6(n) => (if is_src { 8 } else { 24 }, n.network().octets().to_vec(), 16),
        };
        let len = net.prefix_len() as u32;
        if len > 0 && len.is_multiple_of(8) {
            let bytes = len / 8;
            self.payload(BASE_NETWORK, offset, bytes);
            self.cmp(NFT_CMP_EQ, &addr[..bytes as usize]);
        } else {
            self.payload(BASE_NETWORK, offset, width);
            let mask: Vec<u8> = (0..width).map(|i| {
                let bits = len.saturating_sub(i * 8).min(8);
                if bits == 0 { 0 } else { 0xffu8 << (8 - bits) }
            }).collect();
            self.bitwise(&mask, width);
            self.cmp(NFT_CMP_EQ, &addr);
        }
    }
    fn nat(&mut self, kind: u32, addr: IpAddr, port: Option<u16>) {
        let (family, bytes) = match addr {
            IpAddr::V4(a) => (NFPROTO_IPV4, a.octets().to_vec()),
            IpAddr::V6(a) => (NFPROTO_IPV6, a.octets().to_vec()),
        };
        self.immediate(REG_1, &bytes);
        if let Some(p) = port {
            self.immediate(REG_2, &p.to_be_bytes());
        }
        self.push("nat", |d| {
            // TYPE, FAMILY, REG_ADDR_MIN, REG_ADDR_MAX (one address: the same register)
            d.be32(1, kind).be32(2, family).be32(3, REG_1).be32(4, REG_1);
            if port.is_some() {
                d.be32(5, REG_2).be32(6, REG_2); // REG_PROTO_MIN, REG_PROTO_MAX
            }
            // FLAGS: NF_NAT_RANGE_MAP_IPS, and NF_NAT_RANGE_PROTO_SPECIFIED with a port.
            d.be32(7, if port.is_some() { 0x3 } else { 0x1 });
        });
    }
}

/// The comment nft shows for a rule (`NFTNL_UDATA_RULE_COMMENT`, a NUL-terminated
/// string in a type-length-value): netscript writes each rule's own text there.
pub fn comment_userdata(text: &str) -> Option<Vec<u8>> {
    let len = text.len() + 1;
    if len > 255 {
        return None;
    }
    let mut v = vec![0u8, len as u8];
    v.extend_from_slice(text.as_bytes());
    v.push(0);
    Some(v)
}

/// The comment of a rule's userdata, if it holds one (borrowed).
pub fn userdata_text(mut data: &[u8]) -> Option<&str> {
    while data.len() >= 2 {
        let (kind, len) = (data[0], data[1] as usize);
        let value = data.get(2..2 + len)?;
        if kind == 0 {
            return std::str::from_utf8(value.strip_suffix(&[0]).unwrap_or(value)).ok();
        }
        data = &data[2 + len..];
    }
    None
}

/// Whether the expressions the kernel lists for a rule (`kernel`, the content of its
/// `NFTA_RULE_EXPRESSIONS`) are those netscript writes for it (`ours`, from
/// [`write_expressions`]): the same expressions in the same order, each with every
/// attribute netscript sends at the same value. The kernel lists attributes in its own
/// order and adds some of its own (a `bitwise` operation, a NAT range's upper end),
/// which do not count; neither do a counter's values, nor NAT flags the kernel adds to
/// those sent. Byte-equal lists match at once.
pub fn expressions_match(kernel: &[u8], ours: &[u8]) -> bool {
    if kernel == ours {
        return true;
    }
    let (k, o) = (parse_attrs(kernel), parse_attrs(ours));
    k.len() == o.len() && k.iter().zip(&o).all(|((_, ke), (_, oe))| expression_matches(ke, oe))
}

const NFTA_NAT_FLAGS: u16 = 7;

fn expression_matches(kernel: &[u8], ours: &[u8]) -> bool {
    let (k, o) = (parse_attrs(kernel), parse_attrs(ours));
    let name = attr(&o, NFTA_EXPR_NAME).map(|n| n.strip_suffix(&[0]).unwrap_or(n));
    if attr(&k, NFTA_EXPR_NAME).map(|n| n.strip_suffix(&[0]).unwrap_or(n)) != name {
        return false;
    }
    let (kd, od) = (parse_attrs(attr(&k, NFTA_EXPR_DATA).unwrap_or(&[])), parse_attrs(attr(&o, NFTA_EXPR_DATA).unwrap_or(&[])));
    let name = name.unwrap_or(&[]);
    if name == b"counter" {
        return true;
    }
    od.iter().all(|(kind, value)| {
        let Some(kv) = attr(&kd, *kind) else { return false };
        if kv == *value {
            return true;
        }
        match (name, *kind) {
            (b"nat", NFTA_NAT_FLAGS) => match (kv.try_into().map(u32::from_be_bytes), (*value).try_into().map(u32::from_be_bytes)) {
                (Ok(k), Ok(o)) => k & o == o,
                _ => false,
            },
            // Data nests (a value or a verdict): the same content, whatever the flags
            // of their headers.
            (b"cmp", 3) | (b"bitwise", 4) | (b"bitwise", 5) | (b"immediate", 2) => data_matches(kv, value),
            _ => false,
        }
    })
}

/// Two `nft_data` nests: the same value, or the same verdict code.
fn data_matches(kernel: &[u8], ours: &[u8]) -> bool {
    let (k, o) = (parse_attrs(kernel), parse_attrs(ours));
    o.iter().all(|(kind, value)| match (attr(&k, *kind), *kind) {
        (Some(kv), _) if kv == *value => true,
        (Some(kv), NFTA_DATA_VERDICT) => attr(&parse_attrs(kv), NFTA_VERDICT_CODE) == attr(&parse_attrs(value), NFTA_VERDICT_CODE),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(text: &str) -> Vec<u8> {
        let mut a = Attrs::new();
        write_expressions(&mut a, &FwRuleSpec::parse(text).unwrap());
        a.bytes
    }

    /// The list with every nest flagged `NLA_F_NESTED` and each expression's data
    /// attributes in reverse order: what another writer could send for the same rule.
    fn reshaped(list: &[u8]) -> Vec<u8> {
        let mut out = Attrs::new();
        for (_, elem) in parse_attrs(list) {
            let e = parse_attrs(elem);
            out.nest_with(NFTA_LIST_ELEM, |o| {
                o.raw(NFTA_EXPR_NAME, attr(&e, NFTA_EXPR_NAME).unwrap());
                if let Some(data) = attr(&e, NFTA_EXPR_DATA) {
                    o.nest_with(NFTA_EXPR_DATA, |d| {
                        for (kind, value) in parse_attrs(data).into_iter().rev() {
                            d.raw(kind, value);
                        }
                    });
                }
            });
        }
        out.bytes
    }

    #[test]
    fn expressions_compare_by_meaning_not_by_bytes() {
        for text in ["accept proto tcp dport 22", "drop proto icmp src 10.0.0.0/9", "dnat to 10.1.0.5:8080 proto tcp dport 80", "mark 7 ct new"] {
            let ours = encoded(text);
            assert!(expressions_match(&ours, &ours), "{text}");
            assert!(expressions_match(&reshaped(&ours), &ours), "{text}: flags and order must not count");
        }
        // Another port, another prefix, one expression more or less: not the same rule.
        assert!(!expressions_match(&encoded("accept proto tcp dport 2222"), &encoded("accept proto tcp dport 22")));
        assert!(!expressions_match(&encoded("drop proto icmp src 10.0.0.0/8"), &encoded("drop proto icmp src 10.0.0.0/9")));
        assert!(!expressions_match(&encoded("accept proto tcp dport 22 counter"), &encoded("accept proto tcp dport 22")));
        assert!(!expressions_match(&encoded("accept proto tcp"), &encoded("accept proto tcp dport 22")));
        // A counter's values are not part of the rule.
        let zero = encoded("accept proto tcp dport 22 counter");
        let mut counted = zero.clone();
        let at = counted.windows(7).position(|w| w == b"counter").unwrap();
        let value = counted.iter().skip(at).position(|&b| b == 0x0c).unwrap() + at + 4 + 4 + 7;
        counted[value] = 9;
        assert_ne!(counted, zero);
        assert!(expressions_match(&counted, &zero));
    }
}
