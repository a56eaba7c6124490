//! Firewall rule lines read without pest (src/syntax/fast_rules.rs) give what pest's
//! parse of the text gives: the same statements, spans and diagnostics. The reference is
//! `parse_whole`, which never takes that path. Random rule lines are made of the words
//! the plain shapes use and of near misses (a number too large, `0X10`, `1-`, `ct new,`,
//! a v6 address, a word glued to a number, tabs, a comment, a continuation), in every
//! place a line can stand: a firewall, an inline `xdp` block, a namespace body, the top
//! level, after a continuation, in a file of one piece and of several.

use netscript::source::FileId;
use netscript::syntax;
use proptest::prelude::*;

fn both(text: &str) -> (String, String) {
    let (script, diagnostics) = syntax::parse_recovering(FileId(0), text);
    let fast = format!("{script:#?}\n{diagnostics:#?}");
    let (script, diagnostics) = syntax::parse_whole(FileId(0), text);
    (fast, format!("{script:#?}\n{diagnostics:#?}"))
}

fn assert_same(text: &str) {
    let (fast, whole) = both(text);
    assert!(fast == whole, "the fast path reads this differently:\n{text}\n{}", first_difference(&fast, &whole));
}

/// The lines around the first line where the two readings differ.
fn first_difference(fast: &str, whole: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (fast.lines().collect(), whole.lines().collect());
    let at = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let from = at.saturating_sub(12);
    format!("fast path:\n{}\npest:\n{}", a[from..(at + 15).min(a.len())].join("\n"), b[from..(at + 15).min(b.len())].join("\n"))
}

/// The benchmark's five rule forms (benches/firewall.rs), and the other plain shapes.
const PLAIN: &[&str] = &[
    "accept proto tcp dport 22",
    "reject proto udp sport 1000-1010 counter",
    "drop proto icmp src 10.1.2.0/24",
    "accept src 10.1.2.7/32 dst 10.2.0.1/32",
    "drop mark 8 ct invalid,new",
    "mark 0x7 proto tcp iif lan0 oif wan.1",
    "masquerade oif wan0 counter",
    "accept\tct established,related",
    "drop mark 0x10/0xff proto icmpv6",
    "reject dport 0x10-0x20 sport 007",
];

#[test]
fn the_plain_shapes_are_read_without_pest_and_as_pest_reads_them() {
    let mut text = String::from("netns fw <\n  veth lan0 <-> other.x\n  firewall forward policy drop <\n");
    for line in PLAIN {
        text.push_str("    ");
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("  >\n>\n");
    assert_eq!(syntax::fast_rule_lines(&text), PLAIN.len(), "a plain shape was left to pest");
    assert_same(&text);
    // Several top-level pieces: the same, piece by piece.
    let two = format!("{text}netns other <\n  firewall input <\n    {}\n  >\n>\n", PLAIN[0]);
    assert_eq!(syntax::fast_rule_lines(&two), PLAIN.len() + 1);
    assert_same(&two);
}

#[test]
fn a_syntax_error_elsewhere_is_reported_as_without_the_fast_path() {
    let text = "host <\n  firewall input <\n    accept proto tcp dport 22\n    accept proto tcpx\n  >\n  veth a <-> \n>\n";
    assert_eq!(syntax::fast_rule_lines(text), 1);
    let (fast, whole) = both(text);
    assert!(whole.contains("Error") || whole.contains("error"), "the script should not parse:\n{whole}");
    assert_eq!(fast, whole);
}

#[test]
fn a_rule_line_outside_a_firewall_is_an_error_as_before() {
    for text in [
        "accept proto tcp dport 22\n",
        "netns a <\n  accept proto tcp dport 22\n>\n",
        "host <\n  firewall input <\n    drop proto tcp \\\n    accept proto tcp dport 1\n  >\n>\n",
        "htb 1: default 10 <\n  class 10 rate 1mbit\n  accept proto tcp dport 22\n>\n",
        // Before a firewall block: not one of its rules.
        "netns a <\n  accept proto tcp dport 22\n  firewall input <\n    drop proto udp dport 53\n  >\n>\n",
    ] {
        assert_same(text);
    }
}

fn word() -> impl Strategy<Value = String> {
    let words = prop_oneof![
        8 => prop::sample::select(vec![
            "accept", "drop", "reject", "masquerade", "mark", "proto", "tcp", "udp", "icmp", "icmpv6", "src", "dst",
            "sport", "dport", "iif", "oif", "ct", "new", "established", "related", "invalid", "counter", "new,established",
            "invalid,new,related", "22", "0x10", "1000-1010", "0x10-0x20", "10.1.2.0/24", "10.0.0.1", "192.168.1.1/32",
            "lan0", "wan.1", "eth-0", "8/0xff", "0x7/255", "300.1.2.3", "1.2.3.4/33",
        ]).prop_map(String::from),
        2 => prop::sample::select(vec![
            "0X10", "1-", "-1", "ct", "new,", ",new", "1.2.3", "1.2.3.4/", "10.0.0.1x", "fe80::1", "2001:db8::/64", "5counter",
            "99999999999999999999", "9223372036854775807", "9223372036854775808", "0x", "0xg", "{1}", "10.0.0.{1}", "#", "# c",
            "classify", "10", "snat", "to", "dnat", "pass", "ACCEPT", "\u{e9}", "a/b", "1-2-3", ";", ">", "<",
        ]).prop_map(String::from),
        1 => "[a-z0-9.,/-]{1,8}",
    ];
    words
}

fn gap() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![" ", " ", " ", "  ", "\t"])
}

fn int() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u32..70000).prop_map(|n| n.to_string()),
        2 => (0u32..0x10000).prop_map(|n| format!("{n:#x}")),
        1 => Just("9223372036854775808".to_string()),
        1 => Just("007".to_string()),
    ]
}

fn v4() -> impl Strategy<Value = String> {
    (prop::array::uniform4(prop_oneof![4 => 0u32..256, 1 => 256u32..1000]), prop::option::of(0u32..40))
        .prop_map(|(o, p)| format!("{}.{}.{}.{}{}", o[0], o[1], o[2], o[3], p.map(|p| format!("/{p}")).unwrap_or_default()))
}

/// A match of the plain shapes, its value drawn wide (out of range too: the checker's
/// business, not the parser's).
fn plain_match() -> impl Strategy<Value = String> {
    let port = (int(), prop::option::of(int())).prop_map(|(a, b)| b.map(|b| format!("{a}-{b}")).unwrap_or(a));
    prop_oneof![
        prop::sample::select(vec!["proto tcp", "proto udp", "proto icmp", "proto icmpv6", "counter", "ct new", "ct established,related", "ct invalid,new,related,established"]).prop_map(String::from),
        (prop::sample::select(vec!["src", "dst"]), gap(), v4()).prop_map(|(w, g, v)| format!("{w}{g}{v}")),
        (prop::sample::select(vec!["sport", "dport"]), gap(), port).prop_map(|(w, g, v)| format!("{w}{g}{v}")),
        (prop::sample::select(vec!["iif", "oif"]), gap(), "[a-z][a-z0-9._-]{0,14}").prop_map(|(w, g, v)| format!("{w}{g}{v}")),
        (gap(), int(), prop::option::of(int())).prop_map(|(g, m, mask)| format!("mark{g}{m}{}", mask.map(|k| format!("/{k}")).unwrap_or_default())),
    ]
}

/// A rule line: mostly of the plain shapes, the rest words drawn from those shapes and
/// their near misses.
fn line() -> impl Strategy<Value = String> {
    let action = prop_oneof![
        4 => prop::sample::select(vec!["accept", "drop", "reject", "masquerade"]).prop_map(String::from),
        1 => int().prop_map(|n| format!("mark {n}")),
        1 => Just("mark".to_string()),
    ];
    let rest = prop_oneof![
        4 => prop::collection::vec((gap(), plain_match()), 0..6),
        1 => prop::collection::vec((gap(), word()), 0..7),
    ];
    (action, rest, prop::sample::select(vec!["", "", "", "", "", "", " ", "\t", " # note", " \\"])).prop_map(|(action, rest, end)| {
        let mut line = action;
        for (gap, word) in rest {
            line.push_str(gap);
            line.push_str(&word);
        }
        line.push_str(end);
        line
    })
}

#[test]
fn most_generated_lines_take_the_fast_path() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut fast, total) = (0, 400);
    for _ in 0..total {
        let line = line().new_tree(&mut runner).unwrap().current();
        fast += syntax::fast_rule_lines(&place(&[line], 0));
    }
    // The property below tests the fast path only on the lines that take it.
    assert!(fast * 100 >= total * 30, "only {fast} of {total} generated lines take the fast path");
}

fn place(lines: &[String], how: usize) -> String {
    let body: String = lines.iter().map(|l| format!("    {l}\n")).collect();
    match how {
        0 => format!("host <\n  firewall input policy drop <\n{body}  >\n>\n"),
        1 => format!("netns r <\n  veth lan0 <-> c.e0 <\n    xdp <\n{body}    >\n  >\n>\nnetns c <\n  up\n>\n"),
        2 => format!("netns r <\n{body}>\n"),
        3 => body,
        4 => format!("netns r <\n  firewall forward <\n{body}  >\n  firewall output <\n{body}  >\n>\nlet x = 1\n"),
        _ => format!("host <\n  firewall input \\\n <\n{body}  >\n>\r\nnetns z < up >\r\n"),
    }
}

fn config() -> ProptestConfig {
    let mut config = ProptestConfig { failure_persistence: None, ..ProptestConfig::default() };
    config.cases = std::env::var("NETSCRIPT_FAST_RULES_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(400);
    config
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn rule_lines_read_without_pest_equal_pests_reading(lines in prop::collection::vec(line(), 1..5), how in 0usize..6) {
        let text = place(&lines, how);
        let (fast, whole) = both(&text);
        prop_assert!(fast == whole, "{}\n{}", text, first_difference(&fast, &whole));
    }
}
