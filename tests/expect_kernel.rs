//! `expect` against the real kernel (each test in its own sandbox): expectations checked
//! inside the transaction (a failed one rolls the run back), `check-live`, and
//! `netscript exec`.

mod support;
use support::{Sandbox, assert_same_dump};

const SEED: &str = include_str!("../examples/seed.ns");


/// Diagnostics as one line: miette wraps long messages (continuation lines start with
/// `│`).
fn flat(stderr: &str) -> String {
    stderr.split_whitespace().filter(|w| *w != "│").collect::<Vec<_>>().join(" ")
}

/// The line (1-based) of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") + 1
}

#[test]
fn seed_expectation_holds_and_check_live_reports_it() {
    assert!(SEED.trim_end().ends_with("expect ns1 reach 192.168.1.2"), "seed.ns ends with its expectation");
    let sb = Sandbox::new();
    let script = sb.write_script("seed.ns", SEED);
    let run = sb.netscript(&["run", &script]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("applied 23 operations"), "{}", run.stderr);

    // check-live changes nothing and reports the expectation with its route.
    let before = sb.dump();
    let live = sb.netscript(&["check-live", "--format", "json", &script]);
    assert_eq!(live.code, Some(0), "{}\n{}", live.stdout, live.stderr);
    let results: serde_json::Value = serde_json::from_str(&live.stdout).unwrap();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["expectation"], "expect ns1 reach 192.168.1.2");
    assert_eq!(results[0]["result"], "reached");
    assert_eq!(results[0]["holds"], true);
    assert_eq!(results[0]["method"], "icmp");
    assert_eq!(results[0]["route"], "192.168.1.2 dev veth0 src 192.168.1.1");
    assert_eq!(results[0]["location"], format!("{script}:{}:1", line_of(SEED, "expect ns1")));
    let table = sb.netscript(&["check-live", &script]).ok();
    let row = table.lines().find(|l| l.starts_with("ns1 reach 192.168.1.2")).unwrap_or_else(|| panic!("no row:\n{table}"));
    assert!(row.contains("holds") && row.contains("reached: echo reply after"), "{row}");
    assert_eq!(sb.dump(), before, "check-live changed something");
}

#[test]
fn seed_with_an_address_nobody_holds_fails_and_rolls_back() {
    let sb = Sandbox::new();
    let text = SEED.replace("expect ns1 reach 192.168.1.2", "expect ns1 reach 192.168.1.99");
    let script = sb.write_script("seed.ns", &text);
    let before = sb.dump();
    let mut run = sb.netscript(&["run", &script]);
    assert_eq!(run.code, Some(3), "expected exit 3 (failed, rolled back):\n{}", run.stderr);
    run.stderr = flat(&run.stderr);
    let line = line_of(&text, "expect ns1");
    assert!(run.stderr.contains(&format!("{script}:{line}:1: netscript::run::expectation_failed")), "{}", run.stderr);
    assert!(run.stderr.contains("ICMP echo from ns1 to 192.168.1.99"), "{}", run.stderr);
    // Nobody answers ARP: either nothing comes back in time, or the kernel gives up on
    // the neighbour first.
    assert!(run.stderr.contains("timeout: no echo reply within 2s") || run.stderr.contains("unreachable: host unreachable"), "{}", run.stderr);
    assert!(run.stderr.contains("route in ns1: 192.168.1.99 dev veth0 src 192.168.1.1"), "{}", run.stderr);
    assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
    assert_same_dump(&before, &sb.dump(), "after the failed run");
    // The failed run finished its journal: the next run is not told to recover first.
    let good = sb.write_script("seed.ns", SEED);
    let again = sb.netscript(&["run", &good]);
    assert!(again.success, "a run after a failed expectation was refused:\n{}", again.stderr);
}

/// Two namespaces each with a veth to a third party, a default route out of `nra`:
/// nothing connects `nra` to `nrb`.
const APART: &str = "
netns nra <
  veth a0 <-> nrc.c0 < addr 10.31.0.1/24 >
  route default via 10.31.0.2
>
netns nrc < link c0 < addr 10.31.0.2/24 > >
netns nrb < veth b0 <-> nrd.d0 < addr 10.32.0.1/24 > >
netns nrd < link d0 < addr 10.32.0.2/24 > >
expect nra noreach 10.32.0.1
expect nra reach 10.31.0.2
";

/// `nra` and `nrb` on one veth.
const LINKED: &str = "
netns nra < veth a0 <-> nrb.b0 < addr 10.33.0.1/24 > >
netns nrb < link b0 < addr 10.33.0.2/24 > >
expect nra noreach 10.33.0.2
";

#[test]
fn noreach_holds_between_unlinked_namespaces() {
    let sb = Sandbox::new();
    let script = sb.write_script("apart.ns", APART);
    let run = sb.netscript(&["run", &script]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(sb.run("ip", &["netns", "list"]).ok().contains("nra"), "the run was kept");
    let live = sb.netscript(&["check-live", "--format", "json", &script]).ok();
    let results: serde_json::Value = serde_json::from_str(&live).unwrap();
    assert_eq!(results[0]["holds"], true);
    assert_ne!(results[0]["result"], "reached");
    assert_eq!(results[0]["route"], "10.32.0.1 via 10.31.0.2 dev a0 src 10.31.0.1");
    assert_eq!(results[1]["result"], "reached");
}

#[test]
fn noreach_fails_and_rolls_back_when_the_namespaces_are_linked() {
    let sb = Sandbox::new();
    let script = sb.write_script("linked.ns", LINKED);
    let before = sb.dump();
    let mut run = sb.netscript(&["run", &script]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    run.stderr = flat(&run.stderr);
    assert!(run.stderr.contains(&format!("{script}:4:1: netscript::run::expectation_failed")), "{}", run.stderr);
    assert!(run.stderr.contains("expected not to reach"), "{}", run.stderr);
    assert!(run.stderr.contains("reached: echo reply after"), "{}", run.stderr);
    assert!(run.stderr.contains("route in nra: 10.33.0.2 dev a0 src 10.33.0.1"), "{}", run.stderr);
    assert_same_dump(&before, &sb.dump(), "after the failed run");
}

#[test]
fn ipv6_expectations_use_icmpv6() {
    let sb = Sandbox::new();
    let script = sb.write_script("v6.ns",
        "netns six1 < veth a <-> six2.b < addr fd00:77::1/64 > >\nnetns six2 < link b < addr fd00:77::2/64 > >\nexpect six1 reach fd00:77::2 within 5s\nexpect six1 noreach fd00:78::2 within 300ms\n",
    );
    let run = sb.netscript(&["run", &script]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let live: serde_json::Value = serde_json::from_str(&sb.netscript(&["check-live", "--format", "json", &script]).ok()).unwrap();
    assert_eq!(live[0]["result"], "reached", "{live}");
    assert_eq!(live[0]["route"], "fd00:77::2 dev a src fd00:77::1");
    assert_eq!(live[1]["result"], "unreachable", "{live}");
    assert_eq!(live[1]["holds"], true);
    assert!(live[1]["route_error"].as_str().unwrap().contains("unreachable"), "{live}");
}

#[test]
fn unprivileged_icmp_sockets_are_used_where_ping_group_range_allows() {
    // By default a new namespace's ping_group_range admits nobody and the probe uses a
    // raw socket (every other test); here the datagram socket path, v4 and v6.
    let sb = Sandbox::new();
    let script = sb.write_script("dgram.ns",
        "netns dg1 < veth a <-> dg2.b < addr 10.55.0.1/24; addr fd00:55::1/64 > >\nnetns dg2 < link b < addr 10.55.0.2/24; addr fd00:55::2/64 > >\n\
         expect dg1 reach 10.55.0.2\nexpect dg1 reach fd00:55::2 within 5s\nexpect dg1 noreach 10.55.0.3 within 300ms\n",
    );
    sb.netscript(&["run", &script]).ok();
    sb.netscript(&["exec", "dg1", "--", "sh", "-c", "echo 0 2147483647 > /proc/sys/net/ipv4/ping_group_range"]).ok();
    let range = sb.netscript(&["exec", "dg1", "--", "cat", "/proc/sys/net/ipv4/ping_group_range"]).ok();
    assert_eq!(range.split_whitespace().collect::<Vec<_>>(), ["0", "2147483647"]);
    let live: serde_json::Value = serde_json::from_str(&sb.netscript(&["check-live", "--format", "json", &script]).ok()).unwrap();
    assert_eq!(live[0]["result"], "reached", "{live}");
    assert_eq!(live[1]["result"], "reached", "{live}");
    assert_eq!(live[2]["holds"], true, "{live}");
    assert_ne!(live[2]["result"], "reached", "{live}");
}

/// Starts a TCP listener on 0.0.0.0:`port` inside namespace `ns` of the current
/// (sandboxed) process, accepting until the process ends.
fn listen_in(ns: &str, port: u16) {
    let path = format!("/run/netns/{ns}");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).unwrap();
        nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let listener = std::net::TcpListener::bind(("0.0.0.0", port)).unwrap();
        tx.send(()).unwrap();
        for conn in listener.incoming() {
            drop(conn);
        }
    });
    rx.recv().expect("the listener started");
}

fn netscript(args: &[&str]) -> support::Run {
    std::process::Command::new(env!("CARGO_BIN_EXE_netscript")).args(args).output().unwrap().into()
}

fn sh(script: &str) -> String {
    let run: support::Run = std::process::Command::new("sh").args(["-ec", script]).output().unwrap().into();
    run.ok()
}

sandbox_test!(tcp_expectation_holds_with_a_listener_and_is_refused_without, {
    // The server namespace exists before the run, with a listener on every address.
    sh("ip netns add tsrv && ip -n tsrv link set lo up");
    listen_in("tsrv", 8080);
    let script = "/run/tcp.ns";
    let text = "netns tcli < veth c0 <-> tsrv.s0 < addr 10.44.0.1/24 > >\nnetns tsrv < link s0 < addr 10.44.0.2/24 > >\nexpect tcli reach 10.44.0.2 port 8080\n";
    std::fs::write(script, text).unwrap();
    let run = netscript(&["run", script]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let live: serde_json::Value = serde_json::from_str(&netscript(&["check-live", "--format", "json", script]).ok()).unwrap();
    assert_eq!(live[0]["method"], "tcp");
    assert_eq!(live[0]["result"], "reached");
    netscript(&["down", script]).ok();

    // Nothing listens on 8081: refused, rolled back.
    let before = support::dump();
    std::fs::write(script, text.replace("port 8080", "port 8081")).unwrap();
    let mut run = netscript(&["run", script]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    run.stderr = flat(&run.stderr);
    assert!(run.stderr.contains("/run/tcp.ns:3:1: netscript::run::expectation_failed"), "{}", run.stderr);
    assert!(run.stderr.contains("TCP connect from tcli to 10.44.0.2:8081"), "{}", run.stderr);
    assert!(run.stderr.contains("refused: connection refused"), "{}", run.stderr);
    assert_same_dump(&before, &support::dump(), "after the failed run");
    // And noreach to the closed port holds (the listener's port is still open).
    std::fs::write(script, text.replace("reach 10.44.0.2 port 8080", "noreach 10.44.0.2 port 8081")).unwrap();
    let run = netscript(&["run", script]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    netscript(&["down", script]).ok();
});

#[test]
fn exec_runs_a_command_inside_a_namespace() {
    let sb = Sandbox::new();
    let script = sb.write_script("seed.ns", SEED);
    sb.netscript(&["run", &script]).ok();
    let ours = sb.netscript(&["exec", "ns1", "--", "ip", "addr"]);
    assert_eq!(ours.code, Some(0), "{}", ours.stderr);
    assert!(ours.stdout.contains("veth0") && ours.stdout.contains("inet 192.168.1.1/24"), "{}", ours.stdout);
    // The same as iproute2's own exec, byte for byte.
    let theirs = sb.run("ip", &["netns", "exec", "ns1", "ip", "addr"]).ok();
    assert_eq!(ours.stdout, theirs);
    // /sys describes the namespace.
    let sys = sb.netscript(&["exec", "ns2", "--", "ls", "/sys/class/net"]).ok();
    assert_eq!(sys.split_whitespace().collect::<Vec<_>>(), ["lo", "veth1"]);
    // Exit codes pass through; a missing command is 127, as in a shell.
    assert_eq!(sb.netscript(&["exec", "ns2", "--", "sh", "-c", "exit 7"]).code, Some(7));
    assert_eq!(sb.netscript(&["exec", "ns2", "--", "/nonexistent/command"]).code, Some(127));
    let missing = sb.netscript(&["exec", "nosuchns", "--", "true"]);
    assert!(!missing.success && missing.stderr.contains("nosuchns"), "{}", missing.stderr);
}
