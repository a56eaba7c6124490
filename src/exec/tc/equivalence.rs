//! Whether what the kernel holds is what was asked, up to the kernel's own rounding.

use super::*;
use crate::plan::action::{ClassSpec, QdiscSpec};

/// Whether the kernel holding `observed` (decoded from a dump) is what applying `desired`
/// leaves it holding. Decoding rounds (see [`TbfState::to_tbf`], [`NetemState::to_netem`],
/// [`HtbClassState::to_class`]); this compares the decoding of the kernel state `desired`
/// predictably produces with `observed`, so it tolerates exactly that rounding and
/// nothing more. A desired spec tc would refuse is never equivalent.
pub fn equivalent(desired: &QdiscSpec, observed: &QdiscSpec, psched: &Psched) -> bool {
    match (desired, observed) {
        (QdiscSpec::Tbf(d), QdiscSpec::Tbf(o)) => {
            TbfParams::new(d, psched).is_ok_and(|p| TbfState::predict(&p).to_tbf() == *o)
        }
        (QdiscSpec::Netem(d), QdiscSpec::Netem(o)) => {
            NetemParams::new(d, psched).is_ok_and(|p| NetemState::predict(&p).to_netem() == *o)
        }
        (
            QdiscSpec::Htb { default_class: d, r2q: dr, direct_qlen: dq },
            QdiscSpec::Htb { default_class: o, r2q: or, direct_qlen: oq },
        ) => {
            // A direct_qlen the script leaves out is the device's txqueuelen, whatever it is.
            let usual = htb::HTB_USUAL_DIRECT_QLEN;
            d == o && dr.unwrap_or(10) == or.unwrap_or(10) && dq.is_none_or(|q| q == oq.unwrap_or(usual))
        }
        (QdiscSpec::Ingress, QdiscSpec::Ingress) | (QdiscSpec::Clsact, QdiscSpec::Clsact) => true,
        _ => false,
    }
}

/// [`equivalent`] for htb classes: same id and parent, same rates in bytes/s, same
/// priority as the kernel keeps it (prio 0 and none are the same; above 7 is 7), same
/// bucket times. A quantum the script leaves out is whatever the kernel computed from
/// the qdisc's r2q.
pub fn class_equivalent(desired: &ClassSpec, observed: &ClassSpec, psched: &Psched) -> bool {
    class_equivalent_in(desired, observed, None, psched)
}

/// [`class_equivalent`] for a class of an htb with `r2q` (`None`: tc's 10), which decides
/// the kernel's default quantum.
pub fn class_equivalent_in(desired: &ClassSpec, observed: &ClassSpec, r2q: Option<u32>, psched: &Psched) -> bool {
    let mut observed = observed.clone();
    if desired.quantum.is_none() {
        observed.quantum = None;
    }
    desired.id == observed.id
        && desired.parent.unwrap_or(0) == observed.parent.unwrap_or(0)
        && HtbClassParams::new(desired, psched).is_ok_and(|p| {
            let mut predicted = HtbClassState::predict(&p).to_class(desired.id, observed.parent, r2q, psched);
            if desired.quantum.is_none() {
                predicted.quantum = None;
            }
            predicted == observed
        })
}

