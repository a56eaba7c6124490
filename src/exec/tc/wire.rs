//! Byte layouts of the kernel's tc structures (`include/uapi/linux/pkt_sched.h`) that
//! netlink-packet-route does not model, and small helpers to read them back.
//! All fields are in host byte order (netlink is host-endian); this is Linux on
//! little-endian machines, and `to_ne_bytes` keeps it right on the others.

use netlink_packet_core::{DefaultNla, Emitable, NlasIterator};

/// `TCA_OPTIONS`, the attribute that carries a qdisc's or class's own parameters.
pub const TCA_OPTIONS: u16 = 2;
/// The type bits of an attribute kind (without NLA_F_NESTED / NLA_F_NET_BYTEORDER).
const NLA_TYPE_MASK: u16 = 0x3fff;

/// `TC_LINKLAYER_ETHERNET`: what tc assumes unless told `linklayer atm`.
pub const TC_LINKLAYER_ETHERNET: u8 = 1;

/// `struct tc_ratespec`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateSpec {
    pub cell_log: u8,
    pub linklayer: u8,
    pub overhead: u16,
    pub cell_align: i16,
    pub mpu: u16,
    /// Bytes per second, capped at `u32::MAX` (a 64-bit attribute then carries the rate).
    pub rate: u32,
}

pub const RATE_SPEC_LEN: usize = 12;

impl RateSpec {
    /// What `tc_calc_rtable` leaves in the spec for an Ethernet link: `cell_align` -1.
    pub fn ethernet(rate: u32, cell_log: u8) -> RateSpec {
        RateSpec {
            cell_log,
            linklayer: TC_LINKLAYER_ETHERNET,
            overhead: 0,
            cell_align: -1,
            mpu: 0,
            rate,
        }
    }
    /// What tc leaves in the spec with `overhead`, `mpu` and `linklayer` (q_tbf.c, q_htb.c
    /// set the first two, `tc_calc_rtable` the link layer).
    pub fn framed(rate: u32, cell_log: u8, framing: &crate::model::Framing) -> RateSpec {
        RateSpec {
            linklayer: framing.linklayer.code(),
            overhead: framing.overhead,
            mpu: framing.mpu,
            ..RateSpec::ethernet(rate, cell_log)
        }
    }
    /// The framing a dumped spec carries.
    pub fn framing(&self) -> crate::model::Framing {
        crate::model::Framing {
            overhead: self.overhead,
            mpu: self.mpu,
            linklayer: crate::model::LinkLayer::from_code(self.linklayer),
        }
    }
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(self.cell_log);
        out.push(self.linklayer);
        out.extend_from_slice(&self.overhead.to_ne_bytes());
        out.extend_from_slice(&self.cell_align.to_ne_bytes());
        out.extend_from_slice(&self.mpu.to_ne_bytes());
        out.extend_from_slice(&self.rate.to_ne_bytes());
    }
    pub fn read(bytes: &[u8]) -> Option<RateSpec> {
        let b = bytes.get(..RATE_SPEC_LEN)?;
        Some(RateSpec {
            cell_log: b[0],
            linklayer: b[1],
            overhead: u16::from_ne_bytes([b[2], b[3]]),
            cell_align: i16::from_ne_bytes([b[4], b[5]]),
            mpu: u16::from_ne_bytes([b[6], b[7]]),
            rate: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
        })
    }
}

/// The 32-bit rate of a `tc_ratespec`: tc sends `~0U` there when the rate does not fit
/// and the true rate in a 64-bit attribute.
pub fn rate32(rate_bytes: u64) -> u32 {
    if rate_bytes >= 1 << 32 {
        u32::MAX
    } else {
        rate_bytes as u32
    }
}

pub fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(
        bytes.get(offset..offset + 4)?.try_into().ok()?,
    ))
}

pub fn u64_at(bytes: &[u8], offset: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(
        bytes.get(offset..offset + 8)?.try_into().ok()?,
    ))
}

/// A table of 256 u32 (rate tables) as bytes.
pub fn table_bytes(table: &[u32; 256]) -> Vec<u8> {
    table.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

/// An attribute with a raw value.
pub fn nla(kind: u16, value: Vec<u8>) -> DefaultNla {
    DefaultNla::new(kind, value)
}

/// Concatenates attributes as they appear inside a nest.
pub fn nlas_bytes(nlas: &[DefaultNla]) -> Vec<u8> {
    let mut out = vec![0u8; nlas.buffer_len()];
    nlas.emit(&mut out);
    out
}

/// The value bytes of a `DefaultNla` (its field is private).
pub fn nla_value(nla: &DefaultNla) -> Vec<u8> {
    use netlink_packet_core::Nla;
    let mut out = vec![0u8; nla.value_len()];
    nla.emit_value(&mut out);
    out
}

/// Whether an attribute kind is `TCA_OPTIONS`, whatever its flag bits.
pub fn is_options_kind(kind: u16) -> bool {
    kind & NLA_TYPE_MASK == TCA_OPTIONS
}

/// The attributes inside `payload`, with their types (flag bits stripped), in order.
pub fn parse_nlas(payload: &[u8]) -> Result<Vec<(u16, Vec<u8>)>, String> {
    let mut out = Vec::new();
    for nla in NlasIterator::new(payload) {
        let nla = nla.map_err(|e| e.to_string())?;
        out.push((nla.kind() & NLA_TYPE_MASK, nla.value().to_vec()));
    }
    Ok(out)
}

pub fn find(nlas: &[(u16, Vec<u8>)], kind: u16) -> Option<&[u8]> {
    nlas.iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, v)| v.as_slice())
}
