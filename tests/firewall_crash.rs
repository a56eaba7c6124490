//! Crash safety of `firewall` against the real kernel, each test in its own sandbox:
//! SIGKILL at every journal record of a run that makes firewall tables, and of an edit of
//! existing ones, then `netscript recover`; and SIGKILL at random moments (a fixed seed)
//! of slowed runs. The outcome must be exactly the state before the run or, when the
//! run had committed, the state after it. The oracles: `nft -j list ruleset` of every
//! namespace (normalised: without handles and version information; netscript's rule
//! comments kept), which also shows that a user's own table is never touched, and the
//! iproute2/tc dump of the sandbox.
//!
//! Kill points come from the test-only hook `NETSCRIPT_TEST_KILL_AFTER_RECORDS=N` (the
//! process SIGKILLs itself once its N-th journal record is durable), slow runs from
//! `NETSCRIPT_TEST_DELAY_PER_OP_MS` (see `src/run/journal.rs`).

mod support;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::crash::{kill_at_every_record, KILL};
use support::{assert_same_dump, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_netscript");
const DELAY: &str = "NETSCRIPT_TEST_DELAY_PER_OP_MS";

/// The user's own table in `fwc`, made with nft before any run: never to be touched.
const USER_TABLE: &str = "table inet mine {\n  chain input { type filter hook input priority 10; policy accept;\n    tcp dport 8080 counter accept\n  }\n}";

/// `fwc` exists before the runs (holding the user's table); `fwd` is made by them.
const PRE: &str = "ip netns add fwc && ip -n fwc link set lo up && ip netns exec fwc nft -f /run/user.nft";

/// Two tables (one in a namespace that exists, one in a namespace the run makes), a
/// NAT chain, and links and addresses around them: 8 operations.
const SCRIPT: &str = "
netns fwc <
  veth v0 <-> fwd.w0 < addr 10.81.0.1/24 >
  firewall input policy drop <
    accept ct established,related
    accept proto tcp dport 22
    accept proto tcp dport 80 counter
    drop proto udp dport 53
    accept proto icmp
  >
  firewall postrouting < masquerade oif v0 >
>
netns fwd <
  link w0 < addr 10.81.0.2/24 >
  firewall output < mark 7 proto udp dport 9999 >
  firewall prerouting < dnat to 10.81.0.9:80 proto tcp dport 8080 >
>
";

/// SCRIPT edited: in `fwc` a rule changed, one removed, one added, the policy back to
/// accept, the NAT chain gone and a forward chain new; `fwd` no longer declares a
/// firewall (its table goes) and its address is renumbered.
fn edited() -> String {
    SCRIPT
        .replace("firewall input policy drop", "firewall input")
        .replace("accept proto tcp dport 22\n", "accept proto tcp dport 2222\n")
        .replace("    drop proto udp dport 53\n", "")
        .replace("    accept proto icmp\n", "    accept proto icmp\n    reject proto tcp dport 23\n")
        .replace("firewall postrouting < masquerade oif v0 >", "firewall forward < drop iif v0 >")
        .replace("  firewall output < mark 7 proto udp dport 9999 >\n  firewall prerouting < dnat to 10.81.0.9:80 proto tcp dport 8080 >\n", "")
        .replace("addr 10.81.0.2/24", "addr 10.81.0.3/24")
}

fn sandbox() -> (Sandbox, String) {
    let sb = Sandbox::new();
    sb.put("/run/user.nft", USER_TABLE);
    sb.sh(PRE).ok();
    let script = sb.write_script("fw.ns", SCRIPT);
    (sb, script)
}

/// The whole observable state: the sandbox dump, nftables rulesets included.
fn state(sb: &Sandbox) -> String {
    support::without_macs(&sb.dump())
}

fn firewall_ops(sb: &Sandbox, script: &str) -> usize {
    let json = sb.netscript(&["plan", "--format", "json", script]).ok();
    json.matches("\"firewall_changes\"").count()
}

#[test]
fn sigkill_at_every_record_of_a_run_making_tables_then_recover_restores_the_rulesets() {
    let (sb, script) = sandbox();
    assert_eq!(firewall_ops(&sb, &script), 2, "the run must make two tables");
    let before = state(&sb);
    assert!(before.contains("\"mine\""), "the user's table must be there: {before}");
    kill_at_every_record(&sb, &script, &before, state, sb.op_count(&script), "first run");
    // Killed right after the commit record: recover rolls forward to the applied state.
    let ops = sb.op_count(&script);
    sb.netscript(&["run", &script]).ok();
    let after = state(&sb);
    assert!(after.contains("accept proto tcp dport 22") && after.contains("\"mine\""), "{after}");
    sb.netscript(&["down", &script]).ok();
    assert_same_dump(&before, &state(&sb), "down");
    let run = sb.netscript_env(&[(KILL, (2 * ops + 1).to_string())], &["run", &script]);
    assert!(run.code.is_none(), "not killed at the commit record: {}", run.stderr);
    let recover = sb.netscript(&["recover"]);
    assert!(recover.success && recover.stderr.contains("had committed"), "{}", recover.stderr);
    assert_same_dump(&after, &state(&sb), "killed at the commit record, rolled forward");
    sb.assert_up_to_date(&script);
}

#[test]
fn sigkill_at_every_record_of_an_edit_then_recover_restores_the_tables_as_they_were() {
    let (sb, script) = sandbox();
    sb.netscript(&["run", &script]).ok();
    let applied = state(&sb);
    sb.put(&script, &edited());
    assert_eq!(firewall_ops(&sb, &script), 2, "the edit must set one table and delete the other");
    kill_at_every_record(&sb, &script, &applied, state, sb.op_count(&script), "edit");
    // The edit then applies, and its rulesets are what the edited script alone makes.
    sb.netscript(&["run", &script]).ok();
    let edited_state = state(&sb);
    assert!(edited_state.contains("accept proto tcp dport 2222") && !edited_state.contains("dnat"), "{edited_state}");
    let (alone, alone_script) = sandbox();
    alone.put(&alone_script, &edited());
    alone.netscript(&["run", &alone_script]).ok();
    assert_same_dump(&state(&alone), &edited_state, "the edit after the kills vs the edited script alone");
}

/// xorshift64: a fixed sequence of kill delays.
struct Draw(u64);
impl Draw {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// Starts `run script` slowed down, SIGKILLs it after a drawn delay, recovers, and
/// returns which of `before` and `after` the state is (panics if it is neither).
fn kill_at_a_moment(sb: &Sandbox, script: &str, delay_ms: u64, before: &str, after: &str, what: &str) -> bool {
    let mut child = Command::new("nsenter")
        .args(["-t", &sb.pid().to_string(), "-n", "-m", "--", "env"])
        .args([&format!("{DELAY}=25"), BIN, "run", script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(delay_ms));
    // nsenter and env exec: the child's pid is netscript's.
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGKILL);
    let status = child.wait().unwrap();
    let recover = sb.netscript(&["recover"]);
    assert!(recover.success, "{what}: killed after {delay_ms} ms ({status:?}), recover failed: {}", recover.stderr);
    let now = state(sb);
    if now == before {
        false
    } else if now == after {
        true
    } else {
        assert_same_dump(before, &now, &format!("{what}: killed after {delay_ms} ms ({:?} in), recovered: neither before nor after", started.elapsed()));
        unreachable!()
    }
}

#[test]
fn sigkill_at_random_moments_of_runs_and_edits_ends_before_or_after() {
    let (sb, script) = sandbox();
    let before = state(&sb);
    sb.netscript(&["run", &script]).ok();
    let applied = state(&sb);
    sb.put(&script, &edited());
    sb.netscript(&["run", &script]).ok();
    let edited_state = state(&sb);
    sb.netscript(&["down", &script]).ok();
    assert_same_dump(&before, &state(&sb), "down of the edit");
    // A run takes 8 ops × 25 ms and more: delays up to 400 ms cut it anywhere, or not at all.
    let mut draw = Draw(0xf12e_3a11);
    let (mut cut, mut whole) = (0, 0);
    for i in 0..8 {
        sb.put(&script, SCRIPT);
        let delay = draw.next(400);
        if kill_at_a_moment(&sb, &script, delay, &before, &applied, &format!("first run #{i}")) {
            whole += 1;
        } else {
            cut += 1;
            sb.netscript(&["run", &script]).ok();
        }
        assert_same_dump(&applied, &state(&sb), "applied again");
        sb.put(&script, &edited());
        let delay = draw.next(400);
        if kill_at_a_moment(&sb, &script, delay, &applied, &edited_state, &format!("edit #{i}")) {
            whole += 1;
        } else {
            cut += 1;
        }
        sb.netscript(&["down", &script]).ok();
        assert_same_dump(&before, &state(&sb), "down");
    }
    assert!(cut >= 4, "only {cut} of 16 kills cut a run: the delays prove little");
    eprintln!("{cut} runs cut and rolled back, {whole} had committed");
}
