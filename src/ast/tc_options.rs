//! The options of the traffic-control statements (`shape`, `htb`, `class`, `filter`,
//! `netem`, `xdp`) as written.

use super::*;

#[derive(Debug, Clone, serde::Serialize)]
pub enum ShapeOpt {
    Burst(Spanned<SizeValue>),
    Latency(Spanned<DurationValue>),
    Limit(Spanned<SizeValue>),
    Peakrate(Spanned<RateValue>),
    Mtu(Spanned<SizeValue>),
    Framing(FramingOpt),
}

/// tc's framing of a rate, an option of `shape` and of htb classes.
#[derive(Debug, Clone, serde::Serialize)]
pub enum FramingOpt {
    Overhead(Spanned<IntValue>),
    Mpu(Spanned<SizeValue>),
    Linklayer(Spanned<crate::model::LinkLayer>),
}

/// Options of the htb qdisc besides `default`.
#[derive(Debug, Clone, serde::Serialize)]
pub enum HtbOpt {
    R2q(Spanned<IntValue>),
    DirectQlen(Spanned<IntValue>),
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum ClassOpt {
    Rate(Spanned<RateValue>),
    Ceil(Spanned<RateValue>),
    Prio(Spanned<IntValue>),
    Burst(Spanned<SizeValue>),
    Cburst(Spanned<SizeValue>),
    Quantum(Spanned<SizeValue>),
    Mtu(Spanned<SizeValue>),
    Framing(FramingOpt),
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum FilterOpt {
    Proto(Spanned<IpProto>),
    Src(Spanned<IpValue>),
    Dst(Spanned<IpValue>),
    Sport(Spanned<IntValue>),
    Dport(Spanned<IntValue>),
    /// tc's filter `prio` (default: the filter's position in the htb).
    Prio(Spanned<IntValue>),
    /// tc's u32 node id, `handle ::N` (hex).
    Handle(ClassId),
    /// `link ID [hashkey mask M at OFF]`: tc's `link ID: hashkey mask M at OFF`.
    Link { table: ClassId, hashkey: Option<(Spanned<IntValue>, Spanned<IntValue>)> },
    /// `ht ID[:BUCKET]`: tc's `ht ID:[BUCKET]`, the hash table the filter sits in.
    Ht(ClassId),
    /// `sample u32|u16|u8 VALUE MASK [at OFF]`: tc's `sample`, the bucket by a value.
    Sample(RawKeyAst),
    /// `match u32|u16|u8 VALUE MASK [at OFF]`: tc's raw `match`.
    Match(RawKeyAst),
}


/// Where a `bpf` classifier sits: tc's filter `prio` and `handle`.
#[derive(Debug, Clone, serde::Serialize)]
pub enum BpfPlace {
    Prio(Spanned<IntValue>),
    Handle(Spanned<IntValue>),
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum NetemOpt {
    Delay(Spanned<DurationValue>),
    Jitter(Spanned<DurationValue>),
    Loss(Spanned<PercentValue>),
    Rate(Spanned<RateValue>),
    /// tc's netem `limit`, in packets.
    Limit(Spanned<IntValue>),
    Duplicate(Spanned<PercentValue>),
    Corrupt(Spanned<PercentValue>),
    Reorder(Spanned<PercentValue>),
    Gap(Spanned<IntValue>),
    Slot(Spanned<SlotAst>),
    /// `loss state P…` (`gemodel: false`) or `loss gemodel P…`: the percentages as written.
    LossModel(Spanned<LossModelAst>),
    /// `distribution NAME`: the name as written (the checker knows the tables).
    Distribution(Spanned<String>),
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LossModelAst {
    pub gemodel: bool,
    pub values: Vec<Spanned<PercentValue>>,
}

/// netem's `slot MIN [MAX] [packets N] [bytes SIZE]` or `slot distribution TABLE DELAY
/// JITTER [packets N] [bytes SIZE]`, as written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SlotAst {
    pub times: SlotTimes,
    pub packets: Vec<Spanned<IntValue>>,
    pub bytes: Vec<Spanned<SizeValue>>,
}

/// When slots start: every MIN to MAX (uniformly), or every DELAY ± JITTER shaped by a
/// table (tc's two forms of `slot`).
#[derive(Debug, Clone, serde::Serialize)]
pub enum SlotTimes {
    Range { min: Spanned<DurationValue>, max: Option<Spanned<DurationValue>> },
    /// The table's name as written (the checker knows the tables).
    Distribution { table: Spanned<String>, delay: Spanned<DurationValue>, jitter: Spanned<DurationValue> },
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum XdpOpt {
    Section(Spanned<String>),
    Mode(Spanned<XdpMode>),
}
