//! The tree-sitter grammar's tests, run through the tree-sitter runtime crate on the
//! committed generated parser (src/parser.c): what `tree-sitter test`, `tree-sitter query`
//! and `tree-sitter parse` checked in editors/test.sh, without building tree-sitter-cli.
//!
//! - `corpus`: every test of test/corpus/*.txt parses to its expected tree;
//! - `highlight_assertions`: every assertion of test/highlight/* holds (the CLI's format:
//!   `# <- NAME` for the column where the comment starts, `# ^ NAME` (or `^^^`) for the
//!   caret's columns, `!` before NAME for "not NAME"; the line they refer to is the
//!   nearest one above that is neither an assertion nor too short);
//! - `queries_compile`: every query file (nvim, Helix, Zed) compiles against the grammar;
//! - `helix_highlights_in_sync`: queries/helix/highlights.scm is what helix.sed makes of
//!   queries/highlights.scm;
//! - `samples_and_examples_parse`: editors/test/*.ns and every examples/*.ns (or
//!   `$NETSCRIPT_EXAMPLES_DIR/*.ns`) parse without an ERROR or MISSING node.
//!
//! Whether src/parser.c is what grammar.js generates needs the CLI (and Node.js):
//! editors/test.sh checks it where tree-sitter-cli is installed, and says when it is not.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use tree_sitter::{Language, Node, Parser, Query, Tree};
use tree_sitter_highlight::{HighlightConfiguration, HighlightEvent, Highlighter};

const GRAMMAR: &str = env!("CARGO_MANIFEST_DIR");

fn grammar_dir() -> &'static Path {
    Path::new(GRAMMAR)
}

/// editors/
fn editors_dir() -> &'static Path {
    grammar_dir().parent().expect("editors/")
}

fn language() -> Language {
    tree_sitter_netscript::LANGUAGE.into()
}

fn parse(source: &str) -> Tree {
    let mut parser = Parser::new();
    parser
        .set_language(&language())
        .expect("the tree-sitter runtime takes the ABI version of the committed src/parser.c");
    parser.parse(source, None).expect("tree-sitter returned no tree")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The files of `dir` whose name ends with `suffix`, sorted; none if `dir` is missing.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(suffix)))
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

// ------------------------------------------------------------------------------ corpus

struct CorpusTest {
    name: String,
    /// 1-based line of the test's header in its file
    line: usize,
    input: String,
    expected: String,
    /// `:error`: the input must give a tree with an error; its shape is not compared
    error: bool,
    skip: bool,
}

fn is_rule(line: &str, c: char) -> bool {
    line.len() >= 3 && line.starts_with(&c.to_string().repeat(3))
}

/// Splits a corpus file: a header (a line of `=`, the name, a line of `=`), the input, a
/// line of `-`, the expected tree; then the next header.
fn corpus_tests(file: &Path) -> Vec<CorpusTest> {
    let text = read(file);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let bare = |i: usize| lines[i].trim_end_matches(['\n', '\r']);
    let mut tests = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !is_rule(bare(i), '=') {
            assert!(bare(i).trim().is_empty(), "{}:{}: expected a test header (a line of `=`)", file.display(), i + 1);
            i += 1;
            continue;
        }
        let header = i;
        i += 1;
        let mut name = Vec::new();
        let (mut error, mut skip) = (false, false);
        while i < lines.len() && !is_rule(bare(i), '=') {
            match bare(i).trim() {
                ":error" => error = true,
                ":skip" => skip = true,
                a if a.starts_with(':') => panic!("{}:{}: corpus attribute `{a}` is not supported here", file.display(), i + 1),
                n => name.push(n.to_string()),
            }
            i += 1;
        }
        assert!(i < lines.len(), "{}:{}: the header is not closed", file.display(), header + 1);
        i += 1;
        let mut input = String::new();
        while i < lines.len() && !is_rule(bare(i), '-') {
            input.push_str(lines[i]);
            i += 1;
        }
        assert!(i < lines.len(), "{}:{}: no `---` line after the input", file.display(), header + 1);
        i += 1;
        // As the CLI does: the input ends before the newline that precedes the `---` line.
        if input.ends_with('\n') {
            input.pop();
            if input.ends_with('\r') {
                input.pop();
            }
        }
        let mut expected = String::new();
        while i < lines.len() && !is_rule(bare(i), '=') {
            expected.push_str(lines[i]);
            i += 1;
        }
        tests.push(CorpusTest { name: name.join(" "), line: header + 1, input, expected, error, skip });
    }
    tests
}

/// The tokens of an S-expression, `(`, `)` and words; with `fields` false, field labels
/// (`name:`) are left out.
fn sexp_tokens(sexp: &str, fields: bool) -> Vec<String> {
    sexp.replace('(', " ( ")
        .replace(')', " ) ")
        .split_whitespace()
        .filter(|t| fields || !t.ends_with(':'))
        .map(str::to_string)
        .collect()
}

/// Indented, one node a line, for failure messages.
fn pretty(tokens: &[String]) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate() {
        match t.as_str() {
            "(" => {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(&"  ".repeat(depth));
                out.push('(');
                depth += 1;
            }
            ")" => {
                out.push(')');
                depth = depth.saturating_sub(1);
            }
            word => {
                if !out.ends_with('(') {
                    out.push(' ');
                }
                out.push_str(word);
            }
        }
    }
    out
}

#[test]
fn corpus() {
    let dir = grammar_dir().join("test/corpus");
    let mut failures = Vec::new();
    let mut count = 0;
    for file in files(&dir, ".txt") {
        for t in corpus_tests(&file) {
            if t.skip {
                continue;
            }
            count += 1;
            let tree = parse(&t.input);
            let root = tree.root_node();
            if t.error {
                if !root.has_error() {
                    failures.push(format!("{}:{}: {}: expected an error, parsed without one", file.display(), t.line, t.name));
                }
                continue;
            }
            let expected = sexp_tokens(&t.expected, true);
            let with_fields = expected.iter().any(|t| t.ends_with(':'));
            let actual = sexp_tokens(&root.to_sexp(), with_fields);
            if actual != expected {
                failures.push(format!(
                    "{}:{}: {}\n--- expected\n{}\n--- parsed\n{}",
                    file.display(),
                    t.line,
                    t.name,
                    pretty(&expected),
                    pretty(&actual)
                ));
            }
        }
    }
    assert!(count > 0, "no corpus tests found in {}", dir.display());
    assert!(failures.is_empty(), "{} of {count} corpus tests failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

// --------------------------------------------------------------------------- highlights

struct Assertion {
    /// 0-based row and char column of the first asserted column
    row: usize,
    column: usize,
    length: usize,
    negative: bool,
    name: String,
    /// 1-based line of the assertion comment
    at_line: usize,
}

fn comments<'t>(node: Node<'t>, out: &mut Vec<Node<'t>>) {
    if node.kind() == "comment" {
        out.push(node);
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        comments(child, out);
    }
}

/// The assertion a comment makes, if it is one: (first column, length, negative, name).
fn assertion_in(comment: &str, comment_column: usize) -> Option<(usize, usize, bool, String)> {
    let chars: Vec<char> = comment.chars().collect();
    let mut k = 0;
    let (column, length) = loop {
        match chars.get(k)? {
            '<' if chars.get(k + 1) == Some(&'-') => {
                k += 2;
                break (comment_column, 1);
            }
            '^' => {
                let start = k;
                while chars.get(k) == Some(&'^') {
                    k += 1;
                }
                break (comment_column + start, k - start);
            }
            _ => k += 1,
        }
    };
    while chars.get(k).is_some_and(|c| c.is_whitespace()) {
        k += 1;
    }
    let negative = chars.get(k) == Some(&'!');
    if negative {
        k += 1;
    }
    while chars.get(k).is_some_and(|c| c.is_whitespace()) {
        k += 1;
    }
    let name: String = chars[k..].iter().take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')).collect();
    (!name.is_empty()).then_some((column, length, negative, name))
}

fn assertions(source: &str, tree: &Tree, file: &Path) -> Vec<Assertion> {
    let lines: Vec<&str> = source.lines().collect();
    let mut nodes = Vec::new();
    comments(tree.root_node(), &mut nodes);
    let mut found = Vec::new();
    for node in nodes {
        let start = node.start_position();
        if start.row == 0 {
            continue;
        }
        let text = node.utf8_text(source.as_bytes()).expect("utf-8");
        let column = lines[start.row][..start.column].chars().count();
        if let Some((column, length, negative, name)) = assertion_in(text, column) {
            found.push(Assertion { row: start.row, column, length, negative, name, at_line: start.row + 1 });
        }
    }
    let assertion_rows: HashSet<usize> = found.iter().map(|a| a.row).collect();
    for a in &mut found {
        // the nearest line above that is not an assertion and reaches the column
        let mut row = a.row;
        loop {
            assert!(row > 0, "{}:{}: no line above for the assertion `{}`", file.display(), a.at_line, a.name);
            row -= 1;
            if !assertion_rows.contains(&row) && lines[row].chars().count() > a.column {
                break;
            }
        }
        a.row = row;
    }
    found
}

/// For each byte of `source`, the innermost highlight over it (an index into the names).
fn highlights(source: &str) -> (Vec<Option<usize>>, Vec<String>) {
    let mut config = HighlightConfiguration::new(language(), "netscript", tree_sitter_netscript::HIGHLIGHTS_QUERY, "", "")
        .expect("queries/highlights.scm compiles");
    // As `tree-sitter test` does: every capture name of the query is a highlight name.
    let names: Vec<String> = config.names().iter().map(|n| n.to_string()).collect();
    config.configure(&names);
    let mut highlighter = Highlighter::new();
    let mut per_byte = vec![None; source.len()];
    let mut stack = Vec::new();
    for event in highlighter.highlight(&config, source.as_bytes(), None, None, |_| None).expect("highlight") {
        match event.expect("highlight event") {
            HighlightEvent::HighlightStart(h) => stack.push(h.0),
            HighlightEvent::HighlightEnd => {
                stack.pop();
            }
            HighlightEvent::Source { start, end } => per_byte[start..end].fill(stack.last().copied()),
        }
    }
    (per_byte, names)
}

#[test]
fn highlight_assertions() {
    let dir = grammar_dir().join("test/highlight");
    let test_files = files(&dir, "");
    assert!(!test_files.is_empty(), "no highlight tests in {}", dir.display());
    let mut failures = Vec::new();
    let mut count = 0;
    for file in &test_files {
        let source = read(file);
        let tree = parse(&source);
        let found = assertions(&source, &tree, file);
        assert!(!found.is_empty(), "{}: no assertions found", file.display());
        count += found.len();
        let (per_byte, names) = highlights(&source);
        let line_starts: Vec<usize> = std::iter::once(0).chain(source.match_indices('\n').map(|(i, _)| i + 1)).collect();
        for a in &found {
            let line = source[line_starts[a.row]..].lines().next().unwrap_or("");
            let actual: Vec<&str> = line
                .char_indices()
                .skip(a.column)
                .take(a.length)
                .filter_map(|(i, _)| per_byte[line_starts[a.row] + i])
                .map(|h| names[h].as_str())
                .collect();
            let has = actual.contains(&a.name.as_str());
            if has == a.negative {
                let mut seen = actual.clone();
                seen.dedup();
                failures.push(format!(
                    "{}:{}: line {} column {}: expected {}{}, found {}",
                    file.display(),
                    a.at_line,
                    a.row + 1,
                    a.column + 1,
                    if a.negative { "not " } else { "" },
                    a.name,
                    if seen.is_empty() { "no highlight".to_string() } else { seen.join(", ") }
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {count} highlight assertions failed:\n{}", failures.len(), failures.join("\n"));
}

// ------------------------------------------------------------------------------ queries

#[test]
fn queries_compile() {
    let dirs = [
        grammar_dir().join("queries"),
        grammar_dir().join("queries/helix"),
        editors_dir().join("zed/languages/netscript"),
    ];
    let mut count = 0;
    let mut failures = Vec::new();
    for dir in &dirs {
        for file in files(dir, ".scm") {
            count += 1;
            if let Err(e) = Query::new(&language(), &read(&file)) {
                failures.push(format!("{}: {e}", file.display()));
            }
        }
    }
    assert!(count >= 5, "found only {count} query files");
    assert!(failures.is_empty(), "query files that do not compile:\n{}", failures.join("\n"));
}

#[test]
fn helix_highlights_in_sync() {
    let helix = grammar_dir().join("queries/helix");
    let out = std::process::Command::new("sed")
        .arg("-f")
        .arg(helix.join("helix.sed"))
        .arg(grammar_dir().join("queries/highlights.scm"))
        .output()
        .expect("cannot run sed");
    assert!(out.status.success(), "sed failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout) == read(&helix.join("highlights.scm")),
        "queries/helix/highlights.scm is stale: in editors/tree-sitter-netscript run \
         sed -f queries/helix/helix.sed queries/highlights.scm > queries/helix/highlights.scm"
    );
}

// ------------------------------------------------------------------------------ parsing

/// The ERROR and MISSING nodes under `node`, with their places.
fn problems(node: Node, out: &mut Vec<String>) {
    if node.is_error() || node.is_missing() {
        let p = node.start_position();
        let what = if node.is_missing() { format!("MISSING {}", node.kind()) } else { "ERROR".to_string() };
        out.push(format!("{}:{}: {what}", p.row + 1, p.column + 1));
    }
    if node.has_error() {
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            problems(child, out);
        }
    }
}

#[test]
fn samples_and_examples_parse() {
    let examples_dir = match std::env::var_os("NETSCRIPT_EXAMPLES_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => editors_dir().parent().expect("repository root").join("examples"),
    };
    let samples = [editors_dir().join("test/sample.ns"), editors_dir().join("test/indent.ns")];
    let examples = files(&examples_dir, ".ns");
    let mut failures = Vec::new();
    for file in samples.iter().chain(&examples) {
        let tree = parse(&read(file));
        let mut found = Vec::new();
        problems(tree.root_node(), &mut found);
        failures.extend(found.into_iter().map(|p| format!("{}:{p}", file.display())));
    }
    assert!(failures.is_empty(), "parse errors:\n{}", failures.join("\n"));
    println!("parsed {} samples and {} examples", samples.len(), examples.len());
}
