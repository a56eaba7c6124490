//! The planner: desired state + observed state → a graph of operations. Pure: it reads
//! nothing and changes nothing, so it is tested without root.

pub mod action;
pub mod bpfgen;
pub mod firewall;
pub mod firewall_diff;
pub mod observed;
pub mod ownership;
mod planner;
pub mod reduce;
pub mod render;
pub mod render_bpf;
pub mod render_dot;

pub use planner::{class_spec, desired_tc, ifb_name, plan, plan_owned, route_matches, route_spec, rule_matches, rule_spec, Ownership, NETSCRIPT_ROUTE_PROTOCOL};
pub use planner::bpf_inline;
pub use render::{describe, render_json, render_text};
pub use render_dot::render_dot;

use crate::source::Span;
pub use action::Action;
pub use observed::Observed;

/// One operation of a plan, with the source statement it comes from and what undoes it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Op {
    pub action: Action,
    /// The statement that asks for it.
    #[serde(skip)]
    pub origin: Span,
    /// Indexes of operations that must complete first.
    pub deps: Vec<usize>,
    /// What restores the state from before this operation, computed from the observed state.
    pub undo: Vec<Action>,
    /// For the removal of something an earlier run made that the script no longer
    /// declares: its index in the ownership record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removes: Option<usize>,
}

/// Operations in a deterministic topological order: every op's deps come before it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    pub ops: Vec<Op>,
    /// Namespaces an earlier run created that the script no longer declares: deleted
    /// once the run is committed (a deletion cannot be rolled back), with everything in
    /// them. Until then the record keeps them, so an interrupted run leaves them owned.
    pub drop_netns: Vec<String>,
    /// Veth ends outside those namespaces whose other end is in one: deleted right
    /// before them, after the commit too.
    pub drop_links: Vec<Action>,
    /// Record entries that are no longer netscript's (their namespace was deleted and
    /// made anew by someone else since): forgotten, not undone.
    pub forget: Vec<usize>,
    /// Record entries whose attribute another script changed since this one did: not
    /// given back (the other script's value stays); the other script's record takes
    /// over this one's original value, so that `down` in any order ends at the original.
    pub handover: Vec<Handover>,
    /// For each namespace whose firewall table an op rewrites: what the table held that
    /// netscript did not write (shown by `plan`; the rewrite removes it).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub firewall_unrecognised: std::collections::BTreeMap<String, firewall_diff::Unrecognised>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Handover {
    /// The entry of this script's record.
    pub entry: usize,
    /// The other script (its record's key) and its entry that takes this one's undo.
    pub script: String,
    pub their_entry: usize,
    /// This entry's undo: the original value.
    pub undo: Vec<Action>,
}

impl Plan {
    /// Whether running it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.drop_netns.is_empty() && self.handover.is_empty()
    }
}
