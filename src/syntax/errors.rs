//! Syntax errors in words: pest's rule names become what a user would call them.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};
use pest::error::{ErrorVariant, InputLocation};

pub const UNEXPECTED: &str = "netscript::syntax::unexpected";
pub const UNCLOSED_BLOCK: &str = "netscript::syntax::unclosed_block";

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
        class_id | hex_digits => "a class id like 10",
        table_ref => "a table number or name",
        expect_kind => "`reach` or `noreach`",
        macvlan_mode => "a macvlan mode (bridge, private, vepa, passthru)",
        bpf_direction => "`ingress` or `egress`",
        xdp_mode => "`generic` or `native`",
        ip_proto => "`tcp`, `udp` or `icmp`",
        on_off => "`on` or `off`",
        sysctl_key | sysctl_text => "a sysctl key like net.ipv4.ip_forward",
        sysctl_value | sysctl_word => "a sysctl value",
        section_name => "a section name",
        netem_opt => "`delay`, `jitter`, `loss` or `rate`",
        route_opt => "a route option (via, dev, src, metric, table)",
        rule_opt => "a rule selector (from, to, iif, oif, fwmark, uidrange, priority, table)",
        shape_opt => "`burst` or `latency`",
        class_opt => "`rate`, `ceil` or `prio`",
        filter_opt => "a filter match (proto, src, dst, sport, dport) or `->`",
        vxlan_opt => "a vxlan option (id, remote, group, local, dev, port)",
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
    "netns", "host", "table", "let", "for", "include", "expect", "veth", "bridge", "macvlan", "vxlan", "link",
    "addr", "up", "down", "mtu", "mac", "master", "shape", "htb", "class", "filter", "netem", "bpf", "xdp",
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
            if let Some(open) = unclosed_block(text) {
                d = Diagnostic::error(UNCLOSED_BLOCK, Span::new(file, open, open + 1), "this block is never closed")
                    .label("opened here")
                    .help("add `>` where the block ends");
            }
            d
        }
        ErrorVariant::ParsingError { positives, .. } => {
            let expected = expected_list(positives);
            Diagnostic::error(UNEXPECTED, span, format!("expected {expected}, found {found}")).label(format!("expected {expected}"))
        }
        ErrorVariant::CustomError { message } => Diagnostic::error(UNEXPECTED, span, message.clone()),
    };
    (diagnostic, pos)
}

/// The position of the last `<` that opens a block and is never closed.
fn unclosed_block(text: &str) -> Option<usize> {
    let mut open = Vec::new();
    let bytes = text.as_bytes();
    let mut in_comment = false;
    let mut in_string = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\n' => in_comment = false,
            _ if in_comment => {}
            b'"' => in_string = !in_string,
            _ if in_string => {}
            b'#' => in_comment = true,
            b'<' if bytes.get(i + 1) != Some(&b'-') => open.push(i),
            b'>' if i == 0 || bytes[i - 1] != b'-' => {
                open.pop();
            }
            _ => {}
        }
    }
    open.last().copied()
}

/// Replaces the statement around `pos` with spaces, keeping newlines and block brackets,
/// so that parsing can go on after it. `None` when no progress can be made.
pub fn blank_statement(text: &str, pos: usize) -> Option<String> {
    if pos >= text.len() || !text.is_char_boundary(pos) {
        return None;
    }
    let bytes = text.as_bytes();
    let is_boundary = |b: u8| matches!(b, b';' | b'\n' | b'<' | b'>');
    let mut start = pos;
    while start > 0 && !is_boundary(bytes[start - 1]) {
        start -= 1;
    }
    // `<->` is an operator, not a block bracket.
    while start > 1 && bytes[start - 1] == b'<' && bytes.get(start) == Some(&b'-') {
        start -= 1;
        while start > 0 && !is_boundary(bytes[start - 1]) {
            start -= 1;
        }
    }
    let mut end = pos;
    while end < bytes.len() && !is_boundary(bytes[end]) {
        end += 1;
    }
    if text[start..end].trim().is_empty() {
        // The error is at a bracket or separator itself: drop that one character.
        if bytes[pos] == b'\n' {
            return None;
        }
        // One character, which may take several bytes (U+0085 is whitespace to `trim`).
        end = pos + text[pos..].chars().next().map_or(1, char::len_utf8);
    }
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..start]);
    out.extend(text[start..end].bytes().map(|b| if b == b'\n' { '\n' } else { ' ' }));
    out.push_str(&text[end..]);
    Some(out)
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
