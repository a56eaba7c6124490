//! `netscript export`: the live state as a script that recreates it.
//!
//! One block per namespace (`host < … >` first, when exported), each link declared once
//! in card form with its attributes under it (`veth v0 <-> ns2.v1`, then `addr …`),
//! then routes, rules, `forward` and sysctls. A veth pair is written once, by the end
//! that comes first (namespaces in export order, then names); the other end is
//! configured with `link NAME` in its own block when it has anything to configure.
//! Routing tables named in iproute2's rt_tables are defined (`table NAME = N`) and used
//! by name.
//!
//! Left out, as the kernel makes them by itself: lo's own addresses (127.0.0.1/8,
//! ::1), IPv6 link-local addresses, routes of protocol kernel, redirect or ra
//! (connected routes, router advertisements), the default rules, default qdiscs
//! (handle 0:), the ifb device and redirect of a `shape ingress`. What a script cannot
//! declare (a tun device, a rule with an ipproto selector, a pfifo qdisc, an eBPF
//! program whose object file is unknown) is written as a comment saying so, and
//! whatever names an interface that is not declared becomes a comment too, so that the
//! script always checks.

use super::kinds::KINDS;
use super::{Live, LiveLink, LiveNs, Peer};
use crate::model::HOST;
use crate::plan::action::{QdiscParent, QdiscSpec};
use std::collections::{BTreeSet, HashMap, HashSet};

/// How a link appears in its namespace's block.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decl {
    /// A statement that creates it (`veth …`, `bridge …`, `macvlan …`, `vxlan …`).
    Create(String),
    /// Declared elsewhere (a veth's other end) or existing (`link NAME`, written only
    /// when it has attributes, unless `always`).
    Refer { always: bool },
    /// Not declared: a comment says why.
    Comment(String),
    /// Not written at all (lo with nothing to say, the ifb of `shape ingress`).
    Skip,
}

/// What the statements of one namespace's block may refer to.
pub struct Script<'a> {
    pub live: &'a Live,
    pub ns: &'a LiveNs,
    declared: HashSet<String>,
    created: HashSet<String>,
    tables: BTreeSet<u32>,
}

impl<'a> Script<'a> {
    /// Whether `name` is an interface the block declares (or lo, always valid).
    pub fn declares(&self, name: &str) -> bool {
        name == "lo" || self.declared.contains(name)
    }

    /// Whether the script creates the link (else it exists, like a physical device).
    pub fn is_created(&self, link: &LiveLink) -> bool {
        self.created.contains(&link.name)
    }

    /// A table as the script names it; named ones are defined at the top.
    pub fn table(&mut self, id: u32) -> String {
        match id {
            crate::model::TABLE_MAIN => "main".into(),
            crate::model::TABLE_LOCAL => "local".into(),
            crate::model::TABLE_DEFAULT => "default".into(),
            n => match self.live.table_names.get(&n) {
                Some(name) if valid_table_name(name) && !(253..=255).contains(&n) => {
                    self.tables.insert(n);
                    name.clone()
                }
                _ => n.to_string(),
            },
        }
    }

    /// The tbf of a `shape ingress` on `dev`: an ingress redirect to the ifb netscript
    /// names for it, which has that tbf at its root.
    pub fn ingress_shape(&self, dev: &str) -> Option<crate::model::Tbf> {
        let ifb = crate::plan::ifb_name(dev);
        if !self.ns.redirects.iter().any(|(d, target)| d == dev && *target == ifb) {
            return None;
        }
        self.ns.qdiscs.iter().find_map(|q| match (&q.spec, q.parent) {
            (Some(QdiscSpec::Tbf(t)), QdiscParent::Root) if q.dev == ifb => Some(t.clone()),
            _ => None,
        })
    }

    /// Whether `name` is the ifb of a `shape ingress` (written as part of it).
    pub fn is_ingress_ifb(&self, name: &str) -> bool {
        self.ns.redirects.iter().any(|(dev, ifb)| ifb == name && self.ingress_shape(dev).is_some())
    }

    /// The MTU to write: `None` where it is what the link gets anyway.
    pub fn mtu_to_write(&self, link: &LiveLink) -> Option<u32> {
        let by_name = |n: &str| self.ns.links.iter().find(|l| l.name == n);
        let default = match link.kind.as_deref() {
            _ if link.is_loopback() => 65536,
            Some("veth") | Some("ifb") => 1500,
            // The kernel's own for a VRF device (IP6_MAX_MTU).
            Some("vrf") => 65575,
            Some("bridge") => self.ns.links.iter().filter(|l| l.master.as_deref() == Some(link.name.as_str())).map(|l| l.mtu).min().unwrap_or(1500),
            Some("macvlan") | Some("vlan") | Some("ipvlan") => link.lower.as_deref().and_then(by_name).map_or(1500, |p| p.mtu),
            // Less the outer IPv4 header (and gre's, with its key).
            Some("ipip") => 1480,
            Some("gre") => 1476 - if link.tunnel.is_some_and(|t| t.key.is_some()) { 4 } else { 0 },
            Some("vxlan") => {
                let v6 = link.vxlan.as_ref().is_some_and(|v| v.remote.or(v.group).or(v.local).is_some_and(|a| a.is_ipv6()));
                // On a lower device: its MTU less the encapsulation; on none, 1500.
                link.lower.as_deref().and_then(by_name).map_or(1500, |p| p.mtu - if v6 { 70 } else { 50 })
            }
            _ => 1500,
        };
        (link.mtu != default).then_some(link.mtu)
    }
}

/// A name a `table NAME = N` can define: letters, digits, `_`, starting with a letter or
/// `_`.
fn valid_table_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn valid_netns_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name != HOST && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn valid_link_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 15 && name != "." && name != ".." && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

/// Links in the order a block declares them: existing devices, bridges, veths,
/// macvlans, vxlans, the rest; by name within each.
fn order(link: &LiveLink) -> (u8, String) {
    let group = match link.kind.as_deref() {
        None => 0,
        Some("bridge") | Some("vrf") => 1,
        Some("veth") => 2,
        Some("macvlan") | Some("vlan") | Some("ipvlan") => 3,
        Some("vxlan") => 4,
        _ => 5,
    };
    (group, link.name.clone())
}

/// The script that recreates `live`.
pub fn export(live: &Live) -> String {
    let position: HashMap<&str, usize> = live.namespaces.iter().enumerate().map(|(i, ns)| (ns.name.as_str(), i)).collect();
    let mut tables = BTreeSet::new();
    let mut blocks = Vec::new();
    for (i, ns) in live.namespaces.iter().enumerate() {
        let (lines, used) = block(live, ns, i, &position);
        tables.extend(used);
        blocks.push((ns, lines));
    }
    let mut out = String::new();
    let names: Vec<&str> = live.namespaces.iter().map(|n| n.name.as_str()).collect();
    out.push_str(&format!("# netscript export ({} {}) of: {}\n", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"), if names.is_empty() { "nothing".to_string() } else { names.join(", ") }));
    out.push_str("# `netscript run` of this file recreates them. Left out, as the kernel makes them itself:\n");
    out.push_str("# lo's own addresses, IPv6 link-local addresses, connected (proto kernel) routes, the\n");
    out.push_str("# default rules and qdiscs. What a script cannot declare is a comment.\n");
    if !live.mac_origins {
        out.push_str("# MAC addresses: where they come from could not be read; none is written.\n");
    }
    if !tables.is_empty() {
        out.push('\n');
        for id in &tables {
            out.push_str(&format!("table {} = {id}\n", live.table_names[id]));
        }
    }
    for (ns, lines) in blocks {
        out.push('\n');
        let head = if ns.name == HOST { "host".to_string() } else { format!("netns {}", ns.name) };
        if !valid_netns_name(&ns.name) && ns.name != HOST {
            out.push_str(&format!("# netns {}: not a name a script can give a namespace (letters, digits, _ and - only); left out\n", ns.name));
            continue;
        }
        if lines.is_empty() {
            if ns.name != HOST {
                out.push_str(&format!("{head}\n"));
            }
            continue;
        }
        out.push_str(&format!("{head} <\n"));
        for line in lines {
            out.push_str(&format!("  {line}\n"));
        }
        out.push_str(">\n");
    }
    out
}

/// The lines of one namespace's block (unindented), and the named tables they use.
fn block(live: &Live, ns: &LiveNs, me: usize, position: &HashMap<&str, usize>) -> (Vec<String>, BTreeSet<u32>) {
    let mut script = Script { live, ns, declared: HashSet::new(), created: HashSet::new(), tables: BTreeSet::new() };
    let mut links: Vec<&LiveLink> = ns.links.iter().collect();
    links.sort_by_key(|l| order(l));
    // First every declaration: references (master, dev, iif) may go either way.
    let mut decls: Vec<(&LiveLink, Decl)> = Vec::new();
    for link in &links {
        let decl = declaration(&script, link, me, position);
        match &decl {
            Decl::Create(_) => {
                script.declared.insert(link.name.clone());
                script.created.insert(link.name.clone());
            }
            Decl::Refer { .. } => {
                script.declared.insert(link.name.clone());
                if link.kind.is_some() || link.is_loopback() {
                    // A veth's other end, created by its pair's statement; lo of a
                    // namespace the script makes.
                    if link.kind.is_some() || ns.name != HOST {
                        script.created.insert(link.name.clone());
                    }
                }
            }
            _ => {}
        }
        decls.push((link, decl));
    }
    // Now that every name is known: what refers to something undeclared is a comment.
    for (link, decl) in &mut decls {
        if let Decl::Create(statement) = decl
            && let Some(lower) = &link.lower
            && !script.declares(lower)
        {
            *decl = Decl::Comment(format!("{statement}   # {lower} is not an interface this export declares"));
            script.declared.remove(&link.name);
            script.created.remove(&link.name);
        }
    }
    let mut out = Vec::new();
    for (link, decl) in &decls {
        let mut attrs = Vec::new();
        if matches!(decl, Decl::Create(_) | Decl::Refer { .. }) {
            for kind in KINDS {
                kind.link_script(&mut script, link, &mut attrs);
            }
        }
        match decl {
            Decl::Create(statement) => out.push(statement.clone()),
            Decl::Refer { always } if *always || !attrs.is_empty() => out.push(format!("link {}", link.name)),
            Decl::Refer { .. } | Decl::Skip => continue,
            Decl::Comment(text) => {
                out.push(format!("# {text}"));
                continue;
            }
        }
        out.extend(attrs.into_iter().map(|a| format!("  {a}")));
    }
    for kind in KINDS {
        kind.script(&mut script, &mut out);
    }
    (out, script.tables)
}

/// How `link` appears in the block of namespace number `me`.
fn declaration(script: &Script, link: &LiveLink, me: usize, position: &HashMap<&str, usize>) -> Decl {
    let name = &link.name;
    if !valid_link_name(name) {
        return Decl::Comment(format!("{name}: not a name a script can give an interface; left out"));
    }
    if link.is_loopback() {
        return Decl::Refer { always: false };
    }
    match link.kind.as_deref() {
        None => Decl::Refer { always: true },
        Some("bridge") => Decl::Create(format!("bridge {name}")),
        Some("dummy") => Decl::Create(format!("dummy {name}")),
        Some("vrf") => match link.vrf_table {
            Some(table) => Decl::Create(format!("vrf {name} table {table}")),
            None => Decl::Comment(format!("vrf {name}: its table could not be read; left out")),
        },
        Some("veth") => match &link.peer {
            Some(Peer::In { ns: peer_ns, name: peer }) => {
                let theirs = position.get(peer_ns.as_str()).copied();
                let mine_first = match theirs {
                    None => true,
                    Some(t) => (me, name.as_str()) < (t, peer.as_str()),
                };
                if !mine_first {
                    return Decl::Refer { always: false };
                }
                let target = if *peer_ns == script.ns.name {
                    peer.clone()
                } else {
                    format!("{peer_ns}.{peer}")
                };
                if !valid_link_name(peer) || (peer_ns != HOST && !valid_netns_name(peer_ns)) {
                    return Decl::Comment(format!("veth {name} <-> {target}: its other end's name cannot be written in a script; left out"));
                }
                Decl::Create(format!("veth {name} <-> {target}"))
            }
            _ => Decl::Comment(format!("veth {name}: its other end is in a namespace without a name (or could not be found); netscript cannot make half a pair; left out")),
        },
        Some("macvlan") => match (&link.lower, link.macvlan_mode) {
            (Some(parent), Some(mode)) => {
                Decl::Create(format!("macvlan {name} on {parent} mode {}", mode.word()))
            }
            _ => Decl::Comment(format!("macvlan {name}: its parent or mode is not one a script can name (source mode, or a parent in another namespace); left out")),
        },
        Some("vlan") => match (&link.lower, link.vlan) {
            (Some(parent), Some((id, protocol))) => Decl::Create(match protocol {
                crate::model::VlanProtocol::Ieee8021Q => format!("vlan {name} on {parent} id {id}"),
                p => format!("vlan {name} on {parent} id {id} protocol {}", p.word()),
            }),
            _ => Decl::Comment(format!("vlan {name}: its parent is in another namespace (or its id could not be read); left out")),
        },
        // The kernel's own tunnel devices, in every namespace once its module is loaded.
        kind if crate::model::TunnelKind::is_fallback(name, kind) => Decl::Skip,
        Some(kind @ ("ipip" | "gre")) => match link.tunnel {
            Some(t) if t.remote.is_some() => Decl::Create(format!("{kind} {name}{}", t.ip_words())),
            _ => Decl::Comment(format!("{kind} {name}: a tunnel without a remote end, which a script cannot declare; left out")),
        },
        Some("ipvlan") => match (&link.lower, link.ipvlan) {
            (Some(parent), Some((mode, flag))) => Decl::Create(format!("ipvlan {name} on {parent} mode {} {}", mode.word(), flag.word())),
            _ => Decl::Comment(format!("ipvlan {name}: its parent is in another namespace (or its mode is one netscript has no word for); left out")),
        },
        Some("vxlan") => match &link.vxlan {
            Some(v) => {
                let mut s = format!("vxlan {name} id {}", v.vni);
                if let Some(r) = v.remote {
                    s.push_str(&format!(" remote {r}"));
                }
                if let Some(g) = v.group {
                    s.push_str(&format!(" group {g}"));
                }
                if let Some(l) = v.local {
                    s.push_str(&format!(" local {l}"));
                }
                if let Some(d) = &link.lower {
                    s.push_str(&format!(" dev {d}"));
                }
                if let Some(p) = v.port {
                    s.push_str(&format!(" port {p}"));
                }
                Decl::Create(s)
            }
            None => Decl::Comment(format!("vxlan {name}: its parameters could not be read; left out")),
        },
        Some("ifb") if script.is_ingress_ifb(name) => Decl::Skip,
        Some(kind) => Decl::Comment(format!("{name} ({kind}): netscript cannot create a {kind} device; left out, with what refers to it")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{LiveQdisc, LiveRoute, LiveRule, LiveSysctl, MacOrigin, VxlanInfo};
    use crate::plan::action::{RouteSpec, RuleSpec};

    fn link(name: &str, index: u32, kind: Option<&str>) -> LiveLink {
        LiveLink {
            name: name.into(),
            index,
            kind: kind.map(str::to_string),
            up: true,
            mtu: 1500,
            mac: Some([2, 0, 0, 0, 0, index as u8]),
            mac_origin: Some(MacOrigin::Random),
            master: None,
            addrs: Vec::new(),
            peer: None,
            lower: None,
            macvlan_mode: None,
            vxlan: None,
            vrf_table: None,
            vlan: None,
            ipvlan: None,
            tunnel: None,
        }
    }

    fn rule(from: Option<&str>, v6: bool, iif: Option<&str>, priority: u32) -> LiveRule {
        LiveRule {
            spec: RuleSpec { v6, from: from.map(|f| f.parse().unwrap()), to: None, iif: iif.map(str::to_string), oif: None, fwmark: None, fwmask: None, uidrange: None, priority: Some(priority), table: 100, ipproto: None, sport: None, dport: None, tos: None, sport_mask: None, dport_mask: None, dscp: None, flowlabel: None },
            protocol: 0,
            unsupported: Vec::new(),
        }
    }

    /// What a script cannot say becomes a comment, and what refers to it too: the export
    /// always checks and plans.
    #[test]
    fn what_cannot_be_declared_is_a_comment_and_the_rest_checks() {
        let mut ns = LiveNs { name: "a".into(), ..Default::default() };
        let mut tun = link("tun0", 2, Some("tun"));
        tun.addrs.push("10.9.0.1/24".parse().unwrap());
        let mut half = link("v9", 3, Some("veth"));
        half.peer = Some(Peer::Unknown);
        let mut br = link("br0", 4, Some("bridge"));
        br.mtu = 9000;
        let mut port = link("p0", 5, Some("veth"));
        port.peer = Some(Peer::In { ns: "a".into(), name: "q0".into() });
        port.master = Some("br0".into());
        port.mtu = 9000;
        let mut q0 = link("q0", 6, Some("veth"));
        q0.peer = Some(Peer::In { ns: "a".into(), name: "p0".into() });
        q0.up = false;
        let mut vx = link("vx0", 7, Some("vxlan"));
        vx.vxlan = Some(VxlanInfo { vni: 9, remote: None, group: Some("239.1.1.1".parse().unwrap()), local: None, port: Some(8472) });
        vx.lower = Some("tun0".into());
        let mut mv = link("mv0", 8, Some("macvlan"));
        mv.lower = Some("p0".into());
        mv.macvlan_mode = Some(crate::model::MacvlanMode::Vepa);
        mv.mtu = 9000;
        mv.mac_origin = Some(MacOrigin::Set);
        ns.links = vec![tun, half, br, port, q0, vx, mv];
        ns.routes.push(LiveRoute { spec: RouteSpec { dest: "10.10.0.0/16".parse().unwrap(), via: None, dev: Some("tun0".into()), src: None, metric: None, table: 254, onlink: false, kind: Default::default(), mtu: None, advmss: None, scope: None, proto: None, nexthops: Vec::new() }, protocol: 3, scope: 253 });
        ns.routes.push(LiveRoute { spec: RouteSpec { dest: "10.11.0.0/16".parse().unwrap(), via: None, dev: Some("br0".into()), src: None, metric: None, table: 254, onlink: false, kind: Default::default(), mtu: None, advmss: None, scope: None, proto: None, nexthops: Vec::new() }, protocol: 3, scope: 253 });
        ns.routes.push(LiveRoute { spec: RouteSpec { dest: "10.0.0.0/24".parse().unwrap(), via: None, dev: Some("br0".into()), src: None, metric: None, table: 254, onlink: false, kind: Default::default(), mtu: None, advmss: None, scope: None, proto: None, nexthops: Vec::new() }, protocol: 2, scope: 253 });
        ns.rules.push(rule(None, true, None, 10));
        ns.rules.push(rule(Some("10.0.0.0/8"), false, Some("tun0"), 11));
        ns.rules.push(rule(Some("10.0.0.0/8"), false, Some("br0"), 12));
        let mut tos = rule(Some("10.1.0.0/16"), false, None, 13);
        tos.unsupported.push("realms 0/5".into());
        ns.rules.push(tos);
        ns.other_rules.push("14: from 10.2.0.0/16 blackhole".into());
        ns.qdiscs.push(LiveQdisc { dev: "br0".into(), parent: QdiscParent::Root, kind: "pfifo".into(), handle: 0x8001_0000, spec: None });
        ns.sysctls.push(LiveSysctl { key: "net.ipv4.ip_forward".into(), value: "1".into(), default: Some("0".into()) });
        ns.sysctls.push(LiveSysctl { key: "net.ipv6.conf.all.forwarding".into(), value: "0".into(), default: Some("0".into()) });
        ns.sysctls.push(LiveSysctl { key: "net.ipv4.ping_group_range".into(), value: "0\t2147483647".into(), default: Some("1\t0".into()) });
        let live = Live { namespaces: vec![ns], mac_origins: true, ..Default::default() };
        let text = export(&live);
        for line in [
            "  # tun0 (tun): netscript cannot create a tun device; left out, with what refers to it",
            "  # veth v9: its other end is in a namespace without a name",
            // A bridge's MTU follows its ports: 9000, as p0's, needs no `mtu`.
            "  bridge br0\n    # qdisc pfifo root handle 8001: - netscript cannot declare this qdisc; left out",
            "  veth p0 <-> q0\n    mtu 9000\n    master br0",
            "  link q0\n    down",
            "  macvlan mv0 on p0 mode vepa\n    mac 02:00:00:00:00:08",
            "  # vxlan vx0 id 9 group 239.1.1.1 dev tun0 port 8472   # tun0 is not an interface this export declares",
            "  # route 10.10.0.0/16 dev tun0   # dev tun0 is not an interface this export declares",
            "  route 10.11.0.0/16 dev br0",
            "  rule from ::/0 priority 10 lookup 100",
            "  # rule from 10.0.0.0/8 iif tun0 priority 11 lookup 100   # tun0 is not an interface this export declares",
            "  rule from 10.0.0.0/8 iif br0 priority 12 lookup 100",
            "  # rule from 10.1.0.0/16 priority 13 lookup 100   # also realms 0/5: not expressible in a script",
            "  # rule 14: from 10.2.0.0/16 blackhole   # not a table lookup",
            "  sysctl net.ipv4.ip_forward = 1",
            "  sysctl net.ipv4.ping_group_range = \"0\\t2147483647\"",
        ] {
            assert!(text.contains(line), "no {line:?} in\n{text}");
        }
        assert!(!text.contains("route 10.0.0.0/24"), "a kernel route was exported:\n{text}");
        // It checks and plans, with no error and no warning.
        let mut sources = crate::source::SourceMap::new();
        let file = sources.add("export.ns", None, text.clone());
        let checked = crate::check::check(&mut sources, file, &crate::check::FsLoader);
        assert!(checked.diagnostics.is_empty(), "{:?}\n{text}", checked.diagnostics);
        crate::plan::plan(&checked.desired, &crate::plan::Observed::empty()).unwrap_or_else(|d| panic!("{d:?}\n{text}"));
    }
}
