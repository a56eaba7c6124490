//! desired + observed → operations. Only what is missing or different becomes an
//! operation; each carries its undo, computed from what was observed.

use super::action::*;
use super::observed::{ObservedLink, ObservedNs};
use super::ownership::{self, Owned};
use super::{Observed, Op, Plan};
use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::source::Span;
// FxHash: these maps are keyed by short names and spans, hashed per statement.
use rustc_hash::FxHashMap as HashMap;

pub(super) mod bpf;
pub mod bpf_inline;
mod firewall;
mod links;
mod removals;
mod routing;
mod traffic;
mod traffic_ht;
mod netem_change;
mod remake;
mod stacked;
mod ipvlan;
mod link_order;
mod vrf;

use link_order::*;
use links::*;
use remake::Made;
pub use routing::*;
pub use traffic::*;

pub const MISSING_INTERFACE: &str = "netscript::plan::missing_interface";
pub const KIND_CONFLICT: &str = "netscript::plan::kind_conflict";
pub const FILTER_CONFLICT: &str = "netscript::plan::filter_conflict";
pub const FOREIGN_QDISC: &str = "netscript::plan::foreign_qdisc";
/// A netem the script made was changed by someone else since, and the plan would set or
/// drop a delay table on it, or it had one: which table the kernel holds cannot be read.
pub const NETEM_TABLE_UNKNOWN: &str = "netscript::plan::netem_table_unknown";
pub const FOREIGN_LINK: &str = "netscript::plan::foreign_link";
/// The script's interface exists, made otherwise (another mode, id, parent…) by someone
/// else: netscript does not make it again (remake.rs).
pub const LINK_CONFLICT: &str = "netscript::plan::link_conflict";
/// A plan would make a link again that someone else's link sits on (stacked.rs).
pub const STACKED_LINK: &str = "netscript::plan::stacked_link";
pub const OWNED_BY_OTHER: &str = "netscript::plan::owned_by_other";

pub use crate::model::ifb_name;

/// The protocol netscript's routes carry (`proto 110` in `ip route`): ownership visible
/// in the kernel's own output, and a delete that matches netscript's route only.
pub const NETSCRIPT_ROUTE_PROTOCOL: u8 = 110;

/// What the script's earlier runs made (its ownership record), for [`plan_owned`].
#[derive(Debug, Clone, Copy)]
pub struct Ownership<'a> {
    pub entries: &'a [Owned],
    /// The inode of each namespace the record owns, as it was when created: a namespace
    /// of that name with another inode was made by someone else since.
    pub netns_ids: &'a std::collections::BTreeMap<String, u64>,
    /// The cookie of each namespace the record owns (records since the fifth session):
    /// where known, it decides instead of the inode, which the kernel reuses.
    pub netns_cookies: &'a std::collections::BTreeMap<String, u64>,
    /// The records of the other scripts on this host.
    pub others: &'a [ownership::OtherScript],
}

static NO_IDS: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();

impl Default for Ownership<'_> {
    /// Nothing owned: a script's first run, `check`, offline plans.
    fn default() -> Self {
        Ownership { entries: &[], netns_ids: &NO_IDS, netns_cookies: &NO_IDS, others: &[] }
    }
}

/// The record, indexed once per plan (a record of a thousand namespaces holds
/// thousands of entries, looked up once per declared object).
struct OwnedIndex<'a> {
    keys: std::collections::HashSet<String>,
    /// Links the record made, both ends of a veth.
    created_links: std::collections::HashSet<(String, String)>,
    /// The veths the record made, by their declaring end.
    veths: HashMap<(String, String), &'a Action>,
}

impl<'a> OwnedIndex<'a> {
    fn new(owned: &'a [Owned]) -> Self {
        let mut index = OwnedIndex { keys: Default::default(), created_links: Default::default(), veths: HashMap::default() };
        for o in owned {
            if let Some(k) = ownership::entry_key(o) {
                index.keys.insert(k);
            }
            if let Some(Action::DeleteLink { ns, name }) = o.undo.first() {
                index.created_links.insert((ns.clone(), name.clone()));
            }
            if let Some(made @ Action::CreateLink { ns, name, kind: LinkKind::Veth { peer_ns, peer_name, .. }, .. }) = &o.made {
                index.created_links.insert((peer_ns.clone(), peer_name.clone()));
                index.veths.insert((ns.clone(), name.clone()), made);
            }
        }
        index
    }
}

struct Planner<'a> {
    desired: &'a Desired,
    observed: &'a Observed,
    owned: &'a [Owned],
    index: OwnedIndex<'a>,
    ops: Vec<Op>,
    diagnostics: Vec<Diagnostic>,
    /// The op that makes each namespace exist (absent: it exists already).
    ns_op: HashMap<String, usize>,
    /// The ops that create or change each link, by (namespace, name).
    link_ops: HashMap<(String, String), Vec<usize>>,
    /// Every link and address op of a namespace, which routes wait for.
    ns_link_ops: HashMap<String, Vec<usize>>,
    /// The last removal: what the script no longer declares goes before anything is
    /// added (a renumbered address, a route with a new gateway, a new qdisc kind).
    last_removal: Option<usize>,
    /// Namespaces of the record that go (after the commit).
    drop_netns: Vec<String>,
    /// Veth ends whose other end's namespace goes: deleted just before it.
    drop_links: Vec<Action>,
    /// Record entries that are no longer netscript's.
    forget: Vec<usize>,
    /// Addresses this plan deletes before it adds any (removals, and the secondaries a
    /// removed primary takes with it): not present for the additions.
    gone_addrs: std::collections::HashSet<(String, String, IfAddr)>,
    /// Links this plan deletes and makes anew (a veth paired with another end).
    replaced: Vec<(String, String)>,
    /// Root htb qdiscs this plan deletes and makes anew (another `default`).
    recreated_htb: Vec<(String, String)>,
    /// Devices whose IPv4 routes the kernel flushes in this plan (their last IPv4
    /// address is deleted).
    flushed_devs: std::collections::HashSet<(String, String)>,
    /// Links this plan takes down: the kernel deletes every route through them.
    downed_devs: std::collections::HashSet<(String, String)>,
    others: &'a [ownership::OtherScript],
    /// Entries whose attribute another script changed since: handed to it, not undone.
    handover: Vec<super::Handover>,
    /// Priorities of the rules of each (namespace, IPv6?) as the kernel will hold them,
    /// with those this plan adds: to give a rule without `pref` the priority the kernel
    /// would pick, explicitly, so that its record names it exactly.
    rule_prios: HashMap<(String, bool), Vec<u32>>,
}

/// About how many operations a plan of `desired` from nothing has (one per declared
/// object): reserved up front, since growing a vector of 100,000 operations by doubling
/// held the old and the new buffer at once, the front end's peak memory.
fn likely_ops(desired: &Desired, owned: usize) -> usize {
    let per_interface = |i: &crate::model::Interface| {
        let classes = match i.root_qdisc.as_deref().map(|q| &q.node) {
            Some(crate::model::Qdisc::Htb(h)) => h.classes.len() + h.filters.len(),
            _ => 0,
        };
        let attrs = [i.mtu.is_some(), i.mac.is_some(), i.master.is_some(), i.root_qdisc.is_some(), i.ingress_shape.is_some(), i.xdp.is_some()];
        1 + i.addrs.len() + attrs.into_iter().filter(|&a| a).count() + classes + i.bpf.len()
    };
    let per_ns = |ns: &crate::model::Namespace| 1 + ns.interfaces.values().map(per_interface).sum::<usize>() + ns.routes.len() + ns.rules.len() + ns.sysctls.len() + ns.firewall.len();
    desired.namespaces.values().map(per_ns).sum::<usize>() + owned
}

pub fn plan(desired: &Desired, observed: &Observed) -> Result<Plan, Vec<Diagnostic>> {
    plan_owned(desired, observed, Ownership::default())
}

/// Plans `desired` against `observed`, knowing what the script's earlier runs made:
/// what it no longer declares is removed first (or restored, for what it changed).
pub fn plan_owned(desired: &Desired, observed: &Observed, ownership: Ownership) -> Result<Plan, Vec<Diagnostic>> {
    let mut p = Planner {
        desired,
        observed,
        owned: ownership.entries,
        index: OwnedIndex::new(ownership.entries),
        ops: Vec::with_capacity(likely_ops(desired, ownership.entries.len())),
        diagnostics: Vec::new(),
        ns_op: HashMap::default(),
        link_ops: HashMap::default(),
        ns_link_ops: HashMap::default(),
        last_removal: None,
        drop_netns: Vec::new(),
        drop_links: Vec::new(),
        forget: Vec::new(),
        others: ownership.others,
        gone_addrs: Default::default(),
        flushed_devs: Default::default(),
        downed_devs: Default::default(),
        replaced: Vec::new(),
        recreated_htb: Vec::new(),
        handover: Vec::new(),
        rule_prios: HashMap::default(),
    };
    for (span, what, by) in ownership::claimed_by_others(desired, ownership.others) {
        p.diagnostics.push(
            Diagnostic::error(OWNED_BY_OTHER, span, format!("{what} was made by another script, {by}"))
                .label("declared here too")
                .help(format!("an object belongs to one script, so that `down` of either cannot take it from the other; declare it in one of them (or `netscript down {by}` first)")),
        );
    }
    p.removals(ownership.netns_ids, ownership.netns_cookies);
    for ns in desired.namespaces.values() {
        p.namespace(ns);
    }
    // Links that sit on another come after every namespace's other links: their parent
    // can be the end of a veth that another namespace declares.
    for stacked in [false, true] {
        for ns in desired.namespaces.values() {
            for iface in link_order(ns).into_iter().filter(|i| sits_on_a_parent(i) == stacked) {
                p.link(ns, iface);
            }
        }
    }
    for ns in desired.namespaces.values() {
        for iface in ns.interfaces.values() {
            p.addresses(ns, iface);
        }
    }
    for ns in desired.namespaces.values() {
        for iface in ns.interfaces.values() {
            p.traffic_control(ns, iface);
            p.programs(ns, iface);
        }
        p.routes(ns);
        p.rules(ns);
        p.sysctls(ns);
        p.firewall(ns);
    }
    if !p.diagnostics.is_empty() {
        return Err(p.diagnostics);
    }
    let firewall_unrecognised = super::firewall_diff::unrecognised_in(&p.ops, observed);
    Ok(Plan { ops: p.ops, drop_netns: p.drop_netns, drop_links: p.drop_links, forget: p.forget, handover: p.handover, firewall_unrecognised })
}

impl<'a> Planner<'a> {
    pub(super) fn push(&mut self, action: Action, origin: Span, mut deps: Vec<usize>, undo: Vec<Action>) -> usize {
        deps.extend(self.last_removal);
        deps.sort_unstable();
        deps.dedup();
        self.ops.push(Op { action, origin, deps, undo, removes: None });
        self.ops.len() - 1
    }

    /// Whether the record holds something with this key (see [`ownership::key`]).
    pub(super) fn owns(&self, key: &str) -> bool {
        self.index.keys.contains(key)
    }

    pub(super) fn observed_ns(&self, ns: &str) -> Option<&ObservedNs> {
        self.observed.namespaces.get(ns)
    }

    /// The link as observed; `None` for one this plan makes anew (what was seen of it
    /// is gone with it).
    pub(super) fn observed_link(&self, ns: &str, name: &str) -> Option<&ObservedLink> {
        if self.is_replaced(ns, name) {
            return None;
        }
        self.observed_ns(ns).and_then(|n| n.links.get(name))
    }

    pub(super) fn ns_deps(&self, ns: &str) -> Vec<usize> {
        self.ns_op.get(ns).copied().into_iter().collect()
    }

    pub(super) fn link_deps(&self, ns: &str, name: &str) -> Vec<usize> {
        let mut deps = self.ns_deps(ns);
        if let Some(ops) = self.link_ops.get(&(ns.to_string(), name.to_string())) {
            deps.extend(ops);
        }
        deps
    }

    pub(super) fn record_link_op(&mut self, ns: &str, name: &str, op: usize) {
        self.link_ops.entry((ns.to_string(), name.to_string())).or_default().push(op);
        self.ns_link_ops.entry(ns.to_string()).or_default().push(op);
    }
}
