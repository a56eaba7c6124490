//! The chain benchmark: `netscript run`/`down` against the iproute2 best practice
//! (`ip -batch` for the root namespace plus one `ip -n NS -batch` per namespace), on the
//! same topology, interleaved in one run.
//!
//! ```text
//! sudo cargo bench --bench chain                       # N = 50, 200, 1000; 5 pairs
//! sudo cargo bench --bench chain -- --n 20 --pairs 1   # a tiny version (CI)
//! ```
//! (`NETSCRIPT_BENCH_N=50,200` and `NETSCRIPT_BENCH_PAIRS=7` work too.) Run by
//! `cargo test --all-targets` (no `--bench` argument) it is a smoke test: N = 5, 1 pair,
//! and no waiting for a quiet machine.
//!
//! Topology, for each N: namespace i joined to i+1 by a veth, an address on each end,
//! every interface and loopback up, one `rule from 10.200.x.y lookup 100` per namespace
//! — what `benches/ip-chain N PREFIX DIR` writes as `up.sh`/`down.sh` (a copy, in the
//! repository, of the project's shared `bench/ip-chain`).
//!
//! `cargo bench` builds netscript (`CARGO_BIN_EXE_netscript`) with the `bench` profile,
//! which inherits the `release` profile's settings (fat LTO, one codegen unit): the
//! figures are those of the release build, not of the debug build scripts/demo.sh uses.
//!
//! It must run as root and sandboxes itself: it re-executes under
//! `unshare --net --mount --propagation private` with a tmpfs on `/run`, so every
//! namespace it makes lives and dies inside (nothing touches the host).
//!
//! For each N it times, in pairs (A B A B …): `netscript run chain.ns` vs `bash up.sh`,
//! then `netscript down chain.ns` vs `bash down.sh`; and, while the netscript topology is
//! live, `netscript run --dry-run chain.ns` and a re-run with nothing to do. Children are
//! reaped with `wait4`, which gives their CPU time and peak resident memory.
//! Every timed step starts on a quiet machine (`settle`): the kernel destroys deleted
//! namespaces and configures new links in the background, and no step may pay for the
//! step before it. Each side's chain is built and torn down alone.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const NETSCRIPT: &str = env!("CARGO_BIN_EXE_netscript");
const REPO: &str = env!("CARGO_MANIFEST_DIR");

struct Config {
    ns: Vec<usize>,
    pairs: usize,
    smoke: bool,
}

fn config() -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without
    // it, as a smoke test: then the default is a tiny chain, one pair.
    let smoke = !args.iter().any(|a| a == "--bench");
    let (default_ns, default_pairs) = if smoke { (vec![5], 1) } else { (vec![50, 200, 1000], 5) };
    let mut ns: Vec<usize> = std::env::var("NETSCRIPT_BENCH_N").ok().map(|v| parse_list(&v)).unwrap_or(default_ns);
    let mut pairs: usize = std::env::var("NETSCRIPT_BENCH_PAIRS").ok().and_then(|v| v.parse().ok()).unwrap_or(default_pairs);
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--n" if i + 1 < args.len() => {
                ns = parse_list(&args[i + 1]);
                i += 1;
            }
            "--pairs" if i + 1 < args.len() => {
                pairs = args[i + 1].parse().unwrap_or_else(|_| usage());
                i += 1;
            }
            // cargo bench passes --bench; filters are meaningless here.
            "--bench" => {}
            "-h" | "--help" => usage(),
            _ => {}
        }
        i += 1;
    }
    if ns.is_empty() || ns.iter().any(|&n| n < 2) || pairs == 0 {
        usage();
    }
    Config { ns, pairs, smoke }
}

fn parse_list(v: &str) -> Vec<usize> {
    v.split(',').map(|s| s.trim().parse().unwrap_or_else(|_| usage())).collect()
}

fn usage() -> ! {
    eprintln!("usage: cargo bench --bench chain [-- --n 50,200,1000] [--pairs 5]   (as root)");
    std::process::exit(2)
}

fn main() {
    let cfg = config();
    WAIT_FOR_QUIET.store(!cfg.smoke, std::sync::atomic::Ordering::Relaxed);
    sandbox("chain");
    let ip_chain = find_ip_chain();
    let base = PathBuf::from("/run/netscript-bench");
    std::fs::create_dir_all(&base).expect("work dir");
    run_sh("ip link set lo up");

    println!("# netscript chain benchmark");
    println!();
    println!("{} pairs per N, interleaved; netscript {NETSCRIPT}; baseline {}", cfg.pairs, ip_chain.display());
    // netscript is built by the same cargo command, with the same profile, as this program.
    if cfg!(debug_assertions) {
        println!("build: debug (a smoke test of the benchmark: its figures mean nothing)");
    } else {
        println!("build: optimized (the bench profile: release settings, fat LTO)");
    }
    println!("machine: {} CPUs, kernel {}, load average at start {}", cpus(), kernel(), loadavg());
    println!();
    let mut results = Vec::new();
    for &n in &cfg.ns {
        let r = bench_n(n, cfg.pairs, &base.join(format!("n{n}")), &ip_chain);
        print_details(&r);
        results.push(r);
    }
    print_summary(&results);
}

fn run_sh(cmd: &str) {
    let st = Command::new("sh").args(["-c", cmd]).status().expect("sh");
    assert!(st.success(), "`{cmd}` failed");
}

/// The baseline generator: the repository's own copy, nothing outside it.
fn find_ip_chain() -> PathBuf {
    let path = Path::new(REPO).join("benches/ip-chain");
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

/// `chain.ns`: the same topology as ip-chain's, written out namespace by namespace.
fn chain_script(n: usize, prefix: &str) -> String {
    let mut s = String::new();
    let net = |i: usize| format!("10.{}.{}", i / 250, i % 250);
    for i in 0..n {
        let mut body = Vec::new();
        if i + 1 < n {
            body.push(format!("veth a{i} <-> {prefix}{}.b{i} < addr {}.1/24 >", i + 1, net(i)));
        }
        if i > 0 {
            body.push(format!("link b{} < addr {}.2/24 >", i - 1, net(i - 1)));
        }
        body.push(format!("rule from 10.200.{}.{} lookup 100", i / 250, i % 250));
        writeln!(s, "netns {prefix}{i} < {} >", body.join("; ")).unwrap();
    }
    s
}

fn netns_count() -> usize {
    std::fs::read_dir("/run/netns").map(|d| d.count()).unwrap_or(0)
}

struct Result {
    n: usize,
    run: Vec<Sample>,
    ip_up: Vec<Sample>,
    down: Vec<Sample>,
    ip_down: Vec<Sample>,
    dry: Vec<Sample>,
    noop: Vec<Sample>,
}

fn bench_n(n: usize, pairs: usize, dir: &Path, ip_chain: &Path) -> Result {
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join("chain.ns"), chain_script(n, "ns")).expect("chain.ns");
    let st = Command::new("python3").arg(ip_chain).args([&n.to_string(), "ip", &dir.display().to_string()]).status().expect("python3");
    assert!(st.success(), "ip-chain failed");
    let ns = NETSCRIPT;
    let mut r = Result { n, run: vec![], ip_up: vec![], down: vec![], ip_down: vec![], dry: vec![], noop: vec![] };
    eprintln!("N={n}: warm-up");
    // One untimed round of each, so both start from the same warm caches.
    timed(dir, "warm-run", ns, &["run", "chain.ns"]);
    timed(dir, "warm-down", ns, &["down", "chain.ns"]);
    settle();
    timed(dir, "warm-up", "bash", &["up.sh"]);
    timed(dir, "warm-ipdown", "bash", &["down.sh"]);
    // Every timed step starts on a quiet machine, and each side builds and tears down
    // its own chain alone: the other side's namespaces are never present.
    for p in 0..pairs {
        eprintln!("N={n}: pair {}/{pairs}", p + 1);
        settle();
        r.run.push(timed(dir, "run", ns, &["run", "chain.ns"]));
        assert_eq!(netns_count(), n, "netscript run made {} namespaces", netns_count());
        settle();
        r.dry.push(timed(dir, "dry-run", ns, &["run", "--dry-run", "chain.ns"]));
        let plan = std::fs::read_to_string(dir.join("dry-run.log")).unwrap_or_default();
        assert!(plan.contains("up to date: nothing to do"), "the dry-run against the live chain plans changes:\n{plan}");
        settle();
        r.noop.push(timed(dir, "noop", ns, &["run", "chain.ns"]));
        let noop = std::fs::read_to_string(dir.join("noop.log")).unwrap_or_default();
        assert!(noop.contains("nothing to do"), "the re-run was not a no-op:\n{noop}");
        settle();
        r.down.push(timed(dir, "down", ns, &["down", "chain.ns"]));
        assert_eq!(netns_count(), 0, "netscript down left namespaces");
        settle();
        r.ip_up.push(timed(dir, "ip-up", "bash", &["up.sh"]));
        assert_eq!(netns_count(), n);
        settle();
        r.ip_down.push(timed(dir, "ip-down", "bash", &["down.sh"]));
        assert_eq!(netns_count(), 0);
    }
    settle();
    r
}

fn print_details(r: &Result) {
    let n = r.n;
    println!("## N = {n}");
    println!();
    println!("| step | netscript (median wall) | iproute2 (median wall) | ratio of medians | per-pair ratios | netscript CPU | iproute2 CPU |");
    println!("|---|---|---|---|---|---|---|");
    for (name, a, b) in [("apply", &r.run, &r.ip_up), ("teardown", &r.down, &r.ip_down)] {
        let per: Vec<String> = ratios(a, b).iter().map(|x| format!("{x:.2}")).collect();
        println!(
            "| {name} | {} | {} | {:.2} | {} | {} | {} |",
            secs(median(&walls(a))),
            secs(median(&walls(b))),
            median(&walls(a)).as_secs_f64() / median(&walls(b)).as_secs_f64(),
            per.join(" "),
            secs(median(&cpus_of(a))),
            secs(median(&cpus_of(b))),
        );
    }
    println!();
    println!(
        "dry-run against the live chain: {} (CPU {}); no-op re-run: {} (CPU {}); peak memory: run {:.1} MB, dry-run {:.1} MB, no-op {:.1} MB, down {:.1} MB",
        secs(median(&walls(&r.dry))),
        secs(median(&cpus_of(&r.dry))),
        secs(median(&walls(&r.noop))),
        secs(median(&cpus_of(&r.noop))),
        peak(&r.run),
        peak(&r.dry),
        peak(&r.noop),
        peak(&r.down),
    );
    println!();
}

fn print_summary(results: &[Result]) {
    println!("## Summary");
    println!();
    println!("| N | apply: netscript | apply: iproute2 | apply ratio | teardown: netscript | teardown: iproute2 | teardown ratio | dry-run (live) | no-op re-run | no-op / apply | peak memory | apply per namespace |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        let apply = median(&walls(&r.run));
        println!(
            "| {} | {} | {} | {:.2} | {} | {} | {:.2} | {} | {} | {:.2} | {:.1} MB | {:.2} ms |",
            r.n,
            secs(apply),
            secs(median(&walls(&r.ip_up))),
            median_f(&ratios(&r.run, &r.ip_up)),
            secs(median(&walls(&r.down))),
            secs(median(&walls(&r.ip_down))),
            median_f(&ratios(&r.down, &r.ip_down)),
            secs(median(&walls(&r.dry))),
            secs(median(&walls(&r.noop))),
            median(&walls(&r.noop)).as_secs_f64() / apply.as_secs_f64(),
            [&r.run, &r.dry, &r.noop, &r.down].iter().map(|s| peak(s)).fold(0.0, f64::max),
            apply.as_secs_f64() * 1000.0 / r.n as f64,
        );
    }
    println!();
    println!("Ratios are medians of the per-pair ratios netscript / iproute2 (wall time). Peak memory is the largest");
    println!("maximum resident set of any netscript child (wait4 rusage). Load average at the end: {}", loadavg());
}

