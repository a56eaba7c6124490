//! The command line, as a user sees it: exit codes and exact messages.

mod common;
use common::Test;

const CARD: &str = "netns ns1 < veth v0 <-> ns2.v1; addr 192.168.1.1/24; shape 1mbit; rule from 10.0.0.100 table 100 >\n";

#[test]
fn check_ok_exits_zero() {
    Test::new().file("card.ns", CARD).args(&["check", "card.ns"]).stderr("card.ns: ok\n").run();
}

#[test]
fn check_reads_stdin() {
    Test::new().args(&["check", "-"]).stdin(CARD).stderr("-: ok\n").run();
}

#[test]
fn broken_script_exits_one_with_every_error() {
    let (_, stderr) = Test::new()
        .file("bad.ns", "netns a < veth averyveryverylongname <-> b.v1\n  mtu 20 >\nexpect c reach 10.0.0.1\n")
        .args(&["check", "bad.ns"])
        .status(1)
        .stderr_contains("bad.ns:1:16: netscript::check::name_too_long")
        .stderr_contains("bad.ns:3:8: netscript::check::unknown_namespace")
        .stderr_contains("3 errors, 0 warnings")
        .run();
    // `mtu` has no current interface once the veth is rejected: reported too, not hidden.
    assert!(stderr.contains("netscript::check::no_current_interface"), "{stderr}");
}

#[test]
fn missing_file_is_an_error() {
    Test::new().args(&["check", "nope.ns"]).status(1).stderr_contains("netscript: cannot read `nope.ns`").run();
}

#[test]
fn usage_error_exits_two() {
    Test::new().args(&["frobnicate"]).status(2).run();
}

#[test]
fn dry_run_shows_every_object_with_its_line() {
    Test::new()
        .file("card.ns", CARD)
        .args(&["run", "--dry-run", "--offline", "card.ns"])
        .stdout_contains("create netns ns1")
        .stdout_contains("create netns ns2 (implied: named as a veth peer)")
        .stdout_contains("create veth ns1.v0 <-> ns2.v1")
        .stdout_contains("add address 192.168.1.1/24 to ns1.v0")
        .run();
    // Each line names the statement it comes from.
    let (stdout, _) = Test::new().file("card.ns", CARD).args(&["plan", "--offline", "card.ns"]).run();
    let line = |needle: &str| stdout.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no line with {needle:?} in\n{stdout}")).to_string();
    assert!(line("tbf rate 1mbit burst 10kb latency 70ms").ends_with("# card.ns:1:54"));
    assert!(line("add rule priority 32765 from 10.0.0.100 lookup 100 in ns1").ends_with("# card.ns:1:67"));
    assert!(line("create veth ns1.v0 <-> ns2.v1").ends_with("# card.ns:1:18"));
}

#[test]
fn plan_formats() {
    let (json, _) = Test::new().file("card.ns", CARD).args(&["plan", "--offline", "--format", "json", "card.ns"]).run();
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(value["operations"].as_array().unwrap().len(), 8);
    assert_eq!(value["operations"][0]["op"], "create_netns");
    Test::new()
        .file("card.ns", CARD)
        .args(&["plan", "--offline", "--format", "dot", "card.ns"])
        .stdout_contains("digraph plan {")
        .stdout_contains("op0 -> op1;")
        .run();
}

#[test]
fn color_only_when_asked_or_on_a_terminal() {
    let (_, plain) = Test::new().file("b.ns", "netns a < mtu 1500 >\n").args(&["check", "b.ns"]).status(1).run();
    assert!(!plain.contains('\u{1b}'), "escape codes in piped output: {plain}");
    let (_, colored) = Test::new().file("b.ns", "netns a < mtu 1500 >\n").env("NO_COLOR", "").args(&["--color", "always", "check", "b.ns"]).status(1).run();
    assert!(colored.contains('\u{1b}'), "no escape codes with --color always");
}

#[test]
fn without_privileges_nothing_is_tried() {
    // Root without CAP_NET_ADMIN and CAP_SYS_ADMIN (dropped from the bounding set, so the
    // exec'd netscript does not get them): a clear error before anything is tried.
    let dir = std::env::temp_dir().join(format!("netscript-priv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("card.ns");
    std::fs::write(&script, CARD).unwrap();
    // In its own namespaces with a tmpfs on /run, so that even a regression could not
    // touch the host.
    let output = std::process::Command::new("unshare")
        .args(["--net", "--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs tmpfs /run && exec setpriv --bounding-set=-net_admin,-sys_admin --inh-caps=-all -- \"$0\" run \"$1\"")
        .arg(env!("CARGO_BIN_EXE_netscript"))
        .arg(&script)
        .env("NO_COLOR", "1")
        .output()
        .expect("setpriv (util-linux) runs");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("CAP_NET_ADMIN") && stderr.contains("CAP_SYS_ADMIN"), "{stderr}");
    assert!(stderr.contains("nothing was changed"), "{stderr}");
}
