//! Hover: what a statement does, and what it plans (its defaults made explicit, in
//! iproute2/tc/nft terms); for a name, what it names and where it is declared.

use super::analysis::Analysis;
use super::index::Occurrence;

/// What each statement does, one line, with its iproute2/tc/nft equivalent.
pub fn keyword_doc(keyword: &str) -> Option<&'static str> {
    Some(match keyword {
        "netns" => "Declares a network namespace (`ip netns add NAME`); several blocks for one name merge. Its loopback is brought up.",
        "host" => "The initial namespace, the one netscript runs in: configured, never created or deleted.",
        "table" => "Names a routing table: `table NAME = NUMBER` (as in /etc/iproute2/rt_tables).",
        "let" => "Binds a value (integer, address, prefix, rate, size, duration), used as `{NAME}`.",
        "for" => "Repeats a block: `for VAR in A..B` (B exclusive; `..=` inclusive).",
        "include" => "Reads another script, its path relative to this file.",
        "expect" => "Checked after a run: `reach` (ICMP echo, or TCP connect with `port`) or `noreach`; one that fails undoes the run.",
        "veth" => "Creates a veth pair (`ip link add NAME type veth peer name PEER netns NS`); makes NAME the current interface.",
        "bridge" => "Creates a bridge (`ip link add NAME type bridge`).",
        "dummy" => "Creates a dummy device (`ip link add NAME type dummy`).",
        "vrf" => "Creates a VRF device bound to a routing table (`ip link add NAME type vrf table N`); `master NAME` enslaves an interface to it.",
        "macvlan" => "Creates a macvlan on a parent (`ip link add NAME link PARENT type macvlan mode MODE`).",
        "vlan" => "Creates an 802.1Q VLAN on a parent (`ip link add link PARENT name NAME type vlan id N [protocol 802.1ad]`); a change of id, parent or protocol makes it anew.",
        "ipvlan" => "Creates an ipvlan on a parent (`ip link add NAME link PARENT type ipvlan mode l2|l3|l3s [bridge|private|vepa]`; default mode l3, bridge); mode and flag change in place (they are the parent's, shared by its ipvlans), a new parent makes it anew.",
        "ipip" => "Creates an IPv4-in-IPv4 tunnel (`ip link add NAME type ipip [local A] remote B [ttl N]`); its parameters change in place.",
        "gre" => "Creates a GRE tunnel over IPv4 (`ip link add NAME type gre [local A] remote B [ttl N] [key K]`); its parameters change in place.",
        "vxlan" => "Creates a VXLAN interface (`ip link add NAME type vxlan id VNI ...`).",
        "link" => "Configures an interface that exists or is declared elsewhere (e.g. a veth's peer end); makes it current.",
        "addr" => "Adds addresses to the current interface (`ip addr add PREFIX dev IF`); `addr LOCAL peer PEER[/LEN]` a point-to-point one (`ip addr add LOCAL peer PEER/LEN dev IF`).",
        "peer" => "`addr LOCAL peer PEER[/LEN]`: a point-to-point address; the kernel routes PEER/LEN (default /32, /128) through the interface (`ip addr add LOCAL peer PEER/LEN dev IF`).",
        "up" => "Sets the current interface up (`ip link set IF up`); declared interfaces default to up.",
        "down" => "Sets the current interface down (`ip link set IF down`).",
        "mtu" => "Sets the MTU (`ip link set IF mtu N`).",
        "mac" => "Sets the MAC address (`ip link set IF address MAC`).",
        "master" => "Enslaves the current interface to a bridge (`ip link set IF master BRIDGE`).",
        "shape" => "Shapes egress with a token bucket: tbf as the root qdisc, handle 1: (`tc qdisc add dev IF root handle 1: tbf rate R burst B latency L`).",
        "htb" => "An htb root qdisc with classes and u32 filters (`tc qdisc add dev IF root handle 1: htb default N`).",
        "class" => "An htb class, `1:ID` (`tc class add dev IF parent 1: classid 1:ID htb rate R ceil C`).",
        "filter" => "A u32 filter steering matching packets to a class (`tc filter add dev IF parent 1: u32 match ... flowid 1:ID`).",
        "netem" => "Network emulation as the root qdisc (`tc qdisc add dev IF root netem delay D ...`).",
        "qdisc" => "A bare qdisc at the ingress hook, handle ffff: (`tc qdisc add dev IF ingress|clsact`); `shape ingress` and `bpf` bring their own.",
        "bpf" => "An eBPF classifier on tc clsact, direct-action (`tc filter add dev IF ingress|egress bpf da obj FILE sec SECTION`).",
        "xdp" => "An XDP program (`ip link set dev IF xdp obj FILE sec SECTION`).",
        "route" => "Adds a route in this namespace (`ip route add DEST via GW dev IF table T`).",
        "rule" => "Adds a policy routing rule (`ip rule add from P to P fwmark M lookup T priority N`).",
        "forward" => "IPv4 and IPv6 forwarding in this namespace (`sysctl net.ipv4.ip_forward=1`, `net.ipv6.conf.all.forwarding=1`).",
        "sysctl" => "Sets a net.* sysctl in this namespace; given back its value when the script is taken down.",
        "firewall" => "Packet policy on a netfilter hook, in netscript's own nftables table (`nft add chain inet netscript HOOK { type filter hook HOOK priority 0; policy P; }`).",
        _ => return None,
    })
}

pub fn statement(analysis: &Analysis, offset: u32) -> Option<String> {
    let stmt = analysis.statement_at(offset)?;
    let keyword = stmt.node.keyword();
    let mut text = format!("**`{keyword}`**");
    if let Some(doc) = keyword_doc(keyword) {
        text.push_str(" — ");
        text.push_str(doc);
    }
    let ops = analysis.ops_of(stmt.span);
    if !ops.is_empty() {
        text.push_str("\n\nPlans, against an empty system:\n```\n");
        const MAX: usize = 12;
        for op in ops.iter().take(MAX) {
            text.push_str(op);
            text.push('\n');
        }
        if ops.len() > MAX {
            text.push_str(&format!("… and {} more\n", ops.len() - MAX));
        }
        text.push_str("```");
    } else if analysis.diagnostics.iter().any(|d| d.is_error()) {
        text.push_str("\n\n(no plan while the script has errors)");
    }
    Some(text)
}

pub fn symbol(analysis: &Analysis, occurrence: &Occurrence) -> String {
    let mut text = format!("**{}**", occurrence.symbol.describe());
    let definitions = analysis.index().definitions(&occurrence.symbol);
    for d in definitions.iter().take(5) {
        let line = analysis.sources.get(d.span.file).line_col(d.span.start).0;
        let name = &analysis.sources.get(d.span.file).name;
        let file = std::path::Path::new(name).file_name().map_or(name.clone(), |f| f.to_string_lossy().into_owned());
        let what = if d.declaration { "declared" } else { "first named" };
        text.push_str(&format!("\n\n{what} at {file}:{line}: `{}`", analysis.sources.snippet(d.stmt).lines().next().unwrap_or("").trim()));
    }
    let uses = analysis.index().of(&occurrence.symbol).count();
    text.push_str(&format!("\n\n{uses} occurrence{}", if uses == 1 { "" } else { "s" }));
    text
}
