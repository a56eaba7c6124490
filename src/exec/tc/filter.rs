//! u32 filters, as `tc/f_u32.c` builds them: the classification filters of an htb, and
//! the catch-all that redirects ingress traffic to an ifb device (`m_mirred.c`).

use super::TcError;
use crate::model::{FilterVerdict, HashKey, IpProto};
use netlink_packet_core::{DefaultNla, Nla};
use ipnet::IpNet;
use netlink_packet_route::tc::{
    TcAction, TcActionAttribute, TcActionGeneric, TcActionMirrorOption, TcActionOption,
    TcActionType, TcFilterU32Option, TcHandle, TcMirror, TcMirrorActionType, TcU32Key,
    TcU32Selector, TcU32SelectorFlags,
};

/// Offsets in the IPv4 header that `match ip ...` reads (f_u32.c `parse_ip`).
const IP_PROTOCOL_WORD: i32 = 8; // protocol is the third byte of the word at 8
const IP_SRC: i32 = 12;
const IP_DST: i32 = 16;
/// The ports, assuming a 20-byte IP header as `match ip sport/dport` does.
const IP_PORTS: i32 = 20;

/// A u32 selector under construction; `pack` merges keys on the same word as
/// f_u32.c's `pack_key` does, so `sport` and `dport` share one key.
#[derive(Default)]
struct Selector {
    keys: Vec<TcU32Key>,
}

impl Selector {
    fn pack(&mut self, val: u32, mask: u32, off: i32) {
        let val = val & mask;
        if let Some(key) = self
            .keys
            .iter_mut()
            .find(|k| k.off == off && k.offmask == 0)
        {
            key.val |= val;
            key.mask |= mask;
            return;
        }
        let mut key = TcU32Key::default();
        key.val = val;
        key.mask = mask;
        key.off = off;
        self.keys.push(key);
    }

    fn prefix(&mut self, net: &IpNet, off: i32) -> Result<(), TcError> {
        match net {
            IpNet::V4(v4) => {
                let mask = match v4.prefix_len() {
                    0 => 0,
                    len => u32::MAX << (32 - len),
                };
                self.pack(u32::from(v4.addr()), mask, off);
                Ok(())
            }
            IpNet::V6(_) => Err(TcError::Invalid(
                "u32 filters on `protocol ip` match IPv4 prefixes only",
            )),
        }
    }

    /// The selector, TC_U32_TERMINAL set when `terminal`: tc sets it whenever a flowid
    /// or an action is given, and without it the kernel would neither classify nor run
    /// actions (a filter that only links to a hash table has neither).
    fn finish(self) -> TcU32Selector {
        self.finish_with(true, None)
    }

    fn finish_with(mut self, terminal: bool, hashkey: Option<HashKey>) -> TcU32Selector {
        if self.keys.is_empty() {
            // `match u32 0 0`: a key that matches every packet.
            self.pack(0, 0, 0);
        }
        let mut sel = TcU32Selector::default();
        if terminal {
            sel.flags = TcU32SelectorFlags::Terminal;
        }
        if let Some(key) = hashkey {
            sel.hmask = key.mask;
            sel.hoff = key.at as i16;
        }
        sel.nkeys = self.keys.len() as u8;
        sel.keys = self.keys;
        sel
    }
}

/// TCA_GACT_PARMS (m_gact.c): the `struct tc_gact` of a gact action.
const TCA_GACT_PARMS: u16 = 2;
/// TCA_GACT_PROB: gact's `random` (netscript writes none).
const TCA_GACT_PROB: u16 = 3;
/// `struct tc_gact`: index, capab, action, refcnt, bindcnt (`tc_gen`), 5 × 4 bytes.
const TC_GACT_LEN: usize = 20;
/// The offset of `action` in `struct tc_gact`.
const TC_GACT_ACTION_AT: usize = 8;

/// `action ok|drop|reclassify|continue`: the first action of the list (tab 1), a gact
/// whose parameters are all zero but the verdict, as m_gact.c sends them.
fn gact_action(verdict: FilterVerdict) -> TcAction {
    let mut parms = vec![0u8; TC_GACT_LEN];
    parms[TC_GACT_ACTION_AT..TC_GACT_ACTION_AT + 4].copy_from_slice(&verdict.code().to_ne_bytes());
    let mut action = TcAction::default();
    action.attributes = vec![
        TcActionAttribute::Kind("gact".to_string()),
        TcActionAttribute::Options(vec![TcActionOption::Other(DefaultNla::new(TCA_GACT_PARMS, parms))]),
    ];
    action
}

/// The verdict of a dumped action list that is one gact action and nothing more (no
/// `random`), as netscript writes it; `None` for anything else.
fn decode_gact(actions: &[TcAction]) -> Option<FilterVerdict> {
    let [action] = actions else { return None };
    let mut kind = None;
    let mut verdict = None;
    for attribute in &action.attributes {
        match attribute {
            TcActionAttribute::Kind(k) => kind = Some(k.as_str()),
            TcActionAttribute::Options(options) => {
                for option in options {
                    let TcActionOption::Other(nla) = option else { return None };
                    match nla.kind() {
                        TCA_GACT_PARMS => {
                            let mut value = vec![0u8; nla.value_len()];
                            nla.emit_value(&mut value);
                            let code = value.get(TC_GACT_ACTION_AT..TC_GACT_ACTION_AT + 4)?;
                            verdict = FilterVerdict::from_code(i32::from_ne_bytes(code.try_into().ok()?));
                        }
                        TCA_GACT_PROB => return None,
                        // TCA_GACT_TM (timestamps), padding: the kernel's bookkeeping.
                        _ => {}
                    }
                }
            }
            // Index, statistics, flags: the kernel's.
            _ => {}
        }
    }
    if kind != Some("gact") {
        return None;
    }
    verdict
}

/// TCA_OPTIONS of `u32 match ip protocol P 0xff match ip src S match ip dst D
/// match ip sport N 0xffff match ip dport N 0xffff flowid 1:F [action V]`, the matches in
/// that order, each only when given; with none, `match u32 0 0` (everything).
#[allow(clippy::too_many_arguments)]
pub fn classify_options(
    proto: Option<IpProto>,
    src: Option<&IpNet>,
    dst: Option<&IpNet>,
    sport: Option<u16>,
    dport: Option<u16>,
    classid: Option<TcHandle>,
    verdict: Option<FilterVerdict>,
    link: Option<(TcHandle, Option<HashKey>)>,
) -> Result<Vec<TcFilterU32Option>, TcError> {
    let mut sel = Selector::default();
    if let Some(proto) = proto {
        sel.pack((proto.number() as u32) << 16, 0x00ff_0000, IP_PROTOCOL_WORD);
    }
    if let Some(src) = src {
        sel.prefix(src, IP_SRC)?;
    }
    if let Some(dst) = dst {
        sel.prefix(dst, IP_DST)?;
    }
    if let Some(sport) = sport {
        sel.pack((sport as u32) << 16, 0xffff_0000, IP_PORTS);
    }
    if let Some(dport) = dport {
        sel.pack(dport as u32, 0x0000_ffff, IP_PORTS);
    }
    // tc adds the link as it parses `link` (tc-testing writes it first), the classid as
    // it parses `flowid`, then the actions as it parses `action`, the selector at the end.
    let mut options = Vec::new();
    if let Some((table, _)) = link {
        options.push(TcFilterU32Option::Link(u32::from(table)));
    }
    if let Some(classid) = classid {
        options.push(TcFilterU32Option::ClassId(classid));
    }
    if let Some(verdict) = verdict {
        options.push(TcFilterU32Option::Action(vec![gact_action(verdict)]));
    }
    let terminal = classid.is_some() || verdict.is_some();
    options.push(TcFilterU32Option::Selector(sel.finish_with(terminal, link.and_then(|(_, key)| key))));
    Ok(options)
}

/// TCA_OPTIONS of `u32 match u32 0 0 action mirred egress redirect dev IFB`.
pub fn redirect_options(ifb_ifindex: u32) -> Vec<TcFilterU32Option> {
    let mut generic = TcActionGeneric::default();
    // m_mirred.c: a redirect steals the packet (TC_ACT_STOLEN).
    generic.action = TcActionType::Stolen;
    let mut mirror = TcMirror::default();
    mirror.generic = generic;
    mirror.eaction = TcMirrorActionType::EgressRedir;
    mirror.ifindex = ifb_ifindex;
    let mut action = TcAction::default(); // tab 1: the first action of the list
    action.attributes = vec![
        TcActionAttribute::Kind("mirred".to_string()),
        TcActionAttribute::Options(vec![TcActionOption::Mirror(TcActionMirrorOption::Parms(
            mirror,
        ))]),
    ];
    vec![
        TcFilterU32Option::Action(vec![action]),
        TcFilterU32Option::Selector(Selector::default().finish()),
    ]
}

/// The matches of a u32 classification filter, as netscript writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classify {
    pub proto: Option<IpProto>,
    pub src: Option<IpNet>,
    pub dst: Option<IpNet>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    pub classid: Option<TcHandle>,
    pub verdict: Option<FilterVerdict>,
    /// `link ID:` (the table's id, 1..7ff) and its `hashkey`.
    pub link: Option<(u32, Option<HashKey>)>,
}

/// The prefix a u32 key at `off` matches, if its mask is a prefix mask.
fn key_prefix(val: u32, mask: u32) -> Option<IpNet> {
    let len = mask.leading_ones();
    if mask.checked_shl(len).unwrap_or(0) != 0 {
        return None;
    }
    ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(val & mask), len as u8).ok().map(IpNet::V4)
}

/// The inverse of [`classify_options`]: the matches of a dumped u32 key node (the one
/// that carries a selector), or `None` when it holds anything netscript does not write
/// (hashing, offsets relative to the header length, other fields, actions, police).
pub fn decode_classify(options: &[TcFilterU32Option]) -> Option<Classify> {
    let mut classid = None;
    let mut selector = None;
    let mut verdict = None;
    let mut link = None;
    for option in options {
        match option {
            TcFilterU32Option::ClassId(h) => classid = Some(*h),
            TcFilterU32Option::Link(h) if h & 0xf_ffff == 0 && (1..=crate::model::MAX_U32_TABLE).contains(&(h >> 20)) => link = Some(h >> 20),
            TcFilterU32Option::Action(actions) => verdict = Some(decode_gact(actions)?),
            TcFilterU32Option::Selector(s) => selector = Some(s),
            // The kernel reports the node's hash table and its flags; harmless.
            TcFilterU32Option::Hash(_) | TcFilterU32Option::Flags(_) | TcFilterU32Option::Pnct(_) => {}
            _ => return None,
        }
    }
    let sel = selector?;
    if sel.offshift != 0 || sel.offmask != 0 || sel.off != 0 || sel.offoff != 0 {
        return None;
    }
    // A hashkey only on a link (tc's `hashkey` without `link` hashes into nothing).
    let hashkey = (sel.hmask != 0 || sel.hoff != 0).then_some(HashKey { mask: sel.hmask, at: i32::from(sel.hoff) });
    if hashkey.is_some() && link.is_none() {
        return None;
    }
    // TERMINAL exactly when there is a classid or an action, as tc sets it.
    let terminal = sel.flags.contains(TcU32SelectorFlags::Terminal);
    if terminal != (classid.is_some() || verdict.is_some()) || (classid.is_none() && link.is_none()) {
        return None;
    }
    let link = link.map(|table| (table, hashkey));
    let mut out = Classify { proto: None, src: None, dst: None, sport: None, dport: None, classid, verdict, link };
    for key in &sel.keys {
        if key.offmask != 0 {
            return None;
        }
        match (key.off, key.mask) {
            (0, 0) if key.val == 0 => {}
            (IP_PROTOCOL_WORD, 0x00ff_0000) => {
                out.proto = Some(match (key.val >> 16) & 0xff {
                    6 => IpProto::Tcp,
                    17 => IpProto::Udp,
                    1 => IpProto::Icmp,
                    _ => return None,
                })
            }
            (IP_SRC, mask) => out.src = Some(key_prefix(key.val, mask)?),
            (IP_DST, mask) => out.dst = Some(key_prefix(key.val, mask)?),
            (IP_PORTS, 0xffff_0000) => out.sport = Some((key.val >> 16) as u16),
            (IP_PORTS, 0x0000_ffff) => out.dport = Some(key.val as u16),
            (IP_PORTS, 0xffff_ffff) => {
                out.sport = Some((key.val >> 16) as u16);
                out.dport = Some(key.val as u16);
            }
            _ => return None,
        }
    }
    // A zero port is never written by netscript (ports are 1–65535).
    if out.sport == Some(0) || out.dport == Some(0) {
        return None;
    }
    Some(out)
}
