//! `netscript repl` driven through a real pseudo-terminal (rexpect), the REPL process
//! running inside a sandbox; and its piped mode against `netscript run`.

mod support;
use rexpect::reader::Options;
use rexpect::session::PtySession;
use std::process::Command;
use support::Sandbox;

const TIMEOUT_MS: u64 = 20_000;

/// The REPL, in a pty, inside the sandbox; history under the sandbox's private /run.
fn spawn(sb: &Sandbox, args: &[&str]) -> PtySession {
    let mut command = Command::new("nsenter");
    command
        .args(["-t", &sb.pid().to_string(), "-n", "-m", "--", "env", "TERM=xterm", "XDG_STATE_HOME=/run/state", "NO_COLOR="])
        .arg(env!("CARGO_BIN_EXE_netscript"))
        .args(args);
    let options = Options::new().timeout_ms(Some(TIMEOUT_MS)).strip_ansi_escape_codes(false);
    rexpect::session::spawn_with_options(command, options).expect("cannot spawn the REPL in a pty")
}

/// Everything the terminal showed, kept across expectations.
///
/// Keys are sent only once the editor waits for them: rustyline reads the terminal
/// through a buffer that a finished line drops, so keys typed ahead of a new prompt could
/// be lost (as with any readline). Each prompt starts with "bracketed paste on"
/// (`ESC[?2004h`); `finished` counts the inputs ended so far.
struct Screen {
    p: PtySession,
    seen: String,
    finished: usize,
}

const PROMPT_READY: &str = "\x1b[?2004h";

impl Screen {
    fn new(p: PtySession) -> Screen {
        Screen { p, seen: String::new(), finished: 0 }
    }
    #[track_caller]
    fn expect(&mut self, needle: &str) -> String {
        match self.p.exp_string(needle) {
            Ok(before) => {
                self.seen.push_str(&before);
                self.seen.push_str(needle);
                before
            }
            Err(e) => panic!("waiting for {needle:?}: {e}\n--- the terminal so far ---\n{}", self.seen),
        }
    }
    /// Waits until the editor reads the next input.
    fn ready(&mut self) {
        while self.seen.matches(PROMPT_READY).count() <= self.finished {
            self.expect(PROMPT_READY);
        }
    }
    /// Types `text` and Enter.
    fn line(&mut self, text: &str) {
        self.ready();
        self.p.send_line(text).unwrap();
        self.finished += 1;
    }
    /// Types keys without ending the input.
    fn send(&mut self, text: &str) {
        self.ready();
        self.p.send(text).unwrap();
        self.p.flush().unwrap();
    }
    /// Ctrl-C or Ctrl-D: both end the input.
    fn control(&mut self, c: char) {
        self.ready();
        self.p.send_control(c).unwrap();
        self.finished += 1;
    }
}

fn namespaces(sb: &Sandbox) -> Vec<String> {
    let out = sb.run("ip", &["-json", "netns", "list"]).ok();
    let v: serde_json::Value = if out.trim().is_empty() { serde_json::json!([]) } else { serde_json::from_str(&out).unwrap() };
    let mut names: Vec<String> = v.as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap().to_string()).collect();
    names.sort();
    names
}

#[test]
fn a_session_types_a_block_plans_applies_and_undoes() {
    let sb = Sandbox::new();
    let mut s = Screen::new(spawn(&sb, &["repl"]));
    s.expect("Ctrl-D leaves");

    // A block over three lines, with the continuation prompt until it closes.
    s.line("netns lab1 <");
    s.expect("...> ");
    s.line("  veth v0 <-> lab2.v1 < addr 10.7.0.1/24 >");
    s.expect("...> ");
    s.line(">");
    s.expect("(6 pending)");
    assert!(s.seen.contains("\x1b[1;34mnetns\x1b[0m"), "the keyword `netns` is not highlighted:\n{:?}", s.seen);
    assert!(s.seen.contains("\x1b[1;34mveth\x1b[0m"), "the keyword `veth` is not highlighted:\n{:?}", s.seen);
    assert!(namespaces(&sb).is_empty(), "a bare statement must not apply at once");

    s.line(":plan");
    let plan = s.expect("# <session>:2:");
    assert!(plan.contains("plan: 6 operations in 2 namespaces"), "{plan}");
    s.expect("add address 10.7.0.1/24 to lab1.v0");
    s.line(":apply");
    s.expect("applied 6 operations");
    let addr = sb.run("ip", &["-json", "-n", "lab1", "addr", "show", "dev", "v0"]).ok();
    assert!(addr.contains("\"local\":\"10.7.0.1\""), "{addr}");
    assert_eq!(namespaces(&sb), vec!["lab1", "lab2"]);

    // A typo: a diagnostic pointing into the line just typed; the session goes on.
    s.line("netns lab3 < bridg br0 >");
    let diagnostic = s.expect("rejected: the session is unchanged");
    assert!(diagnostic.contains("<input>:1:"), "{diagnostic}");
    assert!(diagnostic.contains("bridg"), "{diagnostic}");
    s.line(":list");
    let listing = s.expect("   3 = >");
    assert!(listing.contains("   1 = netns lab1 <"), "{listing}");
    s.line(":plan");
    s.expect("up to date: nothing to do");

    s.line(":undo");
    let undone = s.expect(" statement(s) dropped from the session");
    assert!(undone.contains("undone: ") && undone.ends_with(" operation(s) reverted, 1"), "{undone}");
    assert!(namespaces(&sb).is_empty(), "undo left {:?}", namespaces(&sb));

    // Ctrl-C clears the input: nothing was accepted.
    s.send("netns typed-then-cleared");
    s.expect("typed-then-cleared");
    s.control('c');
    s.line(":list");
    s.line(":plan");
    let after = s.expect("up to date: nothing to do");
    assert!(!after.contains("   1 "), "Ctrl-C left a statement in the session: {after}");

    // Tab completes a live namespace name.
    sb.sh("ip netns add tabns-zq1").ok();
    s.send(":show tabns-z");
    s.send("\t");
    s.expect("q1");
    s.line("");
    s.expect("netns tabns-zq1");
    s.expect("lo (device)");

    // Ctrl-D with something pending asks first; `y` leaves without applying it.
    s.line("netns never-applied");
    s.expect("(2 pending)");
    s.control('d');
    s.expect("leave and discard them? [y/N]");
    s.line("y");
    s.p.exp_eof().unwrap();
    assert_eq!(namespaces(&sb), vec!["tabns-zq1"]);
    let history = sb.sh("cat /run/state/netscript/history").ok();
    assert!(history.contains(":undo"), "{history}");
}

#[test]
fn no_arguments_on_a_terminal_open_the_repl_and_autocommit_applies_at_once() {
    let sb = Sandbox::new();
    let mut s = Screen::new(spawn(&sb, &[]));
    s.expect("Ctrl-D leaves");
    s.line(":autocommit on");
    s.expect("autocommit on");
    s.line("netns auto1 < bridge br0 < up > >");
    s.expect("applied ");
    assert_eq!(namespaces(&sb), vec!["auto1"]);
    // A statement the kernel refuses is rolled back and dropped; the session goes on.
    s.line("netns auto1 < link nosuch0 < mtu 1400 > >");
    s.expect("dropped from the session");
    s.line(":list");
    s.expect("   1 = netns auto1 < bridge br0 < up > >");
    s.control('d');
    s.expect("netscript down /run/netscript/repl/session-");
    s.p.exp_eof().unwrap();
    // What the session applied is recorded: `netscript down` on its script removes it.
    let script = sb.sh("ls /run/netscript/repl/").ok();
    let path = format!("/run/netscript/repl/{}", script.trim());
    sb.netscript(&["down", &path]).ok();
    assert!(namespaces(&sb).is_empty());
}



#[test]
fn a_piped_script_gives_the_same_state_as_run() {
    let seed = include_str!("../examples/seed.ns");
    let by_run = Sandbox::new();
    by_run.put("/run/seed.ns", seed);
    by_run.netscript(&["run", "/run/seed.ns"]).ok();
    let piped = Sandbox::new();
    piped.put("/run/seed.ns", seed);
    let run = piped.sh(&format!("{} repl < /run/seed.ns", env!("CARGO_BIN_EXE_netscript")));
    assert!(run.success, "piped repl failed: {}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains('\x1b') && !run.stderr.contains('\x1b'), "colour in piped mode: {run:?}");
    assert!(!run.stdout.contains("netscript>"), "a prompt in piped mode: {}", run.stdout);
    assert_eq!(support::without_macs(&piped.dump()), support::without_macs(&by_run.dump()), "piped REPL and run differ");
}

#[test]
fn piped_mode_stops_at_the_first_failed_command() {
    let sb = Sandbox::new();
    let bin = env!("CARGO_BIN_EXE_netscript");
    // A typo: exit 1, the diagnostic names the line of standard input, nothing applied.
    let typo = sb.sh(&format!("printf 'netns p1\\n\\nnetns p2 <\\n  bridg br0\\n>\\nnetns p3\\n' | {bin} repl"));
    assert_eq!(typo.code, Some(1), "{typo:?}");
    assert!(typo.stderr.contains("<stdin>:4:"), "{}", typo.stderr);
    // An unknown command: a usage error.
    let bogus = sb.sh(&format!("printf 'netns p1\\n:bogus\\n' | {bin} repl"));
    assert_eq!(bogus.code, Some(2), "{bogus:?}");
    assert!(namespaces(&sb).is_empty());
    // Commands run in order; :apply applies mid-stream, the rest is applied at the end.
    let ok = sb.sh(&format!("printf 'netns p1\\n:apply\\n:show p1\\nnetns p2\\n' | {bin} repl"));
    assert!(ok.success, "{ok:?}");
    assert!(ok.stdout.contains("netns p1\n  lo (device)"), "{}", ok.stdout);
    assert_eq!(namespaces(&sb), vec!["p1", "p2"]);
    // Without a terminal, no arguments stay a usage error.
    let bare = sb.sh(&format!("{bin} < /dev/null"));
    assert_eq!(bare.code, Some(2), "{bare:?}");
}

#[test]
fn exec_runs_a_command_inside_a_namespace() {
    let sb = Sandbox::new();
    let bin = env!("CARGO_BIN_EXE_netscript");
    sb.put("/run/x.txt", "netns rx1 < bridge brx < addr 10.44.0.1/24 > >\n:apply\n:exec rx1 ip -o addr show dev brx\n:quit\n");
    let out = sb.sh(&format!("{bin} repl < /run/x.txt"));
    assert!(out.success, "{out:?}");
    assert!(out.stdout.contains("10.44.0.1/24"), "the command ran inside rx1: {}", out.stdout);
    sb.put("/run/y.txt", ":exec rx1 ip link show dev nonexistent\n");
    let failing = sb.sh(&format!("{bin} repl < /run/y.txt"));
    assert!(!failing.success, "a failing command fails the piped session: {failing:?}");
}
