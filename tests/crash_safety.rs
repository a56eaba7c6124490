//! Crash safety against the real kernel, each test in its own sandbox: SIGKILL at many
//! points of a run then `netscript recover`, kills during recover, concurrent runs and
//! the host lock, SIGINT/SIGTERM/SIGHUP mid-apply, damaged journal and state files.
//! The oracle is the sandbox dump (iproute2/tc JSON of every namespace, `ip netns list`).
//!
//! Kill points come from the test-only hook `NETSCRIPT_TEST_KILL_AFTER_RECORDS=N` (the
//! process SIGKILLs itself once its N-th journal record is durable); slow runs from
//! `NETSCRIPT_TEST_DELAY_PER_OP_MS` (see `src/run/journal.rs`). Killed runs apply one
//! operation at a time (`NETSCRIPT_TEST_SERIAL_OPS`, `src/exec/fault.rs`), so that record N
//! is the same record on every run: the seeded kill points are the same points every
//! time (`kill_points_are_the_same_records_on_every_run`). The signal tests keep the
//! executor's concurrency.

mod support;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{assert_same_dump, Run, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_netscript");
const KILL: &str = "NETSCRIPT_TEST_KILL_AFTER_RECORDS";
const DELAY: &str = "NETSCRIPT_TEST_DELAY_PER_OP_MS";
const SERIAL: &str = "NETSCRIPT_TEST_SERIAL_OPS";
const FAIL: &str = "NETSCRIPT_FAULT_AFTER_OPS";

/// ≥ 30 operations over five namespaces, one of which exists before the run (so undos
/// must remove single objects from a namespace that stays, not only whole namespaces).
const BIG: &str = "
table alt = 100
for i in 0..3 <
  netns kc{i} < veth a{i} <-> kc{i+1}.b{i} < addr 10.61.{i}.1/24 > >
  netns kc{i+1} < link b{i} < addr 10.61.{i}.2/24 >; forward >
>
netns kc0 <
  route 10.61.9.0/24 via 10.61.0.2
  route default via 10.61.0.2 table alt
  rule from 10.61.0.100 lookup alt
  link a0
    shape 1mbit burst 10kb latency 70ms
>
netns kc3 <
  route default via 10.61.2.1
  link b2
    htb default 20 <
      class 1 rate 10mbit <
        class 10 rate 8mbit ceil 10mbit prio 0
        class 20 rate 2mbit ceil 10mbit prio 1
      >
      filter proto tcp sport 80 -> 10
    >
>
netns kp <
  link br0 < addr 10.62.0.1/24 >
  veth p0 <-> kc0.q0 < addr 10.62.1.1/24 >
  route 10.62.5.0/24 via 10.62.0.9
  rule from 10.62.0.100 lookup alt
  link br0
    shape 2mbit burst 10kb latency 50ms
>
";

/// The namespace BIG expects to exist already.
const PRE: &str = "ip netns add kp && ip -n kp link set lo up && ip -n kp link add br0 type bridge && ip -n kp link set br0 up && ip -n kp addr add 10.62.9.1/24 dev br0";

/// A sandbox holding `PRE`'s objects, with `BIG` written to `/run/big.ns` (its path).
fn big_sandbox() -> (Sandbox, String) {
    let sb = Sandbox::new();
    sb.sh(PRE).ok();
    let script = sb.write_script("big.ns", BIG);
    (sb, script)
}

fn env_args<'a>(env: &'a [(&str, String)], args: &'a [&str]) -> Vec<String> {
    let mut v: Vec<String> = env.iter().map(|(k, val)| format!("{k}={val}")).collect();
    v.push(BIN.to_string());
    v.extend(args.iter().map(|a| a.to_string()));
    v
}

/// netscript inside the sandbox with extra environment variables, one operation at a
/// time (deterministic journals: see the module documentation).
fn netscript_env(sb: &Sandbox, env: &[(&str, String)], args: &[&str]) -> Run {
    let mut env = env.to_vec();
    env.push((SERIAL, "1".into()));
    let v = env_args(&env, args);
    let v: Vec<&str> = v.iter().map(String::as_str).collect();
    sb.run("env", &v)
}

/// netscript started inside the sandbox, not waited for. `nsenter` and `env` exec, so
/// the child's pid is netscript's.
fn spawn(sb: &Sandbox, env: &[(&str, String)], args: &[&str]) -> Child {
    Command::new("nsenter")
        .args(["-t", &sb.pid().to_string(), "-n", "-m", "--", "env"])
        .args(env_args(env, args))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> Run {
    Run::from_child(child)
}

fn journals(sb: &Sandbox) -> Vec<String> {
    sb.sh("ls /run/netscript/journal 2>/dev/null || true").ok().lines().map(str::to_string).collect()
}

fn journal_lines(sb: &Sandbox) -> usize {
    sb.sh("cat /run/netscript/journal/*.journal 2>/dev/null | wc -l").ok().trim().parse().unwrap()
}

fn state_files(sb: &Sandbox) -> Vec<String> {
    sb.sh("ls /run/netscript/state 2>/dev/null || true").ok().lines().map(str::to_string).collect()
}

fn op_count(sb: &Sandbox, script: &str) -> usize {
    let json = sb.netscript(&["plan", "--format", "json", script]).ok();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["operations"].as_array().unwrap().len()
}

/// `count` distinct kill points in `1..=max`, from a fixed seed (xorshift64).
fn kill_points(seed: u64, max: usize, count: usize) -> Vec<usize> {
    assert!(max >= count, "only {max} kill points for {count}");
    let mut x = seed;
    let mut points = std::collections::BTreeSet::new();
    while points.len() < count {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        points.insert(1 + (x % max as u64) as usize);
    }
    points.into_iter().collect()
}

fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}


fn killed(run: &Run) -> bool {
    run.code.is_none()
}

#[test]
fn sigkill_at_fifty_points_then_recover_restores_the_dump() {
    let (sb, script) = big_sandbox();
    let ops = op_count(&sb, &script);
    assert!(ops >= 30, "the kill test needs at least 30 operations, the script has {ops}");
    let before = sb.dump();
    let before_netns = sb.sh("ip netns list").ok();
    // Records of a full run before its commit: one `started` and one `done` per op.
    let points = kill_points(0x5eed_c0ffee, 2 * ops, 50);
    let mut half_done = 0;
    for &k in &points {
        let run = netscript_env(&sb, &[(KILL, k.to_string())], &["run", &script]);
        assert!(killed(&run), "kill point {k}: the run was not killed ({:?})\n{}", run.code, run.stderr);
        assert_eq!(journals(&sb).len(), 1, "kill point {k}: one journal expected");
        // A kill inside namespace creation can leave /run/netns/NAME unmounted, which the
        // oracle cannot enter (as after a killed `ip netns add`): the namespace list
        // tells a changed host first.
        if sb.sh("ip netns list").ok() != before_netns || sb.dump() != before {
            half_done += 1;
        }
        let recover = sb.netscript(&["recover"]);
        assert!(recover.success, "kill point {k}: recover failed\n{}", recover.stderr);
        assert!(recover.stderr.contains("rolled back"), "kill point {k}: {}", recover.stderr);
        assert_same_dump(&before, &sb.dump(), &format!("kill point {k} of {}, after recover", 2 * ops));
        assert!(journals(&sb).is_empty(), "kill point {k}: the journal is still there");
        assert!(state_files(&sb).is_empty(), "kill point {k}: an uncommitted run left a state record");
    }
    // The kills did cut runs half-way (else the test proves nothing).
    assert!(half_done >= 45, "only {half_done} of {} kill points left the host changed", points.len());
    // After all that, the script still applies and goes cleanly.
    sb.netscript(&["run", &script]).ok();
    sb.netscript(&["down", &script]).ok();
    assert_same_dump(&before, &sb.dump(), "run + down after the kill series");
}

#[test]
fn unfinished_journal_blocks_run_and_down_until_recover() {
    let (sb, script) = big_sandbox();
    let before = sb.dump();
    assert!(killed(&netscript_env(&sb, &[(KILL, "20".into())], &["run", &script])));
    let half = sb.dump();
    assert_ne!(half, before);
    for args in [vec!["run", script.as_str()], vec!["down", script.as_str()]] {
        let r = sb.netscript(&args);
        assert_eq!(r.code, Some(3), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("netscript recover"), "{args:?} must say to recover: {}", r.stderr);
        assert_eq!(sb.dump(), half, "{args:?} changed the host while a journal was pending");
    }
    let r = sb.netscript(&["recover"]);
    assert!(r.success, "{}", r.stderr);
    assert_same_dump(&before, &sb.dump(), "after recover");
    let again = sb.netscript(&["recover"]);
    assert!(again.success && again.stderr.contains("nothing to recover"), "recover is idempotent: {}", again.stderr);
}

#[test]
fn sigkill_during_recover_then_recover_again() {
    let (sb, script) = big_sandbox();
    let ops = op_count(&sb, &script);
    let before = sb.dump();
    // Kill the run late (many ops to undo), then recover killed after j undone records.
    for (k, j) in [(2 * ops - 1, 1), (2 * ops - 3, 3), (2 * ops, 5), (40, 2), (2 * ops - 2, 4), (20, 1)] {
        assert!(killed(&netscript_env(&sb, &[(KILL, k.to_string())], &["run", &script])), "run kill {k}");
        let r = netscript_env(&sb, &[(KILL, j.to_string())], &["recover"]);
        assert!(killed(&r), "recover was not killed at record {j}: {}", r.stderr);
        assert_eq!(journals(&sb).len(), 1, "the journal stays after a killed recover");
        let r = sb.netscript(&["recover"]);
        assert!(r.success, "second recover (run kill {k}, recover kill {j}): {}", r.stderr);
        assert_same_dump(&before, &sb.dump(), &format!("run killed at {k}, recover killed at {j}, recovered again"));
        assert!(journals(&sb).is_empty());
    }
}

#[test]
fn sigkill_right_after_the_commit_point_rolls_forward() {
    let (sb, script) = big_sandbox();
    let ops = op_count(&sb, &script);
    let before = sb.dump();
    sb.netscript(&["run", &script]).ok();
    let applied = support::without_macs(&sb.dump());
    sb.netscript(&["down", &script]).ok();
    assert_same_dump(&before, &sb.dump(), "down");
    // Record 2·ops + 1 is the commit record.
    assert!(killed(&netscript_env(&sb, &[(KILL, (2 * ops + 1).to_string())], &["run", &script])));
    let r = sb.netscript(&["recover"]);
    assert!(r.success && r.stderr.contains("had committed"), "{}", r.stderr);
    assert_same_dump(&applied, &support::without_macs(&sb.dump()), "a committed run is kept");
    sb.assert_up_to_date(&script);
    sb.netscript(&["down", &script]).ok();
    assert_same_dump(&before, &sb.dump(), "down after the rolled-forward run");
}

const SMALL_A: &str = "netns ca1 < veth x1 <-> ca2.y1 < addr 10.71.0.1/24 > >\nnetns ca2 < link y1 < addr 10.71.0.2/24 >; route 10.71.9.0/24 via 10.71.0.1 >\n";
const SMALL_B: &str = "netns cb1 < veth x2 <-> cb2.y2 < addr 10.72.0.1/24 > >\nnetns cb2 < link y2 < addr 10.72.0.2/24 >; rule from 10.72.0.9 table 5 >\n";

#[test]
fn two_concurrent_runs_both_end_correct_and_the_lock_says_who_holds_it() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let a = sb.write_script("a.ns", SMALL_A);
    let b = sb.write_script("b.ns", SMALL_B);
    // Separately: what each script alone makes.
    sb.netscript(&["run", &a]).ok();
    let only_a = support::without_macs(&sb.dump());
    sb.netscript(&["down", &a]).ok();
    // A runs slowly; B starts while A holds the lock.
    let slow = spawn(&sb, &[(DELAY, "150".into())], &["run", &a]);
    wait_until("A's journal", Duration::from_secs(10), || !journals(&sb).is_empty());
    let busy = sb.netscript(&["run", "--wait", "0", &b]);
    assert_eq!(busy.code, Some(3), "{}", busy.stderr);
    assert!(busy.stderr.contains("holds the host lock") && busy.stderr.contains(&format!("pid {}", slow.id())) && busy.stderr.contains("a.ns"), "{}", busy.stderr);
    let second = sb.netscript(&["run", "--wait", "60s", &b]);
    let first = finish(slow);
    assert!(first.success, "A: {}", first.stderr);
    assert!(second.success, "B: {}", second.stderr);
    assert!(second.stderr.contains("waiting for the host lock") && second.stderr.contains("a.ns"), "B says what it waits for: {}", second.stderr);
    assert_eq!(state_files(&sb).len(), 2, "both runs are recorded");
    assert!(journals(&sb).is_empty());
    // Each run's record removes exactly its own objects.
    sb.netscript(&["down", &b]).ok();
    assert_same_dump(&only_a, &support::without_macs(&sb.dump()), "after down of B only A's objects remain");
    sb.netscript(&["down", &a]).ok();
    assert_same_dump(&before, &sb.dump(), "after down of both");
}

#[test]
fn a_lock_left_by_a_killed_process_does_not_block() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let a = sb.write_script("a.ns", SMALL_A);
    let mut slow = spawn(&sb, &[(DELAY, "300".into())], &["run", &a]);
    wait_until("A's journal", Duration::from_secs(10), || journal_lines(&sb) >= 3);
    let pid = slow.id();
    slow.kill().unwrap();
    let _ = slow.wait();
    let lock = sb.sh("cat /run/netscript/lock").ok();
    assert!(lock.contains(&format!("pid {pid}")), "the lock file names its (dead) holder: {lock}");
    let r = sb.netscript(&["recover", "--wait", "0"]);
    assert!(r.success, "a dead holder's lock must not block: {}", r.stderr);
    assert!(!r.stderr.contains("waiting"), "{}", r.stderr);
    assert_same_dump(&before, &sb.dump(), "recovered after the kill");
}

fn signal_mid_apply(signal: nix::sys::signal::Signal, code: i32) {
    let (sb, script) = big_sandbox();
    let before = sb.dump();
    let child = spawn(&sb, &[(DELAY, "100".into())], &["run", &script]);
    wait_until("ten journal records", Duration::from_secs(20), || journal_lines(&sb) >= 10);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
    let run = finish(child);
    assert_eq!(run.code, Some(code), "{signal:?}: exit code\n{}", run.stderr);
    assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
    assert!(!run.stderr.contains("netscript::run::kernel_refused"), "{signal:?}: a signal is not a refusal\n{}", run.stderr);
    assert_same_dump(&before, &sb.dump(), &format!("after {signal:?}"));
    assert!(journals(&sb).is_empty(), "a complete rollback leaves no journal");
    assert!(state_files(&sb).is_empty());
}

#[test]
fn sigint_mid_apply_rolls_back_and_exits_130() {
    signal_mid_apply(nix::sys::signal::Signal::SIGINT, 130);
}

#[test]
fn sigterm_mid_apply_rolls_back_and_exits_143() {
    signal_mid_apply(nix::sys::signal::Signal::SIGTERM, 143);
}

#[test]
fn sighup_mid_apply_rolls_back_and_exits_129() {
    signal_mid_apply(nix::sys::signal::Signal::SIGHUP, 129);
}

#[test]
fn second_sigint_during_rollback_does_not_abort_it() {
    let (sb, script) = big_sandbox();
    let before = sb.dump();
    let child = spawn(&sb, &[(DELAY, "100".into())], &["run", &script]);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    wait_until("twenty journal records", Duration::from_secs(20), || journal_lines(&sb) >= 20);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    // Once the rollback has undone something, Ctrl-C again.
    wait_until("an undone record", Duration::from_secs(20), || sb.sh("grep -c undone /run/netscript/journal/*.journal || true").ok().trim().parse::<u32>().unwrap_or(0) >= 1);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let run = finish(child);
    assert_eq!(run.code, Some(130), "{}", run.stderr);
    assert!(run.stderr.contains("still rolling back, finishing it"), "{}", run.stderr);
    assert_same_dump(&before, &sb.dump(), "after two SIGINTs");
    assert!(journals(&sb).is_empty());
}

#[test]
fn truncated_last_journal_record_is_tolerated() {
    let (sb, script) = big_sandbox();
    let before = sb.dump();
    assert!(killed(&netscript_env(&sb, &[(KILL, "25".into())], &["run", &script])));
    // A power cut in the middle of writing the next record. (A redirection is not
    // globbed by sh: `>> DIR/*.journal` made a file named `*.journal`, a journal with a
    // cut header that recovery removes, and the torn record was never tested.)
    sb.sh("for f in /run/netscript/journal/*.journal; do printf '{\"rec\":\"started\",\"op\":31,\"acti' >> \"$f\"; done").ok();
    assert_eq!(journals(&sb).len(), 1);
    assert!(sb.sh("cat /run/netscript/journal/*.journal").ok().ends_with(",\"op\":31,\"acti"), "the torn record is the journal's last");
    // A recover killed after its first record: it cut the torn record off before
    // appending, so every line of the journal is a whole record.
    assert!(killed(&netscript_env(&sb, &[(KILL, "1".into())], &["recover"])));
    let text = sb.sh("cat /run/netscript/journal/*.journal").ok();
    assert!(text.ends_with('\n'), "{text}");
    for line in text.lines() {
        assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "a damaged line after recover cut the torn record: {line:?}\n{text}");
    }
    let r = sb.netscript(&["recover"]);
    assert!(r.success, "{}", r.stderr);
    assert_same_dump(&before, &sb.dump(), "after recovering a journal with a cut record");
    assert!(journals(&sb).is_empty());
}

#[test]
fn damaged_foreign_and_newer_journals_are_refused_and_kept() {
    let sb = Sandbox::new();
    let script = sb.write_script("a.ns", SMALL_A);
    let before = sb.dump();
    let header = r#"{"journal":"netscript-journal","format":1,"tx":"1-1","pid":1,"script":"/run/a.ns","started_unix":0}"#;
    let cases = [
        ("newer", header.replace("\"format\":1", "\"format\":99") + "\n", "newer netscript"),
        ("foreign", "PK\u{3}\u{4} not a journal\n".to_string(), "is not a netscript journal"),
        ("corrupt", format!("{header}\n{{\"rec\":\"started\",\"op\":0,\"action\":{{\"op\":\"create_netns\",\"ns\":\"ca1\"}},\"undo\":[]}}\n%%garbage%%\n{{\"rec\":\"done\",\"op\":0}}\n"), "damaged at line 3"),
    ];
    for (name, text, message) in cases {
        sb.sh("mkdir -p /run/netscript/journal").ok();
        let path = format!("/run/netscript/journal/1-{name}.journal");
        sb.write_script(&format!("netscript/journal/1-{name}.journal"), &text);
        let run = sb.netscript(&["run", &script]);
        assert_eq!(run.code, Some(3), "{name}: {}", run.stderr);
        assert!(run.stderr.contains("netscript recover"), "{name}: {}", run.stderr);
        let r = sb.netscript(&["recover"]);
        assert_eq!(r.code, Some(3), "{name}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{name}: expected {message:?} in\n{}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert_eq!(sb.sh(&format!("cat {path}")).ok(), text, "{name}: the file must be left as it was");
        assert_eq!(sb.dump(), before, "{name}: nothing may change");
        let forget = sb.netscript(&["recover", "--forget"]);
        assert!(forget.success && forget.stderr.contains("forgot"), "{}", forget.stderr);
        assert!(journals(&sb).is_empty());
    }
    sb.netscript(&["run", &script]).ok();
    sb.netscript(&["down", &script]).ok();
}

#[test]
fn damaged_foreign_and_newer_state_files_are_refused_and_kept() {
    let sb = Sandbox::new();
    let a = sb.write_script("a.ns", SMALL_A);
    sb.netscript(&["run", &a]).ok();
    let applied = sb.dump();
    let files = state_files(&sb);
    assert_eq!(files.len(), 1);
    let path = format!("/run/netscript/state/{}", files[0]);
    let good = sb.sh(&format!("cat {path}")).ok();
    let foreign = good.replace("/run/a.ns", "/run/b.ns");
    assert_ne!(foreign, good);
    let newer = good.replacen("\"format\":2", "\"format\":42", 1);
    assert_ne!(newer, good);
    let cases = [
        ("corrupt", good[..good.len() / 2].to_string(), "is damaged"),
        ("foreign", foreign, "belongs to /run/b.ns"),
        ("newer", newer, "newer netscript"),
    ];
    for (name, text, message) in cases {
        sb.write_script(&format!("netscript/state/{}", files[0]), &text);
        for cmd in ["run", "down"] {
            let r = sb.netscript(&[cmd, &a]);
            assert_eq!(r.code, Some(3), "{name} {cmd}: {}", r.stderr);
            assert!(r.stderr.contains(message), "{name} {cmd}: expected {message:?} in\n{}", r.stderr);
            assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
            assert_eq!(sb.sh(&format!("cat {path}")).ok(), text, "{name} {cmd}: the state file must be left as it was");
            assert_eq!(sb.dump(), applied, "{name} {cmd}: nothing may change");
        }
    }
    sb.write_script(&format!("netscript/state/{}", files[0]), &good);
    sb.netscript(&["down", &a]).ok();
}

/// BIG edited: in the namespace that existed before, an address renumbered, a route with
/// a new gateway, a rule gone, a new rate; elsewhere the htb and a route gone.
fn big_edited() -> String {
    BIG.replace("link br0 < addr 10.62.0.1/24 >", "link br0 < addr 10.62.0.5/24 >")
        .replace("route 10.62.5.0/24 via 10.62.0.9", "route 10.62.5.0/24 via 10.62.0.8")
        .replace("  rule from 10.62.0.100 lookup alt\n", "")
        .replace("shape 2mbit burst 10kb latency 50ms", "shape 3mbit burst 10kb latency 50ms")
        .replace("  route 10.61.9.0/24 via 10.61.0.2\n", "")
}

#[test]
fn sigkill_at_points_of_an_edit_then_recover_ends_before_it() {
    let (sb, script) = big_sandbox();
    sb.netscript(&["run", &script]).ok();
    let applied = sb.dump();
    let record = sb.sh("cat /run/netscript/state/*.json").ok();
    sb.put(&script, &big_edited());
    let ops = op_count(&sb, &script);
    assert!(ops >= 6, "the edit has only {ops} operations");
    for &k in &kill_points(0xed17, 2 * ops, 8) {
        let run = netscript_env(&sb, &[(KILL, k.to_string())], &["run", &script]);
        assert!(killed(&run), "kill point {k}: the edit was not killed ({:?})\n{}", run.code, run.stderr);
        let recover = sb.netscript(&["recover"]);
        assert!(recover.success, "kill point {k}: recover failed\n{}", recover.stderr);
        assert_same_dump(&applied, &sb.dump(), &format!("kill point {k} of {} of the edit, after recover", 2 * ops));
        assert_eq!(sb.sh("cat /run/netscript/state/*.json").ok(), record, "kill point {k}: the record changed");
    }
    // The edit then applies, and equals the edited script run alone.
    sb.netscript(&["run", &script]).ok();
    sb.assert_up_to_date(&script);
    let (alone, alone_script) = big_sandbox();
    alone.put(&alone_script, &big_edited());
    alone.netscript(&["run", &alone_script]).ok();
    assert_same_dump(&support::without_macs(&alone.dump()), &support::without_macs(&sb.dump()), "the edit after the kills vs the edited script alone");
}

#[test]
fn sigkill_at_points_of_a_down_then_recover_then_down_again() {
    let (sb, script) = big_sandbox();
    let before = sb.dump();
    sb.netscript(&["run", &script]).ok();
    let applied = sb.dump();
    let json = sb.netscript(&["down", "--dry-run", "--format", "json", &script]).ok();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ops = v["operations"].as_array().unwrap().len();
    assert!(ops >= 4, "down has only {ops} operations inside its transaction");
    for &k in &kill_points(0xd0e5, 2 * ops, 6) {
        let down = netscript_env(&sb, &[(KILL, k.to_string())], &["down", &script]);
        assert!(killed(&down), "kill point {k}: down was not killed ({:?})\n{}", down.code, down.stderr);
        let again = sb.netscript(&["down", &script]);
        assert_eq!(again.code, Some(3), "kill point {k}: down must refuse until recover: {}", again.stderr);
        let recover = sb.netscript(&["recover"]);
        assert!(recover.success, "kill point {k}: recover failed\n{}", recover.stderr);
        assert_same_dump(&applied, &sb.dump(), &format!("kill point {k} of {} of down, after recover", 2 * ops));
    }
    sb.netscript(&["down", &script]).ok();
    assert_same_dump(&before, &sb.dump(), "down after the kills");
    assert!(state_files(&sb).is_empty());
}

/// The records of the (one) pending journal: (record type, operation).
fn journal_records(sb: &Sandbox) -> Vec<(String, Option<u64>)> {
    let text = sb.sh("cat /run/netscript/journal/*.journal").ok();
    text.lines()
        .skip(1)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["rec"].as_str().unwrap().to_string(), v["op"].as_u64())
        })
        .collect()
}

/// A kill point names the same record on every run: BIG killed after its last record
/// before the commit, three times, leaves the same journal (types and operations, in
/// order) each time.
#[test]
fn kill_points_are_the_same_records_on_every_run() {
    let (sb, script) = big_sandbox();
    let ops = op_count(&sb, &script);
    let before = sb.dump();
    let mut seen = Vec::new();
    for _ in 0..3 {
        assert!(killed(&netscript_env(&sb, &[(KILL, (2 * ops).to_string())], &["run", &script])));
        seen.push(journal_records(&sb));
        sb.netscript(&["recover"]).ok();
        assert_same_dump(&before, &sb.dump(), "recovered");
    }
    assert_eq!(seen[0].len(), 2 * ops);
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "the journals differ between runs:\n{seen:?}");
}

/// The largest `j` in `lo..=hi` for which `pred(j)` holds, `pred` holding up to some point
/// and not after it (`pred(lo)` holds).
fn last_true(mut lo: usize, mut hi: usize, mut pred: impl FnMut(usize) -> bool) -> usize {
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if pred(mid) { lo = mid } else { hi = mid - 1 }
    }
    lo
}

/// SIGKILL between a refusal and the end of its rollback: BIG's operation two thirds in
/// is refused (the executor's fault point), the rollback starts, and the process is
/// killed after each of a dozen seeded records from the refusal's to the rollback's last;
/// `recover` finishes the rollback, and the dump is as before the run.
#[test]
fn sigkill_between_a_refusal_and_the_end_of_its_rollback_then_recover() {
    let (sb, script) = big_sandbox();
    let ops = op_count(&sb, &script);
    let before = sb.dump();
    let fault = (FAIL, (2 * ops / 3).to_string());
    // Whether a run killed after record j had seen the refusal (-v prints it right after
    // its record), and whether it was killed at all; the host is restored after each probe.
    let probe = |j: usize| -> (bool, bool) {
        let run = netscript_env(&sb, &[fault.clone(), (KILL, j.to_string())], &["-v", "run", &script]);
        let refused = run.stderr.lines().any(|l| l.starts_with("  ! ") && !l.starts_with("  ! could not undo"));
        if killed(&run) {
            sb.netscript(&["recover"]).ok();
        }
        (killed(&run), refused)
    };
    let last = last_true(1, 8 * ops, |j| probe(j).0);
    let first_after_refusal = 1 + last_true(1, last, |j| !probe(j).1);
    assert!(first_after_refusal < last, "the rollback has no records after the refusal ({first_after_refusal}..{last})");
    let mut points = kill_points(0xfa11, last - first_after_refusal + 1, 10.min(last - first_after_refusal + 1));
    points.iter_mut().for_each(|p| *p += first_after_refusal - 1);
    points.extend([first_after_refusal - 1, first_after_refusal, last]);
    for &k in &points {
        let run = netscript_env(&sb, &[fault.clone(), (KILL, k.to_string())], &["run", &script]);
        assert!(killed(&run), "kill point {k}: not killed\n{}", run.stderr);
        let recs = journal_records(&sb);
        assert!(k < first_after_refusal || recs.iter().any(|(r, _)| r == "failed"), "kill point {k}: the refusal is not in the journal: {recs:?}");
        let recover = sb.netscript(&["recover"]);
        assert!(recover.success && recover.stderr.contains("rolled back"), "kill point {k}: {}", recover.stderr);
        assert_same_dump(&before, &sb.dump(), &format!("killed after record {k} ({:?}), between the refusal (record {first_after_refusal}) and the rollback's end ({last})", recs.last()));
        assert!(journals(&sb).is_empty());
    }
}
