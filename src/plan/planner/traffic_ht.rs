//! u32 filters placed in a script's hash table (`filter … ht ID[:BUCKET] …`): owned by
//! their node, `ID:BUCKET:NODE`, not by priority (a table holds many filters at its
//! priority, netscript's and others').

use super::super::observed::ObservedFilter;
use super::*;
use crate::diagnostic::Diagnostic;
use crate::source::Span;
use rustc_hash::FxHashMap as HashMap;

/// The filter a `filter` statement asks for, at `prio`; `node` is the node id of one in
/// a hash table. The matches as the kernel reads them back (a raw key that is a named
/// match reads as that match), so that what is there compares equal.
pub(super) fn u32_spec(f: &U32Filter, ingress: bool, prio: u32, node: Option<u32>) -> FilterSpec {
    let matches = U32Match {
        proto: f.proto,
        src: f.src.as_ref().map(|s| s.node),
        dst: f.dst.as_ref().map(|s| s.node),
        sport: f.sport.as_ref().map(|s| s.node),
        dport: f.dport.as_ref().map(|s| s.node),
        raw: f.raw.clone(),
    }
    .canonical();
    FilterSpec::U32 {
        ingress,
        prio,
        proto: matches.proto,
        src: matches.src,
        dst: matches.dst,
        sport: matches.sport,
        dport: matches.dport,
        flowid: f.flowid.as_ref().map(|id| id.node),
        link: f.link.as_ref().map(|l| l.table.node),
        hashkey: f.link.as_ref().and_then(|l| l.hashkey),
        handle: node.or(f.handle.as_ref().map(|h| h.node)),
        action: f.action.as_ref().map(|a| a.node),
        raw: matches.raw,
        ht: f.ht.as_ref().map(|h| U32Place { table: h.table.node, bucket: h.bucket }),
    }
}

/// Whether an observed filter is a node of a table a script may name (ids 1..7ff), or
/// such a table: it has its own identity, not its priority's.
pub(super) fn in_a_script_table(o: &ObservedFilter) -> bool {
    let table = o.handle >> 20;
    matches!(o.spec, Some(FilterSpec::U32Table { .. }) | Some(FilterSpec::U32 { ht: Some(_), .. })) || (o.handle & 0xf_ffff != 0 && (1..=MAX_U32_TABLE).contains(&table))
}

/// Whether an observed filter links to one of `tables` (then it was deleted first).
fn links_to(o: &ObservedFilter, tables: &[u32]) -> bool {
    matches!(o.spec, Some(FilterSpec::U32 { link: Some(l), .. }) if tables.contains(&l))
}

/// What puts back a deleted node of a table: the table first (when the kernel took it
/// with the priority's last node; a table still there is taken as there), then the node.
pub(super) fn node_back(ns: &str, dev: &str, seen: &[ObservedFilter], node: FilterSpec) -> Vec<Action> {
    let table = match &node {
        FilterSpec::U32 { ht: Some(place), .. } => seen.iter().find_map(|o| match &o.spec {
            Some(t @ FilterSpec::U32Table { table, .. }) if *table == place.table => Some(t.clone()),
            _ => None,
        }),
        _ => None,
    };
    let mut undo: Vec<Action> = table.into_iter().map(|filter| Action::AddFilter { ns: ns.to_string(), dev: dev.to_string(), filter }).collect();
    undo.push(Action::AddFilter { ns: ns.to_string(), dev: dev.to_string(), filter: node });
    undo
}

/// The whole handle of a node, `table:bucket:node`.
fn whole_handle(place: U32Place, node: u32) -> u32 {
    place.table << 20 | (place.bucket & 0xff) << 12 | (node & 0xfff)
}

impl Planner<'_> {
    /// Whether the record holds this (observed) filter as netscript's.
    pub(super) fn owns_filter(&self, ns: &str, dev: &str, spec: Option<&FilterSpec>) -> bool {
        spec.is_some_and(|s| self.owns(&ownership::key(&Action::AddFilter { ns: ns.to_string(), dev: dev.to_string(), filter: s.clone() })))
    }

    /// The filters of the ingress block that sit in a hash table, by node: one already
    /// there as wanted stays; netscript's own earlier filter at that node is replaced
    /// (and put back by the undo); anyone else's is refused before anything changes. In
    /// a table made again (`remade`), nothing is there any more.
    pub(super) fn ht_filters(&mut self, ns: &Namespace, iface: &Interface, qdisc_op: Option<usize>, in_place: bool, table_ops: &HashMap<u32, usize>, remade: &[u32]) {
        let seen: Vec<ObservedFilter> = if in_place && !self.observed.offline {
            self.observed_ns(&ns.name)
                .map(|o| o.ingress_filters.iter().filter(|f| f.dev == iface.name && !remade.contains(&(f.handle >> 20)) && !links_to(f, remade)).cloned().collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let nodes = u32_ht_nodes(&iface.ingress_filters);
        // First the deletions of netscript's earlier filters at the nodes wanted, then
        // (when the kernel may have taken the tables with their priority) the tables
        // again, then the additions.
        let mut adds: Vec<(Action, u32, Span, Vec<usize>)> = Vec::new();
        for ((index, f), node) in iface.ingress_filters.iter().enumerate().zip(nodes) {
            let (Some(ht), Some(node)) = (&f.ht, node) else { continue };
            let filter = u32_spec(f, true, f.prio_at(index), Some(node));
            let place = U32Place { table: ht.table.node, bucket: ht.bucket };
            let whole = whole_handle(place, node);
            let there = seen.iter().find(|o| o.handle == whole);
            if there.is_some_and(|o| o.spec.as_ref() == Some(&filter)) {
                continue;
            }
            let mut deps: Vec<usize> = qdisc_op.into_iter().collect();
            deps.extend(self.link_deps(&ns.name, &iface.name));
            deps.extend(table_ops.get(&ht.table.node));
            deps.extend(f.link.as_ref().and_then(|l| table_ops.get(&l.table.node)));
            let add = Action::AddFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: filter.clone() };
            if let Some(there) = there {
                let old = there.spec.clone().filter(|_| self.owns(&ownership::key(&add)));
                let Some(old) = old else {
                    self.diagnostics.push(
                        Diagnostic::error(FILTER_CONFLICT, f.span, format!("`{}` in `{}` already has a filter {:x}:{:x}:{node:x} that netscript did not write", iface.name, ns.name, place.table, place.bucket))
                            .label("this filter would take its node")
                            .help(format!("remove the other one (`tc filter del dev {} ingress prio {} handle {:x}:{:x}:{node:x} u32`), or give this filter another `handle`", iface.name, there.prio, place.table, place.bucket)),
                    );
                    continue;
                };
                let undo = node_back(&ns.name, &iface.name, &seen, old.clone());
                let del = self.push(Action::DelFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: old }, f.span, deps.clone(), undo);
                deps.push(del);
            }
            adds.push((add, ht.table.node, f.span, deps));
        }
        let again = self.tables_again(ns, iface, &seen, table_ops);
        for (add, table, span, mut deps) in adds {
            deps.extend(again.get(&table));
            let Action::AddFilter { filter, .. } = &add else { unreachable!("an addition") };
            let undo = vec![Action::DelFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: filter.clone() }];
            self.push(add, span, deps, undo);
        }
    }

    /// The kernel deletes a priority, its tables with it, when the last key node of the
    /// qdisc's u32 filters goes (cls_u32.c: `last`). When this plan deletes every key
    /// node the device's ingress qdisc has (as far as the dump tells: every filter but
    /// the tables counts), each table the script keeps is made again after the deletions
    /// (the executor takes one still there as made). Gives those operations, by table.
    fn tables_again(&mut self, ns: &Namespace, iface: &Interface, seen: &[ObservedFilter], table_ops: &HashMap<u32, usize>) -> HashMap<u32, usize> {
        let mut again = HashMap::default();
        let dels: Vec<usize> = self
            .ops
            .iter()
            .enumerate()
            .filter(|(_, o)| matches!(&o.action, Action::DelFilter { ns: n, dev: d, filter: FilterSpec::U32 { ingress: true, .. } } if *n == ns.name && *d == iface.name))
            .map(|(i, _)| i)
            .collect();
        let nodes = seen.iter().filter(|o| !matches!(o.spec, Some(FilterSpec::U32Table { .. }))).count();
        let redirects = self.observed_ns(&ns.name).map_or(0, |o| o.redirects.iter().filter(|(d, _)| *d == iface.name).count());
        if dels.is_empty() || nodes + redirects > dels.len() {
            return again;
        }
        for t in iface.ingress_tables.iter().filter(|t| !table_ops.contains_key(&t.id.node)) {
            let table = FilterSpec::U32Table { prio: t.prio.node, table: t.id.node, divisor: t.divisor.node };
            // No undo: the deletions' undo puts the table back before their filters.
            let op = self.push(Action::AddFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: table }, t.span, dels.clone(), Vec::new());
            again.insert(t.id.node, op);
        }
        again
    }

    /// Before netscript's table `t` is made again (another divisor or priority): its
    /// filters go with it (the kernel deletes a table's nodes with it; deleting them one
    /// by one first would not do: with a priority's last node the kernel deletes the
    /// priority, tables and all). Gives what puts them back after the old table, for the
    /// undo of the table's deletion; `None` when it holds a filter that is not
    /// netscript's: that is refused, netscript never takes away another's.
    pub(super) fn empty_table(&mut self, ns: &Namespace, iface: &Interface, t: &U32Table, observed: &[ObservedFilter]) -> Option<Vec<Action>> {
        let inside: Vec<&ObservedFilter> = observed.iter().filter(|o| o.handle >> 20 == t.id.node && o.handle & 0xf_ffff != 0).collect();
        if let Some(foreign) = inside.iter().find(|o| !self.owns_filter(&ns.name, &iface.name, o.spec.as_ref())) {
            let h = foreign.handle;
            self.diagnostics.push(
                Diagnostic::error(FILTER_CONFLICT, t.span, format!("hash table {:x} of `{}` in `{}` holds a filter that netscript did not write ({:x}:{:x}:{:x})", t.id.node, iface.name, ns.name, h >> 20, (h >> 12) & 0xff, h & 0xfff))
                    .label("making this table again would delete it")
                    .help("remove that filter first, or keep the table's divisor and priority"),
            );
            return None;
        }
        Some(inside.into_iter().filter_map(|o| o.spec.clone()).map(|filter| Action::AddFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter }).collect())
    }
}
