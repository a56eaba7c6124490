//! The planner: desired state + observed state → a graph of operations. Pure: it reads
//! nothing and changes nothing, so it is tested without root.

pub mod action;
pub mod observed;
mod planner;
pub mod render;

pub use planner::{class_spec, desired_tc, ifb_name, plan, route_spec, rule_spec};
pub use render::{describe, render_dot, render_json, render_text};

use crate::source::Span;
pub use action::Action;
pub use observed::Observed;

/// One operation of a plan, with the source statement it comes from and what undoes it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Op {
    pub action: Action,
    /// The statement that asks for it.
    #[serde(skip)]
    pub origin: Span,
    /// Indexes of operations that must complete first.
    pub deps: Vec<usize>,
    /// What restores the state from before this operation, computed from the observed state.
    pub undo: Vec<Action>,
}

/// Operations in a deterministic topological order: every op's deps come before it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Plan {
    pub ops: Vec<Op>,
}
