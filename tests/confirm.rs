//! `run --confirm`: kept only if confirmed in time, at the prompt or by `netscript
//! confirm`; rolled back otherwise — also when the waiting process is SIGKILLed (by its
//! watchdog, or by `netscript recover` when the watchdog is killed too). The oracle is
//! the ip/tc JSON dump of tests/support.

mod support;
use rexpect::reader::Options;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{assert_same_dump, Run, Sandbox};

const SCRIPT: &str = "netns cf-a < veth v0 <-> cf-b.v1 < addr 10.63.0.1/24 > >\nnetns cf-b < link v1 < addr 10.63.0.2/24 >; forward >\nhost < veth h0 <-> cf-a.h1 < addr 10.64.0.1/24 > >\nnetns cf-a < link h1 < addr 10.64.0.2/24 > >\n";

fn setup() -> (Sandbox, String, String) {
    let sb = Sandbox::new();
    let path = sb.write_script("cf.ns", SCRIPT);
    let before = sb.dump();
    (sb, path, before)
}

/// `netscript run --confirm DURATION FILE` in the background, in the sandbox.
fn spawn_run(sb: &Sandbox, duration: &str, path: &str) -> Child {
    Command::new("nsenter")
        .args(["-t", &sb.pid().to_string(), "-n", "-m", "--", env!("CARGO_BIN_EXE_netscript"), "run", "--confirm", duration, path])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The rendezvous of the waiting run, once it waits: its pid and the watchdog's.
fn waiting(sb: &Sandbox) -> (u32, u32) {
    let start = Instant::now();
    loop {
        let out = sb.sh("cat /run/netscript/confirm/*.json 2>/dev/null || true").ok();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&out) {
            return (v["pid"].as_u64().unwrap() as u32, v["watchdog_pid"].as_u64().unwrap() as u32);
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the run never waited for a confirmation");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn journals(sb: &Sandbox) -> usize {
    sb.sh("ls /run/netscript/journal 2>/dev/null | wc -l").ok().trim().parse().unwrap()
}

fn leftovers(sb: &Sandbox) -> String {
    sb.sh("ls /run/netscript/journal /run/netscript/confirm /run/netscript/state 2>/dev/null | grep -v '^/\\|^$' || true").ok()
}

fn gone(pid: u32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists() || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

#[test]
fn not_confirmed_within_one_second_is_rolled_back() {
    let (sb, path, before) = setup();
    let started = Instant::now();
    let run = sb.netscript(&["run", "--confirm", "1s", &path]);
    assert_eq!(run.code, Some(5), "{run:?}");
    assert!(started.elapsed() >= Duration::from_secs(1), "it did not wait");
    assert!(run.stderr.contains("waiting 1s") && run.stderr.contains("netscript confirm /run/cf.ns"), "{}", run.stderr);
    assert!(run.stderr.contains("not confirmed within 1s: rolled back, the system is as it was"), "{}", run.stderr);
    assert_same_dump(&before, &sb.dump(), "after an unconfirmed run");
    assert_eq!(leftovers(&sb), "", "journal, rendezvous or record left behind");
}

#[test]
fn confirmed_from_another_shell_is_kept() {
    let (sb, path, before) = setup();
    let child = spawn_run(&sb, "30s", &path);
    let (pid, _) = waiting(&sb);
    // While it waits: applied, not committed, and status says so.
    assert_ne!(sb.dump(), before, "nothing applied while waiting");
    let status = sb.netscript(&["status", "--format", "json"]).ok();
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["journals"][0]["pid"], pid, "{status:#}");
    assert!(status["journals"][0]["confirm_deadline_unix"].is_u64(), "{status:#}");
    assert_eq!(sb.sh("ls /run/netscript/state 2>/dev/null | wc -l").ok().trim(), "0", "recorded before the confirmation");
    let confirm = sb.netscript(&["confirm"]);
    assert_eq!(confirm.code, Some(0), "{confirm:?}");
    assert_eq!(confirm.stderr, "confirmed: the run of /run/cf.ns is kept\n");
    let run = Run::from_child(child);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stderr.contains("confirmed by `netscript confirm`") && run.stderr.contains("applied 12 operations"), "{}", run.stderr);
    // Kept and committed: recorded, a re-run has nothing to do, `down` restores.
    assert_eq!(leftovers(&sb).lines().count(), 1, "{}", leftovers(&sb));
    sb.assert_up_to_date(&path);
    sb.netscript(&["down", &path]).ok();
    assert_same_dump(&before, &sb.dump(), "after down of the confirmed run");
}

#[test]
fn rejected_from_another_shell_is_rolled_back_at_once() {
    let (sb, path, before) = setup();
    let started = Instant::now();
    let child = spawn_run(&sb, "60s", &path);
    waiting(&sb);
    // By name: the script's path, as `run` recorded it.
    let confirm = sb.netscript(&["confirm", "--reject", &path]);
    assert_eq!(confirm.code, Some(0), "{confirm:?}");
    let run = Run::from_child(child);
    assert_eq!(run.code, Some(5), "{run:?}");
    assert!(started.elapsed() < Duration::from_secs(30), "it waited for the deadline");
    assert_same_dump(&before, &sb.dump(), "after a rejected run");
    assert_eq!(leftovers(&sb), "");
    // Nothing waits now.
    let again = sb.netscript(&["confirm"]);
    assert_eq!(again.code, Some(3), "{again:?}");
    assert_eq!(again.stderr, "netscript: no run is waiting for a confirmation\n");
}

#[test]
fn sigkill_of_the_waiting_run_is_rolled_back_by_its_watchdog() {
    let (sb, path, before) = setup();
    let child = spawn_run(&sb, "60s", &path);
    let (pid, watchdog) = waiting(&sb);
    assert_ne!(sb.dump(), before);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    let run = Run::from_child(child);
    assert_eq!(run.code, None, "killed: {run:?}");
    // The watchdog saw the run die, and rolled it back (run's stderr is its stderr).
    let start = Instant::now();
    while !gone(watchdog) {
        assert!(start.elapsed() < Duration::from_secs(20), "the watchdog did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_same_dump(&before, &sb.dump(), "after the watchdog's rollback");
    assert_eq!(leftovers(&sb), "", "journal, rendezvous or record left behind");
}

#[test]
fn sigkill_of_the_run_and_its_watchdog_leaves_a_journal_that_recover_rolls_back() {
    let (sb, path, before) = setup();
    let child = spawn_run(&sb, "60s", &path);
    let (pid, watchdog) = waiting(&sb);
    let applied = sb.dump();
    assert_ne!(applied, before);
    for p in [watchdog, pid] {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(p as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    }
    let run = Run::from_child(child);
    assert_eq!(run.code, None, "killed: {run:?}");
    // No commit record was written: the journal is pending, the change in place, and
    // every other transaction refuses to start until it is recovered.
    assert_eq!(journals(&sb), 1);
    let text = sb.sh("cat /run/netscript/journal/*.journal").ok();
    assert!(!text.contains("\"rec\":\"commit\""), "a commit record before the confirmation:\n{text}");
    assert_same_dump(&applied, &sb.dump(), "nothing undone without recover");
    let refused = sb.netscript(&["run", &path]);
    assert_eq!(refused.code, Some(3), "{refused:?}");
    assert!(refused.stderr.contains("netscript recover"), "{}", refused.stderr);
    let recover = sb.netscript(&["recover"]);
    assert!(recover.success && recover.stderr.contains("rolled back the interrupted run of /run/cf.ns"), "{recover:?}");
    assert_same_dump(&before, &sb.dump(), "after recover");
    // The rendezvous of the dead run is not mistaken for a waiting one.
    let confirm = sb.netscript(&["confirm"]);
    assert_eq!(confirm.code, Some(3), "{confirm:?}");
}

#[test]
fn sigterm_while_waiting_rolls_back_at_once() {
    let (sb, path, before) = setup();
    let child = spawn_run(&sb, "60s", &path);
    let (pid, _) = waiting(&sb);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let run = Run::from_child(child);
    assert_eq!(run.code, Some(143), "{run:?}");
    assert_same_dump(&before, &sb.dump(), "after SIGTERM");
    assert_eq!(leftovers(&sb), "");
}

#[test]
fn answered_at_the_prompt_on_a_terminal() {
    let (sb, path, before) = setup();
    for (answer, code) in [("n", 5), ("y", 0)] {
        let mut command = Command::new("nsenter");
        command.args(["-t", &sb.pid().to_string(), "-n", "-m", "--", "env", "NO_COLOR=1", env!("CARGO_BIN_EXE_netscript"), "run", "--confirm", "60s", &path]);
        let mut p = rexpect::session::spawn_with_options(command, Options::new().timeout_ms(Some(20_000))).unwrap();
        p.exp_string("Keep this change? It is rolled back in 1m (at ").unwrap();
        p.exp_string("unless confirmed: [y/N] (or `netscript confirm /run/cf.ns` from another shell)").unwrap();
        p.send_line("maybe").unwrap();
        p.exp_string("answer y to keep the change, n to roll it back now:").unwrap();
        p.send_line(answer).unwrap();
        let rest = p.exp_eof().unwrap();
        let status = format!("{:?}", p.process().wait().unwrap());
        assert!(status.starts_with("Exited(") && status.ends_with(&format!(", {code})")), "{answer}: {status}\n{rest}");
        if answer == "n" {
            assert!(rest.contains("rejected: rolled back"), "{rest}");
            assert_same_dump(&before, &sb.dump(), "after n");
        } else {
            assert!(rest.contains("applied 12 operations"), "{rest}");
            sb.assert_up_to_date(&path);
        }
    }
    sb.netscript(&["down", &path]).ok();
    assert_same_dump(&before, &sb.dump(), "after down");
}
