//! Rule selectors by protocol, port and TOS, and `onlink` routes (issue 24): what
//! netscript makes equals what `ip rule` / `ip route` make from the same words, a second
//! run changes nothing, and `down` gives back the start. Oracle: iproute2's JSON dumps.

mod support;
use support::Sandbox;

const SCRIPT: &str = "
netns sel <
  veth v0 <-> peer.v1 < addr 10.0.0.1/24 >
  rule ipproto tcp dport 22 priority 100 table 100
  rule ipproto udp sport 1000-1005 priority 101 table 100
  rule ipproto 47 priority 102 table 100
  rule tos 0x10 priority 103 lookup 100
  rule from fd00::/64 dsfield 0x20 priority 104 table 100
  rule from 10.0.0.0/24 ipproto icmp dport 1-1024 tos 0x08 priority 105 table 200
  route 198.51.100.0/24 via 10.9.9.9 dev v0 onlink
  route default via 10.9.9.1 dev v0 onlink table 100
>
netns peer
";

/// The same, in iproute2's words; routes and rules carry netscript's protocol (110).
const IPROUTE2: &str = "
ip netns add sel; ip netns add peer
ip link add v0 netns sel type veth peer name v1 netns peer
ip -n sel addr add 10.0.0.1/24 dev v0; ip -n sel link set v0 up; ip -n sel link set lo up
ip -n peer link set v1 up; ip -n peer link set lo up
ip -n sel rule add ipproto tcp dport 22 priority 100 lookup 100 protocol 110
ip -n sel rule add ipproto udp sport 1000-1005 priority 101 lookup 100 protocol 110
ip -n sel rule add ipproto 47 priority 102 lookup 100 protocol 110
ip -n sel rule add tos 0x10 priority 103 lookup 100 protocol 110
ip -n sel -6 rule add from fd00::/64 dsfield 0x20 priority 104 lookup 100 protocol 110
ip -n sel rule add from 10.0.0.0/24 ipproto icmp dport 1-1024 tos 0x08 priority 105 lookup 200 protocol 110
ip -n sel route add 198.51.100.0/24 via 10.9.9.9 dev v0 onlink proto 110
ip -n sel route add default via 10.9.9.1 dev v0 onlink table 100 proto 110
";

fn rules(sb: &Sandbox, v6: bool) -> String {
    sb.sh(&format!("ip -n sel {} -json rule show", if v6 { "-6" } else { "-4" })).ok()
}

#[test]
fn selectors_and_onlink_match_iproute2() {
    let reference = Sandbox::new();
    reference.sh(IPROUTE2).ok();
    let ours = Sandbox::new();
    let script = ours.write_script("selectors.ns", SCRIPT);
    let run = ours.netscript(&["run", &script]);
    assert!(run.success, "run failed: {}", run.stderr);
    // The rule dumps directly (the full dump too): each selector as iproute2 shows it.
    for v6 in [false, true] {
        assert_eq!(rules(&ours, v6), rules(&reference, v6), "the IPv{} rules differ", if v6 { 6 } else { 4 });
    }
    let routes = |sb: &Sandbox| sb.sh("ip -n sel -json route show table all").ok();
    assert_eq!(routes(&ours), routes(&reference), "the routes differ (onlink)");
    assert!(routes(&ours).contains("onlink"), "the onlink flag is in the dump: {}", routes(&ours));
    assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()));
    ours.assert_up_to_date(&script);
}

#[test]
fn a_changed_selector_is_replaced_and_down_restores_the_start() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("selectors.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    // Only the port range differs: a different rule, so the old one goes.
    let edited = SCRIPT.replace("sport 1000-1005", "sport 1000-1006");
    sb.put(&script, &edited);
    sb.netscript(&["run", &script]).ok();
    let now = rules(&sb, false);
    assert!(now.contains("\"sport_end\":1006"), "the new range is there: {now}");
    assert!(!now.contains("\"sport_end\":1005"), "the old range is gone: {now}");
    sb.assert_up_to_date(&script);
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

#[test]
fn a_rule_differing_only_by_tos_is_not_taken_for_netscript_s() {
    // A hand-made rule equal but for its TOS: netscript adds its own and leaves the
    // other alone, before and after down.
    let sb = Sandbox::new();
    sb.sh("ip netns add sel; ip netns add peer; ip -n sel rule add tos 0x04 priority 103 lookup 100").ok();
    let before = sb.dump();
    let script = sb.write_script("selectors.ns", SCRIPT);
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let now = rules(&sb, false);
    assert!(now.contains("\"tos\":\"0x04\"") && now.contains("\"tos\":\"0x10\""), "both rules: {now}");
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

#[test]
fn rules_with_a_zero_length_selector_are_rules_of_its_family_without_one() {
    // `from ::/0` is how a script says "an IPv6 rule" when it selects by something else
    // (oif, fwmark, uidrange): the kernel keeps no /0 selector ("from all"), and neither
    // does netscript, so the rule verifies and a re-run finds it.
    const RULES: &str = "
netns zero <
  link lo
  rule from ::/0 oif lo priority 200 table 100
  rule from ::/0 fwmark 0x7 priority 201 table 100
  rule to ::/0 uidrange 1000-1999 priority 202 table 100
  rule from 0.0.0.0/0 fwmark 0x7 priority 203 table 100
  rule to 0.0.0.0/0 oif lo priority 204 table 100
>
";
    const IPROUTE2: &str = "
ip netns add zero; ip -n zero link set lo up
ip -n zero -6 rule add oif lo priority 200 lookup 100 protocol 110
ip -n zero -6 rule add fwmark 0x7 priority 201 lookup 100 protocol 110
ip -n zero -6 rule add uidrange 1000-1999 priority 202 lookup 100 protocol 110
ip -n zero -4 rule add fwmark 0x7 priority 203 lookup 100 protocol 110
ip -n zero -4 rule add oif lo priority 204 lookup 100 protocol 110
";
    let reference = Sandbox::new();
    reference.sh(IPROUTE2).ok();
    let ours = Sandbox::new();
    let script = ours.write_script("zero.ns", RULES);
    let run = ours.netscript(&["run", &script]);
    assert!(run.success, "run failed: {}", run.stderr);
    for family in ["-4", "-6"] {
        let dump = |sb: &Sandbox| sb.sh(&format!("ip -n zero {family} -json rule show")).ok();
        assert_eq!(dump(&ours), dump(&reference), "the {family} rules differ");
    }
    ours.assert_up_to_date(&script);
}

#[test]
fn routes_that_refuse_match_iproute2_and_are_removed_exactly() {
    const ROUTES: &str = "
netns kinds <
  route blackhole 203.0.113.0/24
  route unreachable 198.51.100.0/24 metric 5 table 100
  route prohibit 192.0.2.0/24
  route blackhole 2001:db8::/32
  route prohibit 2001:db8:1::/48 metric 7
>
";
    const IPROUTE2: &str = "
ip netns add kinds; ip -n kinds link set lo up
ip -n kinds route add blackhole 203.0.113.0/24 proto 110
ip -n kinds route add unreachable 198.51.100.0/24 metric 5 table 100 proto 110
ip -n kinds route add prohibit 192.0.2.0/24 proto 110
ip -n kinds -6 route add blackhole 2001:db8::/32 proto 110
ip -n kinds -6 route add prohibit 2001:db8:1::/48 metric 7 proto 110
";
    let reference = Sandbox::new();
    reference.sh(IPROUTE2).ok();
    let ours = Sandbox::new();
    let script = ours.write_script("kinds.ns", ROUTES);
    let run = ours.netscript(&["run", &script]);
    assert!(run.success, "run failed: {}", run.stderr);
    let routes = |sb: &Sandbox| sb.sh("ip -n kinds -json route show table all; ip -n kinds -6 -json route show table all").ok();
    assert_eq!(routes(&ours), routes(&reference), "the routes differ");
    assert!(routes(&ours).contains("\"type\":\"prohibit\""), "{}", routes(&ours));
    ours.assert_up_to_date(&script);
    // A hand-made unicast route to a prefix netscript blackholes in another table is not
    // netscript's: an edit that drops the blackhole leaves it.
    ours.sh("ip -n kinds link add d0 type veth peer name d1; ip -n kinds link set d0 up; ip -n kinds addr add 10.9.0.1/24 dev d0; ip -n kinds route add 203.0.113.0/24 via 10.9.0.2 table 7").ok();
    let before_edit = ours.sh("ip -n kinds -json route show table 7").ok();
    ours.put(&script, &ROUTES.replace("  route blackhole 203.0.113.0/24\n", ""));
    ours.netscript(&["run", &script]).ok();
    let now = routes(&ours);
    assert!(!now.contains("\"type\":\"blackhole\",\"dst\":\"203.0.113.0/24\""), "the blackhole is gone: {now}");
    assert_eq!(ours.sh("ip -n kinds -json route show table 7").ok(), before_edit);
}
