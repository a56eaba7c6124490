//! Completions, the manual page and the help, as generated from the clap definitions:
//! each shell parses its completion script, groff renders the page without a warning,
//! and each command lists only the options it reads.

mod common;
use common::Test;
use std::process::{Command, Stdio};

const COMMANDS: [&str; 14] = ["check", "run", "confirm", "down", "recover", "status", "show", "export", "check-live", "exec", "repl", "plan", "completions", "man"];

fn netscript(args: &[&str]) -> String {
    let (stdout, _) = Test::new().args(args).run();
    stdout
}

/// Runs `program args` with `input` on a file it names as its last argument; returns
/// (success, stderr).
fn parse_with(program: &str, args: &[&str], text: &str, ext: &str) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("netscript-completions-{}-{program}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("netscript.{ext}"));
    std::fs::write(&file, text).unwrap();
    let out = Command::new(program).args(args).arg(&file).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot run {program} (scripts/test.sh installs it): {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bash_completions_parse_and_name_every_command() {
    let text = netscript(&["completions", "bash"]);
    let (ok, err) = parse_with("bash", &["-n"], &text, "bash");
    assert!(ok, "bash -n refused the completion script: {err}");
    assert!(text.contains("complete -F _netscript"), "no `complete` line:\n{text}");
    for c in COMMANDS {
        assert!(text.contains(c), "bash completions do not know `{c}`");
    }
    // Options only where they apply: `check` completes no `--wait`.
    let check = text.split("netscript__subcmd__check)").nth(1).expect("a case for `check`");
    let check = &check[..check.find("opts=").map(|i| i + check[i..].find('\n').unwrap()).unwrap()];
    assert!(check.contains("--format") && !check.contains("--wait") && !check.contains("--verbose"), "check's options: {check}");
}

#[test]
fn zsh_completions_parse() {
    let text = netscript(&["completions", "zsh"]);
    let (ok, err) = parse_with("zsh", &["-n"], &text, "zsh");
    assert!(ok, "zsh -n refused the completion script: {err}");
    assert!(text.starts_with("#compdef netscript"), "{}", &text[..80.min(text.len())]);
    for c in COMMANDS {
        assert!(text.contains(&format!("'{c}:")), "zsh completions do not know `{c}`");
    }
}

#[test]
fn fish_completions_parse() {
    let text = netscript(&["completions", "fish"]);
    let (ok, err) = parse_with("fish", &["--no-execute"], &text, "fish");
    assert!(ok, "fish --no-execute refused the completion script: {err}");
    for c in COMMANDS {
        assert!(text.contains(&format!("-a \"{c}\"")), "fish completions do not know `{c}`");
    }
}

#[test]
fn unknown_shell_is_a_usage_error() {
    Test::new().args(&["completions", "tcsh"]).status(2).stderr_contains("invalid value 'tcsh'").run();
}

/// groff with every warning on: no warning, and the sections a manual page has.
fn render(roff: &str) -> String {
    let mut child = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-rLL=100n"])
        .env("GROFF_NO_SGR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("groff (groff-base; scripts/test.sh installs it)");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(roff.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "groff warned:\n{stderr}");
    // Bold and underline are overstrikes in -Tutf8 output without SGR: take them out.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut plain = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    plain
}

#[test]
fn the_manual_renders_with_every_command_and_the_exit_codes() {
    let page = render(&netscript(&["man"]));
    for heading in ["NAME", "SYNOPSIS", "COMMANDS", "EXIT STATUS", "FILES", "ENVIRONMENT", "SEE ALSO"] {
        assert!(page.lines().any(|l| l.trim() == heading), "no {heading} in\n{page}");
    }
    for c in COMMANDS {
        assert!(page.contains(&format!("netscript {c}")), "no section for {c}");
    }
    assert!(page.contains("/run/netscript/journal/"), "FILES does not name the journal");
    assert!(page.contains("128+N") && page.contains("not confirmed in time"), "the exit codes are missing");
    // The hidden watchdog is no command for people.
    assert!(!page.contains("watchdog PID") && !page.contains("netscript watchdog"), "the watchdog is in the manual");
    // The options of `run` are under `run`, described.
    let run = &page[page.find("   netscript run\n").expect("a `netscript run` subsection")..];
    let run = &run[..run[1..].find("\n   netscript ").unwrap_or(run.len())];
    let words = run.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("--wait <DURATION> How long to wait for another netscript transaction"), "{run}");
}

#[test]
fn a_command_has_its_own_page() {
    let page = render(&netscript(&["man", "run"]));
    assert!(page.contains("netscript-run - Apply a script as one transaction"), "{page}");
    assert!(page.contains("--dry-run"), "{page}");
    Test::new().args(&["man", "frobnicate"]).status(2).stderr_contains("no command `frobnicate`").run();
}

/// The help of each command lists the options it reads, and only those.
#[test]
fn options_are_listed_only_where_they_apply() {
    let help = |c: &str| netscript(&[c, "--help"]);
    for c in ["check", "show", "export", "exec", "plan", "check-live", "status", "confirm", "completions", "man"] {
        let text = help(c);
        assert!(!text.contains("--wait") && !text.contains("--verbose"), "`{c} --help` lists options it ignores:\n{text}");
    }
    for c in ["show", "export", "exec", "status", "completions", "man"] {
        let text = help(c);
        assert!(!text.contains("--quiet") && !text.contains("--color"), "`{c} --help` lists options it ignores:\n{text}");
    }
    for c in ["run", "down", "recover", "repl"] {
        let text = help(c);
        assert!(text.contains("--wait") && text.contains("--verbose"), "`{c} --help` lacks its transaction options:\n{text}");
    }
    // Every argument is described: `run <FILE>` too.
    assert!(help("run").contains("The script (`-` for standard input, with --name)"));
    // Written before the command, as earlier versions had them, they still work.
    Test::new().file("a.ns", "netns a\n").args(&["-q", "check", "a.ns"]).stderr("").run();
    Test::new().file("a.ns", "netns a\n").args(&["check", "-q", "a.ns"]).stderr("").run();
    Test::new().file("a.ns", "netns a\n").args(&["check", "--wait", "1s", "a.ns"]).status(2).stderr_contains("unexpected argument '--wait'").run();
}
