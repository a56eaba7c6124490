//! u32 hash tables on the ingress qdisc: `table ID divisor N prio P` in a `qdisc ingress`
//! block (tc's `tc filter add dev X ingress prio P handle ID: u32 divisor N`).

use super::codes::*;
use super::core::*;
use super::values::{self as v};
use crate::ast::{ClassId, ClassMinor, IntValue};
use crate::diagnostic::Diagnostic;
use crate::model::{HashKey, MAX_U32_TABLE, Namespace, U32Link, U32Table};
use crate::source::{Span, Spanned};
use std::collections::HashMap;

/// The most buckets a u32 hash table has (cls_u32.c: "Exceeded maximum 256 hash buckets").
const MAX_DIVISOR: i64 = 256;
/// The furthest word a hashkey reads (tc's `at`, a 16-bit offset in the selector).
const MAX_HASH_OFFSET: i64 = 32764;

impl Evaluator<'_> {
    pub(super) fn u32_table(&mut self, ns: &str, iface: &str, span: Span, id: &ClassId, divisor: &Spanned<IntValue>, prio: &Spanned<IntValue>) {
        let id = self.table_id(id);
        let divisor = self.ok(v::int_in(&self.env, &divisor.node, "a hash table's divisor", 1, MAX_DIVISOR)).and_then(|d| {
            if (d.node as u32).is_power_of_two() {
                Some(d.map(|n| n as u32))
            } else {
                self.report(
                    Diagnostic::error(OUT_OF_RANGE, d.span, format!("a hash table's divisor is a power of two, not {}", d.node))
                        .label("the kernel hashes into a power-of-two number of buckets")
                        .help("write 1, 2, 4, … 256"),
                );
                None
            }
        });
        let prio = self.filter_prio(prio);
        let (Some(id), Some(divisor), Some(prio)) = (id, divisor, prio) else { return };
        crate::model::push_lean(&mut self.iface_mut(ns, iface).ingress_tables, U32Table { span, id, divisor, prio });
    }

    /// `link ID [hashkey mask M at OFF]` of a filter: the table's id as `table` reads it,
    /// the mask any 32-bit word, the offset a multiple of 4 (tc reads whole words).
    pub(super) fn u32_link(&mut self, table: &ClassId, hashkey: Option<&(Spanned<IntValue>, Spanned<IntValue>)>) -> Option<U32Link> {
        let table = self.table_id(table)?;
        let hashkey = match hashkey {
            None => None,
            Some((mask, at)) => {
                let mask = self.ok(v::int_in(&self.env, &mask.node, "a hashkey mask", 0, u32::MAX as i64))?;
                let at = self.ok(v::int_in(&self.env, &at.node, "a hashkey offset", 0, MAX_HASH_OFFSET))?;
                if at.node % 4 != 0 {
                    self.report(
                        Diagnostic::error(OUT_OF_RANGE, at.span, format!("a hashkey offset is a multiple of 4, not {}", at.node))
                            .label("the key is the 32-bit word at this offset")
                            .help("write the offset of the word, e.g. `at 12` for the IPv4 source address"),
                    );
                    return None;
                }
                Some(HashKey { mask: mask.node as u32, at: at.node as i32 })
            }
        };
        Some(U32Link { table, hashkey })
    }

    /// A table's id, hex as tc reads `handle ID:`: 1..7ff (the kernel numbers its own
    /// tables from 800).
    fn table_id(&mut self, id: &ClassId) -> Option<Spanned<u32>> {
        if let Some(major) = &id.major {
            self.report(
                Diagnostic::error(OUT_OF_RANGE, major.span, format!("a hash table's id is one number, not {}:…", major.node))
                    .label("tc's `handle 42:` is `table 42`")
                    .help("write the table's id alone, in hex"),
            );
            return None;
        }
        let (digits, span) = match &id.minor {
            ClassMinor::Hex(h) => (h.clone(), id.span),
            ClassMinor::Interp(e) => match self.ok(v::int(&self.env, e)) {
                Some(n) => (format!("{n:x}"), e.span),
                None => return None,
            },
        };
        match u32::from_str_radix(&digits, 16) {
            Ok(n) if (1..=MAX_U32_TABLE).contains(&n) => Some(Spanned::new(n, span)),
            _ => {
                self.report(
                    v::out_of_range(span, "a hash table's id (hex, as tc reads `handle ID:`)", digits, 1, "7ff")
                        .help("the kernel numbers the tables it makes itself from 800 up"),
                );
                None
            }
        }
    }
}

/// Two tables of one ingress qdisc with one id, and a table at the priority of a
/// filter of the block: tc sends a table with `protocol all` and the filters with
/// `protocol ip`, and the kernel keeps one protocol a priority.
pub(super) fn table_conflicts(ns: &Namespace, found: &mut Vec<Diagnostic>) {
    for iface in ns.interfaces.values() {
        // A filter links to a table of its block (netscript makes it first).
        for link in iface.ingress_filters.iter().filter_map(|f| f.link.as_ref()) {
            if !iface.ingress_tables.iter().any(|t| t.id.node == link.table.node) {
                found.push(
                    Diagnostic::error(UNKNOWN_TABLE, link.table.span, format!("`{}` has no hash table {:x}", iface.name, link.table.node))
                        .label("no `table` with this id in this block")
                        .help(format!("declare it in the `qdisc ingress` block: `table {:x} divisor 256 prio 99`", link.table.node)),
                );
            }
        }
        let mut ids: HashMap<u32, Span> = HashMap::new();
        for t in &iface.ingress_tables {
            if let Some(first) = ids.get(&t.id.node) {
                found.push(
                    Diagnostic::error(DUPLICATE_U32_TABLE, t.id.span, format!("`{}` has two hash tables with id {:x}", iface.name, t.id.node))
                        .label("a second table with this id")
                        .also(*first, "the first one")
                        .help("give each table its own id"),
                );
            } else {
                ids.insert(t.id.node, t.id.span);
            }
            if let Some(f) = iface.ingress_filters.iter().enumerate().find(|(n, f)| f.ht.is_none() && f.prio_at(*n) == t.prio.node).map(|(_, f)| f) {
                found.push(
                    Diagnostic::error(DUPLICATE_FILTER_PRIO, t.prio.span, format!("hash table {:x} of `{}` is at the prio of a filter ({})", t.id.node, iface.name, t.prio.node))
                        .label("this table's priority")
                        .also(f.prio.as_ref().map_or(f.span, |p| p.span), "a filter at this priority")
                        .help("a table (protocol all) and a filter (protocol ip) cannot share a priority: give the table another `prio`"),
                );
            }
        }
    }
}
