//! Re-running a changed script changes traffic control in place (the qdisc's handle, its
//! classes and filters, and the kernel's counters survive), a failing run after such
//! changes is rolled back to exactly the previous parameters, and a kernel without a
//! qdisc says so on the statement that needs it. `tc` is the oracle; each test in its own
//! sandbox.

mod support;
#[path = "support/tc_oracle.rs"]
mod tc_oracle;

use support::Sandbox;
use tc_oracle::{class_bytes, classes, key_nodes, matches, qdisc_stats, tc_json};

/// ta: v0 with an htb (classes, filters), u0 with a tbf, x0 plain (the place a failing
/// statement goes, declared last so that its operation comes after the others).
fn script(tbf_rate: &str, class10_rate: &str, filters: &str, x0: &str) -> String {
    format!(
        "netns ta <\n  veth v0 <-> tb.v1 < addr 10.9.0.1/24 >\n  htb default 20 <\n    class 10 rate {class10_rate} ceil 10mbit\n    class 20 rate 2mbit\n{filters}  >\n  veth u0 <-> tb.u1 < addr 10.9.1.1/24 >\n  shape {tbf_rate}\n  veth x0 <-> tb.x1{x0}\n>\nnetns tb < link v1 < addr 10.9.0.2/24 >; link u1 < addr 10.9.1.2/24 > >\n"
    )
}

const FILTERS: &str = "    filter dport 5001 -> 10\n    filter dport 5002 -> 20\n";

/// Sends `count` UDP datagrams from ta to `addr:port` (nothing listens: the packets
/// still leave through the qdiscs, which is what the counters count).
fn send_udp(sb: &Sandbox, addr: &str, port: u16, count: u32) {
    sb.run("ip", &["netns", "exec", "ta", "bash", "-c", &format!("for i in $(seq {count}); do echo datagram > /dev/udp/{addr}/{port}; done")]).ok();
}

/// Everything tc says about ta's traffic control, without counters. The one thing
/// told apart: the u32 hash table a filter's key lives in (`fh 800:`, `key ht 800`) is
/// numbered by the kernel when the filter is added, so a filter deleted and put back by
/// the rollback is the same filter (same prio, matches, flowid) in a new table number.
fn tc_state(sb: &Sandbox) -> String {
    let raw = tc_state_raw(sb);
    raw.split_inclusive('\n')
        .map(|line| {
            let words: Vec<String> = line
                .split(' ')
                .enumerate()
                .map(|(i, w)| {
                    let prev = if i > 0 { line.split(' ').nth(i - 1).unwrap_or("") } else { "" };
                    if prev == "fh" || prev == "ht" { "N".to_string() } else { w.to_string() }
                })
                .collect();
            words.join(" ")
        })
        .collect()
}

fn tc_state_raw(sb: &Sandbox) -> String {
    let mut out = String::new();
    for args in [
        vec!["-n", "ta", "-d", "qdisc", "show"],
        vec!["-n", "ta", "-d", "class", "show", "dev", "v0"],
        vec!["-n", "ta", "filter", "show", "dev", "v0"],
    ] {
        out.push_str(&sb.run("tc", &args).ok());
    }
    out
}

#[test]
fn changed_rates_and_filters_are_changed_in_place() {
    let sb = Sandbox::new();
    let path = sb.write_script("tc.ns", &script("10mbit", "8mbit", FILTERS, ""));
    sb.netscript(&["run", &path]).ok();
    // Traffic through both shapers, so that their counters are not zero.
    send_udp(&sb, "10.9.0.2", 5001, 40);
    send_udp(&sb, "10.9.1.2", 9, 40);
    let htb_before = qdisc_stats(&sb, "ta", "v0", "1:");
    let tbf_before = qdisc_stats(&sb, "ta", "u0", "1:");
    let classes_before = class_bytes(&sb, "ta", "v0");
    let sent_10 = classes_before.iter().find(|(id, _)| id == "1:10").unwrap().1;
    assert!(sent_10 >= 40 * 42, "the filter put the datagrams in 1:10: {classes_before:?}");
    assert!(tbf_before["bytes"].as_u64().unwrap() >= 40 * 42, "{tbf_before}");

    // A re-run of the same script changes nothing.
    sb.assert_up_to_date(&path);

    // New rates, and the first filter on another port.
    sb.write_script("tc.ns", &script("20mbit", "6mbit", "    filter dport 5003 -> 10\n    filter dport 5002 -> 20\n", ""));
    let run = sb.netscript(&["-v", "run", &path]);
    assert!(run.success, "{}", run.stderr);
    // In completion order, which differs from the plan's between namespaces' sockets.
    let mut done: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("  + ")).collect();
    done.sort();
    let mut wanted = vec![
            "  + set class ta.v0 parent 1: classid 1:10 htb rate 6mbit ceil 10mbit",
            "  + delete filter ta.v0 u32 prio 1 match ip dport 5001 flowid 1:10",
            "  + add filter ta.v0 u32 prio 1 match ip dport 5003 flowid 1:10",
            "  + set qdisc ta.u0 root handle 1: tbf rate 20mbit burst 25000b latency 70ms",
        ];
    wanted.sort();
    assert_eq!(
        done,
        wanted,
        "only what changed, and nothing deleted but the changed filter:\n{}",
        run.stderr
    );

    // The same qdiscs (handle, kind), parameters changed, counters kept: a qdisc that
    // had been deleted and re-created would count from zero.
    let htb_after = qdisc_stats(&sb, "ta", "v0", "1:");
    let tbf_after = qdisc_stats(&sb, "ta", "u0", "1:");
    assert_eq!(htb_after["kind"], "htb");
    assert_eq!(tbf_after["kind"], "tbf");
    assert_eq!(tbf_after["options"]["rate"], 2_500_000, "{tbf_after}");
    assert!(htb_after["bytes"].as_u64() >= htb_before["bytes"].as_u64() && htb_after["bytes"].as_u64() > Some(0), "{htb_before} → {htb_after}");
    assert!(tbf_after["bytes"].as_u64() >= tbf_before["bytes"].as_u64(), "{tbf_before} → {tbf_after}");
    // The same classes, 1:10 with its new rate and its counter.
    let after = classes(&sb, "ta", "v0");
    let ids: Vec<&str> = after.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), 2, "{after:?}");
    assert!(ids.contains(&"1:10") && ids.contains(&"1:20"), "{after:?}");
    assert_eq!(after.iter().find(|c| c.id == "1:10").unwrap().rate, "6Mbit");
    let bytes_after = class_bytes(&sb, "ta", "v0");
    assert!(bytes_after.iter().find(|(id, _)| id == "1:10").unwrap().1 >= sent_10, "class counters reset: {classes_before:?} → {bytes_after:?}");
    // The filters: prio 1 now matches dport 5003 (0x138b), prio 2 untouched.
    let filters = key_nodes(&tc_json(&sb, "ta", &["filter", "show", "dev", "v0"]));
    assert_eq!(filters.len(), 2, "{filters:?}");
    assert_eq!((filters[0]["pref"].as_u64(), matches(&filters[0])[0]["value"].as_str()), (Some(1), Some("138b")));
    assert_eq!((filters[1]["pref"].as_u64(), matches(&filters[1])[0]["value"].as_str()), (Some(2), Some("138a")));
    sb.assert_up_to_date(&path);

    // A filter the script no longer has goes.
    sb.write_script("tc.ns", &script("20mbit", "6mbit", "    filter dport 5003 -> 10\n", ""));
    sb.netscript(&["run", &path]).ok();
    let filters = key_nodes(&tc_json(&sb, "ta", &["filter", "show", "dev", "v0"]));
    assert_eq!(filters.len(), 1, "{filters:?}");
    assert_eq!(filters[0]["pref"], 1);
}

#[test]
fn a_failed_run_after_changes_restores_the_previous_parameters_exactly() {
    let sb = Sandbox::new();
    let path = sb.write_script("rb.ns", &script("10mbit", "8mbit", FILTERS, ""));
    sb.netscript(&["run", &path]).ok();
    let before_tc = tc_state(&sb);
    let before = sb.dump();
    // Rates and a filter change, then the last operation is refused (the executor's test
    // fault point; operations one at a time, so every change is made by then).
    sb.write_script("rb.ns", &script("20mbit", "6mbit", "    filter dport 5003 -> 10\n    filter dport 5002 -> 20\n", ""));
    let last = (sb.op_count(&path) - 1).to_string();
    let run = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", last), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["-v", "run", &path]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    // The changes were made, then undone.
    for undone in [
        "  - undone: set qdisc ta.u0 root handle 1: tbf rate 10mbit burst 12500b latency 70ms",
        "  - undone: set class ta.v0 parent 1: classid 1:10 htb rate 8mbit ceil 10mbit",
        "  - undone: add filter ta.v0 u32 prio 1 match ip dport 5001 flowid 1:10",
    ] {
        assert!(run.stderr.contains(undone), "missing `{undone}`:\n{}", run.stderr);
    }
    assert_eq!(tc_state(&sb), before_tc, "tc's view after the rollback");
    support::assert_same_dump(&before, &sb.dump(), "after the rollback");
}

#[test]
fn an_ingress_redirect_deleted_by_hand_is_put_back() {
    let sb = Sandbox::new();
    let path = sb.write_script("ingress.ns", "netns ia < veth v0 <-> ib.v1; shape ingress 20mbit >\n");
    sb.netscript(&["run", &path]).ok();
    let filters = || sb.run("tc", &["-n", "ia", "filter", "show", "dev", "v0", "ingress"]).ok();
    let applied = filters();
    assert!(applied.contains("mirred") && applied.contains("ifb-v0"), "no redirect after the run:\n{applied}");
    let before = sb.dump();
    sb.run("tc", &["-n", "ia", "filter", "del", "dev", "v0", "ingress"]).ok();
    assert!(!filters().contains("mirred"), "the redirect is still there");
    // The plan notices it is gone, and only that.
    let plan = sb.netscript(&["plan", &path]).ok();
    assert!(plan.contains("add filter ia.v0") && plan.lines().filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit())).count() == 1, "{plan}");
    let rerun = sb.netscript(&["-v", "run", &path]);
    assert!(rerun.success, "{}", rerun.stderr);
    let again = filters();
    assert!(again.contains("mirred") && again.contains("ifb-v0"), "the re-run did not put the redirect back:\n{again}\n{}", rerun.stderr);
    support::assert_same_dump(&before, &sb.dump(), "after the re-run");
    sb.assert_up_to_date(&path);
}

/// Whether this kernel has netem: iproute2 adds one in a scratch namespace of the sandbox.
fn kernel_has_netem(sb: &Sandbox) -> bool {
    sb.sh("ip netns add probe && ip -n probe link set lo up && tc -n probe qdisc add dev lo root netem delay 1ms").success
}

/// The message for a qdisc the kernel lacks, on the statement, after the rollback. netem
/// is the one this lane's kernel lacks; on a kernel that has it (the full-kernel lane),
/// the same script must apply instead, with a netem qdisc: both outcomes are asserted, the
/// one this kernel gives is checked (tests/rollback_visible.rs covers rollback on any
/// kernel).
#[test]
fn a_kernel_without_netem_says_so_on_the_statement_after_rolling_back() {
    let sb = Sandbox::new();
    let has_netem = kernel_has_netem(&sb);
    sb.sh("ip netns del probe").ok();
    let before = sb.dump();
    let path = sb.write_script("lab.ns", "netns la <\n  veth v0 <-> lb.v1 < addr 10.9.0.1/24 >\n  shape 10mbit\n  veth w0 <-> lb.w1\n  netem delay 10ms loss 1%\n>\n");
    let run = sb.netscript(&["--color", "never", "run", &path]);
    if has_netem {
        assert!(run.success, "this kernel has netem: the run must apply\n{}", run.stderr);
        let qdiscs = sb.sh("tc -n la qdisc show dev w0").ok();
        assert!(qdiscs.contains("netem") && qdiscs.contains("delay 10ms") && qdiscs.contains("loss 1%"), "{qdiscs}");
        sb.netscript(&["down", &path]).ok();
        support::assert_same_dump(&before, &sb.dump(), "down");
        return;
    }
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let text = run.stderr;
    for wanted in [
        "lab.ns:5:3: netscript::run::kernel_refused",
        "this kernel does not support the qdisc netem, which this statement needs",
        "needs the qdisc netem (kernel module sch_netem)",
        "load it with `modprobe sch_netem`, or use a kernel built with CONFIG_NET_SCH_NETEM",
        "the kernel said: Specified qdisc kind is unknown",
        "everything this run had changed was rolled back: the system is as it was",
    ] {
        assert!(text.contains(wanted), "missing `{wanted}` in:\n{text}");
    }
    // The label points at the netem statement.
    let netem_line = text.lines().position(|l| l.contains("netem delay 10ms loss 1%")).expect("the statement is quoted");
    assert!(text.lines().skip(netem_line).take(4).any(|l| l.contains("needs the qdisc netem")), "{text}");
    support::assert_same_dump(&before, &sb.dump(), "after the refused run");
}
