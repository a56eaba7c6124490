//! show's text: per namespace, each link with what hangs on it (addresses, qdiscs,
//! classes, filters, programs), then routes, rules and sysctls.

use super::{mac_text, Live, LiveLink, Peer, KINDS};

fn link_line(link: &LiveLink) -> String {
    let mut line = format!("{} ({}) {} mtu {}", link.name, link.kind.as_deref().unwrap_or("device"), if link.up { "up" } else { "down" }, link.mtu);
    if let Some(mac) = &link.mac {
        line.push_str(&format!(" mac {}", mac_text(mac)));
        if let Some(origin) = link.mac_origin {
            line.push_str(&format!(" ({})", origin.word()));
        }
    }
    if let Some(m) = &link.master {
        line.push_str(&format!(" master {m}"));
    }
    match &link.peer {
        Some(Peer::In { ns, name }) => line.push_str(&format!(" peer {ns}.{name}")),
        Some(Peer::Unknown) => line.push_str(" peer in a namespace without a name"),
        None => {}
    }
    if let Some(mode) = link.macvlan_mode {
        line.push_str(&format!(" mode {}", format!("{mode:?}").to_lowercase()));
    }
    if let Some((id, protocol)) = link.vlan {
        line.push_str(&format!(" id {id} protocol {}", protocol.word()));
    }
    if let Some(t) = &link.tunnel {
        line.push_str(&t.ip_words());
    }
    if let Some((mode, flag)) = link.ipvlan {
        line.push_str(&format!(" mode {} {}", mode.word(), flag.word()));
    }
    if let Some(v) = &link.vxlan {
        line.push_str(&format!(" id {}", v.vni));
        for (word, a) in [("remote", v.remote), ("group", v.group), ("local", v.local)] {
            if let Some(a) = a {
                line.push_str(&format!(" {word} {a}"));
            }
        }
        if let Some(p) = v.port {
            line.push_str(&format!(" port {p}"));
        }
    }
    if let Some(lower) = &link.lower {
        line.push_str(&format!(" on {lower}"));
    }
    line
}

pub fn render(live: &Live) -> String {
    let mut out = String::new();
    for ns in &live.namespaces {
        out.push_str(&format!("netns {}\n", ns.name));
        for link in &ns.links {
            out.push_str(&format!("  {}\n", link_line(link)));
            let mut lines = Vec::new();
            for kind in KINDS {
                kind.link_text(live, ns, link, &mut lines);
            }
            for l in lines {
                out.push_str(&format!("    {l}\n"));
            }
        }
        let mut lines = Vec::new();
        for kind in KINDS {
            kind.text(live, ns, &mut lines);
        }
        for l in lines {
            out.push_str(&format!("  {l}\n"));
        }
        if let Some(stats) = &ns.tc_stats {
            out.push_str(&stats_text(stats));
            out.push_str(&crate::live::bpf_stats::rule_counters_text(ns));
        }
    }
    out
}

/// The statistics as `tc -s` words them, one line per qdisc or class, aligned.
pub fn stats_text(entries: &[crate::exec::stats::TcStatsEntry]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("  traffic control statistics\n");
    if entries.is_empty() {
        out.push_str("    (no qdiscs)\n");
        return out;
    }
    let heads: Vec<String> = entries.iter().map(|e| format!("{} {} {} {} parent {}", e.dev, e.object, e.kind, e.handle, e.parent)).collect();
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
