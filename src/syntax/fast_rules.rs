//! Firewall rule lines read without pest: the firewall benchmark's no-op re-run was
//! mostly pest (21,000 instructions a rule line: a rule call, its bookkeeping and the
//! implicit whitespace for every token), and a ruleset is thousands of lines of a few
//! plain shapes.
//!
//! A line that holds one rule of the plain shapes (an action of `accept`, `drop`,
//! `reject`, `masquerade`, `mark N`; matches `proto`, `src`/`dst` with an IPv4 literal,
//! `sport`/`dport` with a port or a range, `iif`/`oif` with a plain name, `mark N[/M]`,
//! `ct S,S`, `counter`; words apart by spaces or tabs) is read here into the tree the
//! builder makes of it, spans included. pest parses the text without those lines' words
//! (their blanks and newlines stay: an empty line); the builder maps pest's positions
//! back to the file's (`FastRules::position`) and puts the rules read here into the
//! firewall block that holds them, in the order of the text (`FastRules::take_before`).
//!
//! Anything else on a line (another form, an interpolation, a comment, a line
//! continuation, a number too large, a word pest would cut differently, blanks at the
//! end, which some of pest's spans take in) is left to pest. The parse without the lines
//! is used only when it parses and every rule read here went into a firewall block that
//! holds its line; otherwise the text is parsed as it is, so a syntax error is found and
//! reported as without this path (a rule line outside a firewall is one).
//! tests/fast_rules.rs compares both reads over random rule lines; tests/chunked_parse.rs
//! over every script.

use crate::ast::{FwActionAst, FwMatch, FwRuleAst, IpValue, Octet, Part, PortRange, Template, Value};
use crate::model::{CtState, FwProto};
use crate::source::{FileId, Span, Spanned};

/// The rules read here, in the order of the text, and where their words were taken out.
#[derive(Debug, Default)]
pub struct FastRules {
    rules: Vec<Option<FwRuleAst>>,
    next: usize,
    /// Each line taken out: where it was in the parsed text and how many bytes were taken
    /// out up to it, included.
    cuts: Vec<(usize, usize)>,
    misplaced: bool,
}

impl FastRules {
    /// How many rules were read here.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether the builder took any rule yet.
    pub fn any_taken(&self) -> bool {
        self.next > 0
    }

    /// Whether the builder took every rule, each into a block that held its line.
    pub fn all_placed(&self) -> bool {
        self.next == self.rules.len() && !self.misplaced
    }

    /// Where byte `at` of the parsed text is in the file. A span's end (`end`) at a cut
    /// stays before the words taken out there, anything else goes after them.
    pub fn position(&self, at: usize, end: bool) -> usize {
        if self.cuts.is_empty() {
            return at;
        }
        let before = if end { self.cuts.partition_point(|&(cut, _)| cut < at) } else { self.cuts.partition_point(|&(cut, _)| cut <= at) };
        at + before.checked_sub(1).map_or(0, |i| self.cuts[i].1)
    }

    /// The rules read here that start before `end` (a firewall block's end in the file),
    /// which must start after `start` (its beginning): the block's rules that pest did not
    /// see, in order.
    pub fn take_before(&mut self, start: u32, end: u32) -> Vec<FwRuleAst> {
        let mut taken = Vec::new();
        while let Some(slot) = self.rules.get_mut(self.next) {
            match slot {
                Some(rule) if rule.span.start < end => {
                    self.misplaced |= rule.span.start < start;
                    taken.extend(slot.take());
                    self.next += 1;
                }
                _ => break,
            }
        }
        taken
    }
}

/// `text` without the words of each plain rule line, and the rules read from those lines;
/// None when no line is plain (the text is parsed as it is).
pub fn remove_rule_lines(file: FileId, text: &str) -> Option<(String, FastRules)> {
    // Rule blocks open with one of these words: a script without them has no rule line
    // (and is not read line by line for nothing).
    if !["firewall", "xdp", "bpf"].iter().any(|w| text.contains(w)) {
        return None;
    }
    let mut kept = String::new();
    let mut copied = 0;
    let mut fast = FastRules::default();
    let mut continued = false;
    let mut start = 0;
    for line in text.split('\n') {
        let at = start;
        start += line.len() + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        // A line after a continuation is the end of the statement before it.
        let after_continuation = continued;
        continued = line.ends_with('\\');
        if after_continuation {
            continue;
        }
        let lead = blanks(line.as_bytes());
        let body = &line[lead..];
        // Blanks at the end would be inside some of pest's spans: left to pest.
        if body.is_empty() || matches!(body.as_bytes().last(), Some(b' ' | b'\t')) || !starts_with_action(body) {
            continue;
        }
        let Some(rule) = rule_line(file, body, at + lead) else { continue };
        if kept.is_empty() {
            kept.reserve(text.len());
        }
        kept.push_str(&text[copied..at + lead]);
        copied = at + lead + body.len();
        let removed = fast.cuts.last().map_or(0, |&(_, r)| r) + body.len();
        fast.cuts.push((kept.len(), removed));
        fast.rules.push(Some(rule));
    }
    if fast.rules.is_empty() {
        return None;
    }
    kept.push_str(&text[copied..]);
    Some((kept, fast))
}

fn starts_with_action(body: &str) -> bool {
    let b = body.as_bytes();
    let word = &b[..b.iter().position(|c| matches!(c, b' ' | b'\t')).unwrap_or(b.len())];
    matches!(word, b"accept" | b"drop" | b"reject" | b"masquerade" | b"mark")
}

/// How many blanks (spaces, tabs) `bytes` starts with.
fn blanks(bytes: &[u8]) -> usize {
    bytes.iter().position(|c| !matches!(c, b' ' | b'\t')).unwrap_or(bytes.len())
}

/// The words of a line with their offsets in the file.
struct Words<'a> {
    line: &'a str,
    pos: usize,
    at: usize,
}

impl Words<'_> {
    /// Where the next word starts (the end of the line after the last one).
    fn next_start(&self) -> usize {
        self.at + self.pos + blanks(&self.line.as_bytes()[self.pos..])
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = (&'a str, usize);
    fn next(&mut self) -> Option<(&'a str, usize)> {
        self.pos += blanks(&self.line.as_bytes()[self.pos..]);
        let rest = &self.line[self.pos..];
        if rest.is_empty() {
            return None;
        }
        let len = rest.bytes().position(|c| matches!(c, b' ' | b'\t')).unwrap_or(rest.len());
        let word = &rest[..len];
        let start = self.at + self.pos;
        self.pos += len;
        Some((word, start))
    }
}

/// One plain rule line (`line` starts at byte `at` of the file and holds no leading or
/// trailing blanks), as the builder reads it; None for anything else.
fn rule_line(file: FileId, line: &str, at: usize) -> Option<FwRuleAst> {
    // Only the characters of the plain shapes: no comment, string, interpolation, block,
    // separator or continuation can hide in the words below.
    if !line.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'\t' | b'.' | b'_' | b'-' | b'/' | b',')) {
        return None;
    }
    let span = |start: usize, end: usize| Span::new(file, start, end);
    let mut words = Words { line, pos: 0, at };
    let (word, start) = words.next()?;
    let mut end = start + word.len();
    let action = match word {
        "accept" => FwActionAst::Accept,
        "drop" => FwActionAst::Drop,
        "reject" => FwActionAst::Reject,
        "masquerade" => FwActionAst::Masquerade,
        "mark" => {
            let (n, n_at) = words.next()?;
            end = n_at + n.len();
            FwActionAst::Mark(int_value(file, n, n_at)?)
        }
        _ => return None,
    };
    let action = Spanned::new(action, span(start, end));
    let mut matches = Vec::new();
    while let Some((word, m_at)) = words.next() {
        let mut value = || words.next().map(|(v, v_at)| (v, v_at, v_at + v.len()));
        let m = match word {
            "counter" => {
                end = m_at + word.len();
                FwMatch::Counter(span(m_at, end))
            }
            "proto" => {
                let (v, _, v_end) = value()?;
                let proto = match v {
                    "tcp" => FwProto::Tcp,
                    "udp" => FwProto::Udp,
                    "icmp" => FwProto::Icmp,
                    "icmpv6" => FwProto::Icmpv6,
                    _ => return None,
                };
                end = v_end;
                FwMatch::Proto(Spanned::new(proto, span(m_at, end)))
            }
            "src" | "dst" => {
                let (v, v_at, v_end) = value()?;
                let ip = ipv4(file, v, v_at)?;
                end = v_end;
                let ip = Spanned::new(ip, span(m_at, end));
                if word == "src" { FwMatch::Src(ip) } else { FwMatch::Dst(ip) }
            }
            "sport" | "dport" => {
                let (v, v_at, v_end) = value()?;
                let range = port_range(file, v, v_at)?;
                end = if range.1.is_some() { v_end } else { words.next_start() };
                let range = Spanned::new(range, span(m_at, end));
                if word == "sport" { FwMatch::Sport(range) } else { FwMatch::Dport(range) }
            }
            "iif" | "oif" => {
                let (v, v_at, v_end) = value()?;
                // A name is name characters (letters, digits, `_`, `-`, `.`): one text part.
                if v.contains([',', '/']) {
                    return None;
                }
                end = v_end;
                let name = Template { span: span(v_at, v_end), parts: vec![Part::Text(v.to_string())] };
                let name = Spanned::new(name, span(m_at, end));
                if word == "iif" { FwMatch::Iif(name) } else { FwMatch::Oif(name) }
            }
            "mark" => {
                let (v, v_at, v_end) = value()?;
                let (mark, mask) = match v.split_once('/') {
                    Some((m, mask)) => (int_value(file, m, v_at)?, Some(int_value(file, mask, v_at + m.len() + 1)?)),
                    None => (int_value(file, v, v_at)?, None),
                };
                end = if mask.is_some() { v_end } else { words.next_start() };
                FwMatch::Mark(Spanned::new((mark, mask), span(m_at, end)))
            }
            "ct" => {
                let (v, v_at, v_end) = value()?;
                let mut states = Vec::new();
                let mut s_at = v_at;
                for word in v.split(',') {
                    let state = match word {
                        "new" => CtState::New,
                        "established" => CtState::Established,
                        "related" => CtState::Related,
                        "invalid" => CtState::Invalid,
                        _ => return None,
                    };
                    states.push(Spanned::new(state, span(s_at, s_at + word.len())));
                    s_at += word.len() + 1;
                }
                end = if states.len() == 1 { words.next_start() } else { v_end };
                FwMatch::Ct(Spanned::new(states, span(m_at, end)))
            }
            _ => return None,
        };
        matches.push(m);
    }
    Some(FwRuleAst { span: span(start, end), action, matches })
}

/// An integer literal as the grammar's `integer` reads it (decimal, or `0x` and hex
/// digits), within what the builder takes without a diagnostic.
fn int_value(file: FileId, word: &str, at: usize) -> Option<crate::ast::IntValue> {
    let value = match word.strip_prefix("0x") {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => u64::from_str_radix(hex, 16).ok()?,
        Some(_) => return None,
        None if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) => word.parse::<u64>().ok()?,
        None => return None,
    };
    let value = i64::try_from(value).ok()?;
    Some(Value::Lit(Spanned::new(value, Span::new(file, at, at + word.len()))))
}

/// `N` or `N-M`.
fn port_range(file: FileId, word: &str, at: usize) -> Option<PortRange> {
    match word.split_once('-') {
        Some((a, b)) => Some((int_value(file, a, at)?, Some(int_value(file, b, at + a.len() + 1)?))),
        None => Some((int_value(file, word, at)?, None)),
    }
}

/// `A.B.C.D` or `A.B.C.D/N`, digits only, as the builder reads `v4_value`.
fn ipv4(file: FileId, word: &str, at: usize) -> Option<IpValue> {
    let digits = |text: &str, at: usize| -> Option<Octet> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value = text.parse::<u64>().unwrap_or(u64::MAX);
        Some(Octet::Lit(Spanned::new(value, Span::new(file, at, at + text.len()))))
    };
    let (addr, prefix) = match word.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (word, None),
    };
    let mut octets = Vec::with_capacity(4);
    let mut o_at = at;
    for part in addr.split('.') {
        octets.push(digits(part, o_at)?);
        o_at += part.len() + 1;
    }
    let octets: [Octet; 4] = octets.try_into().ok()?;
    let prefix = match prefix {
        Some(p) => Some(digits(p, at + addr.len() + 1)?),
        None => None,
    };
    Some(IpValue::V4 { span: Span::new(file, at, at + word.len()), octets, prefix })
}
