//! The topology as a Graphviz graph (`netscript show --format dot | dot -Tsvg`):
//! namespaces are clusters, interfaces nodes labelled with their addresses, bridges
//! ellipses; veth pairs are edges between their ends, bridge ports edges to their
//! bridge, macvlans and vxlans dotted edges to the device they sit on.

use super::{Live, LiveLink, Peer};
use std::fmt::Write as _;

fn id(ns: &str, link: &str) -> String {
    quote(&format!("{ns}/{link}"))
}

/// A double-quoted Graphviz string.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

fn label(link: &LiveLink) -> String {
    let mut lines = vec![match link.kind.as_deref() {
        Some("bridge") | None => link.name.clone(),
        Some(kind) => format!("{} ({kind})", link.name),
    }];
    lines.extend(link.addrs.iter().filter(|a| !super::kinds::kernel_address(link, a)).map(|a| a.to_string()));
    if !link.up {
        lines.push("down".into());
    }
    lines.join("\n")
}

pub fn render(live: &Live) -> String {
    let mut out = String::from("graph topology {\n  compound=true;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n  edge [fontname=\"monospace\", fontsize=9];\n");
    let mut edges = Vec::new();
    for (i, ns) in live.namespaces.iter().enumerate() {
        // lo with nothing of its own says nothing about the topology.
        let drawn: Vec<&LiveLink> = ns.links.iter().filter(|l| !(l.is_loopback() && l.addrs.iter().all(|a| super::kinds::kernel_address(l, a)))).collect();
        if drawn.is_empty() {
            continue;
        }
        writeln!(out, "  subgraph cluster_{i} {{\n    label={};\n    style=rounded;", quote(&format!("netns {}", ns.name))).unwrap();
        for link in drawn {
            let shape = if link.kind.as_deref() == Some("bridge") { ", shape=ellipse, style=filled, fillcolor=\"#eeeeee\"" } else { "" };
            writeln!(out, "    {} [label={}{shape}];", id(&ns.name, &link.name), quote(&label(link))).unwrap();
            if let Some(Peer::In { ns: peer_ns, name }) = &link.peer {
                // Each pair once: from the end that sorts first.
                if (ns.name.as_str(), link.name.as_str()) < (peer_ns.as_str(), name.as_str()) && live.namespaces.iter().any(|n| n.name == *peer_ns) {
                    edges.push(format!("  {} -- {} [label=\"veth\", penwidth=2];", id(&ns.name, &link.name), id(peer_ns, name)));
                }
            }
            if let Some(master) = &link.master {
                edges.push(format!("  {} -- {} [style=dashed, label=\"port\"];", id(&ns.name, &link.name), id(&ns.name, master)));
            }
            if let Some(lower) = &link.lower {
                edges.push(format!("  {} -- {} [style=dotted, label={}];", id(&ns.name, &link.name), id(&ns.name, lower), quote(link.kind.as_deref().unwrap_or("on"))));
            }
        }
        out.push_str("  }\n");
    }
    for e in edges {
        out.push_str(&e);
        out.push('\n');
    }
    out.push_str("}\n");
    out
}
