//! Every action kind against the real kernel, inside a sandbox: apply through the
//! executor, check with `ip`/`tc` (the oracle), roll back, and check that the oracle's
//! dump equals the one from before, byte for byte.

mod support;

use netscript::exec::{ExecEvent, Executor};
use netscript::model::MacvlanMode;
use netscript::plan::action::{LinkAttrs, LinkKind, LinkSet, QdiscParent, RouteSpec, RuleSpec};
use netscript::plan::{Action, Op, Plan};
use serde_json::Value;
use support::{Run, dump};

fn sh(script: &str) -> String {
    let out: Run = std::process::Command::new("sh").args(["-ec", script]).output().unwrap().into();
    out.ok()
}

fn json(script: &str) -> Value {
    serde_json::from_str(&sh(script)).unwrap_or(Value::Null)
}

fn op(action: Action, deps: &[usize], undo: Vec<Action>) -> Op {
    Op { action, origin: Default::default(), deps: deps.to_vec(), undo, removes: None }
}

fn netns(ns: &str) -> Op {
    op(Action::CreateNetns { ns: ns.into() }, &[], vec![Action::DeleteNetns { ns: ns.into() }])
}

/// Applies `plan`, runs `check`, rolls back, and asserts the state is the one before.
fn apply_check_rollback(plan: &Plan, check: impl FnOnce()) {
    let before = dump();
    let mut exec = Executor::new().unwrap();
    let mut started = 0;
    let mut done = 0;
    let report = exec
        .apply(plan, &mut |e| match e {
            ExecEvent::Started { .. } => started += 1,
            ExecEvent::Done { .. } => done += 1,
            _ => {}
        })
        .unwrap_or_else(|f| panic!("apply failed: {f}\n{f:?}"));
    assert_eq!((started, done, report.completed.len()), (plan.ops.len(), plan.ops.len(), plan.ops.len()));
    check();
    let outcome = exec.rollback(plan, &report.completed, &mut |_| {});
    assert!(outcome.is_complete(), "{outcome:?}");
    support::assert_same_dump(&before, &dump(), "after rollback");
}

fn link(ns: &str, name: &str) -> Value {
    let prefix = if ns == "host" { String::new() } else { format!("-n {ns} ") };
    json(&format!("ip {prefix}-json -d link show dev {name}"))[0].clone()
}

fn flags(link: &Value) -> Vec<String> {
    link["flags"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect()
}

sandbox_test!(namespaces_are_created_like_ip_netns_add_and_deleted, {
    let plan = Plan { ops: vec![netns("tns1"), netns("tns2")], ..Default::default() };
    apply_check_rollback(&plan, || {
        let list = sh("ip netns list");
        assert!(list.contains("tns1") && list.contains("tns2"), "{list}");
        // `ip netns exec` enters it: only a loopback, down.
        let inside = sh("ip netns exec tns1 ip -json link show");
        let links: Value = serde_json::from_str(&inside).unwrap();
        assert_eq!(links.as_array().unwrap().len(), 1);
        assert_eq!(links[0]["ifname"], "lo");
    });
    assert!(!std::path::Path::new("/run/netns/tns1").exists());
});

sandbox_test!(veth_ends_are_created_in_their_namespaces_with_their_attributes, {
    let plan = Plan {
        ops: vec![
            netns("va"),
            netns("vb"),
            op(
                Action::CreateLink { ns: "vb".into(), name: "br0".into(), kind: LinkKind::Bridge, attrs: LinkAttrs { up: true, ..Default::default() } },
                &[1],
                vec![Action::DeleteLink { ns: "vb".into(), name: "br0".into() }],
            ),
            op(
                Action::CreateLink {
                    ns: "va".into(),
                    name: "a0".into(),
                    kind: LinkKind::Veth {
                        peer_ns: "vb".into(),
                        peer_name: "b0".into(),
                        peer_attrs: LinkAttrs { up: true, mtu: Some(1300), mac: Some([2, 0, 0, 0, 0, 0xb0]), master: Some("br0".into()) },
                    },
                    attrs: LinkAttrs { up: true, mtu: Some(1400), mac: Some([2, 0, 0, 0, 0, 0xa0]), master: None },
                },
                &[0, 2],
                vec![Action::DeleteLink { ns: "va".into(), name: "a0".into() }],
            ),
            // A veth with one end in the host namespace.
            op(
                Action::CreateLink {
                    ns: "host".into(),
                    name: "h0".into(),
                    kind: LinkKind::Veth { peer_ns: "va".into(), peer_name: "h0p".into(), peer_attrs: LinkAttrs::default() },
                    attrs: LinkAttrs::default(),
                },
                &[0],
                vec![Action::DeleteLink { ns: "host".into(), name: "h0".into() }],
            ),
        ],
        ..Default::default()
    };
    apply_check_rollback(&plan, || {
        let a0 = link("va", "a0");
        assert_eq!(a0["mtu"], 1400);
        assert_eq!(a0["address"], "02:00:00:00:00:a0");
        assert!(flags(&a0).contains(&"UP".to_string()));
        assert_eq!(a0["linkinfo"]["info_kind"], "veth");
        let b0 = link("vb", "b0");
        assert_eq!(b0["mtu"], 1300);
        assert_eq!(b0["address"], "02:00:00:00:00:b0");
        assert!(flags(&b0).contains(&"UP".to_string()));
        assert_eq!(b0["master"], "br0");
        let h0 = link("host", "h0");
        assert!(!flags(&h0).contains(&"UP".to_string()));
        assert_eq!(link("va", "h0p")["linkinfo"]["info_kind"], "veth");
    });
});

sandbox_test!(set_link_changes_state_mtu_mac_and_master, {
    // Up once before, so that the default qdisc is attached (the kernel keeps it after
    // down); the bridge has a fixed address (else the kernel recomputes it from ports).
    sh("ip link add sl0 type veth peer name sl1 && ip link set sl0 up && ip link set sl0 down && ip link add slbr address 02:00:00:00:00:bb type bridge && ip link set sl1 master slbr");
    // (sl1 stays a port: a bridge recomputes tso_max_size from its ports and keeps it.)
    let set = |set: LinkSet, undo: LinkSet| op(Action::SetLink { ns: "host".into(), name: "sl0".into(), set }, &[], vec![Action::SetLink { ns: "host".into(), name: "sl0".into(), set: undo }]);
    let plan = Plan {
        ops: vec![
            set(LinkSet { up: Some(true), mtu: Some(1280), mac: Some([2, 1, 2, 3, 4, 5]), master: None }, LinkSet { up: Some(false), mtu: Some(1500), mac: None, master: None }),
        ],
        ..Default::default()
    };
    // The mac's undo needs the old one.
    let old_mac: Vec<u8> = link("host", "sl0")["address"].as_str().unwrap().split(':').map(|h| u8::from_str_radix(h, 16).unwrap()).collect();
    let mut plan = plan;
    if let Action::SetLink { set, .. } = &mut plan.ops[0].undo[0] {
        set.mac = Some(old_mac.try_into().unwrap());
    }
    plan.ops.push(op(
        Action::SetLink { ns: "host".into(), name: "sl0".into(), set: LinkSet { master: Some(Some("slbr".into())), ..Default::default() } },
        &[0],
        vec![Action::SetLink { ns: "host".into(), name: "sl0".into(), set: LinkSet { master: Some(None), ..Default::default() } }],
    ));
    apply_check_rollback(&plan, || {
        let l = link("host", "sl0");
        assert_eq!(l["mtu"], 1280);
        assert_eq!(l["address"], "02:01:02:03:04:05");
        assert!(flags(&l).contains(&"UP".to_string()));
        assert_eq!(l["master"], "slbr");
    });
});

sandbox_test!(macvlan_vxlan_and_ifb_are_created, {
    sh("ip link add mvp type veth peer name mvq && ip addr add 10.9.0.1/24 dev mvp");
    let create = |name: &str, kind: LinkKind| op(Action::CreateLink { ns: "host".into(), name: name.into(), kind, attrs: LinkAttrs { up: true, ..Default::default() } }, &[], vec![Action::DeleteLink { ns: "host".into(), name: name.into() }]);
    let plan = Plan {
        ops: vec![
            create("mv0", LinkKind::Macvlan { parent: "mvp".into(), mode: MacvlanMode::Bridge }),
            create(
                "vx0",
                LinkKind::Vxlan { vni: 42, remote: Some("10.9.0.2".parse().unwrap()), group: None, local: Some("10.9.0.1".parse().unwrap()), dev: Some("mvp".into()), port: Some(4790) },
            ),
            create("ifb0", LinkKind::Ifb),
        ],
        ..Default::default()
    };
    apply_check_rollback(&plan, || {
        let mv = link("host", "mv0");
        assert_eq!(mv["linkinfo"]["info_kind"], "macvlan");
        assert_eq!(mv["linkinfo"]["info_data"]["mode"], "bridge");
        assert_eq!(mv["link"], "mvp");
        let vx = link("host", "vx0");
        assert_eq!(vx["linkinfo"]["info_kind"], "vxlan");
        let data = &vx["linkinfo"]["info_data"];
        assert_eq!((data["id"].clone(), data["remote"].clone(), data["local"].clone(), data["link"].clone(), data["port"].clone()), (42.into(), "10.9.0.2".into(), "10.9.0.1".into(), "mvp".into(), 4790.into()));
        assert_eq!(link("host", "ifb0")["linkinfo"]["info_kind"], "ifb");
    });
});

sandbox_test!(addresses_v4_and_v6_are_added_usable_at_once, {
    sh("ip link add ad0 type veth peer name ad1 && ip link set ad0 up && ip link set ad1 up");
    let addr = |a: &str| {
        let addr = a.parse().unwrap();
        op(Action::AddAddr { ns: "host".into(), dev: "ad0".into(), addr }, &[], vec![Action::DelAddr { ns: "host".into(), dev: "ad0".into(), addr }])
    };
    let plan = Plan { ops: vec![addr("10.1.2.3/24"), addr("fd00:1::1/64"), addr("10.1.3.3/32")], ..Default::default() };
    apply_check_rollback(&plan, || {
        let info = json("ip -json addr show dev ad0")[0]["addr_info"].clone();
        let find = |a: &str| info.as_array().unwrap().iter().find(|i| i["local"] == a).cloned().unwrap_or_else(|| panic!("{a} missing: {info}"));
        assert_eq!(find("10.1.2.3")["prefixlen"], 24);
        assert_eq!(find("10.1.3.3")["prefixlen"], 32);
        let v6 = find("fd00:1::1");
        assert_eq!(v6["prefixlen"], 64);
        assert!(v6.get("tentative").is_none(), "nodad: usable at once: {v6}");
    });
});

sandbox_test!(routes_in_any_table_with_via_dev_src_metric, {
    sh("ip link add rt0 type veth peer name rt1 && ip link set rt0 up && ip link set rt1 up && ip addr add 10.2.0.1/24 dev rt0 && ip addr add fd00:2::1/64 dev rt0 nodad");
    // The kernel adds the IPv6 address's local route once rt0 has carrier (linkwatch,
    // asynchronous: up to a second on a loaded machine); the state before is taken after.
    let settled = std::time::Instant::now();
    while !sh("ip -6 route show table local fd00:2::1").contains("fd00:2::1") {
        assert!(settled.elapsed() < std::time::Duration::from_secs(5), "no local route for fd00:2::1");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let route = |dest: &str, via: Option<&str>, dev: Option<&str>, src: Option<&str>, metric: Option<u32>, table: u32| {
        let route = RouteSpec { dest: dest.parse().unwrap(), via: via.map(|v| v.parse().unwrap()), dev: dev.map(str::to_string), src: src.map(|s| s.parse().unwrap()), metric, table, onlink: false, kind: Default::default(), mtu: None, advmss: None, scope: None, proto: None, nexthops: Vec::new() };
        op(Action::AddRoute { ns: "host".into(), route: route.clone() }, &[], vec![Action::DelRoute { ns: "host".into(), route }])
    };
    let plan = Plan {
        ops: vec![
            route("10.3.0.0/16", Some("10.2.0.2"), None, None, None, 254),
            route("0.0.0.0/0", Some("10.2.0.254"), Some("rt0"), None, Some(50), 100),
            route("10.4.0.0/24", None, Some("rt0"), Some("10.2.0.1"), Some(7), 1000),
            route("fd00:9::/48", Some("fd00:2::2"), Some("rt0"), None, None, 254),
        ],
        ..Default::default()
    };
    apply_check_rollback(&plan, || {
        let r = json("ip -json route show 10.3.0.0/16")[0].clone();
        assert_eq!((r["gateway"].clone(), r["dev"].clone()), ("10.2.0.2".into(), "rt0".into()));
        let d = json("ip -json route show table 100 default")[0].clone();
        assert_eq!((d["gateway"].clone(), d["metric"].clone()), ("10.2.0.254".into(), 50.into()));
        let s = json("ip -json route show table 1000")[0].clone();
        assert_eq!((s["dst"].clone(), s["prefsrc"].clone(), s["metric"].clone(), s["scope"].clone()), ("10.4.0.0/24".into(), "10.2.0.1".into(), 7.into(), "link".into()));
        let v6 = json("ip -json -6 route show fd00:9::/48")[0].clone();
        assert_eq!(v6["gateway"], "fd00:2::2");
    });
});

sandbox_test!(rules_with_every_selector, {
    let rule = |spec: RuleSpec| op(Action::AddRule { ns: "host".into(), rule: spec.clone() }, &[], vec![Action::DelRule { ns: "host".into(), rule: spec }]);
    let full = RuleSpec {
        v6: false,
        from: Some("10.5.0.0/16".parse().unwrap()),
        to: Some("10.6.1.0/24".parse().unwrap()),
        iif: Some("lo".into()),
        oif: None,
        fwmark: Some(0x10),
        fwmask: Some(0xff),
        uidrange: Some((1000, 1999)),
        priority: Some(1000),
        table: 100,
        ipproto: Some(6),
        sport: Some((1000, 1005)),
        dport: Some((22, 22)),
        tos: Some(0x10),
        sport_mask: None,
        dport_mask: None,
        dscp: None,
        flowlabel: None,
    };
    let oif = RuleSpec { iif: None, oif: Some("dummyname".into()), fwmask: None, uidrange: None, priority: Some(1001), table: 2000, ipproto: None, sport: None, dport: None, tos: None, ..full.clone() };
    let v6 = RuleSpec { v6: true, from: Some("fd00:5::/64".parse().unwrap()), to: None, iif: None, oif: None, fwmark: None, fwmask: None, uidrange: None, priority: Some(1002), table: 100, ipproto: None, sport: None, dport: None, tos: None, sport_mask: None, dport_mask: None, dscp: None, flowlabel: None };
    let plan = Plan { ops: vec![rule(full), rule(oif), rule(v6)], ..Default::default() };
    apply_check_rollback(&plan, || {
        let rules = json("ip -json rule show");
        let r = rules.as_array().unwrap().iter().find(|r| r["priority"] == 1000).cloned().unwrap();
        assert_eq!((r["src"].clone(), r["srclen"].clone(), r["dst"].clone(), r["dstlen"].clone(), r["iif"].clone()), ("10.5.0.0".into(), 16.into(), "10.6.1.0".into(), 24.into(), "lo".into()));
        assert_eq!((r["fwmark"].clone(), r["fwmask"].clone(), r["table"].clone()), ("0x10".into(), "0xff".into(), "100".into()));
        assert_eq!((r["uid_start"].clone(), r["uid_end"].clone()), (1000.into(), 1999.into()));
        assert_eq!((r["ipproto"].clone(), r["sport_start"].clone(), r["sport_end"].clone(), r["dport"].clone(), r["tos"].clone()), ("tcp".into(), 1000.into(), 1005.into(), 22.into(), "0x10".into()));
        let o = rules.as_array().unwrap().iter().find(|r| r["priority"] == 1001).cloned().unwrap();
        assert_eq!((o["oif"].clone(), o["table"].clone()), ("dummyname".into(), "2000".into()));
        let r6 = json("ip -json -6 rule show");
        let r6 = r6.as_array().unwrap().iter().find(|r| r["priority"] == 1002).cloned().unwrap();
        assert_eq!((r6["src"].clone(), r6["srclen"].clone()), ("fd00:5::".into(), 64.into()));
    });
});

sandbox_test!(sysctls_are_set_inside_their_namespace, {
    let host_before = sh("cat /proc/sys/net/ipv4/ip_forward");
    let plan = Plan {
        ops: vec![
            netns("sy"),
            op(
                Action::SetSysctl { ns: "sy".into(), key: "net.ipv4.ip_forward".into(), value: "1".into() },
                &[0],
                vec![Action::SetSysctl { ns: "sy".into(), key: "net.ipv4.ip_forward".into(), value: "0".into() }],
            ),
            op(
                Action::SetSysctl { ns: "sy".into(), key: "net.ipv6.conf.lo.disable_ipv6".into(), value: "1".into() },
                &[0],
                vec![Action::SetSysctl { ns: "sy".into(), key: "net.ipv6.conf.lo.disable_ipv6".into(), value: "0".into() }],
            ),
        ],
        ..Default::default()
    };
    apply_check_rollback(&plan, || {
        assert_eq!(sh("ip netns exec sy cat /proc/sys/net/ipv4/ip_forward").trim(), "1");
        assert_eq!(sh("ip netns exec sy cat /proc/sys/net/ipv6/conf/lo/disable_ipv6").trim(), "1");
        assert_eq!(sh("cat /proc/sys/net/ipv4/ip_forward"), host_before, "the host's own value is untouched");
    });
});

sandbox_test!(qdisc_and_class_deletion_is_sent_to_the_kernel, {
    // The tc encoder is another module; deleting needs none of it.
    sh("ip link add tq0 type veth peer name tq1 && tc qdisc add dev tq0 ingress && tc qdisc add dev tq1 root handle 1: htb && tc class add dev tq1 parent 1: classid 1:10 htb rate 1mbit");
    let mut exec = Executor::new().unwrap();
    exec.run_action(&Action::DelClass { ns: "host".into(), dev: "tq1".into(), id: 0x10 }).unwrap();
    assert_eq!(sh("tc class show dev tq1"), "");
    exec.run_action(&Action::DelQdisc { ns: "host".into(), dev: "tq0".into(), parent: QdiscParent::Ingress }).unwrap();
    assert!(!sh("tc qdisc show dev tq0").contains("ingress"));
    exec.run_action(&Action::DelQdisc { ns: "host".into(), dev: "tq1".into(), parent: QdiscParent::Root }).unwrap();
    assert!(!sh("tc qdisc show dev tq1").contains("htb"));
    let err = exec.run_action(&Action::DelQdisc { ns: "host".into(), dev: "tq1".into(), parent: QdiscParent::Ingress }).unwrap_err();
    assert!(err.errno().is_some(), "{err}");
});
