//! `netscript export` run back: what a sandbox's namespace exports, run in a fresh
//! sandbox, makes the same state, and a re-run there has nothing to do.

use super::{Sandbox, without_macs};

impl Sandbox {
    /// Exports `ns`, checks the text holds each of `shown`, runs it (with `extra`, the
    /// namespaces it refers to) in a fresh sandbox and compares the whole dumps; returns
    /// the fresh sandbox, for further looks.
    pub fn assert_export_makes_the_same(&self, ns: &str, extra: &str, shown: &[&str]) -> Sandbox {
        let exported = self.netscript(&["export", ns]).ok();
        for text in shown {
            assert!(exported.contains(text), "the export lacks `{text}`:\n{exported}");
        }
        let copy = Sandbox::new();
        let path = copy.write_script("exported.ns", &format!("{exported}\n{extra}"));
        let run = copy.netscript(&["run", &path]);
        assert!(run.success, "the export runs: {}\n{exported}", run.stderr);
        assert_eq!(without_macs(&copy.dump()), without_macs(&self.dump()), "the export makes the same:\n{exported}");
        copy.assert_up_to_date(&path);
        copy
    }
}
