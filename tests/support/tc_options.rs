//! The shared shape of the finer tc option tests (tests/tc_options.rs, tests/tc_framing.rs):
//! the same qdiscs and classes made by `tc` in one sandbox and by netscript in another,
//! compared as every detail tc shows of namespace `a`'s devices `v0`, `v2`, `v4`, `v6`.
#![allow(dead_code)]

use crate::support::{self, Sandbox};

/// Every detail tc shows of the qdiscs and classes of namespace `a` (its JSON, and its
/// text, which alone has the peak rate), without the direct_packets_stat counter and the
/// reference count (which counts who holds the device, not the qdisc).
pub fn details(sb: &Sandbox) -> String {
    let mut out = String::new();
    for dev in ["v0", "v2", "v4", "v6"] {
        for what in ["qdisc", "class"] {
            out.push_str(&sb.run("tc", &["-n", "a", "-d", "-json", what, "show", "dev", dev]).ok());
            out.push('\n');
            out.push_str(&sb.run("tc", &["-n", "a", "-d", what, "show", "dev", dev]).ok());
        }
    }
    support::oracle::tc_details_without_counters(&out)
}

/// `script` run by netscript gives what `iproute2` gives, tc's view shows each of
/// `shown`, and a second run has nothing to do.
pub fn assert_parity(name: &str, script: &str, iproute2: &str, shown: &[&str]) {
    let reference = Sandbox::new();
    reference.sh(iproute2).ok();
    let ours = Sandbox::new();
    let path = ours.write_script(name, script);
    let run = ours.netscript(&["run", &path]);
    assert!(run.success, "run failed: {}", run.stderr);
    let (mine, theirs) = (details(&ours), details(&reference));
    assert_eq!(mine, theirs, "tc's details differ");
    for shown in shown {
        assert!(mine.contains(shown), "{shown} is in tc's view: {mine}");
    }
    assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()));
    ours.assert_up_to_date(&path);
}

/// After `script`'s run, the `hand_changes` (tc commands) take, a re-run puts back
/// `ops` objects, and tc's view is `iproute2`'s again.
pub fn assert_drift_put_back(name: &str, script: &str, iproute2: &str, hand_changes: &[&str], ops: usize) {
    let sb = Sandbox::new();
    let reference = Sandbox::new();
    reference.sh(iproute2).ok();
    let path = sb.write_script(name, script);
    sb.netscript(&["run", &path]).ok();
    for change in hand_changes {
        sb.sh(change).ok();
    }
    assert_ne!(details(&sb), details(&reference), "the hand changes took");
    assert_eq!(sb.op_count(&path), ops, "what to put back");
    let again = sb.netscript(&["run", &path]);
    assert!(again.success, "{}", again.stderr);
    assert_eq!(details(&sb), details(&reference));
    sb.assert_up_to_date(&path);
}

/// `export a` of `script`'s result holds each of `exported`, runs in a fresh sandbox to
/// the same tc view; `down` gives back the start.
pub fn assert_export_and_down(name: &str, script: &str, exported: &[&str]) {
    let sb = Sandbox::new();
    let before = sb.dump();
    let path = sb.write_script(name, script);
    sb.netscript(&["run", &path]).ok();
    let text = sb.netscript(&["export", "a"]).ok();
    for part in exported {
        assert!(text.contains(part), "{part} is exported: {text}");
    }
    let copy = Sandbox::new();
    let copy_path = copy.write_script("exported.ns", &format!("{text}\nnetns b\n"));
    let run = copy.netscript(&["run", &copy_path]);
    assert!(run.success, "the export runs: {}\n{text}", run.stderr);
    assert_eq!(details(&copy), details(&sb), "the export makes the same:\n{text}");
    copy.assert_up_to_date(&copy_path);
    sb.netscript(&["down", &path]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}
