//! u32 hash tables on the ingress qdisc (issue 24; tc-testing u32.json 648b):
//! `qdisc ingress < table ID divisor N prio P >` makes what `tc filter add dev X ingress
//! prio P handle ID: u32 divisor N` makes (oracle: `tc -json filter show dev X ingress`,
//! compared raw, and the full dump), a re-run changes nothing, an edit converges, drift
//! is put back, a refused run rolls back (a table someone else made on the qdisc
//! survives it untouched, and one of its id is refused), `export` gives a script that
//! makes the same, and a script without the table, or `down`, removes it. A filter that
//! links to a table with a hashkey (u32.json 1644) equals tc's, and survives its table
//! made again.

mod support;
use support::Sandbox;

const SCRIPT: &str = "
netns a <
  veth v0 <-> b.v1
  qdisc ingress <
    table 42 divisor 256 prio 99
    table 7 divisor 16 prio 5
    filter src 127.0.0.1/32 -> 1
  >
>
netns b
";

/// The same, in tc's words (tc-testing 648b's command for the first table). netscript
/// makes the tables before the filters, in the order of the script.
const IPROUTE2: &str = "
ip netns add a; ip netns add b
ip -n a link set lo up; ip -n b link set lo up
ip link add v0 netns a type veth peer name v1 netns b
ip -n a link set v0 up; ip -n b link set v1 up
tc -n a qdisc add dev v0 ingress
tc -n a filter add dev v0 ingress prio 99 handle 42: u32 divisor 256
tc -n a filter add dev v0 ingress prio 5 handle 7: u32 divisor 16
tc -n a filter add dev v0 ingress protocol ip prio 1 u32 match ip src 127.0.0.1/32 flowid 1:1
";

/// v0's ingress filters as tc lists them, unnormalised.
fn ingress_filters(sb: &Sandbox) -> String {
    sb.run("tc", &["-n", "a", "-json", "filter", "show", "dev", "v0", "ingress"]).ok()
}

#[test]
fn tables_equal_tc_and_stay_up_to_date() {
    let reference = Sandbox::new();
    reference.sh(IPROUTE2).ok();
    let ours = Sandbox::new();
    let script = ours.write_script("tables.ns", SCRIPT);
    let run = ours.netscript(&["run", &script]);
    assert!(run.success, "run failed: {}", run.stderr);
    let mine = ingress_filters(&ours);
    // Equal as tc prints them: the same priorities made in the same order, so even the
    // kernel's own table ids (800:, 801:, …) agree.
    assert_eq!(mine, ingress_filters(&reference));
    for seen in ["\"pref\":99", "\"fh\":\"42:\"", "\"ht_divisor\":256", "\"fh\":\"7:\"", "\"ht_divisor\":16"] {
        assert!(mine.contains(seen), "`{seen}` in {mine}");
    }
    assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()));
    ours.assert_up_to_date(&script);
    let show = ours.netscript(&["show", "a"]).ok();
    assert!(show.contains("table 42 divisor 256 prio 99") && show.contains("table 7 divisor 16 prio 5"), "{show}");
    let json = ours.netscript(&["show", "a", "--format", "json"]).ok();
    assert!(json.contains("\"divisor\":256") || json.contains("\"divisor\": 256"), "{json}");
}

#[test]
fn an_edit_converges_and_drift_is_put_back() {
    let sb = Sandbox::new();
    let script = sb.write_script("tables.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    // An edit: one table's divisor changes, the other moves to another priority.
    let edited = SCRIPT.replace("table 42 divisor 256", "table 42 divisor 16").replace("divisor 16 prio 5", "divisor 16 prio 6");
    sb.put(&script, &edited);
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let now = ingress_filters(&sb);
    assert!(!now.contains("\"ht_divisor\":256") && now.contains("\"pref\":6"), "{now}");
    sb.assert_up_to_date(&script);
    // Drift: one deleted by hand, the other made again by hand with another divisor.
    sb.sh("tc -n a filter del dev v0 ingress prio 6 handle 7: u32").ok();
    sb.sh("tc -n a filter del dev v0 ingress prio 99 handle 42: u32; tc -n a filter add dev v0 ingress prio 99 handle 42: u32 divisor 4").ok();
    assert_eq!(sb.op_count(&script), 3, "one table added, one deleted and made again");
    let again = sb.netscript(&["run", &script]);
    assert!(again.success, "{}", again.stderr);
    let now = ingress_filters(&sb);
    assert!(now.contains("\"fh\":\"7:\"") && !now.contains("\"ht_divisor\":4"), "{now}");
    sb.assert_up_to_date(&script);
}

#[test]
fn a_refused_run_rolls_back_and_leaves_a_foreign_table_alone() {
    let sb = Sandbox::new();
    let script = sb.write_script("tables.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    // Someone else's table on the same qdisc.
    sb.sh("tc -n a filter add dev v0 ingress prio 50 handle 43: u32 divisor 64").ok();
    let before = sb.dump();
    assert!(ingress_filters(&sb).contains("\"fh\":\"43:\""), "the foreign table is there");
    // An edit whose third operation the kernel refuses: the first two are undone.
    let edited = SCRIPT.replace("table 42 divisor 256", "table 42 divisor 128").replace("-> 1\n", "-> 2\n");
    sb.put(&script, &edited);
    let run = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", "2".into()), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["run", &script]);
    assert_eq!(run.code, Some(3), "the refusal fails the run: {run:?}");
    support::assert_same_dump(&before, &sb.dump(), "after the rollback");
    // A table with the foreign one's id is refused before anything changes.
    sb.put(&script, &SCRIPT.replace("table 7 divisor 16 prio 5", "table 43 divisor 16 prio 5"));
    let refused = sb.netscript(&["run", &script]);
    assert!(!refused.success && refused.stderr.contains("filter_conflict"), "{refused:?}");
    support::assert_same_dump(&before, &sb.dump(), "after the refused plan");
    assert!(ingress_filters(&sb).contains("\"fh\":\"43:\""), "the foreign table is still there");
}

#[test]
fn export_makes_the_same_and_a_dropped_table_and_down_remove_them() {
    let sb = Sandbox::new();
    let start = sb.dump();
    let script = sb.write_script("tables.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    sb.assert_export_makes_the_same("a", "netns b\n", &["qdisc ingress <", "table 42 divisor 256 prio 99"]);
    // A table gone from the script (the qdisc kept) is deleted; the other stays.
    sb.put(&script, &SCRIPT.replace("    table 42 divisor 256 prio 99\n", ""));
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let now = ingress_filters(&sb);
    assert!(!now.contains("\"fh\":\"42:\"") && now.contains("\"fh\":\"7:\""), "{now}");
    sb.assert_up_to_date(&script);
    sb.put(&script, SCRIPT);
    sb.netscript(&["run", &script]).ok();
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&start, &sb.dump(), "after down");
}

/// A filter that links to a table, hashing on the third byte of the source address
/// (tc-testing u32.json 1644), after its table.
const LINKED: &str = "
netns a <
  veth v0 <-> b.v1
  qdisc ingress <
    table 43 divisor 256 prio 99
    filter prio 98 link 43 hashkey mask 0xff00 at 12 src 192.168.0.0/16
  >
>
netns b
";

/// The same, with u32.json 1644's own commands.
const LINKED_IPROUTE2: &str = "
ip netns add a; ip netns add b
ip -n a link set lo up; ip -n b link set lo up
ip link add v0 netns a type veth peer name v1 netns b
ip -n a link set v0 up; ip -n b link set v1 up
tc -n a qdisc add dev v0 ingress
tc -n a filter add dev v0 ingress prio 99 handle 43: u32 divisor 256
tc -n a filter add dev v0 ingress protocol ip prio 98 u32 link 43: hashkey mask 0x0000ff00 at 12 match ip src 192.168.0.0/16
";

#[test]
fn a_linking_filter_equals_tc_survives_its_table_made_again_and_goes_on_down() {
    let reference = Sandbox::new();
    reference.sh(LINKED_IPROUTE2).ok();
    let sb = Sandbox::new();
    let start = sb.dump();
    let script = sb.write_script("linked.ns", LINKED);
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "run failed: {}", run.stderr);
    let mine = ingress_filters(&sb);
    assert_eq!(mine, ingress_filters(&reference));
    for seen in ["\"link\":\"43:\"", "\"hash_mask\":\"ff00\"", "\"hash_off\":12", "\"pref\":98"] {
        assert!(mine.contains(seen), "`{seen}` in {mine}");
    }
    assert_eq!(support::without_macs(&sb.dump()), support::without_macs(&reference.dump()));
    sb.assert_up_to_date(&script);
    sb.assert_export_makes_the_same("a", "netns b\n", &["filter prio 98 link 43 hashkey mask 0x0000ff00 at 12 src 192.168.0.0/16"]);
    // The table made again (another divisor): the kernel deletes no table in use, so the
    // filter goes first and comes back after it.
    let edited = LINKED.replace("divisor 256", "divisor 16");
    sb.put(&script, &edited);
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let now = ingress_filters(&sb);
    assert!(now.contains("\"ht_divisor\":16") && now.contains("\"link\":\"43:\""), "{now}");
    sb.assert_up_to_date(&script);
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&start, &sb.dump(), "after down");
}
