//! The planner, again, on the states the kernel tests met: each file of
//! `tests/plan_corpus/` holds what one plan of a kernel test was made from (the desired
//! state, the observed state, the records; captured by `scripts/capture-plans.sh`), and
//! its plan here must read as its golden file (`tests/plan_corpus/plans/`). Pure and
//! fast: mutation testing of the planner runs it, and a change of the planner's
//! behaviour on any of these states shows here without a kernel.
//!
//! What it does not say: that a plan is right. The kernel test that met the state says
//! that (the run converged, or was refused, as the test asserts); the golden says only
//! that the planner still plans what it planned then. After a change of the planner that
//! is meant, review the diffs and accept them (`INSTA_UPDATE=always cargo test --test
//! plan_corpus`), or capture the corpus anew.

use netscript::plan::{self, describe, Plan};
#[path = "support/captured.rs"]
mod captured;

use std::fmt::Write;
use std::path::Path;

/// The plan in the words of `netscript plan`, each undo under its operation, and a
/// digest of everything the plan holds (`{:?}`: every field of every action), so that a
/// change of a field the words do not show still shows. `NETSCRIPT_CORPUS_FULL=1` renders
/// the fields themselves, to see which changed.
fn rendered(result: &Result<Plan, Vec<netscript::diagnostic::Diagnostic>>) -> String {
    let mut out = String::new();
    match result {
        Ok(plan) => {
            for (i, op) in plan.ops.iter().enumerate() {
                let removes = op.removes.map(|r| format!(" (removes record entry {r})")).unwrap_or_default();
                writeln!(out, "{i}: {} after {:?}{removes}", describe(&op.action), op.deps).unwrap();
                for u in &op.undo {
                    writeln!(out, "   undo: {}", describe(u)).unwrap();
                }
            }
            if !plan.drop_netns.is_empty() {
                writeln!(out, "drop netns: {:?}", plan.drop_netns).unwrap();
            }
            for l in &plan.drop_links {
                writeln!(out, "drop link: {}", describe(l)).unwrap();
            }
            if !plan.forget.is_empty() {
                writeln!(out, "forget record entries: {:?}", plan.forget).unwrap();
            }
            for h in &plan.handover {
                writeln!(out, "hand over entry {} to {} entry {}", h.entry, h.script, h.their_entry).unwrap();
            }
            if out.is_empty() {
                out.push_str("nothing to do\n");
            }
            let fields = format!("{plan:?}");
            if std::env::var_os("NETSCRIPT_CORPUS_FULL").is_some() {
                writeln!(out, "{plan:#?}").unwrap();
            } else {
                writeln!(out, "fields: {}", &sha256_hex(fields.as_bytes())[..16]).unwrap();
            }
        }
        Err(diagnostics) => {
            for d in diagnostics {
                writeln!(out, "{:?} {}: {}", d.severity, d.code, d.message).unwrap();
                if let Some(help) = &d.help {
                    writeln!(out, "   help: {help}").unwrap();
                }
            }
        }
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_planner_plans_on_the_captured_states_what_it_planned_then() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plan_corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("tests/plan_corpus").filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.to_str().is_some_and(|p| p.ends_with(".json.gz"))).collect();
    files.sort();
    assert!(files.len() >= 100, "the corpus has {} states; capture it with scripts/capture-plans.sh", files.len());
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir.join("plans"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        for file in &files {
            let inputs = captured::read(file);
            let result = plan::plan_owned(&inputs.desired, &inputs.observed, inputs.ownership());
            let name = file.file_name().unwrap().to_str().unwrap().trim_end_matches(".json.gz");
            insta::assert_snapshot!(name, rendered(&result));
        }
    });
}
