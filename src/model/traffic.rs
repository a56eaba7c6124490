//! Traffic control: tbf (`shape`), htb with classes and u32 filters, netem.

use crate::source::{Span, Spanned};
use crate::units::{Duration, Percent, Rate, Size};
use ipnet::IpNet;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Qdisc {
    Tbf(Tbf),
    Htb(Htb),
    Netem(Netem),
}

impl Qdisc {
    pub fn kind(&self) -> &'static str {
        match self {
            Qdisc::Tbf(_) => "tbf",
            Qdisc::Htb(_) => "htb",
            Qdisc::Netem(_) => "netem",
        }
    }
}

/// `shape RATE [burst SIZE] [latency DURATION | limit SIZE] [peakrate RATE mtu SIZE]`,
/// with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tbf {
    pub rate: Rate,
    pub burst: Size,
    /// How long a packet may wait; tc turns it into the byte limit. Unused (0) when
    /// `limit` is given.
    pub latency: Duration,
    /// tc's `limit`: the bytes queued at most, given directly instead of `latency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Size>,
    /// tc's `peakrate`: a second bucket, as deep as `mtu`, caps the rate of bursts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peakrate: Option<Rate>,
    /// tc's `mtu`/`minburst`: the peak bucket's depth and the size the rate tables cover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<Size>,
    /// tc's `overhead`, `mpu`, `linklayer`: how packets are counted against both buckets.
    #[serde(default, skip_serializing_if = "super::Framing::is_default")]
    pub framing: super::Framing,
}

impl Tbf {
    /// A tbf as `shape RATE burst SIZE latency DURATION` makes it.
    pub fn new(rate: Rate, burst: Size, latency: Duration) -> Tbf {
        Tbf { rate, burst, latency, limit: None, peakrate: None, mtu: None, framing: super::Framing::default() }
    }

    /// Its options after the rate, in tc's words: `burst B latency L` or `burst B limit N`,
    /// then `peakrate P mtu M` and `overhead N mpu M linklayer L` when given.
    pub fn option_words(&self) -> String {
        let mut out = format!("burst {}", self.burst);
        match self.limit {
            Some(limit) => out.push_str(&format!(" limit {limit}")),
            None => out.push_str(&format!(" latency {}", self.latency)),
        }
        if let Some(peak) = self.peakrate {
            out.push_str(&format!(" peakrate {peak}"));
        }
        if let Some(mtu) = self.mtu {
            out.push_str(&format!(" mtu {mtu}"));
        }
        out.push_str(&self.framing.option_words());
        out
    }
}

/// Default latency of `shape`: tc's walkthrough value.
pub const SHAPE_DEFAULT_LATENCY: Duration = Duration(70_000_000);

/// Default burst of `shape`: 10kb, or what the rate sends in 10 ms when that is more, so
/// that the bucket holds at least one timer tick's worth of traffic at high rates.
pub fn shape_default_burst(rate: Rate) -> Size {
    let ten_ms = rate.bytes_per_sec() / 100;
    Size(ten_ms.max(10 * 1024))
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Htb {
    /// Minor of the default class (`default 20` is class 1:20); 0 when absent, as tc does.
    pub default_class: Option<Spanned<u32>>,
    /// tc's `r2q` (default 10): a class's default quantum is its rate in bytes/s / r2q.
    pub r2q: Option<u32>,
    /// tc's `direct_qlen` (default: the device's txqueuelen): the queue of packets that
    /// bypass the classes.
    pub direct_qlen: Option<u32>,
    pub classes: Vec<HtbClass>,
    pub filters: Vec<U32Filter>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HtbClass {
    #[serde(skip)]
    pub span: Span,
    /// tc's minor, read as hex: `class 10` is 1:10 (0x10).
    pub id: Spanned<u32>,
    /// The parent class's minor; `None` for a root class (parent 1:).
    pub parent: Option<u32>,
    pub rate: Spanned<Rate>,
    pub ceil: Option<Spanned<Rate>>,
    pub prio: Option<Spanned<u32>>,
    /// tc's `burst`/`cburst` in bytes (default: one timer tick of the rate/ceil plus the mtu).
    pub burst: Option<Size>,
    pub cburst: Option<Size>,
    /// tc's `quantum` in bytes (default: rate / r2q, clamped by the kernel to 1000..200000).
    pub quantum: Option<u32>,
    /// tc's `mtu` (default 1600): the packet size the rate tables cover.
    pub mtu: Option<u32>,
    /// tc's `overhead`, `mpu`, `linklayer`, for both the rate and the ceil.
    pub framing: super::Framing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum IpProto {
    Tcp,
    Udp,
    Icmp,
}

impl IpProto {
    pub fn number(self) -> u8 {
        match self {
            IpProto::Tcp => 6,
            IpProto::Udp => 17,
            IpProto::Icmp => 1,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct U32Filter {
    #[serde(skip)]
    pub span: Span,
    pub proto: Option<IpProto>,
    pub src: Option<Spanned<IpNet>>,
    pub dst: Option<Spanned<IpNet>>,
    pub sport: Option<Spanned<u16>>,
    pub dport: Option<Spanned<u16>>,
    /// Minor of the target class; none for a filter that only links to a hash table.
    pub flowid: Option<Spanned<u32>>,
    /// `link ID [hashkey mask M at OFF]`: the hash table a match goes on in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<U32Link>,
    /// tc's `prio`, when given; otherwise the filter's position (see [`U32Filter::prio_at`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prio: Option<Spanned<u32>>,
    /// tc's u32 node id (`handle ::N`, 1..fff), when given; otherwise the kernel's first,
    /// 800. [`U32_DEFAULT_NODE`] itself is kept as `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<Spanned<u32>>,
    /// `action …`: a gact verdict after the classification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Spanned<FilterVerdict>>,
    /// `match u32|u16|u8 …`: raw keys, after the named matches, in the script's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub raw: Vec<super::RawKey>,
    /// `ht ID[:BUCKET]` / `sample …`: the hash table and bucket the filter sits in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ht: Option<super::U32Ht>,
}

/// A gact verdict on a u32 filter (`action ok|drop|reclassify|continue`, tc's m_gact.c;
/// `pass` is `ok`'s other name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterVerdict {
    Ok,
    Drop,
    Reclassify,
    Continue,
}

impl FilterVerdict {
    /// The verdict's TC_ACT_* code, as tc_gact's `action` carries it.
    pub fn code(self) -> i32 {
        match self {
            FilterVerdict::Ok => 0,
            FilterVerdict::Reclassify => 1,
            FilterVerdict::Drop => 2,
            FilterVerdict::Continue => -1,
        }
    }

    pub fn from_code(code: i32) -> Option<FilterVerdict> {
        [FilterVerdict::Ok, FilterVerdict::Reclassify, FilterVerdict::Drop, FilterVerdict::Continue].into_iter().find(|v| v.code() == code)
    }

    /// The word of netscript and tc.
    pub fn word(self) -> &'static str {
        match self {
            FilterVerdict::Ok => "ok",
            FilterVerdict::Drop => "drop",
            FilterVerdict::Reclassify => "reclassify",
            FilterVerdict::Continue => "continue",
        }
    }
}

/// The node id the kernel gives the first u32 filter of a priority when tc sends none.
pub const U32_DEFAULT_NODE: u32 = 0x800;

/// The largest id of a u32 hash table that a script names (`table ID`): the kernel gives
/// the tables it makes for each priority ids from 800 up.
pub const MAX_U32_TABLE: u32 = 0x7ff;

/// A u32 filter's `link ID [hashkey mask M at OFF]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct U32Link {
    pub table: Spanned<u32>,
    pub hashkey: Option<HashKey>,
}

/// tc's `hashkey mask M at OFF`: the bucket is the word at OFF, masked by M (and shifted
/// down to M's lowest bit by the kernel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HashKey {
    pub mask: u32,
    pub at: i32,
}

/// `table ID divisor N prio P` in a `qdisc ingress` block: a u32 hash table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct U32Table {
    #[serde(skip)]
    pub span: Span,
    /// tc's `handle ID:` (hex, 1..7ff).
    pub id: Spanned<u32>,
    /// The number of buckets: a power of two, 1..256.
    pub divisor: Spanned<u32>,
    pub prio: Spanned<u32>,
}

impl U32Filter {
    /// The filter's tc priority as the `index`th filter (from 0) of its htb: its `prio`,
    /// or its position, counted from 1.
    pub fn prio_at(&self, index: usize) -> u32 {
        self.prio.as_ref().map_or(index as u32 + 1, |p| p.node)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Netem {
    pub delay: Duration,
    pub jitter: Option<Duration>,
    pub loss: Option<Percent>,
    pub rate: Option<Rate>,
    /// tc's `limit`: packets queued at most (tc's default, 1000, is kept as `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<Percent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrupt: Option<Percent>,
    /// tc's `reorder P`: the share of packets sent at once, ahead of the delayed ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reorder: Option<Percent>,
    /// tc's `gap N` (with `reorder`): every Nth packet is the one reordered; tc's 1 when
    /// `reorder` has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<u32>,
    /// tc's `slot MIN [MAX] [packets N] [bytes N]`: packets leave in slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<NetemSlot>,
    /// tc's `loss state …` / `loss gemodel …` (instead of a `loss P%`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_model: Option<LossModel>,
    /// tc's `distribution NAME`: the delay's jitter follows that table rather than
    /// being uniform. The kernel never reports it back: netscript's record keeps it
    /// (see docs/OWNERSHIP.md, "netem's tables").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<NetemDistribution>,
}

/// The delay distributions iproute2 ships tables for (`/usr/lib/…/tc/NAME.dist`), which
/// netscript computes itself (`exec::tc::netem_dist`). `experimental` (a table of
/// measured delays, not computed) is not among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetemDistribution {
    Normal,
    Pareto,
    #[serde(rename = "paretonormal")]
    ParetoNormal,
}

impl NetemDistribution {
    pub const ALL: [NetemDistribution; 3] = [NetemDistribution::Normal, NetemDistribution::Pareto, NetemDistribution::ParetoNormal];

    /// tc's name (and netscript's).
    pub fn name(self) -> &'static str {
        match self {
            NetemDistribution::Normal => "normal",
            NetemDistribution::Pareto => "pareto",
            NetemDistribution::ParetoNormal => "paretonormal",
        }
    }

    pub fn from_name(name: &str) -> Option<NetemDistribution> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// netem's loss models, with tc's words and positional defaults: what is not given
/// is `None` and gets tc's default (computed as tc does, from the first).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossModel {
    /// `state P13 [P31 [P32 [P23 [P14]]]]`: the 4-state Markov model (defaults: 100% −
    /// P13, 0%, 100%, 0%).
    State { p13: Percent, rest: [Option<Percent>; 4] },
    /// `gemodel P [R [1-H [1-K]]]`: Gilbert-Elliott (defaults: 100% − P, then h and k1
    /// of 0 as tc sends them).
    Gemodel { p: Percent, rest: [Option<Percent>; 3] },
}

impl LossModel {
    /// ` loss state P13 …` / ` loss gemodel P …`, the same words in netscript and tc.
    pub fn words(&self) -> String {
        let (word, first, rest): (&str, Percent, Vec<Option<Percent>>) = match self {
            LossModel::State { p13, rest } => ("state", *p13, rest.to_vec()),
            LossModel::Gemodel { p, rest } => ("gemodel", *p, rest.to_vec()),
        };
        let mut out = format!(" loss {word} {first}");
        for p in rest.into_iter().map_while(|p| p) {
            out.push_str(&format!(" {p}"));
        }
        out
    }
}

/// netem's `slot`: packets are sent in bursts ("slots") that start every MIN to MAX
/// (uniformly), or every DELAY ± JITTER shaped by a table (`spacing`: min and max are
/// then 0), each carrying at most `packets` packets and `bytes` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NetemSlot {
    pub min: Duration,
    /// tc's default: the min.
    pub max: Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packets: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u32>,
    /// tc's `slot distribution TABLE DELAY JITTER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spacing: Option<SlotSpacing>,
}

/// `slot distribution TABLE DELAY JITTER`: the time from one slot to the next is DELAY
/// plus JITTER scaled by a value drawn from the table (TCA_NETEM_SLOT's dist_delay and
/// dist_jitter, the table as TCA_NETEM_SLOT_DIST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlotSpacing {
    pub delay: Duration,
    pub jitter: Duration,
    /// The kernel never reports it: `None` from a dump means "not known", filled from
    /// the record where netscript made the netem (docs/OWNERSHIP.md, "netem's tables").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<NetemDistribution>,
}

impl NetemSlot {
    /// A slot of MIN to MAX.
    pub fn range(min: Duration, max: Duration) -> NetemSlot {
        NetemSlot { min, max, packets: None, bytes: None, spacing: None }
    }

    /// ` slot MIN MAX [packets N] [bytes B]` or ` slot distribution TABLE DELAY JITTER
    /// …`, the same words in netscript and tc; a table the kernel did not tell is left
    /// out, as tc's `show` prints it (` slot distribution DELAY JITTER`).
    pub fn words(&self) -> String {
        let mut out = match self.spacing {
            Some(SlotSpacing { delay, jitter, table }) => format!(" slot distribution{} {delay} {jitter}", table.map(|t| format!(" {}", t.name())).unwrap_or_default()),
            None => format!(" slot {} {}", self.min, self.max),
        };
        if let Some(p) = self.packets {
            out.push_str(&format!(" packets {p}"));
        }
        if let Some(b) = self.bytes {
            out.push_str(&format!(" bytes {}", Size(b as u64)));
        }
        out
    }
}

/// The tables of a netem, which the kernel takes and never reports: the delay's
/// (`distribution`) and the slots' (`slot distribution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct NetemTables {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<NetemDistribution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<NetemDistribution>,
}

impl Netem {
    /// `netem delay D` and nothing else.
    pub fn delay(delay: Duration) -> Netem {
        Netem { delay, jitter: None, loss: None, rate: None, limit: None, duplicate: None, corrupt: None, reorder: None, gap: None, slot: None, loss_model: None, distribution: None }
    }

    /// Its tables (see [`NetemTables`]).
    pub fn tables(&self) -> NetemTables {
        NetemTables { delay: self.distribution, slot: self.slot.and_then(|s| s.spacing).and_then(|s| s.table) }
    }

    /// The same netem with `tables` (a slot table only where the slot has a spacing).
    pub fn with_tables(mut self, tables: NetemTables) -> Netem {
        self.distribution = tables.delay;
        if let Some(spacing) = self.slot.as_mut().and_then(|s| s.spacing.as_mut()) {
            spacing.table = tables.slot;
        }
        self
    }

    /// ` limit N duplicate P corrupt P reorder P gap N slot … loss … distribution D`, each when given: the same words
    /// in netscript and tc.
    pub fn more_words(&self) -> String {
        let mut out = String::new();
        if let Some(l) = self.limit {
            out.push_str(&format!(" limit {l}"));
        }
        for (word, p) in [("duplicate", self.duplicate), ("corrupt", self.corrupt), ("reorder", self.reorder)] {
            if let Some(p) = p {
                out.push_str(&format!(" {word} {p}"));
            }
        }
        if let Some(g) = self.gap {
            out.push_str(&format!(" gap {g}"));
        }
        if let Some(slot) = &self.slot {
            out.push_str(&slot.words());
        }
        if let Some(model) = &self.loss_model {
            out.push_str(&model.words());
        }
        if let Some(d) = self.distribution {
            out.push_str(&format!(" distribution {}", d.name()));
        }
        out
    }
}

/// tc's default netem queue limit, in packets.
pub const NETEM_DEFAULT_LIMIT: u32 = 1000;

/// The qdisc of `qdisc ingress|clsact`, at the ingress hook (handle ffff:).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookQdisc {
    Ingress,
    Clsact,
}

/// The name of the ifb device that carries `iface`'s ingress shaping.
pub fn ifb_name(iface: &str) -> String {
    let mut name = String::from("ifb-");
    name.extend(iface.chars().take(super::MAX_INTERFACE_NAME - 4));
    name
}
