//! htb qdisc and classes, as `tc/q_htb.c` sends them and `net/sched/sch_htb.c` keeps them.

use super::psched::Psched;
use super::wire::{self, RateSpec, nla, nlas_bytes, rate32};
use super::{TcDecodeError, TcError};
use crate::plan::action::ClassSpec;
use crate::units::Rate;

const TCA_HTB_PARMS: u16 = 1;
const TCA_HTB_INIT: u16 = 2;
const TCA_HTB_CTAB: u16 = 3;
const TCA_HTB_RTAB: u16 = 4;
const TCA_HTB_DIRECT_QLEN: u16 = 5;
const TCA_HTB_RATE64: u16 = 6;
const TCA_HTB_CEIL64: u16 = 7;

/// `TC_HTB_PROTOVER`, sent in `tc_htb_glob.version`.
const HTB_PROTOVER: u32 = 3;
/// tc's default r2q: DRR quantum = rate in bytes/s / 10.
const HTB_RATE2QUANTUM: u32 = 10;
/// tc's default `mtu` for htb classes: the packet size the rate tables cover.
const HTB_MTU: u32 = 1600;
/// `TC_HTB_NUMPRIO`: the kernel clamps prio to 0..=7.
const HTB_MAX_PRIO: u32 = 7;

/// `struct tc_htb_opt`: rate, ceil, buffer, cbuffer, quantum, level, prio.
const HTB_OPT_LEN: usize = 2 * wire::RATE_SPEC_LEN + 20;
/// `struct tc_htb_glob`: version, rate2quantum, defcls, debug, direct_pkts.
const HTB_GLOB_LEN: usize = 20;

/// The txqueuelen of veth, ethernet-like and ifb-less devices: what the kernel takes as
/// htb's `direct_qlen` when none is sent. A dumped htb with another one reads as an
/// explicit `direct_qlen`.
pub const HTB_USUAL_DIRECT_QLEN: u32 = 1000;

/// TCA_OPTIONS payload of `tc qdisc add ... htb [default N] [r2q N] [direct_qlen N]`.
/// tc sends no TCA_HTB_DIRECT_QLEN unless `direct_qlen` is given, so neither does
/// netscript.
pub fn qdisc_options(default_class: u32, r2q: Option<u32>, direct_qlen: Option<u32>) -> Vec<u8> {
    let glob: Vec<u8> = [HTB_PROTOVER, r2q.unwrap_or(HTB_RATE2QUANTUM), default_class, 0, 0]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    let mut nlas = vec![nla(TCA_HTB_INIT, glob)];
    if let Some(q) = direct_qlen {
        nlas.push(nla(TCA_HTB_DIRECT_QLEN, q.to_ne_bytes().to_vec()));
    }
    nlas_bytes(&nlas)
}

/// A dumped htb qdisc's TCA_OPTIONS payload: its default class, its r2q (`None` for
/// tc's 10) and its direct_qlen (`None` for the usual 1000).
pub fn parse_qdisc_options(options: &[u8]) -> Result<crate::plan::action::QdiscSpec, TcDecodeError> {
    let nlas = wire::parse_nlas(options).map_err(TcDecodeError::Malformed)?;
    let glob = wire::find(&nlas, TCA_HTB_INIT)
        .filter(|g| g.len() >= HTB_GLOB_LEN)
        .ok_or(TcDecodeError::Missing("TCA_HTB_INIT"))?;
    let r2q = wire::u32_at(glob, 4).expect("length checked");
    let direct_qlen = wire::find(&nlas, TCA_HTB_DIRECT_QLEN).and_then(|v| wire::u32_at(v, 0));
    Ok(crate::plan::action::QdiscSpec::Htb {
        default_class: wire::u32_at(glob, 8).expect("length checked"),
        r2q: (r2q != HTB_RATE2QUANTUM).then_some(r2q),
        direct_qlen: direct_qlen.filter(|q| *q != HTB_USUAL_DIRECT_QLEN),
    })
}

/// The quantum the kernel gives a class without one (sch_htb.c `htb_change_class`):
/// rate / r2q, clamped to 1000..=200000.
pub fn default_quantum(rate_bytes: u64, r2q: u32) -> u32 {
    (rate_bytes / r2q.max(1) as u64).min(i32::MAX as u64).clamp(1000, 200_000) as u32
}

/// What tc computes for `tc class add ... htb rate R [ceil C] [prio P]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtbClassParams {
    pub rate_bytes: u64,
    pub ceil_bytes: u64,
    pub buffer_ticks: u32,
    pub cbuffer_ticks: u32,
    pub prio: u32,
    /// tc's `quantum`; 0 lets the kernel compute it from r2q.
    pub quantum: u32,
    pub cell_log: u8,
    pub ccell_log: u8,
    pub rtab: [u32; 256],
    pub ctab: [u32; 256],
    /// `overhead`, `mpu`, `linklayer`: in both rate specs and tables (not in the bucket
    /// times, which tc computes from the bare sizes and the kernel keeps as sent).
    pub framing: crate::model::Framing,
}

impl HtbClassParams {
    pub fn new(class: &ClassSpec, psched: &Psched) -> Result<HtbClassParams, TcError> {
        let rate_bytes = class.rate.bytes_per_sec();
        let ceil_bytes = class.ceil.bytes_per_sec();
        if rate_bytes == 0 || ceil_bytes == 0 {
            return Err(TcError::ZeroRate);
        }
        // Default burst and cburst (q_htb.c): what the rate sends in one timer tick, plus
        // the MTU. tc stores the sum in an unsigned int.
        let mtu = class.mtu.unwrap_or(HTB_MTU);
        let (buffer, cbuffer) = default_bursts(rate_bytes, ceil_bytes, mtu, psched);
        let size = |s: Option<crate::units::Size>, default: u32, what| match s {
            Some(s) => u32::try_from(s.0).map_err(|_| TcError::TooLarge(what)),
            None => Ok(default),
        };
        let buffer = size(class.burst, buffer, "htb burst")?;
        let cbuffer = size(class.cburst, cbuffer, "htb cburst")?;
        let framing = class.framing;
        let (rtab, cell_log) = psched.rate_table_framed(rate32(rate_bytes), mtu, &framing);
        let (ctab, ccell_log) = psched.rate_table_framed(rate32(ceil_bytes), mtu, &framing);
        // Unlike tbf, htb computes the bucket times with the 64-bit rates.
        let buffer_ticks = psched.xmittime(rate_bytes, buffer);
        if buffer_ticks == u32::MAX {
            return Err(TcError::TooLarge("htb burst"));
        }
        Ok(HtbClassParams {
            rate_bytes,
            ceil_bytes,
            buffer_ticks,
            cbuffer_ticks: psched.xmittime(ceil_bytes, cbuffer),
            prio: class.prio.unwrap_or(0),
            quantum: class.quantum.unwrap_or(0),
            cell_log,
            ccell_log,
            rtab,
            ctab,
            framing,
        })
    }

    /// The payload of TCA_OPTIONS, in tc's order: RATE64, CEIL64, PARMS, RTAB, CTAB.
    pub fn options(&self) -> Vec<u8> {
        let mut parms = Vec::with_capacity(HTB_OPT_LEN);
        RateSpec::framed(rate32(self.rate_bytes), self.cell_log, &self.framing).write(&mut parms);
        RateSpec::framed(rate32(self.ceil_bytes), self.ccell_log, &self.framing).write(&mut parms);
        // buffer, cbuffer, quantum (0: from r2q), level (set by the kernel), prio
        for v in [self.buffer_ticks, self.cbuffer_ticks, self.quantum, 0, self.prio] {
            parms.extend_from_slice(&v.to_ne_bytes());
        }
        let mut nlas = Vec::new();
        if self.rate_bytes >= 1 << 32 {
            nlas.push(nla(TCA_HTB_RATE64, self.rate_bytes.to_ne_bytes().to_vec()));
        }
        if self.ceil_bytes >= 1 << 32 {
            nlas.push(nla(TCA_HTB_CEIL64, self.ceil_bytes.to_ne_bytes().to_vec()));
        }
        nlas.push(nla(TCA_HTB_PARMS, parms));
        nlas.push(nla(TCA_HTB_RTAB, wire::table_bytes(&self.rtab)));
        nlas.push(nla(TCA_HTB_CTAB, wire::table_bytes(&self.ctab)));
        nlas_bytes(&nlas)
    }
}

/// What a dump of an htb class reports that reconcile compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HtbClassState {
    pub rate_bytes: u64,
    pub ceil_bytes: u64,
    pub prio: u32,
    /// The buckets as transmit times in ticks; the kernel keeps them exactly.
    pub buffer_ticks: u32,
    pub cbuffer_ticks: u32,
    pub quantum: u32,
    /// The rate spec's overhead, mpu and link layer (tc gives the ceil's the same).
    pub framing: crate::model::Framing,
}

/// tc's default burst and cburst for a class: one timer tick of the rate (ceil) plus
/// the mtu.
fn default_bursts(rate_bytes: u64, ceil_bytes: u64, mtu: u32, psched: &Psched) -> (u32, u32) {
    let hz = psched.hz() as u64;
    ((rate_bytes / hz + mtu as u64) as u32, (ceil_bytes / hz + mtu as u64) as u32)
}

impl HtbClassState {
    pub fn parse(options: &[u8]) -> Result<HtbClassState, TcDecodeError> {
        let nlas = wire::parse_nlas(options).map_err(TcDecodeError::Malformed)?;
        let parms = wire::find(&nlas, TCA_HTB_PARMS)
            .filter(|p| p.len() >= HTB_OPT_LEN)
            .ok_or(TcDecodeError::Missing("TCA_HTB_PARMS"))?;
        let rate = RateSpec::read(parms).expect("length checked");
        let ceil = RateSpec::read(&parms[wire::RATE_SPEC_LEN..]).expect("length checked");
        let wide = |kind, narrow: u32| {
            wire::find(&nlas, kind)
                .and_then(|v| wire::u64_at(v, 0))
                .unwrap_or(narrow as u64)
        };
        Ok(HtbClassState {
            rate_bytes: wide(TCA_HTB_RATE64, rate.rate),
            ceil_bytes: wide(TCA_HTB_CEIL64, ceil.rate),
            prio: wire::u32_at(parms, 2 * wire::RATE_SPEC_LEN + 16).expect("length checked"),
            buffer_ticks: wire::u32_at(parms, 2 * wire::RATE_SPEC_LEN).expect("length checked"),
            cbuffer_ticks: wire::u32_at(parms, 2 * wire::RATE_SPEC_LEN + 4).expect("length checked"),
            quantum: wire::u32_at(parms, 2 * wire::RATE_SPEC_LEN + 8).expect("length checked"),
            framing: rate.framing(),
        })
    }

    /// What the kernel reports after being sent `params`: rates and bucket times exactly,
    /// prio clamped, the quantum as sent or (0) computed from tc's default r2q (the
    /// kernel uses the qdisc's; [`Self::to_class`] reads either back as none).
    pub fn predict(params: &HtbClassParams) -> HtbClassState {
        HtbClassState {
            rate_bytes: params.rate_bytes,
            ceil_bytes: params.ceil_bytes,
            prio: params.prio.min(HTB_MAX_PRIO),
            buffer_ticks: params.buffer_ticks,
            cbuffer_ticks: params.cbuffer_ticks,
            quantum: match params.quantum {
                0 => default_quantum(params.rate_bytes, HTB_RATE2QUANTUM),
                q => q,
            },
            framing: params.framing,
        }
    }

    /// Back to a class spec: rates in bits (a rate that is not a whole number of bytes
    /// per second loses the rest, as in tc); prio 0, htb's default, reads as `None`;
    /// burst and cburst that are tc's defaults (with its mtu of 1600) read as `None`,
    /// others as the smallest size that gives the same bucket time back; a quantum that
    /// is the default of the qdisc's r2q (10 unless given) reads as `None`. The mtu is
    /// not in the dump.
    pub fn to_class(&self, id: u32, parent: Option<u32>, r2q: Option<u32>, psched: &Psched) -> ClassSpec {
        let default_q = default_quantum(self.rate_bytes, r2q.unwrap_or(HTB_RATE2QUANTUM));
        let (buffer, cbuffer) = default_bursts(self.rate_bytes, self.ceil_bytes, HTB_MTU, psched);
        let burst = |rate: u64, ticks: u32, default: u32| {
            (ticks != psched.xmittime(rate, default)).then(|| crate::units::Size(psched.size_for_ticks(rate, ticks) as u64))
        };
        ClassSpec {
            id,
            parent,
            rate: Rate(self.rate_bytes * 8),
            ceil: Rate(self.ceil_bytes * 8),
            prio: (self.prio != 0).then_some(self.prio),
            burst: burst(self.rate_bytes, self.buffer_ticks, buffer),
            cburst: burst(self.ceil_bytes, self.cbuffer_ticks, cbuffer),
            quantum: (self.quantum != 0 && self.quantum != default_q).then_some(self.quantum),
            mtu: None,
            framing: self.framing,
        }
    }
}
