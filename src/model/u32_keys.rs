//! Raw u32 keys (tc's `match u32|u16|u8 VALUE MASK [at OFF]`), the bucket tc's `sample`
//! hashes a value to, and the node ids of filters placed in a hash table (`ht`).

use super::IpProto;
use crate::source::{Span, Spanned};
use ipnet::IpNet;

/// The width of a raw key as tc's selector reads it: `u32`, `u16` or `u8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyWidth {
    U32,
    U16,
    U8,
}

impl KeyWidth {
    pub fn word(self) -> &'static str {
        match self {
            KeyWidth::U32 => "u32",
            KeyWidth::U16 => "u16",
            KeyWidth::U8 => "u8",
        }
    }

    /// The largest value (and mask) of this width.
    pub fn max(self) -> u32 {
        match self {
            KeyWidth::U32 => u32::MAX,
            KeyWidth::U16 => 0xffff,
            KeyWidth::U8 => 0xff,
        }
    }

    /// The alignment tc requires of `at`: a u32 key on a word, a u16 on a half word.
    pub fn align(self) -> i32 {
        match self {
            KeyWidth::U32 => 4,
            KeyWidth::U16 => 2,
            KeyWidth::U8 => 1,
        }
    }
}

/// One u32 key as the kernel holds it: the 32-bit word at `off` (a multiple of 4),
/// read big-endian, masked by `mask`, must equal `val`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct RawKey {
    pub val: u32,
    pub mask: u32,
    pub off: i32,
}

impl RawKey {
    /// The key of `match WIDTH VALUE MASK at OFF`, as f_u32.c's pack_key8/16/32 shift
    /// a narrow value into its word. The caller checks ranges and alignment.
    pub fn packed(width: KeyWidth, value: u32, mask: u32, at: i32) -> RawKey {
        let shift = match width {
            KeyWidth::U32 => 0,
            KeyWidth::U16 => 16 - 8 * (at & 2) as u32,
            KeyWidth::U8 => 24 - 8 * (at & 3) as u32,
        };
        let mask = mask << shift;
        RawKey { val: (value << shift) & mask, mask, off: at & !3 }
    }

    /// The bucket tc's `sample` gives this key (f_u32.c's u32_hash_fold, then `% 256`:
    /// tc takes the sample's own divisor, 256 unless given, not the table's).
    pub fn sample_bucket(self) -> u32 {
        let shift = if self.mask == 0 { 0 } else { self.mask.trailing_zeros() };
        ((self.val & self.mask) >> shift) % 256
    }
}

/// Offsets in the IPv4 header that `match ip ...` reads (f_u32.c `parse_ip`).
const IP_PROTOCOL_WORD: i32 = 8; // protocol is the second byte of the word at 8
const IP_SRC: i32 = 12;
const IP_DST: i32 = 16;
/// The ports, assuming a 20-byte IP header as `match ip sport/dport` does.
const IP_PORTS: i32 = 20;

/// The matches of a u32 filter: the named ones (`proto`, `src`, …) and raw keys. The
/// kernel holds only their keys: [`U32Match::keys`] packs them as tc does, and
/// [`U32Match::read`] reads keys back, named where a named match gives that key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct U32Match {
    pub proto: Option<IpProto>,
    pub src: Option<IpNet>,
    pub dst: Option<IpNet>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    pub raw: Vec<RawKey>,
}

impl U32Match {
    /// The keys in the order tc packs `match ip protocol P 0xff match ip src S match ip
    /// dst D match ip sport N 0xffff match ip dport N 0xffff match u32 …`, keys on one
    /// word merged as f_u32.c's pack_key merges them. Empty when there is no match (the
    /// encoder then writes `match u32 0 0`).
    pub fn keys(&self) -> Result<Vec<RawKey>, &'static str> {
        let mut keys: Vec<RawKey> = Vec::new();
        let mut pack = |val: u32, mask: u32, off: i32| match keys.iter_mut().find(|k| k.off == off) {
            Some(k) => {
                k.val |= val & mask;
                k.mask |= mask;
            }
            None => keys.push(RawKey { val: val & mask, mask, off }),
        };
        if let Some(proto) = self.proto {
            pack((proto.number() as u32) << 16, 0x00ff_0000, IP_PROTOCOL_WORD);
        }
        for (net, off) in [(&self.src, IP_SRC), (&self.dst, IP_DST)] {
            match net {
                Some(IpNet::V4(v4)) => pack(u32::from(v4.addr()), prefix_mask(v4.prefix_len()), off),
                Some(IpNet::V6(_)) => return Err("u32 filters on `protocol ip` match IPv4 prefixes only"),
                None => {}
            }
        }
        if let Some(sport) = self.sport {
            pack((sport as u32) << 16, 0xffff_0000, IP_PORTS);
        }
        if let Some(dport) = self.dport {
            pack(dport as u32, 0x0000_ffff, IP_PORTS);
        }
        for key in &self.raw {
            if key.off % 4 != 0 {
                return Err("a u32 key's offset is a multiple of 4");
            }
            pack(key.val, key.mask, key.off);
        }
        Ok(keys)
    }

    /// The matches of a key list: a key a named match gives is that match (once each),
    /// the others are raw keys. `None` when packing the matches would not give the same
    /// keys again (two keys on one word), so that a filter is read as what it is.
    pub fn read(keys: &[RawKey]) -> Option<U32Match> {
        let mut out = U32Match::default();
        let alone = keys.len() == 1;
        for key in keys {
            if !out.read_named(key, alone) {
                out.raw.push(*key);
            }
        }
        let mut again = out.keys().ok()?;
        if again.is_empty() {
            again.push(RawKey { val: 0, mask: 0, off: 0 });
        }
        let mut given = keys.to_vec();
        let order = |k: &RawKey| (k.off, k.mask, k.val);
        again.sort_by_key(order);
        given.sort_by_key(order);
        (again == given).then_some(out)
    }

    /// The same matches as the kernel will read them back (a raw key that is `src
    /// 10.0.0.1/32` reads as that): what a plan compares with what it observes.
    pub fn canonical(&self) -> U32Match {
        let mut keys = self.keys().unwrap_or_default();
        if keys.is_empty() {
            keys.push(RawKey { val: 0, mask: 0, off: 0 });
        }
        U32Match::read(&keys).unwrap_or_else(|| self.clone())
    }

    /// Reads `key` into the named match it is, or says it is none. The everything key
    /// (`match u32 0 0`) is no match when it is the only key.
    fn read_named(&mut self, key: &RawKey, alone: bool) -> bool {
        let ports_free = self.sport.is_none() && self.dport.is_none();
        let (hi, lo) = ((key.val >> 16) as u16, key.val as u16);
        match (key.off, key.mask) {
            (0, 0) if key.val == 0 && alone => true,
            (IP_PROTOCOL_WORD, 0x00ff_0000) if self.proto.is_none() => {
                self.proto = match hi & 0xff {
                    6 => Some(IpProto::Tcp),
                    17 => Some(IpProto::Udp),
                    1 => Some(IpProto::Icmp),
                    _ => return false,
                };
                true
            }
            (IP_SRC, mask) if self.src.is_none() && key_prefix(key.val, mask).is_some() => {
                self.src = key_prefix(key.val, mask);
                true
            }
            (IP_DST, mask) if self.dst.is_none() && key_prefix(key.val, mask).is_some() => {
                self.dst = key_prefix(key.val, mask);
                true
            }
            // A zero port is never a named match (ports are 1–65535).
            (IP_PORTS, 0xffff_0000) if ports_free && hi != 0 => {
                self.sport = Some(hi);
                true
            }
            (IP_PORTS, 0x0000_ffff) if ports_free && lo != 0 => {
                self.dport = Some(lo);
                true
            }
            (IP_PORTS, 0xffff_ffff) if ports_free && hi != 0 && lo != 0 => {
                (self.sport, self.dport) = (Some(hi), Some(lo));
                true
            }
            _ => false,
        }
    }
}

fn prefix_mask(len: u8) -> u32 {
    match len {
        0 => 0,
        len => u32::MAX << (32 - len),
    }
}

/// The prefix a key on an address matches, if its mask is a prefix mask and its value
/// has no bits outside it.
fn key_prefix(val: u32, mask: u32) -> Option<IpNet> {
    let len = mask.leading_ones();
    if mask.checked_shl(len).unwrap_or(0) != 0 || val & !mask != 0 {
        return None;
    }
    ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(val), len as u8).ok().map(IpNet::V4)
}

/// Where a filter sits: hash table `table` (tc's `ht ID:`), bucket `bucket`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct U32Ht {
    #[serde(skip)]
    pub span: Span,
    pub table: Spanned<u32>,
    pub bucket: u32,
}

/// A filter's hash table and bucket, as a plan carries it (tc's `ht ID:BUCKET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct U32Place {
    pub table: u32,
    pub bucket: u32,
}

/// The first node id the kernel gives in a hash table's bucket (cls_u32.c gen_new_kid).
pub const U32_FIRST_NODE: u32 = 0x800;

/// The node id of each filter placed in a hash table (`None` for the others): its
/// `handle`, or the lowest id from 800 that no earlier filter of its table and bucket
/// holds, which is what the kernel's idr gives tc's adds of the same filters in order.
pub fn u32_ht_nodes(filters: &[super::U32Filter]) -> Vec<Option<u32>> {
    let mut taken: Vec<(u32, u32, u32)> = Vec::new();
    filters
        .iter()
        .map(|f| {
            let ht = f.ht.as_ref()?;
            let place = (ht.table.node, ht.bucket);
            let node = match &f.handle {
                Some(h) => h.node,
                None => (U32_FIRST_NODE..=0xfff).find(|n| !taken.contains(&(place.0, place.1, *n))).unwrap_or(0xfff),
            };
            taken.push((place.0, place.1, node));
            Some(node)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_buckets_are_tc_s() {
        // tc-testing u32.json 0692 and 2478: every mask gives bucket 40, resp. 4.
        for mask in [0xff, 0xffff, 0xff_ffff, 0xffff_ffff, 0xff_00ff, 0xff00_00ff, 0xffff_00ff] {
            assert_eq!(RawKey::packed(KeyWidth::U32, 0x1020_3040, mask, 0).sample_bucket(), 0x40, "{mask:x}");
        }
        for mask in [0x70, 0xf0, 0xff0, 0xfff0, 0xff_00f0] {
            assert_eq!(RawKey::packed(KeyWidth::U32, 0x1020_3040, mask, 0).sample_bucket(), 0x4, "{mask:x}");
        }
    }

    #[test]
    fn a_raw_key_that_a_named_match_gives_reads_as_that_match() {
        let raw = U32Match { raw: vec![RawKey { val: 0x7f00_0001, mask: u32::MAX, off: 12 }], ..Default::default() };
        assert_eq!(raw.canonical(), U32Match { src: Some("127.0.0.1/32".parse().unwrap()), ..Default::default() });
        // The everything key alone is no match; with others it stays a key.
        let all = U32Match { raw: vec![RawKey { val: 0, mask: 0, off: 0 }], ..Default::default() };
        assert_eq!(all.canonical(), U32Match::default());
        let both = U32Match { src: Some("10.0.0.0/8".parse().unwrap()), raw: vec![RawKey { val: 0, mask: 0, off: 0 }], ..Default::default() };
        assert_eq!(both.canonical(), both);
        // A raw key on the word of `src` merges with it, and reads back as one raw key.
        let merged = U32Match { src: Some("10.0.0.0/8".parse().unwrap()), raw: vec![RawKey { val: 1, mask: 0xff, off: 12 }], ..Default::default() };
        assert_eq!(merged.canonical(), U32Match { raw: vec![RawKey { val: 0x0a00_0001, mask: 0xff00_00ff, off: 12 }], ..Default::default() });
        assert_eq!(U32Match::read(&merged.keys().unwrap()), Some(merged.canonical()));
    }

    #[test]
    fn narrow_keys_shift_into_their_word() {
        assert_eq!(RawKey::packed(KeyWidth::U8, 6, 0xff, 9), RawKey { val: 0x0006_0000, mask: 0x00ff_0000, off: 8 });
        assert_eq!(RawKey::packed(KeyWidth::U16, 80, 0xffff, 22), RawKey { val: 80, mask: 0xffff, off: 20 });
        assert_eq!(RawKey::packed(KeyWidth::U16, 80, 0xffff, 20), RawKey { val: 80 << 16, mask: 0xffff_0000, off: 20 });
        assert_eq!(RawKey::packed(KeyWidth::U8, 0, 0, 0), RawKey { val: 0, mask: 0, off: 0 });
    }
}
