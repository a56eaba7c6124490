//! A bare `qdisc ingress` / `qdisc clsact` (issue 24): what netscript makes equals what
//! `tc qdisc add dev X ingress|clsact` makes (oracle: `tc -json qdisc show` and the full
//! dump), a re-run changes nothing, one deleted by hand is put back, `export` writes the
//! statement, and a script without it, or `down`, removes it.

mod support;
use support::Sandbox;

const SCRIPT: &str = "
netns h <
  veth v0 <-> p.v1
  qdisc ingress
  veth v2 <-> p.v3
  qdisc clsact
>
netns p
";

const IPROUTE2: &str = "
ip netns add h; ip netns add p
ip -n h link set lo up; ip -n p link set lo up
ip link add v0 netns h type veth peer name v1 netns p
ip link add v2 netns h type veth peer name v3 netns p
ip -n h link set v0 up; ip -n p link set v1 up; ip -n h link set v2 up; ip -n p link set v3 up
tc -n h qdisc add dev v0 ingress
tc -n h qdisc add dev v2 clsact
";

fn qdiscs(sb: &Sandbox) -> String {
    sb.run("tc", &["-n", "h", "-json", "qdisc", "show"]).ok().replace("\"refcnt\":2,", "").replace("\"refcnt\":3,", "")
}

#[test]
fn hook_qdiscs_match_tc_and_stay_up_to_date() {
    let reference = Sandbox::new();
    reference.sh(IPROUTE2).ok();
    let ours = Sandbox::new();
    let script = ours.write_script("hooks.ns", SCRIPT);
    let run = ours.netscript(&["run", &script]);
    assert!(run.success, "run failed: {}", run.stderr);
    let mine = qdiscs(&ours);
    assert_eq!(mine, qdiscs(&reference));
    assert!(mine.contains("\"kind\":\"ingress\"") && mine.contains("\"kind\":\"clsact\""), "{mine}");
    assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()));
    ours.assert_up_to_date(&script);
    // Deleted by hand: put back.
    ours.sh("tc -n h qdisc del dev v0 ingress").ok();
    assert_eq!(ours.op_count(&script), 1);
    ours.netscript(&["run", &script]).ok();
    assert_eq!(qdiscs(&ours), qdiscs(&reference));
    let exported = ours.netscript(&["export", "h"]).ok();
    assert!(exported.contains("qdisc ingress") && exported.contains("qdisc clsact"), "{exported}");
}

#[test]
fn a_dropped_statement_and_down_remove_the_qdisc() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("hooks.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    sb.put(&script, &SCRIPT.replace("  qdisc ingress\n", ""));
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let now = qdiscs(&sb);
    assert!(!now.contains("\"kind\":\"ingress\"") && now.contains("\"kind\":\"clsact\""), "{now}");
    sb.assert_up_to_date(&script);
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}
