//! `netscript run` / `down` against the real kernel, each test in its own sandbox, with
//! iproute2's JSON as the oracle.

mod support;
use support::Sandbox;

const SEED: &str = include_str!("../examples/seed.ns");

/// The seed walkthrough, as iproute2 commands (the reference netscript must match).
/// Routes and rules carry netscript's protocol (110), which tags them as netscript's.
const SEED_IPROUTE2: &str = "
ip netns add ns1; ip netns add ns2
ip link add veth0 netns ns1 type veth peer name veth1 netns ns2
ip -n ns1 addr add 192.168.1.1/24 dev veth0; ip -n ns1 link set veth0 up; ip -n ns1 link set lo up
ip -n ns2 addr add 192.168.1.2/24 dev veth1; ip -n ns2 link set veth1 up; ip -n ns2 link set lo up
ip netns add gw1; ip netns add gw2; ip netns add pbr
ip link add lan netns gw1 type veth peer name eth0 netns pbr
ip link add lan netns gw2 type veth peer name eth1 netns pbr
ip -n gw1 addr add 192.168.1.1/24 dev lan; ip -n gw1 link set lan up; ip -n gw1 link set lo up
ip -n gw2 addr add 192.168.2.1/24 dev lan; ip -n gw2 link set lan up; ip -n gw2 link set lo up
ip -n pbr addr add 192.168.1.10/24 dev eth0; ip -n pbr link set eth0 up
ip -n pbr addr add 192.168.2.10/24 dev eth1; ip -n pbr link set eth1 up; ip -n pbr link set lo up
ip -n pbr route add default via 192.168.1.1 proto 110
ip -n pbr route add default via 192.168.2.1 dev eth1 table 100 proto 110
ip -n pbr rule add from 10.0.0.100 lookup 100 protocol 110
ip netns exec pbr tc qdisc add dev eth0 root handle 1: tbf rate 1mbit burst 10kb latency 70ms
";



#[test]
fn seed_matches_iproute2_and_pings() {
    let reference = Sandbox::new();
    reference.sh(SEED_IPROUTE2).ok();
    let ours = Sandbox::new();
    let script = ours.write_script("seed.ns", SEED);
    let run = ours.netscript(&["run", &script]);
    assert!(run.success, "run failed: {}", run.stderr);
    assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()), "netscript's state differs from iproute2's");
    ours.sh("ip netns exec ns1 ping -c 1 -W 2 192.168.1.2").ok();
}

#[test]
fn veth_ends_have_one_queue_each_way() {
    // The oracle leaves queue counts out (iproute2 allocates one per CPU); this is where
    // netscript's own choice is checked.
    let sb = Sandbox::new();
    let script = sb.write_script("seed.ns", SEED);
    sb.netscript(&["run", &script]).ok();
    for (ns, dev) in [("ns1", "veth0"), ("ns2", "veth1"), ("pbr", "eth0")] {
        let out = sb.sh(&format!("ip -n {ns} -d -json link show {dev}")).ok();
        let link: serde_json::Value = serde_json::from_str(&out).expect("ip -json");
        assert_eq!(link[0]["num_tx_queues"], 1, "{ns}/{dev}: {out}");
        assert_eq!(link[0]["num_rx_queues"], 1, "{ns}/{dev}: {out}");
    }
}

#[test]
fn second_run_changes_nothing_and_down_restores_the_start() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("seed.ns", SEED);
    sb.netscript(&["run", &script]).ok();
    let applied = sb.dump();
    sb.assert_up_to_date(&script);
    assert_eq!(sb.dump(), applied, "a second run changed the state");
    let plan = sb.netscript(&["plan", &script]).ok();
    // Nothing to change; the seed's expectation is still listed (it is checked on every run).
    assert_eq!(plan, format!("up to date: nothing to do\nthen check:\n  - expect ns1 reach 192.168.1.2 within 2s  # {script}:{}:1\n", SEED.lines().count()));
    sb.netscript(&["down", &script]).ok();
    assert_eq!(sb.dump(), before, "down did not restore the starting state");
}

#[test]
fn refused_operation_rolls_back_byte_for_byte() {
    // A gateway that no interface reaches: every kernel refuses the route (ENETUNREACH),
    // after the namespaces, the veth, the addresses and the rule it depends on or runs
    // beside. (tests/rollback_visible.rs fails every operation in turn.)
    let sb = Sandbox::new();
    let script = sb.write_script("refused.ns",
        "netns rb1 < veth a <-> rb2.b < addr 10.7.0.1/24 >; rule from 10.7.0.9 table 7 >\nnetns rb2 < link b < addr 10.7.0.2/24 >\n  route 10.77.0.0/24 via 10.7.9.1\n>\n",
    );
    let before = sb.dump();
    let run = sb.netscript(&["run", &script]);
    assert_eq!(run.code, Some(3), "expected exit 3 (failed, rolled back):\n{}", run.stderr);
    assert!(run.stderr.contains("refused.ns:3:3"), "the diagnostic names the route's line:\n{}", run.stderr);
    assert!(run.stderr.contains("ENETUNREACH"), "{}", run.stderr);
    assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
    assert_eq!(sb.dump(), before, "the failed run left something behind");
}

#[test]
fn clash_with_a_pre_existing_route_rolls_back_and_keeps_it() {
    let sb = Sandbox::new();
    sb.sh("ip netns add pre1 && ip -n pre1 link set lo up && ip -n pre1 link add br9 type bridge && ip -n pre1 addr add 10.66.0.1/24 dev br9 && ip -n pre1 link set br9 up && ip -n pre1 route add 10.99.0.0/16 via 10.66.0.254").ok();
    let script = sb.write_script("clash.ns",
        "netns pre1 <\n  link br9\n  veth v9 <-> other.w9 < addr 10.67.0.1/24 >\n  route 10.99.0.0/16 via 10.67.0.2\n>\n",
    );
    let before = sb.dump();
    let run = sb.netscript(&["run", &script]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.stderr.contains("clash.ns:4:3"), "{}", run.stderr);
    assert!(run.stderr.contains("EEXIST"), "{}", run.stderr);
    assert_eq!(sb.dump(), before, "the failed run changed the sandbox");
}

#[test]
fn objects_the_script_does_not_name_are_untouched() {
    let sb = Sandbox::new();
    sb.sh(
        "ip link add keep0 type veth peer name keep1 && ip addr add 10.55.0.1/24 dev keep0 && ip link set keep0 up \
         && ip rule add from 10.55.0.9 lookup 55 && ip route add 10.56.0.0/16 via 10.55.0.2 \
         && ip netns add shared && ip -n shared link add kbr type bridge && ip -n shared rule add to 10.57.0.0/16 lookup 57",
    )
    .ok();
    let before = sb.dump();
    let script = sb.write_script("u.ns",
        "netns shared < veth s0 <-> leaf.l0 < addr 10.58.0.1/24 >; rule from 10.58.0.5 table 58; route 10.59.0.0/16 via 10.58.0.2 >\nhost < link keep0 < mtu 1400 > >\n",
    );
    sb.netscript(&["run", &script]).ok();
    let during = sb.sh("ip -json link show keep1; ip -json rule show; ip -json route show; ip -n shared -json link show kbr; ip -n shared -json rule show").ok();
    assert!(during.contains("\"keep1\"") && during.contains("10.55.0.9") && during.contains("10.56.0.0/16"), "{during}");
    assert!(during.contains("\"kbr\"") && during.contains("10.57.0.0"), "{during}");
    sb.netscript(&["run", &script]).ok();
    // A failing edit of the same script leaves everything as the first run made it.
    let applied = sb.dump();
    // A gateway no interface reaches: refused by any kernel.
    let failing = sb.write_script("u.ns", "netns shared < veth s0 <-> leaf.l0 < addr 10.58.0.1/24 >; route 10.60.0.0/16 via 10.58.9.1 dev s0 >\nhost < link keep0 < mtu 1400 > >\n");
    let run = sb.netscript(&["run", &failing]);
    assert!(run.code == Some(3) && run.stderr.contains("route 10.60.0.0/16"), "the edit must fail on its route: {}", run.stderr);
    assert_eq!(sb.dump(), applied, "a failed run changed the state");
    let restore = sb.write_script("u.ns",
        "netns shared < veth s0 <-> leaf.l0 < addr 10.58.0.1/24 >; rule from 10.58.0.5 table 58; route 10.59.0.0/16 via 10.58.0.2 >\nhost < link keep0 < mtu 1400 > >\n",
    );
    sb.netscript(&["down", &restore]).ok();
    assert_eq!(sb.dump(), before, "down did not restore exactly what was there");
}

#[test]
fn an_edited_script_removes_what_it_no_longer_declares() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("e.ns", "netns e1 < veth a <-> e2.b < addr 10.8.0.1/24 > >\nnetns e3\n");
    sb.netscript(&["run", &script]).ok();
    assert!(sb.sh("ip netns list").ok().contains("e3"));
    sb.write_script("e.ns", "netns e1 < veth a <-> e2.b < addr 10.8.0.1/24; addr 10.8.1.1/24 > >\n");
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let list = sb.sh("ip netns list").ok();
    assert!(!list.contains("e3"), "e3 is no longer declared and should be gone: {list}");
    assert!(sb.sh("ip -n e1 -json addr show dev a").ok().contains("10.8.1.1"));
    sb.netscript(&["down", &script]).ok();
    assert_eq!(sb.dump(), before);
}

/// The kernel reports a /0 rule selector as "from all": such a rule applies, verifies,
/// and a re-run is up to date (v4 and v6).
#[test]
fn rules_with_zero_length_selectors_apply_and_converge() {
    let sb = Sandbox::new();
    let script = sb.write_script("zero.ns", "netns z0 <\n  rule from 0.0.0.0/0 lookup 100\n  rule from ::/0 lookup 100\n  rule to ::/0 fwmark 7 lookup 101\n>\n");
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    sb.assert_up_to_date(&script);
    let v4 = sb.sh("ip -n z0 -4 rule show").ok();
    let v6 = sb.sh("ip -n z0 -6 rule show").ok();
    assert!(v4.contains("from all lookup 100"), "{v4}");
    assert!(v6.contains("from all lookup 100") && v6.contains("fwmark 0x7 lookup 101"), "{v6}");
    sb.netscript(&["down", &script]).ok();
    assert!(!sb.sh("ip netns list").ok().contains("z0"));
}

#[test]
fn the_summary_counts_what_an_edit_created_changed_and_removed() {
    // An edit that adds an address, changes an mtu and drops an address: one of each.
    let sb = Sandbox::new();
    let version = |mtu: u32, second: &str| format!("netns sa < veth v0 <-> sb.v1 < mtu {mtu}; addr 10.1.0.1/24; addr {second} > >\nnetns sb\n");
    let script = sb.write_script("summary.ns", &version(1400, "10.3.0.1/24"));
    let first = sb.netscript(&["run", &script]);
    assert!(first.success, "{}", first.stderr);
    sb.put(&script, &version(1450, "10.2.0.1/24"));
    let edit = sb.netscript(&["run", &script]);
    assert!(edit.success, "{}", edit.stderr);
    assert!(edit.stderr.contains("applied 3 operations (1 created, 1 changed, 1 removed)"), "{}", edit.stderr);
}
