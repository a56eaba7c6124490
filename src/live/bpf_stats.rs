//! `show --stats` for inline eBPF filters: each rule's hit counter, as the inventory
//! read it from the program's array map (slot = the rule's index; only rules with
//! `counter` count).

use crate::exec::inventory::LiveNs;
use crate::plan::bpf_inline::INLINE_SECTION;

/// `  eBPF rule counters` then one line per compiled program with a counter map:
/// `v1 tc ingress prio 1: rule 1: 3, rule 2: 0`; empty when there is none.
pub fn rule_counters_text(ns: &LiveNs) -> String {
    let mut lines = Vec::new();
    for p in &ns.programs {
        let inline = p.label.as_ref().is_some_and(|l| l.section == INLINE_SECTION && l.file.is_empty());
        if !inline {
            continue;
        }
        let Some((_, counters)) = ns.bpf_counters.iter().find(|(id, _)| *id == p.id) else { continue };
        match ns.bpf_rule_sources.iter().find(|(id, _)| *id == p.id) {
            // Each rule as the script writes it, its hits (when it counts) and its place.
            Some((_, rules)) if rules.len() == counters.len() => {
                lines.push(format!("    {} {}:\n", p.dev, p.attach));
                for ((text, place), hits) in rules.iter().zip(counters) {
                    let counted = if text.split_whitespace().any(|w| w == "counter") { format!("{hits} hits, ") } else { String::new() };
                    lines.push(format!("      {text}  # {counted}{place}\n"));
                }
            }
            _ => {
                let hits: Vec<String> = counters.iter().enumerate().map(|(i, n)| format!("rule {}: {n}", i + 1)).collect();
                lines.push(format!("    {} {}: {}\n", p.dev, p.attach, hits.join(", ")));
            }
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("  eBPF rule counters (hits of the rules with `counter`; by position in the block where the script is not known)\n");
    out.extend(lines);
    out
}
