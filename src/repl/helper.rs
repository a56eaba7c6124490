//! The line editor's helper: highlighting (from the grammar's own token classes),
//! completion, hints and validation.

use super::commands::COMMANDS;
use crate::syntax::{self, TokenClass};
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Names the session declares, kept up to date by the loop after each statement.
#[derive(Debug, Default, Clone)]
pub struct Known {
    pub namespaces: Vec<String>,
    /// `(namespace, interface)`.
    pub interfaces: Vec<(String, String)>,
    pub variables: Vec<String>,
}

impl Known {
    pub fn from_desired(desired: &crate::model::Desired, script: &str) -> Known {
        let namespaces = desired.namespaces.keys().cloned().collect();
        let interfaces = desired.namespaces.values().flat_map(|ns| ns.interfaces.keys().map(move |i| (ns.name.clone(), i.clone()))).collect();
        let mut variables: Vec<String> = desired.tables.keys().cloned().collect();
        // `let NAME =`: read from the text (values are gone once evaluated).
        for word in script.split(['\n', ';']) {
            if let Some(rest) = word.trim_start().strip_prefix("let ")
                && let Some(name) = rest.split('=').next()
            {
                variables.push(name.trim().to_string());
            }
        }
        variables.sort();
        variables.dedup();
        Known { namespaces, interfaces, variables }
    }
}

pub struct ReplHelper {
    pub known: Rc<RefCell<Known>>,
    /// Open `<` left by the lines already typed of the current input.
    pub depth: Cell<i32>,
    pub color: bool,
    files: FilenameCompleter,
}

impl ReplHelper {
    pub fn new(known: Rc<RefCell<Known>>, color: bool) -> Self {
        ReplHelper { known, depth: Cell::new(0), color, files: FilenameCompleter::new() }
    }
}

impl Helper for ReplHelper {}

/// How many block brackets `text` leaves open: `<` minus `>`, outside comments and
/// strings; `<->` (veth) and `->` (filter) are no brackets.
pub fn open_blocks(text: &str) -> i32 {
    let bytes = text.as_bytes();
    let mut depth = 0;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => in_string = false,
            b'"' => in_string = !in_string,
            b'\\' if in_string => i += 1,
            b'#' if !in_string => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'<' if !in_string && !text[i + 1..].starts_with("->") => depth += 1,
            b'>' if !(in_string || (i > 0 && bytes[i - 1] == b'-')) => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    depth
}

/// Whether `text` (a statement being typed) goes on in the next line: an open block,
/// or a trailing `\`.
pub fn continues(text: &str) -> bool {
    if text.trim_start().starts_with(':') {
        return false;
    }
    open_blocks(text) > 0 || text.trim_end_matches([' ', '\t']).ends_with('\\')
}

fn style(class: TokenClass) -> Option<&'static str> {
    Some(match class {
        TokenClass::Keyword => "1;34",
        TokenClass::Name => return None,
        TokenClass::Number | TokenClass::Literal => "36",
        TokenClass::String => "32",
        TokenClass::Comment => "2",
        TokenClass::Interpolation => "33",
        TokenClass::Operator => "35",
    })
}

/// `text` with ANSI colours from the grammar's token classes (innermost token wins).
pub fn highlight_text(text: &str) -> String {
    if text.trim_start().starts_with(':') {
        let lead = text.len() - text.trim_start().len();
        let end = text[lead..].find(char::is_whitespace).map(|e| lead + e).unwrap_or(text.len());
        return format!("{}\x1b[1;35m{}\x1b[0m{}", &text[..lead], &text[lead..end], &text[end..]);
    }
    let mut classes: Vec<Option<&'static str>> = vec![None; text.len()];
    for (range, class) in syntax::highlight_spans(text) {
        let s = style(class);
        for c in classes.iter_mut().take(range.end.min(text.len())).skip(range.start) {
            *c = s;
        }
    }
    let mut out = String::with_capacity(text.len() * 2);
    let mut current: Option<&str> = None;
    for (i, ch) in text.char_indices() {
        let class = classes[i];
        if class != current {
            if current.is_some() {
                out.push_str("\x1b[0m");
            }
            if let Some(code) = class {
                out.push_str(&format!("\x1b[{code}m"));
            }
            current = class;
        }
        out.push(ch);
    }
    if current.is_some() {
        out.push_str("\x1b[0m");
    }
    out
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.color || line.is_empty() { Cow::Borrowed(line) } else { Cow::Owned(highlight_text(line)) }
    }
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color { Cow::Owned(format!("\x1b[2m{hint}\x1b[0m")) } else { Cow::Borrowed(hint) }
    }
    fn highlight_char(&self, _line: &str, _pos: usize, kind: CmdKind) -> bool {
        self.color && kind != CmdKind::MoveCursor
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if !input.trim_start().starts_with(':') && self.depth.get() + open_blocks(input) < 0 {
            return Ok(ValidationResult::Invalid(Some("  ← a `>` closes no block".into())));
        }
        Ok(ValidationResult::Valid(None))
    }
}

/// Words followed by a name, not a keyword.
const TAKES_A_NAME: &[&str] = &["netns", "veth", "<->", "bridge", "macvlan", "ipvlan", "ipip", "gre", "vlan", "vxlan", "link", "dev", "master", "on", "iif", "oif", "let", "table", "for", "include", "expect"];

/// Where the word under the cursor starts.
fn word_start(line: &str, pos: usize) -> usize {
    line[..pos].rfind(|c: char| !(c.is_alphanumeric() || "_-.{}".contains(c))).map(|i| i + 1).unwrap_or(0)
}

fn previous_word(line: &str, start: usize) -> &str {
    let before = line[..start].trim_end();
    let from = before.rfind(|c: char| c.is_whitespace() || c == '<').map(|i| i + 1).unwrap_or(0);
    &before[from..]
}

fn pairs(prefix: &str, candidates: impl IntoIterator<Item = String>) -> Vec<Pair> {
    let mut out: Vec<String> = candidates.into_iter().filter(|c| c.starts_with(prefix)).collect();
    out.sort();
    out.dedup();
    out.into_iter().map(|c| Pair { display: c.clone(), replacement: c }).collect()
}

impl ReplHelper {
    fn namespace_names(&self) -> Vec<String> {
        let mut names = super::live::namespaces();
        names.extend(self.known.borrow().namespaces.iter().cloned());
        names.push(crate::model::HOST.to_string());
        names
    }

    /// `(ns, if)`: declared ones and live ones.
    fn interface_names(&self) -> Vec<(String, String)> {
        let mut all = self.known.borrow().interfaces.clone();
        all.extend(super::live::interfaces(&super::live::namespaces()));
        all
    }

    /// The candidates for the word `line[start..pos]`.
    fn candidates(&self, line: &str, start: usize, pos: usize) -> Vec<Pair> {
        let word = &line[start..pos];
        let previous = previous_word(line, start);
        if let Some((ns, _)) = word.split_once('.') {
            let ifs = self.interface_names().into_iter().filter(|(n, _)| n == ns).map(|(n, i)| format!("{n}.{i}"));
            return pairs(word, ifs);
        }
        match previous {
            "netns" | ":show" => pairs(word, self.namespace_names()),
            "dev" | "master" | "on" | "iif" | "oif" | "link" => pairs(word, self.interface_names().into_iter().map(|(_, i)| i)),
            _ => {
                let known = self.known.borrow();
                let words = syntax::keywords()
                    .into_iter()
                    .map(str::to_string)
                    .chain(known.namespaces.iter().cloned())
                    .chain(known.variables.iter().cloned())
                    .chain(known.interfaces.iter().map(|(_, i)| i.clone()));
                pairs(word, words)
            }
        }
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let trimmed = before.trim_start();
        if let Some(command) = trimmed.strip_prefix(':') {
            let lead = before.len() - trimmed.len();
            if !command.contains(char::is_whitespace) {
                return Ok((lead, pairs(trimmed, COMMANDS.iter().map(|c| format!(":{}", c.name)))));
            }
            let name = command.split_whitespace().next().unwrap_or("");
            return match name {
                "load" | "save" => self.files.complete_path(line, pos),
                "autocommit" => {
                    let start = word_start(line, pos);
                    Ok((start, pairs(&line[start..pos], ["on".to_string(), "off".to_string()])))
                }
                _ => {
                    let start = word_start(line, pos);
                    Ok((start, self.candidates(line, start, pos)))
                }
            };
        }
        // A path after `include "`.
        if let Some(quote) = before.rfind('"')
            && before[..quote].trim_end().ends_with("include")
            && before[..quote].matches('"').count().is_multiple_of(2)
        {
            return self.files.complete_path(line, pos);
        }
        let start = word_start(line, pos);
        Ok((start, self.candidates(line, start, pos)))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if pos < line.len() {
            return None;
        }
        let trimmed = line.trim_start();
        if let Some(command) = trimmed.strip_prefix(':') {
            if let Some(name) = command.strip_suffix(' ') {
                return COMMANDS.iter().find(|c| c.name == name && !c.args.is_empty()).map(|c| c.args.to_string());
            }
            if command.is_empty() || command.contains(char::is_whitespace) {
                return None;
            }
            let mut matching = COMMANDS.iter().filter(|c| c.name.starts_with(command));
            let only = matching.next()?;
            return matching.next().is_none().then(|| only.name[command.len()..].to_string());
        }
        let start = word_start(line, pos);
        let word = &line[start..pos];
        // After a word that takes a name, a keyword is no likely continuation.
        if word.len() < 2 || TAKES_A_NAME.contains(&previous_word(line, start)) {
            return None;
        }
        let keywords = syntax::keywords();
        let mut matching = keywords.iter().filter(|k| k.starts_with(word) && k.len() > word.len());
        let only = matching.next()?;
        matching.next().is_none().then(|| only[word.len()..].to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_open_and_close_but_arrows_do_not() {
        assert_eq!(open_blocks("netns a <"), 1);
        assert_eq!(open_blocks("netns a < veth v <-> b.v < addr 10.0.0.1/24 >"), 1);
        assert_eq!(open_blocks("  filter dport 22 -> 1:10"), 0);
        assert_eq!(open_blocks("netns a < # a comment with < in it"), 1);
        assert_eq!(open_blocks("bpf ingress \"<x>\" >"), -1);
        assert!(continues("netns a <"));
        assert!(continues("route default \\"));
        assert!(!continues("netns a < up >"));
        assert!(!continues(":load a<b"));
    }

    #[test]
    fn keywords_are_coloured_and_names_are_not() {
        let text = highlight_text("netns a1 < mtu 1400 >");
        assert!(text.starts_with("\x1b[1;34mnetns\x1b[0m a1 "), "{text:?}");
        assert!(text.contains("\x1b[36m1400\x1b[0m"), "{text:?}");
        // Half-typed lines still colour their keywords.
        assert!(highlight_text("netns a < veth").contains("\x1b[1;34mveth\x1b[0m"));
    }

    #[test]
    fn completion_knows_keywords_declared_names_and_commands() {
        let known = Rc::new(RefCell::new(Known {
            namespaces: vec!["lab1".into()],
            interfaces: vec![("lab1".into(), "eth9".into())],
            variables: vec![],
        }));
        let helper = ReplHelper::new(known, false);
        let history = rustyline::history::DefaultHistory::new();
        let ctx = Context::new(&history);
        let names = |line: &str| -> Vec<String> {
            let (_, c) = helper.complete(line, line.len(), &ctx).unwrap();
            c.into_iter().map(|p| p.replacement).collect()
        };
        assert_eq!(names("net"), vec!["netem", "netns"]);
        assert_eq!(names("firew"), vec!["firewall"]);
        assert_eq!(names("netns r < firewall postrouting < masq"), vec!["masquerade"]);
        assert!(names("netns la").contains(&"lab1".to_string()));
        assert_eq!(names("netns x < link lab1.e"), vec!["lab1.eth9"]);
        assert_eq!(names(":au"), vec![":autocommit"]);
        assert_eq!(names(":autocommit o"), vec!["off", "on"]);
        assert_eq!(helper.hint(":und", 4, &ctx).as_deref(), Some("o"));
        assert_eq!(helper.hint("netn", 4, &ctx).as_deref(), Some("s"));
        assert_eq!(helper.hint("netns la", 8, &ctx), None);
    }
}
