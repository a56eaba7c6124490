//! Route path attributes and identity words (issue 24): `mtu`, `advmss`, `scope` and
//! `proto` give what `ip route add ... mtu N advmss N scope S proto P` gives; a second
//! run changes nothing; a route changed behind netscript's back (`ip route change`) is
//! put back; a changed script replaces the route; a failed run and `down` give back the
//! start. Oracle: iproute2's JSON dumps.

mod support;
use support::Sandbox;

const SCRIPT: &str = "
netns ra <
  veth v0 <-> peer.v1 < addr 10.0.0.1/24; addr fd00::1/64 >
  route 10.1.0.0/24 via 10.0.0.2 mtu 1400 advmss 1360
  route 10.2.0.0/24 dev v0 scope host metric 5
  route 10.3.0.0/24 dev v0 scope global proto bgp table 100
  route 10.4.0.0/24 via 10.0.0.3 proto 77 mtu 1280
  route fd01::/64 via fd00::2 mtu 1300 advmss 1220 proto static
  route blackhole 10.5.0.0/24 mtu 1500
>
netns peer
";

/// The same, in iproute2's words; routes carry netscript's protocol (110) unless named.
const IPROUTE2: &str = "
ip netns add ra; ip netns add peer
ip link add v0 netns ra type veth peer name v1 netns peer
ip -n ra addr add 10.0.0.1/24 dev v0; ip -n ra addr add fd00::1/64 dev v0 nodad
ip -n ra link set v0 up; ip -n ra link set lo up
ip -n peer link set v1 up; ip -n peer link set lo up
ip -n ra route add 10.1.0.0/24 via 10.0.0.2 mtu 1400 advmss 1360 proto 110
ip -n ra route add 10.2.0.0/24 dev v0 scope host metric 5 proto 110
ip -n ra route add 10.3.0.0/24 dev v0 scope global proto bgp table 100
ip -n ra route add 10.4.0.0/24 via 10.0.0.3 proto 77 mtu 1280
ip -n ra -6 route add fd01::/64 via fd00::2 mtu 1300 advmss 1220 proto static
ip -n ra route add blackhole 10.5.0.0/24 mtu 1500 proto 110
";

fn routes(sb: &Sandbox) -> String {
    sb.sh("ip -n ra -json route show table all; ip -n ra -6 -json route show table all").ok()
}

#[test]
fn path_attributes_scope_and_proto_match_iproute2() {
    let reference = Sandbox::new();
    reference.sh(IPROUTE2).ok();
    let ours = Sandbox::new();
    let script = ours.write_script("attrs.ns", SCRIPT);
    let run = ours.netscript(&["run", &script]);
    assert!(run.success, "run failed: {}", run.stderr);
    let (a, b) = (support::without_macs(&ours.dump()), support::without_macs(&reference.dump()));
    assert_eq!(a, b, "the dumps differ");
    let now = routes(&ours);
    for word in ["\"mtu\":1400", "\"advmss\":1360", "\"scope\":\"host\"", "\"protocol\":\"bgp\"", "\"protocol\":\"77\"", "\"protocol\":\"static\"", "\"mtu\":1300"] {
        assert!(now.contains(word), "{word} is in the dump: {now}");
    }
    ours.assert_up_to_date(&script);
}

#[test]
fn a_route_changed_behind_netscript_s_back_is_put_back() {
    let sb = Sandbox::new();
    let script = sb.write_script("attrs.ns", SCRIPT);
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let made = sb.dump();
    // Someone changes the MTU of one route (only), and drops the advmss of the IPv6 one.
    sb.sh("ip -n ra route change 10.1.0.0/24 via 10.0.0.2 mtu 1500 advmss 1360 proto 110; ip -n ra -6 route change fd01::/64 via fd00::2 mtu 1300 proto static").ok();
    assert!(routes(&sb).contains("\"mtu\":1500"), "the drift is there");
    let again = sb.netscript(&["run", &script]);
    assert!(again.success, "the repair run failed: {}", again.stderr);
    support::assert_same_dump(&made, &sb.dump(), "after the repair");
    sb.assert_up_to_date(&script);
}

#[test]
fn a_changed_attribute_replaces_the_route_and_down_and_rollback_restore_the_start() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("attrs.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    let first = sb.dump();
    let edited = SCRIPT.replace("mtu 1400 advmss 1360", "mtu 1300").replace("scope host metric 5", "metric 5").replace("proto 77 mtu 1280", "proto 77 mtu 1290");
    sb.put(&script, &edited);
    // A run that fails after its last operation is rolled back: the first version stays.
    let ops = (sb.op_count(&script) - 1).to_string();
    let failed = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", ops)], &["run", &script]);
    assert!(!failed.success, "the fault fails the run");
    support::assert_same_dump(&first, &sb.dump(), "after the rollback");
    sb.netscript(&["run", &script]).ok();
    let now = routes(&sb);
    assert!(now.contains("\"mtu\":1300") && !now.contains("\"mtu\":1400") && !now.contains("\"advmss\":1360"), "the new attributes: {now}");
    assert!(now.contains("\"mtu\":1290") && !now.contains("\"mtu\":1280"), "the MTU alone changed: {now}");
    assert!(now.contains("\"dst\":\"10.2.0.0/24\",\"dev\":\"v0\",\"protocol\":\"110\",\"scope\":\"link\""), "the scope is back to link: {now}");
    sb.assert_up_to_date(&script);
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

#[test]
fn show_and_export_carry_the_attributes_and_the_export_rebuilds_the_state() {
    let a = Sandbox::new();
    let script = a.write_script("attrs.ns", SCRIPT);
    let run = a.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let show = a.netscript(&["show", "ra"]).ok();
    assert!(show.contains("mtu 1400 advmss 1360") && show.contains("proto bgp"), "show: {show}");
    let json = a.netscript(&["show", "--format", "json", "ra"]).ok();
    let json = serde_json::from_str::<serde_json::Value>(&json).expect("show's JSON parses").to_string();
    assert!(json.contains(r#""advmss":1360"#) && json.contains(r#""mtu":1400"#), "show's JSON: {json}");
    let export = a.netscript(&["export"]).ok();
    for line in [
        "route 10.1.0.0/24 via 10.0.0.2 dev v0 mtu 1400 advmss 1360",
        "route 10.2.0.0/24 dev v0 metric 5 scope host",
        "route 10.3.0.0/24 dev v0 table 100 scope global proto bgp",
        "route 10.4.0.0/24 via 10.0.0.3 dev v0 mtu 1280 proto 77",
        "route fd01::/64 via fd00::2 dev v0 mtu 1300 advmss 1220 proto static",
        "route blackhole 10.5.0.0/24 mtu 1500",
    ] {
        assert!(export.contains(line), "the export lacks\n{line}\n--- export ---\n{export}");
    }
    let b = Sandbox::new();
    let path = b.write_script("export.ns", &export);
    let rebuilt = b.netscript(&["run", &path]);
    assert!(rebuilt.success, "the export does not run: {rebuilt:?}\n{export}");
    assert_eq!(support::without_macs(&b.dump()), support::without_macs(&a.dump()), "the state built from the export");
    b.assert_up_to_date(&path);
}
