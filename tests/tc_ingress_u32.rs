//! u32 filters on the ingress qdisc (issue 24; tc-testing u32.json afa9's match):
//! `qdisc ingress < filter … -> ID >` makes what `tc filter add dev X ingress protocol ip
//! prio N u32 match ip … flowid 1:ID` makes (oracle: `tc -json filter show dev X
//! ingress`, compared raw, and the full dump), a re-run changes nothing, an edit
//! converges, drift is put back, a refused run rolls back (a filter someone else put on
//! the qdisc survives it untouched), `export` gives a script that makes the same, and a
//! script without the filters, or `down`, removes them.

mod support;
use support::Sandbox;

const SCRIPT: &str = "
netns a <
  veth v0 <-> b.v1
  qdisc ingress <
    filter src 127.0.0.1/32 -> 1
    filter prio 10 handle 5 proto tcp dport 22 -> 2
    filter dst 10.0.0.0/8 -> 3
  >
>
netns b
";

/// The same, in tc's words: the third filter, without `prio`, is at its position, 3.
const IPROUTE2: &str = "
ip netns add a; ip netns add b
ip -n a link set lo up; ip -n b link set lo up
ip link add v0 netns a type veth peer name v1 netns b
ip -n a link set v0 up; ip -n b link set v1 up
tc -n a qdisc add dev v0 ingress
tc -n a filter add dev v0 ingress protocol ip prio 1 u32 match ip src 127.0.0.1/32 flowid 1:1
tc -n a filter add dev v0 ingress protocol ip prio 10 handle ::5 u32 match ip protocol 6 0xff match ip dport 22 0xffff flowid 1:2
tc -n a filter add dev v0 ingress protocol ip prio 3 u32 match ip dst 10.0.0.0/8 flowid 1:3
";

/// v0's ingress filters as tc lists them, unnormalised.
fn ingress_filters(sb: &Sandbox) -> String {
    sb.run("tc", &["-n", "a", "-json", "filter", "show", "dev", "v0", "ingress"]).ok()
}

#[test]
fn ingress_filters_equal_tc_and_stay_up_to_date() {
    let reference = Sandbox::new();
    reference.sh(IPROUTE2).ok();
    let ours = Sandbox::new();
    let script = ours.write_script("ingress.ns", SCRIPT);
    let run = ours.netscript(&["run", &script]);
    assert!(run.success, "run failed: {}", run.stderr);
    let mine = ingress_filters(&ours);
    // Equal as tc prints them, nothing dropped: both sandboxes make the ingress qdisc
    // and its priorities in the same order, so even the kernel's hash-table ids agree.
    assert_eq!(mine, ingress_filters(&reference));
    for seen in ["\"pref\":10", "\"fh\":\"801::5\"", "\"flowid\":\"1:2\"", "\"pref\":3"] {
        assert!(mine.contains(seen), "`{seen}` in {mine}");
    }
    assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()));
    ours.assert_up_to_date(&script);
    let show = ours.netscript(&["show", "a"]).ok();
    assert!(show.contains("filter prio 10 handle 5 proto tcp dport 22 -> 1:2"), "{show}");
}

#[test]
fn an_edit_converges_and_drift_is_put_back() {
    let sb = Sandbox::new();
    let script = sb.write_script("ingress.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    // An edit: one filter's match changes, one goes, one is new.
    let edited = SCRIPT.replace("filter src 127.0.0.1/32 -> 1", "filter src 127.0.0.2/32 -> 1").replace("    filter dst 10.0.0.0/8 -> 3\n", "    filter prio 20 sport 53 -> 4\n");
    sb.put(&script, &edited);
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let now = ingress_filters(&sb);
    assert!(now.contains("7f000002") || now.contains("127.0.0.2"), "{now}");
    assert!(now.contains("\"pref\":20") && !now.contains("\"pref\":3,"), "{now}");
    sb.assert_up_to_date(&script);
    // Drift: one deleted by hand, another changed by hand.
    sb.sh("tc -n a filter del dev v0 ingress protocol ip prio 20").ok();
    sb.sh("tc -n a filter del dev v0 ingress protocol ip prio 10; tc -n a filter add dev v0 ingress protocol ip prio 10 u32 match ip dport 23 0xffff flowid 1:2").ok();
    assert_eq!(sb.op_count(&script), 3, "one filter added, one deleted and made again");
    let again = sb.netscript(&["run", &script]);
    assert!(again.success, "{}", again.stderr);
    let reference = Sandbox::new();
    let path = reference.write_script("ingress.ns", &edited);
    reference.netscript(&["run", &path]).ok();
    assert_eq!(support::without_macs(&sb.dump()), support::without_macs(&reference.dump()));
    sb.assert_up_to_date(&script);
}

#[test]
fn a_refused_run_rolls_back_and_leaves_a_foreign_filter_alone() {
    let sb = Sandbox::new();
    let script = sb.write_script("ingress.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    // Someone else's filter on the same qdisc.
    sb.sh("tc -n a filter add dev v0 ingress protocol ip prio 50 u32 match ip sport 99 0xffff flowid 1:9").ok();
    let before = sb.dump();
    assert!(ingress_filters(&sb).contains("\"pref\":50"), "the foreign filter is there");
    // An edit whose second operation the kernel refuses: the first is undone.
    let edited = SCRIPT.replace("-> 1\n", "-> 7\n").replace("dport 22 -> 2", "dport 2222 -> 2");
    sb.put(&script, &edited);
    let run = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", "2".into()), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["run", &script]);
    assert_eq!(run.code, Some(3), "the refusal fails the run: {run:?}");
    support::assert_same_dump(&before, &sb.dump(), "after the rollback");
    // A filter at the foreign one's priority is refused before anything changes.
    sb.put(&script, &SCRIPT.replace("filter dst 10.0.0.0/8 -> 3", "filter prio 50 dst 10.0.0.0/8 -> 3"));
    let refused = sb.netscript(&["run", &script]);
    assert!(!refused.success && refused.stderr.contains("filter_conflict"), "{refused:?}");
    support::assert_same_dump(&before, &sb.dump(), "after the refused plan");
    assert!(ingress_filters(&sb).contains("\"pref\":50"), "the foreign filter is still there");
}

#[test]
fn export_makes_the_same_and_a_dropped_block_and_down_remove_the_filters() {
    let sb = Sandbox::new();
    let start = sb.dump();
    let script = sb.write_script("ingress.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    sb.assert_export_makes_the_same("a", "netns b\n", &["qdisc ingress <", "filter prio 10 handle 5 proto tcp dport 22 -> 2"]);
    // The qdisc stays without its block: the filters go.
    sb.put(&script, &SCRIPT.replace(" <\n    filter src 127.0.0.1/32 -> 1\n    filter prio 10 handle 5 proto tcp dport 22 -> 2\n    filter dst 10.0.0.0/8 -> 3\n  >", ""));
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(ingress_filters(&sb).trim(), "[]", "no filter is left");
    sb.assert_up_to_date(&script);
    sb.put(&script, SCRIPT);
    sb.netscript(&["run", &script]).ok();
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&start, &sb.dump(), "after down");
}
