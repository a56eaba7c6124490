//! Point-to-point addresses, `addr LOCAL peer PEER[/LEN]` (issue 24), and the four
//! connect cases of the kernel's fib_rule_tests.sh (C1–C4 of docs/BREADTH-RULES.md)
//! whose setup needs them.
//!
//! Oracles: `ip address add … peer …` (parity: equal full sandbox dumps, whose
//! `ip -json addr` shows the peer as `address`), and the selftest's own probes, TCP and
//! UDP connections whose TOS / traffic class is set before they connect (what `nettest
//! -Q` does), from `testns` to the address on `peerns`'s lo that only the rule's table
//! routes.

mod support;
use support::traffic::in_netns;
use support::{Sandbox, assert_same_dump, without_macs};

/// fib_rule_tests.sh's `setup_peer`, plus a v4 and a v6 peer with a prefix length.
const SETUP: &str = "
netns testns <
  veth veth0 <-> peerns.veth1 <
    addr 192.0.2.10 peer 192.0.2.11/32
    addr 2001:db8::10 peer 2001:db8::11/128
    addr 10.9.0.1 peer 10.9.0.2/30
    addr 2001:db8:9::1 peer 2001:db8:9::2/64
  >
  route 198.51.100.11/32 via 192.0.2.11 table 101
  route 2001:db8::1:11/128 via 2001:db8::11 table 101
>
netns peerns <
  link veth1 < addr 192.0.2.11 peer 192.0.2.10/32; addr 2001:db8::11 peer 2001:db8::10/128 >
  link lo < addr 198.51.100.11/32; addr 2001:db8::1:11/128 >
>
";

/// The same in iproute2's words (the selftest's commands; netscript's routes carry its
/// protocol, 110, and its IPv6 addresses `nodad`, as the selftest's do).
const SETUP_IP: &str = "
ip netns add testns; ip netns add peerns
ip -n testns link set lo up; ip -n peerns link set lo up
ip -n testns link add veth0 type veth peer name veth1 netns peerns
ip -n testns link set veth0 up; ip -n peerns link set veth1 up
ip -n testns address add 192.0.2.10 peer 192.0.2.11/32 dev veth0
ip -n testns address add 2001:db8::10 peer 2001:db8::11/128 dev veth0 nodad
ip -n testns address add 10.9.0.1 peer 10.9.0.2/30 dev veth0
ip -n testns address add 2001:db8:9::1 peer 2001:db8:9::2/64 dev veth0 nodad
ip -n peerns address add 192.0.2.11 peer 192.0.2.10/32 dev veth1
ip -n peerns address add 2001:db8::11 peer 2001:db8::10/128 dev veth1 nodad
ip -n peerns address add 198.51.100.11/32 dev lo
ip -n peerns address add 2001:db8::1:11/128 dev lo nodad
ip -n testns route add table 101 198.51.100.11/32 via 192.0.2.11 proto 110
sleep 0.5
ip -n testns route add table 101 2001:db8::1:11/128 via 2001:db8::11 proto 110
";

/// `dump` with each link's addresses sorted. The kernel lists a link's addresses in the
/// order they came (IPv6: the newest first), and one put back (after a drift, on
/// rollback) comes last: an order that decides nothing between addresses of different
/// prefixes, as all these are (IPv4 primaries and secondaries share one; their order is
/// kept, and tested, by tests/convergence.rs).
fn addrs_sorted(dump: &str) -> String {
    fn sort(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Array(info)) = map.get_mut("addr_info") {
                    info.sort_by_key(|a| a["local"].as_str().unwrap_or_default().to_string());
                }
                map.values_mut().for_each(sort);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(sort),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_str(dump).unwrap();
    sort(&mut v);
    serde_json::to_string_pretty(&v).unwrap()
}

fn addrs(sb: &Sandbox, ns: &str) -> serde_json::Value {
    let text = sb.sh(&format!("ip -n {ns} -json addr show")).ok();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    // What differs between equal states: lifetimes, ifindexes, MACs, link-local addresses.
    for link in v.as_array_mut().unwrap() {
        let link = link.as_object_mut().unwrap();
        for key in ["ifindex", "address", "link_index", "operstate", "link_netnsid"] {
            link.remove(key);
        }
        if let Some(info) = link.get_mut("addr_info").and_then(|a| a.as_array_mut()) {
            info.retain(|a| !a["local"].as_str().unwrap_or_default().starts_with("fe80"));
            for a in info.iter_mut() {
                let a = a.as_object_mut().unwrap();
                a.remove("valid_life_time");
                a.remove("preferred_life_time");
            }
            info.sort_by_key(|a| a["local"].as_str().unwrap_or_default().to_string());
        }
    }
    v
}

fn run(sb: &Sandbox, script: &str) {
    let out = sb.netscript(&["run", script]);
    assert!(out.success, "run failed: {}", out.stderr);
}

#[test]
fn peer_addresses_match_ip_address_add_peer() {
    let reference = Sandbox::new();
    reference.sh(SETUP_IP).ok();
    let ours = Sandbox::new();
    let script = ours.write_script("peer.ns", SETUP);
    run(&ours, &script);
    let shown = ours.sh("ip -n testns -json addr show dev veth0").ok();
    for pair in ["\"local\":\"192.0.2.10\",\"address\":\"192.0.2.11\",\"prefixlen\":32", "\"local\":\"2001:db8:9::1\",\"address\":\"2001:db8:9::2\",\"prefixlen\":64"] {
        assert!(shown.contains(pair), "{pair} is shown: {shown}");
    }
    assert_same_dump(&without_macs(&reference.dump()), &without_macs(&ours.dump()), "netscript's peer addresses against ip's");
    ours.assert_up_to_date(&script);
}

#[test]
fn a_changed_peer_is_put_back_edits_converge_and_down_restores_the_start() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("peer.ns", SETUP);
    run(&sb, &script);
    let made = addrs(&sb, "testns");
    // By hand: each peer of veth0 changed (same local address, another peer).
    sb.sh(
        "ip -n testns address del 192.0.2.10 peer 192.0.2.11/32 dev veth0
ip -n testns address add 192.0.2.10 peer 192.0.2.12/32 dev veth0
ip -n testns address del 2001:db8::10 peer 2001:db8::11/128 dev veth0
ip -n testns address add 2001:db8::10 peer 2001:db8::12/128 dev veth0 nodad",
    )
    .ok();
    run(&sb, &script);
    assert_eq!(addrs(&sb, "testns"), made, "the peers are put back");
    sb.assert_up_to_date(&script);
    // An edit: one peer changes its prefix, another address loses its peer.
    let edited = SETUP.replace("addr 10.9.0.1 peer 10.9.0.2/30", "addr 10.9.0.1 peer 10.9.0.2/31").replace("addr 2001:db8:9::1 peer 2001:db8:9::2/64", "addr 2001:db8:9::1/64");
    sb.put(&script, &edited);
    run(&sb, &script);
    let shown = sb.sh("ip -n testns -json addr show dev veth0").ok();
    assert!(shown.contains("\"local\":\"10.9.0.1\",\"address\":\"10.9.0.2\",\"prefixlen\":31"), "the new peer prefix: {shown}");
    assert!(shown.contains("\"local\":\"2001:db8:9::1\",\"prefixlen\":64"), "no peer any more: {shown}");
    assert!(!shown.contains("10.9.0.2\",\"prefixlen\":30") && !shown.contains("2001:db8:9::2"), "the old ones are gone: {shown}");
    sb.assert_up_to_date(&script);
    sb.netscript(&["down", &script]).ok();
    assert_same_dump(&before, &sb.dump(), "after down");
}

#[test]
fn a_refused_run_puts_back_the_peer_addresses_it_deleted() {
    let sb = Sandbox::new();
    let script = sb.write_script("peer.ns", SETUP);
    run(&sb, &script);
    let before = addrs_sorted(&without_macs(&sb.dump()));
    // The edit deletes two peer addresses (a peer changed, a peer dropped) and adds
    // them anew; its last operation is refused.
    let edited = SETUP.replace("peer 192.0.2.11/32\n", "peer 192.0.2.13/32\n").replace("addr 2001:db8:9::1 peer 2001:db8:9::2/64", "addr 2001:db8:9::1/64");
    sb.put(&script, &edited);
    let n = sb.op_count(&script);
    let plan = sb.netscript(&["plan", &script]).ok();
    assert!(plan.contains("delete address 192.0.2.10 peer 192.0.2.11/32") && plan.contains("delete address 2001:db8:9::1 peer 2001:db8:9::2/64"), "the plan deletes both: {plan}");
    let refused = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", (n - 1).to_string()), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["run", &script]);
    assert!(!refused.success && refused.stderr.contains("rolled back"), "the run is refused and rolled back: {refused:?}");
    assert_same_dump(&before, &addrs_sorted(&without_macs(&sb.dump())), "after the rollback");
}

#[test]
fn export_writes_peer_addresses_back() {
    let reference = Sandbox::new();
    reference.sh(SETUP_IP).ok();
    let export = reference.netscript(&["export"]).ok();
    for line in ["addr 192.0.2.10 peer 192.0.2.11/32", "addr 2001:db8::10 peer 2001:db8::11/128", "addr 10.9.0.1 peer 10.9.0.2/30", "addr 2001:db8:9::1 peer 2001:db8:9::2/64"] {
        assert!(export.lines().any(|l| l.trim() == line), "`{line}` is in the export:\n{export}");
    }
    // Run in a fresh sandbox, the export makes the same addresses.
    let again = Sandbox::new();
    let path = again.write_script("export.ns", &export);
    run(&again, &path);
    for ns in ["testns", "peerns"] {
        assert_eq!(addrs(&again, ns), addrs(&reference, ns), "the addresses of {ns}");
    }
    again.assert_up_to_date(&path);
}

/// A `nettest -Q TOS` connection from testns to 198.51.100.11 (or 2001:db8::1:11) on
/// peerns's lo: TCP, or UDP connected and answered (`-U -D`). Whether it worked.
fn connects(sb: &Sandbox, v6: bool, udp: bool, tos: u32) -> bool {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    use std::time::Duration;
    let (domain, addr): (Domain, std::net::SocketAddr) = if v6 { (Domain::IPV6, "[2001:db8::1:11]:12345".parse().unwrap()) } else { (Domain::IPV4, "198.51.100.11:12345".parse().unwrap()) };
    let (kind, proto) = if udp { (Type::DGRAM, Protocol::UDP) } else { (Type::STREAM, Protocol::TCP) };
    let server = in_netns(sb, "peerns", move || {
        let s = Socket::new(domain, kind, Some(proto)).unwrap();
        s.set_reuse_address(true).unwrap();
        s.bind(&SockAddr::from(addr)).unwrap();
        if !udp {
            s.listen(1).unwrap();
        }
        s
    });
    let answer = std::thread::spawn(move || -> Option<()> {
        server.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
        let (s, from) = if udp {
            let mut buf = [std::mem::MaybeUninit::new(0u8); 16];
            let (_, from) = server.recv_from(&mut buf).ok()?;
            (server, from)
        } else {
            let (s, from) = server.accept().ok()?;
            (s, from)
        };
        if udp { s.send_to(b"pong", &from).ok()? } else { s.send(b"pong").ok()? };
        Some(())
    });
    let worked = in_netns(sb, "testns", move || -> Option<()> {
        let c = Socket::new(domain, kind, Some(proto)).ok()?;
        if v6 { c.set_tclass_v6(tos).ok()? } else { c.set_tos_v4(tos).ok()? };
        if udp {
            c.connect(&SockAddr::from(addr)).ok()?;
        } else {
            c.connect_timeout(&SockAddr::from(addr), Duration::from_secs(2)).ok()?;
        }
        c.send(b"ping").ok()?;
        c.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
        let mut buf = [std::mem::MaybeUninit::new(0u8); 16];
        let n = c.recv(&mut buf).ok()?;
        (n == 4).then_some(())
    })
    .is_some();
    if !worked {
        // Unblock the server: from inside its own namespace.
        let _ = in_netns(sb, "peerns", move || {
            let c = Socket::new(domain, kind, Some(proto)).ok()?;
            let _ = c.connect_timeout(&SockAddr::from(addr), Duration::from_secs(1));
            c.send(b"x").ok()
        });
    }
    let _ = answer.join();
    worked
}

#[track_caller]
fn probe(sb: &Sandbox, v6: bool, tos: u32, expected: bool) {
    for udp in [true, false] {
        let what = format!("IPv{} {} connect with DS field {tos:#04x}", if v6 { 6 } else { 4 }, if udp { "udp" } else { "tcp" });
        assert_eq!(connects(sb, v6, udp, tos), expected, "{what}: expected {}", if expected { "to connect" } else { "no connection" });
    }
}

#[test]
fn fib_rule_connect_cases_c1_to_c4() {
    // C1 and C3: `dsfield 0x04` (`tos` in netscript), v4 and v6; the ECN bits do not
    // count. C2 and C4: `dscp 0x3f`.
    let sb = Sandbox::new();
    let tos_rules = "netns testns <\n  rule tos 0x04 table 101\n  rule from ::/0 tos 0x04 table 101\n>\n";
    let script = sb.write_script("connect.ns", &format!("{SETUP}{tos_rules}"));
    run(&sb, &script);
    for v6 in [false, true] {
        for tos in [0x04, 0x05, 0x06, 0x07] {
            probe(&sb, v6, tos, true);
        }
        probe(&sb, v6, 0x20, false);
    }
    let dscp_rules = "netns testns <\n  rule dscp 0x3f table 101\n  rule from ::/0 dscp 0x3f table 101\n>\n";
    sb.put(&script, &format!("{SETUP}{dscp_rules}"));
    run(&sb, &script);
    for v6 in [false, true] {
        probe(&sb, v6, 0xfc, true);
        probe(&sb, v6, 0xf4, false);
    }
    sb.assert_up_to_date(&script);
}
