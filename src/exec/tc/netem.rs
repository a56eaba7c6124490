//! netem, as `tc/q_netem.c` (iproute2 6.1) sends it. Unlike tbf and htb, netem's
//! TCA_OPTIONS starts with a bare `struct tc_netem_qopt`, and its attributes follow it.
//! iproute2 6.1 sends delay and jitter in that struct, as scheduler ticks (no
//! TCA_NETEM_LATENCY64/JITTER64); the kernel dumps both forms.

use super::kernel;
use super::psched::Psched;
use super::wire::{self, nla, nlas_bytes, rate32};
use super::{TcDecodeError, TcError};
use crate::model::Netem;
use crate::units::{Duration, Percent, Rate};

const TCA_NETEM_REORDER: u16 = 3;
const TCA_NETEM_CORRUPT: u16 = 4;
const TCA_NETEM_RATE: u16 = 6;
const TCA_NETEM_LATENCY64: u16 = 10;
const TCA_NETEM_JITTER64: u16 = 11;
const TCA_NETEM_RATE64: u16 = 8;
const TCA_NETEM_SLOT: u16 = 12;
/// `struct tc_netem_slot`: min_delay, max_delay (s64 ns), max_packets, max_bytes (s32),
/// dist_delay, dist_jitter (s64 ns, for `slot distribution`, which netscript leaves out).
const NETEM_SLOT_LEN: usize = 40;

/// `struct tc_netem_qopt`: latency, limit, loss, gap, duplicate, jitter.
const NETEM_QOPT_LEN: usize = 24;
/// `struct tc_netem_rate`: rate, packet_overhead, cell_size, cell_overhead.
const NETEM_RATE_LEN: usize = 16;
/// tc's default queue limit, in packets.
const NETEM_DEFAULT_LIMIT: u32 = crate::model::NETEM_DEFAULT_LIMIT;
/// Probabilities are fractions of `u32::MAX`.
const MAX_PERCENT_VALUE: f64 = u32::MAX as f64;

/// What tc computes for `netem delay D [J] [loss P%] [rate R]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetemParams {
    pub latency_ticks: u32,
    pub jitter_ticks: u32,
    /// The loss probability scaled to `u32::MAX`.
    pub loss: u32,
    /// `rate R`: bytes/s, sent as TCA_NETEM_RATE (and TCA_NETEM_RATE64 above 4 GB/s).
    pub rate_bytes: Option<u64>,
    /// `limit N` (packets; tc's default 1000).
    pub limit: u32,
    /// `duplicate P`, scaled like `loss`.
    pub duplicate: u32,
    /// `reorder P` (TCA_NETEM_REORDER) and `gap N` (tc's 1 when reorder has none).
    pub reorder: Option<u32>,
    pub gap: u32,
    /// `corrupt P` (TCA_NETEM_CORRUPT).
    pub corrupt: Option<u32>,
    /// `slot MIN MAX [packets N] [bytes N]` (TCA_NETEM_SLOT): min and max in ns, the
    /// limits 0 for none. All zero: no slot (what a change that drops one sends).
    pub slot: Option<(u64, u64, u32, u32)>,
}

impl NetemParams {
    pub fn new(netem: &Netem, psched: &Psched) -> Result<NetemParams, TcError> {
        Ok(NetemParams {
            latency_ticks: ticks(netem.delay, psched, "netem delay")?,
            jitter_ticks: match netem.jitter {
                Some(j) => ticks(j, psched, "netem jitter")?,
                None => 0,
            },
            loss: match netem.loss {
                Some(p) => percent_to_u32(p)?,
                None => 0,
            },
            rate_bytes: netem.rate.map(|r| r.bytes_per_sec()),
            limit: netem.limit.unwrap_or(NETEM_DEFAULT_LIMIT),
            duplicate: netem.duplicate.map(percent_to_u32).transpose()?.unwrap_or(0),
            reorder: netem.reorder.map(percent_to_u32).transpose()?,
            // q_netem.c: a reorder probability without a gap gets gap 1.
            gap: match (netem.gap, netem.reorder) {
                (Some(g), _) => g,
                (None, Some(p)) if p.0 > 0.0 => 1,
                _ => 0,
            },
            corrupt: netem.corrupt.map(percent_to_u32).transpose()?,
            slot: netem.slot.map(|s| (s.min.0, s.max.0, s.packets.unwrap_or(0), s.bytes.unwrap_or(0))),
        })
    }

    /// The payload of TCA_OPTIONS: the struct, then (q_netem.c's order) TCA_NETEM_REORDER,
    /// TCA_NETEM_CORRUPT, TCA_NETEM_SLOT, TCA_NETEM_RATE64 and TCA_NETEM_RATE, each when
    /// given.
    pub fn options(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(NETEM_QOPT_LEN + 32);
        for v in [
            self.latency_ticks,
            self.limit,
            self.loss,
            self.gap,
            self.duplicate,
            self.jitter_ticks,
        ] {
            out.extend_from_slice(&v.to_ne_bytes());
        }
        // `struct tc_netem_reorder` / `tc_netem_corrupt`: probability, correlation (0).
        let mut nlas = Vec::new();
        for (kind, probability) in [(TCA_NETEM_REORDER, self.reorder), (TCA_NETEM_CORRUPT, self.corrupt)] {
            if let Some(p) = probability {
                nlas.push(nla(kind, [p.to_ne_bytes(), 0u32.to_ne_bytes()].concat()));
            }
        }
        if let Some((min, max, packets, bytes)) = self.slot {
            let mut slot = Vec::with_capacity(NETEM_SLOT_LEN);
            for v in [min.to_ne_bytes().to_vec(), max.to_ne_bytes().to_vec(), packets.to_ne_bytes().to_vec(), bytes.to_ne_bytes().to_vec()] {
                slot.extend_from_slice(&v);
            }
            slot.resize(NETEM_SLOT_LEN, 0); // no slot distribution
            nlas.push(nla(TCA_NETEM_SLOT, slot));
        }
        if let Some(rate_bytes) = self.rate_bytes {
            if rate_bytes >= 1 << 32 {
                nlas.push(nla(TCA_NETEM_RATE64, rate_bytes.to_ne_bytes().to_vec()));
            }
            let mut rate = rate32(rate_bytes).to_ne_bytes().to_vec();
            rate.resize(NETEM_RATE_LEN, 0); // no packet/cell overheads
            nlas.push(nla(TCA_NETEM_RATE, rate));
        }
        if !nlas.is_empty() {
            out.extend_from_slice(&nlas_bytes(&nlas));
        }
        out
    }
}

/// `get_ticks` of q_netem.c: microseconds (tc's get_time), then ticks; tc refuses times
/// whose tick count does not fit 32 bits.
fn ticks(d: Duration, psched: &Psched, what: &'static str) -> Result<u32, TcError> {
    let usecs = u32::try_from(d.micros()).map_err(|_| TcError::TooLarge(what))?;
    if (usecs as f64 * psched.tick_in_usec()) as u64 >> 32 != 0 {
        return Err(TcError::TooLarge(what));
    }
    Ok(psched.time2tick(usecs))
}

/// q_netem.c's `get_percent`: `rint(percent / 100 × UINT32_MAX)`.
fn percent_to_u32(p: Percent) -> Result<u32, TcError> {
    if !(0.0..=100.0).contains(&p.0) {
        return Err(TcError::Invalid("netem percentages (loss, duplicate, reorder, corrupt) are between 0% and 100%"));
    }
    Ok((p.0 / 100.0 * MAX_PERCENT_VALUE).round_ties_even() as u32)
}

/// What a dump of netem reports, in the kernel's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetemState {
    pub latency_ns: u64,
    pub jitter_ns: u64,
    pub loss: u32,
    pub rate_bytes: u64,
    pub limit: u32,
    pub duplicate: u32,
    pub gap: u32,
    /// The kernel always dumps TCA_NETEM_REORDER and TCA_NETEM_CORRUPT.
    pub reorder: u32,
    pub corrupt: u32,
    /// The slot as dumped (only when its min or max is not 0): min, max, packets, bytes
    /// (0: no limit).
    pub slot: Option<(u64, u64, u32, u32)>,
}

impl NetemState {
    pub fn parse(options: &[u8]) -> Result<NetemState, TcDecodeError> {
        let qopt = options
            .get(..NETEM_QOPT_LEN)
            .ok_or(TcDecodeError::Missing("tc_netem_qopt"))?;
        let field = |i: usize| wire::u32_at(qopt, 4 * i).expect("length checked");
        // The attributes start at the next 4-byte boundary after the struct.
        let nlas =
            wire::parse_nlas(&options[NETEM_QOPT_LEN..]).map_err(TcDecodeError::Malformed)?;
        let wide = |kind| wire::find(&nlas, kind).and_then(|v| wire::u64_at(v, 0));
        let rate32 = wire::find(&nlas, TCA_NETEM_RATE)
            .and_then(|v| wire::u32_at(v, 0))
            .unwrap_or(0);
        Ok(NetemState {
            latency_ns: wide(TCA_NETEM_LATENCY64)
                .unwrap_or_else(|| kernel::ticks2ns(field(0) as u64)),
            jitter_ns: wide(TCA_NETEM_JITTER64)
                .unwrap_or_else(|| kernel::ticks2ns(field(5) as u64)),
            loss: field(2),
            rate_bytes: wide(TCA_NETEM_RATE64).unwrap_or(rate32 as u64),
            limit: field(1),
            gap: field(3),
            duplicate: field(4),
            reorder: wire::find(&nlas, TCA_NETEM_REORDER).and_then(|v| wire::u32_at(v, 0)).unwrap_or(0),
            corrupt: wire::find(&nlas, TCA_NETEM_CORRUPT).and_then(|v| wire::u32_at(v, 0)).unwrap_or(0),
            slot: wire::find(&nlas, TCA_NETEM_SLOT).filter(|v| v.len() >= 24).map(|v| {
                let (min, max) = (wire::u64_at(v, 0).expect("length checked"), wire::u64_at(v, 8).expect("length checked"));
                (min, max, wire::u32_at(v, 16).expect("length checked"), wire::u32_at(v, 20).expect("length checked"))
            }),
        })
    }

    /// The kernel turns ticks into ns (`PSCHED_TICKS2NS`) and keeps the rest as sent.
    pub fn predict(params: &NetemParams) -> NetemState {
        NetemState {
            latency_ns: kernel::ticks2ns(params.latency_ticks as u64),
            jitter_ns: kernel::ticks2ns(params.jitter_ticks as u64),
            loss: params.loss,
            rate_bytes: params.rate_bytes.unwrap_or(0),
            limit: params.limit,
            duplicate: params.duplicate,
            gap: params.gap,
            // netem_change: a gap alone means reorder ~0; a sent probability replaces it.
            reorder: params.reorder.unwrap_or(if params.gap != 0 { u32::MAX } else { 0 }),
            corrupt: params.corrupt.unwrap_or(0),
            // get_slot: kept as sent (no limit, 0, dumped as 0); dumped only when the min
            // or the max is not 0. Without TCA_NETEM_SLOT a change keeps the old slot:
            // the planner sends a zero one to drop it (plan::planner::netem_change).
            slot: params.slot.filter(|(min, max, _, _)| min | max != 0),
        }
    }

    /// Back to the script's terms. Rounding: delay and jitter are whole microseconds
    /// turned into 64 ns ticks by tc, so a time that is not a multiple of 8 µs comes back
    /// up to one tick shorter; loss is a fraction of 2^32 − 1; a zero jitter, loss or rate
    /// reads as absent.
    pub fn to_netem(&self) -> Netem {
        Netem {
            delay: Duration(self.latency_ns),
            jitter: (self.jitter_ns != 0).then_some(Duration(self.jitter_ns)),
            loss: (self.loss != 0).then(|| Percent(self.loss as f64 * 100.0 / MAX_PERCENT_VALUE)),
            rate: (self.rate_bytes != 0).then_some(Rate(self.rate_bytes * 8)),
            limit: (self.limit != NETEM_DEFAULT_LIMIT).then_some(self.limit),
            duplicate: (self.duplicate != 0).then(|| Percent(self.duplicate as f64 * 100.0 / MAX_PERCENT_VALUE)),
            corrupt: (self.corrupt != 0).then(|| Percent(self.corrupt as f64 * 100.0 / MAX_PERCENT_VALUE)),
            reorder: (self.reorder != 0).then(|| Percent(self.reorder as f64 * 100.0 / MAX_PERCENT_VALUE)),
            // tc's gap 1 for a reorder without one reads as none.
            gap: (self.reorder != 0 && self.gap > 1).then_some(self.gap),
            slot: self.slot.map(|(min, max, packets, bytes)| crate::model::NetemSlot {
                min: Duration(min),
                max: Duration(max),
                packets: (packets != 0).then_some(packets),
                bytes: (bytes != 0).then_some(bytes),
            }),
        }
    }
}
