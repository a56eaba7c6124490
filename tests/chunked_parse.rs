//! The parse by top-level pieces (src/syntax/chunks.rs) and the language server's
//! incremental parse (src/syntax/incremental.rs) give what a parse of the whole text
//! gives: the same statements with the same spans, the same diagnostics. Over every
//! example, every script of the diagnostics corpus and the golden inputs, and over edits
//! of each (a character typed, a line removed, a line doubled, an error made and fixed).

use netscript::source::FileId;
use netscript::syntax::{self, chunks, incremental};
use std::path::{Path, PathBuf};

fn scripts() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut dirs = vec![root.join("examples"), root.join("tests")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "ns") {
                out.push((path.clone(), std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort();
    assert!(out.len() > 80, "the corpus was not found: {}", out.len());
    out
}

/// The whole-text parse, as a comparable string.
fn whole(text: &str) -> String {
    let (script, diagnostics) = syntax::parse_whole(FileId(0), text);
    format!("{script:#?}\n{diagnostics:#?}")
}

fn incremental(previous: Option<incremental::Parsed>, text: &str) -> (String, Option<incremental::Parsed>) {
    match incremental::parse(previous, FileId(0), text) {
        Ok(parsed) => (format!("{:#?}\n{:#?}", Some(parsed.script()), parsed.diagnostics()), Some(parsed)),
        Err((script, diagnostics)) => (format!("{:#?}\n{diagnostics:#?}", script.as_ref()), None),
    }
}

#[test]
fn pieces_parse_as_the_whole_file() {
    let mut chunked = 0;
    for (path, text) in scripts() {
        let (script, diagnostics) = syntax::parse_recovering(FileId(0), &text);
        assert_eq!(format!("{script:#?}\n{diagnostics:#?}"), whole(&text), "{}", path.display());
        chunked += usize::from(chunks::parse(FileId(0), &text).is_some());
    }
    // Most scripts parse; they went through the pieces.
    assert!(chunked > 60, "only {chunked} scripts were parsed by pieces");
}

#[test]
fn pieces_are_cut_only_outside_blocks_strings_comments_and_continuations() {
    let text = "netns a <\n  up\n>\nlet s = \"x\\\ny\" # <\nnetns b \\\n  < up >\nveth v <-> w.v\nfilter -> 1\n";
    let pieces: Vec<&str> = chunks::pieces(text).into_iter().map(|r| &text[r]).collect();
    assert_eq!(pieces, ["netns a <\n  up\n>", "let s = \"x\\\ny\" # <", "netns b \\\n  < up >", "veth v <-> w.v", "filter -> 1", ""]);
}

/// Edits of each script, one after another, each parsed from the last one's parse.
#[test]
fn incremental_parse_follows_edits() {
    let mut reused = 0;
    for (path, text) in scripts() {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let mut versions = vec![text.clone()];
        for i in (0..lines.len()).step_by(lines.len() / 6 + 1) {
            let mut typed = lines.clone();
            let line = format!("  {}", lines[i]);
            typed[i] = &line;
            versions.push(typed.concat());
            let mut removed = lines.clone();
            removed.remove(i);
            versions.push(removed.concat());
            let mut doubled = lines.clone();
            doubled.insert(i, lines[i]);
            versions.push(doubled.concat());
            let mut broken = lines.clone();
            let bad = lines[i].replacen(' ', " ?", 1);
            broken[i] = &bad;
            versions.push(broken.concat());
            versions.push(text.clone());
        }
        let mut previous = None;
        for (n, version) in versions.iter().enumerate() {
            let (got, parsed) = incremental(previous.take(), version);
            assert_eq!(got, whole(version), "{} version {n}:\n{version}", path.display());
            reused += usize::from(parsed.is_some());
            previous = parsed;
        }
    }
    assert!(reused > 500, "only {reused} versions were parsed incrementally");
}
