//! netem, as `tc/q_netem.c` (iproute2 6.1) sends it. Unlike tbf and htb, netem's
//! TCA_OPTIONS starts with a bare `struct tc_netem_qopt`, and its attributes follow it.
//! iproute2 6.1 sends delay and jitter in that struct, as scheduler ticks (no
//! TCA_NETEM_LATENCY64/JITTER64); the kernel dumps both forms.

use super::kernel;
use super::psched::Psched;
use super::wire::{self, nla, nlas_bytes, rate32};
use super::{TcDecodeError, TcError};
use crate::model::{Netem, NetemDistribution};
use crate::units::{Duration, Percent, Rate};

const TCA_NETEM_REORDER: u16 = 3;
const TCA_NETEM_CORRUPT: u16 = 4;
const TCA_NETEM_RATE: u16 = 6;
const TCA_NETEM_LATENCY64: u16 = 10;
const TCA_NETEM_JITTER64: u16 = 11;
const TCA_NETEM_RATE64: u16 = 8;
const TCA_NETEM_SLOT: u16 = 12;
const TCA_NETEM_LOSS: u16 = 5;
/// The delay distribution table: s16 values (q_netem.c sends it last but one).
const TCA_NETEM_DELAY_DIST: u16 = 2;
/// The slot distribution table (`slot distribution`), the same s16 values, sent last.
const TCA_NETEM_SLOT_DIST: u16 = 13;
/// Inside TCA_NETEM_LOSS: `struct tc_netem_gimodel` (p13, p31, p32, p14, p23) and
/// `struct tc_netem_gemodel` (p, r, h, k1), probabilities scaled to `u32::MAX`.
const NETEM_LOSS_GI: u16 = 1;
const NETEM_LOSS_GE: u16 = 2;
const NLA_F_NESTED: u16 = 0x8000;
/// `struct tc_netem_slot`: min_delay, max_delay (s64 ns), max_packets, max_bytes (s32),
/// dist_delay, dist_jitter (s64 ns, for `slot distribution`).
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
    /// `loss state|gemodel`: NETEM_LOSS_GI (`true`) or NETEM_LOSS_GE, its fields in the
    /// struct's order.
    pub loss_model: Option<(bool, Vec<u32>)>,
    /// `distribution NAME`: its table is sent as TCA_NETEM_DELAY_DIST.
    pub distribution: Option<NetemDistribution>,
    /// `slot distribution TABLE DELAY JITTER`: the slot's dist_delay and dist_jitter (ns).
    pub slot_spacing: Option<(u64, u64)>,
    /// …and its table, sent as TCA_NETEM_SLOT_DIST.
    pub slot_distribution: Option<NetemDistribution>,
}

/// tc's `set_percent`: `rint(fraction × UINT32_MAX)`.
fn fraction_to_u32(f: f64) -> u32 {
    (f * MAX_PERCENT_VALUE).round_ties_even() as u32
}

/// The fields q_netem.c sends for a loss model, its defaults computed as it does.
fn loss_model_fields(model: &crate::model::LossModel) -> Result<(bool, Vec<u32>), TcError> {
    use crate::model::LossModel;
    let pct = |p: Option<Percent>| p.map(percent_to_u32).transpose();
    Ok(match model {
        LossModel::State { p13, rest: [p31, p32, p23, p14] } => {
            let first = p13.0 / 100.0;
            let p31 = pct(*p31)?.unwrap_or(fraction_to_u32(1.0 - first));
            let p32 = pct(*p32)?.unwrap_or(0);
            let p23 = pct(*p23)?.unwrap_or(fraction_to_u32(1.0));
            let p14 = pct(*p14)?.unwrap_or(0);
            (true, vec![percent_to_u32(*p13)?, p31, p32, p14, p23])
        }
        LossModel::Gemodel { p, rest: [r, one_minus_h, k1] } => {
            let first = p.0 / 100.0;
            let r = pct(*r)?.unwrap_or(fraction_to_u32(1.0 - first));
            // The word is 1-h; the kernel takes h. Its default is an h of 0.
            let h = pct(*one_minus_h)?.map(|v| u32::MAX - v).unwrap_or(0);
            let k1 = pct(*k1)?.unwrap_or(0);
            (false, vec![percent_to_u32(*p)?, r, h, k1])
        }
    })
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
            loss_model: netem.loss_model.as_ref().map(loss_model_fields).transpose()?,
            distribution: netem.distribution,
            slot_spacing: netem.slot.and_then(|s| s.spacing).map(|s| (s.delay.0, s.jitter.0)),
            slot_distribution: netem.slot.and_then(|s| s.spacing).and_then(|s| s.table),
        })
    }

    /// The payload of TCA_OPTIONS: the struct, then (q_netem.c's order) TCA_NETEM_REORDER,
    /// TCA_NETEM_CORRUPT, TCA_NETEM_SLOT, TCA_NETEM_LOSS (nested), TCA_NETEM_RATE64,
    /// TCA_NETEM_RATE, TCA_NETEM_DELAY_DIST and TCA_NETEM_SLOT_DIST, each when given.
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
            let (dist_delay, dist_jitter) = self.slot_spacing.unwrap_or((0, 0));
            slot.extend_from_slice(&dist_delay.to_ne_bytes());
            slot.extend_from_slice(&dist_jitter.to_ne_bytes());
            nlas.push(nla(TCA_NETEM_SLOT, slot));
        }
        if let Some((gi, fields)) = &self.loss_model {
            let inner = fields.iter().flat_map(|v| v.to_ne_bytes()).collect();
            let kind = if *gi { NETEM_LOSS_GI } else { NETEM_LOSS_GE };
            nlas.push(nla(TCA_NETEM_LOSS | NLA_F_NESTED, nlas_bytes(&[nla(kind, inner)])));
        }
        if let Some(rate_bytes) = self.rate_bytes {
            if rate_bytes >= 1 << 32 {
                nlas.push(nla(TCA_NETEM_RATE64, rate_bytes.to_ne_bytes().to_vec()));
            }
            let mut rate = rate32(rate_bytes).to_ne_bytes().to_vec();
            rate.resize(NETEM_RATE_LEN, 0); // no packet/cell overheads
            nlas.push(nla(TCA_NETEM_RATE, rate));
        }
        if let Some(dist) = self.distribution {
            nlas.push(nla(TCA_NETEM_DELAY_DIST, super::netem_dist::table_bytes(dist)));
        }
        if let Some(dist) = self.slot_distribution {
            nlas.push(nla(TCA_NETEM_SLOT_DIST, super::netem_dist::table_bytes(dist)));
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The slot as dumped (only when its min, max or dist_jitter is not 0): min, max,
    /// packets, bytes (0: no limit).
    pub slot: Option<(u64, u64, u32, u32)>,
    /// The slot's dist_delay and dist_jitter, when the jitter is not 0 (tc's `show` then
    /// prints `slot distribution DELAY JITTER`).
    pub slot_spacing: Option<(u64, u64)>,
    /// The slot's table: never dumped, as [`NetemState::distribution`].
    pub slot_distribution: Option<NetemDistribution>,
    /// The loss model, as [`NetemParams::loss_model`] (none: random loss).
    pub loss_model: Option<(bool, Vec<u32>)>,
    /// The delay table. The kernel never dumps it: `None` from a dump means "not
    /// known from the kernel", filled from netscript's record where it made the netem
    /// (`exec::traffic::recall_netem_tables`).
    pub distribution: Option<NetemDistribution>,
}

/// A dumped TCA_NETEM_LOSS: its one model.
fn parse_loss_model(nlas: &[(u16, Vec<u8>)]) -> Option<(bool, Vec<u32>)> {
    let payload = &nlas.iter().find(|(kind, _)| kind & !NLA_F_NESTED == TCA_NETEM_LOSS)?.1;
    let inner = wire::parse_nlas(payload).ok()?;
    let (kind, value) = inner.iter().find(|(k, _)| *k == NETEM_LOSS_GI || *k == NETEM_LOSS_GE)?;
    let count = if *kind == NETEM_LOSS_GI { 5 } else { 4 };
    let fields = (0..count).map(|i| wire::u32_at(value, 4 * i)).collect::<Option<Vec<u32>>>()?;
    Some((*kind == NETEM_LOSS_GI, fields))
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
            slot_spacing: wire::find(&nlas, TCA_NETEM_SLOT).filter(|v| v.len() >= NETEM_SLOT_LEN).and_then(|v| {
                let (delay, jitter) = (wire::u64_at(v, 24).expect("length checked"), wire::u64_at(v, 32).expect("length checked"));
                (jitter != 0).then_some((delay, jitter))
            }),
            loss_model: parse_loss_model(&nlas),
            distribution: None,
            slot_distribution: None,
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
            slot: params.slot.filter(|(min, max, _, _)| min | max | params.slot_spacing.map_or(0, |(_, j)| j) != 0),
            // get_slot caps dist_jitter at INT_MAX (the checker refuses more).
            slot_spacing: params.slot_spacing.map(|(d, j)| (d, j.min(i32::MAX as u64))).filter(|(_, j)| *j != 0),
            // get_loss_clg keeps the fields as sent; without TCA_NETEM_LOSS a change
            // goes back to random loss.
            loss_model: params.loss_model.clone(),
            // Kept as sent; a change without a table keeps the old one (the planner
            // makes the netem anew instead: plan::planner::netem_change).
            distribution: params.distribution,
            // The slot table likewise (a change without one keeps the old one).
            slot_distribution: params.slot_distribution,
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
                spacing: self.slot_spacing.map(|(delay, jitter)| crate::model::SlotSpacing { delay: Duration(delay), jitter: Duration(jitter), table: self.slot_distribution }),
            }),
            loss_model: self.loss_model.as_ref().map(|(gi, f)| {
                let pct = |v: u32| Percent(v as f64 * 100.0 / MAX_PERCENT_VALUE);
                if *gi {
                    // The struct holds p13, p31, p32, p14, p23; tc's words go p13 p31 p32 p23 p14.
                    crate::model::LossModel::State { p13: pct(f[0]), rest: [Some(pct(f[1])), Some(pct(f[2])), Some(pct(f[4])), Some(pct(f[3]))] }
                } else {
                    // The third word is 1-h.
                    crate::model::LossModel::Gemodel { p: pct(f[0]), rest: [Some(pct(f[1])), Some(pct(u32::MAX - f[2])), Some(pct(f[3]))] }
                }
            }),
            distribution: self.distribution,
        }
    }
}
