//! tc's finer options (issue 24): tbf `limit`, `peakrate`, `mtu`; htb `r2q`,
//! `direct_qlen`; htb class `burst`, `cburst`, `quantum`, `mtu`. What netscript makes
//! equals what `tc` makes from the same words (oracle: `tc -d -json qdisc show`, `tc -d
//! class show`, and the full state dump), a re-run changes nothing, drift is put back,
//! `export` gives a script that makes the same, and `down` gives back the start.

mod support;
use support::Sandbox;

const SCRIPT: &str = "
netns a <
  veth v0 <-> b.v1
  shape 10mbit burst 20kb limit 100kb peakrate 40mbit mtu 2kb
  veth v2 <-> b.v3
  shape 1mbit burst 10kb latency 70ms peakrate 2mbit mtu 1514b
  veth v4 <-> b.v5
  htb default 20 r2q 5 direct_qlen 64 <
    class 10 rate 1mbit ceil 2mbit burst 15kb cburst 20kb quantum 3000b mtu 9000b
    class 20 rate 10mbit mtu 1500b
  >
  veth v6 <-> b.v7
  shape 2mbit limit 50kb mtu 9000b
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
tc -n a qdisc add dev v0 root handle 1: tbf rate 10mbit burst 20kb limit 100kb peakrate 40mbit mtu 2kb
tc -n a qdisc add dev v2 root handle 1: tbf rate 1mbit burst 10kb latency 70ms peakrate 2mbit mtu 1514
tc -n a qdisc add dev v4 root handle 1: htb default 20 r2q 5 direct_qlen 64
tc -n a class add dev v4 parent 1: classid 1:10 htb rate 1mbit ceil 2mbit burst 15kb cburst 20kb quantum 3000 mtu 9000
tc -n a class add dev v4 parent 1: classid 1:20 htb rate 10mbit mtu 1500
tc -n a qdisc add dev v6 root handle 1: tbf rate 2mbit burst 10kb limit 50kb mtu 9000
";

/// Every detail tc shows of the qdiscs and classes of namespace `a` (its JSON, and its
/// text, which alone has the peak rate), without the direct_packets_stat counter and the
/// reference count (which counts who holds the device, not the qdisc).
fn details(sb: &Sandbox) -> String {
    let mut out = String::new();
    for dev in ["v0", "v2", "v4", "v6"] {
        out.push_str(&sb.run("tc", &["-n", "a", "-d", "-json", "qdisc", "show", "dev", dev]).ok());
        out.push('\n');
        out.push_str(&sb.run("tc", &["-n", "a", "-d", "qdisc", "show", "dev", dev]).ok());
        out.push_str(&sb.run("tc", &["-n", "a", "-d", "class", "show", "dev", dev]).ok());
    }
    support::oracle::tc_details_without_counters(&out)
}

#[test]
fn finer_tbf_and_htb_options_match_tc() {
    let reference = Sandbox::new();
    reference.sh(IPROUTE2).ok();
    let ours = Sandbox::new();
    let script = ours.write_script("options.ns", SCRIPT);
    let run = ours.netscript(&["run", &script]);
    assert!(run.success, "run failed: {}", run.stderr);
    let (mine, theirs) = (details(&ours), details(&reference));
    assert_eq!(mine, theirs, "tc's details differ");
    for shown in ["peakrate 40Mbit", "peakrate 2Mbit", "mtu 2Kb", "\"r2q\":5", "\"direct_qlen\":64", "quantum 3000", "burst 15Kb", "cburst 20Kb", "lat 164ms"] {
        assert!(mine.contains(shown), "{shown} is in tc's view: {mine}");
    }
    assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()));
    ours.assert_up_to_date(&script);
}

#[test]
fn drift_in_a_finer_option_is_put_back() {
    let sb = Sandbox::new();
    let reference = Sandbox::new();
    reference.sh(IPROUTE2).ok();
    let script = sb.write_script("options.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    // Someone changes a class's burst and the peak bucket's depth by hand.
    sb.sh("tc -n a class change dev v4 parent 1: classid 1:10 htb rate 1mbit ceil 2mbit burst 30kb cburst 20kb quantum 3000 mtu 9000").ok();
    sb.sh("tc -n a qdisc change dev v0 root handle 1: tbf rate 10mbit burst 20kb limit 100kb peakrate 40mbit mtu 4kb").ok();
    assert_ne!(details(&sb), details(&reference), "the hand changes took");
    assert_eq!(sb.op_count(&script), 2, "one class and one qdisc to put back");
    let again = sb.netscript(&["run", &script]);
    assert!(again.success, "{}", again.stderr);
    assert_eq!(details(&sb), details(&reference));
    sb.assert_up_to_date(&script);
}

#[test]
fn export_makes_the_same_and_down_restores_the_start() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("options.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    let exported = sb.netscript(&["export", "a"]).ok();
    assert!(exported.contains("peakrate 40mbit mtu 2kb") && exported.contains("r2q 5 direct_qlen 64"), "{exported}");
    let copy = Sandbox::new();
    let path = copy.write_script("exported.ns", &format!("{exported}\nnetns b\n"));
    let run = copy.netscript(&["run", &path]);
    assert!(run.success, "the export runs: {}\n{exported}", run.stderr);
    assert_eq!(details(&copy), details(&sb), "the export makes the same:\n{exported}");
    copy.assert_up_to_date(&path);
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}
