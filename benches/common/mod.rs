//! What the benchmarks share (benches/firewall.rs; benches/chain.rs keeps its own copy):
//! the sandbox, timed children reaped with `wait4`, waiting for a quiet machine, medians.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const INSIDE: &str = "NETSCRIPT_BENCH_SANDBOXED";

/// Re-executes this program, once, under `unshare --net --mount --propagation private`
/// with a tmpfs on `/run` (everything it makes lives and dies inside), and exits with
/// its status; returns inside the sandbox. Must run as root.
pub fn sandbox(what: &str) {
    if std::env::var_os(INSIDE).is_some() {
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("the {what} benchmark must run as root (it works inside its own sandbox)");
        std::process::exit(1);
    }
    let status = Command::new("unshare")
        .args(["--net", "--mount", "--propagation", "private", "sh", "-c", "mount -t tmpfs tmpfs /run && exec \"$@\"", "sandbox"])
        .args(std::env::args_os())
        .env(INSIDE, "1")
        .status()
        .expect("cannot run unshare (util-linux)");
    std::process::exit(status.code().unwrap_or(1));
}

/// One timed child process: wall time, CPU time (user + system), peak resident memory.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub wall: Duration,
    pub cpu: Duration,
    pub maxrss_kb: i64,
}

/// Runs `program args` in `dir`, its output into `dir/LABEL.log`; panics unless it
/// exits 0.
// Reaped by wait4 below, which clippy does not see.
#[allow(clippy::zombie_processes)]
pub fn timed(dir: &Path, label: &str, program: &str, args: &[&str]) -> Sample {
    let log = dir.join(format!("{label}.log"));
    let out = std::fs::File::create(&log).expect("log file");
    let started = Instant::now();
    let child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it.
    let mut usage: nix::libc::rusage = unsafe { std::mem::zeroed() };
    // Reaped here, not through `Child`: wait4 gives the rusage of exactly this child.
    let r = unsafe { nix::libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(r, pid, "wait4 failed");
    if !(nix::libc::WIFEXITED(status) && nix::libc::WEXITSTATUS(status) == 0) {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        panic!("{label}: `{program} {}` failed (wait status {status:#x}):\n{text}", args.join(" "));
    }
    let tv = |t: nix::libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    Sample { wall, cpu: tv(usage.ru_utime) + tv(usage.ru_stime), maxrss_kb: usage.ru_maxrss }
}

pub fn run_sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-ec", cmd]).output().expect("sh");
    assert!(out.status.success(), "`{cmd}` failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether timed steps wait for a quiet machine (not in smoke tests).
pub static WAIT_FOR_QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Waits until the machine is quiet before a timed step, so that no step pays for the
/// kernel's background work left by the one before: at least 90 % of all CPU time idle
/// in three 50 ms windows in a row (from /proc/stat), after at least 200 ms; at most 30 s.
pub fn settle() {
    if !WAIT_FOR_QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let mut last = cpu_times();
    let mut quiet_windows = 0;
    while quiet_windows < 3 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
        let now = cpu_times();
        let (total, idle) = (now.0.saturating_sub(last.0), now.1.saturating_sub(last.1));
        last = now;
        quiet_windows = if total == 0 || idle * 10 >= total * 9 { quiet_windows + 1 } else { 0 };
    }
}

/// (all, idle + iowait) CPU time in clock ticks since boot, from /proc/stat.
fn cpu_times() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    (fields.iter().sum(), fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0))
}

pub fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2 }
}

pub fn median_f(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 }
}

pub fn walls(s: &[Sample]) -> Vec<Duration> {
    s.iter().map(|s| s.wall).collect()
}

pub fn cpus_of(s: &[Sample]) -> Vec<Duration> {
    s.iter().map(|s| s.cpu).collect()
}

/// Per-pair ratios a / b of wall time.
pub fn ratios(a: &[Sample], b: &[Sample]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a.wall.as_secs_f64() / b.wall.as_secs_f64()).collect()
}

pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// The largest peak resident set of the samples, in MB.
pub fn peak(s: &[Sample]) -> f64 {
    s.iter().map(|s| s.maxrss_kb).max().unwrap_or(0) as f64 / 1024.0
}

pub fn cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

pub fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default()
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}
