//! Multipath routes (issue 24): `route P nexthop via A [dev D] [weight W] nexthop …`
//! gives what `ip route add P nexthop via A dev D weight W nexthop …` gives (IPv4 and
//! IPv6); a second run changes nothing; a changed weight replaces the route; a path
//! changed behind netscript's back is put back; `down` gives back the start; show and
//! export write the paths and the export rebuilds the state. Oracle: iproute2's JSON.

mod support;
use support::Sandbox;

const SCRIPT: &str = "
netns mp <
  veth a0 <-> pa.a1 < addr 10.0.0.1/24; addr fd00::1/64 >
  veth b0 <-> pb.b1 < addr 10.0.1.1/24; addr fd01::1/64 >
  route 10.9.0.0/16 nexthop via 10.0.0.2 dev a0 weight 3 nexthop via 10.0.1.2 dev b0
  route default nexthop via 10.0.0.2 nexthop via 10.0.1.2 weight 2 table 100
  route fd09::/64 nexthop via fd00::2 dev a0 nexthop via fd01::2 dev b0 weight 5
>
netns pa
netns pb
";

const IPROUTE2: &str = "
ip netns add mp; ip netns add pa; ip netns add pb
ip link add a0 netns mp type veth peer name a1 netns pa
ip link add b0 netns mp type veth peer name b1 netns pb
ip -n mp addr add 10.0.0.1/24 dev a0; ip -n mp addr add fd00::1/64 dev a0 nodad
ip -n mp addr add 10.0.1.1/24 dev b0; ip -n mp addr add fd01::1/64 dev b0 nodad
ip -n mp link set a0 up; ip -n mp link set b0 up; ip -n mp link set lo up
ip -n pa link set a1 up; ip -n pa link set lo up; ip -n pb link set b1 up; ip -n pb link set lo up
ip -n mp route add 10.9.0.0/16 proto 110 nexthop via 10.0.0.2 dev a0 weight 3 nexthop via 10.0.1.2 dev b0
ip -n mp route add default table 100 proto 110 nexthop via 10.0.0.2 nexthop via 10.0.1.2 weight 2
ip -n mp -6 route add fd09::/64 proto 110 nexthop via fd00::2 dev a0 nexthop via fd01::2 dev b0 weight 5
";

fn routes(sb: &Sandbox) -> String {
    sb.sh("ip -n mp -json route show table all; ip -n mp -6 -json route show table all").ok()
}

#[test]
fn multipath_routes_match_iproute2_and_a_rerun_changes_nothing() {
    let reference = Sandbox::new();
    reference.sh(IPROUTE2).ok();
    let ours = Sandbox::new();
    let script = ours.write_script("mp.ns", SCRIPT);
    let run = ours.netscript(&["run", &script]);
    assert!(run.success, "run failed: {}", run.stderr);
    assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()), "the dumps differ");
    let now = routes(&ours);
    assert!(now.contains("\"weight\":3") && now.contains("\"weight\":5") && now.contains("\"nexthops\""), "the paths: {now}");
    ours.assert_up_to_date(&script);
}

#[test]
fn a_changed_weight_or_a_changed_path_is_replaced_and_down_restores_the_start() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("mp.ns", SCRIPT);
    assert!(sb.netscript(&["run", &script]).success);
    let made = sb.dump();
    // Someone replaces a path's weight.
    sb.sh("ip -n mp route replace 10.9.0.0/16 proto 110 nexthop via 10.0.0.2 dev a0 weight 1 nexthop via 10.0.1.2 dev b0").ok();
    let again = sb.netscript(&["run", &script]);
    assert!(again.success, "the repair run failed: {}", again.stderr);
    support::assert_same_dump(&made, &sb.dump(), "after the repair");
    // The script changes a weight: the route is replaced.
    sb.put(&script, &SCRIPT.replace("weight 3", "weight 4"));
    let edited = sb.netscript(&["run", &script]);
    assert!(edited.success, "{}", edited.stderr);
    let now = routes(&sb);
    assert!(now.contains("\"weight\":4") && !now.contains("\"weight\":3"), "the new weight: {now}");
    sb.assert_up_to_date(&script);
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

#[test]
fn show_and_export_write_the_paths_and_the_export_rebuilds_the_state() {
    let a = Sandbox::new();
    let script = a.write_script("mp.ns", SCRIPT);
    assert!(a.netscript(&["run", &script]).success);
    let show = a.netscript(&["show", "mp"]).ok();
    assert!(show.contains("nexthop via 10.0.0.2 dev a0 weight 3 nexthop via 10.0.1.2 dev b0"), "show: {show}");
    let json = a.netscript(&["show", "--format", "json", "mp"]).ok();
    let json = serde_json::from_str::<serde_json::Value>(&json).expect("show's JSON parses").to_string();
    assert!(json.contains(r#""nexthops":[{"dev":"a0","gateway":"10.0.0.2","weight":3}"#), "show's JSON: {json}");
    let export = a.netscript(&["export"]).ok();
    assert!(export.contains("route 10.9.0.0/16 nexthop via 10.0.0.2 dev a0 weight 3 nexthop via 10.0.1.2 dev b0"), "{export}");
    let b = Sandbox::new();
    let path = b.write_script("export.ns", &export);
    let rebuilt = b.netscript(&["run", &path]);
    assert!(rebuilt.success, "the export does not run: {rebuilt:?}\n{export}");
    assert_eq!(support::without_macs(&b.dump()), support::without_macs(&a.dump()), "the state built from the export");
    b.assert_up_to_date(&path);
}
