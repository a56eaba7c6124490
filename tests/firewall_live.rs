//! `firewall` cases that only a live kernel shows, each in its own sandbox: the refusals
//! (a table `inet netscript` made by hand; a second script declaring rules in a
//! namespace whose table another script made), a rule edited by hand under netscript's
//! comment (found by its expressions, shown by `plan`, repaired by `run`), and `show`
//! of a namespace's firewall (text, `--stats`, JSON; golden files). Oracle: `nft` from
//! Debian's nftables. Regenerate the golden files with
//! `INSTA_UPDATE=always cargo test --test firewall_live`.

mod support;
use serde_json::Value;
use support::Sandbox;

/// `nft -j list ruleset` of namespace `ns`, as nft prints it (handles included).
fn raw(sb: &Sandbox, ns: &str) -> String {
    sb.sh(&format!("ip netns exec {ns} nft -j list ruleset")).ok()
}

/// `nft list chain inet netscript CHAIN` in `ns`, without the counters' values.
fn chain(sb: &Sandbox, ns: &str, chain: &str) -> String {
    let text = sb.sh(&format!("ip netns exec {ns} nft list chain inet netscript {chain}")).ok();
    text.lines()
        .map(|l| match l.split_once(" packets ") {
            // `counter packets N bytes M rest`: the values go, the rest stays.
            Some((head, tail)) => format!("{head} {}\n", tail.splitn(4, ' ').nth(3).unwrap_or("")),
            None => format!("{l}\n"),
        })
        .collect()
}

#[test]
fn a_table_made_by_hand_is_refused_and_left_untouched() {
    let sb = Sandbox::new();
    sb.sh("ip netns add lab && ip netns exec lab nft -f - <<'EOF'\ntable inet netscript {\n  chain input { type filter hook input priority 0; policy accept;\n    tcp dport 8080 accept\n  }\n}\nEOF").ok();
    let before = raw(&sb, "lab");
    let script = sb.write_script("fw.ns", "netns lab < firewall input policy drop < accept proto tcp dport 22 > >\n");
    for command in ["plan", "run"] {
        let r = sb.netscript(&[command, &script]);
        assert_eq!(r.code, Some(1), "{command}: {r:?}");
        assert!(r.stderr.contains("netscript::plan::foreign_firewall") && r.stderr.contains("nft delete table inet netscript"), "{command}: {}", r.stderr);
        assert_eq!(raw(&sb, "lab"), before, "{command} touched a table netscript did not make");
    }
    // Nothing was recorded: `down` has nothing to do and leaves the table.
    let down = sb.netscript(&["down", &script]);
    assert!(down.success && down.stderr.contains("nothing to do"), "{down:?}");
    assert_eq!(raw(&sb, "lab"), before);
    // Once the user removes it, the script runs.
    sb.sh("ip netns exec lab nft delete table inet netscript").ok();
    sb.netscript(&["run", &script]).ok();
    assert!(chain(&sb, "lab", "input").contains("tcp dport 22 accept"));
}

#[test]
fn a_second_script_declaring_rules_in_the_same_namespace_is_refused() {
    let sb = Sandbox::new();
    let first = sb.write_script("first.ns", "netns lab < firewall input < accept proto tcp dport 22 > >\n");
    let second = sb.write_script("second.ns", "netns lab < firewall input < drop proto tcp dport 22 > >\n");
    sb.netscript(&["run", &first]).ok();
    let applied = raw(&sb, "lab");
    let r = sb.netscript(&["run", &second]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("netscript::plan::owned_by_other") && r.stderr.contains("first.ns"), "{}", r.stderr);
    assert_eq!(raw(&sb, "lab"), applied, "the refused script changed the first one's table");
    // `down` of the refused script has nothing of its own to remove.
    sb.netscript(&["down", &second]).ok();
    assert_eq!(raw(&sb, "lab"), applied);
    // Once the first script is down, the second one owns the table.
    sb.netscript(&["down", &first]).ok();
    sb.netscript(&["run", &second]).ok();
    assert!(chain(&sb, "lab", "input").contains("tcp dport 22 drop"));
}

#[test]
fn a_rule_edited_by_hand_under_netscripts_comment_is_found_and_repaired() {
    let sb = Sandbox::new();
    let script = sb.write_script(
        "fw.ns",
        "netns lab <\n  firewall input policy drop < accept ct established,related; accept proto tcp dport 22 counter; accept src 10.0.0.0/8 >\n>\n",
    );
    sb.netscript(&["run", &script]).ok();
    let applied = chain(&sb, "lab", "input");
    sb.assert_up_to_date(&script);
    // The same comment, another port: only the expressions tell.
    let handle = sb.sh("ip netns exec lab nft -a list chain inet netscript input | grep 'dport 22' | sed 's/.*# handle //'").ok();
    sb.sh(&format!(
        "ip netns exec lab nft replace rule inet netscript input handle {} tcp dport 2222 counter accept comment '\"accept proto tcp dport 22 counter\"'",
        handle.trim()
    ))
    .ok();
    let edited = chain(&sb, "lab", "input");
    assert!(edited.contains("dport 2222") && edited.contains("comment \"accept proto tcp dport 22 counter\""), "{edited}");
    let plan = sb.netscript(&["plan", &script]).ok();
    assert!(plan.contains("+ accept proto tcp dport 22 counter") && plan.contains("1 rule with netscript's comment but edited by hand: written again"), "{plan}");
    let show = sb.netscript(&["show", "lab"]).ok();
    assert!(show.contains("edited by hand"), "{show}");
    sb.netscript(&["run", &script]).ok();
    assert_eq!(chain(&sb, "lab", "input"), applied, "the run must put the rule back as the script declares it");
    sb.assert_up_to_date(&script);
    // A prefix edited by hand (another mask under the same comment) is found too.
    let handle = sb.sh("ip netns exec lab nft -a list chain inet netscript input | grep '10.0.0.0/8' | sed 's/.*# handle //'").ok();
    sb.sh(&format!("ip netns exec lab nft replace rule inet netscript input handle {} ip saddr 10.0.0.0/9 accept comment '\"accept src 10.0.0.0/8\"'", handle.trim())).ok();
    let again = sb.netscript(&["run", &script]);
    assert!(again.success && !again.stderr.contains("up to date"), "{again:?}");
    assert_eq!(chain(&sb, "lab", "input"), applied);
}

const SHOWN: &str = "netns lab <
  firewall input policy drop <
    accept ct established,related
    accept proto icmp counter
  >
  firewall output < mark 7 proto udp dport 9999 >
  firewall postrouting < snat to 10.9.9.9 src 10.8.0.0/16 >
>
";

#[test]
fn show_lists_the_rules_in_text_and_json_with_counters() {
    let sb = Sandbox::new();
    let script = sb.write_script("show.ns", SHOWN);
    sb.netscript(&["run", &script]).ok();
    // Each rule's place in the script that made it: the sandbox's path, named by its file.
    let text = sb.netscript(&["show", "lab"]).ok().replace(&script, "show.ns");
    let firewall: String = text.lines().filter(|l| l.trim_start().starts_with("firewall") || l.starts_with("    ") && !l.trim_start().starts_with("addr")).map(|l| format!("{l}\n")).collect();
    insta::assert_snapshot!("show_text", firewall);
    let json = sb.netscript(&["show", "--format", "json", "lab"]).ok().replace(&script, "show.ns");
    let v: Value = serde_json::from_str(&json).unwrap();
    let lab = v["namespaces"].as_array().unwrap().iter().find(|n| n["name"] == "lab").unwrap();
    insta::assert_json_snapshot!("show_json", lab["firewall"]);
    // Traffic through lo: the counting rule's packets show with --stats (the first echo
    // request is new; what follows is accepted as established by the rule before).
    sb.sh("ip netns exec lab ping -c 2 -W 1 127.0.0.1 >/dev/null").ok();
    let stats = sb.netscript(&["show", "--stats", "lab"]).ok();
    let line = stats.lines().find(|l| l.contains("accept proto icmp counter")).unwrap_or_default();
    let packets: u64 = line.split("# ").nth(1).and_then(|c| c.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(packets >= 1, "the counter must show the pings: {line:?}\n{stats}");
    // A rule whose counter counted lists other bytes than netscript writes: it is still
    // the same rule (compared by meaning), and the re-run has nothing to do.
    sb.assert_up_to_date(&script);
    // The script edited and not run: a rule it no longer declares has no place; the
    // others keep theirs.
    sb.write_script("show.ns", &SHOWN.replace("accept proto icmp counter", "accept proto icmp"));
    let edited = sb.netscript(&["show", "lab"]).ok().replace(&script, "show.ns");
    let place = |rule: &str| edited.lines().find(|l| l.trim_start().starts_with(rule)).unwrap_or_default().to_string();
    assert!(place("accept ct established,related").ends_with("# show.ns:3:5"), "{edited}");
    assert!(!place("accept proto icmp counter").contains("show.ns"), "a rule the script no longer declares has no place:\n{edited}");
}

/// The nftables requests a run of `script` sends, by message type, seen from outside
/// with strace (which names no nftables messages: `0xa07` is NFT_MSG_GETRULE, `0xa10`
/// NFT_MSG_GETGEN).
fn nft_requests(sb: &Sandbox, script: &str) -> (usize, usize) {
    let run = sb.run("strace", &["-f", "-o", "/run/nft-trace", "-e", "trace=sendto,sendmsg", env!("CARGO_BIN_EXE_netscript"), "run", script]);
    assert!(run.success, "{}", run.stderr);
    let trace = sb.sh("cat /run/nft-trace").ok();
    (trace.matches("nlmsg_type=0xa07").count(), trace.matches("nlmsg_type=0xa10").count())
}

/// A re-run with nothing to do does not read the rules back while nftables' generation
/// is the one the record sealed; any change to nftables in the namespace (another
/// table made, a rule of netscript's deleted) makes the next run read the table, and
/// a rule deleted by hand is put back.
#[test]
fn a_no_op_rerun_reads_the_rules_back_only_after_nftables_changed() {
    let sb = Sandbox::new();
    let script = sb.write_script("seal.ns", "netns sl < firewall input policy drop < accept proto tcp dport 22; accept proto udp dport 53 counter > >\n");
    sb.netscript(&["run", &script]).ok();
    let applied = chain(&sb, "sl", "input");
    assert_eq!(nft_requests(&sb, &script), (0, 1), "a no-op re-run asks the generation only");
    sb.sh("ip netns exec sl nft add table inet other").ok();
    assert_eq!(nft_requests(&sb, &script).0, 1, "after another table was made, the rules are read back");
    assert_eq!(nft_requests(&sb, &script), (0, 1), "the record holds the new generation: read nothing again");
    sb.sh("ip netns exec sl nft flush chain inet netscript input").ok();
    let repair = sb.netscript(&["run", &script]);
    assert!(repair.success && !repair.stderr.contains("up to date"), "the flushed chain must be repaired: {}", repair.stderr);
    assert_eq!(chain(&sb, "sl", "input"), applied);
    sb.assert_up_to_date(&script);
}
