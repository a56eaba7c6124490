//! The CNI benchmark: many pods on one node. N container namespaces (bind mounts under
//! /run/pods, each with an `eth0`), then N `ADD`s of netscript's CNI plugin started at
//! once, then N `DEL`s at once; for comparison the same N `ADD`s and `DEL`s one after
//! another. Every command must succeed, each pod must hold its tbf after ADD, and no
//! attachment record may be left after DEL.
//!
//! ```text
//! sudo cargo bench --bench cni                 # N = 100
//! sudo cargo bench --bench cni -- --n 200
//! ```
//! Run by `cargo test --bench cni` (no `--bench` argument) it is a smoke test: N = 10;
//! scripts/test.sh runs it.
//!
//! What it shows: each attachment has its own lock (docs/CNI.md), so parallel ADDs of
//! unrelated pods do not queue behind one another: no command may wait for a lock held
//! by another (netscript says so on stderr; checked), and the time each takes to take
//! its lock (`NETSCRIPT_TIMINGS`) is printed, longest and summed (with no holder, it is
//! opening and locking a file, plus whatever the scheduler adds on a loaded machine). On
//! a machine with C cores the parallel wall time should approach the sequential time
//! divided by C.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NETSCRIPT: &str = env!("CARGO_BIN_EXE_netscript");
const SNIPPET: &str = "link {ifname} < shape 10mbit >\nrule from {ip4} table 100\nroute default via {gw4} table 100\nsysctl net.ipv4.conf.{ifname}.rp_filter = 2";

fn config() -> (usize, bool) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = !args.iter().any(|a| a == "--bench");
    let mut n = if smoke { 10 } else { 100 };
    if let Some(i) = args.iter().position(|a| a == "--n") {
        n = args.get(i + 1).and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or_else(|| {
            eprintln!("usage: cargo bench --bench cni [-- --n 100]   (as root)");
            std::process::exit(2)
        });
    }
    (n, smoke)
}

fn conf(pod: usize) -> String {
    let netns = format!("/run/pods/p{pod}");
    let prev = serde_json::json!({"cniVersion": "1.1.0", "interfaces": [{"name": "eth0", "sandbox": netns}],
        "ips": [{"address": "10.1.0.5/16", "gateway": "10.1.0.1", "interface": 0}]});
    serde_json::json!({"cniVersion": "1.1.0", "name": "bench", "type": "netscript", "script": SNIPPET, "prevResult": prev}).to_string()
}

fn start(command: &str, pod: usize) -> std::process::Child {
    let mut child = Command::new(NETSCRIPT)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", format!("pod{pod}"))
        .env("CNI_IFNAME", "eth0")
        .env("CNI_NETNS", format!("/run/pods/p{pod}"))
        // The time each run waits for its lock (`netscript: timing: lock …` on stderr).
        .env("NETSCRIPT_TIMINGS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start netscript");
    child.stdin.take().unwrap().write_all(conf(pod).as_bytes()).unwrap();
    child
}

/// Waits for a command; returns how long taking its lock took (no other process holds
/// it: on a loaded machine this is the time of opening and locking the file).
fn finish(command: &str, pod: usize, child: std::process::Child) -> Duration {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{command} of pod {pod} failed: {}{stderr}", String::from_utf8_lossy(&out.stdout));
    // A lock held by another process: said on stderr. Each attachment has its own, so
    // no command of the benchmark waits for another.
    assert!(!stderr.contains("waiting for the host lock"), "{command} of pod {pod} waited for a lock: {stderr}");
    stderr.lines().filter_map(|l| l.strip_prefix("netscript: timing: lock ")).map(parse_debug_duration).sum()
}

/// A `Duration`'s `{:.1?}` text (`12.3µs`, `4.5ms`, `1.2s`).
fn parse_debug_duration(text: &str) -> Duration {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let value: f64 = text[..split].parse().unwrap_or(0.0);
    let scale = match &text[split..] {
        "ns" => 1e-9,
        "µs" => 1e-6,
        "ms" => 1e-3,
        _ => 1.0,
    };
    Duration::from_secs_f64(value * scale)
}

/// All N at once: the wall time from the first start to the last exit, and the longest
/// and the total time the commands waited for their locks.
fn parallel(command: &str, n: usize) -> (Duration, Duration, Duration) {
    let started = Instant::now();
    let children: Vec<_> = (0..n).map(|p| start(command, p)).collect();
    let waits: Vec<Duration> = children.into_iter().enumerate().map(|(p, child)| finish(command, p, child)).collect();
    (started.elapsed(), waits.iter().copied().max().unwrap_or_default(), waits.iter().sum())
}

/// One after another.
fn sequential(command: &str, n: usize) -> Duration {
    let started = Instant::now();
    for p in 0..n {
        let _ = finish(command, p, start(command, p));
    }
    started.elapsed()
}

fn check_added(n: usize) {
    for p in 0..n {
        let q = run_sh(&format!("nsenter --net=/run/pods/p{p} tc qdisc show dev eth0 root"));
        assert!(q.contains("tbf"), "pod {p} has no tbf after ADD: {q}");
    }
}

fn check_deleted(n: usize) {
    let left = run_sh("find /run/netscript/cni -name attachment.json 2>/dev/null | wc -l");
    assert_eq!(left.trim(), "0", "attachment records left after DEL");
    for p in 0..n {
        let q = run_sh(&format!("nsenter --net=/run/pods/p{p} tc qdisc show dev eth0 root"));
        assert!(!q.contains("tbf"), "pod {p} still has its tbf after DEL: {q}");
    }
}

fn main() {
    let (n, smoke) = config();
    WAIT_FOR_QUIET.store(!smoke, std::sync::atomic::Ordering::Relaxed);
    sandbox("cni");
    run_sh("ip link set lo up; mkdir -p /run/pods /run/netscript");
    eprintln!("N={n}: making the pods");
    run_sh(&format!(
        "for i in $(seq 0 {}); do p=/run/pods/p$i; touch $p; unshare --net=$p true; nsenter --net=$p sh -ec 'ip link set lo up; ip link add eth0 type veth peer name peer0; ip link set eth0 up; ip addr add 10.1.0.5/16 dev eth0'; done",
        n - 1
    ));
    println!("# netscript CNI benchmark");
    println!();
    println!("N = {n} pods on one node, snippet: shape + rule + route + sysctl in each pod's namespace");
    if cfg!(debug_assertions) {
        println!("build: debug (a smoke test of the benchmark: its figures mean little)");
    } else {
        println!("build: optimized (the bench profile: release settings, fat LTO)");
    }
    println!("machine: {} CPUs, kernel {}, load average at start {}", cpus(), kernel(), loadavg());
    println!();
    settle();
    let (add_par, add_wait_max, add_wait_total) = parallel("ADD", n);
    check_added(n);
    settle();
    let (del_par, del_wait_max, del_wait_total) = parallel("DEL", n);
    check_deleted(n);
    settle();
    let add_seq = sequential("ADD", n);
    check_added(n);
    settle();
    let del_seq = sequential("DEL", n);
    check_deleted(n);
    let per = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0 / n as f64);
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    println!("| step | wall | per pod | sequential wall | parallel speed-up | taking the lock: longest | taking the lock: all |");
    println!("|---|---|---|---|---|---|---|");
    println!("| {n} ADDs at once | {} | {} | {} | {:.2}x | {} | {} |", secs(add_par), per(add_par), secs(add_seq), add_seq.as_secs_f64() / add_par.as_secs_f64(), ms(add_wait_max), ms(add_wait_total));
    println!("| {n} DELs at once | {} | {} | {} | {:.2}x | {} | {} |", secs(del_par), per(del_par), secs(del_seq), del_seq.as_secs_f64() / del_par.as_secs_f64(), ms(del_wait_max), ms(del_wait_total));
}
