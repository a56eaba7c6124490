//! tc's finer options (issue 24): tbf `limit`, `peakrate`, `mtu`; htb `r2q`,
//! `direct_qlen`; htb class `burst`, `cburst`, `quantum`, `mtu`. What netscript makes
//! equals what `tc` makes from the same words (oracle: `tc -d -json qdisc show`, `tc -d
//! class show`, and the full state dump), a re-run changes nothing, drift is put back,
//! `export` gives a script that makes the same, and `down` gives back the start.

mod support;
use support::tc_options;

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

#[test]
fn finer_tbf_and_htb_options_match_tc() {
    let shown = ["peakrate 40Mbit", "peakrate 2Mbit", "mtu 2Kb", "\"r2q\":5", "\"direct_qlen\":64", "quantum 3000", "burst 15Kb", "cburst 20Kb", "lat 164ms"];
    tc_options::assert_parity("options.ns", SCRIPT, IPROUTE2, &shown);
}

#[test]
fn drift_in_a_finer_option_is_put_back() {
    // Someone changes a class's burst and the peak bucket's depth by hand.
    let hand = [
        "tc -n a class change dev v4 parent 1: classid 1:10 htb rate 1mbit ceil 2mbit burst 30kb cburst 20kb quantum 3000 mtu 9000",
        "tc -n a qdisc change dev v0 root handle 1: tbf rate 10mbit burst 20kb limit 100kb peakrate 40mbit mtu 4kb",
    ];
    tc_options::assert_drift_put_back("options.ns", SCRIPT, IPROUTE2, &hand, 2);
}

#[test]
fn export_makes_the_same_and_down_restores_the_start() {
    tc_options::assert_export_and_down("options.ns", SCRIPT, &["peakrate 40mbit mtu 2kb", "r2q 5 direct_qlen 64"]);
}
