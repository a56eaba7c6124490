//! Long because: one reader per kind of object a script can declare, all over the same
//! per-namespace dumps; splitting them would pass those dumps around.
//!
//! Reading the live state for `show` and `export` ([`crate::live`]): everything a
//! script can declare, in every namespace asked for.
//!
//! What the planner's observer reads ([`Executor::observe`], its full scope: links,
//! addresses, qdiscs, htb classes and filters, ingress redirects, eBPF programs) is
//! completed, on a thread inside each namespace, by what only show and export need:
//! routes of every table with their protocol and scope, rules with their protocol and
//! the selectors a script cannot write, a veth's other end, a macvlan's parent and mode,
//! a vxlan's parameters, the `net.*` sysctls that differ from a new namespace's, and
//! (for export) where each MAC address comes from (`addr_assign_type`, which only sysfs
//! shows: the thread mounts a sysfs of the namespace in a mount namespace of its own).
//!
//! A veth's other end is found by index: the end in namespace X names its peer's index
//! P (`IFLA_LINK`) and whether the peer is in another namespace (`IFLA_LINK_NETNSID`);
//! the peer is the veth of index P that names X's end back. Indexes repeat across
//! namespaces, so when several match, X's namespace id of each candidate's namespace
//! (`RTM_GETNSID`) decides.

use super::{conn, messages, netns, sysctl, ExecError, Executor};
pub mod state;

pub use state::{Live, LiveLink, LiveNs, LiveQdisc, LiveRoute, LiveRule, LiveSysctl, MacOrigin, Peer, VxlanInfo, named_namespaces, read_table_names};
use crate::model::{Desired, Namespace, NsOrigin, HOST};
use crate::plan::action::LinkKind;
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use netlink_packet_route::RouteNetlinkMessage as M;
use std::collections::{BTreeMap, HashMap};

/// What to read besides the state itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Where MAC addresses come from (export): one sysfs mount per namespace.
    pub mac_origins: bool,
    /// Traffic-control counters (`show --stats`).
    pub stats: bool,
}

/// The sysctls shown always: what `forward` sets.
pub const FORWARDING: [&str; 2] = crate::exec::observe::FORWARD_SYSCTLS;

/// Namespaces read at once.
const THREADS: usize = 8;

/// What a namespace's thread reads.
#[derive(Debug, Default)]
struct Extra {
    links: HashMap<String, RawLink>,
    routes: Vec<LiveRoute>,
    rules: Vec<LiveRule>,
    other_rules: Vec<String>,
    sysctls: BTreeMap<String, String>,
    mac_origins: Option<HashMap<String, MacOrigin>>,
}

#[derive(Debug, Default, Clone)]
struct RawLink {
    index: u32,
    kind: Option<String>,
    link: Option<u32>,
    netnsid: Option<i32>,
}

impl Executor {
    /// The live state of namespaces `names` (those that exist; `host` is this one).
    pub fn inventory(&mut self, names: &[String], options: Options) -> Result<Live, ExecError> {
        let mut desired = Desired::default();
        for name in names {
            let origin = if name == HOST { NsOrigin::Host } else { NsOrigin::Declared };
            desired.namespaces.insert(name.clone(), Namespace::new(name.clone(), origin, Default::default()));
        }
        let observed = crate::timing::timed("inventory: observe", || self.observe(&desired))?;
        let present: Vec<String> = names.iter().filter(|n| observed.namespaces.contains_key(*n)).cloned().collect();
        let defaults = crate::timing::timed("inventory: fresh sysctls", || std::thread::scope(|s| s.spawn(fresh_sysctls).join()).map_err(|_| ExecError::Protocol("the sysctl reader panicked".into())))??;
        let mut extras: Vec<Extra> = Vec::new();
        crate::timing::timed("inventory: namespaces", || -> Result<(), ExecError> {
            for chunk in present.chunks(THREADS) {
                let read: Vec<Result<Extra, ExecError>> = std::thread::scope(|s| {
                    let handles: Vec<_> = chunk.iter().map(|name| s.spawn(move || read_extra(name, options.mac_origins))).collect();
                    handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(ExecError::Protocol("a namespace reader panicked".into())))).collect()
                });
                for r in read {
                    extras.push(r?);
                }
            }
            Ok(())
        })?;
        let mut live = Live { table_names: read_table_names(), mac_origins: options.mac_origins, ..Default::default() };
        let mut raw: Vec<HashMap<String, RawLink>> = Vec::new();
        for (name, extra) in present.iter().zip(extras) {
            let seen = &observed.namespaces[name];
            let mut ns = LiveNs { name: name.clone(), id: seen.id, firewall: seen.firewall.clone(), ..Default::default() };
            for l in seen.links.values() {
                // What the kind's own attributes say, as the kernel made the link.
                let (mut macvlan_mode, mut vxlan, mut vrf_table, mut vlan) = (None, None, None, None);
                match &l.made_as {
                    Some(LinkKind::Macvlan { mode, .. }) => macvlan_mode = Some(*mode),
                    Some(LinkKind::Vxlan { vni, remote, group, local, port, .. }) => vxlan = Some(VxlanInfo { vni: *vni, remote: *remote, group: *group, local: *local, port: *port }),
                    Some(LinkKind::Vrf { table }) => vrf_table = Some(*table),
                    Some(LinkKind::Vlan { id, protocol, .. }) => vlan = Some((*id, *protocol)),
                    _ => {}
                }
                ns.links.push(LiveLink {
                    name: l.name.clone(),
                    index: l.index,
                    kind: l.kind.clone(),
                    up: l.up,
                    mtu: l.mtu,
                    mac: l.mac,
                    mac_origin: extra.mac_origins.as_ref().and_then(|m| m.get(&l.name).copied()),
                    master: l.master.clone(),
                    addrs: l.addrs.clone(),
                    peer: None,
                    lower: l.lower.clone(),
                    macvlan_mode,
                    vxlan,
                    vrf_table,
                    vlan,
                    ipvlan: l.ipvlan.as_ref().map(|v| (v.mode, v.flag)),
                    tunnel: l.tunnel,
                });
            }
            ns.links.sort_by_key(|l| l.index);
            ns.routes = extra.routes;
            ns.rules = extra.rules;
            ns.other_rules = extra.other_rules;
            for q in &seen.root_qdiscs {
                if q.handle == 0 {
                    continue;
                }
                let spec = seen.qdiscs.iter().find(|o| o.dev == q.dev && o.spec.parent() == q.parent).map(|o| o.spec.clone());
                ns.qdiscs.push(LiveQdisc { dev: q.dev.clone(), parent: q.parent, kind: q.kind.clone(), handle: q.handle, spec });
            }
            ns.classes = seen.classes.clone();
            ns.filters = seen.filters.clone();
            ns.ingress_filters = seen.ingress_filters.clone();
            ns.redirects = seen.redirects.clone();
            ns.programs = seen.programs.clone();
            for key in FORWARDING {
                if let Some(v) = extra.sysctls.get(key) {
                    ns.sysctls.push(LiveSysctl { key: key.to_string(), value: v.clone(), default: defaults.get(key).cloned() });
                }
            }
            for (key, value) in &extra.sysctls {
                if FORWARDING.contains(&key.as_str()) || defaults.get(key) == Some(value) {
                    continue;
                }
                let default = defaults.get(key).cloned().or_else(|| device_default(key).and_then(|d| extra.sysctls.get(&d).cloned()));
                ns.sysctls.push(LiveSysctl { key: key.clone(), value: value.clone(), default });
            }
            if options.stats {
                ns.tc_stats = Some(self.tc_stats(name)?);
                // Program ids are global: the counter maps are read from here.
                ns.bpf_counters = ns.programs.iter().filter_map(|p| Some((p.id, super::bpf_raw::counters_of_program(p.id)?))).collect();
            }
            raw.push(extra.links);
            live.namespaces.push(ns);
        }
        // A veth's other end may be in a namespace not asked for: their links are read
        // too (links only), to name it.
        let mut all_names = present.clone();
        let mut others: Vec<String> = vec![HOST.to_string()];
        others.extend(named_namespaces());
        others.retain(|n| !present.contains(n));
        for chunk in others.chunks(THREADS) {
            let read: Vec<Option<HashMap<String, RawLink>>> = std::thread::scope(|s| {
                let handles: Vec<_> = chunk.iter().map(|name| s.spawn(move || read_links(name).ok())).collect();
                handles.into_iter().map(|h| h.join().ok().flatten()).collect()
            });
            for (name, links) in chunk.iter().zip(read) {
                if let Some(links) = links {
                    all_names.push(name.clone());
                    raw.push(links);
                }
            }
        }
        let mut found = crate::timing::timed("inventory: peers", || resolve_peers(&all_names, &raw));
        for (i, ns) in live.namespaces.iter_mut().enumerate() {
            for link in &mut ns.links {
                if let Some(peer) = found.remove(&(i, link.name.clone())) {
                    link.peer = Some(peer);
                }
            }
        }
        Ok(live)
    }
}

/// The writable `net.*` sysctls of a new namespace.
fn fresh_sysctls() -> Result<BTreeMap<String, String>, ExecError> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| ExecError::io("cannot make a scratch namespace", &std::io::Error::from(e)))?;
    Ok(scan_sysctls())
}

/// For a per-device key (`net.ipv4.conf.DEV.KEY`, `net.ipv6.neigh.DEV.KEY`), the key a
/// device takes its first value from: the same key under `default`.
fn device_default(key: &str) -> Option<String> {
    let parts: Vec<&str> = key.split('.').collect();
    match parts.as_slice() {
        ["net", family, group @ ("conf" | "neigh"), dev, rest @ ..] if *dev != "all" && *dev != "default" && !rest.is_empty() => {
            Some(format!("net.{family}.{group}.default.{}", rest.join(".")))
        }
        _ => None,
    }
}

/// Per-device values the kernel gives a device itself, whatever `default` says: IPv6's
/// MTU follows the link's; devices that cannot do duplicate address detection or
/// temporary addresses (loopback, ifb: no link-layer address) get -1; the loopback
/// device has its own policy bits.
fn kernel_made_device_value(key: &str, value: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    match parts.as_slice() {
        ["net", "ipv6", "conf", _, "mtu"] => true,
        ["net", "ipv4", "conf", "lo", "disable_policy" | "disable_xfrm"] => value == "1",
        ["net", "ipv6", "conf", _, "accept_dad" | "use_tempaddr"] => value == "-1",
        _ => false,
    }
}

/// Every writable sysctl under /proc/sys/net of the calling thread's namespace. Of the
/// per-device ones (`conf.DEV`, `neigh.DEV`, other than `all` and `default`), those
/// whose value differs from `default`'s, where a device's values start — a script sets
/// them by name — but for what the kernel gives a device itself.
pub fn scan_sysctls() -> BTreeMap<String, String> {
    let mut all = scan_all_sysctls();
    let defaults: BTreeMap<String, String> = all.keys().filter_map(|k| device_default(k)).filter_map(|d| all.get(&d).map(|v| (d, v.clone()))).collect();
    all.retain(|key, value| match device_default(key) {
        None => true,
        Some(d) => defaults.get(&d).is_some_and(|dv| dv != value) && !kernel_made_device_value(key, value),
    });
    all
}

fn scan_all_sysctls() -> BTreeMap<String, String> {
    fn walk(dir: &std::path::Path, key: &str, out: &mut BTreeMap<String, String>) {
        use std::os::unix::fs::PermissionsExt;
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                walk(&entry.path(), &format!("{key}.{name}"), out);
            } else if meta.permissions().mode() & 0o200 != 0
                && !name.contains('.')
                && let Ok(value) = std::fs::read_to_string(entry.path())
            {
                out.insert(format!("{key}.{name}"), value.trim_end_matches('\n').to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(std::path::Path::new("/proc/sys/net"), "net", &mut out);
    out
}

/// Reads one namespace from a thread of its own (which ends afterwards: the namespace
/// it entered, and the mount namespace of the sysfs, go with it).
fn read_extra(name: &str, mac_origins: bool) -> Result<Extra, ExecError> {
    netns::enter_named(name)?;
    let mut socket = conn::DumpSocket::in_current_namespace(name)?;
    let mut get_links = LinkMessage::default();
    get_links.attributes.push(LinkAttribute::ExtMask(vec![netlink_packet_route::link::LinkExtentMask::SkipStats]));
    let links = socket.dump(M::GetLink(get_links))?;
    let routes = socket.dump(M::GetRoute(RouteMessage::default()))?;
    let rules = socket.dump(M::GetRule(RuleMessage::default()))?;
    let mut extra = Extra::default();
    let mut names: HashMap<u32, String> = HashMap::new();
    for m in &links {
        let M::NewLink(l) = m else { continue };
        let Some(base) = messages::decode_link(l) else { continue };
        names.insert(base.index, base.name.clone());
        extra.links.insert(base.name.clone(), raw_link(l, base.index, base.kind));
    }
    for m in &routes {
        let M::NewRoute(r) = m else { continue };
        let Some((mut spec, oif)) = messages::decode_route(r) else { continue };
        if spec.table == crate::model::TABLE_LOCAL {
            continue;
        }
        spec.dev = oif.and_then(|i| names.get(&i).cloned());
        messages::name_nexthops(&mut spec, &|i| names.get(&i).cloned());
        extra.routes.push(LiveRoute { spec, protocol: u8::from(r.header.protocol), scope: u8::from(r.header.scope) });
    }
    for m in &rules {
        let M::NewRule(r) = m else { continue };
        match messages::decode_rule(r) {
            Some(mut spec) => {
                // The kernel leaves priority 0 (the local rule's) out of its dump.
                spec.priority.get_or_insert(0);
                let protocol = r.attributes.iter().find_map(|a| match a {
                    RuleAttribute::Protocol(p) => Some(u8::from(*p)),
                    _ => None,
                });
                extra.rules.push(LiveRule { spec, protocol: protocol.unwrap_or(0), unsupported: unsupported_selectors(r) });
            }
            // Multicast routing's rules (families ipmr, ip6mr) are not routing rules.
            None if matches!(r.header.family, netlink_packet_route::AddressFamily::Inet | netlink_packet_route::AddressFamily::Inet6) => extra.other_rules.push(other_rule_text(r)),
            None => {}
        }
    }
    extra.sysctls = crate::timing::timed("inventory: sysctl scan", scan_sysctls);
    for key in FORWARDING {
        if let Some(v) = sysctl::read(key)? {
            extra.sysctls.insert(key.to_string(), v);
        }
    }
    if mac_origins {
        extra.mac_origins = crate::timing::timed("inventory: mac origins", || read_mac_origins(&names));
    }
    Ok(extra)
}

fn raw_link(l: &LinkMessage, index: u32, kind: Option<String>) -> RawLink {
    let mut raw = RawLink { index, kind, ..Default::default() };
    for attr in &l.attributes {
        match attr {
            LinkAttribute::Link(i) => raw.link = Some(*i),
            LinkAttribute::LinkNetNsId(id) => raw.netnsid = Some(*id),
            _ => {}
        }
    }
    raw
}

/// Rule selectors a script cannot write.
fn unsupported_selectors(r: &RuleMessage) -> Vec<String> {
    let mut out = Vec::new();
    if r.header.flags.bits() & 0x2 != 0 {
        // FIB_RULE_INVERT
        out.push("not".into());
    }
    for a in &r.attributes {
        match a {
            RuleAttribute::L3MDev(true) => out.push("l3mdev".into()),
            RuleAttribute::SuppressPrefixLen(n) if *n != u32::MAX => out.push(format!("suppress_prefixlength {n}")),
            RuleAttribute::SuppressIfGroup(n) if *n != u32::MAX => out.push(format!("suppress_ifgroup {n}")),
            RuleAttribute::Realm(r) => out.push(format!("realms {r:?}")),
            RuleAttribute::TunId(t) => out.push(format!("tun_id {t}")),
            _ => {}
        }
    }
    out
}

/// A rule that does not look up a table, roughly as `ip rule` words it.
fn other_rule_text(r: &RuleMessage) -> String {
    let mut words = Vec::new();
    for a in &r.attributes {
        match a {
            RuleAttribute::Priority(p) => words.insert(0, format!("{p}:")),
            RuleAttribute::Source(s) => words.push(format!("from {s}/{}", r.header.src_len)),
            RuleAttribute::Destination(d) => words.push(format!("to {d}/{}", r.header.dst_len)),
            RuleAttribute::Iifname(i) => words.push(format!("iif {i}")),
            RuleAttribute::Oifname(o) => words.push(format!("oif {o}")),
            RuleAttribute::FwMark(m) => words.push(format!("fwmark {m:#x}")),
            RuleAttribute::Goto(g) => words.push(format!("goto {g}")),
            _ => {}
        }
    }
    let action = match r.header.action {
        RuleAction::Goto => "goto".to_string(),
        RuleAction::Nop => "nop".to_string(),
        RuleAction::Blackhole => "blackhole".to_string(),
        RuleAction::Unreachable => "unreachable".to_string(),
        RuleAction::Prohibit => "prohibit".to_string(),
        other => format!("{other:?}").to_lowercase(),
    };
    if !words.iter().any(|w| w.starts_with("goto")) {
        words.push(action);
    }
    words.join(" ")
}

/// Where each link's MAC address comes from, from a sysfs mounted in a mount namespace
/// of this thread's own (`None` when that cannot be done).
fn read_mac_origins(names: &HashMap<u32, String>) -> Option<HashMap<String, MacOrigin>> {
    use nix::mount::{mount, MsFlags};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS | nix::sched::CloneFlags::CLONE_NEWNS).ok()?;
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>).ok()?;
    mount(Some("sysfs"), "/sys", Some("sysfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC, None::<&str>).ok()?;
    let mut out = HashMap::new();
    for name in names.values() {
        let path = std::path::Path::new("/sys/class/net").join(name).join("addr_assign_type");
        if let Some(origin) = std::fs::read_to_string(path).ok().and_then(|t| t.trim().parse::<u8>().ok()).and_then(MacOrigin::from_sysfs) {
            out.insert(name.clone(), origin);
        }
    }
    Some(out)
}

/// The links of a namespace, with what they say of their peers and lower devices.
fn read_links(name: &str) -> Result<HashMap<String, RawLink>, ExecError> {
    netns::enter_named(name)?;
    let mut socket = conn::DumpSocket::in_current_namespace(name)?;
    let mut get_links = LinkMessage::default();
    get_links.attributes.push(LinkAttribute::ExtMask(vec![netlink_packet_route::link::LinkExtentMask::SkipStats]));
    let mut out = HashMap::new();
    for m in socket.dump(M::GetLink(get_links))? {
        let M::NewLink(l) = &m else { continue };
        if let Some(base) = messages::decode_link(l) {
            out.insert(base.name.clone(), raw_link(l, base.index, base.kind));
        }
    }
    Ok(out)
}

/// Finds each veth's other end (see the module documentation): by (index of the
/// namespace in `ns_names`, link name).
fn resolve_peers(ns_names: &[String], raw: &[HashMap<String, RawLink>]) -> HashMap<(usize, String), Peer> {
    // (namespace index, link name) of every veth, with what it says of its peer.
    struct End {
        ns: usize,
        name: String,
        index: u32,
        link: Option<u32>,
        netnsid: Option<i32>,
    }
    let mut ends = Vec::new();
    for (i, links) in raw.iter().enumerate() {
        for (name, r) in links {
            if r.kind.as_deref() == Some("veth") {
                ends.push(End { ns: i, name: name.clone(), index: r.index, link: r.link, netnsid: r.netnsid });
            }
        }
    }
    let mut found: HashMap<(usize, String), Peer> = HashMap::new();
    let mut ambiguous: Vec<(usize, String, Vec<usize>)> = Vec::new();
    for a in &ends {
        let Some(p) = a.link else {
            found.insert((a.ns, a.name.clone()), Peer::Unknown);
            continue;
        };
        let candidates: Vec<&End> = ends
            .iter()
            .filter(|b| {
                let same_ns = b.ns == a.ns;
                b.index == p && b.link == Some(a.index) && (same_ns == a.netnsid.is_none()) && (same_ns == b.netnsid.is_none()) && !(same_ns && b.name == a.name)
            })
            .collect();
        match candidates.as_slice() {
            [one] => {
                found.insert((a.ns, a.name.clone()), Peer::In { ns: ns_names[one.ns].clone(), name: one.name.clone() });
            }
            [] => {
                found.insert((a.ns, a.name.clone()), Peer::Unknown);
            }
            many => ambiguous.push((a.ns, a.name.clone(), many.iter().map(|b| b.ns).collect())),
        }
    }
    // Several namespaces hold a veth that could be the peer: ask the kernel which one
    // X's namespace id names.
    // The ids each namespace gives the others it may point to: one thread per
    // namespace, several at once.
    let mut wanted: std::collections::BTreeMap<usize, std::collections::BTreeSet<usize>> = Default::default();
    for (ns, _, candidates) in &ambiguous {
        wanted.entry(*ns).or_default().extend(candidates.iter().copied());
    }
    let wanted: Vec<(usize, Vec<usize>)> = wanted.into_iter().map(|(k, v)| (k, v.into_iter().collect())).collect();
    // Each namespace opened once; the threads name them by descriptor.
    let mut fds: HashMap<usize, std::os::fd::OwnedFd> = HashMap::new();
    for (_, to) in &wanted {
        for &c in to {
            if let std::collections::hash_map::Entry::Vacant(slot) = fds.entry(c) {
                let name = &ns_names[c];
                let fd = if name == HOST { std::fs::File::open("/proc/self/ns/net").ok().map(std::os::fd::OwnedFd::from) } else { netns::open_named(name).ok() };
                if let Some(fd) = fd {
                    slot.insert(fd);
                }
            }
        }
    }
    let mut ids: HashMap<(usize, usize), Option<i32>> = HashMap::new();
    for chunk in wanted.chunks(THREADS) {
        let results: Vec<Vec<Option<i32>>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|(from, to)| {
                    let targets: Vec<Option<&std::os::fd::OwnedFd>> = to.iter().map(|c| fds.get(c)).collect();
                    let from = ns_names[*from].clone();
                    s.spawn(move || nsids_seen_from(&from, &targets))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        });
        for ((from, to), result) in chunk.iter().zip(results) {
            for (&c, id) in to.iter().zip(result) {
                ids.insert((*from, c), id);
            }
        }
    }
    for (ns, name, candidates) in ambiguous {
        let Some(me) = ends.iter().find(|e| e.ns == ns && e.name == name) else { continue };
        let peer = candidates
            .iter()
            .find(|&&c| me.netnsid.is_some() && ids.get(&(ns, c)).copied().flatten() == me.netnsid)
            .and_then(|&c| ends.iter().find(|b| b.ns == c && Some(b.index) == me.link && b.link == Some(me.index)).map(|b| Peer::In { ns: ns_names[c].clone(), name: b.name.clone() }))
            .unwrap_or(Peer::Unknown);
        found.insert((ns, name), peer);
    }
    found
}

/// The ids namespace `from` gives the namespaces `targets` (`None` where it gives none).
fn nsids_seen_from(from: &str, targets: &[Option<&std::os::fd::OwnedFd>]) -> Vec<Option<i32>> {
    if netns::enter_named(from).is_err() {
        return vec![None; targets.len()];
    }
    let Ok(socket) = conn::socket_in_current_namespace() else { return vec![None; targets.len()] };
    targets.iter().map(|fd| fd.and_then(|fd| nsid_of(&socket, fd))).collect()
}

/// `RTM_GETNSID` with `NETNSA_FD`: the id the calling thread's namespace gives `fd`'s.
fn nsid_of(socket: &netlink_sys::Socket, fd: &std::os::fd::OwnedFd) -> Option<i32> {
    use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
    use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
    use std::os::fd::AsRawFd;
    let mut msg = NsidMessage::default();
    msg.attributes.push(NsidAttribute::Fd(fd.as_raw_fd() as u32));
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST;
    header.sequence_number = 1;
    let mut request = NetlinkMessage::new(header, NetlinkPayload::from(M::GetNsId(msg)));
    request.finalize();
    let mut bytes = vec![0; request.buffer_len()];
    request.serialize(&mut bytes);
    socket.send_to(&bytes, &netlink_sys::SocketAddr::new(0, 0), 0).ok()?;
    let mut buffer = Vec::with_capacity(8192);
    let n = socket.recv(&mut buffer, 0).ok()?;
    let reply = NetlinkMessage::<M>::deserialize(&buffer[..n]).ok()?;
    match reply.payload {
        NetlinkPayload::InnerMessage(M::NewNsId(m)) => m.attributes.iter().find_map(|a| match a {
            NsidAttribute::Id(id) if *id >= 0 => Some(*id),
            _ => None,
        }),
        _ => None,
    }
}
