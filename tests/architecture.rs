//! The source tree keeps the pipeline's shape (docs/ARCHITECTURE.md): each top-level
//! module uses only modules earlier in the pipeline, so there are no import circles and
//! no stage reaches up to a later one; and no file grows past the size where it should be
//! split without saying why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level modules of `src/`, in pipeline order: a module may use only those before it.
const LAYERS: &[&str] = &[
    // foundations
    "source", "bounded", "units", "paths", "timing", "diagnostic",
    // the desired state's vocabulary, then the language's front half
    "model", "ast", "syntax", "check",
    // the formatter: tokens of the source, laid out (needs only the parser)
    "fmt",
    // pure planning, then the only code that talks to the kernel
    "plan", "exec",
    // the run machinery: transaction, journal, recover, lock, state
    "run",
    // the live state rendered (show, export); what front ends share; the front ends
    // (the CLI starts the REPL)
    "live", "console", "fuzzing", "repl", "lsp", "cni", "cli",
];

/// Past this many lines a file is split along a seam, or says why not on a line at its
/// top starting with `//! Long because:`.
const MAX_LINES: usize = 500;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    files.sort();
    files
}

/// The top-level module a file of `src/` belongs to (`None` for lib.rs and main.rs).
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src")).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.trim_end_matches(".rs").to_string();
    (first != "lib" && first != "main").then_some(first)
}

/// `crate::NAME` paths in code (comments left out), with the line they are on.
fn crate_references(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.push((n + 1, name));
            }
            rest = after;
        }
        assert!(!code.contains("use crate::{"), "a grouped `use crate::{{..}}` hides what a module uses; write one path a module (line {}: {line})", n + 1);
    }
    found
}

#[test]
fn every_module_has_a_layer() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(name) = line.trim().strip_prefix("pub mod ").and_then(|r| r.strip_suffix(';')) {
            assert!(LAYERS.contains(&name), "src/lib.rs declares `{name}`, which has no place in LAYERS: add it where it belongs in the pipeline");
        }
    }
}

#[test]
fn modules_use_only_earlier_stages() {
    let rank: BTreeMap<&str, usize> = LAYERS.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let mut violations = Vec::new();
    for path in src_files() {
        let Some(module) = module_of(&path) else { continue };
        let Some(&own) = rank.get(module.as_str()) else {
            violations.push(format!("{}: module `{module}` is not in LAYERS", path.display()));
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        for (line, used) in crate_references(&text) {
            match rank.get(used.as_str()) {
                Some(&r) if r > own => violations.push(format!("{}:{line}: `{module}` uses `{used}`, a later stage", path.display())),
                _ => {}
            }
        }
    }
    assert!(violations.is_empty(), "the pipeline runs one way (docs/ARCHITECTURE.md):\n{}", violations.join("\n"));
}

#[test]
fn the_layer_check_sees_a_reference_up_the_pipeline() {
    // The scanner itself: a reference in code counts, one in a comment does not.
    let found = crate_references("use crate::run::state; // crate::cli\nlet x = crate::exec::f();");
    assert_eq!(found, vec![(1, "run".to_string()), (2, "exec".to_string())]);
}

#[test]
fn long_files_say_why() {
    let mut long = Vec::new();
    for path in src_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines = text.lines().count();
        let explained = text.lines().take(20).any(|l| l.starts_with("//! Long because:"));
        if lines > MAX_LINES && !explained {
            long.push(format!("{} ({lines} lines)", path.display()));
        }
    }
    assert!(long.is_empty(), "files over {MAX_LINES} lines: split along a seam, or start with `//! Long because: ...`\n{}", long.join("\n"));
}
