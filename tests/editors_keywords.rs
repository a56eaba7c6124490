//! One source of truth for the editor grammars in `editors/`: every keyword of
//! `grammar/netscript.pest` (each double-quoted string literal made only of letters)
//! must appear in each editor's grammar. Unit literals (`kbit`, `ms`, ... in the
//! `*_unit` rules) must appear wherever the editor lexes literals itself; the
//! tree-sitter highlight query only names keyword tokens, so it is checked for the
//! keywords alone.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The grammar; until it is in this tree, the copy kept next to the editor tests.
fn grammar() -> (PathBuf, String) {
    let real = root().join("grammar/netscript.pest");
    let path = if real.exists() {
        real
    } else {
        let copy = root().join("editors/test/netscript.pest.snapshot");
        eprintln!("note: grammar/netscript.pest is missing, using {}", copy.display());
        copy
    };
    let text = read(&path);
    (path, text)
}

/// Letter-only string literals of a pest grammar, split into (keywords, units): a
/// literal is a unit when the rule it appears in is named `*_unit`.
fn pest_literals(src: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut keywords = BTreeSet::new();
    let mut units = BTreeSet::new();
    let mut rule = String::new();
    for line in src.lines() {
        // a rule starts with `name =`
        let trimmed = line.trim_start();
        if let Some(eq) = trimmed.find('=') {
            let head = trimmed[..eq].trim();
            if !head.is_empty()
                && head.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !line.starts_with(' ')
            {
                rule = head.to_string();
            }
        }
        let mut chars = line.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '/' if line[i..].starts_with("//") => break,
                '"' => {
                    let mut lit = String::new();
                    while let Some((_, c)) = chars.next() {
                        match c {
                            '\\' => {
                                if let Some((_, e)) = chars.next() {
                                    lit.push('\\');
                                    lit.push(e);
                                }
                            }
                            '"' => break,
                            c => lit.push(c),
                        }
                    }
                    if !lit.is_empty() && lit.chars().all(|c| c.is_ascii_alphabetic()) {
                        let lit = lit.to_ascii_lowercase();
                        if rule.ends_with("_unit") {
                            units.insert(lit);
                        } else {
                            keywords.insert(lit);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    (keywords, units)
}

/// Maximal runs of ASCII letters: the words a regex-based grammar spells out.
fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether `word` appears as a whole quoted string, 'word' or "word" (grammar.js,
/// queries).
fn has_quoted(text: &str, word: &str) -> bool {
    text.contains(&format!("'{word}'")) || text.contains(&format!("\"{word}\""))
}

#[test]
fn every_grammar_keyword_is_in_every_editor_grammar() {
    let (path, src) = grammar();
    let (keywords, units) = pest_literals(&src);
    assert!(
        keywords.len() >= 60 && keywords.contains("netns") && keywords.contains("veth"),
        "found only {} keywords in {}: {keywords:?}",
        keywords.len(),
        path.display()
    );
    assert!(units.contains("kbit") && units.contains("ms"), "units not found: {units:?}");

    let editors = root().join("editors");
    let all: BTreeSet<String> = keywords.union(&units).cloned().collect();
    // (file, how a keyword shows in it, which literals it must hold)
    type Present = fn(&str, &str) -> bool;
    let as_word: Present = |text, kw| words(text).contains(kw);
    let checks: [(&str, Present, &BTreeSet<String>); 5] = [
        ("vscode/syntaxes/netscript.tmLanguage.json", as_word, &all),
        ("vim/syntax/netscript.vim", as_word, &all),
        ("emacs/netscript-mode.el", as_word, &all),
        ("tree-sitter-netscript/grammar.js", has_quoted, &all),
        ("tree-sitter-netscript/queries/highlights.scm", has_quoted, &keywords),
    ];

    let mut failures = Vec::new();
    for (file, present, wanted) in checks {
        let text = read(&editors.join(file));
        let missing: Vec<&String> = wanted.iter().filter(|k| !present(&text, k)).collect();
        if !missing.is_empty() {
            failures.push(format!("editors/{file} misses {missing:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "keywords of {} missing from editor grammars:\n  {}",
        path.display(),
        failures.join("\n  ")
    );
}

#[test]
fn literal_extraction() {
    let (kw, units) = pest_literals(
        "a = { \"netns\" ~ \"<->\" ~ \"0x\" } // \"comment\"\nrate_unit = @{ ^\"kbit\" | \"b\" }\n",
    );
    assert_eq!(kw.into_iter().collect::<Vec<_>>(), vec!["netns"]);
    assert_eq!(units.into_iter().collect::<Vec<_>>(), vec!["b", "kbit"]);
    assert!(words("(?i:kbit|mbit)").contains("kbit"));
    assert!(has_quoted("choice('up', 'down')", "down"));
    assert!(!has_quoted("'upx'", "up"));
}
