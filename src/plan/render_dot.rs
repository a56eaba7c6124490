//! Plans as Graphviz dot: an operation a node, the order's edges (only those the order
//! needs).

use super::render::describe;
use super::Plan;
use crate::model::Desired;
use crate::source::SourceMap;
use std::fmt::Write as _;

pub fn render_dot(plan: &Plan, desired: &Desired, sources: &SourceMap) -> String {
    let mut out = String::from("digraph plan {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n");
    for (i, op) in plan.ops.iter().enumerate() {
        let place = if op.removes.is_some() { "no longer declared".to_string() } else { sources.location(op.origin) };
        let mut label = format!("{}\\n{place}", describe(&op.action)).replace('"', "\\\"");
        if let Some(change) = super::firewall_diff::op_change(plan, op, desired) {
            // The rule changes, left-justified lines (`\l`) under the op.
            label.push_str("\\n");
            for (text, span) in change.lines() {
                let place = span.map(|s| format!("  # {}", sources.location(s))).unwrap_or_default();
                label.push_str(&format!("{text}{place}\\l").replace('"', "\\\""));
            }
        }
        writeln!(out, "  op{i} [label=\"{}. {label}\"];", i + 1).unwrap();
    }
    // Only the edges the order needs: not those implied by others.
    let direct = super::reduce::direct_deps(plan).unwrap_or_else(|| plan.ops.iter().map(|op| op.deps.clone()).collect());
    for (i, deps) in direct.iter().enumerate() {
        for d in deps {
            writeln!(out, "  op{d} -> op{i};").unwrap();
        }
    }
    out.push_str("}\n");
    out
}
