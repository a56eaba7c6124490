//! The kernel's own tc-testing cases (tools/testing/selftests/tc-testing/tc-tests/qdiscs/
//! tbf.json, htb.json, ingress.json) that netscript can express, each made twice: by
//! the case's `tc` commands in one sandbox, by the netscript line docs/BREADTH-TC.md
//! gives for it in another. tc's own view of the result (`tc -d -json` and `tc -d` of the
//! qdiscs and classes, without counters and reference counts) must be equal. The cases
//! run on a veth (`$DUMMY` in tc-testing; this machine's kernel has no dummy links, and
//! the qdisc does not depend on the device kind). netem's cases need the full-kernel
//! lane and are covered there (tests/full_kernel.rs).

mod support;
use support::Sandbox;

/// (tc-testing id, tc commands after the device exists, netscript attributes of v0; a
/// `|` separates the scripts of successive runs, for the cases that change a qdisc).
const CASES: &[(&str, &str, &str)] = &[
    ("tbf 6430", "tc qdisc add dev v0 handle 1: root tbf limit 1000 burst 1500 rate 10000", "shape 10kbit burst 1500b limit 1000b"),
    ("tbf 0518", "tc qdisc add dev v0 handle 1: root tbf limit 1000 burst 1500 rate 20000 mtu 2048", "shape 20kbit burst 1500b limit 1000b mtu 2048b"),
    ("tbf 320a", "tc qdisc add dev v0 handle 1: root tbf limit 1000 burst 1500 rate 20000 mtu 1510 peakrate 30000", "shape 20kbit burst 1500b limit 1000b mtu 1510b peakrate 30kbit"),
    ("tbf 239b", "tc qdisc add dev v0 handle 1: root tbf burst 1500 rate 20000 latency 100ms", "shape 20kbit burst 1500b latency 100ms"),
    (
        "tbf f948",
        "tc qdisc add dev v0 handle 1: root tbf burst 1500 rate 20000 latency 10ms; tc qdisc change dev v0 handle 1: root tbf burst 1500 rate 20000 latency 200ms",
        "shape 20kbit burst 1500b latency 10ms|shape 20kbit burst 1500b latency 200ms",
    ),
    ("tbf c975", "tc qdisc add dev v0 handle 1: root tbf limit 1000 burst 1500 rate 20000 overhead 300", "shape 20kbit burst 1500b limit 1000b overhead 300"),
    ("tbf 948c", "tc qdisc add dev v0 handle 1: root tbf limit 1000 burst 1500 rate 20000 linklayer atm", "shape 20kbit burst 1500b limit 1000b linklayer atm"),
    (
        "tbf 3549",
        "tc qdisc add dev v0 handle 1: root tbf limit 1000 burst 1500 rate 20000 linklayer atm; tc qdisc replace dev v0 handle 1: root tbf limit 1000 burst 1500 rate 20000 linklayer ethernet",
        "shape 20kbit burst 1500b limit 1000b linklayer atm|shape 20kbit burst 1500b limit 1000b linklayer ethernet",
    ),
    ("tbf 2348", "tc qdisc add dev v0 handle 1: root tbf limit 1000 burst 1500 rate 10000", "shape 10kbit burst 1500b limit 1000b"),
    ("htb 0904", "tc qdisc add dev v0 handle 1: root htb", "htb"),
    ("htb 3906", "tc qdisc add dev v0 handle 1: root htb default 10", "htb default 10"),
    ("htb 8492", "tc qdisc add dev v0 handle 1: root htb r2q 5", "htb r2q 5"),
    ("htb 9502", "tc qdisc add dev v0 handle 1: root htb direct_qlen 1024", "htb direct_qlen 1024"),
    ("htb b924", "tc qdisc add dev v0 handle 1: root htb; tc class add dev v0 parent 1: classid 1:1 htb rate 20kbit burst 1000", "htb < class 1 rate 20kbit burst 1000b >"),
    ("htb 4359", "tc qdisc add dev v0 handle 1: root htb; tc class add dev v0 parent 1: classid 1:1 htb rate 20Kbit mpu 64", "htb < class 1 rate 20kbit mpu 64b >"),
    ("htb 9048", "tc qdisc add dev v0 handle 1: root htb; tc class add dev v0 parent 1: classid 1:1 htb rate 20Kbit prio 1", "htb < class 1 rate 20kbit prio 1 >"),
    ("htb 4994", "tc qdisc add dev v0 handle 1: root htb; tc class add dev v0 parent 1: classid 1:1 htb rate 20Kbit ceil 10Kbit", "htb < class 1 rate 20kbit ceil 10kbit >"),
    ("htb 9523", "tc qdisc add dev v0 handle 1: root htb; tc class add dev v0 parent 1: classid 1:1 htb rate 20Kbit cburst 2000", "htb < class 1 rate 20kbit cburst 2000b >"),
    ("htb 5353", "tc qdisc add dev v0 handle 1: root htb; tc class add dev v0 parent 1: classid 1:1 htb rate 20Kbit mtu 2048", "htb < class 1 rate 20kbit mtu 2048b >"),
    ("htb 346a", "tc qdisc add dev v0 handle 1: root htb; tc class add dev v0 parent 1: classid 1:1 htb rate 20Kbit quantum 2048", "htb < class 1 rate 20kbit quantum 2048b >"),
    ("htb 303a", "tc qdisc add dev v0 handle 1: root htb r2q 5; tc qdisc del dev v0 handle 1: root", "htb r2q 5|"),
    ("ingress 9872", "tc qdisc add dev v0 ingress", "qdisc ingress"),
];

/// Everything tc shows of v0's qdiscs and classes, without the counters and reference
/// counts (which count packets and holders, not configuration).
fn details(sb: &Sandbox) -> String {
    let mut out = String::new();
    for args in [&["-d", "-json", "qdisc", "show", "dev", "v0"][..], &["-d", "qdisc", "show", "dev", "v0"], &["-d", "-json", "class", "show", "dev", "v0"], &["-d", "class", "show", "dev", "v0"]] {
        let mut full = vec!["-n", "bt"];
        full.extend_from_slice(args);
        out.push_str(&sb.run("tc", &full).ok());
        out.push('\n');
    }
    support::oracle::tc_details_without_counters(&out)
}

#[test]
fn tc_testing_cases_netscript_expresses_give_tcs_state() {
    for (id, tc, attrs) in CASES {
        let reference = Sandbox::new();
        reference.sh(&format!("ip netns add bt; ip netns add bu; ip link add v0 netns bt type veth peer name v1 netns bu; ip -n bt link set v0 up; ip -n bu link set v1 up; ip -n bt link set lo up; ip -n bu link set lo up; ip netns exec bt sh -c '{tc}'")).ok();
        let ours = Sandbox::new();
        let mut last = String::new();
        for step in attrs.split('|') {
            let body = if step.is_empty() { String::new() } else { format!("; {step}") };
            let script = ours.write_script("case.ns", &format!("netns bt < veth v0 <-> bu.v1{body} >\nnetns bu\n"));
            let run = ours.netscript(&["run", &script]);
            assert!(run.success, "{id}: `{step}` failed: {}", run.stderr);
            last = script;
        }
        let (mine, theirs) = (details(&ours), details(&reference));
        assert_eq!(mine, theirs, "{id}: `{attrs}` differs from `{tc}`");
        assert!(theirs.contains("qdisc") || attrs.ends_with('|'), "{id}: tc made something: {theirs}");
        ours.assert_up_to_date(&last);
    }
}
