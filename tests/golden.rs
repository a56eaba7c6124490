//! Golden files for the pure stages: parse trees and plans of every example.
//! Regenerate with `INSTA_UPDATE=always cargo test --test golden` and review the diff.

use netscript::check::{self, FsLoader};
use netscript::plan::{self, Observed};
use netscript::source::SourceMap;
use std::path::{Path, PathBuf};

fn examples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("examples")
        .expect("examples/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ns"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "expected the card, chain, htb and seed examples at least");
    files
}

fn name(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

#[test]
fn parse_trees() {
    for path in examples() {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut sources = SourceMap::new();
        let file = sources.add(path.display().to_string(), Some(&path), text.as_str());
        let script = netscript::syntax::parse(file, &text).unwrap_or_else(|d| panic!("{} does not parse: {d:?}", path.display()));
        insta::assert_json_snapshot!(format!("parse_{}", name(&path)), script);
    }
}

#[test]
fn plans() {
    for path in examples() {
        let mut sources = SourceMap::new();
        let checked = check::check_path(&mut sources, &path).unwrap();
        assert!(!checked.has_errors(), "{} has errors: {:?}", path.display(), checked.diagnostics);
        let plan = plan::plan(&checked.desired, &Observed::empty()).expect("examples plan");
        insta::assert_snapshot!(format!("plan_{}", name(&path)), plan::render_text(&plan, &checked.desired, &sources));
        insta::assert_snapshot!(format!("plan_json_{}", name(&path)), plan::render_json(&plan, &checked.desired, &sources));
        // The operation graph, transitively reduced.
        insta::assert_snapshot!(format!("plan_dot_{}", name(&path)), plan::render_dot(&plan, &checked.desired, &sources));
    }
}

#[test]
fn plan_order_is_topological_and_deterministic() {
    for path in examples() {
        let run = || {
            let mut sources = SourceMap::new();
            let text = std::fs::read_to_string(&path).unwrap();
            let file = sources.add(path.display().to_string(), Some(&path), text);
            let checked = check::check(&mut sources, file, &FsLoader);
            let plan = plan::plan(&checked.desired, &Observed::empty()).unwrap();
            plan::render_json(&plan, &checked.desired, &sources)
        };
        assert_eq!(run(), run(), "{}: two plans of one script differ", path.display());
        let mut sources = SourceMap::new();
        let checked = check::check_path(&mut sources, &path).unwrap();
        let plan = plan::plan(&checked.desired, &Observed::empty()).unwrap();
        for (i, op) in plan.ops.iter().enumerate() {
            assert!(op.deps.iter().all(|&d| d < i), "{}: op {i} depends on a later op", path.display());
        }
    }
}
