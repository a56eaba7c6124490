//! Traffic control: root qdiscs (tbf, htb, netem) with their kind changes and foreign
//! qdiscs refused, htb classes and u32 filters, ingress shaping through an ifb.

use super::super::observed::ObservedFilter;
use super::traffic_ht::{in_a_script_table, u32_spec};
use super::*;
use crate::diagnostic::Diagnostic;
use crate::source::Span;
use rustc_hash::FxHashMap as HashMap;

impl Planner<'_> {
    pub(super) fn qdisc_on(&self, ns: &str, dev: &str, parent: QdiscParent) -> Option<&QdiscSpec> {
        if self.is_replaced(ns, dev) {
            return None;
        }
        self.observed_ns(ns)?.qdiscs.iter().find(|q| q.dev == dev && q.spec.parent() == parent).map(|q| &q.spec)
    }

    /// Replaces (or adds) a qdisc; returns its op, or `None` when it is already as wanted.
    pub(super) fn qdisc(&mut self, ns: &str, dev: &str, spec: QdiscSpec, origin: Span, extra_deps: Vec<usize>) -> Option<usize> {
        let parent = spec.parent();
        if self.foreign_qdisc(ns, dev, parent, origin) {
            return None;
        }
        let existing = self.qdisc_on(ns, dev, parent).cloned();
        if existing.as_ref() == Some(&spec) {
            return None;
        }
        let mut deps = self.link_deps(ns, dev);
        deps.extend(extra_deps);
        let undo = match existing {
            // Another kind at the same place, an htb with another default, or a netem with
            // another delay table or none (the kernel changes none of them in place: a
            // netem keeps its table across a change without one): the old one goes first, with its classes and
            // filters, which a rollback puts back after it.
            Some(old) if old.kind() != spec.kind() || matches!(old, QdiscSpec::Htb { .. }) || super::netem_change::table_changes(&old, &spec) => {
                let mut put_back = vec![Action::ReplaceQdisc { ns: ns.into(), dev: dev.into(), qdisc: old.clone() }];
                if matches!(old, QdiscSpec::Htb { .. }) {
                    put_back.extend(self.htb_contents(ns, dev));
                    self.recreated_htb.push((ns.to_string(), dev.to_string()));
                }
                let del = self.push(Action::DelQdisc { ns: ns.into(), dev: dev.into(), parent }, origin, deps.clone(), put_back);
                deps.push(del);
                vec![Action::DelQdisc { ns: ns.into(), dev: dev.into(), parent }]
            }
            Some(old) => vec![Action::ReplaceQdisc { ns: ns.into(), dev: dev.into(), qdisc: super::netem_change::undo_netem(old, &spec) }],
            None => vec![Action::DelQdisc { ns: ns.into(), dev: dev.into(), parent }],
        };
        Some(self.push(Action::ReplaceQdisc { ns: ns.into(), dev: dev.into(), qdisc: spec }, origin, deps, undo))
    }

    /// What puts an htb's classes (parents first) and filters back, as observed.
    pub(super) fn htb_contents(&self, ns: &str, dev: &str) -> Vec<Action> {
        let Some(seen) = self.observed_ns(ns) else { return Vec::new() };
        let mut classes: Vec<&ClassSpec> = seen.classes.iter().filter(|(d, _)| d == dev).map(|(_, c)| c).collect();
        // Parents before their children.
        let mut ordered: Vec<&ClassSpec> = Vec::new();
        while !classes.is_empty() {
            let before = classes.len();
            classes.retain(|c| {
                let ready = c.parent.is_none_or(|p| ordered.iter().any(|o| o.id == p));
                if ready {
                    ordered.push(c);
                }
                !ready
            });
            if classes.len() == before {
                ordered.append(&mut classes);
            }
        }
        let mut out: Vec<Action> = ordered.into_iter().map(|c| Action::ReplaceClass { ns: ns.into(), dev: dev.into(), class: c.clone() }).collect();
        out.extend(seen.filters.iter().filter(|f| f.dev == dev).filter_map(|f| f.spec.clone()).map(|filter| Action::AddFilter { ns: ns.into(), dev: dev.into(), filter }));
        out
    }

    /// A root or ingress qdisc that someone else put there (not the kernel's default,
    /// not recorded as the script's): netscript cannot put it back as it was (its
    /// classes, filters, handle), so it refuses to replace it, before changing anything.
    /// A clsact qdisc is shared: netscript only adds its own filters to it.
    pub(super) fn foreign_qdisc(&mut self, ns: &str, dev: &str, parent: QdiscParent, origin: Span) -> bool {
        if self.is_replaced(ns, dev) {
            return false;
        }
        // The ingress hook (ffff:) holds one qdisc, ingress or clsact, and the kernel turns
        // neither into the other: another's of either kind is in an ingress's way, and
        // another's ingress in a clsact's (a clsact is shared: several owners' programs).
        let in_the_way: &[QdiscParent] = match parent {
            QdiscParent::Root => &[QdiscParent::Root],
            QdiscParent::Ingress => &[QdiscParent::Ingress, QdiscParent::Clsact],
            QdiscParent::Clsact => &[QdiscParent::Ingress],
        };
        let seen = self
            .observed_ns(ns)
            .and_then(|o| o.root_qdiscs.iter().find(|q| q.dev == dev && in_the_way.contains(&q.parent) && !self.owns(&format!("qdisc {ns} {dev} {:?}", q.parent))));
        let Some(seen) = seen else { return false };
        if seen.parent == QdiscParent::Root && seen.handle >> 16 == 0 {
            // The kernel's own default (noqueue, pfifo_fast, mq): handle 0:.
            return false;
        }
        let (kind, handle) = (seen.kind.clone(), seen.handle);
        let (where_, del) = match seen.parent {
            QdiscParent::Root => ("a root", format!("tc qdisc del dev {dev} root")),
            QdiscParent::Ingress => ("an ingress", format!("tc qdisc del dev {dev} ingress")),
            QdiscParent::Clsact => ("an ingress", format!("tc qdisc del dev {dev} clsact")),
        };
        self.diagnostics.push(
            Diagnostic::error(FOREIGN_QDISC, origin, format!("`{dev}` in `{ns}` already has {where_} qdisc that netscript did not make ({kind} {:x}:)", handle >> 16))
                .label("this would replace it")
                .help(format!("netscript replaces only qdiscs it can give back exactly; remove that one first (`{del}`), or leave this interface's qdisc out of the script")),
        );
        true
    }

    pub(super) fn traffic_control(&mut self, ns: &Namespace, iface: &Interface) {
        if let Some(q) = &iface.root_qdisc {
            match &q.node {
                Qdisc::Tbf(tbf) => {
                    self.qdisc(&ns.name, &iface.name, QdiscSpec::Tbf(tbf.clone()), q.span, vec![]);
                }
                Qdisc::Netem(netem) => {
                    if self.netem_table_unknown(&ns.name, &iface.name, netem, q.span) {
                        return;
                    }
                    let netem = super::netem_change::sent_netem(netem, self.qdisc_on(&ns.name, &iface.name, QdiscParent::Root));
                    self.qdisc(&ns.name, &iface.name, QdiscSpec::Netem(netem), q.span, vec![]);
                }
                Qdisc::Htb(htb) => self.htb(ns, iface, htb, q.span),
            }
        }
        if let Some(shape) = &iface.ingress_shape {
            self.ingress_shape(ns, iface, shape.node.clone(), shape.span);
        }
        // A bare hook qdisc, unless `shape ingress` or `bpf` makes the same one.
        if let Some(hook) = &iface.hook_qdisc {
            match hook.node {
                HookQdisc::Ingress if iface.ingress_shape.is_none() => {
                    let qdisc_op = self.qdisc(&ns.name, &iface.name, QdiscSpec::Ingress, hook.span, vec![]);
                    self.ingress_filters(ns, iface, qdisc_op);
                }
                HookQdisc::Clsact if iface.bpf.is_empty() => {
                    self.qdisc(&ns.name, &iface.name, QdiscSpec::Clsact, hook.span, vec![]);
                }
                _ => {}
            }
        }
    }

    pub(super) fn htb(&mut self, ns: &Namespace, iface: &Interface, htb: &Htb, span: Span) {
        let qdisc_op = self.qdisc(&ns.name, &iface.name, QdiscSpec::from(htb), span, vec![]);
        let recreated = self.recreated_htb.iter().any(|(n, d)| *n == ns.name && *d == iface.name);
        let observed: Vec<ClassSpec> = self
            .observed_ns(&ns.name)
            .filter(|_| !self.is_replaced(&ns.name, &iface.name) && !recreated)
            .map(|o| o.classes.iter().filter(|(d, _)| *d == iface.name).map(|(_, c)| c.clone()).collect())
            .unwrap_or_default();
        let mut class_ops: HashMap<u32, usize> = HashMap::default();
        for class in &htb.classes {
            let spec = class_spec(class);
            let old = observed.iter().find(|c| c.id == spec.id);
            if old == Some(&spec) {
                continue;
            }
            let undo = match old {
                Some(old) => vec![Action::ReplaceClass { ns: ns.name.clone(), dev: iface.name.clone(), class: old.clone() }],
                None => vec![Action::DelClass { ns: ns.name.clone(), dev: iface.name.clone(), id: spec.id }],
            };
            let mut deps: Vec<usize> = qdisc_op.into_iter().collect();
            deps.extend(self.link_deps(&ns.name, &iface.name));
            if let Some(parent) = class.parent.and_then(|p| class_ops.get(&p)) {
                deps.push(*parent);
            }
            let op = self.push(Action::ReplaceClass { ns: ns.name.clone(), dev: iface.name.clone(), class: spec }, class.span, deps, undo);
            class_ops.insert(class.id.node, op);
        }
        // An htb that stays (its parameters may change in place) keeps its filters:
        // compare them, priority by priority. A new htb starts without any.
        let in_place = !recreated && matches!(self.qdisc_on(&ns.name, &iface.name, QdiscParent::Root), Some(QdiscSpec::Htb { .. }));
        self.u32_filters(ns, iface, &htb.filters, false, qdisc_op, in_place, &class_ops, (&HashMap::default(), &[]));
    }

    /// The u32 filters of `qdisc ingress < filter … >` (tc's `parent ffff:`), after the
    /// ingress qdisc (`qdisc_op`, when this plan makes it).
    fn ingress_filters(&mut self, ns: &Namespace, iface: &Interface, qdisc_op: Option<usize>) {
        let in_place = self.qdisc_on(&ns.name, &iface.name, QdiscParent::Ingress) == Some(&QdiscSpec::Ingress);
        let (table_ops, unlinked, remade) = self.ingress_tables(ns, iface, qdisc_op, in_place);
        self.u32_filters(ns, iface, &iface.ingress_filters, true, qdisc_op, in_place, &HashMap::default(), (&table_ops, &unlinked));
        self.ht_filters(ns, iface, qdisc_op, in_place, &table_ops, &remade);
    }

    /// The u32 hash tables of `qdisc ingress < table … >`, by id: one already there as
    /// wanted stays; netscript's own earlier table of that id (another divisor or
    /// priority) is deleted and made again; anyone else's is refused and never touched.
    /// Gives the operations that make each table (a filter linking to it waits for its
    /// table), the priorities of the filters deleted first because they linked to a
    /// table made again (the kernel deletes no table in use; they are added back), and
    /// the tables made again (their filters, netscript's only, are deleted first: see
    /// [`Planner::empty_table`]).
    fn ingress_tables(&mut self, ns: &Namespace, iface: &Interface, qdisc_op: Option<usize>, in_place: bool) -> (HashMap<u32, usize>, Vec<u32>, Vec<u32>) {
        let mut table_ops = HashMap::default();
        let mut unlinked = Vec::new();
        let mut remade = Vec::new();
        let observed_filters: Vec<ObservedFilter> = if in_place && !self.observed.offline {
            self.observed_ns(&ns.name).map(|o| o.ingress_filters.iter().filter(|f| f.dev == iface.name).cloned().collect()).unwrap_or_default()
        } else {
            Vec::new()
        };
        let seen: Vec<FilterSpec> = observed_filters.iter().filter_map(|f| f.spec.clone()).filter(|s| matches!(s, FilterSpec::U32Table { .. })).collect();
        for t in &iface.ingress_tables {
            let table = FilterSpec::U32Table { prio: t.prio.node, table: t.id.node, divisor: t.divisor.node };
            let old = seen.iter().find(|s| matches!(s, FilterSpec::U32Table { table: id, .. } if *id == t.id.node));
            if old == Some(&table) {
                continue;
            }
            let mut deps: Vec<usize> = qdisc_op.into_iter().collect();
            deps.extend(self.link_deps(&ns.name, &iface.name));
            let add = Action::AddFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: table.clone() };
            if let Some(old) = old {
                if !self.owns(&crate::plan::ownership::key(&add)) {
                    self.diagnostics.push(
                        Diagnostic::error(FILTER_CONFLICT, t.span, format!("`{}` in `{}` already has a hash table {:x} that netscript did not write", iface.name, ns.name, t.id.node))
                            .label("this table would take its place")
                            .help(format!("remove the other one (`tc filter del dev {} ingress prio P handle {:x}: u32`), or give this table another id", iface.name, t.id.node)),
                    );
                    continue;
                }
                let Some(nodes_back) = self.empty_table(ns, iface, t, &observed_filters) else { continue };
                remade.push(t.id.node);
                let mut del_deps = deps.clone();
                for linking in observed_filters.iter().filter(|f| matches!(f.spec, Some(FilterSpec::U32 { link: Some(l), .. }) if l == t.id.node)) {
                    let spec = linking.spec.clone().expect("a decoded filter");
                    let undo = vec![Action::AddFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: spec.clone() }];
                    del_deps.push(self.push(Action::DelFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: spec }, t.span, deps.clone(), undo));
                    unlinked.push(linking.prio);
                }
                let mut undo = vec![Action::AddFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: old.clone() }];
                undo.extend(nodes_back);
                let del = self.push(Action::DelFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: old.clone() }, t.span, del_deps, undo);
                deps.push(del);
            }
            let undo = vec![Action::DelFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: table }];
            let op = self.push(add, t.span, deps, undo);
            table_ops.insert(t.id.node, op);
        }
        (table_ops, unlinked, remade)
    }

    /// Adds the u32 filters of one qdisc (an htb's, or the ingress qdisc's when
    /// `ingress`), priority by priority: one already there as wanted stays; netscript's
    /// own earlier filter at that priority is replaced; anyone else's is refused. The
    /// observed ones count only on a qdisc that stays (`in_place`).
    #[allow(clippy::too_many_arguments)]
    fn u32_filters(&mut self, ns: &Namespace, iface: &Interface, filters: &[U32Filter], ingress: bool, qdisc_op: Option<usize>, in_place: bool, class_ops: &HashMap<u32, usize>, tables: (&HashMap<u32, usize>, &[u32])) {
        let (table_ops, unlinked) = tables;
        let seen: Vec<ObservedFilter> = if in_place && !self.observed.offline {
            self.observed_ns(&ns.name)
                .map(|o| if ingress { &o.ingress_filters } else { &o.filters })
                .map(|list| list.iter().filter(|f| f.dev == iface.name && !unlinked.contains(&f.prio)).cloned().collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let parent = if ingress { "ffff:" } else { "1:" };
        // Filters in a hash table are placed by node, not by priority (`ht_filters`).
        for (index, f) in filters.iter().enumerate().filter(|(_, f)| f.ht.is_none()) {
            let prio = f.prio_at(index);
            let filter = u32_spec(f, ingress, prio, None);
            let at_prio: Vec<&ObservedFilter> = seen.iter().filter(|o| o.prio == prio && !in_a_script_table(o)).collect();
            if let [only] = at_prio.as_slice()
                && only.spec.as_ref() == Some(&filter)
            {
                continue;
            }
            let mut deps: Vec<usize> = qdisc_op.into_iter().collect();
            deps.extend(self.link_deps(&ns.name, &iface.name));
            deps.extend(f.flowid.as_ref().and_then(|id| class_ops.get(&id.node)));
            deps.extend(f.link.as_ref().and_then(|l| table_ops.get(&l.table.node)));
            if !at_prio.is_empty() {
                // Something else sits at this priority: netscript's own earlier filter
                // (removed, and put back by the undo), or one it cannot restore.
                let olds: Vec<FilterSpec> = at_prio.iter().filter_map(|o| o.spec.clone()).collect();
                let ours = self.owns(&crate::plan::ownership::key(&Action::AddFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: filter.clone() }));
                if olds.len() != at_prio.len() || olds.len() > 1 || !ours {
                    self.diagnostics.push(
                        Diagnostic::error(FILTER_CONFLICT, f.span, format!("`{}` in `{}` already has a filter at prio {prio} that netscript did not write", iface.name, ns.name))
                            .label("this filter would take its place")
                            .help(format!("remove the other one (`tc filter del dev {} parent {parent} prio {prio}`), or give this filter another `prio`", iface.name)),
                    );
                    continue;
                }
                let old = olds.into_iter().next().expect("one decoded filter");
                let undo = vec![Action::AddFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: old.clone() }];
                let del = self.push(Action::DelFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: old }, f.span, deps.clone(), undo);
                deps.push(del);
            }
            let undo = vec![Action::DelFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: filter.clone() }];
            self.push(Action::AddFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter }, f.span, deps, undo);
        }
    }

    pub(super) fn ingress_shape(&mut self, ns: &Namespace, iface: &Interface, tbf: Tbf, span: Span) {
        let ifb = ifb_name(&iface.name);
        if let Some(found) = self.observed_link(&ns.name, &ifb)
            && (found.kind.as_deref() != Some("ifb") || !self.owns(&format!("link {} {ifb}", ns.name)))
        {
            let kind = found.kind.clone().unwrap_or_else(|| "device".into());
            self.diagnostics.push(
                Diagnostic::error(FOREIGN_LINK, span, format!("`{ifb}` exists in `{}` (kind {kind}) and is not netscript's", ns.name))
                    .label("ingress shaping needs its own ifb device of this name")
                    .help(format!("netscript shapes `{}`'s ingress through a device named `{ifb}`; rename or delete the existing one", iface.name)),
            );
            return;
        }
        if self.observed_link(&ns.name, &ifb).is_none() {
            let mut deps = self.ns_deps(&ns.name);
            deps.extend(self.link_deps(&ns.name, &iface.name));
            // Always undone by name, even in a namespace this plan creates: the record of
            // the run must hold it, so that a re-run without `shape ingress` removes it.
            // (A rollback skips it when it deletes the namespace anyway.)
            let undo = vec![Action::DeleteLink { ns: ns.name.clone(), name: ifb.clone() }];
            let op = self.push(
                Action::CreateLink { ns: ns.name.clone(), name: ifb.clone(), kind: LinkKind::Ifb, attrs: LinkAttrs { up: true, ..Default::default() } },
                span,
                deps,
                undo,
            );
            self.record_link_op(&ns.name, &ifb, op);
        }
        let ingress_op = self.qdisc(&ns.name, &iface.name, QdiscSpec::Ingress, span, vec![]);
        self.qdisc(&ns.name, &ifb, QdiscSpec::Tbf(tbf), span, vec![]);
        let filter = FilterSpec::MirredToIfb { ifb: ifb.clone() };
        match ingress_op {
            // A new ingress qdisc: the redirect goes with it (and away with it).
            Some(ingress_op) => {
                let mut deps = vec![ingress_op];
                deps.extend(self.link_deps(&ns.name, &ifb));
                self.push(Action::AddFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter }, span, deps, vec![]);
            }
            // The qdisc is there; the redirect must be too (it may have been deleted by
            // hand, and without it nothing reaches the ifb's shaper).
            None => {
                let redirected = self.observed_ns(&ns.name).is_some_and(|o| o.redirects.iter().any(|(dev, to)| *dev == iface.name && *to == ifb));
                if !redirected {
                    let mut deps = self.link_deps(&ns.name, &iface.name);
                    deps.extend(self.link_deps(&ns.name, &ifb));
                    let undo = vec![Action::DelFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter: filter.clone() }];
                    self.push(Action::AddFilter { ns: ns.name.clone(), dev: iface.name.clone(), filter }, span, deps, undo);
                }
            }
        }
    }
}

/// The class an htb `class` statement asks for (ceil defaults to the rate, as in tc).
pub fn class_spec(class: &HtbClass) -> ClassSpec {
    ClassSpec {
        id: class.id.node,
        parent: class.parent,
        rate: class.rate.node,
        ceil: class.ceil.as_ref().map(|c| c.node).unwrap_or(class.rate.node),
        prio: class.prio.as_ref().map(|p| p.node),
        burst: class.burst,
        cburst: class.cburst,
        quantum: class.quantum,
        mtu: class.mtu,
        framing: class.framing,
    }
}

/// Qdiscs and htb classes, each with its device.
pub type DesiredTc = (Vec<(String, QdiscSpec)>, Vec<(String, ClassSpec)>);

/// Every qdisc a namespace's interfaces ask for, by device, and every htb class.
pub fn desired_tc(ns: &Namespace) -> DesiredTc {
    let mut qdiscs = Vec::new();
    let mut classes = Vec::new();
    for iface in ns.interfaces.values() {
        if let Some(q) = &iface.root_qdisc {
            let spec = match &q.node {
                Qdisc::Tbf(t) => QdiscSpec::Tbf(t.clone()),
                Qdisc::Netem(n) => QdiscSpec::Netem(n.clone()),
                Qdisc::Htb(h) => {
                    classes.extend(h.classes.iter().map(|c| (iface.name.clone(), class_spec(c))));
                    QdiscSpec::from(h)
                }
            };
            qdiscs.push((iface.name.clone(), spec));
        }
        if let Some(shape) = &iface.ingress_shape {
            qdiscs.push((iface.name.clone(), QdiscSpec::Ingress));
            qdiscs.push((ifb_name(&iface.name), QdiscSpec::Tbf(shape.node.clone())));
        } else if let Some(hook) = &iface.hook_qdisc {
            let spec = if hook.node == HookQdisc::Ingress { QdiscSpec::Ingress } else { QdiscSpec::Clsact };
            qdiscs.push((iface.name.clone(), spec));
        }
    }
    (qdiscs, classes)
}
