//! Ownership and convergence against the real kernel (issue 23), each test in its own
//! sandbox: what a run makes is exactly what an edit or `down` takes away, in the same
//! transaction, and nothing of anyone else's (another script, the operator, a routing
//! daemon) is touched on the way. The oracle is the sandbox dump (normalised
//! `ip -json`/`tc -json` of every namespace) or precise `ip -json`/`tc -json` queries;
//! sysctls, which the dump does not hold, are read with `sysctl -n`.

mod support;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{assert_same_dump, without_macs, Run, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_netscript");
const KILL: &str = "NETSCRIPT_TEST_KILL_AFTER_RECORDS";

/// A pre-existing veth pair in the sandbox's initial namespace, both ends up.
const HOST_VETH: &str = "ip link add h0 type veth peer name h0p && ip link set h0 up && ip link set h0p up";

/// `ip`/`tc` JSON output of a command run in the sandbox.
fn json(sb: &Sandbox, cmd: &str) -> Value {
    let out = sb.sh(cmd).ok();
    if out.trim().is_empty() {
        return Value::Array(vec![]);
    }
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{cmd}: bad JSON ({e}): {out}"))
}

/// A sysctl's value (whitespace normalised), in `ns` or the sandbox's initial namespace.
fn sysctl(sb: &Sandbox, ns: Option<&str>, key: &str) -> String {
    let cmd = match ns {
        Some(ns) => format!("ip netns exec {ns} sysctl -n {key}"),
        None => format!("sysctl -n {key}"),
    };
    sb.sh(&cmd).ok().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn mtu(sb: &Sandbox, ns: Option<&str>, dev: &str) -> u64 {
    let n = ns.map(|n| format!("-n {n} ")).unwrap_or_default();
    json(sb, &format!("ip {n}-json link show dev {dev}"))[0]["mtu"].as_u64().unwrap()
}

/// The IPv4 addresses (`a.b.c.d/len`) on a device.
fn v4_addrs(sb: &Sandbox, ns: Option<&str>, dev: &str) -> Vec<String> {
    let n = ns.map(|n| format!("-n {n} ")).unwrap_or_default();
    let v = json(sb, &format!("ip {n}-4 -json addr show dev {dev}"));
    v[0]["addr_info"]
        .as_array()
        .map(|a| a.iter().map(|i| format!("{}/{}", i["local"].as_str().unwrap(), i["prefixlen"])).collect())
        .unwrap_or_default()
}

fn state_files(sb: &Sandbox) -> Vec<String> {
    sb.sh("ls /run/netscript/state 2>/dev/null || true").ok().lines().map(str::to_string).collect()
}

fn journals(sb: &Sandbox) -> Vec<String> {
    sb.sh("ls /run/netscript/journal 2>/dev/null || true").ok().lines().map(str::to_string).collect()
}

/// Asserts a run was refused at plan time: exit 1, the diagnostic code in stderr.
#[track_caller]
fn assert_refused(run: &Run, code: &str) {
    assert_eq!(run.code, Some(1), "expected exit 1 ({code}):\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains(code), "expected {code} in:\n{}", run.stderr);
}

/// What `script` alone makes in a fresh sandbox prepared by `pre` (MACs left out).
fn fresh_dump(pre: &str, script: &str) -> String {
    let sb = Sandbox::new();
    if !pre.is_empty() {
        sb.sh(pre).ok();
    }
    let path = sb.write_script("fresh.ns", script);
    sb.netscript(&["run", &path]).ok();
    without_macs(&sb.dump())
}

/// netscript started inside the sandbox, not waited for (`nsenter` and `env` exec, so the
/// child's pid is netscript's).
fn spawn(sb: &Sandbox, args: &[&str]) -> Child {
    Command::new("nsenter")
        .args(["-t", &sb.pid().to_string(), "-n", "-m", "--", "env", BIN])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> Run {
    Run::from_child(child)
}

fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------
// 1. Edits converge inside a namespace netscript created.

const CONV_FULL: &str = "netns c1 <
  veth v0 <-> c2.v1 < addr 10.11.0.1/24; addr 10.11.1.1/24; mtu 1400 >
  route 10.11.9.0/24 via 10.11.0.2
  rule from 10.11.0.100 lookup 100
  sysctl net.ipv4.conf.all.rp_filter = 2
>
netns c2 < link v1 < addr 10.11.0.2/24 > >
";
const CONV_EDITED: &str = "netns c1 <
  veth v0 <-> c2.v1 < addr 10.11.0.1/24 >
>
netns c2 < link v1 < addr 10.11.0.2/24 > >
";

#[test]
fn edit_converges_inside_a_created_namespace() {
    let sb = Sandbox::new();
    let script = sb.write_script("conv.ns", CONV_FULL);
    sb.netscript(&["run", &script]).ok();
    // What the edit takes away is there first (else the test proves nothing).
    assert_eq!(mtu(&sb, Some("c1"), "v0"), 1400);
    assert_eq!(v4_addrs(&sb, Some("c1"), "v0").len(), 2);
    assert_eq!(json(&sb, "ip -n c1 -json route show 10.11.9.0/24").as_array().unwrap().len(), 1);
    assert!(sb.sh("ip -n c1 rule show").ok().contains("from 10.11.0.100 lookup 100"));
    assert_eq!(sysctl(&sb, Some("c1"), "net.ipv4.conf.all.rp_filter"), "2");

    sb.write_script("conv.ns", CONV_EDITED);
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let reference = fresh_dump("", CONV_EDITED);
    assert_same_dump(&reference, &without_macs(&sb.dump()), "the edited run vs the edited script alone in a fresh sandbox");
    let fresh = Sandbox::new();
    let default_rp = sysctl(&fresh, None, "net.ipv4.conf.all.rp_filter");
    fresh.sh("ip netns add z && ip -n z link set lo up").ok();
    assert_eq!(sysctl(&sb, Some("c1"), "net.ipv4.conf.all.rp_filter"), sysctl(&fresh, Some("z"), "net.ipv4.conf.all.rp_filter"), "rp_filter (host default {default_rp}) is back to a new namespace's default");
    sb.assert_up_to_date(&script);
}

/// The mtu of `lo` in a namespace netscript created: removing `link lo < mtu N >` gives
/// lo its mtu back (65536), as in a fresh namespace.
#[test]
fn edit_gives_back_the_mtu_of_lo_in_a_created_namespace() {
    let sb = Sandbox::new();
    let script = sb.write_script("lo.ns", "netns l1 < link lo < mtu 1400 >; bridge b0 >\n");
    sb.netscript(&["run", &script]).ok();
    assert_eq!(mtu(&sb, Some("l1"), "lo"), 1400);
    let edited = "netns l1 < bridge b0 >\n";
    sb.write_script("lo.ns", edited);
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(mtu(&sb, Some("l1"), "lo"), 65536, "lo keeps the mtu of a line the script no longer has; run said:\n{}", run.stderr);
    assert_same_dump(&fresh_dump("", edited), &without_macs(&sb.dump()), "the edited run vs the edited script alone");
}

// ---------------------------------------------------------------------------------------
// 2. Same-subnet re-numbering on a pre-existing host link.

#[test]
fn renumbering_within_one_subnet_keeps_the_new_address() {
    let sb = Sandbox::new();
    sb.sh(HOST_VETH).ok();
    let script = sb.write_script("renum.ns", "host < link h0 < addr 10.6.0.1/24 > >\n");
    sb.netscript(&["run", &script]).ok();
    assert_eq!(v4_addrs(&sb, None, "h0"), vec!["10.6.0.1/24"]);
    let edited = "host < link h0 < addr 10.6.0.5/24 > >\n";
    sb.write_script("renum.ns", edited);
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(v4_addrs(&sb, None, "h0"), vec!["10.6.0.5/24"], "exactly the new address (deleting the old primary takes its secondaries with it)");
    assert_same_dump(&fresh_dump(HOST_VETH, edited), &without_macs(&sb.dump()), "re-numbered vs the edited script alone");
    sb.assert_up_to_date(&script);
}

// ---------------------------------------------------------------------------------------
// 3. Route gateway change.

#[test]
fn route_gateway_change_replaces_the_route() {
    let sb = Sandbox::new();
    let text = |gw: &str| format!("netns r1 < veth v0 <-> r2.v1 < addr 10.6.0.1/24 >; route 10.9.0.0/24 via {gw} >\n");
    let script = sb.write_script("gw.ns", &text("10.6.0.2"));
    sb.netscript(&["run", &script]).ok();
    sb.write_script("gw.ns", &text("10.6.0.3"));
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "changing the gateway failed (exit {:?}):\n{}", run.code, run.stderr);
    let routes = json(&sb, "ip -n r1 -json route show table all 10.9.0.0/24");
    let routes = routes.as_array().unwrap();
    assert_eq!(routes.len(), 1, "exactly one route to 10.9.0.0/24: {routes:?}");
    assert_eq!(routes[0]["gateway"], "10.6.0.3", "{routes:?}");
    assert_same_dump(&fresh_dump("", &text("10.6.0.3")), &without_macs(&sb.dump()), "after the gateway change vs the edited script alone");
    sb.assert_up_to_date(&script);
}

// ---------------------------------------------------------------------------------------
// 4. shape → htb with a class → shape, on one link.

#[test]
fn root_qdisc_kind_changes_back_and_forth() {
    let sb = Sandbox::new();
    let shape = "netns t1 < veth v0 <-> t2.v1; shape 1mbit >\n";
    let htb = "netns t1 < veth v0 <-> t2.v1\n  htb default 10 < class 10 rate 2mbit >\n>\n";
    let script = sb.write_script("q.ns", shape);
    for (step, (text, kind, classes)) in [(shape, "tbf", 0), (htb, "htb", 1), (shape, "tbf", 0)].into_iter().enumerate() {
        sb.write_script("q.ns", text);
        let run = sb.netscript(&["run", &script]);
        assert!(run.success, "step {step} ({kind}): exit {:?}\n{}", run.code, run.stderr);
        let root = json(&sb, "tc -n t1 -json qdisc show dev v0 root");
        assert_eq!(root[0]["kind"], kind, "step {step}: {root}");
        assert_eq!(root[0]["handle"], "1:", "step {step}: {root}");
        // (`tc -json class show` prints tbf's pseudo-class as text: read the text.)
        let cls = sb.sh("tc -n t1 class show dev v0").ok();
        assert_eq!(cls.lines().filter(|l| l.starts_with("class htb")).count(), classes, "step {step}: classes\n{cls}");
        sb.assert_up_to_date(&script);
        assert_same_dump(&fresh_dump("", text), &without_macs(&sb.dump()), &format!("step {step} ({kind}) vs the script alone"));
    }
}

// ---------------------------------------------------------------------------------------
// 5. plan / run --dry-run / down --dry-run show removals and change nothing.

#[test]
fn dry_runs_show_removals_and_change_nothing() {
    let sb = Sandbox::new();
    sb.sh(HOST_VETH).ok();
    let full = "host <\n  link h0 < addr 10.5.0.1/24; addr 10.5.1.1/24; mtu 1400 >\n  route 10.5.9.0/24 via 10.5.0.2\n  rule from 10.5.0.100 lookup 55\n>\nnetns d1 < bridge b0 >\n";
    let script = sb.write_script("dry.ns", full);
    sb.netscript(&["run", &script]).ok();
    sb.write_script("dry.ns", "host < link h0 < addr 10.5.0.1/24 > >\n");
    let before = sb.dump();
    for args in [vec!["plan", script.as_str()], vec!["run", "--dry-run", script.as_str()]] {
        let out = sb.netscript(&args);
        assert!(out.success, "{args:?}: {}", out.stderr);
        let removals: Vec<&str> = out.stdout.lines().filter(|l| l.trim_end().ends_with("# no longer declared")).collect();
        for what in ["address 10.5.1.1/24", "route 10.5.9.0/24", "rule", "mtu 1500"] {
            assert!(removals.iter().any(|l| l.contains(what)), "{args:?}: no `no longer declared` line for {what}:\n{}", out.stdout);
        }
        assert!(out.stdout.contains("delete netns d1"), "{args:?}: the namespace no longer declared:\n{}", out.stdout);
        assert!(!removals.iter().any(|l| l.contains("10.5.0.1/24")), "{args:?}: still declared:\n{}", out.stdout);
        assert_eq!(sb.dump(), before, "{args:?} changed the state");
    }
    let down = sb.netscript(&["down", "--dry-run", &script]);
    assert!(down.success, "{}", down.stderr);
    for what in ["address 10.5.0.1/24", "address 10.5.1.1/24", "route 10.5.9.0/24", "rule", "mtu 1500", "netns d1"] {
        assert!(down.stdout.contains(what), "down --dry-run does not show {what}:\n{}", down.stdout);
    }
    assert_eq!(sb.dump(), before, "down --dry-run changed the state");
    assert_eq!(state_files(&sb).len(), 1);
}

// ---------------------------------------------------------------------------------------
// 6. Cross-script exactness: rules and routes that differ only by priority / metric /
//    protocol / table.

#[test]
fn down_removes_only_its_own_rule_among_equal_selectors() {
    let sb = Sandbox::new();
    let a = sb.write_script("a.ns", "host < rule from 10.1.0.0/16 lookup 100 >\n");
    let b = sb.write_script("b.ns", "host < rule from 10.1.0.0/16 lookup 100 pref 200 >\n");
    let start = sb.dump();
    let prefs = |sb: &Sandbox| -> Vec<u64> {
        json(sb, "ip -4 -json rule show").as_array().unwrap().iter().filter(|r| r["src"] == "10.1.0.0").map(|r| r["priority"].as_u64().unwrap()).collect()
    };
    // A first (the priority is the kernel's pick), then B's at 200, then one by hand at 300:
    // a delete without A's priority would take B's (the first that matches).
    sb.netscript(&["run", &a]).ok();
    let a_pref = prefs(&sb)[0];
    assert!(a_pref > 300, "{a_pref}");
    sb.netscript(&["run", &b]).ok();
    sb.sh("ip rule add from 10.1.0.0/16 lookup 100 pref 300").ok();
    assert_eq!(prefs(&sb), vec![200, 300, a_pref]);
    let down = sb.netscript(&["down", &a]);
    assert!(down.success, "{}", down.stderr);
    assert_eq!(prefs(&sb), vec![200, 300], "down A must take exactly A's rule ({a_pref})");
    sb.netscript(&["down", &b]).ok();
    assert_eq!(prefs(&sb), vec![300], "down B must take exactly B's rule (200)");
    sb.sh("ip rule del from 10.1.0.0/16 lookup 100 pref 300").ok();
    assert_eq!(sb.dump(), start);
}

/// A rule without `pref`, in a namespace that exists already (here the initial one), gets
/// the priority `ip rule add` would give it: one below the second rule's (32765, before
/// the main table's lookup), and the rules are in the same order.
#[test]
fn rule_without_priority_gets_the_kernels_pick_in_an_existing_namespace() {
    let reference = Sandbox::new();
    reference.sh("ip rule add from 10.1.0.0/16 lookup 100 && ip netns add p1 && ip -n p1 rule add from 10.1.0.0/16 lookup 100").ok();
    let sb = Sandbox::new();
    sb.sh("ip netns add p1").ok();
    let script = sb.write_script("r.ns", "host < rule from 10.1.0.0/16 lookup 100 >\nnetns p1 < rule from 10.1.0.0/16 lookup 100 >\n");
    sb.netscript(&["run", &script]).ok();
    // Priorities, selectors and order; not the protocol (netscript may tag its rules).
    let rules = |sb: &Sandbox| -> Vec<Value> {
        ["ip -4 -json rule show", "ip -n p1 -4 -json rule show"]
            .iter()
            .flat_map(|cmd| json(sb, cmd).as_array().unwrap().clone())
            .map(|mut r| {
                r.as_object_mut().unwrap().remove("protocol");
                r
            })
            .collect()
    };
    assert_eq!(rules(&sb), rules(&reference), "rules (in order) differ from `ip rule add`'s");
}

#[test]
fn down_removes_only_its_own_route_among_equal_prefixes() {
    let sb = Sandbox::new();
    sb.sh(HOST_VETH).ok();
    // A's routes without a metric (v6: the kernel's 1024; v4: 0); B's with one.
    let a = sb.write_script("a.ns", "host <\n  link h0\n  route 2001:db8:9::/64 dev h0\n  route 10.44.0.0/16 dev h0\n>\n");
    let b = sb.write_script("b.ns", "host <\n  link h0\n  route 2001:db8:9::/64 dev h0 metric 500\n  route 10.44.0.0/16 dev h0 metric 50\n>\n");
    sb.netscript(&["run", &a]).ok();
    sb.netscript(&["run", &b]).ok();
    // A routing daemon's routes to the same prefixes: another metric, another table, and
    // (v4) one that differs from A's only by its protocol, ahead of it in the kernel's list.
    sb.sh(
        "ip -6 route add 2001:db8:9::/64 dev h0 metric 700 proto bird && ip -6 route add 2001:db8:9::/64 dev h0 table 200 proto bird \
         && ip route add 10.44.0.0/16 dev h0 metric 60 proto bird && ip route add 10.44.0.0/16 dev h0 table 200 proto bird \
         && ip route prepend 10.44.0.0/16 dev h0 proto bird",
    )
    .ok();
    let routes = |sb: &Sandbox| -> Vec<String> {
        let mut v: Vec<String> = ["-6", "-4"]
            .iter()
            .flat_map(|f| json(sb, &format!("ip {f} -json route show table all")).as_array().unwrap().clone())
            .filter(|r| r["dst"] == "2001:db8:9::/64" || r["dst"] == "10.44.0.0/16")
            .map(|r| format!("{} table {} metric {} proto {}", r["dst"].as_str().unwrap(), r["table"].as_str().unwrap_or("main"), r["metric"].as_u64().unwrap_or(0), r["protocol"].as_str().unwrap_or("boot")))
            .collect();
        v.sort();
        v
    };
    let all = routes(&sb);
    assert_eq!(all.len(), 9, "{all:#?}");
    let down = sb.netscript(&["down", &a]);
    assert!(down.success, "{}", down.stderr);
    let mut expected: Vec<String> = all.iter().filter(|r| !(r.ends_with("proto 110") && (r.contains("metric 1024") || r.contains("metric 0")))).cloned().collect();
    expected.sort();
    assert_eq!(expected.len(), 7, "{all:#?}");
    assert_eq!(routes(&sb), expected, "down A must take exactly A's two routes");
    sb.netscript(&["down", &b]).ok();
    let left: Vec<String> = expected.into_iter().filter(|r| r.ends_with("proto bird")).collect();
    assert_eq!(routes(&sb), left, "down B must take exactly B's two routes");
}

// ---------------------------------------------------------------------------------------
// 7. Foreign root qdiscs survive.

#[test]
fn foreign_root_qdiscs_are_refused_and_survive_run_and_down() {
    let sb = Sandbox::new();
    let foreign = [
        ("f0", "tc qdisc add dev f0 root handle 8001: tbf rate 1mbit burst 10kb latency 50ms"),
        ("f1", "tc qdisc add dev f1 root pfifo limit 77"),
        ("f2", "tc qdisc add dev f2 root handle 5: htb default 7 && tc class add dev f2 parent 5: classid 5:7 htb rate 3mbit"),
    ];
    for (dev, tc) in foreign {
        sb.sh(&format!("ip link add {dev} type veth peer name {dev}p && ip link set {dev} up && {tc}")).ok();
    }
    let start = sb.dump();
    for (dev, _) in foreign {
        let tc_state = |sb: &Sandbox| sb.sh(&format!("tc -json qdisc show dev {dev}; tc -json class show dev {dev}")).ok();
        let tc_before = tc_state(&sb);
        for shaping in ["shape 1mbit", "htb < class 10 rate 1mbit >"] {
            let script = sb.write_script("shape.ns", &format!("host < link {dev} < {shaping} > >\n"));
            let run = sb.netscript(&["run", &script]);
            assert_refused(&run, "netscript::plan::foreign_qdisc");
            assert_same_dump(&start, &sb.dump(), &format!("{dev}: refused `{shaping}`"));
        }
        let script = sb.write_script(&format!("mtu-{dev}.ns"), &format!("host < link {dev} < mtu 1400 > >\n"));
        sb.netscript(&["run", &script]).ok();
        assert_eq!(mtu(&sb, None, dev), 1400);
        assert_eq!(tc_state(&sb), tc_before, "{dev}: an mtu run touched the qdisc");
        sb.netscript(&["down", &script]).ok();
        assert_eq!(tc_state(&sb), tc_before, "{dev}: down touched the qdisc");
        assert_same_dump(&start, &sb.dump(), &format!("{dev}: after run + down of the mtu script"));
    }
}

// ---------------------------------------------------------------------------------------
// 8. A user's ingress qdisc with a filter.

#[test]
fn foreign_ingress_qdisc_is_refused() {
    let sb = Sandbox::new();
    sb.sh(&format!("{HOST_VETH} && tc qdisc add dev h0 ingress && tc filter add dev h0 parent ffff: protocol ip prio 5 u32 match ip src 10.0.0.0/8 flowid ffff:1")).ok();
    let start = sb.dump();
    let filters = sb.sh("tc -json filter show dev h0 ingress").ok();
    assert!(filters.contains("ffff:1"), "{filters}");
    let script = sb.write_script("ing.ns", "host < link h0 < shape ingress 1mbit > >\n");
    let run = sb.netscript(&["run", &script]);
    assert_refused(&run, "netscript::plan::foreign_qdisc");
    assert_same_dump(&start, &sb.dump(), "refused shape ingress");
    assert_eq!(sb.sh("tc -json filter show dev h0 ingress").ok(), filters);
    assert!(state_files(&sb).is_empty());
}

/// The ingress hook holds one qdisc, and the kernel turns neither kind into the other:
/// another's clsact where the script wants an ingress (put in place of the script's own
/// since), or another's ingress where it wants a clsact, is refused before anything
/// changes (not sent, for the kernel to refuse mid-run).
#[test]
fn another_kind_of_qdisc_at_the_ingress_hook_is_refused() {
    let sb = Sandbox::new();
    let script = sb.write_script("hook.ns", "netns hq < veth v0 <-> hp.v1; qdisc ingress < filter proto tcp dport 80 -> 1 > >\nnetns hp\n");
    sb.netscript(&["run", &script]).ok();
    sb.sh("tc -n hq qdisc del dev v0 ingress && tc -n hq qdisc add dev v0 clsact && tc -n hq filter add dev v0 ingress prio 7 u32 match u32 0 0 flowid 1:1").ok();
    let start = sb.dump();
    let run = sb.netscript(&["run", &script]);
    assert_refused(&run, "netscript::plan::foreign_qdisc");
    assert!(run.stderr.contains("(clsact ffff:)"), "{}", run.stderr);
    assert_same_dump(&start, &sb.dump(), "refused ingress over a clsact");

    sb.sh(&format!("{HOST_VETH} && tc qdisc add dev h0 ingress")).ok();
    let start = sb.dump();
    let clsact = sb.write_script("clsact.ns", "host < link h0 < qdisc clsact > >\n");
    let run = sb.netscript(&["run", &clsact]);
    assert_refused(&run, "netscript::plan::foreign_qdisc");
    assert_same_dump(&start, &sb.dump(), "refused clsact over an ingress");
}

// ---------------------------------------------------------------------------------------
// 9. A namespace re-created by hand under netscript's name.

#[test]
fn namespace_recreated_by_hand_is_not_deleted_by_down() {
    let sb = Sandbox::new();
    let script = sb.write_script("q1.ns", "netns q1 < bridge b0 < addr 10.19.0.1/24 > >\n");
    sb.netscript(&["run", &script]).ok();
    sb.sh("ip netns del q1 && ip netns add q1 && ip -n q1 link add br9 type bridge").ok();
    let mine = sb.dump();
    let down = sb.netscript(&["down", &script]);
    assert!(down.success, "{}", down.stderr);
    assert!(sb.sh("ip netns list").ok().contains("q1"), "q1 (made by hand) was deleted");
    sb.sh("ip -n q1 link show br9").ok();
    assert_same_dump(&mine, &sb.dump(), "down of a script whose namespace was re-made by hand");
}

/// A run with nothing to do that still rewrites the record (here: nftables' generation
/// moved, so the firewall is sealed anew) keeps the identity of the namespaces the record
/// made: one re-made by hand afterwards is not deleted by `down`.
#[test]
fn a_record_rewritten_by_a_no_op_run_keeps_the_namespaces_identity() {
    let sb = Sandbox::new();
    let script = sb.write_script("q3.ns", "netns q3 < firewall input < accept proto tcp dport 22 > >\n");
    sb.netscript(&["run", &script]).ok();
    let record_file = format!("/run/netscript/state/{}", state_files(&sb).into_iter().next().expect("a record"));
    let sealed: Value = serde_json::from_str(&sb.sh(&format!("cat {record_file}")).ok()).unwrap();
    sb.sh("ip netns exec q3 nft add table inet other").ok();
    sb.assert_up_to_date(&script);
    let record: Value = serde_json::from_str(&sb.sh(&format!("cat {record_file}")).ok()).unwrap();
    // The no-op re-sealed the record (the next one reads no table again)...
    assert_ne!(sealed["firewall_seals"], record["firewall_seals"], "the no-op after another table appeared kept the stale seals: {record}");
    // ...and kept the namespace's identity.
    assert!(record["netns_ids"]["q3"].is_u64() && record["netns_cookies"]["q3"].is_u64(), "the rewritten record lost q3's identity: {record}");
    sb.sh("ip netns del q3 && ip netns add q3 && ip -n q3 link add br9 type bridge").ok();
    let mine = sb.dump();
    let down = sb.netscript(&["down", &script]);
    assert!(down.success, "{}", down.stderr);
    assert_same_dump(&mine, &sb.dump(), "down after a no-op rewrote the record, of a namespace re-made by hand");
}

/// The kernel gives a freed namespace's inode number to the next namespace made (seen
/// here: `ip netns del a; sleep 1; ip netns add a` gets the same inode). That case is
/// made deterministic by writing the new namespace's inode into the record, as reuse
/// would: the record's cookie, which the kernel never reuses, still tells them apart.
#[test]
fn namespace_recreated_by_hand_with_the_same_inode_is_not_deleted_by_down() {
    let sb = Sandbox::new();
    let script = sb.write_script("q2.ns", "netns q2 < bridge b0 < addr 10.19.0.1/24 > >\n");
    sb.netscript(&["run", &script]).ok();
    let record_file = format!("/run/netscript/state/{}", state_files(&sb).into_iter().next().expect("a record"));
    let record: Value = serde_json::from_str(&sb.sh(&format!("cat {record_file}")).ok()).unwrap();
    assert!(record["netns_cookies"]["q2"].is_u64(), "the record keeps the namespace's cookie: {record}");
    sb.sh("ip netns del q2 && ip netns add q2 && ip -n q2 link add br9 type bridge").ok();
    let inode: u64 = sb.sh("stat -L -c %i /run/netns/q2").ok().trim().parse().unwrap();
    let mut reused = record.clone();
    reused["netns_ids"]["q2"] = inode.into();
    sb.put(&record_file, &serde_json::to_string(&reused).unwrap());
    let mine = sb.dump();
    let down = sb.netscript(&["down", &script]);
    assert!(down.success, "{}", down.stderr);
    assert!(sb.sh("ip netns list").ok().contains("q2"), "q2 (made by hand, on the inode of netscript's) was deleted");
    assert_same_dump(&mine, &sb.dump(), "down of a script whose namespace was re-made by hand on the same inode");
}

// ---------------------------------------------------------------------------------------
// 10. A symlink under /run/netns is never followed.

#[test]
fn symlink_in_place_of_a_recorded_namespace_is_not_followed_by_down() {
    let sb = Sandbox::new();
    let script = sb.write_script("q2.ns", "netns q2 < bridge b0 < addr 10.20.0.1/24 > >\n");
    sb.netscript(&["run", &script]).ok();
    // By hand: q2 goes, a real q3 comes, and q2 becomes a symlink to it.
    sb.sh("ip netns del q2 && ip netns add q3 && ip -n q3 link add br3 type bridge && ip -n q3 addr add 10.20.3.1/24 dev br3 && ln -s /run/netns/q3 /run/netns/q2").ok();
    let q3 = |sb: &Sandbox| sb.sh("ip -n q3 -json -d link show; ip -n q3 -json addr show").ok();
    let q3_before = q3(&sb);
    let down = sb.netscript(&["down", &script]);
    assert!(down.success, "exit {:?}\n{}", down.code, down.stderr);
    assert!(sb.sh("mountpoint -q /run/netns/q3 && echo yes || echo no").ok().trim() == "yes", "q3 is no longer a namespace");
    assert_eq!(q3(&sb), q3_before, "down went through the symlink into q3");
}

/// The same symlink, met by a re-run of the script that made q2: q3 is not q2.
#[test]
fn symlink_in_place_of_a_recorded_namespace_is_not_followed_by_a_rerun() {
    let sb = Sandbox::new();
    let script = sb.write_script("q2.ns", "netns q2 < bridge b0 < addr 10.20.0.1/24 > >\n");
    sb.netscript(&["run", &script]).ok();
    sb.sh("ip netns del q2 && ip netns add q3 && ip -n q3 link add br3 type bridge && ip -n q3 addr add 10.20.3.1/24 dev br3 && ln -s /run/netns/q3 /run/netns/q2").ok();
    let q3 = |sb: &Sandbox| sb.sh("ip -n q3 -json -d link show; ip -n q3 -json addr show").ok();
    let q3_before = q3(&sb);
    let again = sb.netscript(&["run", &script]);
    assert_eq!(q3(&sb), q3_before, "a re-run went through the symlink into q3 (exit {:?}):\n{}", again.code, again.stderr);
}

// ---------------------------------------------------------------------------------------
// 11. A device named like netscript's ifb that is not netscript's.

#[test]
fn fake_ifb_device_is_refused() {
    let sb = Sandbox::new();
    sb.sh(&format!("{HOST_VETH} && ip link add ifb-h0 type bridge")).ok();
    let start = sb.dump();
    let script = sb.write_script("ifb.ns", "host < link h0 < shape ingress 1mbit > >\n");
    let run = sb.netscript(&["run", &script]);
    assert_refused(&run, "netscript::plan::foreign_link");
    assert_same_dump(&start, &sb.dump(), "refused shape ingress next to a foreign ifb-h0");
    assert!(state_files(&sb).is_empty());
}

// ---------------------------------------------------------------------------------------
// 12. Two scripts change one attribute: `down` in either order ends at the original.

#[test]
fn stacked_attribute_changes_unwind_in_either_order() {
    let sb = Sandbox::new();
    sb.sh(HOST_VETH).ok();
    const KEY: &str = "net.ipv4.icmp_ratelimit";
    let a = sb.write_script("a.ns", &format!("host < link h0 < mtu 1400 >; sysctl {KEY} = 500 >\n"));
    let b = sb.write_script("b.ns", &format!("host < link h0 < mtu 1300 >; sysctl {KEY} = 600 >\n"));
    let start = sb.dump();
    let original = sysctl(&sb, None, KEY);
    assert!(original != "500" && original != "600", "{original}");
    let now = |sb: &Sandbox| (mtu(sb, None, "h0"), sysctl(sb, None, KEY));
    for (first_down, second_down, left_after_first) in [(&a, &b, (1300, "600")), (&b, &a, (1400, "500"))] {
        sb.netscript(&["run", &a]).ok();
        assert_eq!(now(&sb), (1400, "500".into()));
        sb.netscript(&["run", &b]).ok();
        assert_eq!(now(&sb), (1300, "600".into()));
        sb.netscript(&["down", first_down]).ok();
        assert_eq!(now(&sb), (left_after_first.0, left_after_first.1.to_string()), "after down {first_down}, the other script's values stay");
        sb.netscript(&["down", second_down]).ok();
        assert_eq!(now(&sb), (1500, original.clone()), "after down {first_down} then {second_down}: the original values");
        assert_same_dump(&start, &sb.dump(), &format!("down {first_down} then {second_down}"));
        assert!(state_files(&sb).is_empty());
    }
}

// ---------------------------------------------------------------------------------------
// 13. Two scripts declaring one address.

#[test]
fn second_script_declaring_the_same_address_is_refused() {
    let sb = Sandbox::new();
    sb.sh(HOST_VETH).ok();
    let a = sb.write_script("a.ns", "host < link h0 < addr 10.13.0.1/24 > >\n");
    let b = sb.write_script("b.ns", "host < link h0 < addr 10.13.0.1/24; mtu 1400 > >\nnetns b1 < bridge bb >\n");
    sb.netscript(&["run", &a]).ok();
    let applied = sb.dump();
    let run = sb.netscript(&["run", &b]);
    assert_refused(&run, "netscript::plan::owned_by_other");
    assert!(run.stderr.contains("a.ns"), "names the owner:\n{}", run.stderr);
    assert_same_dump(&applied, &sb.dump(), "refused second script");
    assert_eq!(state_files(&sb).len(), 1);
}

/// The other objects one script owns: a created link, a route, a rule, a root qdisc.
#[test]
fn second_script_declaring_the_same_object_is_refused() {
    let sb = Sandbox::new();
    sb.sh(&format!("{HOST_VETH} && ip addr add 10.13.0.1/24 dev h0")).ok();
    let start = sb.dump();
    for (what, a_text, b_text) in [
        ("created link", "host < bridge br7 >\n", "host < bridge br7 >\nnetns b1 < bridge bb >\n"),
        ("route", "host < link h0; route 10.13.9.0/24 via 10.13.0.2 >\n", "host < link h0 < mtu 1400 >; route 10.13.9.0/24 via 10.13.0.2 >\n"),
        ("rule", "host < rule from 10.13.0.100 lookup 100 >\n", "host < link h0 < mtu 1400 >; rule from 10.13.0.100 lookup 100 >\n"),
        ("root qdisc", "host < link h0 < shape 1mbit > >\n", "host < link h0 < shape 2mbit; mtu 1400 > >\n"),
    ] {
        let a = sb.write_script("a.ns", a_text);
        let b = sb.write_script("b.ns", b_text);
        sb.netscript(&["run", &a]).ok();
        let applied = sb.dump();
        let run = sb.netscript(&["run", &b]);
        assert_refused(&run, "netscript::plan::owned_by_other");
        assert_same_dump(&applied, &sb.dump(), &format!("{what}: refused second script"));
        sb.netscript(&["down", &a]).ok();
        assert_same_dump(&start, &sb.dump(), &format!("{what}: down of the first"));
        assert!(state_files(&sb).is_empty(), "{what}");
    }
}

// ---------------------------------------------------------------------------------------
// 14. `down` killed mid-way in a pre-existing namespace.

const KP_PRE: &str = "ip netns add kp && ip -n kp link set lo up && ip -n kp link add br0 type bridge && ip -n kp link set br0 up";
const KP_SCRIPT: &str = "netns kp <
  link br0 < addr 10.14.0.1/24; addr 10.14.1.1/24; mtu 1400 >
  bridge br1 < addr 10.14.2.1/24 >
  route 10.14.9.0/24 via 10.14.0.9
  rule from 10.14.0.100 lookup 100
  sysctl net.ipv4.ip_forward = 1
>
";

#[test]
fn killed_down_blocks_until_recover_which_restores_the_applied_state() {
    let sb = Sandbox::new();
    sb.sh(KP_PRE).ok();
    let start = sb.dump();
    let start_fwd = sysctl(&sb, Some("kp"), "net.ipv4.ip_forward");
    let script = sb.write_script("kp.ns", KP_SCRIPT);
    sb.netscript(&["run", &script]).ok();
    let applied = sb.dump();
    let applied_fwd = sysctl(&sb, Some("kp"), "net.ipv4.ip_forward");
    assert_ne!(applied_fwd, start_fwd);
    let plan: Value = serde_json::from_str(&sb.netscript(&["down", "--dry-run", "--format", "json", &script]).ok()).unwrap();
    let ops = plan["operations"].as_array().unwrap().len();
    assert!(ops >= 6, "down should remove single objects from kp inside the transaction: {plan}");
    for k in [3, ops + 1, 2 * ops - 1] {
        let killed = sb.run("env", &[&format!("{KILL}={k}"), BIN, "down", &script]);
        assert_eq!(killed.code, None, "kill point {k}: down was not killed: {killed:?}");
        let half = sb.dump();
        // The first removal may be the sysctl's (the record follows completion order),
        // which the dump does not show.
        let changed = without_macs(&half) != without_macs(&applied) || sysctl(&sb, Some("kp"), "net.ipv4.ip_forward") != applied_fwd;
        assert!(changed, "kill point {k}: the killed down changed nothing");
        for args in [vec!["run", script.as_str()], vec!["down", script.as_str()]] {
            let r = sb.netscript(&args);
            assert_eq!(r.code, Some(3), "kill point {k}, {args:?}: {}", r.stderr);
            assert!(r.stderr.contains("netscript recover"), "kill point {k}, {args:?}: {}", r.stderr);
            assert_eq!(sb.dump(), half, "kill point {k}: {args:?} changed the host before recover");
        }
        let r = sb.netscript(&["recover"]);
        assert!(r.success, "kill point {k}: {}", r.stderr);
        assert_same_dump(&without_macs(&applied), &without_macs(&sb.dump()), &format!("kill point {k}: after recover"));
        assert_eq!(sysctl(&sb, Some("kp"), "net.ipv4.ip_forward"), applied_fwd, "kill point {k}");
        assert!(journals(&sb).is_empty());
        sb.assert_up_to_date(&script);
    }
    sb.netscript(&["down", &script]).ok();
    assert_same_dump(&start, &sb.dump(), "the second down");
    assert_eq!(sysctl(&sb, Some("kp"), "net.ipv4.ip_forward"), start_fwd);
    assert!(state_files(&sb).is_empty());
}

// ---------------------------------------------------------------------------------------
// 15. SIGINT while `expect` probes.

#[test]
fn sigint_during_expect_rolls_back_with_130() {
    let sb = Sandbox::new();
    let start = sb.dump();
    let script = sb.write_script(
        "exp.ns",
        "netns e1 < veth a <-> e2.b < addr 10.15.0.1/24 > >\nnetns e2 < link b < addr 10.15.0.2/24 > >\nexpect e1 reach 10.15.0.99\n",
    );
    let plan: Value = serde_json::from_str(&sb.netscript(&["plan", "--format", "json", &script]).ok()).unwrap();
    let ops = plan["operations"].as_array().unwrap().len();
    let started = Instant::now();
    let child = spawn(&sb, &["run", &script]);
    // Every operation done: the probes are running (they wait up to 2 s).
    let done = || sb.sh("grep -c '\"done\"' /run/netscript/journal/*.journal 2>/dev/null || true").ok().trim().parse::<usize>().unwrap_or(0);
    wait_until("every operation applied", Duration::from_secs(5), || done() >= ops);
    std::thread::sleep(Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_millis(1900), "too slow to interrupt the probes ({:?})", started.elapsed());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let run = finish(child);
    assert_eq!(run.code, Some(130), "{}", run.stderr);
    assert!(!run.stderr.contains("netscript::run::expectation_failed"), "a probe cut short by the signal is not an unmet expectation\n{}", run.stderr);
    assert_same_dump(&start, &sb.dump(), "after SIGINT during expect");
    assert!(journals(&sb).is_empty() && state_files(&sb).is_empty());
}

// ---------------------------------------------------------------------------------------
// 16. A multi-value sysctl.

#[test]
fn multi_value_sysctl_verifies_is_up_to_date_and_is_restored() {
    let sb = Sandbox::new();
    sb.sh("ip netns add m1").ok();
    const KEY: &str = "net.ipv4.ping_group_range";
    let original = sysctl(&sb, Some("m1"), KEY);
    assert_ne!(original, "0 2147483647");
    let script = sb.write_script("mv.ns", &format!("netns m1 < sysctl {KEY} = 0 2147483647 >\nnetns m2 < sysctl {KEY} = 0 2147483647 >\n"));
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "exit {:?}\n{}", run.code, run.stderr);
    assert_eq!(sysctl(&sb, Some("m1"), KEY), "0 2147483647");
    assert_eq!(sysctl(&sb, Some("m2"), KEY), "0 2147483647");
    sb.assert_up_to_date(&script);
    sb.netscript(&["down", &script]).ok();
    assert_eq!(sysctl(&sb, Some("m1"), KEY), original, "down gives m1 its value back");
    let list = sb.sh("ip netns list").ok();
    assert!(list.contains("m1") && !list.contains("m2"), "{list}");
}

// ---------------------------------------------------------------------------------------
// 17. Scripts from standard input.

#[test]
fn stdin_needs_a_name_and_down_by_name_removes_it() {
    let sb = Sandbox::new();
    sb.put("/run/lab.txt", "netns lab1 < veth v0 <-> lab2.v1 < addr 10.17.0.1/24 > >\nhost < link lo < addr 10.17.9.9/32 > >\n");
    let start = sb.dump();
    let unnamed = sb.sh(&format!("{BIN} run - < /run/lab.txt"));
    assert_eq!(unnamed.code, Some(2), "{unnamed:?}");
    assert!(unnamed.stderr.contains("--name"), "{}", unnamed.stderr);
    assert_eq!(sb.dump(), start, "an unnamed stdin run changed something");
    assert!(state_files(&sb).is_empty());
    sb.sh(&format!("{BIN} run --name lab - < /run/lab.txt")).ok();
    assert!(sb.sh("ip netns list").ok().contains("lab1"));
    assert!(sb.sh("ip -json addr show dev lo").ok().contains("10.17.9.9"));
    let again = sb.sh(&format!("{BIN} run --name lab - < /run/lab.txt 2>&1")).ok();
    assert!(again.contains("up to date"), "a second run of the same name: {again}");
    let down = sb.netscript(&["down", "--name", "lab"]);
    assert!(down.success, "{}", down.stderr);
    assert_same_dump(&start, &sb.dump(), "after down --name lab");
    assert!(state_files(&sb).is_empty());
}

// ---------------------------------------------------------------------------------------
// 18. `down` of a script file that was deleted.

#[test]
fn down_of_a_deleted_script_finds_its_record() {
    let sb = Sandbox::new();
    sb.sh(HOST_VETH).ok();
    let start = sb.dump();
    let text = "netns x1 < veth v0 <-> x2.v1 < addr 10.18.0.1/24 > >\nhost < link h0 < addr 10.18.9.1/24; mtu 1400 > >\n";
    for (how, run, down) in [
        ("absolute", format!("{BIN} run /run/x.ns"), format!("{BIN} down /run/x.ns")),
        ("down relative to /run", format!("{BIN} run /run/x.ns"), format!("cd /run && {BIN} down x.ns")),
        ("run relative to /run", format!("cd /run && {BIN} run x.ns"), format!("cd / && {BIN} down /run/x.ns")),
    ] {
        sb.write_script("x.ns", text);
        sb.sh(&run).ok();
        sb.sh("rm /run/x.ns").ok();
        let r = sb.sh(&down);
        assert!(r.success, "{how}: {r:?}");
        assert_same_dump(&start, &sb.dump(), &format!("down of the deleted script ({how})"));
        assert!(state_files(&sb).is_empty(), "{how}");
    }
}

// ---------------------------------------------------------------------------------------
// 19. What others add inside netscript's namespace survives a re-run of an edit.

#[test]
fn others_objects_in_a_created_namespace_survive_an_edit() {
    let sb = Sandbox::new();
    let full = "netns o1 <\n  veth v0 <-> o2.v1 < addr 10.19.0.1/24; addr 10.19.1.1/24 >\n  route 10.19.9.0/24 via 10.19.0.2\n>\nnetns o2 < link v1 < addr 10.19.0.2/24 > >\n";
    let edited = "netns o1 <\n  veth v0 <-> o2.v1 < addr 10.19.0.1/24 >\n>\nnetns o2 < link v1 < addr 10.19.0.2/24 > >\n";
    let script = sb.write_script("o.ns", full);
    sb.netscript(&["run", &script]).ok();
    // A routing daemon's routes to the same prefix (another metric, another table, and one
    // that differs from netscript's only by its protocol, ahead of it in the kernel's
    // list), one to another prefix, and the operator's address.
    sb.sh(
        "ip -n o1 route add 10.19.9.0/24 via 10.19.0.2 metric 10 proto bird && ip -n o1 route add 10.19.9.0/24 via 10.19.0.2 table 50 proto bird \
         && ip -n o1 route prepend 10.19.9.0/24 via 10.19.0.2 proto bird \
         && ip -n o1 route add 10.19.5.0/24 via 10.19.0.2 proto bird && ip -n o1 addr add 10.19.7.1/24 dev v0",
    )
    .ok();
    sb.write_script("o.ns", edited);
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let routes: Vec<String> = json(&sb, "ip -n o1 -4 -json route show table all")
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["dst"].as_str().is_some_and(|d| d.starts_with("10.19.9.") || d.starts_with("10.19.5.")))
        .map(|r| format!("{} table {} metric {} proto {}", r["dst"].as_str().unwrap(), r["table"].as_str().unwrap_or("main"), r["metric"].as_u64().unwrap_or(0), r["protocol"].as_str().unwrap_or("boot")))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        routes,
        vec![
            "10.19.5.0/24 table main metric 0 proto bird",
            "10.19.9.0/24 table 50 metric 0 proto bird",
            "10.19.9.0/24 table main metric 0 proto bird",
            "10.19.9.0/24 table main metric 10 proto bird"
        ],
        "only netscript's route goes"
    );
    assert_eq!(v4_addrs(&sb, Some("o1"), "v0"), vec!["10.19.0.1/24", "10.19.7.1/24"], "only netscript's address goes");
    sb.assert_up_to_date(&script);
}

// ---------------------------------------------------------------------------------------
// An edit's removals are inside the transaction: when the edit fails later (its last
// operation refused by the executor's test fault point, operations one at a time so that
// every removal is done by then), what it had removed is put back.

#[test]
fn failed_edit_puts_back_what_it_removed() {
    let sb = Sandbox::new();
    sb.sh(HOST_VETH).ok();
    let full = "netns fr1 <\n  veth v0 <-> fr2.v1 < addr 10.21.0.1/24; addr 10.21.1.1/24 >\n  route 10.21.9.0/24 via 10.21.0.2\n  rule from 10.21.0.100 lookup 100\n>\nhost < link h0 < addr 10.21.5.1/24; mtu 1400 > >\n";
    let script = sb.write_script("fr.ns", full);
    sb.netscript(&["run", &script]).ok();
    let applied = sb.dump();
    sb.write_script("fr.ns", "netns fr1 <\n  veth v0 <-> fr2.v1 < addr 10.21.0.1/24 >\n  rule from 10.21.0.101 lookup 100\n>\n");
    let plan = sb.netscript(&["plan", &script]).ok();
    assert!(plan.matches("# no longer declared").count() >= 5, "the edit removes things first:\n{plan}");
    let last = (sb.op_count(&script) - 1).to_string();
    let run = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", last), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["-v", "run", &script]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.stderr.matches("  + ").count() >= 5, "the removals were made before the refusal:\n{}", run.stderr);
    assert_same_dump(&applied, &sb.dump(), "the failed edit's removals were not put back");
    sb.write_script("fr.ns", full);
    sb.assert_up_to_date(&script);
}

// ---------------------------------------------------------------------------------------
// A namespace's destruction is asynchronous: a veth end in a namespace that stays must not
// outlive `down` because its other end's namespace is still held by someone.

#[test]
fn down_deletes_the_veth_end_in_a_namespace_that_stays_even_while_the_other_is_held() {
    let sb = Sandbox::new();
    sb.sh("ip netns add keep && ip -n keep link set lo up").ok();
    let start = sb.dump();
    let script = sb.write_script("held.ns", "netns gone1 < veth c0 <-> keep.s0 < addr 10.21.0.1/24 > >\nnetns keep < link s0 < addr 10.21.0.2/24 > >\n");
    sb.netscript(&["run", &script]).ok();
    // A process inside gone1 keeps that namespace alive after its name is removed.
    sb.sh("(ip netns exec gone1 sleep 30 </dev/null >/dev/null 2>&1 &)").ok();
    let down = sb.netscript(&["down", &script]);
    assert!(down.success, "{}", down.stderr);
    let links = sb.sh("ip -n keep -o link show").ok();
    assert!(!links.contains("s0"), "the end in `keep` outlived down:\n{links}");
    sb.sh("pkill -f '^sleep 30$' || true").ok();
    assert_same_dump(&start, &sb.dump(), "after down");
}

// An edit that changes a u32 filter an earlier version made (same priority, other
// matches): the record must then remove the filter that is there, so that `down` gives
// back the start (it used to keep the first filter's removal, find it gone, leave the new
// filter and fail deleting the class it points to, "HTB class in use").
sandbox_test!(a_changed_filter_is_the_one_down_removes, {
    let sb = Sandbox::new();
    sb.sh("ip netns add fe; ip -n fe link add e0 type veth peer name e1; ip -n fe link set e0 up").ok();
    let before = sb.dump();
    let a = "netns fe < link e0 < htb default 20 < class 10 rate 2mbit; class 20 rate 1mbit; filter proto tcp dport 22 -> 10 > > >\n";
    let path = sb.write_script("filter.ns", a);
    sb.netscript(&["run", &path]).ok();
    sb.put(&path, &a.replace("dport 22", "dport 23"));
    sb.netscript(&["run", &path]).ok();
    let filters = sb.sh("ip netns exec fe tc filter show dev e0").ok();
    assert!(filters.contains("00000017/0000ffff") || filters.contains("dport 23") || filters.contains("0017"), "the edited filter is there: {filters}");
    let down = sb.netscript(&["down", &path]);
    assert!(down.success, "down failed: {}", down.stderr);
    assert_same_dump(&before, &sb.dump(), "after down of the edited script");
});

/// A rule the first version gives a priority, the edit writes without one: the kernel's
/// own `from all lookup main` already satisfies it, so the edited script run alone adds
/// nothing, and after the first version the rule that version made goes (it was kept,
/// and the system's rules depended on the history). Found by the convergence property.
#[test]
fn a_rule_the_kernels_own_satisfies_is_not_kept_from_an_earlier_version() {
    let a = "netns ro1 < rule pref 40011 table main; rule pref 40001 table 200 >\n";
    let b = "netns ro1 < rule table main; rule pref 40001 table 200 >\n";
    let sb = Sandbox::new();
    let path = sb.write_script("ro.ns", a);
    assert!(sb.netscript(&["run", &path]).success);
    sb.put(&path, b);
    let run = sb.netscript(&["run", &path]);
    assert!(run.success, "{}", run.stderr);
    sb.assert_up_to_date(&path);
    let alone = Sandbox::new();
    let alone_path = alone.write_script("ro.ns", b);
    assert!(alone.netscript(&["run", &alone_path]).success);
    assert_same_dump(&without_macs(&alone.dump()), &without_macs(&sb.dump()), "the edit against the edited script alone");
    assert!(sb.netscript(&["down", &path]).success);
}

/// An address the record made and the script drops, which someone deleted already: the
/// re-run has nothing to do but forgets it in the record, so that `down` leaves alone
/// the same address added again by hand afterwards (an address carries no mark of who
/// made it: the record is all that tells).
#[test]
fn a_dropped_address_someone_deleted_is_forgotten_by_a_run_with_nothing_to_do() {
    let sb = Sandbox::new();
    sb.sh("ip netns add fg && ip -n fg link add d0 type veth peer name d1 && ip -n fg link set d0 up").ok();
    let path = sb.write_script("fg.ns", "netns fg < link d0 < addr 10.21.0.1/24 > >\n");
    assert!(sb.netscript(&["run", &path]).success);
    sb.put(&path, "netns fg\n");
    sb.sh("ip -n fg addr del 10.21.0.1/24 dev d0").ok();
    let rerun = sb.netscript(&["run", &path]);
    assert!(rerun.success, "{}", rerun.stderr);
    sb.sh("ip -n fg addr add 10.21.0.1/24 dev d0").ok();
    let theirs = sb.dump();
    let down = sb.netscript(&["down", &path]);
    assert!(down.success, "{}", down.stderr);
    assert_same_dump(&theirs, &sb.dump(), "down after a run forgot the address someone deleted");
}

/// Runs `first`, then `second` (which must change something in `dn2`: one slow
/// operation), doing `meanwhile` in the sandbox while the second run goes on; that run
/// and the record after it.
fn second_run_while(first: &str, second: &str, meanwhile: &str) -> (Sandbox, Run, String) {
    let sb = Sandbox::new();
    let path = sb.write_script("dn.ns", first);
    assert!(sb.netscript(&["run", &path]).success);
    sb.put(&path, second);
    let child = Command::new("nsenter")
        .args(["-t", &sb.pid().to_string(), "-n", "-m", "--", "env", "NETSCRIPT_TEST_DELAY_PER_OP_MS=1000", BIN, "run", &path])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the run's journal", Duration::from_secs(5), || !journals(&sb).is_empty());
    sb.sh(meanwhile).ok();
    let run = finish(child);
    let record = sb.sh("cat /run/netscript/state/*.json").ok();
    (sb, run, record)
}

/// `second_run_while` for a script that drops namespace `dn1`.
fn drop_dn1_while(meanwhile: &str) -> (Sandbox, Run, String) {
    second_run_while("netns dn1\nnetns dn2\n", "netns dn2 < sysctl net.ipv4.ip_default_ttl = 77 >\n", meanwhile)
}

/// A namespace the script drops, which someone deletes while the run goes on: gone when
/// the run comes to delete it after the commit, which is the goal — the run succeeds and
/// the record forgets it.
#[test]
fn a_dropped_namespace_someone_deleted_during_the_run_is_forgotten() {
    let (sb, run, record) = drop_dn1_while("ip netns del dn1");
    assert!(run.success, "{}", run.stderr);
    assert!(!record.contains("dn1"), "the record still holds dn1: {record}");
    let record: Value = serde_json::from_str(&record).unwrap();
    assert!(record["netns_ids"]["dn2"].is_u64() && record["netns_cookies"]["dn2"].is_u64(), "the namespace that stays keeps its identity: {record}");
    assert!(sb.netscript(&["down", "/run/dn.ns"]).success);
}

/// The same namespace replaced by a symbolic link meanwhile: not deleted (a link is never
/// followed), and the record keeps it for the next run or `down` — the run says so.
#[test]
fn a_dropped_namespace_that_cannot_be_deleted_stays_in_the_record() {
    let (_sb, run, record) = drop_dn1_while("ip netns del dn1 && ln -s /run/elsewhere /run/netns/dn1");
    assert!(!run.success, "{}", run.stderr);
    assert!(run.stderr.contains("could not be deleted") && run.stderr.contains("the record keeps them"), "{}", run.stderr);
    assert!(record.contains("dn1"), "the record forgot dn1: {record}");
}

/// A veth from a dropped namespace to one that stays (its end in the dropped namespace
/// is deleted right after the commit, before the namespace, so that the other end does
/// not outlive the run), deleted by someone while the run goes on: already gone is the
/// goal — no warning.
#[test]
fn a_dropped_veth_someone_deleted_during_the_run_is_no_warning() {
    let (_sb, run, record) = second_run_while("netns dn1 < veth e0 <-> dn2.e1 >\nnetns dn2\n", "netns dn2 < sysctl net.ipv4.ip_default_ttl = 77 >\n", "ip -n dn2 link del e1");
    assert!(run.success, "{}", run.stderr);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    assert!(!record.contains("dn1") && !record.contains("e1"), "{record}");
}

/// The same veth end replaced meanwhile by a device the kernel does not delete (the
/// dropped namespace's `lo`, renamed to its name): the run is committed (the namespace
/// goes next, and the device with it); deleting the end fails for another reason than
/// "gone", which the run says in a warning.
#[test]
fn a_dropped_veth_end_that_cannot_be_deleted_is_a_warning() {
    let (_sb, run, _) = second_run_while("netns dn1 < veth e0 <-> dn2.e1 >\nnetns dn2\n", "netns dn2 < sysctl net.ipv4.ip_default_ttl = 77 >\n", "ip -n dn1 link del e0 && ip -n dn1 link set lo name e0");
    assert!(run.success, "{}", run.stderr);
    assert!(run.stderr.contains("warning: could not delete link dn1.e0"), "{}", run.stderr);
}
