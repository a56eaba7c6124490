//! netem's finer options (issue 24): `limit`, `duplicate`, `corrupt`, `reorder [gap]`.
//! Parity with `tc qdisc add ... netem ...` (oracle: `tc -json qdisc show`, and the full
//! state dump), a re-run changes nothing, an edit that drops an option leaves the kernel
//! without it (the kernel keeps a netem's reorder and corrupt probabilities across a
//! change that does not name them), a refused run rolls back, `down` restores the start.
//!
//! Like tests/full_kernel.rs: in the full-kernel lane (NETSCRIPT_FULL_KERNEL=1) netem is
//! required; on a kernel without it, each test asserts the documented refusal and a
//! complete rollback instead.

mod support;
use support::netem::{iproute2_pair_with, netem_taken, pair_with, qdiscs};
use support::Sandbox;

#[test]
fn finer_options_equal_tc() {
    // Few cases, and the whole dump only for the last: the lane's emulated machine is slow.
    for (ours_words, tc_words, shown) in [
        ("netem delay 10ms limit 200", "delay 10ms limit 200", "\"limit\":200"),
        ("netem delay 10ms reorder 10%", "delay 10ms reorder 10%", "\"reorder\""),
        (
            "netem delay 20ms jitter 5ms loss 1% rate 1mbit limit 300 duplicate 2% corrupt 0.1% reorder 50% gap 3",
            "delay 20ms 5ms loss 1% rate 1mbit limit 300 duplicate 2% corrupt 0.1% reorder 50% gap 3",
            "\"reorder\"",
        ),
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
        let (mine, theirs) = (qdiscs(&ours), qdiscs(&reference));
        assert!(theirs.contains(shown), "tc shows {shown}: {theirs}");
        assert_eq!(mine, theirs, "`{ours_words}` differs from `tc ... netem {tc_words}`");
        ours.assert_up_to_date(&script);
        if ours_words.contains("gap") {
            assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()), "`{ours_words}`");
            let shown_by_us = ours.netscript(&["show", "fk1"]).ok();
            // Percentages read back as fractions of 2^32 - 1 (`corrupt 0.09999999…%`).
            for word in ["limit 300", " duplicate 2", " corrupt 0.", " reorder 50", " gap 3"] {
                assert!(shown_by_us.contains(word), "{word}: {shown_by_us}");
            }
            ours.netscript(&["down", &script]).ok();
            support::assert_same_dump(&before, &ours.dump(), "after down");
        }
    }
}

#[test]
fn dropping_an_option_removes_it_from_the_kernel_and_a_refusal_rolls_back() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("netem.ns", &pair_with("netem delay 10ms corrupt 1% reorder 20% gap 4 duplicate 3%"));
    let run = sb.netscript(&["run", &script]);
    if !netem_taken(&sb, &run, &before) {
        return;
    }
    // The edit drops corrupt and reorder: tc's `qdisc change` without them would leave
    // both in the kernel; netscript sends them as 0%.
    sb.put(&script, &pair_with("netem delay 10ms duplicate 3%"));
    let reference = Sandbox::new();
    reference.sh(&iproute2_pair_with("delay 10ms duplicate 3%")).ok();
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{run:?}");
    assert_eq!(qdiscs(&sb), qdiscs(&reference), "the kernel holds what a fresh `netem delay 10ms duplicate 3%` holds");
    sb.assert_up_to_date(&script);
    // A refused run (its last operation fails) puts everything back, the netem included.
    let edited = pair_with("netem delay 30ms limit 50 corrupt 2%").replace("addr 10.77.0.2/24", "addr 10.77.0.2/24 10.79.0.2/24");
    sb.put(&script, &edited);
    let ops = sb.op_count(&script);
    assert_eq!(ops, 2, "the netem and an address");
    let state = sb.dump();
    let refused = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", (ops - 1).to_string()), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["run", &script]);
    assert_eq!(refused.code, Some(3), "{refused:?}");
    support::assert_same_dump(&state, &sb.dump(), "after the rollback");
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

/// netem's `slot` (issue 24): parity with tc; dropping it clears it (the kernel keeps a
/// slot across a change without TCA_NETEM_SLOT: netscript sends a zero one); a refused
/// edit that adds it back rolls back; `down` restores the start.
#[test]
fn slot_equals_tc_and_dropping_it_clears_it() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let with_slot = "netem delay 10ms slot 800us 1ms packets 32 bytes 64kb";
    let script = sb.write_script("netem.ns", &pair_with(with_slot));
    let run = sb.netscript(&["run", &script]);
    if !netem_taken(&sb, &run, &before) {
        return;
    }
    let reference = Sandbox::new();
    reference.sh(&iproute2_pair_with("delay 10ms slot 800us 1ms packets 32 bytes 64kb")).ok();
    let (mine, theirs) = (qdiscs(&sb), qdiscs(&reference));
    assert!(theirs.contains("slot"), "tc shows the slot: {theirs}");
    assert_eq!(mine, theirs, "`{with_slot}` differs from tc's");
    sb.assert_up_to_date(&script);
    let shown = sb.netscript(&["show", "fk1"]).ok();
    assert!(shown.contains("slot 800us 1ms packets 32 bytes 64kb"), "{shown}");
    // The edit drops the slot.
    sb.put(&script, &pair_with("netem delay 10ms"));
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{run:?}");
    let plain = Sandbox::new();
    plain.sh(&iproute2_pair_with("delay 10ms")).ok();
    assert_eq!(qdiscs(&sb), qdiscs(&plain), "the kernel holds what a fresh `netem delay 10ms` holds");
    assert!(!qdiscs(&sb).contains("slot"), "{}", qdiscs(&sb));
    sb.assert_up_to_date(&script);
    // An edit that adds it back, refused at its last operation, leaves no slot.
    let edited = pair_with(with_slot).replace("addr 10.77.0.2/24", "addr 10.77.0.2/24 10.79.0.2/24");
    sb.put(&script, &edited);
    let ops = sb.op_count(&script);
    let state = sb.dump();
    let refused = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", (ops - 1).to_string()), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["run", &script]);
    assert_eq!(refused.code, Some(3), "{refused:?}");
    support::assert_same_dump(&state, &sb.dump(), "after the rollback");
    assert!(!qdiscs(&sb).contains("slot"), "{}", qdiscs(&sb));
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

/// netem's loss models (issue 24): `loss state` and `loss gemodel` equal tc's (tc-testing
/// ba29 among them), a re-run changes nothing, and an edit back to random loss leaves
/// what a fresh `netem loss 1%` holds; `down` restores the start.
#[test]
fn loss_models_equal_tc() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("netem.ns", &pair_with("netem delay 10ms loss state 1% 20% 3% 40% 5%"));
    let run = sb.netscript(&["run", &script]);
    if !netem_taken(&sb, &run, &before) {
        return;
    }
    for (ours_words, tc_words, shown) in [
        ("netem delay 10ms loss state 1% 20% 3% 40% 5%", "delay 10ms loss state 1% 20% 3% 40% 5%", "\"loss-state\""),
        ("netem loss gemodel 1%", "loss gemodel 1%", "\"loss-gemodel\""),
        ("netem delay 5ms loss gemodel 1% 10% 70% 0.1%", "delay 5ms loss gemodel 1% 10% 70% 0.1%", "\"loss-gemodel\""),
        ("netem delay 10ms loss 1%", "delay 10ms loss 1%", "\"loss-random\""),
    ] {
        sb.put(&script, &pair_with(ours_words));
        let run = sb.netscript(&["run", &script]);
        assert!(run.success, "{ours_words}: {run:?}");
        let reference = Sandbox::new();
        reference.sh(&iproute2_pair_with(tc_words)).ok();
        let (mine, theirs) = (qdiscs(&sb), qdiscs(&reference));
        assert!(theirs.contains(shown), "tc shows {shown}: {theirs}");
        assert_eq!(mine, theirs, "`{ours_words}` differs from `tc ... netem {tc_words}`");
        sb.assert_up_to_date(&script);
    }
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}
