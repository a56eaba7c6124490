//! netscript's firewall table in the live state (`firewall` statements, issue 16): one
//! JSON object per rule, show's lines (with counters under `--stats`), and an export's
//! `firewall HOOK < ... >` statements, read back from the rules' own text.

use super::export::Script;
use super::kinds::Kind;
use super::{Live, LiveNs};
use crate::model::Verdict;
use serde_json::{Value, json};

pub struct Firewall;

impl Kind for Firewall {
    fn key(&self) -> &'static str {
        "firewall"
    }

    fn json(&self, _live: &Live, ns: &LiveNs) -> Vec<Value> {
        let Some(fw) = &ns.firewall else { return Vec::new() };
        let mut out = Vec::new();
        for (i, chain) in fw.table.chains.iter().enumerate() {
            for (j, rule) in chain.rules.iter().enumerate() {
                let counter = fw.counters.get(i).and_then(|c| c.get(j)).copied().flatten();
                let source = ns.firewall_sources.get(i).and_then(|s| s.get(j)).cloned().flatten();
                out.push(json!({
                    "hook": chain.hook.word(),
                    "chain": chain.name,
                    "type": chain.kind.word(),
                    "priority": chain.priority,
                    "policy": if chain.policy == Verdict::Drop { "drop" } else { "accept" },
                    "rule": rule.text(),
                    "packets": counter.map(|c| c.0),
                    "bytes": counter.map(|c| c.1),
                    "source": source,
                }));
            }
        }
        out
    }

    fn text(&self, _live: &Live, ns: &LiveNs, out: &mut Vec<String>) {
        let Some(fw) = &ns.firewall else { return };
        let stats = ns.tc_stats.is_some();
        // show_text indents by two for the namespace; the caller indents.
        out.extend(fw.show_text(stats, &ns.firewall_sources).lines().map(|l| l.strip_prefix("  ").unwrap_or(l).to_string()));
    }

    fn script(&self, script: &mut Script, out: &mut Vec<String>) {
        let Some(fw) = &script.ns.firewall else { return };
        for chain in &fw.table.chains {
            // A hook's NAT chain holds the same statement's NAT rules: its policy is
            // always accept, so only the filter chain writes one.
            let policy = if chain.policy == Verdict::Drop { " policy drop" } else { "" };
            if chain.rules.is_empty() && policy.is_empty() {
                continue;
            }
            let rules: Vec<String> = chain.rules.iter().map(|r| r.text()).collect();
            out.push(format!("firewall {}{policy} < {} >", chain.hook.word(), rules.join("; ")));
        }
        if fw.unknown_rules > 0 || fw.other_objects > 0 {
            out.push(format!("# table inet netscript also holds {} rule(s) and {} object(s) a script cannot write", fw.unknown_rules, fw.other_objects));
        }
    }
}
