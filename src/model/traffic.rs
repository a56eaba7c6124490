//! Traffic control: tbf (`shape`), htb with classes and u32 filters, netem.

use crate::source::{Span, Spanned};
use crate::units::{Duration, Percent, Rate, Size};
use ipnet::IpNet;

#[derive(Debug, Clone, serde::Serialize)]
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

/// `shape RATE [burst SIZE] [latency DURATION]`, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tbf {
    pub rate: Rate,
    pub burst: Size,
    pub latency: Duration,
}

/// Default latency of `shape`: tc's walkthrough value.
pub const SHAPE_DEFAULT_LATENCY: Duration = Duration(70_000_000);

/// Default burst of `shape`: 10kb, or what the rate sends in 10 ms when that is more, so
/// that the bucket holds at least one timer tick's worth of traffic at high rates.
pub fn shape_default_burst(rate: Rate) -> Size {
    let ten_ms = rate.bytes_per_sec() / 100;
    Size(ten_ms.max(10 * 1024))
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Htb {
    /// Minor of the default class (`default 20` is class 1:20); 0 when absent, as tc does.
    pub default_class: Option<Spanned<u32>>,
    pub classes: Vec<HtbClass>,
    pub filters: Vec<U32Filter>,
}

#[derive(Debug, Clone, serde::Serialize)]
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

#[derive(Debug, Clone, serde::Serialize)]
pub struct U32Filter {
    #[serde(skip)]
    pub span: Span,
    pub proto: Option<IpProto>,
    pub src: Option<Spanned<IpNet>>,
    pub dst: Option<Spanned<IpNet>>,
    pub sport: Option<Spanned<u16>>,
    pub dport: Option<Spanned<u16>>,
    /// Minor of the target class.
    pub flowid: Spanned<u32>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Netem {
    pub delay: Duration,
    pub jitter: Option<Duration>,
    pub loss: Option<Percent>,
    pub rate: Option<Rate>,
}

/// The name of the ifb device that carries `iface`'s ingress shaping.
pub fn ifb_name(iface: &str) -> String {
    let mut name = String::from("ifb-");
    name.extend(iface.chars().take(super::MAX_INTERFACE_NAME - 4));
    name
}
