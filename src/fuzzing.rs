//! The whole front end on arbitrary bytes, for fuzzers (`fuzz/`, with cargo-fuzz) and
//! for the stable-Rust driver `tests/fuzz_corpus.rs`: parse, check (includes from an
//! in-memory file system, never the disk), plan against an empty system, and render
//! every diagnostic and the plan in each format. Panics when a property fails: a span
//! outside its file or off a character boundary, or a label miette could not draw.

use crate::check::{self, Loader};
use crate::diagnostic::{self, Diagnostic, RenderOptions};
use crate::plan::{self, Observed};
use crate::source::SourceMap;
use std::path::{Path, PathBuf};

/// Files `include` can reach while fuzzing (a cycle, a syntax error, a good file).
struct MemLoader;

impl Loader for MemLoader {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        let text = match path.file_name().and_then(|n| n.to_str()) {
            Some("a.ns") => "netns inc < link eth0 < mtu 9000 > >\ninclude \"b.ns\"\n",
            Some("b.ns") => "include \"a.ns\"\nnetns inc2 < veth v0 <-> inc.v1 >\n",
            Some("bad.ns") => "netns < veth <-> >\nmtu 99999999999999999999\n",
            _ => return Err(std::io::Error::new(std::io::ErrorKind::NotFound, "not in the fuzzing loader")),
        };
        Ok(text.to_string())
    }
    fn canonical(&self, path: &Path) -> Option<PathBuf> {
        path.file_name().map(PathBuf::from)
    }
    fn read_bytes(&self, _: &Path) -> std::io::Result<Vec<u8>> {
        Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no eBPF objects while fuzzing"))
    }
}

fn assert_sound(diagnostics: &[Diagnostic], sources: &SourceMap) {
    for d in diagnostics {
        for span in std::iter::once(d.span).chain(d.secondary.iter().map(|(s, _)| *s)) {
            let text = &sources.get(span.file).text;
            let (start, end) = (span.start as usize, span.end as usize);
            assert!(start <= end && end <= text.len(), "{}: span {start}..{end} outside its file of {} bytes", d.code, text.len());
            assert!(text.is_char_boundary(start) && text.is_char_boundary(end), "{}: span {start}..{end} off a char boundary", d.code);
        }
    }
    let rendered = diagnostic::render_all(diagnostics, sources, RenderOptions::plain());
    assert!(!rendered.contains("Failed to read contents"), "a label could not be drawn:\n{rendered}");
    for d in diagnostics {
        let _ = diagnostic::to_json(d, sources);
    }
}

/// Runs the front end on `data` (read as UTF-8, invalid sequences replaced).
pub fn front_end(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut sources = SourceMap::new();
    let file = sources.add("mem/input.ns", Some(Path::new("mem/input.ns")), text.as_ref());
    let checked = check::check(&mut sources, file, &MemLoader);
    assert_sound(&checked.diagnostics, &sources);
    if checked.has_errors() {
        return;
    }
    match plan::plan(&checked.desired, &Observed::empty()) {
        Ok(plan) => {
            plan::render_text(&plan, &checked.desired, &sources);
            plan::render_json(&plan, &checked.desired, &sources);
            plan::render_dot(&plan, &checked.desired, &sources);
        }
        Err(diagnostics) => assert_sound(&diagnostics, &sources),
    }
}
