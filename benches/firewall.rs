//! The firewall benchmark: `netscript run` of N firewall rules in one namespace against
//! `nft -f` of the same ruleset, interleaved in one run; a no-op re-run; peak memory.
//!
//! ```text
//! sudo cargo bench --bench firewall                          # N = 10000; 5 pairs
//! sudo cargo bench --bench firewall -- --n 1000 --pairs 3
//! ```
//! (`NETSCRIPT_BENCH_N=1000` and `NETSCRIPT_BENCH_PAIRS=7` work too.) Run by `cargo test
//! --bench firewall` (no `--bench` argument) it is a smoke test: N = 50, 1 pair, no
//! waiting for a quiet machine; scripts/test.sh runs it.
//!
//! The ruleset: one chain `input` (policy drop) in netscript's table `inet netscript`,
//! N rules of five forms in turn (a TCP port; a UDP source port range with a counter
//! and reject; an IPv4 source prefix with ICMP; a source and destination address; a
//! mark and conntrack states), all different. The nft file holds the same rules in nft's
//! words, each with netscript's text as its comment, as netscript writes them: the
//! benchmark checks once (first pair) that both leave the same ruleset, compared as
//! `nft -j list ruleset` without handles.
//!
//! One pair: `netscript run fw.ns` (the table is absent), a re-run with nothing to do
//! (checked to say so), `netscript down fw.ns`; then `nft -f fw.nft` and `nft delete
//! table inet netscript`. Every step starts on a quiet machine. It works in the network
//! namespace of its own sandbox (`host` in the script), so no `ip netns exec` stands in
//! front of `nft`. `cargo bench` builds netscript with the `bench` profile (release
//! settings, fat LTO): the figures are those of the release build.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const NETSCRIPT: &str = env!("CARGO_BIN_EXE_netscript");

struct Config {
    n: usize,
    pairs: usize,
    smoke: bool,
}

fn config() -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = !args.iter().any(|a| a == "--bench");
    let (default_n, default_pairs) = if smoke { (50, 1) } else { (10_000, 5) };
    let mut n = std::env::var("NETSCRIPT_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(default_n);
    let mut pairs = std::env::var("NETSCRIPT_BENCH_PAIRS").ok().and_then(|v| v.parse().ok()).unwrap_or(default_pairs);
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--n" if i + 1 < args.len() => {
                n = args[i + 1].parse().unwrap_or_else(|_| usage());
                i += 1;
            }
            "--pairs" if i + 1 < args.len() => {
                pairs = args[i + 1].parse().unwrap_or_else(|_| usage());
                i += 1;
            }
            "-h" | "--help" => usage(),
            _ => {}
        }
        i += 1;
    }
    if n == 0 || pairs == 0 {
        usage();
    }
    Config { n, pairs, smoke }
}

fn usage() -> ! {
    eprintln!("usage: cargo bench --bench firewall [-- --n 10000] [--pairs 5]   (as root)");
    std::process::exit(2)
}

/// Rule `i` as netscript writes it (its text, the nft comment) and in nft's words.
fn rule(i: usize) -> (String, String) {
    let (a, b) = (i / 250 % 250, i % 250);
    let port = 1 + i % 60_000;
    match i % 5 {
        0 => (format!("accept proto tcp dport {port}"), format!("tcp dport {port} accept")),
        1 => (format!("reject proto udp sport {port}-{} counter", port + 10), format!("udp sport {port}-{} counter reject", port + 10)),
        2 => (format!("drop proto icmp src 10.{a}.{b}.0/24"), format!("ip saddr 10.{a}.{b}.0/24 meta l4proto icmp drop")),
        3 => (format!("accept src 10.{a}.{b}.7/32 dst 10.2.0.1/32"), format!("ip saddr 10.{a}.{b}.7 ip daddr 10.2.0.1 accept")),
        _ => (format!("drop mark {} ct invalid,new", i + 1), format!("meta mark {} ct state invalid,new drop", i + 1)),
    }
}

fn write_inputs(n: usize, dir: &Path) {
    let mut ns = String::from("host <\n  firewall input policy drop <\n");
    let mut nft = String::from("table inet netscript {\n  chain input {\n    type filter hook input priority 0; policy drop;\n");
    for i in 0..n {
        let (ours, theirs) = rule(i);
        writeln!(ns, "    {ours}").unwrap();
        writeln!(nft, "    {theirs} comment \"{ours}\"").unwrap();
    }
    ns.push_str("  >\n>\n");
    nft.push_str("  }\n}\n");
    std::fs::write(dir.join("fw.ns"), ns).expect("fw.ns");
    std::fs::write(dir.join("fw.nft"), nft).expect("fw.nft");
}

/// Writes `nft -j list ruleset` without rule handles to `path`. Done by child processes:
/// this process stays small, because a child's peak resident set as the kernel reports
/// it counts the memory of the parent it was started from.
fn save_ruleset(path: &Path) {
    run_sh(&format!("nft -j list ruleset | sed -E 's/\"handle\": [0-9]+//g' > {}", path.display()));
}

fn rule_count() -> usize {
    run_sh("nft list chain inet netscript input | grep -c comment || true").trim().parse().unwrap_or(0)
}

fn has_table() -> bool {
    run_sh("nft list tables").contains("netscript")
}

#[derive(Default)]
struct Results {
    apply: Vec<Sample>,
    noop: Vec<Sample>,
    down: Vec<Sample>,
    nft: Vec<Sample>,
    nft_delete: Vec<Sample>,
}

fn main() {
    let cfg = config();
    WAIT_FOR_QUIET.store(!cfg.smoke, std::sync::atomic::Ordering::Relaxed);
    sandbox("firewall");
    let dir = PathBuf::from("/run/netscript-bench-fw");
    std::fs::create_dir_all(&dir).expect("work dir");
    run_sh("ip link set lo up");
    let nft_path = run_sh("command -v nft").trim().to_string();
    let nft_version = run_sh("nft --version").trim().to_string();
    write_inputs(cfg.n, &dir);

    println!("# netscript firewall benchmark");
    println!();
    println!("N = {} rules in one chain, {} pairs, interleaved; netscript {NETSCRIPT}; baseline {nft_path} -f ({nft_version})", cfg.n, cfg.pairs);
    if cfg!(debug_assertions) {
        println!("build: debug (a smoke test of the benchmark: its figures mean nothing)");
    } else {
        println!("build: optimized (the bench profile: release settings, fat LTO)");
    }
    println!("machine: {} CPUs, kernel {}, load average at start {}", cpus(), kernel(), loadavg());
    println!();

    // One untimed round of each, so both start from warm caches.
    eprintln!("N={}: warm-up", cfg.n);
    timed(&dir, "warm-run", NETSCRIPT, &["run", "fw.ns"]);
    timed(&dir, "warm-down", NETSCRIPT, &["down", "fw.ns"]);
    timed(&dir, "warm-nft", "nft", &["-f", "fw.nft"]);
    timed(&dir, "warm-nft-delete", "nft", &["delete", "table", "inet", "netscript"]);

    let mut r = Results::default();
    for p in 0..cfg.pairs {
        eprintln!("N={}: pair {}/{}", cfg.n, p + 1, cfg.pairs);
        assert!(!has_table(), "the table is there before a pair");
        settle();
        r.apply.push(timed(&dir, "run", NETSCRIPT, &["run", "fw.ns"]));
        assert_eq!(rule_count(), cfg.n, "netscript run made another number of rules");
        if p == 0 {
            save_ruleset(&dir.join("ours.json"));
        }
        settle();
        r.noop.push(timed(&dir, "noop", NETSCRIPT, &["run", "fw.ns"]));
        let noop = std::fs::read_to_string(dir.join("noop.log")).unwrap_or_default();
        assert!(noop.contains("nothing to do"), "the re-run was not a no-op:\n{noop}");
        settle();
        r.down.push(timed(&dir, "down", NETSCRIPT, &["down", "fw.ns"]));
        assert!(!has_table(), "netscript down left the table");
        settle();
        r.nft.push(timed(&dir, "nft", "nft", &["-f", "fw.nft"]));
        assert_eq!(rule_count(), cfg.n, "nft -f made another number of rules");
        if p == 0 {
            save_ruleset(&dir.join("theirs.json"));
            let same = std::process::Command::new("cmp").args(["-s", "ours.json", "theirs.json"]).current_dir(&dir).status().expect("cmp").success();
            assert!(same, "netscript's ruleset differs from nft's (see {}/ours.json, theirs.json): the comparison would be unfair", dir.display());
        }
        settle();
        r.nft_delete.push(timed(&dir, "nft-delete", "nft", &["delete", "table", "inet", "netscript"]));
    }
    print_results(&cfg, &r);
}

fn row(name: &str, s: &[Sample]) -> String {
    format!("| {name} | {} | {} | {:.1} MB |", secs(median(&walls(s))), secs(median(&cpus_of(s))), peak(s))
}

fn print_results(cfg: &Config, r: &Results) {
    println!("## N = {}", cfg.n);
    println!();
    println!("| step | median wall | median CPU | peak memory |");
    println!("|---|---|---|---|");
    println!("{}", row("netscript run (apply)", &r.apply));
    println!("{}", row("nft -f (apply)", &r.nft));
    println!("{}", row("netscript run (no-op re-run)", &r.noop));
    println!("{}", row("netscript down", &r.down));
    println!("{}", row("nft delete table", &r.nft_delete));
    println!();
    let apply_ratio = median_f(&ratios(&r.apply, &r.nft));
    let noop_ratio = median_f(&ratios(&r.noop, &r.nft));
    let per: Vec<String> = ratios(&r.apply, &r.nft).iter().map(|x| format!("{x:.2}")).collect();
    let cpu_ratio = |a: &[Sample], b: &[Sample]| median_f(&a.iter().zip(b).map(|(a, b)| a.cpu.as_secs_f64() / b.cpu.as_secs_f64()).collect::<Vec<_>>());
    println!("apply: netscript / nft = {apply_ratio:.2} (median of per-pair ratios: {}); goal ≤ 1.0", per.join(" "));
    println!("no-op re-run: netscript / nft apply = {noop_ratio:.2}; goal ≤ 0.2");
    println!(
        "CPU time (user + system, the kernel's work in the process included): apply {:.2}, no-op {:.2} of nft's apply",
        cpu_ratio(&r.apply, &r.nft),
        cpu_ratio(&r.noop, &r.nft)
    );
    println!(
        "peak memory: netscript run {:.1} MB, no-op {:.1} MB, down {:.1} MB; nft -f {:.1} MB",
        peak(&r.apply),
        peak(&r.noop),
        peak(&r.down),
        peak(&r.nft)
    );
    println!();
    println!("Wall times are medians over the pairs; ratios are medians of the per-pair ratios (wall time). Peak");
    println!("memory is the largest maximum resident set of any run of that step (wait4 rusage). Load average at");
    println!("the end: {}", loadavg());
}
