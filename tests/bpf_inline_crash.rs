//! Crash safety of inline eBPF filters (`bpf ingress < rules >`, `xdp < rules >`) against
//! the real kernel: SIGKILL at every journal record of a run that attaches them to a
//! link of a namespace that existed before, and of an edit that replaces both programs
//! (other rules: other code), then `netscript recover`. The state must be exactly the
//! one before the run. Oracle: the sandbox's iproute2/tc dump (tc filters of every hook,
//! `ip -d link`'s XDP), with the kernel's program ids and load times left out — a
//! program recovery loads again from the journal's code is the same code (same tag and
//! name) under a new id.
//!
//! Kill points come from the test-only hook `NETSCRIPT_TEST_KILL_AFTER_RECORDS=N` (the
//! process SIGKILLs itself once its N-th journal record is durable).

mod support;
use support::crash::kill_at_every_record;
use support::Sandbox;


/// The namespace and its veth exist before any run.
const PRE: &str = "ip netns add bkc && ip -n bkc link set lo up && ip -n bkc link add k0 type veth peer name k1 \
    && ip -n bkc link set k0 up && ip -n bkc link set k1 up";

const SCRIPT: &str = "netns bkc <
  link k0 <
    bpf ingress < drop proto tcp dport 23 counter; pass proto tcp dport 22 >
    xdp mode generic < drop proto udp dport 9 >
  >
>
";

fn edited() -> String {
    SCRIPT.replace("dport 23 counter", "dport 2323 counter").replace("udp dport 9 >", "udp dport 99 >")
}

/// `text` without the values of `key` (a number): `"key":123` becomes `"key":_`.
fn without_numbers_of(text: &str, key: &str) -> String {
    let pattern = format!("\"{key}\":");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&pattern) {
        let spaced = &rest[at + pattern.len()..];
        let after = spaced.trim_start_matches(' ');
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        out.push_str(&rest[..at + pattern.len() + (spaced.len() - after.len())]);
        if digits > 0 {
            out.push('_');
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

fn state(sb: &Sandbox) -> String {
    without_numbers_of(&without_numbers_of(&sb.dump(), "id"), "load_time")
}

#[test]
fn sigkill_at_every_record_of_attaching_inline_filters_then_recover_restores_the_link() {
    let sb = Sandbox::new();
    sb.sh(PRE).ok();
    let script = sb.write_script("bk.ns", SCRIPT);
    let before = state(&sb);
    kill_at_every_record(&sb, &script, &before, state, sb.op_count(&script), "first run");
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let after = state(&sb);
    assert!(after.contains("netscript_tc") && after.contains("netscript_xdp"), "both programs attached: {after}");
    sb.assert_up_to_date(&script);
}

#[test]
fn sigkill_at_every_record_of_an_edit_then_recover_puts_back_the_programs_as_they_were() {
    let sb = Sandbox::new();
    sb.sh(PRE).ok();
    let script = sb.write_script("bk.ns", SCRIPT);
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let applied = state(&sb);
    sb.put(&script, &edited());
    kill_at_every_record(&sb, &script, &applied, state, sb.op_count(&script), "edit");
    // The edit then applies, and the same programs as the edited script alone make.
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    sb.assert_up_to_date(&script);
    let down = sb.netscript(&["down", &script]);
    assert!(down.success, "{}", down.stderr);
}
