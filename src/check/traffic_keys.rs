//! u32 filters placed in a hash table (`ht ID[:BUCKET]`, `sample u32 VALUE MASK [at
//! OFF]`) and raw keys (`match u32|u16|u8 VALUE MASK [at OFF]`), as tc's f_u32.c reads
//! them.

use super::codes::*;
use super::core::*;
use super::values::{self as v};
use crate::ast::{ClassId, ClassMinor, RawKeyAst};
use crate::diagnostic::Diagnostic;
use crate::model::{Desired, Namespace, RawKey, U32Filter, U32Ht, MAX_U32_TABLE, u32_ht_nodes};
use crate::source::{Span, Spanned};
use std::collections::HashMap;

/// The furthest offset of a raw key netscript writes (tc's is an int; a packet's
/// headers are within this).
const MAX_KEY_OFFSET: i64 = 0xffff;

/// What `ht ID[:BUCKET]` says: the table's id, and the bucket when given.
pub(super) type HtWords = (Spanned<u32>, Option<u32>);

impl Evaluator<'_> {
    /// `u32|u16|u8 VALUE MASK [at OFF]`: the key, packed into its word as tc does.
    pub(super) fn u32_raw_key(&mut self, k: &RawKeyAst) -> Option<RawKey> {
        let width = k.width.node;
        let max = i64::from(width.max());
        let what = |part: &str| format!("a {} key's {part}", width.word());
        let value = self.ok(v::int_in(&self.env, &k.value.node, &what("value"), 0, max));
        let mask = self.ok(v::int_in(&self.env, &k.mask.node, &what("mask"), 0, max));
        let at = match &k.at {
            Some(at) => self.ok(v::int_in(&self.env, &at.node, &what("offset"), 0, MAX_KEY_OFFSET)),
            None => Some(Spanned::new(0, k.span)),
        };
        let (value, mask, at) = (value?, mask?, at?);
        if at.node % i64::from(width.align()) != 0 {
            self.report(
                Diagnostic::error(OUT_OF_RANGE, at.span, format!("a {} key's offset is a multiple of {}, not {}", width.word(), width.align(), at.node))
                    .label("tc packs the key into the aligned word here")
                    .help("use `u8` or `u16` for a field that does not start on this alignment"),
            );
            return None;
        }
        Some(RawKey::packed(width, value.node as u32, mask.node as u32, at.node as i32))
    }

    /// Places `f` by its `ht` and `sample` (each checked, `None` when wrong): false when
    /// either is wrong, or a `sample` has no `ht`, or both name a bucket.
    pub(super) fn u32_place(&mut self, f: &mut U32Filter, ht: Option<(Option<HtWords>, Span)>, sample: Option<(Option<RawKey>, Span)>) -> bool {
        let sample = match sample {
            Some((None, _)) => return false,
            Some((Some(key), span)) => Some((key.sample_bucket(), span)),
            None => None,
        };
        let (table, bucket, span) = match (ht, sample) {
            (Some((None, _)), _) => return false,
            (None, Some((_, span))) => {
                self.report(
                    Diagnostic::error(MISSING_OPTION, span, "`sample` without `ht`")
                        .label("the bucket of which hash table?")
                        .help("name the table: `ht ID sample u32 VALUE MASK`"),
                );
                return false;
            }
            (None, None) => return true,
            (Some((Some((_, Some(_))), ht_span)), Some((_, span))) => {
                self.report(
                    Diagnostic::error(CONFLICTING_ATTRIBUTE, span, "`sample` and a bucket in `ht`")
                        .label("this sample names a bucket too")
                        .also(ht_span, "a bucket given here")
                        .help("write `ht ID` with `sample`, or `ht ID:BUCKET` without"),
                );
                return false;
            }
            (Some((Some((table, given)), span)), sample) => (table, sample.map(|(b, _)| b).or(given).unwrap_or(0), span),
        };
        f.ht = Some(U32Ht { span, table, bucket });
        true
    }

    /// `ht ID[:BUCKET]`: the table's id and the bucket, when given (hex, as tc reads
    /// `ht ID:BUCKET`).
    pub(super) fn u32_ht(&mut self, id: &ClassId) -> Option<HtWords> {
        let hex = |me: &mut Self, digits: &str, span: Span, what: &str, lo: u32, hi: u32| match u32::from_str_radix(digits, 16) {
            Ok(n) if (lo..=hi).contains(&n) => Some(n),
            _ => {
                me.report(v::out_of_range(span, what, digits, format!("{lo:x}"), format!("{hi:x}")).help("`ht 1` is tc's `ht 1:`, `ht 1:40` its `ht 1:40:` (hex)"));
                None
            }
        };
        let minor = match &id.minor {
            ClassMinor::Hex(h) => h.clone(),
            ClassMinor::Interp(e) => format!("{:x}", self.ok(v::int(&self.env, e))?),
        };
        match &id.major {
            Some(table) => {
                let t = hex(self, &table.node, table.span, "a hash table's id (hex)", 1, MAX_U32_TABLE)?;
                let bucket = hex(self, &minor, id.span, "a bucket (hex)", 0, 0xff)?;
                Some((Spanned::new(t, table.span), Some(bucket)))
            }
            None => Some((Spanned::new(hex(self, &minor, id.span, "a hash table's id (hex)", 1, MAX_U32_TABLE)?, id.span), None)),
        }
    }
}

/// A filter in a hash table without `prio` takes its table's (the kernel keeps the
/// table's nodes at the table's priority).
pub(super) fn fill_ht_prios(desired: &mut Desired) {
    for ns in desired.namespaces.values_mut() {
        for iface in ns.interfaces.values_mut() {
            let tables: Vec<(u32, Spanned<u32>)> = iface.ingress_tables.iter().map(|t| (t.id.node, t.prio.clone())).collect();
            for f in iface.ingress_filters.iter_mut().filter(|f| f.prio.is_none()) {
                let Some(ht) = &f.ht else { continue };
                if let Some((_, prio)) = tables.iter().find(|(id, _)| *id == ht.table.node) {
                    f.prio = Some(Spanned::new(prio.node, ht.span));
                }
            }
        }
    }
}

/// Filters in a hash table: the table is one of the block's, the filter at its
/// priority, the bucket within its divisor, one filter a node.
pub(super) fn ht_conflicts(ns: &Namespace, found: &mut Vec<Diagnostic>) {
    for iface in ns.interfaces.values() {
        let nodes = u32_ht_nodes(&iface.ingress_filters);
        let mut seen: HashMap<(u32, u32, u32), Span> = HashMap::new();
        for (f, node) in iface.ingress_filters.iter().zip(nodes) {
            let (Some(ht), Some(node)) = (&f.ht, node) else { continue };
            let Some(table) = iface.ingress_tables.iter().find(|t| t.id.node == ht.table.node) else {
                found.push(
                    Diagnostic::error(UNKNOWN_TABLE, ht.table.span, format!("`{}` has no hash table {:x}", iface.name, ht.table.node))
                        .label("no `table` with this id in this block")
                        .help(format!("declare it in the `qdisc ingress` block: `table {:x} divisor 256 prio 99`", ht.table.node)),
                );
                continue;
            };
            if let Some(prio) = f.prio.as_ref().filter(|p| p.node != table.prio.node) {
                found.push(
                    Diagnostic::error(HT_PRIO_MISMATCH, prio.span, format!("a filter in hash table {:x} is at prio {}, its table at prio {}", table.id.node, prio.node, table.prio.node))
                        .label("this filter's priority")
                        .also(table.prio.span, "the table's priority")
                        .help("the kernel keeps a table's filters at the table's priority: write its `prio`, or none"),
                );
            }
            if ht.bucket >= table.divisor.node {
                found.push(
                    Diagnostic::error(OUT_OF_RANGE, ht.span, format!("bucket {:x} is beyond hash table {:x}'s {} buckets", ht.bucket, table.id.node, table.divisor.node))
                        .label("the bucket of this `ht`/`sample`")
                        .also(table.divisor.span, "the table's divisor")
                        .help("tc's `sample` hashes into 256 buckets: give the table `divisor 256`, or name a bucket below its divisor"),
                );
            }
            match seen.get(&(ht.table.node, ht.bucket, node)) {
                Some(first) => found.push(
                    Diagnostic::error(DUPLICATE_U32_NODE, f.handle.as_ref().map_or(f.span, |h| h.span), format!("two filters of hash table {:x}, bucket {:x}, have node {node:x}", ht.table.node, ht.bucket))
                        .label("this filter's node")
                        .also(*first, "the other filter with this node")
                        .help("a filter without `handle` takes the lowest node from 800 that no earlier filter of its bucket has: give each its own `handle`"),
                ),
                None => {
                    seen.insert((ht.table.node, ht.bucket, node), f.span);
                }
            }
        }
    }
}
