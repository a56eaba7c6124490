//! tc's link-layer framing of a rate (`overhead N`, `mpu SIZE`, `linklayer ethernet|atm`),
//! shared by tbf (`shape`) and htb classes: what `struct tc_ratespec` carries besides the
//! rate, and what the kernel adds to each packet's length before charging it to a bucket
//! (`psched_l2t_ns`: `len + overhead`, at least `mpu`, in whole 53-byte ATM cells of 48
//! bytes' payload with `linklayer atm`).

/// tc's `linklayer`: Ethernet (the default) or ATM (tc's `atm`, also `adsl`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkLayer {
    #[default]
    Ethernet,
    Atm,
}

impl LinkLayer {
    /// `TC_LINKLAYER_ETHERNET` (1), `TC_LINKLAYER_ATM` (2).
    pub fn code(self) -> u8 {
        match self {
            LinkLayer::Ethernet => 1,
            LinkLayer::Atm => 2,
        }
    }

    /// From a dumped `tc_ratespec.linklayer` (`TC_LINKLAYER_MASK` applied); anything but
    /// ATM (unaware, Ethernet) counts packets as they are, as Ethernet does.
    pub fn from_code(code: u8) -> LinkLayer {
        if code & 0x0f == 2 { LinkLayer::Atm } else { LinkLayer::Ethernet }
    }

    pub fn name(self) -> &'static str {
        match self {
            LinkLayer::Ethernet => "ethernet",
            LinkLayer::Atm => "atm",
        }
    }
}

/// `overhead`, `mpu` and `linklayer` as one value: all zero / Ethernet by default, which
/// is what tc sends when none is given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Framing {
    /// Bytes added to every packet (tc's `overhead`, 0..=65535).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub overhead: u16,
    /// The smallest size a packet counts as (tc's `mpu`, 0..=65535 bytes).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mpu: u16,
    #[serde(default, skip_serializing_if = "is_ethernet")]
    pub linklayer: LinkLayer,
}

fn is_zero(v: &u16) -> bool {
    *v == 0
}

fn is_ethernet(l: &LinkLayer) -> bool {
    *l == LinkLayer::Ethernet
}

impl Framing {
    pub fn is_default(&self) -> bool {
        *self == Framing::default()
    }

    /// The bytes a packet of `len` bytes is charged as (tc's `tc_adjust_size` plus the
    /// kernel's overhead): `len + overhead`, at least `mpu`, rounded up to whole ATM cells
    /// (48 bytes' payload sent as 53) with `linklayer atm`.
    pub fn wire_len(&self, len: u64) -> u64 {
        let len = (len + self.overhead as u64).max(self.mpu as u64);
        match self.linklayer {
            LinkLayer::Ethernet => len,
            LinkLayer::Atm => len.div_ceil(48) * 53,
        }
    }

    /// The inverse the decoding of a bucket uses: the largest length charged as `wire`
    /// bytes, with `wire` first rounded up to whole cells under ATM (a bucket time read
    /// back can fall a few bytes short of the cells it was made of). Below the mpu every
    /// length is charged the same: that reads as `mpu − overhead`.
    pub fn payload_len(&self, wire: u64) -> u64 {
        let len = match self.linklayer {
            LinkLayer::Ethernet => wire,
            LinkLayer::Atm => wire.div_ceil(53) * 48,
        };
        len.saturating_sub(self.overhead as u64)
    }

    /// ` overhead N mpu M linklayer atm`, each when not the default, in tc's words.
    pub fn option_words(&self) -> String {
        let mut out = String::new();
        if self.overhead != 0 {
            out.push_str(&format!(" overhead {}", self.overhead));
        }
        if self.mpu != 0 {
            out.push_str(&format!(" mpu {}", crate::units::Size(self.mpu as u64)));
        }
        if self.linklayer != LinkLayer::Ethernet {
            out.push_str(&format!(" linklayer {}", self.linklayer.name()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_len_adds_overhead_then_mpu_then_cells() {
        let f = Framing { overhead: 300, ..Framing::default() };
        assert_eq!(f.wire_len(1500), 1800);
        let atm = Framing { linklayer: LinkLayer::Atm, ..Framing::default() };
        // tc-testing 948c: 1500 bytes are 32 cells, shown as burst 1696b.
        assert_eq!(atm.wire_len(1500), 1696);
        assert_eq!(atm.payload_len(1696), 1536);
        assert_eq!(atm.wire_len(1536), 1696);
        assert_eq!(atm.payload_len(1690), 1536);
        let mpu = Framing { mpu: 64, overhead: 4, ..Framing::default() };
        assert_eq!(mpu.wire_len(10), 64);
        assert_eq!(mpu.wire_len(100), 104);
        assert_eq!(mpu.payload_len(104), 100);
    }
}
