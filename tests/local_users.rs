//! What other local users and a hostile disk can do to netscript, in hermetic sandboxes
//! (tests/support: private network and mount namespaces, /run a private tmpfs).
//!
//! * An unprivileged user cannot hold the host lock (it was world-readable, and a
//!   read-only descriptor suffices for `flock`), nor read the records.
//! * A forged state record or journal cannot make netscript write a sysctl outside
//!   `net.` (a forged record made `down` write `kernel.hostname`).
//! * A full or read-only /run/netscript fails a run cleanly and leaves nothing that
//!   blocks the next one (a 0-byte journal did, until `recover`).

mod support;

use support::Sandbox;

const SCRIPT: &str = "netns a < link lo < up > ; sysctl net.ipv4.ip_forward = 1 >\n";

/// Runs a shell snippet as user `nobody` inside the sandbox.
fn as_nobody(sandbox: &Sandbox, script: &str) -> support::Run {
    sandbox.run("setpriv", &["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", script])
}

#[test]
fn an_unprivileged_user_cannot_hold_the_host_lock() {
    let sandbox = Sandbox::new();
    let script = sandbox.write_script("s.ns", SCRIPT);
    // The worst start: a lock file as older versions left it (0644, in a 0755 directory),
    // already opened and locked by `nobody`.
    sandbox.sh("touch /run/netscript/lock && chmod 644 /run/netscript/lock && chmod 755 /run/netscript").ok();
    sandbox
        .sh("setpriv --reuid=65534 --regid=65534 --clear-groups flock /run/netscript/lock sleep 60 >/dev/null 2>&1 & sleep 0.5")
        .ok();
    assert!(!as_nobody(&sandbox, "flock -n /run/netscript/lock true").success, "nobody's flock should still be held");
    let run = sandbox.netscript(&["--wait", "2s", "run", &script]);
    assert!(run.success, "root's run was blocked by nobody's lock: {run:?}");
    let modes = sandbox.sh("stat -c '%a %U' /run/netscript /run/netscript/lock /run/netscript/state/*.json").ok();
    assert_eq!(modes.lines().collect::<Vec<_>>()[..2], ["700 root", "600 root"], "{modes}");
    // Now nobody can neither open the lock nor read the records.
    let again = as_nobody(&sandbox, "flock -n /run/netscript/lock true");
    assert!(!again.success && again.stderr.contains("Permission denied"), "{again:?}");
    assert!(!as_nobody(&sandbox, "cat /run/netscript/state/*.json").success);
    let down = sandbox.netscript(&["--wait", "2s", "down", &script]);
    assert!(down.success, "{down:?}");
}

#[test]
fn a_run_directory_owned_by_another_user_is_refused() {
    let sandbox = Sandbox::new();
    let script = sandbox.write_script("s.ns", SCRIPT);
    sandbox.sh("chown 65534 /run/netscript").ok();
    let run = sandbox.netscript(&["run", &script]);
    assert_eq!(run.code, Some(3), "{run:?}");
    assert!(run.stderr.contains("owned by uid 65534"), "{run:?}");
    assert_eq!(sandbox.sh("ls /run/netns").ok(), "", "nothing may be created");
}

/// Runs netscript in the sandbox with a private UTS namespace too: should the executor
/// write `kernel.hostname` after all, it cannot rename the host running the tests.
fn netscript_private_uts(sandbox: &Sandbox, args: &[&str]) -> support::Run {
    let mut full = vec!["--uts", env!("CARGO_BIN_EXE_netscript")];
    full.extend_from_slice(args);
    sandbox.run("unshare", &full)
}

#[test]
fn a_forged_state_record_cannot_make_down_write_outside_net() {
    let sandbox = Sandbox::new();
    // A sysctl of the sandbox's own initial namespace: its undo restores the old value.
    let script = sandbox.write_script("s.ns", "host < sysctl net.ipv4.ip_forward = 1 >\n");
    sandbox.netscript(&["run", &script]).ok();
    // The record restores ip_forward on `down`: make it restore kernel.hostname instead.
    sandbox.sh("sed -i 's/\"net.ipv4.ip_forward\"/\"kernel.hostname\"/g' /run/netscript/state/*.json && grep -q kernel.hostname /run/netscript/state/*.json").ok();
    let down = netscript_private_uts(&sandbox, &["down", &script]);
    assert!(!down.success, "down wrote a forged sysctl: {down:?}");
    // Refused when the record is read (validated like a script), before the executor,
    // which refuses too (see the journal test below).
    assert!(down.stderr.contains("sysctl `kernel.hostname` is not one netscript sets"), "{down:?}");
}

#[test]
fn a_forged_journal_cannot_make_recover_write_outside_net() {
    let sandbox = Sandbox::new();
    sandbox.sh("mkdir -p /run/netscript/journal").ok();
    let journal = concat!(
        r#"{"journal":"netscript-journal","format":1,"tx":"1-1","pid":1,"script":null,"started_unix":0}"#,
        "\n",
        r#"{"rec":"started","op":0,"action":{"op":"set_sysctl","ns":"host","key":"net.ipv4.ip_forward","value":"1"},"undo":[{"op":"set_sysctl","ns":"host","key":"kernel/hostname","value":"forged"}]}"#,
        "\n"
    );
    sandbox.put("/run/netscript/journal/00000000000000000001-1.journal", journal);
    let recover = netscript_private_uts(&sandbox, &["recover"]);
    assert!(!recover.success, "recover wrote a forged sysctl: {recover:?}");
    assert!(recover.stderr.contains("refusing sysctl \"kernel/hostname\""), "{recover:?}");
}

#[test]
fn a_full_run_directory_fails_cleanly_and_blocks_nothing() {
    let sandbox = Sandbox::new();
    let script = sandbox.write_script("s.ns", SCRIPT);
    // One page: the lock file's holder line fills it, the journal's header finds no room.
    sandbox.sh("mount -t tmpfs -o size=4k,mode=700 tmpfs /run/netscript").ok();
    let full = sandbox.netscript(&["run", &script]);
    assert_eq!(full.code, Some(3), "{full:?}");
    assert!(full.stderr.contains("No space left on device"), "{full:?}");
    assert_eq!(sandbox.sh("ls /run/netns").ok(), "", "nothing may be created");
    let left = sandbox.sh("find /run/netscript -type f ! -name lock").ok();
    assert_eq!(left, "", "files left behind");
    sandbox.sh("mount -o remount,size=1m /run/netscript").ok();
    let run = sandbox.netscript(&["run", &script]);
    assert!(run.success, "the next run was blocked: {run:?}");
}

#[test]
fn an_empty_journal_blocks_nothing() {
    let sandbox = Sandbox::new();
    let script = sandbox.write_script("s.ns", SCRIPT);
    // What a full disk left before: a journal with no header, or with only its header.
    sandbox
        .sh(concat!(
            "mkdir -p /run/netscript/journal && : > /run/netscript/journal/00000000000000000001-1.journal && ",
            "printf '%s\\n' '{\"journal\":\"netscript-journal\",\"format\":1,\"tx\":\"2-1\",\"pid\":1,\"script\":null,\"started_unix\":0}' ",
            "> /run/netscript/journal/00000000000000000002-1.journal"
        ))
        .ok();
    let run = sandbox.netscript(&["run", &script]);
    assert!(run.success, "an empty journal blocked the run: {run:?}");
    assert_eq!(sandbox.sh("ls /run/netscript/journal").ok(), "");
}

#[test]
fn a_read_only_run_directory_fails_cleanly() {
    let sandbox = Sandbox::new();
    let script = sandbox.write_script("s.ns", SCRIPT);
    sandbox.sh("mount -t tmpfs -o mode=700 tmpfs /run/netscript && mount -o remount,ro /run/netscript").ok();
    let ro = sandbox.netscript(&["run", &script]);
    assert_eq!(ro.code, Some(3), "{ro:?}");
    assert!(ro.stderr.contains("Read-only file system"), "{ro:?}");
    assert_eq!(sandbox.sh("ls /run/netns").ok(), "", "nothing may be created");
    sandbox.sh("mount -o remount,rw /run/netscript").ok();
    assert!(sandbox.netscript(&["run", &script]).success);
}

#[test]
fn a_journal_that_is_a_fifo_does_not_hang_recover_or_run() {
    let sandbox = Sandbox::new();
    let script = sandbox.write_script("s.ns", SCRIPT);
    sandbox.sh("mkdir -p /run/netscript/journal && mkfifo /run/netscript/journal/00000000000000000001-1.journal").ok();
    let started = std::time::Instant::now();
    let run = sandbox.netscript(&["run", &script]);
    assert!(!run.success && run.stderr.contains("FIFO"), "{run:?}");
    let recover = sandbox.netscript(&["recover"]);
    assert!(!recover.success && recover.stderr.contains("FIFO"), "{recover:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
