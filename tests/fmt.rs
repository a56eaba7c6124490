//! `netscript fmt`: idempotent (fmt of fmt is fmt) and meaning-preserving (the formatted
//! script checks to the same diagnostics and plans exactly the same operations), on every
//! example, every file of the diagnostics corpus that parses, and generated scripts; a
//! few formatted outputs as golden files; `fmt --check` exits 1 with a diff.

use netscript::check::{self, FsLoader};
use netscript::plan::{self, Observed};
use netscript::source::SourceMap;
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What a script means: its diagnostics (code and message) and, without errors, its plan
/// against an empty system (operations, their order, dependencies and undo; as JSON).
fn meaning(path: Option<&Path>, text: &str) -> String {
    let mut sources = SourceMap::new();
    let file = sources.add("script.ns", path, text.to_string());
    let checked = check::check(&mut sources, file, &FsLoader);
    let mut out: Vec<String> = checked.diagnostics.iter().map(|d| format!("{}: {}", d.code, d.message)).collect();
    if !checked.has_errors() {
        match plan::plan(&checked.desired, &Observed::empty()) {
            Ok(plan) => out.push(serde_json::to_string_pretty(&plan).unwrap()),
            Err(ds) => out.extend(ds.iter().map(|d| format!("{}: {}", d.code, d.message))),
        }
    }
    out.join("\n")
}

fn format(text: &str) -> Option<String> {
    netscript::fmt::format(netscript::source::FileId(0), text).ok()
}

/// Formats `text`; asserts idempotence and equal meaning. `None` when it does not parse.
fn assert_formats_well(path: Option<&Path>, text: &str) -> Result<Option<String>, String> {
    let Some(once) = format(text) else { return Ok(None) };
    let twice = format(&once).ok_or_else(|| format!("the formatted script does not parse:\n{once}"))?;
    if once != twice {
        return Err(format!("not idempotent:\n--- once\n{once}\n--- twice\n{twice}"));
    }
    let (before, after) = (meaning(path, text), meaning(path, &once));
    if before != after {
        return Err(format!("meaning changed:\n--- source\n{text}\n--- formatted\n{once}\n--- before\n{before}\n--- after\n{after}"));
    }
    Ok(Some(once))
}

fn ns_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "ns")).collect();
    files.sort();
    files
}

#[test]
fn examples_and_the_diagnostics_corpus_format_idempotently_and_keep_their_meaning() {
    let mut formatted = 0;
    let mut files = ns_files(&root().join("examples"));
    files.extend(ns_files(&root().join("tests/diagnostics")));
    files.extend(ns_files(&root().join("tests/diagnostics/include")));
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        match assert_formats_well(Some(path), &text) {
            Ok(Some(_)) => formatted += 1,
            Ok(None) => {}
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    // Most of the corpus parses (its errors are the checker's); all examples do.
    assert!(formatted >= 60, "only {formatted} of {} files formatted", files.len());
}

#[test]
fn comments_blank_lines_and_card_form_golden() {
    let text = "\
# heading comment


let n = 2   # two of them
netns a < veth v0 <-> b.v1; addr 10.0.0.1/24;   shape 1mbit burst 20kb ; rule from 10.0.0.100 table 100 >
netns b <   # the other end
  link v1 < addr 10.0.0.2/24 >


  # routes
  route default via 10.0.0.1 # gateway
  link v1
  mtu 1400
  for i in 0..n < sysctl net.ipv4.conf.all.forwarding   =   1 ;  forward >
  htb default 20 < class 1 rate 10mbit < class 10 rate 8mbit\\
     ceil 10mbit; class 20 rate 2mbit > ; filter proto tcp dport 80->10
     # last
  >
>
netns c <>
netns d < >
include\"x.ns\"
";
    let formatted = format(text).expect("parses");
    insta::assert_snapshot!("fmt_comments_and_card_form", formatted);
    assert_eq!(format(&formatted).as_deref(), Some(formatted.as_str()));
}

#[test]
fn examples_golden() {
    for name in ["card.ns", "htb.ns", "router-nat.ns"] {
        let text = std::fs::read_to_string(root().join("examples").join(name)).unwrap();
        insta::assert_snapshot!(format!("fmt_example_{name}"), format(&text).unwrap());
    }
}

#[test]
fn names_ending_in_a_dash_before_a_block_end_stay_names() {
    // `link a->` is the name `a-` and the end of the block, not a filter's arrow.
    let text = "netns x < link a-> \nnetns y < veth p- <-> x.a- >\n";
    let formatted = format(text).expect("parses");
    assert_eq!(formatted, "netns x < link a- >\nnetns y < veth p- <-> x.a- >\n");
}

#[test]
fn sysctl_values_keep_their_inner_spaces() {
    let text = "netns a < sysctl net.ipv4.ip_local_port_range =   32768   60999   ; forward >\n";
    let formatted = format(text).unwrap();
    assert!(formatted.contains("sysctl net.ipv4.ip_local_port_range = 32768   60999\n"), "{formatted}");
    assert_formats_well(None, text).unwrap();
}

#[test]
fn a_script_with_syntax_errors_is_refused() {
    assert!(netscript::fmt::format(netscript::source::FileId(0), "netns a < veth >").is_err());
}

fn netscript(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_netscript")).args(args).output().unwrap()
}

#[test]
fn fmt_check_prints_a_diff_and_exits_1_and_fmt_rewrites_in_place() {
    let dir = std::env::temp_dir().join(format!("netscript-fmt-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.ns");
    std::fs::write(&path, "netns a<link eth0;addr 10.0.0.1/24>\n").unwrap();
    let p = path.to_str().unwrap();

    let out = netscript(&["fmt", "--check", p]);
    assert_eq!(out.status.code(), Some(1));
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(diff.contains("-netns a<link eth0;addr 10.0.0.1/24>") && diff.contains("+netns a <"), "{diff}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "netns a<link eth0;addr 10.0.0.1/24>\n", "--check changed the file");

    let out = netscript(&["fmt", p]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "netns a <\n  link eth0\n    addr 10.0.0.1/24\n>\n");
    let out = netscript(&["fmt", "--check", p]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());

    std::fs::write(&path, "netns a < veth >\n").unwrap();
    let out = netscript(&["fmt", p]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("netscript::syntax"), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

// Generated scripts: the robustness test's words, glued by spaces, newlines and `;`.
const WORDS: &[&str] = &[
    "netns", "host", "table", "let", "for", "in", "veth", "bridge", "link", "addr", "up", "down", "mtu", "shape",
    "burst", "latency", "htb", "default", "class", "rate", "ceil", "filter", "proto", "tcp", "dport", "route", "via",
    "rule", "from", "forward", "sysctl", "firewall", "input", "accept", "drop", "policy", "a", "b", "ns1", "ns2.v1",
    "v0", "eth0", "r{i}", "i", "n", "0", "1", "10", "20", "1500", "10.0.0.1/24", "10.0.{i}.1/24", "fd00::1/64",
    "1mbit", "10kb", "70ms", "net.ipv4.ip_forward", "=", "<", ">", "<>", ";", "{i}", "..", "<->", "->", "# note",
];

fn generated_script() -> impl Strategy<Value = String> {
    let token = prop::sample::select(WORDS);
    let sep = prop::sample::select(&[" ", " ", " ", "\n", "; ", "", "\n\n", "  ", "\\\n"][..]);
    prop::collection::vec((token, sep), 0..60).prop_map(|tokens| {
        let mut s = "let i = 3\nlet n = 4\n".to_string();
        for (t, sep) in tokens {
            s.push_str(t);
            // A comment runs to the end of its line.
            s.push_str(if t.starts_with('#') { "\n" } else { sep });
        }
        s
    })
}

/// Generated from the shapes of real statements, so that most of them parse.
fn statement_script() -> impl Strategy<Value = String> {
    let stmt = prop::sample::select(
        &[
            "veth v{i} <-> r{i}.w0", "link eth0", "addr 10.0.{i}.1/24", "shape 1mbit burst 20kb", "mtu 1400", "up",
            "route default via 10.0.0.1", "rule from 10.0.0.100 table 100", "shape 2mbit \\\n   burst 20kb",
            "rule from 10.0.0.100\\\ntable 100", "forward", "sysctl net.ipv4.ip_forward = 1",
            "htb default 20 < class 20 rate 1mbit; filter proto tcp dport 80 -> 20 >", "firewall input < accept proto tcp dport 22 >",
            "# a comment", "bridge br0", "link br0 < addr 10.9.0.1/24 >", "netem delay 10ms",
        ][..],
    );
    let sep = prop::sample::select(&["\n", "; ", "\n\n", " ;", "  # after\n"][..]);
    let body = prop::collection::vec((stmt, sep), 0..8);
    prop::collection::vec((prop::sample::select(&["a", "b", "r{i}", "host"][..]), body, prop::bool::ANY), 0..5).prop_map(|nss| {
        let mut s = "let n = 2\nfor i in 0..n <\n".to_string();
        for (ns, body, one_line) in nss {
            s.push_str(if ns == "host" { "host" } else { "netns " });
            if ns != "host" {
                s.push_str(ns);
            }
            s.push_str(" <");
            s.push_str(if one_line { " " } else { "\n" });
            for (stmt, sep) in body {
                s.push_str(stmt);
                s.push_str(if stmt.starts_with('#') { "\n" } else { sep });
            }
            s.push_str(">\n");
        }
        s.push_str(">\n");
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_scripts_format_idempotently_and_keep_their_meaning(text in generated_script()) {
        assert_formats_well(None, &text).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn statement_shaped_scripts_format_idempotently_and_keep_their_meaning(text in statement_script()) {
        assert_formats_well(None, &text).map_err(TestCaseError::fail)?;
    }
}

/// The statement-shaped generator is worth its name: most of what it makes parses, so
/// the property above formats real scripts, not only refusals.
#[test]
fn most_statement_shaped_scripts_parse() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = statement_script();
    let parsed = (0..200).filter(|_| format(&strategy.new_tree(&mut runner).unwrap().current()).is_some()).count();
    assert!(parsed >= 100, "only {parsed} of 200 generated scripts parse");
}
