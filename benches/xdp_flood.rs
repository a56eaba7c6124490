//! XDP against nftables, dropping a UDP flood: one namespace floods another over a veth
//! with UDP to port 9; the receiver drops it with `xdp < drop proto udp dport 9 counter >`
//! in one round and with `firewall input < drop proto udp dport 9 counter >` in the next
//! (rounds interleaved). Per round: packets dropped (the rule's own counter: the XDP
//! program's map, read by `netscript show --stats`; nft's counter), the machine's busy
//! CPU time over the flood (all CPUs, from /proc/stat: the sender, the softirq work of
//! the drop, anything else running), and packets dropped per CPU second; then the ratio
//! XDP / nftables.
//!
//! ```text
//! sudo cargo bench --bench xdp_flood                  # 2 s floods, 3 rounds each
//! sudo cargo bench --bench xdp_flood -- --secs 5 --rounds 5
//! ```
//! Run by `cargo test --bench xdp_flood` it is a smoke test (0.2 s floods, one round each,
//! no waiting for a quiet machine): both filters drop what was sent.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

const NETSCRIPT: &str = env!("CARGO_BIN_EXE_netscript");
const PORT: u16 = 9;

struct Config {
    secs: f64,
    rounds: usize,
    smoke: bool,
}

fn config() -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = !args.iter().any(|a| a == "--bench");
    let mut c = if smoke { Config { secs: 0.2, rounds: 1, smoke } } else { Config { secs: 2.0, rounds: 3, smoke } };
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    if let Some(v) = value("--secs") {
        c.secs = v.parse().expect("--secs SECONDS");
    }
    if let Some(v) = value("--rounds") {
        c.rounds = v.parse().expect("--rounds N");
    }
    c
}

/// The two namespaces and the veth between them; the receiver drops the flood with XDP
/// or with its nftables input hook.
fn script(xdp: bool) -> String {
    let filter = if xdp {
        format!("  link f1 < addr 10.88.0.2/24\n    xdp < drop proto udp dport {PORT} counter >\n  >\n")
    } else {
        format!("  link f1 < addr 10.88.0.2/24 >\n  firewall input < drop proto udp dport {PORT} counter >\n")
    };
    format!("netns fla < veth f0 <-> flb.f1 < addr 10.88.0.1/24 > >\nnetns flb <\n{filter}>\n")
}

/// Busy and all CPU ticks of the whole machine since boot (/proc/stat).
fn busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    fields.iter().take(8).sum::<u64>() - idle
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { nix::libc::sysconf(nix::libc::_SC_CLK_TCK) }) as f64
}

/// Floods 10.88.0.2:9 from namespace `fla` for `secs`; returns the packets sent.
fn flood(secs: f64) -> u64 {
    std::thread::spawn(move || {
        let ns = std::fs::File::open("/run/netns/fla").expect("namespace fla");
        nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let socket = UdpSocket::bind("10.88.0.1:0").expect("bind");
        socket.connect(("10.88.0.2", PORT)).expect("connect");
        let payload = [0u8; 64];
        let until = Instant::now() + Duration::from_secs_f64(secs);
        let mut sent = 0u64;
        while Instant::now() < until {
            for _ in 0..256 {
                if socket.send(&payload).is_ok() {
                    sent += 1;
                }
            }
        }
        sent
    })
    .join()
    .expect("the sender")
}

/// The hits of the rule that drops the flood, as its filter counts them.
fn dropped(xdp: bool) -> u64 {
    if xdp {
        let show = run_sh(&format!("{NETSCRIPT} show --stats flb"));
        let line = show.lines().find(|l| l.contains(&format!("dport {PORT} counter"))).unwrap_or_else(|| panic!("no counter line:\n{show}"));
        line.split("# ").nth(1).and_then(|c| c.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{line}"))
    } else {
        let json = run_sh("ip netns exec flb nft -j list chain inet netscript input");
        let at = json.find("\"packets\": ").expect("nft counter") + "\"packets\": ".len();
        json[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    }
}

struct Round {
    sent: u64,
    dropped: u64,
    wall: f64,
    cpu: f64,
}

fn round(dir: &std::path::Path, xdp: bool, secs: f64) -> Round {
    std::fs::write(dir.join("flood.ns"), script(xdp)).expect("script");
    run_sh(&format!("cd {} && {NETSCRIPT} run flood.ns", dir.display()));
    // The neighbour resolved before the clock starts.
    run_sh("ip netns exec fla ping -c 1 -W 1 10.88.0.2 >/dev/null");
    settle();
    let (busy, started) = (busy_ticks(), Instant::now());
    let sent = flood(secs);
    let wall = started.elapsed().as_secs_f64();
    let cpu = (busy_ticks() - busy) as f64 / ticks_per_second();
    let dropped = dropped(xdp);
    run_sh(&format!("cd {} && {NETSCRIPT} down flood.ns", dir.display()));
    Round { sent, dropped, wall, cpu }
}

fn main() {
    let cfg = config();
    WAIT_FOR_QUIET.store(!cfg.smoke, std::sync::atomic::Ordering::Relaxed);
    sandbox("xdp flood");
    let dir = std::path::PathBuf::from("/run/netscript-bench-flood");
    std::fs::create_dir_all(&dir).expect("work dir");
    run_sh("ip link set lo up");
    println!("# XDP against nftables, dropping a UDP flood");
    println!();
    println!("{} s floods of 64-byte UDP to port {PORT} over a veth, {} rounds each, interleaved", cfg.secs, cfg.rounds);
    println!("machine: {} CPUs, kernel {}, load average at start {}", cpus(), kernel(), loadavg());
    println!();
    let mut per_cpu = [Vec::new(), Vec::new()];
    println!("| filter | sent | dropped | wall | busy CPU | dropped / s | dropped / CPU s |");
    println!("|---|---|---|---|---|---|---|");
    for _ in 0..cfg.rounds {
        for (i, xdp) in [true, false].into_iter().enumerate() {
            let r = round(&dir, xdp, cfg.secs);
            // Every packet sent is one the filter drops (nothing else goes to port 9).
            assert!(r.dropped * 10 >= r.sent * 9 && r.dropped <= r.sent, "{}: dropped {} of {} sent", if xdp { "xdp" } else { "nftables" }, r.dropped, r.sent);
            let rate = r.dropped as f64 / r.cpu.max(1e-3);
            per_cpu[i].push(rate);
            println!(
                "| {} | {} | {} | {:.2} s | {:.2} s | {:.0} | {:.0} |",
                if xdp { "xdp" } else { "nftables input" },
                r.sent,
                r.dropped,
                r.wall,
                r.cpu,
                r.dropped as f64 / r.wall,
                rate
            );
        }
    }
    println!();
    let (x, n) = (median_f(&per_cpu[0]), median_f(&per_cpu[1]));
    println!("packets dropped per CPU second (medians): xdp {x:.0}, nftables {n:.0}; xdp / nftables = {:.2}", x / n);
    if cfg.smoke {
        println!("(smoke run: figures mean nothing)");
    }
}
