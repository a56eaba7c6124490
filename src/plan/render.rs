//! Plans as text (each line traced to its source) and JSON; Graphviz dot in render_dot.rs.

use super::action::*;
use super::Plan;
use crate::model::{Desired, Expect, NsOrigin};
use crate::source::SourceMap;
use std::fmt::Write as _;

fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn attrs_text(a: &LinkAttrs) -> String {
    let mut parts = vec![if a.up { "up" } else { "down" }.to_string()];
    if let Some(m) = a.mtu {
        parts.push(format!("mtu {m}"));
    }
    if let Some(m) = &a.mac {
        parts.push(format!("mac {}", mac_text(m)));
    }
    if let Some(m) = &a.master {
        parts.push(format!("master {m}"));
    }
    parts.join(", ")
}

fn table_text(t: u32) -> String {
    match t {
        crate::model::TABLE_MAIN => "main".into(),
        crate::model::TABLE_LOCAL => "local".into(),
        crate::model::TABLE_DEFAULT => "default".into(),
        n => n.to_string(),
    }
}

pub fn route_text(r: &RouteSpec) -> String {
    let mut s = match r.dest {
        ipnet::IpNet::V4(d) if d.prefix_len() == 0 => "default".to_string(),
        ipnet::IpNet::V6(d) if d.prefix_len() == 0 => "default (v6)".to_string(),
        d => d.to_string(),
    };
    if r.kind != crate::model::RouteKind::Unicast {
        s = format!("{} {s}", r.kind.word());
    }
    if let Some(v) = r.via {
        write!(s, " via {v}").unwrap();
    }
    if let Some(d) = &r.dev {
        write!(s, " dev {d}").unwrap();
    }
    if let Some(src) = r.src {
        write!(s, " src {src}").unwrap();
    }
    if let Some(m) = r.metric {
        write!(s, " metric {m}").unwrap();
    }
    if r.table != crate::model::TABLE_MAIN {
        write!(s, " table {}", table_text(r.table)).unwrap();
    }
    if r.onlink {
        s.push_str(" onlink");
    }
    for hop in &r.nexthops {
        write!(s, " nexthop via {}", hop.via).unwrap();
        if let Some(d) = &hop.dev {
            write!(s, " dev {d}").unwrap();
        }
        write!(s, " weight {}", hop.weight).unwrap();
    }
    if let Some(m) = r.mtu {
        write!(s, " mtu {m}").unwrap();
    }
    if let Some(m) = r.advmss {
        write!(s, " advmss {m}").unwrap();
    }
    if let Some(scope) = r.scope {
        write!(s, " scope {scope}").unwrap();
    }
    if let Some(p) = r.proto {
        write!(s, " proto {p}").unwrap();
    }
    s
}

/// A rule's port, TOS, DSCP and flow label selectors in the script's words (which are
/// also `ip rule`'s): `sport 1000-1005`, `sport 0xf00/0xff00`, `tos 0x10`, `dscp 63`,
/// `dscp 0xf/0xf`, `flowlabel 0xfffff`, `flowlabel 0x8000/0x8000`.
pub fn rule_match_words(r: &RuleSpec) -> Vec<String> {
    let mut words = Vec::new();
    for (word, range, mask) in [("sport", r.sport, r.sport_mask), ("dport", r.dport, r.dport_mask)] {
        match (range, mask) {
            (Some((a, _)), Some(m)) => words.push(format!("{word} {a:#x}/{m:#x}")),
            (Some((a, b)), None) if a == b => words.push(format!("{word} {a}")),
            (Some((a, b)), None) => words.push(format!("{word} {a}-{b}")),
            (None, _) => {}
        }
    }
    if let Some(t) = r.tos {
        words.push(format!("tos {t:#04x}"));
    }
    match r.dscp {
        Some((d, 0x3f)) => words.push(format!("dscp {d}")),
        Some((d, m)) => words.push(format!("dscp {d:#x}/{m:#x}")),
        None => {}
    }
    match r.flowlabel {
        Some((l, 0xfffff)) => words.push(format!("flowlabel {l:#x}")),
        Some((l, m)) => words.push(format!("flowlabel {l:#x}/{m:#x}")),
        None => {}
    }
    words
}

pub fn rule_text(r: &RuleSpec) -> String {
    let mut s = String::new();
    if let Some(p) = r.priority {
        write!(s, "priority {p} ").unwrap();
    }
    if let Some(f) = r.from {
        write!(s, "from {} ", if f.prefix_len() == f.max_prefix_len() { f.addr().to_string() } else { f.to_string() }).unwrap();
    }
    if let Some(t) = r.to {
        write!(s, "to {} ", if t.prefix_len() == t.max_prefix_len() { t.addr().to_string() } else { t.to_string() }).unwrap();
    }
    if let Some(i) = &r.iif {
        write!(s, "iif {i} ").unwrap();
    }
    if let Some(o) = &r.oif {
        write!(s, "oif {o} ").unwrap();
    }
    if let Some(m) = r.fwmark {
        match r.fwmask {
            Some(mask) => write!(s, "fwmark {m:#x}/{mask:#x} ").unwrap(),
            None => write!(s, "fwmark {m:#x} ").unwrap(),
        }
    }
    if let Some((a, b)) = r.uidrange {
        write!(s, "uidrange {a}-{b} ").unwrap();
    }
    if let Some(p) = r.ipproto {
        match p {
            6 => s.push_str("ipproto tcp "),
            17 => s.push_str("ipproto udp "),
            1 => s.push_str("ipproto icmp "),
            58 => s.push_str("ipproto ipv6-icmp "),
            n => write!(s, "ipproto {n} ").unwrap(),
        }
    }
    for word in rule_match_words(r) {
        write!(s, "{word} ").unwrap();
    }
    if s.is_empty() {
        s.push_str("from all ");
    }
    write!(s, "lookup {}", table_text(r.table)).unwrap();
    s
}

fn qdisc_text(q: &QdiscSpec) -> String {
    match q {
        QdiscSpec::Tbf(t) => format!("tbf rate {} {}", t.rate, t.option_words()),
        QdiscSpec::Htb { default_class, r2q, direct_qlen } => format!("htb default {default_class:x}{}", crate::plan::action::htb_option_words(*r2q, *direct_qlen)),
        QdiscSpec::Netem(n) => {
            let mut s = format!("netem delay {}", n.delay);
            if let Some(j) = n.jitter {
                write!(s, " {j}").unwrap();
            }
            if let Some(l) = n.loss {
                write!(s, " loss {l}").unwrap();
            }
            if let Some(r) = n.rate {
                write!(s, " rate {r}").unwrap();
            }
            s.push_str(&n.more_words());
            s
        }
        QdiscSpec::Ingress => "ingress".into(),
        QdiscSpec::Clsact => "clsact".into(),
    }
}

fn filter_text(f: &FilterSpec) -> String {
    match f {
        FilterSpec::U32 { ingress, prio, proto, src, dst, sport, dport, flowid, handle, action, link, hashkey, raw, ht } => {
            let mut s = if *ingress { format!("ingress u32 prio {prio}") } else { format!("u32 prio {prio}") };
            if let Some(h) = handle {
                write!(s, " handle ::{h:x}").unwrap();
            }
            if let Some(place) = ht {
                write!(s, " ht {:x}:{:x}:", place.table, place.bucket).unwrap();
            }
            if let Some(table) = link {
                write!(s, " link {table:x}:").unwrap();
            }
            if let Some(key) = hashkey {
                write!(s, " hashkey mask 0x{:08x} at {}", key.mask, key.at).unwrap();
            }
            if let Some(p) = proto {
                write!(s, " match ip protocol {}", p.number()).unwrap();
            }
            if let Some(p) = src {
                write!(s, " match ip src {p}").unwrap();
            }
            if let Some(p) = dst {
                write!(s, " match ip dst {p}").unwrap();
            }
            if let Some(p) = sport {
                write!(s, " match ip sport {p}").unwrap();
            }
            if let Some(p) = dport {
                write!(s, " match ip dport {p}").unwrap();
            }
            for key in raw {
                write!(s, " match u32 0x{:08x} 0x{:08x} at {}", key.val, key.mask, key.off).unwrap();
            }
            if let Some(flowid) = flowid {
                write!(s, " flowid 1:{flowid:x}").unwrap();
            }
            if let Some(v) = action {
                write!(s, " action {}", v.word()).unwrap();
            }
            s
        }
        FilterSpec::MirredToIfb { ifb } => format!("u32 match u32 0 0 action mirred egress redirect dev {ifb}"),
        FilterSpec::U32Table { prio, table, divisor } => format!("ingress u32 prio {prio} handle {table:x}: divisor {divisor}"),
    }
}

/// One line, in iproute2's words where it has them.
pub fn describe(action: &Action) -> String {
    match action {
        Action::CreateNetns { ns } => format!("create netns {ns}"),
        Action::DeleteNetns { ns } => format!("delete netns {ns}"),
        Action::CreateLink { ns, name, kind, attrs } => match kind {
            LinkKind::Veth { peer_ns, peer_name, peer_attrs } => {
                format!("create veth {ns}.{name} <-> {peer_ns}.{peer_name} ({}; peer {})", attrs_text(attrs), attrs_text(peer_attrs))
            }
            LinkKind::Bridge => format!("create bridge {ns}.{name} ({})", attrs_text(attrs)),
            LinkKind::Dummy => format!("create dummy {ns}.{name} ({})", attrs_text(attrs)),
            LinkKind::Vrf { table } => format!("create vrf {ns}.{name} table {table} ({})", attrs_text(attrs)),
            LinkKind::Vlan { parent, id, protocol } => {
                let proto = match protocol {
                    crate::model::VlanProtocol::Ieee8021Q => String::new(),
                    p => format!(" protocol {}", p.word()),
                };
                format!("create vlan {ns}.{name} on {parent} id {id}{proto} ({})", attrs_text(attrs))
            }
            LinkKind::Tunnel { tunnel, params } => format!("create {} {ns}.{name}{} ({})", tunnel.word(), params.ip_words(), attrs_text(attrs)),
            LinkKind::Ipvlan { parent, mode, flag } => {
                format!("create ipvlan {ns}.{name} on {parent} mode {} {} ({})", mode.word(), flag.word(), attrs_text(attrs))
            }
            LinkKind::Macvlan { parent, mode } => {
                format!("create macvlan {ns}.{name} on {parent} mode {} ({})", format!("{mode:?}").to_lowercase(), attrs_text(attrs))
            }
            LinkKind::Vxlan { vni, remote, group, local, dev, port } => {
                let mut s = format!("create vxlan {ns}.{name} id {vni}");
                if let Some(r) = remote {
                    write!(s, " remote {r}").unwrap();
                }
                if let Some(g) = group {
                    write!(s, " group {g}").unwrap();
                }
                if let Some(l) = local {
                    write!(s, " local {l}").unwrap();
                }
                if let Some(d) = dev {
                    write!(s, " dev {d}").unwrap();
                }
                if let Some(p) = port {
                    write!(s, " dstport {p}").unwrap();
                }
                write!(s, " ({})", attrs_text(attrs)).unwrap();
                s
            }
            LinkKind::Ifb => format!("create ifb {ns}.{name} ({})", attrs_text(attrs)),
        },
        Action::DeleteLink { ns, name } => format!("delete link {ns}.{name}"),
        Action::ChangeLink { ns, name, kind } => match kind {
            LinkKind::Ipvlan { mode, flag, .. } => format!("set ipvlan {ns}.{name} mode {} {}", mode.word(), flag.word()),
            LinkKind::Tunnel { tunnel, params } => format!("set {} {ns}.{name}{}", tunnel.word(), params.ip_words()),
            _ => format!("change link {ns}.{name}"),
        },
        Action::SetLink { ns, name, set } => {
            let mut parts = Vec::new();
            if let Some(up) = set.up {
                parts.push(if up { "up".to_string() } else { "down".to_string() });
            }
            if let Some(m) = set.mtu {
                parts.push(format!("mtu {m}"));
            }
            if let Some(m) = &set.mac {
                parts.push(format!("address {}", mac_text(m)));
            }
            match &set.master {
                Some(Some(m)) => parts.push(format!("master {m}")),
                Some(None) => parts.push("nomaster".to_string()),
                None => {}
            }
            format!("set link {ns}.{name} {}", parts.join(" "))
        }
        Action::AddAddr { ns, dev, addr } => format!("add address {addr} to {ns}.{dev}"),
        Action::DelAddr { ns, dev, addr } => format!("delete address {addr} from {ns}.{dev}"),
        Action::AddRoute { ns, route } => format!("add route {} in {ns}", route_text(route)),
        Action::DelRoute { ns, route } => format!("delete route {} in {ns}", route_text(route)),
        Action::AddRule { ns, rule } => format!("add rule {} in {ns}", rule_text(rule)),
        Action::DelRule { ns, rule } => format!("delete rule {} in {ns}", rule_text(rule)),
        Action::ReplaceQdisc { ns, dev, qdisc } => {
            let place = match qdisc.parent() {
                QdiscParent::Root => "root handle 1:",
                QdiscParent::Ingress => "ingress handle ffff:",
                QdiscParent::Clsact => "clsact",
            };
            format!("set qdisc {ns}.{dev} {place} {}", qdisc_text(qdisc))
        }
        Action::DelQdisc { ns, dev, parent } => format!("delete qdisc {ns}.{dev} {}", format!("{parent:?}").to_lowercase()),
        Action::ReplaceClass { ns, dev, class } => {
            let parent = class.parent.map(|p| format!("1:{p:x}")).unwrap_or_else(|| "1:".into());
            let mut s = format!("set class {ns}.{dev} parent {parent} classid 1:{:x} htb rate {} ceil {}", class.id, class.rate, class.ceil);
            if let Some(p) = class.prio {
                write!(s, " prio {p}").unwrap();
            }
            s.push_str(&class.option_words());
            s
        }
        Action::DelClass { ns, dev, id } => format!("delete class {ns}.{dev} classid 1:{id:x}"),
        Action::AddFilter { ns, dev, filter } => format!("add filter {ns}.{dev} {}", filter_text(filter)),
        Action::DelFilter { ns, dev, filter } => format!("delete filter {ns}.{dev} {}", filter_text(filter)),
        Action::SetSysctl { ns, key, value } => format!("set sysctl {key} = {value} in {ns}"),
        Action::AttachBpf { ns, dev, direction, prio, handle, program } => {
            let handle = handle.map(|h| format!(" handle {h}")).unwrap_or_default();
            format!("attach bpf {} to {ns}.{dev} {} prio {prio}{handle} (clsact, direct-action)", bpf_source_text(program), direction_word(*direction))
        }
        Action::DetachBpf { ns, dev, direction, prio, .. } => format!("detach bpf from {ns}.{dev} {} prio {prio}", direction_word(*direction)),
        Action::AttachXdp { ns, dev, mode, program, .. } => format!("attach xdp {} to {ns}.{dev}{}", bpf_source_text(program), xdp_mode_text(*mode)),
        Action::DetachXdp { ns, dev, mode, .. } => format!("detach xdp from {ns}.{dev}{}", xdp_mode_text(*mode)),
        Action::SetFirewall { ns, table } => format!("set firewall in {ns}: {}", table.summary()),
        Action::DeleteFirewall { ns } => format!("delete firewall in {ns}: table inet {}", crate::plan::firewall::TABLE),
    }
}

fn expect_text(e: &Expect) -> String {
    let mut s = format!("expect {} {} {}", e.ns.node, format!("{:?}", e.kind).to_lowercase(), e.addr.node);
    if let Some(p) = &e.port {
        write!(s, " port {}", p.node).unwrap();
    }
    let within = e.within.as_ref().map(|w| w.node).unwrap_or(crate::model::EXPECT_DEFAULT_WITHIN);
    write!(s, " within {within}").unwrap();
    s
}

/// The readable plan: numbered operations, each with the place of its statement.
pub fn render_text(plan: &Plan, desired: &Desired, sources: &SourceMap) -> String {
    let expects = &desired.expects;
    if plan.is_empty() && expects.is_empty() {
        return "up to date: nothing to do\n".to_string();
    }
    let namespaces: std::collections::BTreeSet<&str> = plan.ops.iter().map(|o| o.action.namespace()).collect();
    let mut out = if plan.ops.is_empty() && (!plan.drop_netns.is_empty() || !plan.handover.is_empty()) {
        String::from("plan: no operation inside the transaction\n")
    } else if plan.ops.is_empty() {
        // Only expectations: nothing to change, they are still checked.
        "up to date: nothing to do\n".to_string()
    } else {
        format!(
            "plan: {} operation{} in {} namespace{}\n",
            plan.ops.len(),
            if plan.ops.len() == 1 { "" } else { "s" },
            namespaces.len(),
            if namespaces.len() == 1 { "" } else { "s" }
        )
    };
    let width = plan.ops.len().to_string().len();
    let lines: Vec<String> = plan
        .ops
        .iter()
        .map(|op| match &op.action {
            Action::CreateNetns { ns } if desired.namespaces.get(ns).is_some_and(|n| n.origin == NsOrigin::Implicit) => {
                format!("create netns {ns} (implied: named as a veth peer)")
            }
            Action::SetFirewall { ns, .. } | Action::DeleteFirewall { ns } => match super::firewall_diff::op_change(plan, op, desired) {
                Some(change) => change.headline(ns),
                None => describe(&op.action),
            },
            action => describe(action),
        })
        .collect();
    let text_width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0).min(72);
    for (i, (op, line)) in plan.ops.iter().zip(&lines).enumerate() {
        let place = if op.removes.is_some() { "no longer declared".to_string() } else { sources.location(op.origin) };
        writeln!(out, "  {:>width$}. {line:<text_width$}  # {place}", i + 1).unwrap();
        if let Some(change) = super::firewall_diff::op_change(plan, op, desired) {
            // Each rule the op adds, changes or removes, under it, with its own line.
            let indent = " ".repeat(width + 6);
            for (text, span) in change.lines() {
                match span {
                    Some(span) => writeln!(out, "{indent}{text:<w$}  # {}", sources.location(span), w = text_width.saturating_sub(2)).unwrap(),
                    None => writeln!(out, "{indent}{text}").unwrap(),
                }
            }
        }
    }
    for h in &plan.handover {
        let what = h.undo.first().map(describe).unwrap_or_default();
        writeln!(out, "  - not given back ({what}): {} changed it since, and will give back the original value", h.script).unwrap();
    }
    if !plan.drop_netns.is_empty() {
        writeln!(out, "then, once committed, delete what the script no longer declares:").unwrap();
        for action in &plan.drop_links {
            writeln!(out, "  - {}", describe(action)).unwrap();
        }
        for ns in &plan.drop_netns {
            writeln!(out, "  - delete netns {ns} (and everything in it)").unwrap();
        }
    }
    if !expects.is_empty() {
        writeln!(out, "then check:").unwrap();
        for e in expects {
            writeln!(out, "  - {:<text_width$}  # {}", expect_text(e), sources.location(e.span)).unwrap();
        }
    }
    out
}

#[derive(serde::Serialize)]
struct JsonOp<'a> {
    index: usize,
    description: String,
    #[serde(flatten)]
    action: &'a Action,
    location: String,
    deps: &'a [usize],
    undo: Vec<String>,
    /// A firewall op's changes, rule by rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    firewall_changes: Option<serde_json::Value>,
}

#[derive(serde::Serialize)]
struct JsonExpect {
    description: String,
    location: String,
}

#[derive(serde::Serialize)]
struct JsonPlan<'a> {
    operations: Vec<JsonOp<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    delete_namespaces_after_commit: &'a [String],
    expectations: Vec<JsonExpect>,
}

pub fn render_json(plan: &Plan, desired: &Desired, sources: &SourceMap) -> String {
    let expects = &desired.expects;
    let operations = plan
        .ops
        .iter()
        .enumerate()
        .map(|(index, op)| JsonOp {
            index,
            description: describe(&op.action),
            action: &op.action,
            location: if op.removes.is_some() { "no longer declared".to_string() } else { sources.location(op.origin) },
            deps: &op.deps,
            undo: op.undo.iter().map(describe).collect(),
            firewall_changes: super::firewall_diff::op_change(plan, op, desired).map(|c| c.json(sources)),
        })
        .collect();
    let expectations = expects.iter().map(|e| JsonExpect { description: expect_text(e), location: sources.location(e.span) }).collect();
    let mut s = serde_json::to_string_pretty(&JsonPlan { operations, delete_namespaces_after_commit: &plan.drop_netns, expectations }).expect("plans serialize");
    s.push('\n');
    s
}

fn direction_word(d: crate::model::BpfDirection) -> &'static str {
    match d {
        crate::model::BpfDirection::Ingress => "ingress",
        crate::model::BpfDirection::Egress => "egress",
    }
}

fn xdp_mode_text(mode: Option<crate::model::XdpMode>) -> &'static str {
    match mode {
        Some(crate::model::XdpMode::Generic) => " mode generic",
        Some(crate::model::XdpMode::Native) => " mode native",
        None => "",
    }
}

fn bpf_source_text(source: &crate::plan::action::BpfSource) -> String {
    match source {
        crate::plan::action::BpfSource::Object { path, program } => {
            format!("\"{}\" section {} ({}, {})", path.display(), program.section, program.function, program.hash)
        }
        crate::plan::action::BpfSource::Loaded { id, .. } => format!("program id {id}"),
        crate::plan::action::BpfSource::Code { code, rules, program, .. } => {
            format!("inline rules ({rules} rule{}, {} instructions, {})", if *rules == 1 { "" } else { "s" }, code.len() / 16, program.hash)
        }
    }
}

