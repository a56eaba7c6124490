//! The journal, record by record (issue 22): runs killed right after each of their
//! journal records (`NETSCRIPT_TEST_KILL_AFTER_RECORDS`), one point per record, so that
//! recovery reads a journal cut after every record of every type — `started`, `done`,
//! `failed`, `undone`, `commit`, `abort` — and the dump after `netscript recover` is
//! compared with what the record cut there means. Operations run one at a time
//! (`NETSCRIPT_TEST_SERIAL_OPS`), so that record N is the same on every run.
//!
//! What each cut must give is decided from outside the journal: from what the process
//! had printed before it died (`-v` prints a refusal after journaling it; the fault hook
//! prints when it acts), and from the operation count of the plan. A journal that lacks
//! a record (no `failed`, no `abort`) is then caught by what recovery does with it.
//!
//! And the journal's durability: under strace, every record is `fdatasync`ed before the
//! next netlink request leaves, the journal directory is `fsync`ed after the journal is
//! made and after it is removed, and a state record is synced and renamed into place.

mod support;
use std::collections::BTreeSet;
use support::{assert_same_dump, Run, Sandbox};

const KILL: &str = "NETSCRIPT_TEST_KILL_AFTER_RECORDS";
const CLASH: &str = "NETSCRIPT_FAULT_CLASH_AFTER_OPS";
const SERIAL: &str = "NETSCRIPT_TEST_SERIAL_OPS";
const FAIL_RECORD: &str = "NETSCRIPT_TEST_JOURNAL_FAIL_RECORD";

/// Objects that exist before the run: a veth pair in the sandbox's own namespace and a
/// namespace `jc` with another.
const PRE: &str = "
ip link add h0 type veth peer name h1; ip link set h0 up; ip link set h1 up
ip addr add 10.45.0.1/24 dev h0
ip netns add jc; ip -n jc link set lo up
ip link add j0 netns jc type veth peer name j1 netns jc; ip -n jc link set j0 up; ip -n jc link set j1 up
";

/// Changes to what exists (so that a skipped undo shows), in both namespaces.
const SCRIPT: &str = "
host <
  link h0 < addr 10.45.1.1/24; mtu 1400 >
  route 10.46.0.0/24 via 10.45.1.2
  sysctl net.ipv4.ip_default_ttl = 90
>
netns jc <
  link j0 < addr 10.55.1.1/24 >
  rule from 10.55.1.9 lookup 100
  route 10.56.0.0/24 via 10.55.1.2
>
";

fn sandbox() -> (Sandbox, String) {
    let sb = Sandbox::new();
    sb.sh(PRE).ok();
    let script = sb.write_script("jc.ns", SCRIPT);
    (sb, script)
}

fn env(pairs: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    pairs.to_vec()
}

fn killed(run: &Run) -> bool {
    run.code.is_none()
}

/// The records of the (one) pending journal, header left out: their `rec` fields.
fn records(sb: &Sandbox) -> Vec<String> {
    let text = sb.sh("cat /run/netscript/journal/*.journal").ok();
    text.lines()
        .skip(1)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["rec"].as_str().unwrap().to_string())
        .collect()
}

fn recover(sb: &Sandbox, what: &str) {
    let r = sb.netscript(&["recover"]);
    assert!(r.success, "{what}: recover failed\n{}", r.stderr);
    assert_eq!(sb.sh("ls /run/netscript/journal 2>/dev/null || true").ok(), "", "{what}: recover left the journal");
}

const FAULT_LINE: &str = "test fault: another program did operation";

/// Whether a `-v` run printed the kernel's refusal of one of its operations (`  ! …`,
/// printed right after the `failed` record is appended).
fn printed_refusal(stderr: &str) -> bool {
    stderr.lines().any(|l| l.starts_with("  ! ") && !l.starts_with("  ! could not undo"))
}

/// Another program makes the object of operation N just before netscript (the clash
/// fault): netscript's request is refused (EEXIST), a `failed` record says so, and the
/// rollback undoes the others. Killed after each record, then recovered: the other
/// program's object must survive whenever the refusal had been journaled (recovery must
/// not undo an operation the kernel refused: its undo would delete the other's object),
/// and everything netscript did must be undone.
#[test]
fn a_refused_run_killed_after_each_record_recovers_without_undoing_the_refusal() {
    let (sb, script) = sandbox();
    let before = sb.dump();
    let ops = sb.op_count(&script);
    assert!(ops >= 6, "only {ops} operations");
    // A clash in the middle: the first operation from there that is a creation.
    let (n, uncut) = (ops / 2..ops)
        .find_map(|n| {
            let run = sb.netscript_env(&env(&[(CLASH, n.to_string()), (SERIAL, "1".into())]), &["-v", "run", &script]);
            if run.success {
                // Not a creation: no clash, the run applied; undo it.
                sb.netscript(&["down", &script]).ok();
                return None;
            }
            Some((n, run))
        })
        .expect("no operation in the second half of the plan clashes");
    assert!(uncut.stderr.contains("EEXIST"), "{}", uncut.stderr);
    let made = uncut.stderr.lines().find(|l| l.contains(FAULT_LINE)).unwrap().to_string();
    let with_object = sb.dump();
    assert_ne!(with_object, before, "the other program's object is there after the refused run");
    assert!(support::remove_clash_by_hand(&sb, &made), "{made}");
    assert_same_dump(&before, &sb.dump(), "the uncut refused run, its clash object removed by hand");

    let mut kinds = BTreeSet::new();
    let mut j = 1;
    loop {
        let run = sb.netscript_env(&env(&[(CLASH, n.to_string()), (SERIAL, "1".into()), (KILL, j.to_string())]), &["-v", "run", &script]);
        if !killed(&run) {
            // Past the last record: the run ended on its own, as the uncut one did.
            assert_eq!(run.code, Some(3), "record {j}: {}", run.stderr);
            assert!(j > 2 * n, "the run ended after only {} records", j - 1);
            break;
        }
        let recs = records(&sb);
        assert_eq!(recs.len(), j, "killed after record {j}, the journal holds {recs:?}");
        kinds.insert(recs[j - 1].clone());
        // What recovery must give, from what the process printed before it died.
        let object_made = run.stderr.contains(FAULT_LINE);
        let refusal_journaled = printed_refusal(&run.stderr) || (object_made && recs[j - 1] == "failed");
        recover(&sb, &format!("killed after record {j} ({})", recs[j - 1]));
        let what = format!("killed after record {j} of the refused run ({}), recovered", recs[j - 1]);
        if object_made && refusal_journaled {
            assert_same_dump(&with_object, &sb.dump(), &format!("{what}: the other program's object must survive"));
            assert!(support::remove_clash_by_hand(&sb, &made));
        } else if object_made {
            // Killed between the clash and the refusal's record: recovery cannot know the
            // kernel refused, undoes the operation, and the object goes with it (the
            // documented limit: an unacknowledged operation is undone).
            sb.sh("true").ok();
        }
        assert_same_dump(&before, &sb.dump(), &what);
        j += 1;
    }
    for kind in ["started", "done", "failed", "undone"] {
        assert!(kinds.contains(kind), "no cut after a `{kind}` record (cut after: {kinds:?})");
    }
}

/// A run that succeeds, killed after each record: before its commit record recovery
/// rolls it back to the start; killed after the commit record (record 2·ops + 1: one
/// `started` and one `done` per operation, then `commit`) it rolls forward.
#[test]
fn a_successful_run_killed_after_each_record_rolls_back_or_forward_at_the_commit() {
    let (sb, script) = sandbox();
    let before = sb.dump();
    let ops = sb.op_count(&script);
    // Serially, as the killed runs: the record lists what was made in completion order.
    sb.netscript_env(&env(&[(SERIAL, "1".into())]), &["run", &script]).ok();
    let applied = sb.dump();
    let record = sb.sh("cat /run/netscript/state/*.json").ok();
    sb.netscript(&["down", &script]).ok();
    assert_same_dump(&before, &sb.dump(), "down");
    let commit = 2 * ops + 1;
    for j in 1..=commit {
        let run = sb.netscript_env(&env(&[(SERIAL, "1".into()), (KILL, j.to_string())]), &["run", &script]);
        assert!(killed(&run), "record {j} of {commit}: not killed\n{}", run.stderr);
        let recs = records(&sb);
        assert_eq!(recs.len(), j, "{recs:?}");
        recover(&sb, &format!("record {j}"));
        if j == commit {
            assert_eq!(recs[j - 1], "commit", "record 2·ops + 1 is the commit: {recs:?}");
            assert_same_dump(&applied, &sb.dump(), "killed after the commit record: rolled forward");
            assert_eq!(sb.sh("cat /run/netscript/state/*.json").ok(), record, "the rolled-forward record");
            sb.netscript(&["down", &script]).ok();
        }
        assert_same_dump(&before, &sb.dump(), &format!("killed after record {j} ({}) of {commit}", recs[j - 1]));
    }
}

/// The state record cannot be saved (its directory is a full tmpfs): the run writes
/// `commit`, then `abort`, and rolls back. Killed after each record (the space freed
/// before recovering): after `commit` alone recovery rolls forward; after `abort` and
/// anything later it rolls back.
#[test]
fn a_run_whose_record_cannot_be_saved_aborts_and_every_cut_recovers() {
    let (sb, script) = sandbox();
    let before = sb.dump();
    let ops = sb.op_count(&script);
    let commit = 2 * ops + 1;
    sb.sh("mkdir -p /run/netscript/state && mount -t tmpfs -o size=4k,mode=700 tmpfs /run/netscript/state").ok();
    let fill = "dd if=/dev/zero of=/run/netscript/state/fill bs=4k count=1 2>/dev/null || true";
    sb.sh(fill).ok();
    let uncut = sb.netscript_env(&env(&[(SERIAL, "1".into())]), &["run", &script]);
    assert_eq!(uncut.code, Some(3), "{}", uncut.stderr);
    assert!(uncut.stderr.contains("cannot record the run"), "{}", uncut.stderr);
    assert_same_dump(&before, &sb.dump(), "the run that could not save its record");
    let mut j = 1;
    loop {
        sb.sh(fill).ok();
        let run = sb.netscript_env(&env(&[(SERIAL, "1".into()), (KILL, j.to_string())]), &["run", &script]);
        if !killed(&run) {
            assert_eq!(run.code, Some(3), "record {j}: {}", run.stderr);
            assert!(j > commit + 1, "the run ended after {} records", j - 1);
            break;
        }
        let recs = records(&sb);
        assert_eq!(recs.len(), j, "{recs:?}");
        if j == commit + 1 {
            assert_eq!(recs[j - 1], "abort", "the record after the commit: {recs:?}");
        }
        sb.sh("rm -f /run/netscript/state/fill").ok();
        recover(&sb, &format!("record {j}"));
        if j == commit {
            assert_eq!(recs[j - 1], "commit", "{recs:?}");
            assert!(sb.sh("ls /run/netscript/state").ok().contains(".json"), "rolled forward: the record is saved");
            sb.netscript(&["down", &script]).ok();
        } else {
            assert!(!sb.sh("ls /run/netscript/state").ok().contains(".json"), "record {j}: an aborted run left a state record");
        }
        assert_same_dump(&before, &sb.dump(), &format!("killed after record {j} ({}), commit at {commit}", recs[j - 1]));
        j += 1;
    }
}

// ---------------------------------------------------------------------------------------
// Durability, seen from outside with strace.

/// One system call of the trace: (name, the descriptor's path as `strace -yy` shows it).
fn calls(trace: &str) -> Vec<(String, String, String)> {
    trace
        .lines()
        .filter_map(|line| {
            // `PID name(FD<path>, …) = R`, or a resumed call (skipped: its start is
            // listed where it began).
            let rest = line.split_once(' ')?.1.trim_start();
            if rest.starts_with("<...") || rest.starts_with("+++") || rest.starts_with("---") {
                return None;
            }
            let (name, args) = rest.split_once('(')?;
            let fd_path = args.split_once('<').and_then(|(_, p)| p.split_once('>')).map(|(p, _)| p.to_string()).unwrap_or_default();
            Some((name.to_string(), fd_path, line.to_string()))
        })
        .collect()
}

fn is_journal(path: &str) -> bool {
    path.contains("/run/netscript/journal/") && path.ends_with(".journal")
}

fn is_netlink_send(name: &str, path: &str) -> bool {
    (name == "sendto" || name == "sendmsg") && path.starts_with("NETLINK")
}

/// Runs netscript under strace inside the sandbox; returns the trace.
fn traced(sb: &Sandbox, args: &[&str], env_vars: &[(&str, String)]) -> (Run, String) {
    let mut v: Vec<String> = vec!["-f".into(), "-yy".into(), "-o".into(), "/run/trace".into(), "-e".into(), "trace=openat,write,fdatasync,fsync,sendto,sendmsg,unlink,unlinkat,rename,renameat,renameat2".into(), "env".into()];
    v.extend(env_vars.iter().map(|(k, val)| format!("{k}={val}")));
    v.push(env!("CARGO_BIN_EXE_netscript").into());
    v.extend(args.iter().map(|a| a.to_string()));
    let v: Vec<&str> = v.iter().map(String::as_str).collect();
    let run = sb.run("strace", &v);
    let trace = sb.sh("cat /run/trace").ok();
    (run, trace)
}

/// Every journal write is followed by an fdatasync of the journal before the next
/// netlink request; the journal directory is fsynced after the journal is created and
/// after it is removed; the state record is written to a temporary file, fsynced, renamed,
/// and its directory fsynced.
#[test]
fn every_journal_record_is_durable_before_the_next_request() {
    let (sb, script) = sandbox();
    // A refused run too: its `failed` and `undone` records.
    for (label, env_vars, code) in [("applied", vec![], 0), ("refused", vec![("NETSCRIPT_FAULT_AFTER_OPS", "4".to_string())], 3)] {
        let (run, trace) = traced(&sb, &["run", &script], &env_vars);
        assert_eq!(run.code, Some(code), "{label}: {}", run.stderr);
        let calls = calls(&trace);
        let mut unsynced: Option<String> = None;
        let mut journal_writes = 0;
        let mut sends = 0;
        let mut created = false;
        let mut dir_synced_after_create = false;
        let mut removed = false;
        let mut dir_synced_after_remove = false;
        for (name, path, line) in &calls {
            match name.as_str() {
                "write" if is_journal(path) => {
                    journal_writes += 1;
                    unsynced = Some(line.clone());
                }
                "fdatasync" | "fsync" if is_journal(path) => unsynced = None,
                "fsync" if path == "/run/netscript/journal" => {
                    if created && !removed && sends == 0 {
                        dir_synced_after_create = true;
                    }
                    if removed {
                        dir_synced_after_remove = true;
                    }
                }
                "openat" if line.contains("/run/netscript/journal/") && line.contains("O_CREAT") => created = true,
                "unlink" | "unlinkat" if line.contains(".journal") => removed = true,
                _ if is_netlink_send(name, path) => {
                    if let Some(write) = &unsynced {
                        panic!("{label}: a netlink request left before the journal record was synced:\n  {write}\n  {line}");
                    }
                    if created {
                        assert!(dir_synced_after_create, "{label}: a request left before the new journal's directory was synced:\n  {line}");
                        sends += 1;
                    }
                }
                _ => {}
            }
        }
        assert!(journal_writes >= 2 * 6, "{label}: only {journal_writes} journal writes traced (is strace seeing the run?)");
        assert!(sends >= 6, "{label}: only {sends} netlink requests after the journal was made");
        assert!(unsynced.is_none(), "{label}: the last journal record was never synced: {unsynced:?}");
        assert!(removed && dir_synced_after_remove, "{label}: the journal's removal was not followed by an fsync of its directory");
        if code == 0 {
            // The state record: temporary file written, fsynced, renamed, directory fsynced.
            let state: Vec<&(String, String, String)> = calls.iter().filter(|(_, p, l)| p.contains("/run/netscript/state") || l.contains("/run/netscript/state")).collect();
            let names: Vec<&str> = state.iter().map(|(n, ..)| n.as_str()).collect();
            let at = |n: &str| names.iter().position(|x| *x == n);
            let (w, f, r) = (at("write"), names.iter().rposition(|x| *x == "fsync"), at("rename").or(at("renameat")).or(at("renameat2")));
            assert!(w.is_some() && r.is_some(), "{label}: the state record was not written and renamed: {names:?}");
            let first_fsync = names.iter().position(|x| *x == "fsync");
            assert!(first_fsync.is_some_and(|i| i > w.unwrap() && i < r.unwrap()), "{label}: the state record was renamed before it was synced: {names:?}");
            assert!(f.is_some_and(|i| i > r.unwrap()), "{label}: the state directory was not synced after the rename: {names:?}");
            sb.netscript(&["down", &script]).ok();
        }
    }
}

/// A journal directory that cannot be listed (here: a file in its place) is an error for
/// `recover` and for a run, never "nothing to recover": an interrupted transaction could
/// be behind it. (A mutant reading every listing error as "no journals" lived until this.)
#[test]
fn a_journal_directory_that_cannot_be_listed_is_an_error() {
    let (sb, script) = sandbox();
    let before = sb.dump();
    sb.sh("mkdir -p /run/netscript && echo not-a-directory > /run/netscript/journal").ok();
    let r = sb.netscript(&["recover"]);
    assert!(!r.success && !r.stderr.contains("nothing to recover"), "{}", r.stderr);
    assert!(r.stderr.contains("/run/netscript/journal"), "the error names the directory: {}", r.stderr);
    let run = sb.netscript(&["run", &script]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert_same_dump(&before, &sb.dump(), "nothing may change");
}

// ---------------------------------------------------------------------------------------
// Journal write and removal errors (each test kills a mutant cargo-mutants found alive).

/// The journal's file system fills up in the middle of a run: the run stops, rolls back,
/// and says that it could not write the journal (not a bare failure).
#[test]
fn a_journal_that_fills_its_disk_mid_run_stops_the_run_and_says_so() {
    let (sb, _) = sandbox();
    // Forty rules: their records need more than the page the journal gets.
    let script = sb.write_script("many.ns", "netns jc <\n  for i in 0..40 < rule from 10.57.{i}.9 lookup 100 >\n>\n");
    let before = sb.dump();
    // Two pages, one filled: the journal's header and some records fit, not all of them.
    sb.sh("mkdir -p /run/netscript/journal && mount -t tmpfs -o size=8k,mode=700 tmpfs /run/netscript/journal").ok();
    sb.sh("dd if=/dev/zero of=/run/netscript/journal/fill bs=4k count=1 2>/dev/null").ok();
    let run = sb.netscript_env(&env(&[(SERIAL, "1".into())]), &["run", &script]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.stderr.contains("cannot write the journal, so the run was stopped"), "{}", run.stderr);
    assert_same_dump(&before, &sb.dump(), "a run stopped by a full journal");
}

/// Writing one record of a run's journal fails (the journal's test hook: `ENOSPC` once,
/// as on a file system full for a moment), at each record in turn, the last operation's
/// `done` included: each run stops, rolls back, says it could not write the journal, and
/// leaves neither a journal nor a record — never a commit with a record missing.
#[test]
fn a_journal_record_that_cannot_be_written_stops_the_run_and_rolls_back() {
    let (sb, script) = sandbox();
    let before = sb.dump();
    let ops = sb.op_count(&script);
    for n in 0..2 * ops {
        let run = sb.netscript_env(&env(&[(FAIL_RECORD, n.to_string()), (SERIAL, "1".into())]), &["run", &script]);
        assert_eq!(run.code, Some(3), "record {n} not written\n{}", run.stderr);
        assert!(run.stderr.contains("cannot write the journal, so the run was stopped"), "record {n} not written\n{}", run.stderr);
        assert_same_dump(&before, &sb.dump(), &format!("record {n} not written of {}", 2 * ops));
        assert!(sb.sh("ls /run/netscript/journal /run/netscript/state 2>/dev/null || true").ok().trim().lines().all(|l| l.is_empty() || l.ends_with(':')), "record {n} not written: a journal or a record left");
    }
}

/// `recover --forget` that cannot delete a journal (here a directory in its place) says
/// so, and leaves it.
#[test]
fn forget_that_cannot_delete_a_journal_fails() {
    let (sb, _) = sandbox();
    sb.sh("mkdir -p /run/netscript/journal/00000000000000000001-1.journal/x").ok();
    let r = sb.netscript(&["recover", "--forget"]);
    assert!(!r.success, "{}", r.stderr);
    assert!(sb.sh("test -d /run/netscript/journal/00000000000000000001-1.journal && echo there").ok().contains("there"));
}

/// A journal someone deleted while its run went on is not an error when the run ends and
/// removes it.
#[test]
fn a_journal_deleted_during_its_run_is_not_an_error_at_the_end() {
    let (sb, script) = sandbox();
    let mut child = std::process::Command::new("nsenter")
        .args(["-t", &sb.pid().to_string(), "-n", "-m", "--", "env", "NETSCRIPT_TEST_DELAY_PER_OP_MS=100", env!("CARGO_BIN_EXE_netscript"), "run", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while sb.sh("ls /run/netscript/journal 2>/dev/null || true").ok().is_empty() {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "no journal appeared");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    sb.sh("rm -f /run/netscript/journal/*.journal").ok();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("could not be deleted"), "{stderr}");
    sb.netscript(&["down", &script]).ok();
}
