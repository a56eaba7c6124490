//! Inline eBPF filters before anything changes (issue 17): the plan (rules and instruction
//! counts), `plan --format bpf` (the generated instructions) and the diagnostics of rules
//! eBPF cannot run, as golden files. No root: `plan --offline` and `check`.

use std::process::Command;

const SCRIPT: &str = "netns srv <
  veth eth0 <-> cli.eth0
  link eth0 <
    addr 10.40.0.2/24
    xdp mode generic < drop proto udp dport 9999; drop src 198.51.100.0/24 >
    bpf ingress < drop proto tcp dport 23 counter; pass src 2001:db8::/32 >
    bpf egress < mark 7 proto tcp sport 1000-2000; classify 10 mark 7; drop dst 203.0.113.9 counter >
  >
>
";

fn netscript(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_netscript")).current_dir(dir).args(args).env("NO_COLOR", "1").output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn dir(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("inline-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.ns")), text).unwrap();
    dir
}

#[test]
fn the_plan_shows_each_filter_with_its_rules_and_instructions() {
    let d = dir("filters", SCRIPT);
    let (ok, text) = netscript(&d, &["plan", "--offline", "filters.ns"]);
    assert!(ok, "{text}");
    assert!(text.contains("attach xdp inline rules (2 rules, "), "{text}");
    insta::assert_snapshot!("inline_plan", text);
    let (ok, text) = netscript(&d, &["plan", "--offline", "--format", "bpf", "filters.ns"]);
    assert!(ok, "{text}");
    assert_eq!(text.matches("\n; ").count() + 1, 3, "three programs: {text}");
    insta::assert_snapshot!("inline_instructions", text);
}

#[test]
fn what_ebpf_cannot_do_is_located() {
    let script = "netns srv <
  veth eth0 <-> cli.eth0
  link eth0 <
    xdp < mark 3 proto tcp; drop mark 1; reject >
    bpf ingress < drop ct new; pass iif eth0; masquerade; drop dport 80; drop proto icmp src 2001:db8::1 >
  >
>
";
    let d = dir("refused", script);
    let (ok, text) = netscript(&d, &["check", "refused.ns"]);
    assert!(!ok, "{text}");
    for code in ["bpf_rule", "missing_option", "mixed_families"] {
        assert!(text.contains(&format!("netscript::check::{code}")), "{code}: {text}");
    }
    insta::assert_snapshot!("inline_refused", text);
}
