//! Rule selectors by DSCP, IPv6 flow label and masked ports (issue 24; the kernel's
//! fib_rule_tests.sh cases of docs/BREADTH-RULES.md): what netscript makes equals what
//! `ip rule` makes from the same words, packets take the table the rule names as the
//! selftest probes them (`ip route get ... tos/flowlabel/sport/dport`, output and
//! input), a second run changes nothing, a rule changed by hand is put back, an edit
//! converges and `down` gives back the start.
//!
//! Oracle: iproute2 6.15 from Debian bookworm-backports (scripts/iproute2-new.sh fetches
//! it into a cache and prints its path; the system's iproute2 6.1 can neither set nor
//! show these selectors), independent of netscript. The kernel must have them (6.15 and
//! later; the full-kernel lane's Debian 6.1 kernel has not, so these run here only).

mod support;
use std::sync::OnceLock;
use support::Sandbox;

/// The newer `ip`, fetched once for the whole binary.
fn ip() -> &'static str {
    static IP: OnceLock<String> = OnceLock::new();
    IP.get_or_init(|| {
        let out = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/iproute2-new.sh")).output().expect("cannot run scripts/iproute2-new.sh");
        assert!(out.status.success(), "scripts/iproute2-new.sh failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

/// The fib_rule_tests.sh rules, each to its own table (so that a probe names the rule
/// that took it), on a veth (this kernel has no dummy) with the selftest's addresses.
const SCRIPT: &str = "
netns sel <
  veth d0 <-> peer.d1 < addr 192.51.100.1/24; addr 2001:db8:1::1/64 >
  route default via 192.51.100.2 dev d0 onlink table 101
  route default via 192.51.100.2 dev d0 onlink table 102
  route default via 192.51.100.2 dev d0 onlink table 103
  route default via 2001:db8:1::2 dev d0 onlink table 111
  route default via 2001:db8:1::2 dev d0 onlink table 112
  route default via 2001:db8:1::2 dev d0 onlink table 113
  route default via 2001:db8:1::2 dev d0 onlink table 114
  sysctl net.ipv4.ip_forward = 1
  sysctl net.ipv4.conf.d0.rp_filter = 0
  rule dscp 0x3f priority 101 table 101
  rule dscp 0x0f/0x0f priority 102 table 102
  rule sport 0x0f00/0xff00 dport 0x000f/0x00ff priority 103 table 103
  rule from ::/0 dscp 0x3f priority 111 table 111
  rule from ::/0 dscp 0x0f/0x0f priority 112 table 112
  rule from ::/0 sport 0x0f00/0xff00 dport 0x000f/0x00ff priority 113 table 113
  rule from ::/0 flowlabel 0xfffff priority 114 table 114
  rule ipproto tcp dport 22/0xffff priority 104 table 103
  rule from ::/0 ipproto udp sport 53 priority 115 table 113
>
netns peer
";

/// The rules in iproute2's words, with netscript's protocol (110). A single port has
/// the full mask whether one is written or not (the kernel reports 0xffff for both).
fn iproute2_rules(ip: &str) -> String {
    format!(
        "
{ip} -n sel rule add dscp 0x3f priority 101 lookup 101 protocol 110
{ip} -n sel rule add dscp 0x0f/0x0f priority 102 lookup 102 protocol 110
{ip} -n sel rule add sport 0x0f00/0xff00 dport 0x000f/0x00ff priority 103 lookup 103 protocol 110
{ip} -n sel -6 rule add dscp 0x3f priority 111 lookup 111 protocol 110
{ip} -n sel -6 rule add dscp 0x0f/0x0f priority 112 lookup 112 protocol 110
{ip} -n sel -6 rule add sport 0x0f00/0xff00 dport 0x000f/0x00ff priority 113 lookup 113 protocol 110
{ip} -n sel -6 rule add flowlabel 0xfffff priority 114 lookup 114 protocol 110
{ip} -n sel rule add ipproto tcp dport 22 priority 104 lookup 103 protocol 110
{ip} -n sel -6 rule add ipproto udp sport 53/0xffff priority 115 lookup 113 protocol 110
"
    )
}

fn rules(sb: &Sandbox, family: &str) -> String {
    sb.sh(&format!("{} -n sel {family} -json rule show", ip())).ok()
}

#[test]
fn masked_selectors_match_iproute2() {
    let reference = Sandbox::new();
    reference.sh(&format!("ip netns add sel; ip -n sel link set lo up\n{}", iproute2_rules(ip()))).ok();
    let ours = Sandbox::new();
    let script = ours.write_script("masked.ns", SCRIPT);
    let run = ours.netscript(&["run", &script]);
    assert!(run.success, "run failed: {}", run.stderr);
    for family in ["-4", "-6"] {
        assert_eq!(rules(&ours, family), rules(&reference, family), "the {family} rules differ");
    }
    let v6 = rules(&ours, "-6");
    for shown in ["\"dscp\":\"63\",\"dscp_mask\":\"0x3f\"", "\"dscp\":\"15\",\"dscp_mask\":\"0xf\"", "\"sport_mask\":\"0xff00\"", "\"dport_mask\":\"0xff\"", "\"flowlabel\":\"0xfffff\",\"flowlabel_mask\":\"0xfffff\""] {
        assert!(v6.contains(shown), "{shown} is in the dump: {v6}");
    }
    ours.assert_up_to_date(&script);
}

/// `ip route get` through the sandbox's rules: whether the lookup ended in `table`.
fn takes(sb: &Sandbox, v6: bool, probe: &str, table: u32) -> bool {
    let (family, dst) = if v6 { ("-6", "2001:db8:1::2") } else { ("-4", "192.51.100.2") };
    let out = sb.run(ip(), &["-n", "sel", family, "route", "get", dst].into_iter().chain(probe.split_whitespace()).collect::<Vec<_>>());
    out.stdout.contains(&format!("table {table} "))
}

#[track_caller]
fn probe(sb: &Sandbox, v6: bool, table: u32, matching: &str, other: &str) {
    assert!(takes(sb, v6, matching, table), "IPv{} `{matching}` goes to table {table}", if v6 { 6 } else { 4 });
    assert!(!takes(sb, v6, other, table), "IPv{} `{other}` does not go to table {table}", if v6 { 6 } else { 4 });
}

#[test]
fn packets_take_the_table_the_selectors_name() {
    // fib_rule_tests.sh's probes, output and input (`from SRC iif DEV`).
    let sb = Sandbox::new();
    let script = sb.write_script("masked.ns", SCRIPT);
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "run failed: {}", run.stderr);
    for (v6, src, base) in [(false, "192.51.100.3", 100), (true, "2001:db8:1::3", 110)] {
        for input in ["", &format!("from {src} iif d0 ")] {
            probe(&sb, v6, base + 1, &format!("{input}tos 0xfc"), &format!("{input}tos 0xf4"));
            probe(&sb, v6, base + 2, &format!("{input}tos 0x7c"), &format!("{input}tos 0x78"));
        }
        probe(&sb, v6, base + 3, "sport 0x0f11 dport 0x220f", "sport 0x1f11 dport 0x221f");
    }
    for input in ["", "from 2001:db8:1::3 iif d0 "] {
        probe(&sb, true, 114, &format!("{input}flowlabel 0xfffff"), &format!("{input}flowlabel 0xf"));
    }
    // An edit converges: the flow label rule becomes the masked one of the selftest.
    let edited = SCRIPT.replace("flowlabel 0xfffff", "flowlabel 0x08000/0x08000");
    sb.put(&script, &edited);
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "the edit failed: {}", run.stderr);
    let now = rules(&sb, "-6");
    assert!(now.contains("\"flowlabel\":\"0x8000\",\"flowlabel_mask\":\"0x8000\"") && !now.contains("\"flowlabel\":\"0xfffff\""), "the new flow label only: {now}");
    for input in ["", "from 2001:db8:1::3 iif d0 "] {
        probe(&sb, true, 114, &format!("{input}flowlabel 0xfffff"), &format!("{input}flowlabel 0xf7fff"));
    }
    sb.assert_up_to_date(&script);
}

#[test]
fn a_rule_changed_by_hand_is_put_back_and_down_restores_the_start() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("masked.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();
    let made = (rules(&sb, "-4"), rules(&sb, "-6"));
    // By hand: the masked DSCP rule loses its mask (the full one instead), the port rule
    // its source port's mask, the flow label rule its label; each keeps its priority.
    let ip = ip();
    sb.sh(&format!(
        "{ip} -n sel rule del priority 102
{ip} -n sel rule add dscp 0x0f priority 102 lookup 102 protocol 110
{ip} -n sel -6 rule del priority 113
{ip} -n sel -6 rule add sport 0x0f00 dport 0x000f/0x00ff priority 113 lookup 113 protocol 110
{ip} -n sel -6 rule del priority 114
{ip} -n sel -6 rule add flowlabel 0xffff0 priority 114 lookup 114 protocol 110"
    ))
    .ok();
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "the repair failed: {}", run.stderr);
    let (v4, v6) = (rules(&sb, "-4"), rules(&sb, "-6"));
    for (family, want, now) in [("-4", &made.0, &v4), ("-6", &made.1, &v6)] {
        let want: Vec<serde_json::Value> = serde_json::from_str(want).unwrap();
        let now: Vec<serde_json::Value> = serde_json::from_str(now).unwrap();
        for rule in &want {
            assert!(now.contains(rule), "{family}: netscript's rule {rule} is back: {now:?}");
        }
    }
    sb.assert_up_to_date(&script);
    sb.netscript(&["down", &script]).ok();
    // The namespace is netscript's: down removes it, with the hand-made rules in it.
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

#[test]
fn export_writes_the_selectors_back_as_a_script_states_them() {
    // Rules made by iproute2 (not netscript's): `export` states them, and the export
    // passes `check`.
    let sb = Sandbox::new();
    let ip = ip();
    sb.sh(&format!(
        "ip netns add x
{ip} -n x rule add dscp 0x0f/0x0f priority 10 lookup 100
{ip} -n x -6 rule add flowlabel 0x8000/0x8000 sport 0x0f00/0xff00 priority 11 lookup 100
{ip} -n x -6 rule add dscp 63 dport 300-400 priority 12 lookup 100"
    ))
    .ok();
    let export = sb.netscript(&["export"]).ok();
    for line in [
        "rule dscp 0xf/0xf priority 10 lookup 100",
        "rule from ::/0 sport 0xf00/0xff00 flowlabel 0x8000/0x8000 priority 11 lookup 100",
        "rule from ::/0 dport 300-400 dscp 63 priority 12 lookup 100",
    ] {
        assert!(export.lines().any(|l| l.trim() == line), "`{line}` is in the export:\n{export}");
    }
    let path = sb.write_script("export.ns", &export);
    let check = sb.netscript(&["check", &path]);
    assert!(check.success, "the export checks: {check:?}");
}
