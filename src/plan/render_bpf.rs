//! `netscript plan --format bpf`: the eBPF instructions netscript generates for each
//! inline filter of the script (`bpf ingress|egress < ... >`, `xdp < ... >`), whatever
//! the live state, in the verifier log's notation.

use super::bpf_inline::source;
use super::bpfgen::{Target, compile};
use super::planner::bpf::bpf_positions;
use crate::model::Desired;
use crate::source::SourceMap;

pub fn render_bpf(desired: &Desired, sources: &SourceMap) -> String {
    let mut out = String::new();
    for ns in desired.namespaces.values() {
        for iface in ns.interfaces.values() {
            let mut blocks = Vec::new();
            for (direction, prio, b) in bpf_positions(iface) {
                if let Some(rules) = &b.node.rules {
                    let d = if direction == crate::model::BpfDirection::Ingress { "ingress" } else { "egress" };
                    blocks.push((format!("tc {d} prio {prio}"), rules, Target::Tc, b.span));
                }
            }
            if let Some(x) = &iface.xdp
                && let Some(rules) = &x.node.rules
            {
                blocks.push(("xdp".to_string(), rules, Target::Xdp, x.span));
            }
            for (hook, rules, target, span) in blocks {
                let Ok(compiled) = compile(rules, target) else { continue };
                let hash = source(std::path::Path::new(""), None, Some(rules), target).map(|(p, _)| p.hash).unwrap_or_default();
                out.push_str(&format!(
                    "; {}.{} {hook}: {} rule{}, {} instructions, {} counter slots, hash {hash}  # {}\n",
                    ns.name,
                    iface.name,
                    rules.len(),
                    if rules.len() == 1 { "" } else { "s" },
                    compiled.len(),
                    compiled.counters,
                    sources.location(span)
                ));
                out.push_str(&compiled.disassemble());
                out.push('\n');
            }
        }
    }
    if out.is_empty() {
        out.push_str("; no inline eBPF filter in this script\n");
    }
    out
}
