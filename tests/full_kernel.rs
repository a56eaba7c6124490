//! Full-kernel tests: what needs a kernel feature that some kernels lack (here: netem),
//! against `tc -json` and real traffic, each in its own sandbox.
//!
//! They run everywhere, and what they require depends on where:
//! * In the full-kernel lane (`scripts/full-kernel.sh`: Debian's kernel with all of its
//!   modules, under qemu) the runner sets `NETSCRIPT_FULL_KERNEL=1`, and each test
//!   requires the feature: a refusal by the kernel is a failure.
//! * Elsewhere, on a kernel without the feature (like the CI machine's, which has no
//!   loadable modules), each test asserts the refusal instead: exit status 3, the
//!   diagnostic naming the missing qdisc, and the system as it was. On a kernel that has
//!   the feature they run in full there too.

mod support;
use support::netem::{iproute2_pair_with, netem_taken, pair_with, qdiscs, PAIR};
use support::Sandbox;

/// Whether this is the full-kernel lane (see the module's documentation).
#[test]
fn netem_with_every_option_equals_tc() {
    let ours = Sandbox::new();
    let before = ours.dump();
    let script = ours.write_script("netem.ns", &pair_with("netem delay 20ms jitter 5ms loss 1% rate 1mbit"));
    let run = ours.netscript(&["run", &script]);
    if !netem_taken(&ours, &run, &before) {
        return;
    }
    let reference = Sandbox::new();
    reference.sh(&iproute2_pair_with("delay 20ms 5ms loss 1% rate 1mbit")).ok();
    let (mine, theirs) = (qdiscs(&ours), qdiscs(&reference));
    assert!(theirs.contains("\"kind\":\"netem\""), "tc made a netem: {theirs}");
    assert_eq!(mine, theirs, "netscript's netem differs from tc's (tc -json qdisc show)");
    assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()));
    // Read back and verified as what the script says: a second run has nothing to do.
    ours.assert_up_to_date(&script);
    ours.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &ours.dump(), "after down");
}

#[test]
fn netem_options_one_by_one_equal_tc() {
    for (ours_words, tc_words) in [
        ("netem delay 100ms", "delay 100ms"),
        ("netem delay 0ms loss 0.25%", "delay 0ms loss 0.25%"),
        ("netem delay 10ms rate 40gbit", "delay 10ms rate 40gbit"),
        ("netem delay 1s jitter 500ms", "delay 1s 500ms"),
    ] {
        let ours = Sandbox::new();
        let before = ours.dump();
        let script = ours.write_script("netem.ns", &pair_with(ours_words));
        let run = ours.netscript(&["run", &script]);
        if !netem_taken(&ours, &run, &before) {
            return;
        }
        let reference = Sandbox::new();
        reference.sh(&iproute2_pair_with(tc_words)).ok();
        assert_eq!(qdiscs(&ours), qdiscs(&reference), "`{ours_words}` differs from `tc ... netem {tc_words}`");
        ours.assert_up_to_date(&script);
    }
}

/// The smallest round-trip time of `count` pings from fk1 to fk2, in milliseconds.
fn min_rtt_ms(sb: &Sandbox, count: u32) -> f64 {
    let out = sb.sh(&format!("ip netns exec fk1 ping -n -q -c {count} -i 0.2 -W 5 10.77.0.2")).ok();
    // rtt min/avg/max/mdev = 20.1/20.3/20.6/0.1 ms
    let figures = out.lines().find_map(|l| l.split_once(" = ").filter(|(k, _)| k.contains("min/avg")).map(|(_, v)| v.to_string()));
    let figures = figures.unwrap_or_else(|| panic!("no rtt line in ping's output:\n{out}"));
    figures.split('/').next().unwrap().trim().parse().unwrap_or_else(|_| panic!("bad rtt figures: {figures}"))
}

#[test]
fn netem_delays_real_traffic_and_an_edit_changes_the_delay() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("delay.ns", PAIR);
    sb.netscript(&["run", &script]).ok();
    let unshaped = min_rtt_ms(&sb, 3);
    let pair = sb.dump();
    // Egress of v0 only: a ping's round trip crosses it once.
    sb.put(&script, &pair_with("netem delay 50ms"));
    let run = sb.netscript(&["run", &script]);
    if !netem_taken(&sb, &run, &pair) {
        return;
    }
    let delayed = min_rtt_ms(&sb, 5);
    eprintln!("ping rtt: {unshaped:.2} ms unshaped, {delayed:.2} ms with netem delay 50ms");
    assert!(unshaped < 50.0, "the unshaped path is already slower than the delay ({unshaped} ms): the test would prove nothing");
    assert!(delayed >= 50.0, "netem delay 50ms, yet a ping took {delayed} ms");
    // In place: a larger delay is the next run's change.
    sb.put(&script, &pair_with("netem delay 120ms"));
    sb.netscript(&["run", &script]).ok();
    let longer = min_rtt_ms(&sb, 3);
    eprintln!("ping rtt: {longer:.2} ms with netem delay 120ms");
    assert!(longer >= 120.0, "netem delay 120ms, yet a ping took {longer} ms");
    sb.assert_up_to_date(&script);
    // Without the statement, the delay goes.
    sb.put(&script, PAIR);
    sb.netscript(&["run", &script]).ok();
    let back = min_rtt_ms(&sb, 3);
    assert!(back < 50.0, "the netem was removed, yet a ping took {back} ms");
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}
