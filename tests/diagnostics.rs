//! Golden tests of the diagnostics: every script in `tests/diagnostics/*.ns` is checked
//! the way `netscript check` checks it (the real file system loader, so includes work;
//! then, when the check finds no error, the plan against an empty, offline kernel), and
//! the exact rendered text is compared with `tests/snapshots/diagnostics__<name>.snap`.
//!
//! Regenerate every golden file with one command (no cargo-insta needed):
//!
//!     INSTA_UPDATE=always cargo test --test diagnostics
//!
//! then READ the diff (`git diff tests/snapshots`) before committing. Without
//! `INSTA_UPDATE`, a changed output fails the test and insta leaves `.snap.new` files
//! next to the old ones (or run `cargo insta review` if you have cargo-insta).
//!
//! Besides the snapshots, without insta:
//! - every code declared in `src/check/codes.rs` (parsed from that file), the syntax
//!   codes and the planner codes `check` can report must occur in some output, so a
//!   new code without a corpus entry fails `every_code_has_a_corpus_entry`;
//! - a corpus file may carry `# expect: CODE[*N] ...` lines (codes without their
//!   `netscript::` prefix); then the output must hold exactly those diagnostics, none
//!   missing and none extra;
//! - every span lies inside its file, and miette could draw every label.

use netscript::check::{self, FsLoader, Loader};
use netscript::diagnostic::{render_all, Diagnostic, RenderOptions};
use netscript::plan::{self, Observed};
use netscript::source::SourceMap;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const CORPUS: &str = "tests/diagnostics";

/// Codes in `codes.rs` that no code path emits (see the report in the commit log):
/// kept here, explicitly, so that the coverage test stays meaningful. The test fails
/// if one of them starts to be emitted (then it needs a corpus entry, and to leave
/// this list) or is removed from codes.rs.
const NEVER_EMITTED: &[&str] = &[];

/// Codes outside codes.rs that the `check` command can report.
const OTHER_CODES: &[&str] = &[
    "netscript::syntax::unexpected",
    "netscript::syntax::unclosed_block",
    "netscript::syntax::number_too_large",
    "netscript::syntax::too_deep",
    "netscript::syntax::block_on_next_line",
    "netscript::syntax::byte_rate_unit",
    // Planner codes reachable with `Observed::empty()` (offline): `missing_interface`,
    // `kind_conflict` and `filter_conflict` need an observed kernel state and cannot
    // occur in `check`; tests/plan_conflicts.rs provokes them.
];

fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(CORPUS)
        .expect("run from the crate root (cargo does)")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ns"))
        .map(|p| Path::new(CORPUS).join(p.file_name().unwrap()))
        .collect();
    files.sort();
    assert!(files.len() >= 45, "the corpus holds {} scripts; it should hold at least 45", files.len());
    files
}

/// What checking one corpus file gives: the text `netscript check` prints, and every
/// diagnostic.
struct Outcome {
    rendered: String,
    diagnostics: Vec<Diagnostic>,
    sources: SourceMap,
}

/// The real file system loader, except that cycle detection's identities are made
/// relative to the crate root: `include_cycle` names them in its help text, and absolute
/// paths would make the golden files depend on where the crate is checked out.
struct RelativeFsLoader {
    root: PathBuf,
}

impl Loader for RelativeFsLoader {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        FsLoader.read(path)
    }
    fn canonical(&self, path: &Path) -> Option<PathBuf> {
        let full = FsLoader.canonical(path)?;
        Some(full.strip_prefix(&self.root).map(Path::to_path_buf).unwrap_or(full))
    }
}

fn run(path: &Path) -> Outcome {
    let text = std::fs::read_to_string(path).unwrap();
    let mut sources = SourceMap::new();
    let file = sources.add(path.display().to_string(), Some(path), text);
    let loader = RelativeFsLoader { root: std::fs::canonicalize(".").unwrap() };
    let checked = check::check(&mut sources, file, &loader);
    let plain = RenderOptions::plain();
    let mut rendered = render_all(&checked.diagnostics, &sources, plain);
    let mut diagnostics = checked.diagnostics.clone();
    if !checked.has_errors() {
        // As `netscript check` does: a script that checks must also plan.
        match plan::plan(&checked.desired, &Observed::empty()) {
            Ok(_) => rendered.push_str(&format!("{}: ok\n", path.display())),
            Err(plan_diagnostics) => {
                rendered.push_str(&render_all(&plan_diagnostics, &sources, plain));
                diagnostics.extend(plan_diagnostics);
            }
        }
    }
    Outcome { rendered, diagnostics, sources }
}

fn spans_are_sound(name: &str, outcome: &Outcome) {
    for d in &outcome.diagnostics {
        for (span, what) in std::iter::once((d.span, "primary")).chain(d.secondary.iter().map(|(s, _)| (*s, "secondary"))) {
            let text = &outcome.sources.get(span.file).text;
            let (start, end) = (span.start as usize, span.end as usize);
            assert!(start <= end && end <= text.len(), "{name}: {} {what} span {start}..{end} outside its file ({} bytes)", d.code, text.len());
            assert!(text.is_char_boundary(start) && text.is_char_boundary(end), "{name}: {} {what} span not on char boundaries", d.code);
        }
    }
    assert!(!outcome.rendered.contains("Failed to read contents"), "{name}: miette could not draw a label:\n{}", outcome.rendered);
}

/// `# expect: unknown_table out_of_range*3` → {"netscript::check::unknown_table": 1, ...}
/// Codes are written without the `netscript::` prefix, e.g. `check::out_of_range`,
/// `syntax::unexpected`; a bare name means `check::NAME`.
fn expected_codes(text: &str) -> Option<BTreeMap<String, usize>> {
    let mut found = false;
    let mut codes = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix("# expect:") else { continue };
        found = true;
        for word in rest.split_whitespace() {
            let (code, n) = match word.split_once('*') {
                Some((c, n)) => (c, n.parse::<usize>().expect("`code*N`")),
                None => (word, 1),
            };
            let code = if code.contains("::") { format!("netscript::{code}") } else { format!("netscript::check::{code}") };
            *codes.entry(code).or_insert(0) += n;
        }
    }
    found.then_some(codes)
}

#[test]
fn corpus_snapshots() {
    let mut failed = Vec::new();
    for path in corpus_files() {
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let outcome = run(&path);
        assert!(!outcome.diagnostics.is_empty(), "{name}: a corpus script must produce diagnostics; it checked clean");
        spans_are_sound(&name, &outcome);
        if let Some(expected) = expected_codes(&std::fs::read_to_string(&path).unwrap()) {
            let mut actual: BTreeMap<String, usize> = BTreeMap::new();
            for d in &outcome.diagnostics {
                *actual.entry(d.code.to_string()).or_insert(0) += 1;
            }
            assert_eq!(actual, expected, "{name}: the diagnostics differ from its `# expect:` line; output:\n{}", outcome.rendered);
        }
        let result = std::panic::catch_unwind(|| {
            insta::with_settings!({ description => path.display().to_string(), omit_expression => true }, {
                insta::assert_snapshot!(name.clone(), outcome.rendered);
            });
        });
        if result.is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "snapshots differ for: {failed:?} (see above; regenerate with INSTA_UPDATE=always cargo test --test diagnostics)");
}

/// The codes declared in src/check/codes.rs, read from the file itself.
fn declared_codes() -> Vec<String> {
    let text = std::fs::read_to_string("src/check/codes.rs").unwrap();
    let codes: Vec<String> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("pub const"))
        .map(|l| l.split('"').nth(1).expect("pub const X: &str = \"...\";").to_string())
        .collect();
    assert!(codes.len() > 20, "parsed only {} codes from codes.rs", codes.len());
    codes
}

#[test]
fn every_code_has_a_corpus_entry() {
    let outputs: Vec<(String, String)> = corpus_files()
        .iter()
        .map(|p| (p.display().to_string(), run(p).rendered))
        .collect();
    let declared = declared_codes();
    // Codes that need compiled eBPF objects are shown by the golden files of
    // tests/bpf_check.rs and tests/bpf_sections.rs (which compile them): those snapshots
    // count too.
    let mut outputs = outputs;
    for entry in std::fs::read_dir("tests/snapshots").expect("tests/snapshots exists") {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("bpf_check__") || n.to_string_lossy().starts_with("bpf_sections__")) {
            outputs.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
        }
    }
    let shown_in = |code: &str| outputs.iter().find(|(_, out)| out.lines().any(|l| l.ends_with(&format!(": {code}")))).map(|(f, _)| f.clone());
    let mut missing = Vec::new();
    for code in declared.iter().map(String::as_str).chain(OTHER_CODES.iter().copied()) {
        match (shown_in(code), NEVER_EMITTED.contains(&code)) {
            (None, false) => missing.push(code.to_string()),
            (Some(file), true) => panic!("{code} is listed in NEVER_EMITTED but {file} reports it: remove it from that list"),
            _ => {}
        }
    }
    for code in NEVER_EMITTED {
        assert!(declared.iter().any(|c| c == code), "{code} is in NEVER_EMITTED but no longer in codes.rs");
    }
    assert!(missing.is_empty(), "codes with no corpus script that shows them: {missing:#?}\nadd a script to {CORPUS}/");
}
