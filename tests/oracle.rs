//! The oracle itself (`tests/support`): every kind of object a script can declare changes
//! the dump when it changes, equal states give equal dumps, and `without_macs` hides the
//! MAC addresses and nothing else. A rollback test is only as good as the dump it
//! compares: a section the dump lacks is a rollback nobody checks.

mod bpf_objects;
mod support;

use support::{dump_diff, without_macs, Sandbox};

/// Two veths and a namespace, with an htb, a clsact and addresses: something for every
/// change below to act on.
const SETUP: &str = "
ip link add va type veth peer name vb
ip link set va up; ip link set vb up
ip addr add 10.31.0.1/24 dev va
ip netns add on1; ip -n on1 link set lo up
ip link add vc netns on1 type veth peer name vd
tc qdisc add dev va root handle 1: htb default 20
tc class add dev va parent 1: classid 1:1 htb rate 10mbit
tc class add dev va parent 1:1 classid 1:10 htb rate 8mbit ceil 10mbit prio 0
tc qdisc add dev vb clsact
";

/// Each change, applied in turn to the state the previous ones left, must change the
/// dump, and the difference must name what changed.
#[test]
fn every_declarable_object_changes_the_dump() {
    let sb = Sandbox::new();
    sb.sh(SETUP).ok();
    let object = bpf_objects::compiled().join("drop_icmp.o");
    sb.sh(&format!("cp {} /run/drop_icmp.o", object.display())).ok();
    let changes: [(&str, &str, &str); 17] = [
        ("a sysctl of the namespace", "sysctl -qw net.ipv4.conf.all.rp_filter=2", "net/ipv4/conf/all/rp_filter"),
        ("a sysctl of another namespace", "ip netns exec on1 sysctl -qw net.ipv4.ip_default_ttl=99", "net/ipv4/ip_default_ttl"),
        ("a sysctl of one interface", "sysctl -qw net.ipv6.conf.va.forwarding=1", "net/ipv6/conf/va/forwarding"),
        ("a sysctl outside ipv4/ipv6", "sysctl -qw net.core.somaxconn=1000", "net/core/somaxconn"),
        ("an htb class's rate", "tc class change dev va parent 1:1 classid 1:10 htb rate 7mbit ceil 10mbit prio 0", "7Mbit"),
        ("a new htb class", "tc class add dev va parent 1:1 classid 1:20 htb rate 1mbit ceil 10mbit prio 1", "1:20"),
        ("a u32 filter", "tc filter add dev va parent 1: protocol ip prio 1 u32 match ip src 10.9.9.1/32 match ip dport 90 0xffff flowid 1:10", "\"flowid\": \"1:10\""),
        // The first of two u32 keys: serde_json alone would keep only the last `match`.
        (
            "the first key of a two-key u32 filter",
            "tc filter del dev va parent 1: prio 1; tc filter add dev va parent 1: protocol ip prio 1 u32 match ip src 10.9.9.2/32 match ip dport 90 0xffff flowid 1:10",
            "a090902",
        ),
        ("a filter on a class", "tc filter add dev va parent 1:1 protocol ip prio 2 u32 match ip dport 22 0xffff flowid 1:20", "va 1:1"),
        ("a clsact egress filter", "tc filter add dev vb egress protocol ip prio 3 u32 match ip dport 53 0xffff action mirred egress redirect dev va", "vb egress"),
        ("a tc eBPF classifier", "tc filter add dev vb ingress prio 4 bpf da obj /run/drop_icmp.o sec classifier", "drop_icmp.o"),
        ("an XDP program", "ip link set dev vb xdpgeneric obj /run/drop_icmp.o sec xdp", "xdp"),
        ("an nftables table", "nft add table inet t1", "\"t1\""),
        ("a firewall rule in another namespace", "ip netns exec on1 nft 'add table inet t2; add chain inet t2 c { type filter hook input priority 0; }; add rule inet t2 c tcp dport 22 accept'", "\"right\": 22"),
        ("a firewall rule's port", "ip netns exec on1 nft 'flush chain inet t2 c; add rule inet t2 c tcp dport 23 accept'", "\"right\": 23"),
        ("a link's mtu in another namespace", "ip -n on1 link set vc mtu 1400", "1400"),
        ("an address's IPv4 broadcast", "ip addr del 10.31.0.1/24 dev va; ip addr add 10.31.0.1/24 broadcast 10.31.0.127 dev va", "10.31.0.127"),
    ];
    let mut last = sb.dump();
    for (what, command, shows) in changes {
        sb.sh(command).ok();
        let now = sb.dump();
        let diff = dump_diff(&last, &now).unwrap_or_else(|| panic!("{what}: `{command}` did not change the dump"));
        assert!(diff.contains(shows), "{what}: the difference does not show {shows:?}:\n{diff}");
        last = now;
    }
}

/// The IPv4 broadcast address is configuration: `without_macs` keeps it (it used to drop
/// every `broadcast` key, this one included).
#[test]
fn without_macs_keeps_the_broadcast_address() {
    let sb = Sandbox::new();
    sb.sh("ip link add va type veth peer name vb; ip addr add 10.32.0.1/24 broadcast 10.32.0.255 dev va").ok();
    let before = without_macs(&sb.dump());
    sb.sh("ip addr del 10.32.0.1/24 dev va; ip addr add 10.32.0.1/24 broadcast 10.32.0.127 dev va").ok();
    assert_ne!(before, without_macs(&sb.dump()), "without_macs hid a changed IPv4 broadcast address");
}

/// What `without_macs` does hide: new MAC addresses, on a veth and on a bridge with a port
/// (whose bridge id carries the port's MAC).
#[test]
fn without_macs_hides_only_macs() {
    let sb = Sandbox::new();
    sb.sh("ip link add va type veth peer name vb; ip link add br0 type bridge; ip link set vb master br0; ip link set br0 up; ip link set vb up").ok();
    let before = sb.dump();
    sb.sh("ip link set vb nomaster; ip link set va address 02:00:00:00:00:0a; ip link set vb address 02:00:00:00:00:0b; ip link set vb master br0").ok();
    let after = sb.dump();
    assert_ne!(before, after, "the MAC addresses changed");
    support::assert_same_dump(&without_macs(&before), &without_macs(&after), "only MAC addresses changed");
    assert!(!without_macs(&after).contains("02:00:00:00:00:0b"), "{}", without_macs(&after));
    // A bridge's group address is configuration, not a random MAC.
    assert!(without_macs(&after).contains("01:80:c2:00:00:00"));
}

/// Equal states give byte-identical dumps, traffic notwithstanding (counters, conntrack).
#[test]
fn equal_states_give_equal_dumps_under_traffic() {
    let sb = Sandbox::new();
    sb.sh(SETUP).ok();
    sb.sh("ip -n on1 addr add 10.33.0.1/24 dev vc; ip -n on1 link set vc up; ip addr add 10.33.0.2/24 dev vd; ip link set vd up").ok();
    // A counting rule on the path: its counters move with the pings, its rule does not.
    sb.sh("nft 'add table inet tt; add chain inet tt c { type filter hook output priority 0; }; add rule inet tt c counter accept'").ok();
    let before = sb.dump();
    assert!(before.contains("\"counter\""), "the counting rule is in the dump: {before}");
    sb.sh("ping -c 3 -i 0.2 -W 1 10.33.0.1 >/dev/null").ok();
    support::assert_same_dump(&before, &sb.dump(), "pings changed nothing declarable");
}
