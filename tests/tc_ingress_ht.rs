//! u32 filters placed in a hash table (tc-testing u32.json 0692 and 2478): `filter prio
//! P ht ID sample u32 VALUE MASK match u8 0 0 -> 1` makes what `tc filter add dev X
//! ingress prio P u32 ht ID: sample u32 VALUE MASK match u8 0 0 classid 1:1` makes
//! (oracle: `tc -json filter show dev X ingress`, compared raw, and the full dump): the
//! bucket tc's `sample` computes, the node ids the kernel gives tc's adds in order. A
//! re-run changes nothing; an edit that drops one filter deletes only it; another's
//! filter in the table survives runs, edits and `down`, and its node is refused; a
//! refused run puts back the filters it replaced; `export` makes the same.

mod support;
use support::Sandbox;

/// u32.json 0692's masks (bucket 40) and 2478's (bucket 4).
const MASKS_0692: [&str; 7] = ["0xff", "0xffff", "0xffffff", "0xffffffff", "0xff00ff", "0xff0000ff", "0xffff00ff"];
const MASKS_2478: [&str; 5] = ["0x70", "0xf0", "0xff0", "0xfff0", "0xff00f0"];

fn script(masks: &[&str]) -> String {
    let filters: String = masks.iter().map(|m| format!("    filter prio 99 ht 1 sample u32 0x10203040 {m} match u8 0 0 -> 1\n")).collect();
    format!("netns a <\n  veth v0 <-> b.v1\n  qdisc ingress <\n    table 1 divisor 256 prio 99\n{filters}  >\n>\nnetns b\n")
}

/// The same on a device and an ingress qdisc that were there before netscript.
fn script_on_existing(masks: &[&str]) -> String {
    let filters: String = masks.iter().map(|m| format!("      filter prio 99 ht 1 sample u32 0x10203040 {m} match u8 0 0 -> 1\n")).collect();
    format!("netns a <\n  link v0 <\n    qdisc ingress <\n      table 1 divisor 256 prio 99\n{filters}    >\n  >\n>\n")
}

/// The same, in tc-testing's words (its masks without `0x`: tc reads a mask as hex).
fn iproute2(masks: &[&str]) -> String {
    let mut out = String::from(
        "ip netns add a; ip netns add b
ip -n a link set lo up; ip -n b link set lo up
ip link add v0 netns a type veth peer name v1 netns b
ip -n a link set v0 up; ip -n b link set v1 up
tc -n a qdisc add dev v0 ingress
tc -n a filter add dev v0 ingress prio 99 handle 1: u32 divisor 256
",
    );
    for m in masks {
        out.push_str(&format!("tc -n a filter add dev v0 ingress prio 99 u32 ht 1: sample u32 0x10203040 {} match u8 0 0 classid 1:1\n", m.trim_start_matches("0x")));
    }
    out
}

/// v0's ingress filters as tc lists them, unnormalised.
fn ingress_filters(sb: &Sandbox) -> String {
    sb.run("tc", &["-n", "a", "-json", "filter", "show", "dev", "v0", "ingress"]).ok()
}

fn parity(masks: &[&str], bucket: &str) {
    let reference = Sandbox::new();
    reference.sh(&iproute2(masks)).ok();
    let ours = Sandbox::new();
    let path = ours.write_script("ht.ns", &script(masks));
    let run = ours.netscript(&["run", &path]);
    assert!(run.success, "run failed: {}", run.stderr);
    let mine = ingress_filters(&ours);
    assert_eq!(mine, ingress_filters(&reference));
    for n in 0..masks.len() {
        let fh = format!("\"fh\":\"1:{bucket}:{:x}\"", 0x800 + n);
        assert!(mine.contains(&fh), "`{fh}` in {mine}");
    }
    assert!(mine.contains(&format!("\"bkt\":\"{bucket}\"")), "{mine}");
    assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()));
    ours.assert_up_to_date(&path);
}

#[test]
fn sampled_filters_equal_tc_0692() {
    parity(&MASKS_0692, "40");
}

#[test]
fn sampled_filters_equal_tc_2478() {
    parity(&MASKS_2478, "4");
}

#[test]
fn an_edit_that_drops_one_filter_deletes_only_it_and_export_makes_the_same() {
    let sb = Sandbox::new();
    let start = sb.dump();
    let path = sb.write_script("ht.ns", &script(&MASKS_0692));
    sb.netscript(&["run", &path]).ok();
    let show = sb.netscript(&["show", "a"]).ok();
    assert!(show.contains("filter prio 99 handle 800 ht 1:40 -> 1:1"), "{show}");
    let json = sb.netscript(&["show", "a", "--format", "json"]).ok();
    assert!(json.contains("\"1:40:\"") && json.contains("\"all\""), "{json}");
    sb.assert_export_makes_the_same("a", "netns b\n", &["table 1 divisor 256 prio 99", "filter prio 99 handle 806 ht 1:40 -> 1"]);
    // The last one dropped: one deletion, by its handle; the six others stay as they are.
    sb.put(&path, &script(&MASKS_0692[..6]));
    assert_eq!(sb.op_count(&path), 1, "one filter deleted");
    let run = sb.netscript(&["run", &path]);
    assert!(run.success, "{}", run.stderr);
    let now = ingress_filters(&sb);
    assert!(!now.contains("\"fh\":\"1:40:806\"") && now.contains("\"fh\":\"1:40:805\"") && now.contains("\"fh\":\"1:40:800\""), "{now}");
    sb.assert_up_to_date(&path);
    sb.netscript(&["down", &path]).ok();
    support::assert_same_dump(&start, &sb.dump(), "after down");
}

/// One filter in bucket 40 with a source match written as a raw key (a key that `src
/// 10.0.0.1/32` makes too): read back, it is the same filter, and a re-run is a no-op.
#[test]
fn a_raw_key_a_named_match_makes_too_reruns_as_nothing() {
    let sb = Sandbox::new();
    let text = script(&["0xff"]).replace("match u8 0 0 -> 1", "match u32 0x0a000001 0xffffffff at 12 -> 1").replace("table 1 divisor 256 prio 99\n", "table 1 divisor 256 prio 99\n    filter prio 3 match u16 0x1234 0xffff at 2 proto tcp -> 2\n");
    let path = sb.write_script("raw.ns", &text);
    let run = sb.netscript(&["run", &path]);
    assert!(run.success, "{}", run.stderr);
    let now = ingress_filters(&sb);
    assert!(now.contains("\"value\":\"a000001\"") && now.contains("\"off\":12"), "{now}");
    sb.assert_up_to_date(&path);
    sb.assert_export_makes_the_same("a", "netns b\n", &["ht 1:40", "src 10.0.0.1/32", "match u32 0x00001234 0x0000ffff at 0"]);
}

/// Someone else's filter in netscript's table (on a device that was there before): runs
/// and edits leave it, a filter of the script at its node is refused
/// before anything changes, a refused run puts back what it replaced, and `down` leaves
/// it (with the table that holds it).
#[test]
fn a_foreign_filter_in_the_table_survives_and_a_refused_run_rolls_back() {
    let sb = Sandbox::new();
    sb.sh("ip netns add a; ip netns add b; ip link add v0 netns a type veth peer name v1 netns b").ok();
    let start = sb.dump();
    let path = sb.write_script("ht.ns", &script_on_existing(&MASKS_0692[..3]));
    let run = sb.netscript(&["run", &path]);
    assert!(run.success, "{}", run.stderr);
    sb.sh("tc -n a filter add dev v0 ingress prio 99 handle 1:41:900 u32 ht 1:41: match u32 0x01020304 0xffffffff at 16 classid 1:7").ok();
    let foreign = "\"fh\":\"1:41:900\"";
    assert!(ingress_filters(&sb).contains(foreign));
    sb.assert_up_to_date(&path);
    // An edit: one more filter, one changed (its flowid).
    let edited = script_on_existing(&MASKS_0692[..4]).replacen("-> 1", "-> 2", 1);
    sb.put(&path, &edited);
    let run = sb.netscript(&["run", &path]);
    assert!(run.success, "{}", run.stderr);
    let now = ingress_filters(&sb);
    assert!(now.contains(foreign) && now.contains("\"fh\":\"1:40:803\"") && now.contains("\"flowid\":\"1:2\""), "{now}");
    sb.assert_up_to_date(&path);
    // A refused run (its second operation fails): the filter it replaced is back.
    let before = sb.dump();
    let filters_before = ingress_filters(&sb);
    sb.put(&path, &edited.replace("-> 2", "-> 3").replace("0xffffffff match u8 0 0 -> 1", "0xffffffff match u8 0 0 -> 5"));
    let refused = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", "3".into()), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["run", &path]);
    assert_eq!(refused.code, Some(3), "the refusal fails the run: {refused:?}");
    support::assert_same_dump(&before, &sb.dump(), "after the rollback");
    assert_eq!(ingress_filters(&sb), filters_before);
    // A filter of the script at the foreign one's node is refused before anything changes.
    sb.put(&path, &edited.replace("      table 1 divisor 256 prio 99\n", "      table 1 divisor 256 prio 99\n      filter handle 900 ht 1:41 -> 9\n"));
    let conflict = sb.netscript(&["run", &path]);
    assert!(!conflict.success && conflict.stderr.contains("filter_conflict"), "{conflict:?}");
    support::assert_same_dump(&before, &sb.dump(), "after the refused plan");
    // The table made again for another divisor would delete the foreign filter: refused.
    sb.put(&path, &edited.replace("divisor 256", "divisor 128"));
    let remade = sb.netscript(&["run", &path]);
    assert!(!remade.success && remade.stderr.contains("filter_conflict"), "{remade:?}");
    support::assert_same_dump(&before, &sb.dump(), "after the refused remake");
    // `down`: netscript's filters go, the foreign one stays, and so do the table and the
    // qdisc that hold it.
    sb.put(&path, &edited);
    sb.netscript(&["down", &path]).ok();
    let now = ingress_filters(&sb);
    assert!(now.contains(foreign) && !now.contains("\"fh\":\"1:40:800\""), "{now}");
    // They are no longer netscript's: with them taken away by hand, nothing else of
    // netscript's is left.
    sb.sh("tc -n a qdisc del dev v0 ingress").ok();
    support::assert_same_dump(&start, &sb.dump(), "after down");
}

/// The table made again for another divisor takes netscript's filters down and back.
#[test]
fn the_table_made_again_takes_its_filters_down_and_back() {
    let sb = Sandbox::new();
    let path = sb.write_script("ht.ns", &script(&MASKS_2478));
    sb.netscript(&["run", &path]).ok();
    let edited = script(&MASKS_2478).replace("divisor 256", "divisor 8");
    sb.put(&path, &edited);
    let run = sb.netscript(&["run", &path]);
    assert!(run.success, "{}", run.stderr);
    let now = ingress_filters(&sb);
    assert!(now.contains("\"ht_divisor\":8") && now.contains("\"fh\":\"1:4:804\""), "{now}");
    sb.assert_up_to_date(&path);
}

/// A table's only filter changed, a refused run of that rolled back, the filter dropped
/// with the table kept: the kernel deletes a priority, tables and all, with the last
/// key node of the qdisc's u32 filters, so netscript makes the table again after.
#[test]
fn the_last_filter_of_a_table_changes_and_goes_with_the_table_kept() {
    let sb = Sandbox::new();
    let start = sb.dump();
    let one = script(&["0xff"]);
    let path = sb.write_script("ht.ns", &one);
    sb.netscript(&["run", &path]).ok();
    sb.put(&path, &one.replace("-> 1", "-> 2"));
    let run = sb.netscript(&["run", &path]);
    assert!(run.success, "{}", run.stderr);
    let now = ingress_filters(&sb);
    assert!(now.contains("\"fh\":\"1:40:800\"") && now.contains("\"flowid\":\"1:2\""), "{now}");
    sb.assert_up_to_date(&path);
    // The deletion done, the rest refused: the table and its filter are back as they were.
    let before = sb.dump();
    let filters_before = ingress_filters(&sb);
    sb.put(&path, &one.replace("-> 1", "-> 3"));
    let refused = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", "1".into()), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["run", &path]);
    assert_eq!(refused.code, Some(3), "the refusal fails the run: {refused:?}");
    support::assert_same_dump(&before, &sb.dump(), "after the rollback");
    assert_eq!(ingress_filters(&sb), filters_before);
    // The filter dropped, the table kept.
    sb.put(&path, &script(&[]));
    let run = sb.netscript(&["run", &path]);
    assert!(run.success, "{}", run.stderr);
    let now = ingress_filters(&sb);
    assert!(now.contains("\"fh\":\"1:\"") && !now.contains("\"fh\":\"1:40:800\""), "{now}");
    sb.assert_up_to_date(&path);
    sb.netscript(&["down", &path]).ok();
    support::assert_same_dump(&start, &sb.dump(), "after down");
}
