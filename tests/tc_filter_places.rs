//! Filter `prio N` and `handle H` (issue 24), iproute2's names for where a u32 filter
//! sits: what netscript makes equals what `tc filter add ... prio N handle ::H u32 ...`
//! makes (oracle: the full state dump, which holds `tc -json filter show` with the
//! priorities and node ids), a re-run changes nothing, drift and edits are put right, a
//! refused run rolls back to the filters that were there (handles included), `export`
//! gives a script that makes the same, and `down` gives back the start.

mod support;
use support::Sandbox;

const SCRIPT: &str = "
netns a <
  veth v0 <-> b.v1
  htb default 20 <
    class 10 rate 1mbit
    class 20 rate 2mbit
    filter prio 10 handle 5 proto tcp dport 80 -> 10
    filter dport 443 -> 20
    filter prio 7 handle abc src 10.0.0.0/8 -> 20
  >
>
netns b
";

/// The same, in tc's words: the filter without `prio` is the second, so prio 2.
const IPROUTE2: &str = "
ip netns add a; ip netns add b
ip -n a link set lo up; ip -n b link set lo up
ip link add v0 netns a type veth peer name v1 netns b
ip -n a link set v0 up; ip -n b link set v1 up
tc -n a qdisc add dev v0 root handle 1: htb default 20
tc -n a class add dev v0 parent 1: classid 1:10 htb rate 1mbit
tc -n a class add dev v0 parent 1: classid 1:20 htb rate 2mbit
tc -n a filter add dev v0 parent 1: protocol ip prio 10 handle ::5 u32 match ip protocol 6 0xff match ip dport 80 0xffff flowid 1:10
tc -n a filter add dev v0 parent 1: protocol ip prio 2 u32 match ip dport 443 0xffff flowid 1:20
tc -n a filter add dev v0 parent 1: protocol ip prio 7 handle ::abc u32 match ip src 10.0.0.0/8 flowid 1:20
";

/// v0's filters as tc lists them: `pref N ... fh HT::NODE ...`, one line a filter node.
fn filter_lines(sb: &Sandbox) -> String {
    sb.run("tc", &["-n", "a", "filter", "show", "dev", "v0"]).ok()
}

#[test]
fn prio_and_handle_equal_tc() {
    let reference = Sandbox::new();
    reference.sh(IPROUTE2).ok();
    let ours = Sandbox::new();
    let script = ours.write_script("places.ns", SCRIPT);
    let run = ours.netscript(&["run", &script]);
    assert!(run.success, "run failed: {}", run.stderr);
    let shown = filter_lines(&ours);
    for place in ["pref 10 u32 chain 0 fh 80", "::5 order 5 key ht", "pref 7 u32 chain 0 fh 8", "::abc order 2748", "pref 2 u32"] {
        assert!(shown.contains(place), "`{place}` is in tc's view:\n{shown}");
    }
    assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()));
    ours.assert_up_to_date(&script);
    // show names them too.
    let show = ours.netscript(&["show", "a"]).ok();
    assert!(show.contains("filter prio 10 handle 5") && show.contains("filter prio 7 handle abc"), "{show}");
}

#[test]
fn a_changed_handle_or_prio_is_put_right_and_drift_is_repaired() {
    let sb = Sandbox::new();
    let script = sb.write_script("places.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    // An edit: the handle of one filter, the priority of another.
    let edited = SCRIPT.replace("prio 10 handle 5", "prio 10 handle 6").replace("prio 7 handle abc", "prio 8 handle abc");
    let path = sb.write_script("places.ns", &edited);
    let run = sb.netscript(&["run", &path]);
    assert!(run.success, "{}", run.stderr);
    let shown = filter_lines(&sb);
    assert!(shown.contains("::6 order 6") && !shown.contains("::5 order 5"), "{shown}");
    assert!(shown.contains("pref 8 ") && !shown.contains("pref 7 "), "{shown}");
    sb.assert_up_to_date(&path);
    // Drift: someone puts the filter at prio 10 back under another node id.
    sb.sh("tc -n a filter del dev v0 parent 1: protocol ip prio 10; tc -n a filter add dev v0 parent 1: protocol ip prio 10 handle ::9 u32 match ip protocol 6 0xff match ip dport 80 0xffff flowid 1:10").ok();
    assert_eq!(sb.op_count(&path), 2, "the filter at prio 10 is deleted and made again");
    let again = sb.netscript(&["run", &path]);
    assert!(again.success, "{}", again.stderr);
    assert!(filter_lines(&sb).contains("::6 order 6"), "{}", filter_lines(&sb));
    sb.assert_up_to_date(&path);
}

#[test]
fn a_refused_change_rolls_back_to_the_old_handle() {
    let sb = Sandbox::new();
    let script = sb.write_script("places.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    let before = sb.dump();
    let edited = sb.write_script("places.ns", &SCRIPT.replace("prio 10 handle 5", "prio 10 handle 6"));
    // The plan deletes the filter at prio 10, then adds the new one: refuse the add.
    assert_eq!(sb.op_count(&edited), 2);
    let run = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", "1".into()), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["run", &edited]);
    assert_eq!(run.code, Some(3), "the refusal fails the run: {run:?}");
    support::assert_same_dump(&before, &sb.dump(), "after the rollback");
    assert!(filter_lines(&sb).contains("::5 order 5"), "the old node id is back");
}

#[test]
fn export_makes_the_same_and_down_restores_the_start() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("places.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    sb.assert_export_makes_the_same("a", "netns b\n", &["filter prio 7 handle abc src 10.0.0.0/8 -> 20", "filter prio 10 handle 5 proto tcp dport 80 -> 10"]);
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}
