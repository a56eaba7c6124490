//! The syntax of packet policy (`firewall`, docs/LANGUAGE.md §3b).

use super::{ClassId, IntValue, IpValue, Name};
use crate::model::{CtState, FwProto, Hook, Verdict};
use crate::source::{Span, Spanned};

/// One rule of a `firewall` block: an action, then its matches.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FwRuleAst {
    pub span: Span,
    pub action: Spanned<FwActionAst>,
    pub matches: Vec<FwMatch>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum FwActionAst {
    Accept,
    Drop,
    Reject,
    /// eBPF's verdict; refused by the checker in a firewall.
    Pass,
    Masquerade,
    Mark(IntValue),
    Classify(ClassId),
    Snat(IpValue),
    Dnat(IpValue, Option<IntValue>),
}

impl FwActionAst {
    pub fn word(&self) -> &'static str {
        match self {
            FwActionAst::Accept => "accept",
            FwActionAst::Drop => "drop",
            FwActionAst::Reject => "reject",
            FwActionAst::Pass => "pass",
            FwActionAst::Masquerade => "masquerade",
            FwActionAst::Mark(_) => "mark",
            FwActionAst::Classify(_) => "classify",
            FwActionAst::Snat(_) => "snat",
            FwActionAst::Dnat(..) => "dnat",
        }
    }
}

/// A port or an inclusive range `N-M`.
pub type PortRange = (IntValue, Option<IntValue>);

#[derive(Debug, Clone, serde::Serialize)]
pub enum FwMatch {
    Proto(Spanned<FwProto>),
    Src(Spanned<IpValue>),
    Dst(Spanned<IpValue>),
    Sport(Spanned<PortRange>),
    Dport(Spanned<PortRange>),
    Iif(Spanned<Name>),
    Oif(Spanned<Name>),
    Mark(Spanned<(IntValue, Option<IntValue>)>),
    Ct(Spanned<Vec<Spanned<CtState>>>),
    Counter(Span),
}

/// `firewall HOOK [policy accept|drop] < rules >`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FirewallAst {
    pub hook: Spanned<Hook>,
    pub policy: Option<Spanned<Verdict>>,
    pub rules: Vec<FwRuleAst>,
}
