//! netem's `distribution normal|pareto|paretonormal` (issue 24).
//!
//! The tables: netscript computes them (it reads no file outside the script), and they
//! must be the very files iproute2 installs (oracle: Debian's iproute2 package, its
//! `tc/NAME.dist`, read here by the test only).
//!
//! The kernel: parity of `tc -json qdisc show` with tc's, a re-run is a no-op, an edit
//! to another table or to none makes the netem anew (the kernel keeps a table across a
//! change without one and never reports it), a refused edit rolls back, `down` restores
//! the start. Like tests/netem_options.rs: in the full-kernel lane
//! (NETSCRIPT_FULL_KERNEL=1) netem is required; on a kernel without it, each test asserts
//! the documented refusal and a complete rollback instead.

mod support;
use netscript::exec::tc::netem_dist;
use netscript::model::NetemDistribution;

/// Where Debian's iproute2 installs the tables (its LIBDIR), and where upstream does.
const DIST_DIRS: [&str; 2] = ["/usr/lib/x86_64-linux-gnu/tc", "/usr/lib/tc"];

#[test]
fn generated_tables_are_iproute2s_files() {
    for dist in NetemDistribution::ALL {
        let name = dist.name();
        let shipped = DIST_DIRS
            .iter()
            .find_map(|d| std::fs::read_to_string(format!("{d}/{name}.dist")).ok())
            .unwrap_or_else(|| panic!("iproute2's {name}.dist (the oracle) in none of {DIST_DIRS:?}: install Debian's iproute2"));
        let ours = netem_dist::dist_file(dist);
        if ours != shipped {
            let at = ours.lines().zip(shipped.lines()).position(|(a, b)| a != b);
            panic!("{name}.dist differs from the generated table, first at line {at:?}: ours {:?}, theirs {:?}", at.and_then(|l| ours.lines().nth(l)), at.and_then(|l| shipped.lines().nth(l)));
        }
        // What tc sends is those numbers as s16, 4096 of them.
        let table = netem_dist::table(dist);
        assert_eq!(table.len(), 4096, "{name}");
        let numbers: Vec<i16> = shipped.lines().filter(|l| !l.starts_with('#')).flat_map(|l| l.split_whitespace().map(|n| n.parse::<i16>().unwrap())).collect();
        assert_eq!(table, numbers, "{name}");
    }
}

use support::netem::{iproute2_pair_with, netem_taken, pair_with, qdiscs};
use support::Sandbox;

/// Packets v0's root qdisc has sent (`tc -s`): a netem made anew starts from 0, one
/// changed in place keeps counting. The kernel never reports a table; this is the
/// evidence that a plan that had to replace the table did replace the qdisc.
fn sent_packets(sb: &Sandbox) -> u64 {
    let text = sb.sh("tc -n fk1 -s -json qdisc show dev v0 root").ok();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("tc -s -json: {e}: {text}"));
    json[0]["packets"].as_u64().unwrap_or_else(|| panic!("no packet count: {text}"))
}

/// Two pings through v0 (its netem delays them; they come back).
fn ping(sb: &Sandbox) {
    sb.sh("ip netns exec fk1 ping -n -q -c 2 -i 0.2 -W 5 10.77.0.2").ok();
}

/// A run that must succeed, listing what it applied.
#[track_caller]
fn run_listed(sb: &Sandbox, script: &str) -> String {
    let run = sb.netscript(&["run", "-v", script]);
    assert!(run.success, "{run:?}");
    run.stderr + &run.stdout
}

/// Parity with tc (case 3782), a re-run is a no-op (the record knows the table), an
/// edit to another table and one to none make the netem anew (the run deletes it first;
/// the kernel's counters start again: tc's `change` and `replace` would keep the old
/// table, case 3785), `down` restores the start (case 4502). An edit that keeps the
/// table (case 5029) is planned in place (`planned` below). Few runs: under the lane's
/// emulation each costs seconds (and every successful run re-reads the kernel and
/// re-plans with its new record: each is a re-run check too).
#[test]
fn distribution_equals_tc_and_an_edited_table_makes_the_netem_anew() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let normal = "netem delay 100ms jitter 10ms distribution normal corrupt 1%";
    let script = sb.write_script("netem.ns", &pair_with(normal));
    let run = sb.netscript(&["run", &script]);
    if !netem_taken(&sb, &run, &before) {
        return;
    }
    let reference = Sandbox::new();
    reference.sh(&iproute2_pair_with("delay 100ms 10ms distribution normal corrupt 1%")).ok();
    assert_eq!(qdiscs(&sb), qdiscs(&reference), "`{normal}` differs from tc's");
    sb.assert_up_to_date(&script);

    // normal → pareto (with the other cases' loss state and duplicate): made anew.
    ping(&sb);
    let counted = sent_packets(&sb);
    assert!(counted >= 2, "two pings went through the netem: {counted}");
    sb.put(&script, &pair_with("netem delay 100ms jitter 10ms distribution pareto loss state 1% duplicate 1%"));
    let applied = run_listed(&sb, &script);
    assert!(applied.contains("delete qdisc fk1.v0 root") && applied.contains("distribution pareto"), "the netem is made anew: {applied}");
    assert!(sent_packets(&sb) < counted, "a fresh netem (its counters start again)");

    // pareto → none: made anew without a table (a change would keep pareto's).
    ping(&sb);
    let counted = sent_packets(&sb);
    sb.put(&script, &pair_with("netem delay 100ms jitter 10ms loss state 1% duplicate 1%"));
    let applied = run_listed(&sb, &script);
    assert!(applied.contains("delete qdisc fk1.v0 root"), "the netem is made anew: {applied}");
    assert!(sent_packets(&sb) < counted, "a fresh netem (its counters start again)");
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

/// A refused edit that adds a table rolls back to the netem without one (its deletion
/// undone: made again as it was). Then someone changes the netem behind netscript's back
/// (`tc qdisc change … distribution pareto`): the table the kernel holds is unknowable,
/// so the script with a table is refused (`netem_table_unknown`) before anything
/// changes; after the help line's `tc qdisc del`, a run makes it anew.
#[test]
fn a_refused_table_rolls_back_and_a_netem_changed_by_someone_else_is_refused() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("netem.ns", &pair_with("netem delay 100ms jitter 10ms"));
    let run = sb.netscript(&["run", &script]);
    if !netem_taken(&sb, &run, &before) {
        return;
    }
    // Refused at its last operation (the netem's deletion, the new netem, the address).
    let edited = pair_with("netem delay 100ms jitter 10ms distribution paretonormal").replace("addr 10.77.0.2/24", "addr 10.77.0.2/24 10.79.0.2/24");
    sb.put(&script, &edited);
    let state = sb.dump();
    let refused = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", "2".into()), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["run", &script]);
    assert_eq!(refused.code, Some(3), "{refused:?}");
    support::assert_same_dump(&state, &sb.dump(), "after the rollback");

    sb.sh("tc -n fk1 qdisc change dev v0 root netem delay 50ms 10ms distribution pareto").ok();
    let changed = qdiscs(&sb);
    let run = sb.netscript(&["run", &script]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("netscript::plan::netem_table_unknown") && run.stderr.contains("tc -n fk1 qdisc del dev v0 root"), "{}", run.stderr);
    assert_eq!(qdiscs(&sb), changed, "the refused run changed nothing");
    sb.sh("tc -n fk1 qdisc del dev v0 root").ok();
    // Made anew (the run's own check after applying re-reads the kernel and the record).
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{run:?}");
}

/// What the planner makes of a netem's table, from hand-built kernel states (this
/// machine's kernel has no netem): the record gives the table the kernel does not
/// report, an edited table makes the netem anew with the old one as its undo, and a
/// netem someone changed since is refused. The same path a run takes: observed (as the
/// kernel reports it, rounded, no table), normalised with the record, planned.
mod planned {
    use netscript::check::{self, FsLoader};
    use netscript::exec::tc::{NetemParams, NetemState};
    use netscript::model::{Netem, NetemDistribution};
    use netscript::plan::action::{Action, QdiscParent, QdiscSpec};
    use netscript::plan::observed::{ObservedLink, ObservedNs, ObservedQdisc, SeenQdisc};
    use netscript::plan::ownership::{self, Owned};
    use netscript::plan::{self, Observed, Ownership, Plan};
    use netscript::source::SourceMap;
    use netscript::units::Duration;

    fn netem(delay_ms: u64, distribution: Option<NetemDistribution>) -> Netem {
        Netem { jitter: Some(Duration(10_000_000)), distribution, ..Netem::delay(Duration(delay_ms * 1_000_000)) }
    }

    fn desired(words: &str) -> netscript::model::Desired {
        let mut sources = SourceMap::new();
        let file = sources.add("t.ns".to_string(), None, format!("netns a < link v0 < {words} > >\n"));
        let checked = check::check(&mut sources, file, &FsLoader);
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        checked.desired
    }

    /// Namespace `a` with v0 holding `kernel` (a netem with handle 1:) as a dump shows it.
    fn kernel_holding(kernel: &Netem) -> Observed {
        let psched = netscript::exec::traffic::psched();
        let mut shown = NetemState::predict(&NetemParams::new(kernel, psched).unwrap()).to_netem();
        shown.distribution = None; // never reported
        let mut ns = ObservedNs::default();
        ns.links.insert("v0".into(), ObservedLink { name: "v0".into(), index: 2, kind: Some("veth".into()), up: true, mtu: 1500, mac: None, master: None, addrs: Vec::new(), vrf_table: None, vlan: None, ipvlan: None, tunnel: None });
        ns.qdiscs.push(ObservedQdisc { dev: "v0".into(), spec: QdiscSpec::Netem(shown) });
        ns.root_qdiscs.push(SeenQdisc { dev: "v0".into(), parent: QdiscParent::Root, kind: "netem".into(), handle: 0x1_0000 });
        let mut o = Observed { offline: false, ..Observed::empty() };
        o.namespaces.insert("a".into(), ns);
        o
    }

    /// The record of a run that made `made` on v0.
    fn record(made: &Netem) -> Vec<Owned> {
        vec![Owned { made: Some(Action::ReplaceQdisc { ns: "a".into(), dev: "v0".into(), qdisc: QdiscSpec::Netem(made.clone()) }), undo: vec![Action::DelQdisc { ns: "a".into(), dev: "v0".into(), parent: QdiscParent::Root }] }]
    }

    fn plan(words: &str, kernel: &Netem, owned: &[Owned]) -> Result<Plan, Vec<netscript::diagnostic::Diagnostic>> {
        let desired = desired(words);
        let mut observed = kernel_holding(kernel);
        netscript::exec::traffic::normalize(&mut observed, &desired, &ownership::interest(owned));
        plan::plan_owned(&desired, &observed, Ownership { entries: owned, ..Ownership::default() })
    }

    const NORMAL: Option<NetemDistribution> = Some(NetemDistribution::Normal);

    #[test]
    fn a_rerun_is_a_no_op_because_the_record_knows_the_table() {
        let made = netem(100, NORMAL);
        let plan = plan("netem delay 100ms jitter 10ms distribution normal", &made, &record(&made)).unwrap();
        assert!(plan.ops.is_empty(), "{:?}", plan.ops);
        // In place, the same table: changed, the table sent again.
        let plan = plan_ops("netem delay 120ms jitter 10ms distribution normal", &made);
        assert!(matches!(&plan[..], [Action::ReplaceQdisc { qdisc: QdiscSpec::Netem(n), .. }] if n.distribution == NORMAL), "{plan:?}");
    }

    fn plan_ops(words: &str, made: &Netem) -> Vec<Action> {
        plan(words, made, &record(made)).unwrap().ops.into_iter().map(|op| op.action).collect()
    }

    #[test]
    fn another_table_or_none_makes_the_netem_anew_and_its_undo_gives_the_table_back() {
        let made = netem(100, NORMAL);
        for words in ["netem delay 100ms jitter 10ms distribution pareto", "netem delay 100ms jitter 10ms"] {
            let plan = plan(words, &made, &record(&made)).unwrap();
            let actions: Vec<&Action> = plan.ops.iter().map(|op| &op.action).collect();
            assert!(matches!(actions[..], [Action::DelQdisc { .. }, Action::ReplaceQdisc { .. }]), "{words}: {actions:?}");
            // The deletion's undo makes the old netem again, with its table.
            assert!(matches!(&plan.ops[0].undo[..], [Action::ReplaceQdisc { qdisc: QdiscSpec::Netem(n), .. }] if n.distribution == NORMAL), "{words}: {:?}", plan.ops[0].undo);
        }
        // From none to a table: made anew too (a change would send it, but its undo
        // could not take it away).
        let plain = netem(100, None);
        let actions = plan_ops("netem delay 100ms jitter 10ms distribution paretonormal", &plain);
        assert!(matches!(actions[..], [Action::DelQdisc { .. }, Action::ReplaceQdisc { .. }]), "{actions:?}");
    }

    #[test]
    fn a_netem_changed_since_has_an_unknown_table_and_is_refused() {
        let made = netem(100, NORMAL);
        let drifted = netem(50, None);
        let codes = |words| match plan(words, &drifted, &record(&made)) {
            Ok(p) => panic!("{words}: not refused: {:?}", p.ops),
            Err(d) => d.iter().map(|d| d.code).collect::<Vec<_>>(),
        };
        assert_eq!(codes("netem delay 100ms jitter 10ms distribution normal"), ["netscript::plan::netem_table_unknown"]);
        assert_eq!(codes("netem delay 100ms jitter 10ms"), ["netscript::plan::netem_table_unknown"]);
        // Neither the record's netem nor the script has a table: drift is put back.
        let plain = netem(100, None);
        let plan = plan("netem delay 100ms jitter 10ms", &drifted, &record(&plain)).unwrap();
        assert!(matches!(&plan.ops[..], [op] if matches!(op.action, Action::ReplaceQdisc { .. })), "{:?}", plan.ops);
    }
}
