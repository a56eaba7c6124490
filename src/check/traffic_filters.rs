//! A filter's place among the others: u32 filter `prio N` and `handle H` (tc's names),
//! and that no two filters of one htb share a priority.

use super::codes::*;
use super::core::*;
use super::values::{self as v};
use crate::ast::{BpfPlace, ClassId, ClassMinor, IntValue};
use crate::diagnostic::Diagnostic;
use crate::model::{BPF_DEFAULT_HANDLE, BpfDirection, Namespace, Qdisc, U32Filter, U32_DEFAULT_NODE};
use crate::source::Spanned;
use std::collections::HashMap;

/// The highest u32 node id tc accepts (`handle ::fff`).
const MAX_U32_NODE: u32 = 0xfff;

impl Evaluator<'_> {
    /// `prio N`: tc's filter priority, 1–65535 (0 would let the kernel pick one).
    pub(super) fn filter_prio(&mut self, p: &Spanned<IntValue>) -> Option<Spanned<u32>> {
        self.ok(v::int_in(&self.env, &p.node, "a filter prio", 1, 65535)).map(|s| s.map(|n| n as u32))
    }

    /// `prio N` and `handle N` of a `bpf` statement: tc's priority (1–65535) and the
    /// cls_bpf handle, a plain number (1–4294967295). netscript's default handle, 1, is
    /// kept as none.
    pub(super) fn bpf_places(&mut self, places: &[BpfPlace]) -> (Option<Spanned<u16>>, Option<u32>) {
        let mut seen = Seen::default();
        let (mut prio, mut handle) = (None, None);
        for place in places {
            match place {
                BpfPlace::Prio(p) if self.once(&mut seen, "prio", p.span) => prio = self.filter_prio(p).map(|s| s.map(|n| n as u16)),
                BpfPlace::Handle(h) if self.once(&mut seen, "handle", h.span) => {
                    handle = self.ok(v::int_in(&self.env, &h.node, "a bpf filter handle", 1, u32::MAX as i64)).map(|s| s.node as u32).filter(|n| *n != BPF_DEFAULT_HANDLE);
                }
                _ => {}
            }
        }
        (prio, handle)
    }

    /// `handle N`: the u32 node id, hex as tc reads it (`handle ::N`), 1–fff. The
    /// kernel's default, 800, is kept as no handle, so that the two compare equal.
    pub(super) fn u32_handle(&mut self, id: &ClassId) -> Option<Spanned<u32>> {
        if let Some(major) = &id.major {
            self.report(
                Diagnostic::error(OUT_OF_RANGE, major.span, format!("a u32 filter handle is its node id alone, not {}:…", major.node))
                    .label("the hash table is the filter's priority's own")
                    .help("write the node id, e.g. `handle 10` for tc's `handle ::10`"),
            );
            return None;
        }
        let (digits, span) = match &id.minor {
            ClassMinor::Hex(h) => (h.clone(), id.span),
            ClassMinor::Interp(e) => match self.ok(v::int(&self.env, e)) {
                Some(n) if n >= 0 => (n.to_string(), e.span),
                Some(n) => {
                    self.report(v::out_of_range(e.span, "a u32 filter handle", n, 1, "fff"));
                    return None;
                }
                None => return None,
            },
        };
        match u32::from_str_radix(&digits, 16) {
            Ok(n) if (1..=MAX_U32_NODE).contains(&n) => (n != U32_DEFAULT_NODE).then_some(Spanned::new(n, span)),
            _ => {
                self.report(
                    v::out_of_range(span, "a u32 filter handle (hex, as tc reads it)", digits, 1, "fff")
                        .help("the handle is tc's node id, read as hex: `handle 10` is `handle ::10`"),
                );
                None
            }
        }
    }
}

/// Two filters of one htb at the same priority: netscript keeps one filter a priority
/// (it replaces and removes them by priority).
pub(super) fn duplicate_prios(ns: &Namespace, found: &mut Vec<Diagnostic>) {
    for iface in ns.interfaces.values() {
        for direction in [BpfDirection::Ingress, BpfDirection::Egress] {
            let mut seen: HashMap<u16, crate::source::Span> = HashMap::new();
            for (index, b) in iface.bpf.iter().filter(|b| b.node.direction == direction).enumerate() {
                let prio = b.node.prio_at(index);
                let span = b.node.prio.as_ref().map_or(b.span, |p| p.span);
                match seen.get(&prio) {
                    Some(&first) => found.push(
                        Diagnostic::error(DUPLICATE_FILTER_PRIO, span, format!("two `bpf` programs on `{}` are at prio {prio} of one hook", iface.name))
                            .label("this program's priority")
                            .also(first, "the other program at this priority")
                            .help("give each its own `prio`; a `bpf` statement without one takes its position on its hook (1, 2, …)"),
                    ),
                    None => {
                        seen.insert(prio, span);
                    }
                }
            }
        }
        if let Some(q) = &iface.root_qdisc
            && let Qdisc::Htb(htb) = &q.node
        {
            u32_prios(&iface.name, &htb.filters, "a filter without one takes its position in the htb (1, 2, …)", found);
        }
        u32_prios(&iface.name, &iface.ingress_filters, "a filter without one takes its position in the `qdisc ingress` block (1, 2, …)", found);
    }
}

/// Two u32 filters of one qdisc (an htb, or the ingress qdisc) at the same priority.
fn u32_prios(dev: &str, filters: &[U32Filter], default_place: &str, found: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<u32, usize> = HashMap::new();
    // Filters in a hash table share its priority (checked against the table's).
    for (index, f) in filters.iter().enumerate().filter(|(_, f)| f.ht.is_none()) {
        let prio = f.prio_at(index);
        if let Some(&first) = seen.get(&prio) {
            let span = f.prio.as_ref().map_or(f.span, |p| p.span);
            let other = &filters[first];
            let first_span = other.prio.as_ref().map_or(other.span, |p| p.span);
            found.push(
                Diagnostic::error(DUPLICATE_FILTER_PRIO, span, format!("two filters of `{dev}` are at prio {prio}"))
                    .label("this filter's priority")
                    .also(first_span, "the other filter at this priority")
                    .help(format!("give each filter its own `prio`; {default_place}")),
            );
        } else {
            seen.insert(prio, index);
        }
    }
}
