//! The language reference tells the truth: every ```netscript block of
//! docs/LANGUAGE-REFERENCE.md passes `check` (parse, check, plan against an empty
//! system, as `netscript check` does), and every ```netscript error block fails it.

use netscript::check::{self, FsLoader};
use netscript::plan::{self, Observed};
use netscript::source::SourceMap;

const REFERENCE: &str = "docs/LANGUAGE-REFERENCE.md";

/// (first line, info string, text) of each fenced block whose info starts `netscript`.
fn blocks(markdown: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String, String)> = None;
    for (n, line) in markdown.lines().enumerate() {
        match &mut current {
            None => {
                if let Some(info) = line.strip_prefix("```").filter(|i| i.starts_with("netscript")) {
                    current = Some((n + 1, info.trim().to_string(), String::new()));
                }
            }
            Some((_, _, text)) if line.trim_end() == "```" => {
                let _ = text;
                out.push(current.take().unwrap());
            }
            Some((_, _, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    out
}

/// Whether `text` checks and plans without an error; the diagnostics if not.
fn check_text(name: &str, text: &str) -> Result<(), Vec<String>> {
    let mut sources = SourceMap::new();
    let file = sources.add(name, Some(std::path::Path::new(REFERENCE)), text);
    let checked = check::check(&mut sources, file, &FsLoader);
    let errors: Vec<String> = checked.diagnostics.iter().filter(|d| d.is_error()).map(|d| format!("{}: {}", d.code, d.message)).collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    plan::plan(&checked.desired, &Observed::empty()).map(|_| ()).map_err(|ds| ds.iter().map(|d| format!("{}: {}", d.code, d.message)).collect())
}

#[test]
fn every_reference_example_checks_as_documented() {
    let markdown = std::fs::read_to_string(REFERENCE).unwrap();
    let blocks = blocks(&markdown);
    assert!(blocks.len() >= 30, "found only {} netscript blocks", blocks.len());
    let mut wrong = Vec::new();
    for (line, info, text) in &blocks {
        let name = format!("{REFERENCE}:{line}");
        let must_fail = info.split_whitespace().any(|w| w == "error");
        match (check_text(&name, text), must_fail) {
            (Ok(()), false) | (Err(_), true) => {}
            (Ok(()), true) => wrong.push(format!("{name}: marked `error` but checks clean")),
            (Err(errors), false) => wrong.push(format!("{name}: fails check:\n  {}", errors.join("\n  "))),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
