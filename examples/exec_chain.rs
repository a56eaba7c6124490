//! Times the executor on the chain of `benches/ip-chain`: N namespaces, a veth
//! between each neighbour pair with an address on each end, every interface and loopback
//! up, and one rule per namespace. Then rolls it all back.
//!
//! usage: exec_chain [N] [WORKERS] [netns-only]   (as root; it sandboxes itself: it re-executes under
//! `unshare --net --mount` with a private tmpfs on /run, so nothing touches the host)

use netscript::exec::Executor;
use netscript::plan::action::{LinkAttrs, LinkKind, LinkSet, RuleSpec};
use netscript::plan::{Action, Op, Plan};
use std::time::Instant;

const INSIDE: &str = "NETSCRIPT_EXEC_CHAIN_SANDBOXED";

fn op(action: Action, deps: Vec<usize>, undo: Vec<Action>) -> Op {
    Op { action, origin: Default::default(), deps, undo, removes: None }
}

fn chain(n: usize) -> Plan {
    let ns = |i: usize| format!("p{i}");
    let mut ops = Vec::new();
    for i in 0..n {
        ops.push(op(Action::CreateNetns { ns: ns(i) }, vec![], vec![Action::DeleteNetns { ns: ns(i) }]));
    }
    for i in 0..n {
        ops.push(op(Action::SetLink { ns: ns(i), name: "lo".into(), set: LinkSet { up: Some(true), ..Default::default() } }, vec![i], vec![]));
        let rule = RuleSpec { v6: false, from: Some(format!("10.200.{}.{}/32", i / 250, i % 250).parse().unwrap()), to: None, iif: None, oif: None, fwmark: None, fwmask: None, uidrange: None, priority: None, table: 100, ipproto: None, sport: None, dport: None, tos: None, sport_mask: None, dport_mask: None, dscp: None, flowlabel: None };
        ops.push(op(Action::AddRule { ns: ns(i), rule: rule.clone() }, vec![i], vec![Action::DelRule { ns: ns(i), rule }]));
    }
    for i in 0..n.saturating_sub(1) {
        let net = format!("10.{}.{}", i / 250, i % 250);
        let v = ops.len();
        let up = LinkAttrs { up: true, ..Default::default() };
        ops.push(op(
            Action::CreateLink { ns: ns(i), name: format!("a{i}"), kind: LinkKind::Veth { peer_ns: ns(i + 1), peer_name: format!("b{i}"), peer_attrs: up.clone() }, attrs: up },
            vec![i, i + 1],
            vec![Action::DeleteLink { ns: ns(i), name: format!("a{i}") }],
        ));
        for (side, dev, host) in [(i, format!("a{i}"), 1), (i + 1, format!("b{i}"), 2)] {
            let addr = format!("{net}.{host}/24").parse().unwrap();
            ops.push(op(Action::AddAddr { ns: ns(side), dev: dev.clone(), addr }, vec![v], vec![Action::DelAddr { ns: ns(side), dev, addr }]));
        }
    }
    Plan { ops, ..Default::default() }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if std::env::var(INSIDE).is_err() {
        let status = std::process::Command::new("unshare")
            .args(["--net", "--mount", "--propagation", "private", "sh", "-c", "mount -t tmpfs tmpfs /run && exec \"$@\"", "sandbox"])
            .args(&args)
            .env(INSIDE, "1")
            .status()
            .expect("unshare");
        std::process::exit(status.code().unwrap_or(1));
    }
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let workers: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2);
    let only_netns = args.get(3).map(|a| a == "netns-only").unwrap_or(false);
    let mut plan = chain(n);
    if only_netns {
        plan.ops.truncate(n);
    }
    let mut exec = Executor::with_netns_workers(workers).expect("executor");
    let t = Instant::now();
    let report = exec.apply(&plan, &mut |_| {}).unwrap_or_else(|f| panic!("{f}"));
    let applied = t.elapsed();
    let t = Instant::now();
    let outcome = exec.rollback(&plan, &report.completed, &mut |_| {});
    let rolled_back = t.elapsed();
    assert!(outcome.is_complete(), "{outcome:?}");
    println!("{n} namespaces, {} ops, {workers} netns workers: apply {applied:?}, rollback {rolled_back:?}", plan.ops.len());
}
