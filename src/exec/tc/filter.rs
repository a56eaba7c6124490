//! u32 filters, as `tc/f_u32.c` builds them: the classification filters of an htb, and
//! the catch-all that redirects ingress traffic to an ifb device (`m_mirred.c`).

use super::TcError;
use crate::model::{FilterVerdict, HashKey, IpProto, RawKey, U32Match, U32Place};
use netlink_packet_core::{DefaultNla, Nla};
use ipnet::IpNet;
use netlink_packet_route::tc::{
    TcAction, TcActionAttribute, TcActionGeneric, TcActionMirrorOption, TcActionOption,
    TcActionType, TcFilterU32Option, TcHandle, TcMirror, TcMirrorActionType, TcU32Key,
    TcU32Selector, TcU32SelectorFlags,
};

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

/// The keys of a u32 classification filter, packed as tc packs them (model's
/// [`U32Match::keys`]).
fn selector_keys(c: &Classify) -> Result<Selector, TcError> {
    let mut sel = Selector::default();
    for key in c.matches().keys().map_err(TcError::Invalid)? {
        sel.pack(key.val, key.mask, key.off);
    }
    Ok(sel)
}

/// TCA_OPTIONS of a classification filter: the keys of [`selector_keys`] (with none,
/// `match u32 0 0`, everything), then `flowid 1:F` and `action V`.
pub fn classify_options(c: &Classify) -> Result<Vec<TcFilterU32Option>, TcError> {
    let sel = selector_keys(c)?;
    // tc adds the link as it parses `link` (tc-testing writes it first), the classid as
    // it parses `flowid`, then the actions as it parses `action`, the hash table (`ht`,
    // `sample`) and the selector at the end.
    let mut options = Vec::new();
    if let Some((table, _)) = c.link {
        options.push(TcFilterU32Option::Link(super::table_handle(table)?.into()));
    }
    if let Some(classid) = c.classid {
        options.push(TcFilterU32Option::ClassId(classid));
    }
    if let Some(verdict) = c.verdict {
        options.push(TcFilterU32Option::Action(vec![gact_action(verdict)]));
    }
    if let Some(place) = c.ht {
        options.push(TcFilterU32Option::Hash(u32::from(super::table_handle(place.table)?) | (place.bucket & 0xff) << 12));
    }
    let terminal = c.classid.is_some() || c.verdict.is_some();
    options.push(TcFilterU32Option::Selector(sel.finish_with(terminal, c.link.and_then(|(_, key)| key))));
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
    /// Raw keys (`match u32 …`): the keys no named match above reads back.
    pub raw: Vec<RawKey>,
    /// The hash table and bucket of a filter in a script's table (`ht ID:BUCKET`).
    pub ht: Option<U32Place>,
}

impl Classify {
    fn matches(&self) -> U32Match {
        U32Match { proto: self.proto, src: self.src, dst: self.dst, sport: self.sport, dport: self.dport, raw: self.raw.clone() }
    }
}

/// The inverse of [`classify_options`]: the matches of a dumped u32 key node (the one
/// that carries a selector), or `None` when it holds anything netscript does not write
/// (offsets relative to the header length, other attributes, actions, police). Keys that
/// no named match reads are raw keys; a key list that the matches read back would not
/// give again, key for key, is not netscript's.
pub fn decode_classify(options: &[TcFilterU32Option]) -> Option<Classify> {
    let mut classid = None;
    let mut selector = None;
    let mut verdict = None;
    let mut link = None;
    let mut hash = None;
    for option in options {
        match option {
            TcFilterU32Option::ClassId(h) => classid = Some(*h),
            TcFilterU32Option::Link(h) if h & 0xf_ffff == 0 && (1..=crate::model::MAX_U32_TABLE).contains(&(h >> 20)) => link = Some(h >> 20),
            TcFilterU32Option::Action(actions) => verdict = Some(decode_gact(actions)?),
            TcFilterU32Option::Selector(s) => selector = Some(s),
            TcFilterU32Option::Hash(h) => hash = Some(*h),
            // The kernel reports the node's flags and counters; harmless.
            TcFilterU32Option::Flags(_) | TcFilterU32Option::Pnct(_) => {}
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
    // A node in a table a script names (ids below the kernel's own, from 800).
    let ht = hash.map(|h| (h >> 20, (h >> 12) & 0xff)).filter(|(table, _)| (1..=crate::model::MAX_U32_TABLE).contains(table)).map(|(table, bucket)| U32Place { table, bucket });
    let link = link.map(|table| (table, hashkey));
    if sel.keys.iter().any(|k| k.offmask != 0) {
        return None;
    }
    let keys: Vec<RawKey> = sel.keys.iter().map(|k| RawKey { val: k.val, mask: k.mask, off: k.off }).collect();
    let m = U32Match::read(&keys)?;
    let out = Classify { proto: m.proto, src: m.src, dst: m.dst, sport: m.sport, dport: m.dport, classid, verdict, link, raw: m.raw, ht };
    Some(out)
}
