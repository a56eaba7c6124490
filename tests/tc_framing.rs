//! tc's framing of a rate (issue 24): tbf and htb class `overhead N`, `mpu SIZE`,
//! `linklayer ethernet|atm`. What netscript makes equals what `tc` makes from the same
//! words (oracle: `tc -d -json` and `tc -d` of qdiscs and classes, which show the
//! overhead, the mpu, the link layer and the bucket sizes as the kernel charges them),
//! a re-run changes nothing, drift is put back, an edit that drops the options leaves
//! the kernel as a plain `tc` command would, a refused edit rolls back, `export` makes
//! the same and `down` gives back the start. The request bytes (the rate tables, which
//! no dump shows) are compared with tc's in tests/tc_parity.rs.

mod support;
use support::{Sandbox, tc_options};

const SCRIPT: &str = "
netns a <
  veth v0 <-> b.v1
  shape 20kbit burst 1500b limit 1000b overhead 300
  veth v2 <-> b.v3
  shape 1mbit burst 10kb latency 70ms linklayer atm mpu 64b overhead 10
  veth v4 <-> b.v5
  shape 1mbit burst 10kb latency 70ms peakrate 2mbit mtu 1514b overhead 24 mpu 96b linklayer atm
  veth v6 <-> b.v7
  htb default 20 <
    class 10 rate 1mbit ceil 2mbit mpu 64b overhead 40 linklayer atm
    class 20 rate 20kbit mpu 64b
  >
>
netns b
";

/// The same, in tc's words.
const IPROUTE2: &str = "
ip netns add a; ip netns add b
ip -n a link set lo up; ip -n b link set lo up
for i in 0 2 4 6; do
  ip link add v$i netns a type veth peer name v$((i + 1)) netns b
  ip -n a link set v$i up; ip -n b link set v$((i + 1)) up
done
tc -n a qdisc add dev v0 root handle 1: tbf rate 20kbit burst 1500 limit 1000 overhead 300
tc -n a qdisc add dev v2 root handle 1: tbf rate 1mbit burst 10kb latency 70ms linklayer atm mpu 64 overhead 10
tc -n a qdisc add dev v4 root handle 1: tbf rate 1mbit burst 10kb latency 70ms peakrate 2mbit mtu 1514 overhead 24 mpu 96 linklayer atm
tc -n a qdisc add dev v6 root handle 1: htb default 20
tc -n a class add dev v6 parent 1: classid 1:10 htb rate 1mbit ceil 2mbit mpu 64 overhead 40 linklayer atm
tc -n a class add dev v6 parent 1: classid 1:20 htb rate 20kbit mpu 64
";




#[test]
fn dropping_the_framing_converges_and_a_refused_edit_rolls_back() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("framing.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    let state = (sb.dump(), tc_options::details(&sb));
    // A refused edit (its last operation fails) puts the framing back everywhere.
    let plain = SCRIPT
        .replace(" overhead 300", "")
        .replace(" linklayer atm mpu 64b overhead 10", "")
        .replace(" overhead 24 mpu 96b linklayer atm", "")
        .replace(" mpu 64b overhead 40 linklayer atm", "")
        .replace("rate 20kbit mpu 64b", "rate 20kbit");
    sb.put(&script, &plain);
    let ops = sb.op_count(&script);
    assert_eq!(ops, 5, "three qdiscs and two classes");
    let refused = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", (ops - 1).to_string()), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["run", &script]);
    assert_eq!(refused.code, Some(3), "{refused:?}");
    support::assert_same_dump(&state.0, &sb.dump(), "after the rollback");
    assert_eq!(tc_options::details(&sb), state.1, "tc's details after the rollback");
    // The edit itself leaves what tc makes without the options (tc-testing 3549's
    // `linklayer atm` replaced by plain Ethernet).
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let reference = Sandbox::new();
    let plain_tc = IPROUTE2
        .replace(" overhead 300", "")
        .replace(" linklayer atm mpu 64 overhead 10", "")
        .replace(" overhead 24 mpu 96 linklayer atm", "")
        .replace(" mpu 64 overhead 40 linklayer atm", "")
        .replace("rate 20kbit mpu 64", "rate 20kbit");
    reference.sh(&plain_tc).ok();
    assert_eq!(tc_options::details(&sb), tc_options::details(&reference));
    assert!(!tc_options::details(&sb).contains("linklayer atm") && !tc_options::details(&sb).contains("overhead"), "{}", tc_options::details(&sb));
    sb.assert_up_to_date(&script);
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

#[test]
fn overhead_mpu_and_linklayer_match_tc() {
    // tc-testing c975: the overhead is charged on the bucket (1500 + 300 bytes).
    let shown = ["burst 1800b", "overhead 300", "linklayer atm", "mpu 64b", "mpu 96b", "overhead 40", "\"overhead\":24"];
    tc_options::assert_parity("framing.ns", SCRIPT, IPROUTE2, &shown);
}

#[test]
fn drift_in_the_framing_is_put_back() {
    // Someone drops a class's link layer and changes a tbf's overhead by hand.
    let hand = [
        "tc -n a class change dev v6 parent 1: classid 1:10 htb rate 1mbit ceil 2mbit mpu 64 overhead 40",
        "tc -n a qdisc change dev v0 root handle 1: tbf rate 20kbit burst 1500 limit 1000 overhead 200",
    ];
    tc_options::assert_drift_put_back("framing.ns", SCRIPT, IPROUTE2, &hand, 2);
}

#[test]
fn export_makes_the_same_and_down_restores_the_start() {
    tc_options::assert_export_and_down("framing.ns", SCRIPT, &["overhead 300", "overhead 40 mpu 64b linklayer atm"]);
}
