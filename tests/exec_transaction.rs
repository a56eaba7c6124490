//! Transactions against the real kernel, inside a sandbox: a refused operation leaves the
//! state exactly as it was; objects made by others are never touched; observe reports
//! what `ip` made; a 50-namespace chain is built correctly.

mod support;

use netscript::exec::{ExecEvent, Executor, RollbackOutcome};
use netscript::model::{Desired, Namespace, NsOrigin};
use netscript::plan::action::{LinkAttrs, LinkKind, RouteSpec, RuleSpec};
use netscript::plan::{Action, Op, Plan};
use netscript::source::Spanned;
use support::{Run, Sandbox, assert_same_dump, dump};

fn sh(script: &str) -> String {
    let out: Run = std::process::Command::new("sh").args(["-ec", script]).output().unwrap().into();
    out.ok()
}

fn op(action: Action, deps: &[usize], undo: Vec<Action>) -> Op {
    Op { action, origin: Default::default(), deps: deps.to_vec(), undo, removes: None }
}

fn netns(ns: &str) -> Op {
    op(Action::CreateNetns { ns: ns.into() }, &[], vec![Action::DeleteNetns { ns: ns.into() }])
}

fn veth(ns: &str, name: &str, peer_ns: &str, peer: &str, deps: &[usize]) -> Op {
    op(
        Action::CreateLink {
            ns: ns.into(),
            name: name.into(),
            kind: LinkKind::Veth { peer_ns: peer_ns.into(), peer_name: peer.into(), peer_attrs: LinkAttrs { up: true, ..Default::default() } },
            attrs: LinkAttrs { up: true, ..Default::default() },
        },
        deps,
        vec![Action::DeleteLink { ns: ns.into(), name: name.into() }],
    )
}

fn addr(ns: &str, dev: &str, a: &str, deps: &[usize]) -> Op {
    let addr = a.parse().unwrap();
    op(Action::AddAddr { ns: ns.into(), dev: dev.into(), addr }, deps, vec![Action::DelAddr { ns: ns.into(), dev: dev.into(), addr }])
}

fn rule_from(ns: &str, from: &str, table: u32, deps: &[usize]) -> Op {
    let rule = RuleSpec { v6: false, from: Some(from.parse().unwrap()), to: None, iif: None, oif: None, fwmark: None, fwmask: None, uidrange: None, priority: None, table, ipproto: None, sport: None, dport: None, tos: None, sport_mask: None, dport_mask: None, dscp: None, flowlabel: None };
    op(Action::AddRule { ns: ns.into(), rule: rule.clone() }, deps, vec![Action::DelRule { ns: ns.into(), rule }])
}

/// A plan building two namespaces joined by a veth with addresses and a rule, then
/// `last` (which depends on everything before it).
fn plan_ending_with(last: Action) -> Plan {
    let mut ops = vec![
        netns("fa"),
        netns("fb"),
        veth("fa", "a0", "fb", "b0", &[0, 1]),
        addr("fa", "a0", "10.7.0.1/24", &[2]),
        addr("fb", "b0", "10.7.0.2/24", &[2]),
        rule_from("fa", "10.7.0.0/24", 100, &[0]),
    ];
    let all: Vec<usize> = (0..ops.len()).collect();
    ops.push(op(last, &all, vec![]));
    Plan { ops, ..Default::default() }
}

fn assert_refused_and_rolled_back(plan: &Plan, errno: i32) {
    let before = dump();
    let mut exec = Executor::new().unwrap();
    let mut undone = 0;
    let failure = exec
        .apply(plan, &mut |e| {
            if let ExecEvent::Undone { .. } = e {
                undone += 1;
            }
        })
        .expect_err("the kernel should refuse the last operation");
    assert_eq!(failure.failed_op, Some(plan.ops.len() - 1), "{failure}");
    assert_eq!(failure.error.errno(), Some(errno), "{failure}");
    assert!(failure.rollback.is_complete(), "{failure:?}");
    assert_eq!(failure.completed.len(), plan.ops.len() - 1);
    assert_eq!(undone, plan.ops.iter().take(plan.ops.len() - 1).map(|o| o.undo.len()).sum::<usize>());
    assert_same_dump(&before, &dump(), "after a refused apply");
}

sandbox_test!(address_on_a_missing_interface_rolls_everything_back, {
    let plan = plan_ending_with(Action::AddAddr { ns: "fa".into(), dev: "nosuch".into(), addr: "10.8.0.1/24".parse().unwrap() });
    assert_refused_and_rolled_back(&plan, nix::libc::ENODEV);
});

sandbox_test!(route_via_an_unreachable_gateway_rolls_everything_back, {
    let route = RouteSpec { dest: "10.9.0.0/16".parse().unwrap(), via: Some("192.0.2.1".parse().unwrap()), dev: None, src: None, metric: None, table: 254, onlink: false, kind: Default::default(), mtu: None, advmss: None, scope: None, proto: None, nexthops: Vec::new() };
    let plan = plan_ending_with(Action::AddRoute { ns: "fa".into(), route });
    assert_refused_and_rolled_back(&plan, nix::libc::ENETUNREACH);
});

sandbox_test!(link_name_clash_rolls_back_and_leaves_the_existing_link_alone, {
    // Pre-existing objects: a link the plan will clash with, a rule and a route.
    sh("ip link add clash type veth peer name clashp && ip link set clash up && ip addr add 10.6.0.1/24 dev clash \
        && ip rule add from 10.66.0.0/16 lookup 66 pref 500 && ip route add 10.67.0.0/16 via 10.6.0.2");
    let mut plan = plan_ending_with(Action::CreateLink { ns: "host".into(), name: "clash".into(), kind: LinkKind::Bridge, attrs: LinkAttrs::default() });
    let n = plan.ops.len();
    plan.ops[n - 1].undo = vec![Action::DeleteLink { ns: "host".into(), name: "clash".into() }];
    assert_refused_and_rolled_back(&plan, nix::libc::EEXIST);
    let kept = sh("ip -d link show clash");
    assert!(kept.contains("veth") && kept.contains("UP"), "{kept}");
});

sandbox_test!(error_carries_the_kernel_extack_message, {
    let mut exec = Executor::new().unwrap();
    let route = RouteSpec { dest: "10.9.0.0/16".parse().unwrap(), via: Some("192.0.2.1".parse().unwrap()), dev: None, src: None, metric: None, table: 254, onlink: false, kind: Default::default(), mtu: None, advmss: None, scope: None, proto: None, nexthops: Vec::new() };
    let action = Action::AddRoute { ns: "host".into(), route };
    let err = exec.run_action(&action).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("ENETUNREACH") && text.contains("not reachable"), "{text}");
    match err {
        netscript::exec::ExecError::Kernel(k) => assert!(k.extack.is_some(), "this kernel sends extack for bad gateways: {k:?}"),
        other => panic!("{other:?}"),
    }
});

sandbox_test!(pre_existing_objects_survive_apply_and_rollback, {
    sh("ip netns add keep && ip link add kp0 type veth peer name kp1 netns keep 2>/dev/null || (ip link add kp0 type veth peer name kp1 && ip link set kp1 netns keep); \
        ip link set kp0 up && ip addr add 10.5.5.1/24 dev kp0 && ip -n keep addr add 10.5.5.2/24 dev kp1 && ip -n keep link set kp1 up \
        && ip -n keep rule add from 10.55.0.0/16 lookup 55 pref 700 && ip route add 10.56.0.0/16 via 10.5.5.2 table 56");
    let before = dump();
    let plan = Plan {
        ops: vec![
            netns("fresh"),
            veth("keep", "k2", "fresh", "f2", &[0]),
            addr("keep", "k2", "10.5.6.1/24", &[1]),
            addr("keep", "kp1", "10.5.7.1/24", &[]),
            rule_from("keep", "10.57.0.0/16", 57, &[]),
            op(
                Action::AddRoute { ns: "host".into(), route: RouteSpec { dest: "10.58.0.0/16".parse().unwrap(), via: Some("10.5.5.2".parse().unwrap()), dev: None, src: None, metric: None, table: 56, onlink: false, kind: Default::default(), mtu: None, advmss: None, scope: None, proto: None, nexthops: Vec::new() } },
                &[],
                vec![Action::DelRoute { ns: "host".into(), route: RouteSpec { dest: "10.58.0.0/16".parse().unwrap(), via: Some("10.5.5.2".parse().unwrap()), dev: None, src: None, metric: None, table: 56, onlink: false, kind: Default::default(), mtu: None, advmss: None, scope: None, proto: None, nexthops: Vec::new() } }],
            ),
        ],
        ..Default::default()
    };
    let mut exec = Executor::new().unwrap();
    let report = exec.apply(&plan, &mut |_| {}).unwrap_or_else(|f| panic!("{f}"));
    // The pre-existing ones are all still there, unchanged.
    let keep_rules = sh("ip -n keep rule show");
    assert!(keep_rules.contains("from 10.55.0.0/16 lookup 55") && keep_rules.contains("from 10.57.0.0/16 lookup 57"), "{keep_rules}");
    let t56 = sh("ip route show table 56");
    assert!(t56.contains("10.56.0.0/16") && t56.contains("10.58.0.0/16"), "{t56}");
    let kp1 = sh("ip -n keep addr show kp1");
    assert!(kp1.contains("10.5.5.2/24") && kp1.contains("10.5.7.1/24"), "{kp1}");
    assert!(exec.rollback(&plan, &report.completed, &mut |_| {}).is_complete());
    assert_same_dump(&before, &dump(), "after rollback");
});

sandbox_test!(rollback_reports_undo_actions_that_fail, {
    let plan = Plan {
        ops: vec![op(
            Action::AddRule { ns: "host".into(), rule: RuleSpec { v6: false, from: Some("10.4.0.0/16".parse().unwrap()), to: None, iif: None, oif: None, fwmark: None, fwmask: None, uidrange: None, priority: Some(900), table: 40, ipproto: None, sport: None, dport: None, tos: None, sport_mask: None, dport_mask: None, dscp: None, flowlabel: None } },
            &[],
            // A wrong undo: a link that cannot be deleted (lo).
            vec![Action::DeleteLink { ns: "host".into(), name: "lo".into() }],
        )],
        ..Default::default()
    };
    let mut exec = Executor::new().unwrap();
    let report = exec.apply(&plan, &mut |_| {}).unwrap();
    match exec.rollback(&plan, &report.completed, &mut |_| {}) {
        RollbackOutcome::Incomplete(failures) => {
            assert_eq!(failures.len(), 1);
            assert_eq!(failures[0].op, 0);
            assert!(failures[0].error.errno().is_some());
        }
        RollbackOutcome::Complete => panic!("deleting lo cannot succeed"),
    }
    sh("ip rule del pref 900");
});

sandbox_test!(observe_reports_what_ip_made, {
    sh("ip netns add ob && ip link add o0 type veth peer name o1 && ip link set o1 netns ob \
        && ip link set o0 up mtu 1450 address 02:00:00:00:01:00 && ip addr add 10.3.3.1/24 dev o0 && ip addr add fd00:3::1/64 dev o0 nodad \
        && ip link add obr type bridge && ip link set o0 master obr \
        && ip route add 10.33.0.0/16 via 10.3.3.2 metric 5 && ip route add default via 10.3.3.2 table 300 \
        && ip -n ob rule add from 10.3.3.0/24 fwmark 0x5 lookup 300 pref 1234 \
        && tc qdisc add dev o0 ingress && ip netns exec ob sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'");
    let mut desired = Desired::default();
    let mut ob = Namespace::new("ob".into(), NsOrigin::Declared, Default::default());
    ob.sysctls.insert("net.ipv4.ip_forward".into(), Spanned::new("1".into(), Default::default()));
    desired.namespaces.insert("ob".into(), ob);
    desired.namespaces.insert("absent".into(), Namespace::new("absent".into(), NsOrigin::Declared, Default::default()));
    desired.tables.insert("t300".into(), Spanned::new(300, Default::default()));
    let observed = Executor::new().unwrap().observe(&desired).unwrap();
    assert_eq!(observed.namespaces.keys().collect::<Vec<_>>(), vec!["host", "ob"], "absent namespaces are not observed");
    let host = &observed.namespaces["host"];
    let o0 = &host.links["o0"];
    assert_eq!((o0.kind.as_deref(), o0.up, o0.mtu, o0.mac, o0.master.as_deref()), (Some("veth"), true, 1450, Some([2, 0, 0, 0, 1, 0]), Some("obr")));
    assert!(o0.addrs.contains(&"10.3.3.1/24".parse().unwrap()) && o0.addrs.contains(&"fd00:3::1/64".parse().unwrap()), "{:?}", o0.addrs);
    assert_eq!(host.links["lo"].kind, None);
    assert_eq!(host.links["obr"].kind.as_deref(), Some("bridge"));
    let via = Some("10.3.3.2".parse().unwrap());
    assert!(host.routes.iter().any(|r| r.dest == "10.33.0.0/16".parse().unwrap() && r.via == via && r.metric == Some(5) && r.dev.as_deref() == Some("o0") && r.table == 254), "{:?}", host.routes);
    assert!(host.routes.iter().any(|r| r.dest == "0.0.0.0/0".parse().unwrap() && r.via == via && r.table == 300), "{:?}", host.routes);
    assert!(host.routes.iter().all(|r| [254, 300].contains(&r.table)), "only the tables the script uses");
    assert_eq!(host.qdiscs.len(), 1);
    assert_eq!((host.qdiscs[0].dev.as_str(), host.qdiscs[0].spec.kind()), ("o0", "ingress"));
    let ob = &observed.namespaces["ob"];
    assert!(ob.links.contains_key("o1") && ob.links.contains_key("lo"));
    let rule = ob.rules.iter().find(|r| r.priority == Some(1234)).expect("the rule");
    assert_eq!((rule.from, rule.fwmark, rule.fwmask, rule.table), (Some("10.3.3.0/24".parse().unwrap()), Some(5), None, 300));
    assert_eq!(ob.sysctls.get("net.ipv4.ip_forward").map(String::as_str), Some("1"));
});

sandbox_test!(a_chain_of_50_namespaces_is_built_and_torn_down, {
    const N: usize = 50;
    let mut ops = Vec::new();
    for i in 0..N {
        ops.push(netns(&format!("c{i}")));
    }
    for i in 0..N {
        ops.push(op(
            Action::SetLink { ns: format!("c{i}"), name: "lo".into(), set: netscript::plan::action::LinkSet { up: Some(true), ..Default::default() } },
            &[i],
            vec![],
        ));
        ops.push(rule_from(&format!("c{i}"), &format!("10.200.0.{i}/32"), 100, &[i]));
    }
    for i in 0..N - 1 {
        let v = ops.len();
        ops.push(veth(&format!("c{i}"), &format!("a{i}"), &format!("c{}", i + 1), &format!("b{i}"), &[i, i + 1]));
        ops.push(addr(&format!("c{i}"), &format!("a{i}"), &format!("10.0.{i}.1/24"), &[v]));
        ops.push(addr(&format!("c{}", i + 1), &format!("b{i}"), &format!("10.0.{i}.2/24"), &[v]));
    }
    let plan = Plan { ops, ..Default::default() };
    let before = dump();
    let mut exec = Executor::new().unwrap();
    let report = exec.apply(&plan, &mut |_| {}).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(report.completed.len(), plan.ops.len());
    let list = sh("ip netns list");
    assert_eq!(list.lines().count(), N);
    for i in [0, 17, N - 2] {
        let a = sh(&format!("ip -n c{i} addr show a{i}"));
        assert!(a.contains(&format!("10.0.{i}.1/24")) && a.contains("UP"), "{a}");
        let b = sh(&format!("ip -n c{} addr show b{i}", i + 1));
        assert!(b.contains(&format!("10.0.{i}.2/24")), "{b}");
        assert!(sh(&format!("ip -n c{i} rule show")).contains(&format!("from 10.200.0.{i} lookup 100")));
        // Traffic between the test's own namespaces.
        // (No ping here: a TCP connect to a closed port answered by a reset proves the
        // path works both ways.)
        let probe = sh(&format!("ip netns exec c{i} timeout 5 bash -c 'echo > /dev/tcp/10.0.{i}.2/9' 2>&1 || true"));
        assert!(probe.contains("Connection refused"), "c{i} -> c{}: {probe}", i + 1);
    }
    assert!(exec.rollback(&plan, &report.completed, &mut |_| {}).is_complete());
    assert_same_dump(&before, &dump(), "after rollback");
});

#[test]
fn sandbox_holder_isolates_and_cleans_up() {
    let name = format!("sbx{}", std::process::id());
    let pid;
    {
        let sb = Sandbox::new();
        pid = sb.pid();
        sb.sh(&format!("ip netns add {name} && ip -n {name} link set lo up")).ok();
        let d = sb.dump();
        assert!(d.contains(&format!("\"netns {name}\"")), "{d}");
        assert_eq!(sb.dump(), d, "equal states give identical dumps");
        assert!(sb.netscript(&["--version"]).success);
        let host_list: Run = std::process::Command::new("ip").args(["netns", "list"]).output().unwrap().into();
        assert!(!host_list.stdout.contains(&name), "the sandbox's namespaces are invisible outside");
    }
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the holder is gone");
}

sandbox_test!(a_dependency_cycle_names_an_operation_in_it_and_rolls_back, {
    // Operations 1 and 2 wait for each other: what could run (0) ran, and is undone; the
    // error names an operation of the cycle, not one that ran.
    let before = dump();
    let mut plan = Plan { ops: vec![netns("cy"), netns("cz"), netns("cw")], ..Default::default() };
    plan.ops[1].deps = vec![2];
    plan.ops[2].deps = vec![1];
    let mut exec = Executor::new().unwrap();
    let failure = exec.apply(&plan, &mut |_| {}).expect_err("a cycle cannot be applied");
    assert_eq!(failure.failed_op, Some(1), "{failure}");
    assert!(failure.to_string().contains("operation 1 is part of a dependency cycle"), "{failure}");
    assert_eq!(failure.completed, vec![0]);
    assert!(failure.rollback.is_complete(), "{failure:?}");
    assert_same_dump(&before, &dump(), "after a cycle was refused");
});

sandbox_test!(a_refused_plan_takes_its_veth_out_of_a_namespace_that_stays_at_once, {
    // The rollback skips undos inside a namespace it deletes next (the deletion removes
    // them), but never the end of a veth whose other end stays: the kernel frees a
    // deleted namespace's devices later, and that end would linger after the rollback.
    // Other links the plan makes must not change that: a bridge of the same name in the
    // namespace that stays, a veth whose end of the same name (its peer) and other end
    // both die, a bridge of another name in the namespace that dies, veths of other names
    // between this dying namespace and another one, either way.
    sh("ip netns add stay");
    let before = dump();
    let plan = Plan {
        ops: vec![
            netns("gone"),
            netns("gone2"),
            veth("gone2", "h0", "gone2", "g0", &[1]),
            op(Action::CreateLink { ns: "gone".into(), name: "gbr".into(), kind: LinkKind::Bridge, attrs: LinkAttrs::default() }, &[0], vec![Action::DeleteLink { ns: "gone".into(), name: "gbr".into() }]),
            op(Action::CreateLink { ns: "stay".into(), name: "g0".into(), kind: LinkKind::Bridge, attrs: LinkAttrs::default() }, &[], vec![Action::DeleteLink { ns: "stay".into(), name: "g0".into() }]),
            veth("gone2", "x0", "gone", "p9", &[0, 1]),
            veth("gone", "q0", "gone2", "q1", &[0, 1]),
            veth("gone", "g0", "stay", "s0", &[0, 4]),
            op(Action::AddAddr { ns: "gone".into(), dev: "nosuch".into(), addr: "10.8.0.1/24".parse().unwrap() }, &[2, 3, 5, 6, 7], vec![]),
        ],
        ..Default::default()
    };
    let mut exec = Executor::new().unwrap();
    // `gone` held open from its creation on: the kernel cannot free it (nor the devices
    // in it) when the rollback deletes it, so an end that was not deleted is still there
    // to see, whatever the timing.
    let mut held = None;
    let failure = exec
        .apply(&plan, &mut |e| {
            if let ExecEvent::Done { op: 0, .. } = e {
                held = Some(std::fs::File::open("/run/netns/gone").expect("gone was made"));
            }
        })
        .expect_err("the address on a missing link is refused");
    assert!(held.is_some(), "the namespace was never held");
    assert!(failure.rollback.is_complete(), "{failure:?}");
    let links = sh("ip -n stay -o link show");
    drop(held);
    assert!(!links.contains("s0"), "the veth end in `stay` outlived the rollback: {links}");
    assert_same_dump(&before, &dump(), "after the rollback");
});

sandbox_test!(a_removal_whose_object_is_already_gone_has_reached_its_goal, {
    // What an earlier run made and the script dropped can vanish before the removal runs
    // (deleting a veth end takes its peer): that removal is done, not refused. The same
    // deletion as an ordinary operation is refused.
    sh("ip netns add rm1");
    let removal = |removes: Option<usize>| Plan {
        ops: vec![Op { action: Action::DeleteLink { ns: "rm1".into(), name: "gone0".into() }, origin: Default::default(), deps: Vec::new(), undo: Vec::new(), removes }],
        ..Default::default()
    };
    let mut exec = Executor::new().unwrap();
    let report = exec.apply(&removal(Some(0)), &mut |_| {}).expect("a removal of what is gone is done");
    assert_eq!(report.completed, vec![0]);
    let failure = exec.apply(&removal(None), &mut |_| {}).expect_err("deleting a missing link is refused");
    assert_eq!(failure.error.errno(), Some(nix::libc::ENODEV), "{failure}");
});

sandbox_test!(an_undo_the_kernel_refuses_is_a_rollback_failure, {
    // An undo the kernel refuses for another reason than "already there" (an address for
    // a device that does not exist) is a failure of the rollback, reported with its error,
    // not counted as done; the undo before it in the same operation is done.
    let before = dump();
    let refused_undo = Action::AddAddr { ns: "host".into(), dev: "nosuch".into(), addr: "10.8.1.1/24".parse().unwrap() };
    let mut rule = rule_from("host", "10.8.2.0/24", 100, &[]);
    rule.undo.push(refused_undo.clone());
    let refused = op(Action::AddAddr { ns: "host".into(), dev: "nosuch".into(), addr: "10.8.3.1/24".parse().unwrap() }, &[0], vec![]);
    let plan = Plan { ops: vec![rule, refused], ..Default::default() };
    let failure = Executor::new().unwrap().apply(&plan, &mut |_| {}).expect_err("an address on no device is refused");
    let RollbackOutcome::Incomplete(failures) = &failure.rollback else { panic!("a refused undo leaves the rollback incomplete: {failure:?}") };
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].action, refused_undo);
    assert_eq!(failures[0].error.errno(), Some(nix::libc::ENODEV), "{failures:?}");
    assert_same_dump(&before, &dump(), "the rule's deletion, before the refused undo");
});

sandbox_test!(a_plan_depending_on_an_operation_out_of_range_or_on_itself_is_refused_before_anything_runs, {
    let before = dump();
    for bad in [7usize, 1] {
        let plan = Plan { ops: vec![netns("dx"), op(Action::CreateNetns { ns: "dy".into() }, &[bad], vec![Action::DeleteNetns { ns: "dy".into() }])], ..Default::default() };
        let failure = Executor::new().unwrap().apply(&plan, &mut |_| {}).expect_err("an invalid plan");
        assert!(failure.completed.is_empty(), "dependency {bad}: operations ran: {failure:?}");
        assert!(failure.to_string().contains(&format!("operation 1 depends on operation {bad}")), "{failure}");
        assert_same_dump(&before, &dump(), &format!("a plan with operation 1 depending on {bad}"));
    }
});

sandbox_test!(after_a_failure_no_operation_starts, {
    // Operation 0 fails at once (the host namespace cannot be deleted, refused before the
    // kernel); operation 1, sent beside it, completes later; operation 2 waits for 1 and
    // must never start: after a failure only what is in flight is waited for.
    let before = dump();
    let plan = Plan {
        ops: vec![
            op(Action::DeleteNetns { ns: "host".into() }, &[], vec![]),
            addr("host", "lo", "10.9.9.9/32", &[]),
            op(Action::CreateNetns { ns: "late".into() }, &[1], vec![Action::DeleteNetns { ns: "late".into() }]),
        ],
        ..Default::default()
    };
    let mut started = Vec::new();
    let failure = Executor::new()
        .unwrap()
        .apply(&plan, &mut |e| {
            if let ExecEvent::Started { op, .. } = e {
                started.push(*op);
            }
        })
        .expect_err("the host namespace is not deleted");
    assert_eq!(failure.failed_op, Some(0), "{failure}");
    assert!(!started.contains(&2), "operation 2 started after the failure: {started:?}");
    assert_same_dump(&before, &dump(), "after the failure");
});
