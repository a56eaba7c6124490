//! What the kernel keeps of what it is sent: the roundings of `net/sched` that decide
//! which values a dump reports back. Used to predict the dump of a desired object, so
//! that reconcile compares like with like (see [`super::equivalent`]).

/// `PSCHED_SHIFT`: the kernel's scheduler tick is 64 ns.
pub const PSCHED_SHIFT: u32 = 6;

/// `struct psched_ratecfg`'s reciprocal: `time_ns = (len * mult) >> shift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateCfg {
    pub rate_bytes: u64,
    pub mult: u32,
    pub shift: u8,
}

impl RateCfg {
    /// `psched_ratecfg_precompute__` (net/sched/sch_generic.c).
    pub fn new(rate_bytes: u64) -> RateCfg {
        let mut factor: u64 = 1_000_000_000;
        let mut mult: u32 = 1;
        let mut shift: u8 = 0;
        if let Some(rate) = std::num::NonZeroU64::new(rate_bytes) {
            loop {
                mult = (factor / rate) as u32;
                if mult & (1 << 31) != 0 || factor & (1 << 63) != 0 {
                    break;
                }
                factor <<= 1;
                shift += 1;
            }
        }
        RateCfg {
            rate_bytes,
            mult,
            shift,
        }
    }

    /// `psched_l2t_ns` for Ethernet, no overhead/mpu: the time `len` bytes take.
    #[cfg(test)]
    pub fn l2t_ns(&self, len: u32) -> u64 {
        (len as u64 * self.mult as u64) >> self.shift
    }

    /// `psched_l2t_ns` with the rate spec's overhead, mpu and link layer.
    pub fn l2t_framed_ns(&self, len: u32, framing: &crate::model::Framing) -> u64 {
        (framing.wire_len(len as u64) * self.mult as u64) >> self.shift
    }
}

/// `PSCHED_NS2TICKS`, as dumps report times.
pub fn ns2ticks(ns: u64) -> u64 {
    ns >> PSCHED_SHIFT
}

/// `PSCHED_TICKS2NS`, as the kernel reads times it is sent.
pub fn ticks2ns(ticks: u64) -> u64 {
    ticks << PSCHED_SHIFT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reciprocal_is_close_and_never_above() {
        for rate in [125_000u64, 1_250_000_000, 5_000_000_000, 1, 12_345_678] {
            let cfg = RateCfg::new(rate);
            for len in [1u32, 1514, 10_240, 50_000_000] {
                let exact = len as u128 * 1_000_000_000 / rate as u128;
                let got = cfg.l2t_ns(len) as u128;
                assert!(
                    got <= exact && exact - got <= exact / 1_000_000 + 1,
                    "{rate} {len}"
                );
            }
        }
    }
}
