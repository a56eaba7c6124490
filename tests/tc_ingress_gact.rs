//! gact verdicts on u32 filters (`filter … -> ID action ok|drop|pass|reclassify|continue`,
//! issue 24; tc-testing u32.json afa9). This machine's kernel has no act_gact: there the
//! run must be refused with the documented diagnostic and rolled back completely (a
//! filter someone else put on the ingress qdisc included). The full-kernel lane
//! (scripts/full-kernel.sh, tests/full-kernel/lane.txt) has gact: there what netscript
//! makes equals what tc makes (`tc -json filter show dev v0 ingress`, raw), a re-run
//! changes nothing, drift is put back, `export` round-trips, `down` gives back the start,
//! and a run refused later on rolls back to the filters that were there.

mod support;
use support::netem::full_kernel_lane;
use support::{Run, Sandbox};

const SCRIPT: &str = "
netns a <
  veth v0 <-> b.v1
  qdisc ingress <
    filter src 127.0.0.1/32 -> 1 action ok
    filter prio 5 proto tcp dport 23 -> 2 action drop
  >
>
netns b
";

/// u32.json afa9 (`… match ip src 127.0.0.1/32 flowid 1:1 action ok`), and a drop.
const IPROUTE2: &str = "
ip netns add a; ip netns add b
ip -n a link set lo up; ip -n b link set lo up
ip link add v0 netns a type veth peer name v1 netns b
ip -n a link set v0 up; ip -n b link set v1 up
tc -n a qdisc add dev v0 ingress
tc -n a filter add dev v0 ingress protocol ip prio 1 u32 match ip src 127.0.0.1/32 flowid 1:1 action ok
tc -n a filter add dev v0 ingress protocol ip prio 5 u32 match ip protocol 6 0xff match ip dport 23 0xffff flowid 1:2 action drop
";

fn ingress_filters(sb: &Sandbox) -> String {
    sb.run("tc", &["-n", "a", "-json", "filter", "show", "dev", "v0", "ingress"]).ok()
}

/// Whether the kernel took the run. When it refused, asserts that this is allowed here
/// (not the lane), that the refusal names gact, and that everything is as `before`.
#[track_caller]
fn gact_taken(sb: &Sandbox, run: &Run, before: &str) -> bool {
    if run.success {
        return true;
    }
    assert!(!full_kernel_lane(), "the full-kernel lane's kernel must take gact: {run:?}");
    assert_eq!(run.code, Some(3), "a kernel without gact refuses it at apply time: {run:?}");
    assert!(run.stderr.contains("this kernel does not support the action gact"), "{}", run.stderr);
    assert!(run.stderr.contains("act_gact") && run.stderr.contains("CONFIG_NET_ACT_GACT"), "{}", run.stderr);
    support::assert_same_dump(before, &sb.dump(), "after the refused run");
    eprintln!("this kernel has no gact: its refusal was checked; the full-kernel lane runs the rest");
    false
}

#[test]
fn gact_verdicts_equal_tc() {
    let sb = Sandbox::new();
    let start = sb.dump();
    let script = sb.write_script("gact.ns", SCRIPT);
    let run = sb.netscript(&["run", &script]);
    if !gact_taken(&sb, &run, &start) {
        return;
    }
    let reference = Sandbox::new();
    reference.sh(IPROUTE2).ok();
    // Raw, nothing dropped: both sandboxes make the same filters and actions in the
    // same order, so even the kernel's hash-table ids and action indexes agree. (The
    // full dump, sysctls included, is read only where a test needs every object: it
    // costs seconds under the lane's emulation.)
    let theirs = ingress_filters(&reference);
    let mine = ingress_filters(&sb);
    assert_eq!(mine, theirs);
    assert!(mine.contains("\"kind\":\"gact\"") && mine.contains("\"control_action\":{\"type\":\"drop\"}"), "{mine}");
    sb.assert_up_to_date(&script);
    // Drift: the drop made a pass by hand.
    sb.sh("tc -n a filter del dev v0 ingress protocol ip prio 5; tc -n a filter add dev v0 ingress protocol ip prio 5 u32 match ip protocol 6 0xff match ip dport 23 0xffff flowid 1:2 action pass").ok();
    assert_eq!(sb.op_count(&script), 2, "the filter at prio 5 is deleted and made again");
    sb.netscript(&["run", &script]).ok();
    sb.assert_up_to_date(&script);
    assert!(ingress_filters(&sb).contains("\"control_action\":{\"type\":\"drop\"}"), "the drop is back");
    let exported = sb.netscript(&["export", "a"]).ok();
    assert!(exported.contains("-> 1 action ok") && exported.contains("-> 2 action drop"), "{exported}");
    let copy = Sandbox::new();
    let path = copy.write_script("exported.ns", &format!("{exported}\nnetns b\n"));
    assert!(copy.netscript(&["run", &path]).success);
    assert_eq!(ingress_filters(&copy), theirs, "the export makes the same:\n{exported}");
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&start, &sb.dump(), "after down");
}

#[test]
fn a_refused_gact_run_rolls_back_and_leaves_a_foreign_filter_alone() {
    let sb = Sandbox::new();
    let plain = SCRIPT.replace(" action ok", "").replace(" action drop", "");
    let script = sb.write_script("gact.ns", &plain);
    let first = sb.netscript(&["run", &script]);
    assert!(first.success, "{}", first.stderr);
    sb.sh("tc -n a filter add dev v0 ingress protocol ip prio 50 u32 match ip sport 99 0xffff flowid 1:9").ok();
    let before = sb.dump();
    sb.put(&script, SCRIPT);
    // Each filter is deleted and made again with its action: four operations.
    assert_eq!(sb.op_count(&script), 4);
    if full_kernel_lane() {
        // A refusal after the first two (by the fault point): both are undone.
        let run = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", "2".into()), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["run", &script]);
        assert_eq!(run.code, Some(3), "{run:?}");
        support::assert_same_dump(&before, &sb.dump(), "after the rollback");
    } else {
        // The kernel refuses the first filter with an action, after its old filter went.
        let run = sb.netscript(&["run", &script]);
        assert!(!gact_taken(&sb, &run, &before), "this kernel has no gact");
    }
    assert!(ingress_filters(&sb).contains("\"pref\":50"), "the foreign filter is still there");
}
