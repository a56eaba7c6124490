//! Inline eBPF filters (issue 17) against the real kernel, each test in its own sandbox:
//! `xdp < drop proto icmp >` stops ping but not TCP; `bpf ingress < drop proto tcp dport
//! 23 counter >` refuses port 23, passes 22, and `show --stats` counts the dropped SYNs;
//! an unchanged block is left alone, a changed one replaced, a block removed from the
//! script detached; a program detached by hand is put back; `down` and a refused later
//! operation leave nothing. iproute2's JSON and real traffic are the oracles.

mod support;

use support::Sandbox;
use support::traffic::{pings, tcp_works};

fn script(body: &str) -> String {
    format!("netns ia < veth v0 <-> ib.v1 < addr 10.31.0.1/24 > >\nnetns ib < link v1 <\n  addr 10.31.0.2/24\n{body}> >\n")
}

fn xdp_prog(sb: &Sandbox) -> Option<(String, u64)> {
    let link: serde_json::Value = serde_json::from_str(&sb.sh("ip -n ib -json link show v1").ok()).unwrap();
    let prog = &link[0]["xdp"]["prog"];
    Some((prog["name"].as_str()?.to_string(), prog["id"].as_u64()?))
}

fn tc_progs(sb: &Sandbox) -> Vec<(String, u64)> {
    let f: serde_json::Value = serde_json::from_str(&sb.sh("ip netns exec ib tc -json filter show dev v1 ingress").ok()).unwrap_or_default();
    f.as_array().into_iter().flatten().filter_map(|f| Some((f["options"]["prog"]["name"].as_str()?.to_string(), f["options"]["prog"]["id"].as_u64()?))).collect()
}

#[test]
fn xdp_rules_stop_ping_not_tcp_and_removing_them_detaches() {
    let sb = Sandbox::new();
    let path = sb.write_script("xdp.ns", &script("  xdp mode generic < drop proto icmp >\n"));
    let run = sb.netscript(&["run", &path]);
    assert!(run.success, "{run:?}");
    let (name, id) = xdp_prog(&sb).expect("an XDP program on ib.v1");
    assert_eq!(name, "netscript_xdp");
    assert!(!pings(&sb, "ia", "10.31.0.2"), "ICMP dropped by XDP");
    assert!(tcp_works(&sb, "ib", "ia", "10.31.0.2", 5101), "TCP passes");
    // Unchanged rules: nothing to do, the same program stays.
    sb.assert_up_to_date(&path);
    assert_eq!(xdp_prog(&sb).map(|p| p.1), Some(id));
    // Drift: detached by hand, the next run puts it back.
    sb.sh("ip -n ib link set v1 xdpgeneric off").ok();
    assert!(pings(&sb, "ia", "10.31.0.2"));
    assert!(sb.netscript(&["run", &path]).success);
    assert!(!pings(&sb, "ia", "10.31.0.2"), "re-attached");
    // Changed rules: replaced (ICMP passes now, UDP port 9 would not).
    let path = sb.write_script("xdp.ns", &script("  xdp mode generic < drop proto udp dport 9 >\n"));
    let plan = sb.netscript(&["plan", &path]).ok();
    assert!(plan.contains("attach xdp inline rules (1 rule,") && plan.contains("instructions"), "{plan}");
    assert!(sb.netscript(&["run", &path]).success);
    assert!(pings(&sb, "ia", "10.31.0.2"));
    assert_ne!(xdp_prog(&sb).map(|p| p.1), Some(id));
    // The block removed from the script: detached.
    let path = sb.write_script("xdp.ns", &script(""));
    assert!(sb.netscript(&["run", &path]).success);
    assert_eq!(xdp_prog(&sb), None);
    let down = sb.netscript(&["down", &path]);
    assert!(down.success, "{down:?}");
    assert_eq!(sb.sh("ls /run/netns").ok().trim(), "");
}

#[test]
fn tc_rules_refuse_telnet_pass_ssh_and_count() {
    let sb = Sandbox::new();
    let path = sb.write_script("tc.ns", &script("  bpf ingress < drop proto tcp dport 23 counter; pass proto tcp dport 22 counter >\n"));
    let run = sb.netscript(&["run", &path]);
    assert!(run.success, "{run:?}");
    let progs = tc_progs(&sb);
    assert_eq!(progs.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["netscript_tc"], "{progs:?}");
    assert!(!tcp_works(&sb, "ib", "ia", "10.31.0.2", 23), "port 23 dropped");
    assert!(tcp_works(&sb, "ib", "ia", "10.31.0.2", 22), "port 22 passes");
    assert!(pings(&sb, "ia", "10.31.0.2"), "ICMP untouched");
    // The counters: the refused SYNs (the first and its retransmissions) on rule 1, the
    // port 22 connection's packets on rule 2.
    // Each rule as the script writes it, with its hits and its place in the script.
    let show = sb.netscript(&["show", "--stats", "ib"]).ok();
    assert!(show.contains("    v1 tc ingress prio 1:\n"), "{show}");
    let n = |rule: &str| -> u64 {
        let line = show.lines().find(|l| l.trim_start().starts_with(rule)).unwrap_or_else(|| panic!("no line for {rule}:\n{show}"));
        let (hits, place) = line.split_once("# ").unwrap().1.split_once(" hits, ").unwrap_or_else(|| panic!("{line}"));
        assert!(place.starts_with(&format!("{path}:")), "the rule's place in {path}: {line}");
        hits.parse().unwrap()
    };
    assert!(n("drop proto tcp dport 23 counter") >= 1, "{show}");
    assert!(n("pass proto tcp dport 22 counter") >= 3, "handshake and data: {show}");
    sb.assert_up_to_date(&path);
    // Drift: the filter deleted by hand is put back.
    sb.sh("ip netns exec ib tc filter del dev v1 ingress prio 1").ok();
    assert!(tcp_works(&sb, "ib", "ia", "10.31.0.2", 23));
    assert!(sb.netscript(&["run", &path]).success);
    assert!(!tcp_works(&sb, "ib", "ia", "10.31.0.2", 23), "re-attached");
    // Removed from the script: detached, and the clsact qdisc with it.
    let path = sb.write_script("tc.ns", &script(""));
    assert!(sb.netscript(&["run", &path]).success);
    assert!(tc_progs(&sb).is_empty());
    assert!(tcp_works(&sb, "ib", "ia", "10.31.0.2", 23));
    assert!(sb.netscript(&["down", &path]).success);
}

#[test]
fn a_refusal_after_the_attachments_leaves_nothing() {
    let sb = Sandbox::new();
    sb.sh("ip netns add ia; ip netns add ib; ip link add v0 netns ia type veth peer name v1 netns ib; ip -n ia link set v0 up; ip -n ib link set v1 up").ok();
    let before = sb.dump();
    let path = sb.write_script(
        "refused.ns",
        "netns ib <\n  link v1 < addr 10.31.9.2/24\n    bpf ingress < drop proto icmp counter >\n    xdp mode generic < drop proto udp >\n  >\n  rule from 10.31.9.9 lookup 100\n>\n",
    );
    let ops = sb.op_count(&path);
    let mut undone = (false, false);
    for n in 0..ops {
        let run = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", n.to_string()), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["-v", "run", &path]);
        assert_eq!(run.code, Some(3), "{run:?}");
        undone.0 |= run.stderr.contains("undone: detach bpf from ib.v1 ingress");
        undone.1 |= run.stderr.contains("undone: detach xdp from ib.v1");
        assert_eq!(sb.dump(), before, "refused at operation {n}: {run:?}");
    }
    assert_eq!(undone, (true, true));
}

/// `ip -json link`'s XDP mode of ib.v1: 1 native (driver), 2 generic (iproute2's
/// XDP_ATTACHED_* numbers), `None` when no program is attached.
fn xdp_mode(sb: &Sandbox) -> Option<u64> {
    let link: serde_json::Value = serde_json::from_str(&sb.sh("ip -n ib -json link show v1").ok()).unwrap();
    link[0]["xdp"]["mode"].as_u64()
}

/// A block whose mode changes is detached in the old mode and attached in the new one:
/// the kernel refuses a native program while a generic one is on, and the reverse. Without
/// `mode`, a veth gets native XDP, as on a fresh link; a re-run then has nothing to do.
/// Each step is compared with the same script run alone in a fresh sandbox.
#[test]
fn a_block_whose_mode_changes_is_moved_to_the_new_mode() {
    let sb = Sandbox::new();
    let steps = ["xdp mode generic < drop proto icmp >", "xdp < drop proto icmp >", "xdp mode generic < drop proto icmp >", "xdp mode native < drop proto udp dport 9 >", "xdp mode generic < drop proto udp dport 9 >", "xdp < drop proto icmp >"];
    for step in steps {
        let path = sb.write_script("mode.ns", &script(&format!("  {step}\n")));
        let run = sb.netscript(&["run", &path]);
        assert!(run.success, "{step}: {}", run.stderr);
        let alone = Sandbox::new();
        let alone_path = alone.write_script("mode.ns", &script(&format!("  {step}\n")));
        assert!(alone.netscript(&["run", &alone_path]).success);
        assert_eq!(xdp_mode(&sb), xdp_mode(&alone), "{step}: the mode differs from the script run alone");
        assert_eq!(xdp_mode(&sb), Some(if step.contains("generic") { 2 } else { 1 }), "{step}");
        sb.assert_up_to_date(&path);
        let icmp_dropped = step.contains("icmp");
        assert_eq!(pings(&sb, "ia", "10.31.0.2"), !icmp_dropped, "{step}: the program in force");
    }
}

/// A bridge's driver has no native XDP: without `mode` the kernel attaches the program
/// generic, and a re-run takes that for what the script asks (the planner's
/// `has_native_xdp`; were the bridge taken for native, the re-run would move the program
/// and the kernel refuse the native attach).
#[test]
fn a_program_without_mode_on_a_bridge_is_generic_and_re_runs_as_nothing() {
    let sb = Sandbox::new();
    let path = sb.write_script("bridge.ns", "netns ia < bridge br0 < up; xdp < drop proto icmp > > >\n");
    let run = sb.netscript(&["run", &path]);
    assert!(run.success, "{}", run.stderr);
    let link: serde_json::Value = serde_json::from_str(&sb.sh("ip -n ia -json link show br0").ok()).unwrap();
    assert_eq!(link[0]["xdp"]["mode"].as_u64(), Some(2), "generic: {link}");
    let id = link[0]["xdp"]["prog"]["id"].as_u64();
    sb.assert_up_to_date(&path);
    let link: serde_json::Value = serde_json::from_str(&sb.sh("ip -n ia -json link show br0").ok()).unwrap();
    assert_eq!(link[0]["xdp"]["prog"]["id"].as_u64(), id, "the same program stays");
}

/// A link that existed before netscript: its XDP program moved by a second run from
/// native to generic, then `down` gives the link back as it was, with no program (the
/// record keeps the first attach's undo, a native detach, which left a generic program
/// on).
#[test]
fn down_detaches_a_program_a_later_run_moved_to_another_mode() {
    let sb = Sandbox::new();
    sb.sh("ip link add h0 type veth peer name h0p; ip link set h0p up").ok();
    let start = sb.dump();
    let path = sb.write_script("pre.ns", "host < link h0 < addr 10.5.0.5/24; xdp mode native < drop proto icmp > > >\n");
    assert!(sb.netscript(&["run", &path]).success);
    sb.put(&path, "host < link h0 < addr 10.5.0.5/24; xdp mode generic < drop proto udp dport 9 > > >\n");
    let run = sb.netscript(&["run", &path]);
    assert!(run.success, "{}", run.stderr);
    let down = sb.netscript(&["down", &path]);
    assert!(down.success, "{}", down.stderr);
    support::assert_same_dump(&start, &sb.dump(), "down after a run that moved the program to generic XDP");
}

/// The kernel takes a native XDP program on a veth only while its peer's mtu fits in a
/// page, and lowers the peer's maximum mtu while one is on. An edit that attaches one and
/// gives the peer back its default mtu (9000 before, no longer declared) sets the mtu
/// first; the edit back detaches the program before raising the mtu. Serial runs: the
/// order is the plan's, not a race's. Found by the convergence property.
#[test]
fn a_native_program_and_its_peers_mtu_change_in_the_order_the_kernel_needs() {
    let sb = Sandbox::new();
    let wide = "netns ja < veth j0 <-> jb.j1 >\nnetns jb < link j1 < mtu 9000 > >\n";
    let native = "netns ja < veth j0 <-> jb.j1 < xdp mode native < drop proto udp dport 7 > > >\nnetns jb < link j1 >\n";
    let path = sb.write_script("mtu.ns", wide);
    let serial = [("NETSCRIPT_TEST_SERIAL_OPS", "1".to_string())];
    assert!(sb.netscript_env(&serial, &["run", &path]).success);
    // Run in parallel the two are a race; the plan must order them.
    sb.put(&path, native);
    let plan: serde_json::Value = serde_json::from_str(&sb.netscript(&["plan", "--format", "json", &path]).stdout).unwrap();
    let ops = plan["operations"].as_array().unwrap();
    let index_of = |op: &str| ops.iter().find(|o| o["op"] == op).unwrap_or_else(|| panic!("no {op} in {plan}"))["index"].clone();
    let attach = ops.iter().find(|o| o["op"] == "attach_xdp").unwrap();
    assert!(attach["deps"].as_array().unwrap().contains(&index_of("set_link")), "the attach does not wait for the peer's mtu: {plan}");
    for (step, text) in [("native after wide", native), ("wide after native", wide), ("native again", native)] {
        sb.put(&path, text);
        let run = sb.netscript_env(&serial, &["run", &path]);
        assert!(run.success, "{step}: {}", run.stderr);
        sb.assert_up_to_date(&path);
        let mtu: serde_json::Value = serde_json::from_str(&sb.sh("ip -n jb -json link show j1").ok()).unwrap();
        assert_eq!(mtu[0]["mtu"].as_u64(), Some(if text == wide { 9000 } else { 1500 }), "{step}");
        let link: serde_json::Value = serde_json::from_str(&sb.sh("ip -n ja -json link show j0").ok()).unwrap();
        assert_eq!(link[0]["xdp"]["mode"].as_u64(), (text == native).then_some(1), "{step}");
    }
}
