//! `bpf ingress|egress "prog.o" ... prio N handle H` (issue 24): tc's filter priority and
//! cls_bpf handle. What netscript attaches sits where `tc filter add dev X ingress prio N
//! handle H bpf direct-action obj prog.o sec S` puts it (oracle: `tc -json filter show`),
//! a re-run changes nothing, a changed handle or a deleted filter is put right, a refused
//! change rolls back to the old filter (its handle included), and `down` removes it.

mod bpf_objects;
mod support;

use serde_json::Value;
use support::Sandbox;

const SCRIPT: &str = "
netns pa < veth v0 <-> pb.v1 < addr 10.19.0.1/24 > >
netns pb <
  link v1
    addr 10.19.0.2/24
    bpf ingress \"drop_icmp.o\" section classifier prio 5 handle 7
    bpf ingress \"pass_all.o\" section classifier
>
";

fn copy_objects(sb: &Sandbox) {
    for name in ["drop_icmp.o", "pass_all.o"] {
        sb.sh(&format!("cp {} /run/{name}", bpf_objects::compiled().join(name).display())).ok();
    }
}

/// The bpf filters on pb.v1's ingress hook, as (pref, handle, program name,
/// direct-action), in tc's dump order.
fn places(sb: &Sandbox) -> Vec<(u64, String, String, bool)> {
    let text = sb.sh("ip netns exec pb tc -json filter show dev v1 ingress").ok();
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    json.as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "bpf" && f.get("options").is_some())
        .map(|f| {
            let o = &f["options"];
            (f["pref"].as_u64().unwrap(), o["handle"].as_str().unwrap_or_default().to_string(), o["prog"]["name"].as_str().unwrap_or_default().to_string(), o["direct-action"] == true)
        })
        .collect()
}

#[test]
fn prio_and_handle_equal_tc_and_hold_on_a_re_run() {
    let reference = Sandbox::new();
    copy_objects(&reference);
    reference
        .sh(
            "ip netns add pb; ip netns add pa; ip link add v1 netns pb type veth peer name v0 netns pa
             tc -n pb qdisc add dev v1 clsact
             cd /run && ip netns exec pb tc filter add dev v1 ingress prio 5 handle 7 bpf direct-action obj drop_icmp.o sec classifier
             cd /run && ip netns exec pb tc filter add dev v1 ingress prio 2 handle 1 bpf direct-action obj pass_all.o sec classifier",
        )
        .ok();
    let theirs = places(&reference);
    assert_eq!(theirs.len(), 2, "tc made two filters: {theirs:?}");
    let sb = Sandbox::new();
    copy_objects(&sb);
    let script = sb.write_script("places.ns", SCRIPT);
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{run:?}");
    assert_eq!(places(&sb), theirs, "netscript's filters sit where tc's do");
    assert!(places(&sb).contains(&(5, "0x7".into(), "drop_icmp_tc".into(), true)), "{:?}", places(&sb));
    sb.assert_up_to_date(&script);
    let show = sb.netscript(&["show", "pb"]).ok();
    assert!(show.contains("bpf tc ingress prio 5 handle 7: id"), "{show}");
    let down = sb.netscript(&["down", &script]);
    assert!(down.success, "{down:?}");
    assert_eq!(sb.sh("ls /run/netns").ok().trim(), "", "down removes it all");
}

#[test]
fn a_changed_handle_is_put_right_and_a_refused_change_rolls_back() {
    let sb = Sandbox::new();
    copy_objects(&sb);
    let script = sb.write_script("places.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    let first = places(&sb);
    // A refused change: detach the old filter, then the attach of the new one fails.
    let edited = sb.write_script("places.ns", &SCRIPT.replace("prio 5 handle 7", "prio 5 handle 9"));
    assert_eq!(sb.op_count(&edited), 2, "the filter at prio 5 is detached and attached again");
    let before = sb.dump();
    let refused = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", "1".into()), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["run", &edited]);
    assert_eq!(refused.code, Some(3), "{refused:?}");
    support::assert_same_dump(&before, &sb.dump(), "after the rollback");
    assert_eq!(places(&sb), first, "the old filter is back, handle 7");
    // The change itself.
    let run = sb.netscript(&["run", &edited]);
    assert!(run.success, "{run:?}");
    assert!(places(&sb).contains(&(5, "0x9".into(), "drop_icmp_tc".into(), true)), "{:?}", places(&sb));
    sb.assert_up_to_date(&edited);
    // Drift: the filter is deleted by hand; a re-run attaches it again.
    sb.sh("ip netns exec pb tc filter del dev v1 ingress prio 5").ok();
    assert_eq!(sb.op_count(&edited), 1);
    assert!(sb.netscript(&["run", &edited]).success);
    assert!(places(&sb).contains(&(5, "0x9".into(), "drop_icmp_tc".into(), true)), "{:?}", places(&sb));
}
