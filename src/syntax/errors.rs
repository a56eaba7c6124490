//! Syntax errors in words: pest's rule names become what a user would call them.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};
use pest::error::{ErrorVariant, InputLocation};

pub const UNEXPECTED: &str = "netscript::syntax::unexpected";
pub const UNCLOSED_BLOCK: &str = "netscript::syntax::unclosed_block";
pub const BLOCK_ON_NEXT_LINE: &str = "netscript::syntax::block_on_next_line";

/// What a rule is called in an error message.
fn rule_word(rule: Rule) -> String {
    use Rule::*;
    let word = match rule {
        EOI => "end of file",
        block | stmts => "`<`",
        name | name_text => "a name",
        var => "a variable name",
        interp => "`{`",
        expr | term | factor | neg | integer => "a number",
        add_op | mul_op => "an operator",
        range_op => "`..` or `..=`",
        let_value => "a value",
        string | string_inner => "a quoted string like \"file.ns\"",
        int_value => "a number",
        rate_value | rate_lit => "a rate like 1mbit",
        rate_unit => "a rate unit (bit, kbit, mbit, gbit, tbit, bps, kbps, mbps, gbps, tbps)",
        size_value | size_lit => "a size like 10kb",
        size_unit => "a size unit (b, k, kb, m, mb, g, gb)",
        duration_value | duration_lit => "a duration like 70ms",
        duration_unit => "a duration unit (ns, us, ms, s)",
        percent_value | percent_lit => "a percentage like 1%",
        mac_value | mac_lit => "a MAC address like 02:00:00:00:00:01",
        ip_value | v4_value | v6_value | v4_octet | v6_text | octet_digits => "an address like 10.0.0.1/24",
        prefix_len => "a prefix length",
        route_dest => "`default` or a prefix",
        route_kind => "a route type (blackhole, unreachable, prohibit)",
        class_id | hex_digits => "a class id like 10",
        table_ref => "a table number or name",
        expect_kind => "`reach` or `noreach`",
        macvlan_mode => "a macvlan mode (bridge, private, vepa, passthru)",
        vlan_protocol => "a VLAN protocol (802.1Q, 802.1ad)",
        ipvlan_mode => "an ipvlan mode (l2, l3, l3s)",
        ipvlan_flag => "an ipvlan flag (bridge, private, vepa)",
        bpf_direction => "`ingress` or `egress`",
        xdp_mode => "`generic` or `native`",
        ip_proto => "`tcp`, `udp` or `icmp`",
        on_off => "`on` or `off`",
        sysctl_key | sysctl_text => "a sysctl key like net.ipv4.ip_forward",
        sysctl_value | sysctl_word => "a sysctl value",
        section_name => "a section name",
        distribution_name => "a distribution name (normal, pareto, paretonormal)",
        netem_opt => "a netem option (delay, jitter, loss, rate, limit, duplicate, corrupt, reorder, gap, slot, distribution)",
        qdisc_hook => "`ingress` or `clsact`",
        route_opt => "a route option (via, dev, src, metric, table, onlink, mtu, advmss, scope, proto, nexthop)",
        rule_opt => "a rule selector (from, to, iif, oif, fwmark, uidrange, ipproto, sport, dport, tos, dscp, flowlabel, priority, table)",
        shape_opt => "a tbf option (burst, latency, limit, peakrate, mtu, overhead, mpu, linklayer)",
        class_opt => "a class option (rate, ceil, prio, burst, cburst, quantum, mtu, overhead, mpu, linklayer)",
        linklayer => "`ethernet` or `atm`",
        u32_width => "a key width (`u32`, `u16` or `u8`)",
        htb_opt => "an htb option (default, r2q, direct_qlen) or a block",
        filter_opt => "a filter option (proto, src, dst, sport, dport, prio, handle, link, ht, sample, match) or `->`",
        vxlan_opt => "a vxlan option (id, remote, group, local, dev, port)",
        ipip_opt => "an ipip option (local, remote, ttl)",
        gre_opt => "a gre option (local, remote, ttl, key)",
        expect_opt => "`port` or `within`",
        xdp_opt => "`section` or `mode`",
        stmt | file => "a statement",
        _ => {
            if let Some(kw) = keyword_word(rule) {
                return format!("`{kw}`");
            }
            if let Some(opt) = format!("{rule:?}").strip_suffix("_opt") {
                return format!("`{opt}`");
            }
            return "a statement".to_string();
        }
    };
    word.to_string()
}

fn keyword_word(rule: Rule) -> Option<String> {
    format!("{rule:?}").strip_prefix("kw_").map(str::to_string)
}

const STATEMENT_KEYWORDS: &[&str] = &[
    "netns", "host", "table", "let", "for", "include", "expect", "veth", "bridge", "dummy", "vrf", "macvlan", "ipvlan", "ipip", "gre", "vlan", "vxlan", "link",
    "addr", "up", "down", "mtu", "mac", "master", "shape", "htb", "class", "filter", "netem", "qdisc", "bpf", "xdp",
    "route", "rule", "forward", "sysctl",
];

fn expected_list(positives: &[Rule]) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut statement_keywords = 0;
    for &rule in positives {
        let word = match keyword_word(rule) {
            Some(kw) => {
                if STATEMENT_KEYWORDS.contains(&kw.as_str()) {
                    statement_keywords += 1;
                }
                format!("`{kw}`")
            }
            None => rule_word(rule),
        };
        if !words.contains(&word) {
            words.push(word);
        }
    }
    if statement_keywords > 6 {
        words.retain(|w| !STATEMENT_KEYWORDS.iter().any(|k| w == &format!("`{k}`")));
        words.insert(0, "a statement".to_string());
    }
    match words.len() {
        0 => "something else".to_string(),
        1 => words.remove(0),
        _ => {
            let last = words.pop().unwrap();
            format!("{} or {}", words.join(", "), last)
        }
    }
}

/// Describes what stands at `pos`: the word, the character, or the end of the line.
fn found_at(text: &str, pos: usize) -> String {
    let rest = &text[pos.min(text.len())..];
    match rest.chars().next() {
        None => "end of file".to_string(),
        Some('\n') => "end of line".to_string(),
        Some(' ') | Some('\t') => "a space".to_string(),
        Some(c) if c.is_alphanumeric() || c == '_' => {
            let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || "_-.:/".contains(*c)).collect();
            format!("`{word}`")
        }
        Some(c) => format!("`{c}`"),
    }
}

/// One pest error as a diagnostic, and the byte position it points at.
pub fn syntax_error(file: FileId, text: &str, error: &pest::error::Error<Rule>) -> (Diagnostic, usize) {
    let pos = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let found = found_at(text, pos);
    let width = match found.as_str() {
        "end of file" | "end of line" => 0,
        "a space" => 1,
        f => f.trim_matches('`').len(),
    };
    let span = Span::new(file, pos, pos + width);
    let diagnostic = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } if positives.contains(&Rule::EOI) && found == "`>`" => {
            Diagnostic::error(UNEXPECTED, span, "unexpected `>`: no block is open here")
                .label("this `>` closes nothing")
                .help("remove it, or open the block with `<` after the statement that owns it")
        }
        ErrorVariant::ParsingError { positives, .. } if found == "end of file" && !positives.contains(&Rule::EOI) => {
            let expected = expected_list(positives);
            let mut d = Diagnostic::error(UNEXPECTED, span, format!("unexpected end of file, expected {expected}"))
                .label(format!("expected {expected}"));
            if let Some(unclosed) = unclosed_block(text) {
                d = match unclosed.likely {
                    // A `>` further down closed an inner block in the place of an outer
                    // one: the inner one is where the `>` is missing.
                    Some((likely, closer)) => {
                        let line = line_of(text, likely);
                        Diagnostic::error(UNCLOSED_BLOCK, Span::new(file, likely, likely + 1), "this block is probably not closed")
                            .label("opened here; its line has no `>`")
                            .also(Span::new(file, closer, closer + 1), "this `>` is indented as if it closed an outer block")
                            .also(Span::new(file, unclosed.outermost, unclosed.outermost + 1), "so this block is left open at the end of the file")
                            .help(format!("add `>` where the block of line {line} ends (at the end of line {line} for a one-line block)"))
                    }
                    None => Diagnostic::error(UNCLOSED_BLOCK, Span::new(file, unclosed.outermost, unclosed.outermost + 1), "this block is never closed")
                        .label("opened here")
                        .help("add `>` where the block ends"),
                };
            }
            d
        }
        ErrorVariant::ParsingError { positives, .. } if found == "`<`" && starts_line(text, pos) && expects_statement(positives) => {
            let previous = previous_line(text, pos);
            Diagnostic::error(BLOCK_ON_NEXT_LINE, span, "a block must open on the same line as its statement")
                .label("this `<` starts a new line, so it belongs to no statement")
                .help(match previous {
                    Some((line, statement)) => format!("a newline ends a statement: move `<` to the end of line {line}: `{statement} <`"),
                    None => "a newline ends a statement: put `<` on the line of the statement it belongs to".to_string(),
                })
        }
        ErrorVariant::ParsingError { positives, .. } => {
            let expected = expected_list(positives);
            let word = found.trim_matches('`');
            let candidates = if expects_statement(positives) { STATEMENT_KEYWORDS.to_vec() } else { candidate_keywords(positives) };
            let suggestion = found.starts_with('`').then(|| crate::diagnostic::did_you_mean(word, candidates)).flatten();
            match suggestion {
                Some(suggestion) if expects_statement(positives) => {
                    Diagnostic::error(UNEXPECTED, span, format!("unknown statement `{word}`")).label("not a statement keyword").help(suggestion)
                }
                Some(suggestion) => Diagnostic::error(UNEXPECTED, span, format!("expected {expected}, found {found}"))
                    .label(format!("expected {expected}"))
                    .help(suggestion),
                None => Diagnostic::error(UNEXPECTED, span, format!("expected {expected}, found {found}")).label(format!("expected {expected}")),
            }
        }
        ErrorVariant::CustomError { message } => Diagnostic::error(UNEXPECTED, span, message.clone()),
    };
    (diagnostic, pos)
}

/// A block that is never closed: the last such `<`, and the one a user most likely
/// left open with the `>` that was taken for its (see [`unclosed_block`]).
struct Unclosed {
    outermost: usize,
    likely: Option<(usize, usize)>,
}

/// Whether `<` at `i` opens a block (`<->` is an operator), and `>` closes one (`->`).
fn opens_block(bytes: &[u8], i: usize) -> bool {
    bytes[i] == b'<' && bytes.get(i + 1) != Some(&b'-')
}
fn closes_block(bytes: &[u8], i: usize) -> bool {
    bytes[i] == b'>' && (i == 0 || bytes[i - 1] != b'-')
}

/// Brackets outside comments and strings, in order.
fn brackets(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut in_comment = false;
    let mut in_string = false;
    for i in 0..bytes.len() {
        match bytes[i] {
            b'\n' => {
                in_comment = false;
                in_string = false;
            }
            _ if in_comment => {}
            b'"' => in_string = !in_string,
            _ if in_string => {}
            b'#' => in_comment = true,
            _ if opens_block(bytes, i) || closes_block(bytes, i) => out.push(i),
            _ => {}
        }
    }
    out
}

/// The indentation (leading spaces and tabs) of the line holding `pos`.
fn indentation(text: &str, pos: usize) -> usize {
    let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    text[start..].bytes().take_while(|b| *b == b' ' || *b == b'\t').count()
}

fn line_of(text: &str, pos: usize) -> usize {
    text[..pos].bytes().filter(|b| *b == b'\n').count() + 1
}

/// The unclosed block, if any. Brackets pair up innermost first, so the `<` left open
/// by the parser is the outermost one; but a `>` that starts its line, indented less
/// than the line of the `<` it pairs with, was written for an outer block: that `<` is
/// then the likely culprit (`veth … < addr …` on line 2, a `>` at column 1 on line 4).
fn unclosed_block(text: &str) -> Option<Unclosed> {
    let bytes = text.as_bytes();
    let mut open: Vec<usize> = Vec::new();
    let mut likely = None;
    for i in brackets(text) {
        if opens_block(bytes, i) {
            open.push(i);
        } else if let Some(opener) = open.pop() {
            let starts_its_line = indentation(text, i) == i - text[..i].rfind('\n').map_or(0, |n| n + 1);
            if likely.is_none() && starts_its_line && indentation(text, i) < indentation(text, opener) {
                likely = Some((opener, i));
            }
        }
    }
    let outermost = *open.first()?;
    Some(Unclosed { outermost, likely: likely.filter(|(l, _)| *l != outermost) })
}

/// Whether only spaces stand before `pos` on its line.
fn starts_line(text: &str, pos: usize) -> bool {
    let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    text[start..pos].bytes().all(|b| b == b' ' || b == b'\t')
}

/// The last line before `pos` that holds a statement (not blank, not only a comment),
/// with its number, when it does not end in `;`, `<` or `>` (then `<` could have ended it).
fn previous_line(text: &str, pos: usize) -> Option<(usize, String)> {
    let before = &text[..text[..pos].rfind('\n')?];
    let lines: Vec<&str> = before.lines().collect();
    let (number, line) = lines.into_iter().enumerate().rev().map(|(n, l)| (n + 1, l.split('#').next().unwrap_or("").trim_end())).find(|(_, l)| !l.trim().is_empty())?;
    (!line.ends_with([';', '<', '>'])).then(|| (number, line.trim().to_string()))
}

/// Whether the parser wanted a statement here (the start of one).
fn expects_statement(positives: &[Rule]) -> bool {
    positives.iter().filter_map(|r| keyword_word(*r)).filter(|k| STATEMENT_KEYWORDS.contains(&k.as_str())).count() > 6
        || positives.contains(&Rule::stmt)
        || positives.contains(&Rule::file)
}

/// The keywords that would have fitted: those the parser named, and those that start
/// the options it named (`route_opt` → via, dev, src, metric, table, lookup).
fn candidate_keywords(positives: &[Rule]) -> Vec<&'static str> {
    let grammar = include_str!("../../grammar/netscript.pest");
    let mut out: Vec<&'static str> = Vec::new();
    let mut wanted: Vec<String> = positives.iter().map(|r| format!("{r:?}")).collect();
    let mut seen = std::collections::HashSet::new();
    while let Some(rule) = wanted.pop() {
        if !seen.insert(rule.clone()) || seen.len() > 200 {
            continue;
        }
        if let Some(kw) = rule.strip_prefix("kw_") {
            if let Some(word) = super::keywords().into_iter().find(|k| *k == kw) {
                out.push(word);
            }
            continue;
        }
        // The alternatives of the rule's definition that begin with a rule name.
        let Some(definition) = rule_definition(grammar, &rule) else { continue };
        for alternative in definition.split('|') {
            // A first-letter guard (`&'p'..'p' ~ fw_proto`, the firewall rules) is skipped.
            let alternative = alternative.trim().strip_prefix('&').and_then(|a| a.split_once('~')).map_or(alternative, |(_, rest)| rest);
            let first = alternative.trim().trim_start_matches('(').split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("");
            if !first.is_empty() {
                wanted.push(first.to_string());
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The text between the braces of `name = { … }` in the grammar.
fn rule_definition(grammar: &'static str, name: &str) -> Option<&'static str> {
    let start = grammar.lines().map(|l| l.as_ptr() as usize - grammar.as_ptr() as usize).find(|&i| {
        let line = &grammar[i..];
        line.starts_with(name) && line[name.len()..].trim_start().starts_with('=')
    })?;
    let open = start + grammar[start..].find('{')? + 1;
    let close = open + grammar[open..].find('}')?;
    Some(&grammar[open..close])
}

/// Replaces the statement around `pos` with spaces, keeping newlines, so that parsing
/// can go on after it: with the block it opens, if any (a typo in a statement's head
/// would otherwise leave its block to produce errors of its own). `None` when no
/// progress can be made.
pub fn blank_statement(text: &str, pos: usize) -> Option<String> {
    if pos >= text.len() || !text.is_char_boundary(pos) {
        return None;
    }
    let bytes = text.as_bytes();
    let is_boundary = |i: usize| matches!(bytes[i], b';' | b'\n') || opens_block(bytes, i) || closes_block(bytes, i);
    let mut start = pos;
    // Back over the statement: `<->` and `->` are operators, not block brackets.
    while start > 0 && !is_boundary(start - 1) {
        start -= 1;
    }
    let mut end = pos;
    while end < bytes.len() && !is_boundary(end) {
        end += 1;
    }
    if text[start..end].trim().is_empty() {
        if bytes[pos] == b'\n' {
            return None;
        }
        if opens_block(bytes, pos) {
            // A block that belongs to no statement (`<` on a line of its own): all of it.
            end = matching_close(text, pos);
        } else {
            // The error is at a bracket or separator itself: drop that one character,
            // which may take several bytes (U+0085 is whitespace to `trim`).
            end = pos + text[pos..].chars().next().map_or(1, char::len_utf8);
        }
    } else if end < bytes.len() && opens_block(bytes, end) {
        end = matching_close(text, end);
    }
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..start]);
    out.extend(text[start..end].bytes().map(|b| if b == b'\n' { '\n' } else { ' ' }));
    out.push_str(&text[end..]);
    Some(out)
}

/// The position just after the `>` that closes the block opened at `open`, or the end
/// of the text.
fn matching_close(text: &str, open: usize) -> usize {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    for i in brackets(&text[open..]).into_iter().map(|i| i + open) {
        if opens_block(bytes, i) {
            depth += 1;
        } else {
            depth -= 1;
            if depth == 0 {
                return i + 1;
            }
        }
    }
    text.len()
}

/// Byte ranges of `#` comments (outside strings).
pub fn comment_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut in_string = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => in_string = !in_string,
            b'\n' => in_string = false,
            b'#' if !in_string => {
                let end = text[i..].find('\n').map(|n| i + n).unwrap_or(text.len());
                out.push(i..end);
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// For text that does not parse (a half-typed line): keywords and comments by word.
pub fn lex_fallback(text: &str) -> Vec<(std::ops::Range<usize>, super::TokenClass)> {
    let keywords = super::keywords();
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        let word_char = c.is_alphanumeric() || c == '_';
        match (start, word_char) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                let word = &text[s..i];
                if keywords.contains(&word) {
                    out.push((s..i, super::TokenClass::Keyword));
                } else if word.chars().all(|c| c.is_ascii_digit()) {
                    out.push((s..i, super::TokenClass::Number));
                }
                start = None;
            }
            _ => {}
        }
    }
    out.extend(comment_ranges(text).into_iter().map(|r| (r, super::TokenClass::Comment)));
    out
}

#[cfg(test)]
mod tests {
    use super::blank_statement;

    #[test]
    fn blanking_a_multibyte_separator_keeps_char_boundaries() {
        // U+0085 (two bytes) is whitespace to `trim`: the statement around it is blank, so
        // the character itself is dropped, all of it (found by the robustness test).
        assert_eq!(blank_statement(";\u{85};", 1).as_deref(), Some(";  ;"));
        assert_eq!(blank_statement("netns a <\u{85}>", 9).as_deref(), Some("netns a <  >"));
        // A position inside a character makes no progress rather than panicking.
        assert_eq!(blank_statement(";\u{85};", 2), None);
    }
}
