//! netem's `slot distribution TABLE DELAY JITTER` (tc-testing netem.json 5439): the
//! time from one slot to the next drawn from a table, which the kernel takes as
//! TCA_NETEM_SLOT_DIST and never reports (it reports the delay and the jitter).
//!
//! The kernel: parity of `tc -d -json qdisc show` with tc's, a re-run is a no-op (the
//! record knows the table), an edit to another table or to a plain slot makes the netem
//! anew (the kernel keeps a slot table across a change without one) and the state is
//! tc's, a failed run rolls back to the netem that was there with its table, a netem
//! someone changed since is refused, `down` restores the start. In the full-kernel lane
//! (NETSCRIPT_FULL_KERNEL=1) netem is required; on a kernel without it, each test asserts
//! the documented refusal and a complete rollback instead. The planner's part runs
//! outside the lane on hand-built kernel states (`planned`).

mod support;
use support::netem::{iproute2_pair_with, netem_taken, pair_with};
use support::Sandbox;

/// v0's qdiscs as `tc -d -json` shows them (tc-testing's command), without `refcnt` (see
/// `support::netem::qdiscs`).
fn detailed(sb: &Sandbox) -> String {
    let text = sb.sh("tc -n fk1 -d -json qdisc show dev v0").ok();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("tc -d -json: {e}: {text}"));
    for q in json.as_array_mut().expect("a list of qdiscs") {
        q.as_object_mut().expect("a qdisc").remove("refcnt");
    }
    json.to_string()
}

/// Packets v0's root qdisc has sent (`tc -s`): a netem made anew starts from 0. The
/// kernel never reports a table; this is the evidence that the qdisc was replaced.
fn sent_packets(sb: &Sandbox) -> u64 {
    let text = sb.sh("tc -n fk1 -s -json qdisc show dev v0 root").ok();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("tc -s -json: {e}: {text}"));
    json[0]["packets"].as_u64().unwrap_or_else(|| panic!("no packet count: {text}"))
}

fn ping(sb: &Sandbox) {
    sb.sh("ip netns exec fk1 ping -n -q -c 2 -i 0.2 -W 5 10.77.0.2").ok();
}

/// The same netem made by tc in `reference` (anew: deleted first when there is one).
fn tc_makes(reference: &Sandbox, tc_netem: &str) {
    reference.sh(&format!("tc -n fk1 qdisc del dev v0 root 2>/dev/null || true; tc -n fk1 qdisc add dev v0 root handle 1: netem {tc_netem}")).ok();
}

/// An edit that must make the netem anew: it succeeds, lists the deletion, the counters
/// start again, the state is tc's for `tc_netem`, and a re-run is a no-op.
#[track_caller]
fn edit_makes_anew(sb: &Sandbox, reference: &Sandbox, script: &str, netem: &str, tc_netem: &str) {
    ping(sb);
    let counted = sent_packets(sb);
    assert!(counted >= 2, "two pings went through the netem: {counted}");
    sb.put(script, &pair_with(netem));
    let run = sb.netscript(&["run", "-v", script]);
    assert!(run.success, "{run:?}");
    let applied = run.stderr + &run.stdout;
    assert!(applied.contains("delete qdisc fk1.v0 root"), "`{netem}`: the netem is made anew: {applied}");
    assert!(sent_packets(sb) < counted, "`{netem}`: a fresh netem (its counters start again)");
    tc_makes(reference, tc_netem);
    assert_eq!(detailed(sb), detailed(reference), "`{netem}` differs from tc's `{tc_netem}`");
    sb.assert_up_to_date(script);
}

/// Case 5439 made by netscript equals tc's; a re-run is a no-op; pareto → normal and
/// then → a plain slot each make the netem anew (tc's `change` would keep the old
/// table: with a plain slot the kernel would go on drawing from it); `down` restores
/// the start.
#[test]
fn slot_distribution_equals_tc_and_an_edited_table_makes_the_netem_anew() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("netem.ns", &pair_with("netem slot distribution pareto 1ms 0.1ms"));
    let run = sb.netscript(&["run", &script]);
    if !netem_taken(&sb, &run, &before) {
        return;
    }
    let reference = Sandbox::new();
    reference.sh(&iproute2_pair_with("slot distribution pareto 1ms 0.1ms")).ok();
    let shown = detailed(&sb);
    assert_eq!(shown, detailed(&reference), "case 5439 differs from tc's");
    // tc-testing's expectation: `slot distribution 1ms 100us`.
    let text = sb.sh("tc -n fk1 qdisc show dev v0").ok();
    assert!(text.contains("slot distribution 1ms 100us"), "{text}");
    sb.assert_up_to_date(&script);
    // The kernel's view alone (tc's netem: no record) has no table name: `show` prints
    // tc's words, `export` leaves the slot out with a comment, and still checks.
    let shown = reference.netscript(&["show"]).ok();
    assert!(shown.contains("slot distribution 1ms 100us"), "{shown}");
    let export = reference.netscript(&["export"]).ok();
    assert!(export.contains("# slot distribution 1ms 100us: the kernel does not report the slot's table; left out"), "{export}");
    let exported = reference.write_script("export.ns", &export);
    let check = reference.netscript(&["check", &exported]);
    assert!(check.success, "{check:?}\n{export}");

    edit_makes_anew(&sb, &reference, &script, "netem slot distribution normal 1ms 100us packets 8", "slot distribution normal 1ms 100us packets 8");
    edit_makes_anew(&sb, &reference, &script, "netem delay 5ms slot 1ms 2ms", "delay 5ms slot 1ms 2ms");
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

/// A netem with a slot table exists before the run (an earlier run made it); the run
/// that changes its table fails at its last operation and rolls back: the old netem is
/// made again, table included (the record's), so the original script is up to date
/// again. Then someone changes the netem behind netscript's back: the table it holds is
/// unknowable, the run is refused (`netem_table_unknown`) before anything changes; after
/// the help line's `tc qdisc del`, a run makes it anew.
#[test]
fn a_failed_run_rolls_back_to_the_slot_table_and_a_netem_changed_since_is_refused() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let original = pair_with("netem delay 10ms slot distribution pareto 2ms 500us");
    let script = sb.write_script("netem.ns", &original);
    let run = sb.netscript(&["run", &script]);
    if !netem_taken(&sb, &run, &before) {
        return;
    }
    let edited = pair_with("netem delay 10ms slot distribution paretonormal 2ms 500us").replace("addr 10.77.0.2/24", "addr 10.77.0.2/24 10.79.0.2/24");
    sb.put(&script, &edited);
    let state = sb.dump();
    let refused = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", "2".into()), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["run", &script]);
    assert_eq!(refused.code, Some(3), "{refused:?}");
    support::assert_same_dump(&state, &sb.dump(), "after the rollback");
    sb.put(&script, &original);
    sb.assert_up_to_date(&script);

    sb.sh("tc -n fk1 qdisc change dev v0 root netem delay 10ms slot distribution normal 3ms 500us").ok();
    let changed = detailed(&sb);
    let run = sb.netscript(&["run", &script]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("netscript::plan::netem_table_unknown") && run.stderr.contains("slot distribution pareto") && run.stderr.contains("tc -n fk1 qdisc del dev v0 root"), "{}", run.stderr);
    assert_eq!(detailed(&sb), changed, "the refused run changed nothing");
    sb.sh("tc -n fk1 qdisc del dev v0 root").ok();
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{run:?}");
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

/// What the planner makes of a slot table, from hand-built kernel states (as a dump
/// shows them: the slot's delay and jitter, no table), normalised with the record and
/// planned, the path a run takes.
mod planned {
    use netscript::model::{Netem, NetemDistribution, NetemSlot, SlotSpacing};
    use netscript::plan::action::{Action, QdiscSpec};
    use super::support::netem_planned::{plan, record};
    use netscript::units::Duration;

    /// `netem delay 10ms slot distribution TABLE DELAY_MS 500us` (a plain 1ms slot
    /// without a table).
    fn netem(delay_ms: u64, table: Option<NetemDistribution>) -> Netem {
        let slot = match table {
            Some(t) => NetemSlot { spacing: Some(SlotSpacing { delay: Duration(delay_ms * 1_000_000), jitter: Duration(500_000), table: Some(t) }), ..NetemSlot::range(Duration(0), Duration(0)) },
            None => NetemSlot::range(Duration(1_000_000), Duration(1_000_000)),
        };
        Netem { slot: Some(slot), ..Netem::delay(Duration(10_000_000)) }
    }


    fn slot_table(n: &Netem) -> Option<NetemDistribution> {
        n.tables().slot
    }

    const PARETO: Option<NetemDistribution> = Some(NetemDistribution::Pareto);

    #[test]
    fn a_rerun_is_a_no_op_because_the_record_knows_the_slot_table() {
        let made = netem(2, PARETO);
        let rerun = plan("netem delay 10ms slot distribution pareto 2ms 500us", &made, &record(&made)).unwrap();
        assert!(rerun.ops.is_empty(), "{:?}", rerun.ops);
        // The same table, another delay: changed in place, the table sent again.
        let changed = plan("netem delay 10ms slot distribution pareto 3ms 500us", &made, &record(&made)).unwrap();
        let actions: Vec<&Action> = changed.ops.iter().map(|op| &op.action).collect();
        assert!(matches!(actions[..], [Action::ReplaceQdisc { qdisc: QdiscSpec::Netem(n), .. }] if slot_table(n) == PARETO), "{actions:?}");
    }

    #[test]
    fn another_slot_table_or_none_makes_the_netem_anew_and_its_undo_gives_the_table_back() {
        let made = netem(2, PARETO);
        for words in ["netem delay 10ms slot distribution normal 2ms 500us", "netem delay 10ms slot 1ms", "netem delay 10ms"] {
            let plan = plan(words, &made, &record(&made)).unwrap();
            let actions: Vec<&Action> = plan.ops.iter().map(|op| &op.action).collect();
            assert!(matches!(actions[..], [Action::DelQdisc { .. }, Action::ReplaceQdisc { .. }]), "{words}: {actions:?}");
            assert!(matches!(&plan.ops[0].undo[..], [Action::ReplaceQdisc { qdisc: QdiscSpec::Netem(n), .. }] if *n == made), "{words}: {:?}", plan.ops[0].undo);
        }
        // From a plain slot to a table: made anew too.
        let plain = netem(2, None);
        let plan = plan("netem delay 10ms slot distribution paretonormal 2ms 500us", &plain, &record(&plain)).unwrap();
        let actions: Vec<&Action> = plan.ops.iter().map(|op| &op.action).collect();
        assert!(matches!(actions[..], [Action::DelQdisc { .. }, Action::ReplaceQdisc { .. }]), "{actions:?}");
    }

    #[test]
    fn a_netem_changed_since_has_an_unknown_slot_table_and_is_refused() {
        let made = netem(2, PARETO);
        let drifted = Netem { delay: Duration(20_000_000), ..netem(2, None) };
        let codes = |words, made: &Netem| match plan(words, &drifted, &record(made)) {
            Ok(p) => panic!("{words}: not refused: {:?}", p.ops),
            Err(d) => d.iter().map(|d| (d.code, d.message.clone())).collect::<Vec<_>>(),
        };
        let refused = codes("netem delay 10ms slot distribution pareto 2ms 500us", &made);
        assert!(matches!(&refused[..], [(code, message)] if *code == "netscript::plan::netem_table_unknown" && message.contains("`slot distribution pareto`")), "{refused:?}");
        let refused = codes("netem delay 10ms slot 1ms", &made);
        assert_eq!(refused[0].0, "netscript::plan::netem_table_unknown");
        // The record's netem had no table, the script wants one: refused too.
        let refused = codes("netem delay 10ms slot distribution normal 2ms 500us", &netem(2, None));
        assert_eq!(refused[0].0, "netscript::plan::netem_table_unknown");
    }
}
