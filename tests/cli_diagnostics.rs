//! Diagnostics for tools and exit codes, through the real binary.

mod common;
mod support;

use common::Test;

#[test]
fn check_json_lists_every_diagnostic_with_its_place() {
    let (stdout, _) = Test::new()
        .file("a.ns", "netns a < link eth0 < addr 10.0.0.1; shape 1mbps > >\nveht v0 <-> a.v1\n")
        .file("b.ns", "netns b < link eth0 < addr 10.0.0.1/24 > >\n")
        .args(&["check", "--format", "json", "a.ns", "b.ns", "missing.ns"])
        .status(1)
        .run();
    let all: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON array");
    let all = all.as_array().unwrap();
    let summary: Vec<(String, String, u64, u64)> = all
        .iter()
        .map(|d| (d["code"].as_str().unwrap().to_string(), d["severity"].as_str().unwrap().to_string(), d["line"].as_u64().unwrap_or(0), d["column"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(
        summary,
        [
            ("netscript::check::address_without_prefix".into(), "warning".into(), 1, 28),
            ("netscript::syntax::byte_rate_unit".into(), "warning".into(), 1, 44),
            ("netscript::syntax::unexpected".into(), "error".into(), 2, 1),
            ("netscript::io::unreadable".into(), "error".into(), 0, 0),
        ]
    );
    assert_eq!(all[2]["help"], "did you mean `veth`?");
    assert_eq!(all[2]["span"], serde_json::json!({ "start": 53, "end": 57 }));
    assert_eq!(all[2]["file"], "a.ns");
}

#[test]
fn warnings_do_not_fail_check() {
    Test::new()
        .file("w.ns", "netns a < link eth0 < addr 10.0.0.1; shape 1mbps > >\n")
        .args(&["check", "w.ns"])
        .status(0)
        .stderr_contains("w.ns:1:28: netscript::check::address_without_prefix")
        .stderr_contains("w.ns:1:44: netscript::syntax::byte_rate_unit")
        .stderr_contains("0 errors, 2 warnings")
        .stderr_contains("w.ns: ok")
        .run();
    let (stdout, _) = Test::new().file("w.ns", "netns a < link eth0 < addr 10.0.0.1 > >\n").args(&["check", "--format", "json", "w.ns"]).status(0).run();
    assert!(stdout.contains("address_without_prefix"), "{stdout}");
}

#[test]
fn show_of_a_missing_namespace_exits_one() {
    let sandbox = support::Sandbox::new();
    sandbox.sh("ip netns add present").ok();
    let shown = sandbox.netscript(&["show", "present", "nosuch"]);
    assert_eq!(shown.code, Some(1), "{shown:?}");
    assert!(shown.stderr.contains("no namespace `nosuch`"), "{shown:?}");
    assert!(shown.stdout.contains("netns present"), "{shown:?}");
    let json = sandbox.netscript(&["show", "--format", "json", "nosuch"]);
    assert_eq!(json.code, Some(1), "{json:?}");
    assert_eq!(sandbox.netscript(&["show", "present"]).code, Some(0));
}

/// `run` renders its diagnostics (here the plan's refusal) at any column: miette
/// panicked past column 65,535.
#[test]
fn run_renders_a_diagnostic_past_column_65535() {
    let sandbox = support::Sandbox::new();
    let script = sandbox.write_script("wide.ns", &format!("{}netns a < link nosuch0 >\n", " ".repeat(70_000)));
    let run = sandbox.netscript(&["run", &script]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("wide.ns:1:70016: netscript::plan::missing_interface"), "{}", &run.stderr[..run.stderr.len().min(2000)]);
    assert!(!run.stderr.contains("panicked"));
    assert_eq!(sandbox.sh("ls /run/netns").ok(), "", "nothing may be created");
}
