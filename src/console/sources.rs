//! Where each rule of netscript's live firewall and inline eBPF filters comes from, for
//! `show`: the kernel keeps a rule's text (a firewall rule's comment) or only its code
//! (an inline filter), not its place in a script. The record that made a
//! namespace's table names its script; that script, checked again, gives each rule's
//! `file:line:col` — where it still declares the same rule in the same chain and place
//! (an edited script that was not run since gives no place for what it changed).

use crate::check::Checked;
use crate::live::Live;
use crate::plan::action::Action;
use crate::plan::bpf_inline::{source, INLINE_SECTION};
use crate::plan::bpfgen::Target;
use crate::plan::firewall::desired_table_with_sources;
use crate::plan::observed::ObservedProgram;
use crate::plan::ownership::OtherScript;
use crate::source::SourceMap;
use std::collections::HashMap;
use std::path::Path;

/// The records of the run directory and each recorded script checked at most once, for
/// the lookups of one `show` (a script checked again per namespace would cost a check of
/// a 10,000-rule firewall per table).
struct RecordedScripts {
    records: Vec<OtherScript>,
    checked: HashMap<String, Option<(SourceMap, Checked)>>,
}

impl RecordedScripts {
    fn load() -> Self {
        Self { records: crate::run::state::load_all(), checked: HashMap::new() }
    }

    /// `script` checked, when it still checks without errors.
    fn checked<'a>(checked: &'a mut HashMap<String, Option<(SourceMap, Checked)>>, script: &str) -> Option<&'a (SourceMap, Checked)> {
        checked
            .entry(script.to_string())
            .or_insert_with(|| {
                let mut sources = SourceMap::new();
                let checked = crate::check::check_path(&mut sources, Path::new(script)).ok()?;
                (!checked.has_errors()).then_some((sources, checked))
            })
            .as_ref()
    }
}

/// Fills in each firewall rule's place and, with `stats`, each inline eBPF rule's.
pub fn fill_sources(live: &mut Live, stats: bool) {
    let firewalls = live.namespaces.iter().any(|ns| ns.firewall.is_some());
    let inline = stats && live.namespaces.iter().any(|ns| ns.programs.iter().any(is_inline));
    if !firewalls && !inline {
        return;
    }
    let mut scripts = RecordedScripts::load();
    if firewalls {
        fill_firewall_sources(live, &mut scripts);
    }
    if inline {
        fill_bpf_rule_sources(live, &mut scripts);
    }
}

fn fill_firewall_sources(live: &mut Live, scripts: &mut RecordedScripts) {
    for ns in &mut live.namespaces {
        let Some(fw) = &ns.firewall else { continue };
        let made_here = |o: &crate::plan::ownership::Owned| matches!(&o.made, Some(Action::SetFirewall { ns: n, .. }) if *n == ns.name);
        let Some(record) = scripts.records.iter().find(|r| r.owned.iter().any(made_here)) else { continue };
        let Some((sources, checked)) = RecordedScripts::checked(&mut scripts.checked, &record.script) else { continue };
        let Some((table, spans)) = checked.desired.namespaces.get(&ns.name).and_then(desired_table_with_sources) else { continue };
        ns.firewall_sources = fw
            .table
            .chains
            .iter()
            .map(|chain| {
                let declared = table.chains.iter().position(|c| c.name == chain.name);
                (0..chain.rules.len())
                    .map(|j| {
                        let d = declared?;
                        (table.chains[d].rules.get(j)? == &chain.rules[j]).then(|| sources.location(spans[d][j]))
                    })
                    .collect()
            })
            .collect();
    }
}

fn is_inline(p: &ObservedProgram) -> bool {
    p.label.as_ref().is_some_and(|l| l.section == INLINE_SECTION && l.file.is_empty())
}

/// For each inline program attached (by its id): the rules it was compiled from, as the
/// script writes them, with their places. A script is the program's when its record
/// attached a program on that device and its rules compile to the very code attached
/// (the program's name is a hash of its instructions).
fn fill_bpf_rule_sources(live: &mut Live, scripts: &mut RecordedScripts) {
    for ns in &mut live.namespaces {
        let mut found = Vec::new();
        for p in ns.programs.iter().filter(|p| is_inline(p)) {
            let hash = &p.label.as_ref().expect("inline programs have a label").hash;
            let attached_here = |o: &crate::plan::ownership::Owned| {
                matches!(&o.made, Some(Action::AttachBpf { ns: n, dev, .. } | Action::AttachXdp { ns: n, dev, .. }) if *n == ns.name && *dev == p.dev)
            };
            for record in scripts.records.iter().filter(|r| r.owned.iter().any(attached_here)) {
                let Some((sources, checked)) = RecordedScripts::checked(&mut scripts.checked, &record.script) else { continue };
                let Some(iface) = checked.desired.namespaces.get(&ns.name).and_then(|n| n.interfaces.get(&p.dev)) else { continue };
                let blocks = iface
                    .bpf
                    .iter()
                    .filter_map(|b| Some((b.node.rules.as_deref()?, Target::Tc)))
                    .chain(iface.xdp.iter().filter_map(|x| Some((x.node.rules.as_deref()?, Target::Xdp))));
                for (rules, target) in blocks {
                    if source(Path::new(""), None, Some(rules), target).is_some_and(|(program, _)| program.hash == *hash) {
                        let places = rules.iter().map(|r| (sources.snippet(r.span).trim().to_string(), sources.location(r.span))).collect();
                        found.push((p.id, places));
                    }
                }
            }
        }
        ns.bpf_rule_sources = found;
    }
}
