//! Crash campaigns: the test-only kill point of the run machinery (a SIGKILL after the
//! N-th journal record, `NETSCRIPT_TEST_KILL_AFTER_RECORDS`) driven over every record of
//! a run, each followed by `netscript recover`.

use super::{Sandbox, assert_same_dump};

/// The environment variable of the kill point (debug builds only).
pub const KILL: &str = "NETSCRIPT_TEST_KILL_AFTER_RECORDS";

/// The number of journal files left in the sandbox's run directory.
pub fn journals(sb: &Sandbox) -> usize {
    sb.sh("ls /run/netscript/journal 2>/dev/null | wc -l").ok().trim().parse().unwrap()
}

/// Kills a run of `script` after each of its journal records before the commit (two a
/// operation: intent and done) and recovers: `state` must give `before` again each time,
/// and no journal may be left. At least `min_changed` kill points must have left the
/// system half-changed before the recovery, or the campaign proves nothing.
pub fn kill_at_every_record(sb: &Sandbox, script: &str, before: &str, state: impl Fn(&Sandbox) -> String, min_changed: usize, what: &str) {
    let ops = sb.op_count(script);
    assert!(ops >= 1, "{what}: the run must have operations to kill");
    let mut changed = 0;
    for k in 1..=2 * ops {
        let run = sb.netscript_env(&[(KILL, k.to_string())], &["run", script]);
        assert!(run.code.is_none(), "{what}, kill point {k}: the run was not killed ({:?})\n{}", run.code, run.stderr);
        if state(sb) != before {
            changed += 1;
        }
        let recover = sb.netscript(&["recover"]);
        assert!(recover.success && recover.stderr.contains("rolled back"), "{what}, kill point {k}: {}", recover.stderr);
        assert_same_dump(before, &state(sb), &format!("{what}: killed after journal record {k} of {}, then recovered", 2 * ops));
        assert_eq!(journals(sb), 0, "{what}, kill point {k}: the journal is still there");
    }
    assert!(changed >= min_changed, "{what}: only {changed} of {} kill points changed anything (at least {min_changed} must)", 2 * ops);
}
