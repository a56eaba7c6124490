//! `netscript show`: the live state of namespaces, as the planner sees it.

use super::ShowFormat;
use super::exit;
use crate::model::{Desired, Namespace, NsOrigin, HOST};
use crate::plan::observed::ObservedNs;
use crate::source::Span;
use crate::exec::stats::TcStatsEntry;
use indexmap::IndexMap;
use std::fmt::Write as _;

fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

pub fn show(names: &[String], format: ShowFormat, stats: bool) -> i32 {
    let mut names: Vec<String> = names.to_vec();
    if names.is_empty() {
        names.push(HOST.to_string());
        if let Ok(entries) = std::fs::read_dir("/run/netns") {
            let mut found: Vec<String> = entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            found.sort();
            names.extend(found);
        }
    }
    let mut desired = Desired::default();
    for name in &names {
        let origin = if name == HOST { NsOrigin::Host } else { NsOrigin::Declared };
        desired.namespaces.insert(name.clone(), Namespace::new(name.clone(), origin, Span::default()));
    }
    let mut exec = match crate::exec::Executor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("netscript: cannot read the state: {e}");
            return exit::RUN_FAILED;
        }
    };
    let observed = match exec.observe(&desired) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("netscript: cannot read the state: {e}");
            return exit::RUN_FAILED;
        }
    };
    // Statistics of the namespaces that exist, read after the state.
    let mut tc_stats: IndexMap<String, Vec<TcStatsEntry>> = IndexMap::new();
    if stats {
        for name in names.iter().filter(|n| observed.namespaces.contains_key(*n)) {
            match exec.tc_stats(name) {
                Ok(entries) => {
                    tc_stats.insert(name.clone(), entries);
                }
                Err(e) => {
                    eprintln!("netscript: cannot read the traffic-control statistics of `{name}`: {e}");
                    return exit::RUN_FAILED;
                }
            }
        }
    }
    let mut missing = false;
    match format {
        ShowFormat::Json => {
            let mut map = serde_json::Map::new();
            for name in &names {
                let mut value = serde_json::to_value(observed.namespaces.get(name)).unwrap();
                if let (Some(entries), Some(object)) = (tc_stats.get(name), value.as_object_mut()) {
                    object.insert("tc_stats".into(), serde_json::to_value(entries).unwrap());
                }
                map.insert(name.clone(), value);
            }
            println!("{}", serde_json::to_string_pretty(&map).unwrap());
        }
        ShowFormat::Text => {
            for name in &names {
                match observed.namespaces.get(name) {
                    Some(ns) => {
                        print!("{}", text(name, ns));
                        if let Some(fw) = &ns.firewall {
                            print!("{}", fw.show_text(stats));
                        }
                        if let Some(entries) = tc_stats.get(name) {
                            print!("{}", stats_text(entries));
                        }
                    }
                    None => {
                        eprintln!("netscript: no namespace `{name}` (`ip netns list` lists them; `host` is the initial one)");
                        missing = true;
                    }
                }
            }
        }
    }
    if format == ShowFormat::Json {
        missing = names.iter().any(|n| !observed.namespaces.contains_key(n));
    }
    // A name that does not exist is an error in the input (exit 1), not a failed run (3).
    if missing { exit::SCRIPT_ERRORS } else { exit::OK }
}

fn text(name: &str, ns: &ObservedNs) -> String {
    let mut out = format!("netns {name}\n");
    for link in ns.links.values() {
        let mut line = format!("  {} ({}) {} mtu {}", link.name, link.kind.as_deref().unwrap_or("device"), if link.up { "up" } else { "down" }, link.mtu);
        if let Some(mac) = &link.mac {
            write!(line, " mac {}", mac_text(mac)).unwrap();
        }
        if let Some(m) = &link.master {
            write!(line, " master {m}").unwrap();
        }
        writeln!(out, "{line}").unwrap();
        for a in &link.addrs {
            writeln!(out, "    addr {a}").unwrap();
        }
        for q in ns.qdiscs.iter().filter(|q| q.dev == link.name) {
            writeln!(out, "    qdisc {}", crate::plan::describe(&crate::plan::Action::ReplaceQdisc { ns: name.into(), dev: link.name.clone(), qdisc: q.spec.clone() })
                .split_once(" root handle 1: ").map(|(_, r)| r.to_string()).unwrap_or_else(|| q.spec.kind().to_string())).unwrap();
        }
        for p in ns.programs.iter().filter(|p| p.dev == link.name) {
            writeln!(out, "    {}", program_text(p)).unwrap();
        }
    }
    for r in &ns.routes {
        writeln!(out, "  route {}", crate::plan::render::route_text(r)).unwrap();
    }
    for r in &ns.rules {
        writeln!(out, "  rule{} {}", if r.v6 { " (v6)" } else { "" }, crate::plan::render::rule_text(r)).unwrap();
    }
    out
}

/// The statistics as `tc -s` words them, one line per qdisc or class, aligned.
pub fn stats_text(entries: &[TcStatsEntry]) -> String {
    let mut out = String::from("  traffic control statistics\n");
    if entries.is_empty() {
        out.push_str("    (no qdiscs)\n");
        return out;
    }
    let heads: Vec<String> = entries
        .iter()
        .map(|e| format!("{} {} {} {} parent {}", e.dev, e.object, e.kind, e.handle, e.parent))
        .collect();
    let width = heads.iter().map(String::len).max().unwrap_or(0);
    for (head, e) in heads.iter().zip(entries) {
        let c = &e.counters;
        writeln!(
            out,
            "    {head:<width$}  sent {} bytes {} pkt (dropped {}, overlimits {}, requeues {}) backlog {}b {}p",
            c.bytes, c.packets, c.drops, c.overlimits, c.requeues, c.backlog, c.qlen
        )
        .unwrap();
    }
    out
}

/// `bpf tc ingress prio 1: id 12 drop_icmp_tc, section classifier of drop_icmp.o`.
fn program_text(p: &crate::plan::observed::ObservedProgram) -> String {
    let kernel = crate::exec::bpf::program_info(p.id);
    let mut line = format!("bpf {}: id {}", p.attach, p.id);
    match (&p.label, &kernel) {
        (Some(l), _) => write!(line, " {}, section {} of {} (netscript, hash {})", l.function, l.section, l.file, l.hash).unwrap(),
        (None, Some((name, _))) if !name.is_empty() => write!(line, " {name}").unwrap(),
        _ => {}
    }
    if let Some((_, tag)) = kernel {
        write!(line, " tag {tag}").unwrap();
    }
    if matches!(p.attach, crate::plan::observed::AttachPoint::Tc { .. }) && !p.direct_action {
        line.push_str(" (not direct-action)");
    }
    line
}
