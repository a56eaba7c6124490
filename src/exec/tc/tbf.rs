//! tbf (token bucket filter), as `tc/q_tbf.c` sends it and `net/sched/sch_tbf.c` keeps it.

use super::kernel::{self, RateCfg};
use super::psched::Psched;
use super::wire::{self, RateSpec, nla, nlas_bytes, rate32};
use super::{TcDecodeError, TcError};
use crate::model::Tbf;
use crate::units::{Duration, Rate, Size};

const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RTAB: u16 = 2;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;

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
        // q_tbf.c: `double lim = rate64*(double)latency/TIME_UNITS_PER_SEC + buffer;`
        let limit = rate_bytes as f64 * latency_us as f64 / 1_000_000.0 + burst as f64;
        if limit >= u32::MAX as f64 {
            return Err(TcError::TooLarge("tbf limit (rate × latency + burst)"));
        }
        let rate = rate32(rate_bytes);
        // The table and the bucket time use the 32-bit rate, even above 4 GB/s; the
        // kernel recomputes both from TCA_TBF_RATE64/TCA_TBF_BURST anyway.
        let (rtab, cell_log) = psched.rate_table(rate, 0);
        let buffer_ticks = psched.xmittime(rate as u64, burst);
        Ok(TbfParams {
            rate_bytes,
            burst,
            limit: limit as u32,
            buffer_ticks,
            cell_log,
            rtab,
        })
    }

    /// The payload of TCA_OPTIONS, attribute for attribute as tc orders them.
    pub fn options(&self) -> Vec<u8> {
        let mut parms = Vec::with_capacity(TBF_QOPT_LEN);
        RateSpec::ethernet(rate32(self.rate_bytes), self.cell_log).write(&mut parms);
        RateSpec::default().write(&mut parms); // no peakrate
        parms.extend_from_slice(&self.limit.to_ne_bytes());
        parms.extend_from_slice(&self.buffer_ticks.to_ne_bytes());
        parms.extend_from_slice(&0u32.to_ne_bytes()); // mtu: only with a peakrate
        let mut nlas = vec![
            nla(TCA_TBF_PARMS, parms),
            nla(TCA_TBF_BURST, self.burst.to_ne_bytes().to_vec()),
        ];
        if self.rate_bytes >= 1 << 32 {
            nlas.push(nla(TCA_TBF_RATE64, self.rate_bytes.to_ne_bytes().to_vec()));
        }
        nlas.push(nla(TCA_TBF_RTAB, wire::table_bytes(&self.rtab)));
        nlas_bytes(&nlas)
    }
}

/// What a dump of a tbf reports: the fields reconcile can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TbfState {
    pub rate_bytes: u64,
    pub limit: u32,
    pub buffer_ticks: u64,
    /// The 32-bit peak rate; netscript never sets one.
    pub peak_rate_bytes: u32,
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
        let at = 2 * wire::RATE_SPEC_LEN;
        Ok(TbfState {
            rate_bytes,
            limit: wire::u32_at(parms, at).expect("length checked"),
            buffer_ticks: wire::u32_at(parms, at + 4).expect("length checked") as u64,
            peak_rate_bytes: peak.rate,
        })
    }

    /// What the kernel will report after being sent `params` (sch_tbf.c `tbf_change`):
    /// it recomputes the bucket time from TCA_TBF_BURST with its own reciprocal of the
    /// rate, keeps it in ns, and dumps it in 64 ns ticks.
    pub fn predict(params: &TbfParams) -> TbfState {
        let cfg = RateCfg::new(params.rate_bytes);
        TbfState {
            rate_bytes: params.rate_bytes,
            limit: params.limit,
            buffer_ticks: kernel::ns2ticks(cfg.l2t_ns(params.burst).min(u32::MAX as u64)),
            peak_rate_bytes: 0,
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
    pub fn to_tbf(&self) -> Tbf {
        let rate = self.rate_bytes.max(1) as u128;
        let ns = kernel::ticks2ns(self.buffer_ticks) as u128;
        let burst = (ns * rate).div_ceil(1_000_000_000) as u64;
        let queued = (self.limit as u64).saturating_sub(burst) as u128;
        let latency_us = (queued * 1_000_000).div_ceil(rate) as u64;
        Tbf {
            rate: Rate(self.rate_bytes * 8),
            burst: Size(burst),
            latency: Duration(latency_us * 1_000),
        }
    }
}
