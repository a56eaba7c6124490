//! tbf (token bucket filter), as `tc/q_tbf.c` sends it and `net/sched/sch_tbf.c` keeps it.

use super::kernel::{self, RateCfg};
use super::psched::Psched;
use super::wire::{self, RateSpec, nla, nlas_bytes, rate32};
use super::{TcDecodeError, TcError};
use crate::model::Tbf;
use crate::units::{Duration, Rate, Size};

const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RTAB: u16 = 2;
const TCA_TBF_PTAB: u16 = 3;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_PRATE64: u16 = 5;
const TCA_TBF_BURST: u16 = 6;
const TCA_TBF_PBURST: u16 = 7;

/// `struct tc_tbf_qopt`: rate, peakrate, limit, buffer, mtu.
const TBF_QOPT_LEN: usize = 2 * wire::RATE_SPEC_LEN + 12;

/// What tc computes from `rate R burst B latency L`, field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TbfParams {
    pub rate_bytes: u64,
    pub burst: u32,
    /// Bytes queued at most: what the rate sends in `latency`, plus the bucket.
    pub limit: u32,
    /// The bucket, as transmit time in scheduler ticks.
    pub buffer_ticks: u32,
    pub cell_log: u8,
    pub rtab: [u32; 256],
    /// The peak bucket (`peakrate R mtu M`): 0 without one.
    pub peak_bytes: u64,
    /// tc's `mtu`: the peak bucket's depth (TCA_TBF_PBURST), 0 when not given.
    pub mtu: u32,
    /// The peak bucket as transmit time in ticks (`tc_tbf_qopt.mtu`), 0 without a peak.
    pub mtu_ticks: u32,
    pub pcell_log: u8,
    pub ptab: [u32; 256],
    /// `overhead`, `mpu`, `linklayer`: in both rate specs and tables.
    pub framing: crate::model::Framing,
}

impl TbfParams {
    pub fn new(tbf: &Tbf, psched: &Psched) -> Result<TbfParams, TcError> {
        let rate_bytes = tbf.rate.bytes_per_sec();
        if rate_bytes == 0 {
            return Err(TcError::ZeroRate);
        }
        let burst = u32::try_from(tbf.burst.0).map_err(|_| TcError::TooLarge("tbf burst"))?;
        if burst == 0 {
            return Err(TcError::Invalid("tbf needs a burst of at least one byte"));
        }
        // tc's get_time: microseconds in an unsigned int.
        let latency_us =
            u32::try_from(tbf.latency.micros()).map_err(|_| TcError::TooLarge("tbf latency"))?;
        let peak_bytes = tbf.peakrate.map(|p| p.bytes_per_sec()).unwrap_or(0);
        let mtu = match tbf.mtu {
            Some(m) => u32::try_from(m.0).map_err(|_| TcError::TooLarge("tbf mtu"))?,
            None => 0,
        };
        if peak_bytes != 0 && mtu == 0 {
            return Err(TcError::Invalid("tbf needs an mtu with a peakrate"));
        }
        let limit = match tbf.limit {
            Some(l) => u32::try_from(l.0).map_err(|_| TcError::TooLarge("tbf limit"))?,
            None => {
                // q_tbf.c: `double lim = rate64*(double)latency/TIME_UNITS_PER_SEC + buffer;`
                // and with a peak rate the smaller of that and the peak bucket's.
                let mut limit = rate_bytes as f64 * latency_us as f64 / 1_000_000.0 + burst as f64;
                if peak_bytes != 0 {
                    let lim2 = peak_bytes as f64 * latency_us as f64 / 1_000_000.0 + mtu as f64;
                    if lim2 < limit {
                        limit = lim2;
                    }
                }
                if limit >= u32::MAX as f64 {
                    return Err(TcError::TooLarge("tbf limit (rate × latency + burst)"));
                }
                limit as u32
            }
        };
        let rate = rate32(rate_bytes);
        // The table and the bucket time use the 32-bit rate, even above 4 GB/s; the
        // kernel recomputes both from TCA_TBF_RATE64/TCA_TBF_BURST anyway. tc builds the
        // rate table for packets up to `mtu` (2047 bytes when not given).
        let framing = tbf.framing;
        let (rtab, cell_log) = psched.rate_table_framed(rate, mtu, &framing);
        let buffer_ticks = psched.xmittime(rate as u64, burst);
        let (ptab, pcell_log, mtu_ticks) = if peak_bytes != 0 {
            let prate = rate32(peak_bytes);
            let (ptab, pcell_log) = psched.rate_table_framed(prate, mtu, &framing);
            (ptab, pcell_log, psched.xmittime(prate as u64, mtu))
        } else {
            ([0; 256], 0, 0)
        };
        Ok(TbfParams {
            rate_bytes,
            burst,
            limit,
            buffer_ticks,
            cell_log,
            rtab,
            peak_bytes,
            mtu,
            mtu_ticks,
            pcell_log,
            ptab,
            framing,
        })
    }

    /// The payload of TCA_OPTIONS, attribute for attribute as tc orders them.
    pub fn options(&self) -> Vec<u8> {
        let mut parms = Vec::with_capacity(TBF_QOPT_LEN);
        RateSpec::framed(rate32(self.rate_bytes), self.cell_log, &self.framing).write(&mut parms);
        if self.peak_bytes != 0 {
            RateSpec::framed(rate32(self.peak_bytes), self.pcell_log, &self.framing).write(&mut parms);
        } else {
            RateSpec::default().write(&mut parms); // no peakrate
        }
        parms.extend_from_slice(&self.limit.to_ne_bytes());
        parms.extend_from_slice(&self.buffer_ticks.to_ne_bytes());
        parms.extend_from_slice(&self.mtu_ticks.to_ne_bytes()); // 0 without a peakrate
        let mut nlas = vec![
            nla(TCA_TBF_PARMS, parms),
            nla(TCA_TBF_BURST, self.burst.to_ne_bytes().to_vec()),
        ];
        if self.rate_bytes >= 1 << 32 {
            nlas.push(nla(TCA_TBF_RATE64, self.rate_bytes.to_ne_bytes().to_vec()));
        }
        nlas.push(nla(TCA_TBF_RTAB, wire::table_bytes(&self.rtab)));
        if self.peak_bytes != 0 {
            if self.peak_bytes >= 1 << 32 {
                nlas.push(nla(TCA_TBF_PRATE64, self.peak_bytes.to_ne_bytes().to_vec()));
            }
            nlas.push(nla(TCA_TBF_PBURST, self.mtu.to_ne_bytes().to_vec()));
            nlas.push(nla(TCA_TBF_PTAB, wire::table_bytes(&self.ptab)));
        }
        nlas_bytes(&nlas)
    }
}

/// What a dump of a tbf reports: the fields reconcile can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TbfState {
    pub rate_bytes: u64,
    pub limit: u32,
    pub buffer_ticks: u64,
    /// The peak rate (0: none), from TCA_TBF_PRATE64 when the 32-bit one is capped.
    pub peak_rate_bytes: u64,
    /// The peak bucket as transmit time at the peak rate, in ticks (0 without a peak).
    pub mtu_ticks: u64,
    /// The rate spec's overhead, mpu and link layer (the kernel keeps and dumps them).
    pub framing: crate::model::Framing,
}

impl TbfState {
    /// Reads a dumped tbf's TCA_OPTIONS payload.
    pub fn parse(options: &[u8]) -> Result<TbfState, TcDecodeError> {
        let nlas = wire::parse_nlas(options).map_err(TcDecodeError::Malformed)?;
        let parms = wire::find(&nlas, TCA_TBF_PARMS)
            .filter(|p| p.len() >= TBF_QOPT_LEN)
            .ok_or(TcDecodeError::Missing("TCA_TBF_PARMS"))?;
        let rate = RateSpec::read(parms).expect("length checked");
        let peak = RateSpec::read(&parms[wire::RATE_SPEC_LEN..]).expect("length checked");
        let rate_bytes = match wire::find(&nlas, TCA_TBF_RATE64).and_then(|v| wire::u64_at(v, 0)) {
            Some(rate64) => rate64,
            None => rate.rate as u64,
        };
        let peak_rate_bytes = match wire::find(&nlas, TCA_TBF_PRATE64).and_then(|v| wire::u64_at(v, 0)) {
            Some(rate64) => rate64,
            None => peak.rate as u64,
        };
        let at = 2 * wire::RATE_SPEC_LEN;
        Ok(TbfState {
            rate_bytes,
            limit: wire::u32_at(parms, at).expect("length checked"),
            buffer_ticks: wire::u32_at(parms, at + 4).expect("length checked") as u64,
            peak_rate_bytes,
            mtu_ticks: wire::u32_at(parms, at + 8).expect("length checked") as u64,
            framing: rate.framing(),
        })
    }

    /// What the kernel will report after being sent `params` (sch_tbf.c `tbf_change`):
    /// it recomputes the bucket time from TCA_TBF_BURST with its own reciprocal of the
    /// rate (and the packet's framing: overhead, mpu, ATM cells), keeps it in ns, and
    /// dumps it in 64 ns ticks.
    pub fn predict(params: &TbfParams) -> TbfState {
        let cfg = RateCfg::new(params.rate_bytes);
        let framing = &params.framing;
        TbfState {
            rate_bytes: params.rate_bytes,
            limit: params.limit,
            buffer_ticks: kernel::ns2ticks(cfg.l2t_framed_ns(params.burst, framing).min(u32::MAX as u64)),
            peak_rate_bytes: params.peak_bytes,
            // With TCA_TBF_PBURST the kernel recomputes the peak bucket's time from it.
            mtu_ticks: match params.peak_bytes {
                0 => 0,
                peak => kernel::ns2ticks(RateCfg::new(peak).l2t_framed_ns(params.mtu, framing).min(u32::MAX as u64)),
            },
            framing: *framing,
        }
    }

    /// Back to the script's terms. Rounding, all of it documented:
    /// - rate: bytes/s × 8 (a rate that is not a whole number of bytes/s loses the rest,
    ///   as it does in tc);
    /// - burst: the bucket time × rate, rounded up. The kernel truncates the time twice
    ///   (its reciprocal, then to 64 ns ticks), so the true burst is in
    ///   `[decoded, decoded + 64 ns × rate]`: exact below 125 Mbit/s;
    /// - latency: (limit − burst) / rate, rounded up to the microsecond (tc's unit); tc
    ///   truncated `rate × latency` to whole bytes, so latencies that differ by less than
    ///   one byte's time are the same.
    /// - with a peak rate, the limit is given as it is (which of the two buckets bounded a
    ///   latency is not in the dump), and the mtu is decoded like the burst, at the peak
    ///   rate.
    /// - with `overhead`/`mpu`/`linklayer`, the bucket times hold the packets' framed size
    ///   (`psched_l2t_ns`): the burst and mtu are the largest sizes framed as that
    ///   ([`crate::model::Framing::payload_len`]: exact for an overhead; under ATM a
    ///   whole number of cells' payload, so `burst 1500b` reads as 1536b, which gives the
    ///   same state). Under ATM the limit is given as it is, since a latency computed
    ///   from the rounded burst would not give the same limit back; so is a limit below
    ///   the burst, which no latency gives.
    pub fn to_tbf(&self) -> Tbf {
        let rate = self.rate_bytes.max(1) as u128;
        let ns = kernel::ticks2ns(self.buffer_ticks) as u128;
        let framing = self.framing;
        let burst = framing.payload_len((ns * rate).div_ceil(1_000_000_000) as u64);
        if self.peak_rate_bytes != 0 {
            let peak = self.peak_rate_bytes as u128;
            let mtu = framing.payload_len((kernel::ticks2ns(self.mtu_ticks) as u128 * peak).div_ceil(1_000_000_000) as u64);
            return Tbf {
                rate: Rate(self.rate_bytes * 8),
                burst: Size(burst),
                latency: Duration(0),
                limit: Some(Size(self.limit as u64)),
                peakrate: Some(Rate(self.peak_rate_bytes * 8)),
                mtu: Some(Size(mtu)),
                framing,
            };
        }
        // A limit below the burst (tc-testing's `limit 1000 burst 1500`) is no latency:
        // read as one, it would come back as a limit of the burst.
        if framing.linklayer == crate::model::LinkLayer::Atm || (self.limit as u64) < burst {
            return Tbf {
                latency: Duration(0),
                limit: Some(Size(self.limit as u64)),
                framing,
                ..Tbf::new(Rate(self.rate_bytes * 8), Size(burst), Duration(0))
            };
        }
        let queued = (self.limit as u64).saturating_sub(burst) as u128;
        let latency_us = (queued * 1_000_000).div_ceil(rate) as u64;
        Tbf { framing, ..Tbf::new(Rate(self.rate_bytes * 8), Size(burst), Duration(latency_us * 1_000)) }
    }
}
