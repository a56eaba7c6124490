//! `netscript export`: a topology built with ip/tc (and partly with netscript) in one
//! sandbox, exported, and run in a fresh sandbox, gives the same state (the ip/tc JSON
//! oracle of tests/support, with tc classes and filters and the sysctls added); the
//! export of the result is the first export, byte for byte.

mod support;
use serde_json::Value;
use support::{assert_same_dump, Sandbox};

/// The routing table names both sandboxes see (bind-mounted over the host's file in the
/// sandbox's own mount namespace).
const RT_TABLES: &str = "255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n100\tuplink\n";

/// Built with ip and tc (IPv6 addresses with `nodad`, as netscript adds them): veths (one pair across namespaces, one inside a bridge), a
/// bridge with a port, a macvlan, a vxlan, addresses v4/v6, a MAC set by hand, an MTU,
/// a link down, routes in three tables (one named), rules with every selector,
/// forwarding and rp_filter, tbf, htb with nested classes and two filters.
const BUILD: &str = r#"
set -e
ip netns add xa; ip netns add xb
for ns in xa xb; do ip -n $ns link set lo up; done
ip link add v0 netns xa type veth peer name v1 netns xb
ip -n xa link set v0 up; ip -n xb link set v1 up
ip -n xa link set v0 address 02:00:00:00:aa:01
ip -n xa addr add 10.70.0.1/24 dev v0
ip -n xa addr add fd70::1/64 dev v0 nodad
ip -n xb addr add 10.70.0.2/24 dev v1
ip -n xb link set v1 mtu 1400
ip -n xb link add br0 type bridge; ip -n xb link set br0 up
ip -n xb link add p0 type veth peer name p1
ip -n xb link set p0 master br0; ip -n xb link set p0 up; ip -n xb link set p1 up
ip -n xb addr add 10.71.0.1/24 dev br0
ip -n xb link add mv0 link v1 type macvlan mode bridge; ip -n xb link set mv0 up
ip -n xb addr add 10.72.0.5/24 dev mv0
ip -n xa link add vx0 type vxlan id 42 remote 10.70.0.2 local 10.70.0.1 dev v0 dstport 4789
ip -n xa link set vx0 up
ip -n xa addr add 172.16.0.1/24 dev vx0
ip -n xa link add br9 type bridge
ip -n xa route add 10.80.0.0/16 via 10.70.0.2 table 100
ip -n xa route add 10.81.0.0/16 via 10.70.0.2 metric 7 table 200
ip -n xa route add default via 10.70.0.2
ip -n xa -6 route add fd80::/64 via fd70::2 table 200
ip -n xa rule add pref 100 from 10.70.0.0/24 lookup 100
ip -n xa rule add pref 101 to 10.90.0.0/16 iif v0 oif lo fwmark 0x10/0xff uidrange 1000-2000 lookup 200
ip -n xa -6 rule add pref 102 from fd70::/64 lookup 200
ip netns exec xb sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip netns exec xa sysctl -qw net.ipv4.conf.all.rp_filter=2
tc -n xa qdisc add dev v0 root handle 1: tbf rate 1mbit burst 10kb latency 70ms
tc -n xb qdisc add dev v1 root handle 1: htb default 20
tc -n xb class add dev v1 parent 1: classid 1:10 htb rate 8mbit ceil 10mbit prio 1
tc -n xb class add dev v1 parent 1:10 classid 1:11 htb rate 4mbit
tc -n xb class add dev v1 parent 1: classid 1:20 htb rate 2mbit
tc -n xb filter add dev v1 parent 1: protocol ip prio 1 u32 match ip protocol 6 0xff match ip dport 80 0xffff flowid 1:10
tc -n xb filter add dev v1 parent 1: protocol ip prio 2 u32 match ip src 10.0.0.0/24 flowid 1:11
"#;

/// And with netscript: a third namespace with a veth to xa, shaped on ingress (an ifb,
/// an ingress qdisc and its redirect), and a route of netscript's.
const SCRIPT: &str = "netns xc <\n  veth c0 <-> xa.c1 < addr 10.73.0.1/24; shape ingress 10mbit >\n  route 10.74.0.0/16 via 10.73.0.2\n>\nnetns xa < link c1 < addr 10.73.0.2/24 > >\n";

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.put("/run/rt_tables", RT_TABLES);
    sb.sh("mount --bind /run/rt_tables /etc/iproute2/rt_tables").ok();
    sb
}

/// Whether a JSON string holds a MAC address (`aa:bb:cc:dd:ee:ff`, alone or within a
/// bridge id like `8000.aa:bb:…`).
fn has_mac(s: &str) -> bool {
    s.as_bytes().windows(17).any(|w| w.iter().enumerate().all(|(i, b)| if i % 3 == 2 { *b == b':' } else { b.is_ascii_hexdigit() }))
}

/// The oracle's dump, plus classes, filters and sysctls, with what differs between two
/// equal states built apart taken out: random MAC addresses (and the bridge ids made
/// of them), but not a MAC set by hand; the protocol of routes and rules (`ip` adds
/// them as boot or unspec, netscript as its own, 110).
fn state(sb: &Sandbox) -> String {
    let mut dump: Value = serde_json::from_str(&sb.dump()).unwrap();
    fn clean(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.retain(|k, v| {
                    let random_mac = v.as_str().is_some_and(|s| has_mac(s) && !s.contains("02:00:00:00:aa:01") && !s.starts_with("00:00:00:00:00:00") && !s.starts_with("ff:ff:ff"));
                    // Bridge ids are made of the bridge's random MAC (iproute2 prints them
                    // without leading zeros: `8000.be:ad:b:d3:ba:b8`).
                    let bridge_id = matches!(k.as_str(), "bridge_id" | "root_id" | "designated_root" | "designated_bridge");
                    !(random_mac || bridge_id || k == "protocol")
                });
                map.values_mut().for_each(clean);
            }
            Value::Array(items) => items.iter_mut().for_each(clean),
            _ => {}
        }
    }
    clean(&mut dump);
    let mut extra = String::new();
    for ns in ["xa", "xb", "xc"] {
        let links = sb.run("ip", &["-n", ns, "-o", "link", "show"]).ok();
        let mut devs: Vec<String> = links.lines().filter_map(|l| l.split(": ").nth(1)).map(|d| d.split('@').next().unwrap().to_string()).collect();
        devs.sort();
        for dev in devs {
            let classes = sb.run("tc", &["-n", ns, "class", "show", "dev", &dev]).ok();
            let filters = sb.run("tc", &["-n", ns, "filter", "show", "dev", &dev]).ok();
            let ingress = sb.run("tc", &["-n", ns, "filter", "show", "dev", &dev, "ingress"]).ok();
            let mut lines: Vec<&str> = classes.lines().chain(filters.lines()).chain(ingress.lines()).collect();
            lines.sort();
            if !lines.is_empty() {
                extra.push_str(&format!("{ns} {dev}:\n{}\n", lines.join("\n")));
            }
        }
        let sysctls = sb.sh(&format!("ip netns exec {ns} sysctl net.ipv4.ip_forward net.ipv6.conf.all.forwarding net.ipv4.conf.all.rp_filter net.ipv4.conf.all.accept_redirects")).ok();
        extra.push_str(&format!("{ns} sysctls:\n{sysctls}"));
    }
    format!("{}\n{extra}", serde_json::to_string_pretty(&dump).unwrap())
}

#[test]
fn export_round_trip() {
    let a = sandbox();
    a.sh(BUILD).ok();
    let script = a.write_script("part.ns", SCRIPT);
    a.netscript(&["run", &script]).ok();
    let first = a.netscript(&["export"]).ok();
    // What it must say, readably.
    for line in [
        "table uplink = 100",
        "netns xa <",
        "  veth c1 <-> xc.c0",
        "  veth v0 <-> xb.v1",
        "    mac 02:00:00:00:aa:01",
        "    shape 1mbit burst 10kb latency 70ms",
        "  vxlan vx0 id 42 remote 10.70.0.2 local 10.70.0.1 dev v0 port 4789",
        "  bridge br9\n    down",
        "  route default via 10.70.0.2 dev v0",
        "  route 10.80.0.0/16 via 10.70.0.2 dev v0 table uplink",
        "  route 10.81.0.0/16 via 10.70.0.2 dev v0 metric 7 table 200",
        "  route fd80::/64 via fd70::2 dev v0 table 200",
        "  rule from 10.70.0.0/24 priority 100 lookup uplink",
        "  rule to 10.90.0.0/16 iif v0 oif lo fwmark 0x10/0xff uidrange 1000-2000 priority 101 lookup 200",
        "  rule from fd70::/64 priority 102 lookup 200",
        "  sysctl net.ipv4.conf.all.rp_filter = 2",
        "  veth p0 <-> p1\n    master br0",
        "  link v1\n    addr 10.70.0.2/24\n    mtu 1400\n    htb default 20 <\n      class 10 rate 8mbit ceil 10mbit prio 1 <\n        class 11 rate 4mbit\n      >\n      class 20 rate 2mbit\n      filter proto tcp dport 80 -> 10\n      filter src 10.0.0.0/24 -> 11\n    >",
        "  macvlan mv0 on v1 mode bridge",
        "  forward\n>",
        "  link c0\n    addr 10.73.0.1/24\n    shape ingress 10mbit burst 12500b latency 70ms",
        "  route 10.74.0.0/16 via 10.73.0.2 dev c0",
    ] {
        assert!(first.contains(line), "the export lacks\n{line}\n--- export ---\n{first}");
    }
    // Kernel-made objects are left out.
    let body = first.split_once("\n\n").map(|(_, b)| b).unwrap_or_default();
    for absent in ["fe80", "127.0.0.1", "lookup local", "32766", "proto kernel", "ifb-c0", "link lo", "noqueue", "#"] {
        assert!(!body.contains(absent), "the export has {absent:?}:\n{first}");
    }

    let b = sandbox();
    let path = b.write_script("export.ns", &first);
    let check = b.netscript(&["check", &path]);
    assert!(check.success && !check.stderr.contains("warning"), "{check:?}");
    let run = b.netscript(&["run", &path]);
    assert!(run.success, "the export does not run:\n{run:?}\n{first}");
    assert_same_dump(&state(&a), &state(&b), "the state built from the export");
    let second = b.netscript(&["export"]).ok();
    assert_eq!(first, second, "the export of the rebuilt state differs");
    b.assert_up_to_date(&path);
}

#[test]
fn export_of_some_namespaces_to_a_file() {
    let sb = sandbox();
    sb.sh("ip netns add ya && ip netns add yb && ip -n ya link set lo up && ip link add a0 netns ya type veth peer name b0 netns yb && ip -n ya addr add 10.75.0.1/24 dev a0 && ip -n ya link set a0 up && ip -n yb link set b0 up && ip link add h0 type veth peer name h1 netns ya && ip link set h0 up && ip -n ya link set h1 up").ok();
    sb.netscript(&["export", "ya", "-o", "/run/ya.ns"]).ok();
    let text = sb.sh("cat /run/ya.ns").ok();
    // Only ya, whose veths are written from its side, to namespaces it does not export.
    assert!(text.contains("netns ya <\n  veth a0 <-> yb.b0\n    addr 10.75.0.1/24\n  veth h1 <-> host.h0\n>\n"), "{text}");
    assert!(!text.contains("netns yb") && !text.contains("host <"), "{text}");
    // --host adds the initial namespace; then h0 is declared there, first.
    let all = sb.netscript(&["export", "--host"]).ok();
    assert!(all.contains("host <\n  veth h0 <-> ya.h1\n>"), "{all}");
    let missing = sb.netscript(&["export", "nosuch"]);
    assert_eq!(missing.code, Some(1), "{missing:?}");
    assert!(missing.stderr.contains("no namespace `nosuch`"), "{}", missing.stderr);
}

/// Interface indexes repeat across namespaces: in a chain built the same way in each,
/// every veth end has the same index and names the same peer index, and only the
/// namespace ids (RTM_GETNSID) tell the pairs apart.
#[test]
fn veth_pairs_with_equal_indexes_are_told_apart() {
    let sb = sandbox();
    let mut build = String::from("set -e\n");
    for i in 0..5 {
        build.push_str(&format!("ip netns add zc{i}\nip -n zc{i} link set lo up\n"));
    }
    for i in 0..4 {
        build.push_str(&format!("ip link add a{i} netns zc{i} type veth peer name b{i} netns zc{}\nip -n zc{i} link set a{i} up\nip -n zc{} link set b{i} up\n", i + 1, i + 1));
    }
    sb.sh(&build).ok();
    // The premise: a1, a2, a3 have one index (and so b1, b2, b3 another).
    let indexes = sb.sh("for i in 1 2 3; do ip -n zc$i -o link show a$i | cut -d: -f1; done | sort -u | wc -l").ok();
    assert_eq!(indexes.trim(), "1", "the a ends have different indexes: the test proves nothing");
    let text = sb.netscript(&["export"]).ok();
    for i in 0..4 {
        assert!(text.contains(&format!("  veth a{i} <-> zc{}.b{i}\n", i + 1)), "pair {i} ({} distinct indexes of the a ends):\n{text}", indexes.trim());
    }
    assert!(!text.contains("link b"), "{text}");
}

/// Rule selectors by protocol, port and TOS, IPv6 rules without a prefix, routes that
/// refuse and onlink routes (made with ip), and a firewall (made with netscript, the only
/// way to make netscript's table): exported and run in a fresh sandbox, they are back
/// as they were — ip's JSON and `nft -j list ruleset` equal — and the second export is
/// the first.
#[test]
fn export_round_trip_of_selectors_route_types_and_the_firewall() {
    const BUILD: &str = "
set -e
ip netns add ya; ip -n ya link set lo up
ip link add w0 netns ya type veth peer name w1 netns ya
ip -n ya link set w0 up; ip -n ya link set w1 up
ip -n ya addr add 10.60.0.1/24 dev w0
ip -n ya rule add ipproto tcp dport 22 priority 100 lookup 100
ip -n ya rule add ipproto udp sport 1000-1005 tos 0x10 priority 101 lookup 100
ip -n ya -6 rule add fwmark 0x7 priority 102 lookup 100
ip -n ya route add blackhole 203.0.113.0/24
ip -n ya route add unreachable 198.51.100.0/24 metric 5 table 100
ip -n ya -6 route add prohibit 2001:db8::/32
ip -n ya route add 192.0.2.0/24 via 10.9.9.9 dev w0 onlink
ip netns exec ya sysctl -qw net.ipv4.conf.w0.rp_filter=2 net.ipv6.conf.w1.accept_ra=0
";
    const FIREWALL: &str = "
netns ya <
  link w0
  firewall input policy drop < accept ct established,related; accept proto tcp dport 22 counter; accept proto icmp >
  firewall postrouting < masquerade oif w0 >
  firewall output < mark 7 proto udp dport 53 >
>
";
    let nft = |sb: &Sandbox| {
        let out = sb.sh("ip netns exec ya nft -j list ruleset").ok();
        let mut v: Value = serde_json::from_str(&out).unwrap();
        fn strip(v: &mut Value) {
            match v {
                Value::Object(m) => {
                    m.remove("handle");
                    if let Some(Value::Object(c)) = m.get_mut("counter") {
                        c.insert("packets".into(), 0.into());
                        c.insert("bytes".into(), 0.into());
                    }
                    m.values_mut().for_each(strip);
                }
                Value::Array(a) => a.iter_mut().for_each(strip),
                _ => {}
            }
        }
        strip(&mut v);
        v
    };
    // Without the link-local IPv6 routes, which the kernel adds by itself, some only a
    // moment after a link comes up (compared as they were, they made this test flaky).
    let ip = |sb: &Sandbox| {
        ["ip -n ya -json rule", "ip -n ya -6 -json rule", "ip -n ya -json route show table all", "ip -n ya -6 -json route show table all"]
            .map(|c| support::without_volatile_v6_routes(serde_json::from_str(&sb.sh(c).ok()).unwrap()).to_string())
            .join("\n")
    };
    let a = sandbox();
    a.sh(BUILD).ok();
    let script = a.write_script("fw.ns", FIREWALL);
    let run = a.netscript(&["run", &script]);
    assert!(run.success, "{run:?}");
    // show lists the firewall's rules, in text and JSON.
    let text = a.netscript(&["show", "ya"]).ok();
    assert!(text.contains("firewall input policy drop (filter chain input, priority 0)") && text.contains("    accept proto tcp dport 22 counter"), "{text}");
    let json: Value = serde_json::from_str(&a.netscript(&["show", "ya", "--format", "json"]).ok()).unwrap();
    let rules: Vec<&str> = json["namespaces"][0]["firewall"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"masquerade oif w0") && rules.contains(&"accept proto icmp"), "{rules:?}");
    let first = a.netscript(&["export", "ya"]).ok();
    for line in [
        "  rule ipproto tcp dport 22 priority 100 lookup uplink",
        "  rule ipproto udp sport 1000-1005 tos 0x10 priority 101 lookup uplink",
        "  rule from ::/0 fwmark 0x7 priority 102 lookup uplink",
        "  route blackhole 203.0.113.0/24",
        "  route unreachable 198.51.100.0/24 metric 5 table uplink",
        "  route prohibit 2001:db8::/32",
        "  route 192.0.2.0/24 via 10.9.9.9 dev w0 onlink",
        "  firewall input policy drop < accept ct established,related; accept proto tcp dport 22 counter; accept proto icmp >",
        "  firewall postrouting < masquerade oif w0 >",
        "  sysctl net.ipv4.conf.w0.rp_filter = 2",
        "  sysctl net.ipv6.conf.w1.accept_ra = 0",
    ] {
        assert!(first.contains(line), "the export lacks\n{line}\n--- export ---\n{first}");
    }
    let b = sandbox();
    let path = b.write_script("export.ns", &first);
    let run = b.netscript(&["run", &path]);
    assert!(run.success, "the export does not run:\n{run:?}\n{first}");
    // Routes and rules the export made carry netscript's protocol; the originals do not.
    let unproto = |s: String| s.replace(",\"protocol\":\"110\"", "").replace("\"protocol\":\"110\",", "");
    assert_eq!(unproto(ip(&b)), unproto(ip(&a)), "rules and routes rebuilt from the export differ");
    assert_eq!(nft(&b), nft(&a), "the firewall rebuilt from the export differs");
    let devices = |sb: &Sandbox| sb.sh("ip netns exec ya sysctl net.ipv4.conf.w0.rp_filter net.ipv6.conf.w1.accept_ra").ok();
    assert_eq!(devices(&b), devices(&a), "per-device sysctls");
    let second = b.netscript(&["export", "ya"]).ok();
    assert_eq!(first, second, "the export of the rebuilt state differs");
}
