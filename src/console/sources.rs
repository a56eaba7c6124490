//! Where each rule of netscript's live firewall comes from, for `show`: the kernel keeps
//! a rule's text (its comment), not its place in a script. The record that made a
//! namespace's table names its script; that script, checked again, gives each rule's
//! `file:line:col` — where it still declares the same rule in the same chain and place
//! (an edited script that was not run since gives no place for what it changed).

use crate::live::Live;
use crate::plan::action::Action;
use crate::plan::firewall::desired_table_with_sources;
use crate::source::SourceMap;
use std::path::Path;

pub fn fill_firewall_sources(live: &mut Live) {
    if live.namespaces.iter().all(|ns| ns.firewall.is_none()) {
        return;
    }
    let records = crate::run::state::load_all();
    for ns in &mut live.namespaces {
        let Some(fw) = &ns.firewall else { continue };
        let made_here = |o: &crate::plan::ownership::Owned| matches!(&o.made, Some(Action::SetFirewall { ns: n, .. }) if *n == ns.name);
        let Some(record) = records.iter().find(|r| r.owned.iter().any(made_here)) else { continue };
        let mut sources = SourceMap::new();
        let Ok(checked) = crate::check::check_path(&mut sources, Path::new(&record.script)) else { continue };
        if checked.has_errors() {
            continue;
        }
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
