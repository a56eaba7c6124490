//! Packet policy (`firewall`, docs/LANGUAGE.md §3b): the desired rules of a namespace,
//! one chain per hook, as the checker evaluated them.

use crate::source::{Span, Spanned};
use ipnet::IpNet;
use std::net::IpAddr;

/// A netfilter hook, as `firewall HOOK` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

impl Hook {
    pub const ALL: [Hook; 5] = [Hook::Prerouting, Hook::Input, Hook::Forward, Hook::Output, Hook::Postrouting];

    pub fn word(self) -> &'static str {
        match self {
            Hook::Prerouting => "prerouting",
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
        }
    }
    /// Where destination NAT applies (a `type nat` chain rewriting the destination).
    pub fn has_dnat(self) -> bool {
        matches!(self, Hook::Prerouting | Hook::Output)
    }
    /// Where source NAT applies.
    pub fn has_snat(self) -> bool {
        matches!(self, Hook::Postrouting | Hook::Input)
    }
    /// Where `reject` is allowed (nftables refuses it at the routing hooks).
    pub fn allows_reject(self) -> bool {
        matches!(self, Hook::Input | Hook::Forward | Hook::Output)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Accept,
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FwProto {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
}

impl FwProto {
    pub fn number(self) -> u8 {
        match self {
            FwProto::Tcp => 6,
            FwProto::Udp => 17,
            FwProto::Icmp => 1,
            FwProto::Icmpv6 => 58,
        }
    }
    pub fn word(self) -> &'static str {
        match self {
            FwProto::Tcp => "tcp",
            FwProto::Udp => "udp",
            FwProto::Icmp => "icmp",
            FwProto::Icmpv6 => "icmpv6",
        }
    }
    pub fn has_ports(self) -> bool {
        matches!(self, FwProto::Tcp | FwProto::Udp)
    }
}

/// A conntrack state, as `ct` names it; the value is the kernel's state bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CtState {
    Invalid,
    Established,
    Related,
    New,
}

impl CtState {
    pub const ALL: [CtState; 4] = [CtState::Invalid, CtState::Established, CtState::Related, CtState::New];

    /// `NF_CT_STATE_*_BIT` as nftables' `ct state` reads them.
    pub fn bit(self) -> u32 {
        match self {
            CtState::Invalid => 1,
            CtState::Established => 2,
            CtState::Related => 4,
            CtState::New => 8,
        }
    }
    pub fn word(self) -> &'static str {
        match self {
            CtState::Invalid => "invalid",
            CtState::Established => "established",
            CtState::Related => "related",
            CtState::New => "new",
        }
    }
}

/// What a rule does to the packets its matches select.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FwAction {
    Accept,
    Drop,
    Reject,
    /// Sets the packet mark (`meta mark set N`); evaluation continues.
    Mark(u32),
    /// Sets the packet's priority to htb class 1:ID (`meta priority set 1:ID`), `ID` the
    /// class minor; evaluation continues.
    Classify(u32),
    Masquerade,
    Snat(IpAddr),
    Dnat(IpAddr, Option<u16>),
}

impl FwAction {
    pub fn is_nat(&self) -> bool {
        matches!(self, FwAction::Masquerade | FwAction::Snat(_) | FwAction::Dnat(..))
    }
}

/// One rule: an action and the matches that must all hold.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FwRule {
    #[serde(skip)]
    pub span: Span,
    pub action: FwAction,
    pub proto: Option<FwProto>,
    pub src: Option<IpNet>,
    pub dst: Option<IpNet>,
    /// Inclusive port ranges; a single port is (p, p).
    pub sport: Option<(u16, u16)>,
    pub dport: Option<(u16, u16)>,
    pub iif: Option<Spanned<String>>,
    pub oif: Option<Spanned<String>>,
    /// Mark and mask (`mark 7/0xff`).
    pub mark: Option<(u32, Option<u32>)>,
    /// Conntrack states, sorted, without repeats; empty when not matched.
    pub ct: Vec<CtState>,
    pub counter: bool,
}

/// The rules of one hook in one namespace: every `firewall HOOK` statement of the
/// namespace, in the order of the script.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FwChain {
    pub hook: Hook,
    /// The first statement for this hook.
    #[serde(skip)]
    pub span: Span,
    pub policy: Option<Spanned<Verdict>>,
    pub rules: Vec<FwRule>,
}
