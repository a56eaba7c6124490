//! `netscript fmt`: one canonical layout for a script.
//!
//! - one statement per line; `;` between statements becomes a line break;
//! - a block opens at the end of its statement's line, holds one statement a line
//!   indented by two spaces, and closes on a line of its own; an empty block is `<>`,
//!   and a block of one statement without a block or comments stays on the line
//!   (`link eth0 < addr 10.0.0.1/24 >`);
//! - attributes that follow a block-less interface declaration (the card form:
//!   `link eth0` then `addr ...`) are indented one level under it;
//! - one space between tokens (none added where the source had none: `x=1` stays),
//!   line continuations joined, trailing whitespace removed, at most one blank line
//!   kept between statements, none at the start or end of a block;
//! - comments are kept where they were: on a line of their own (indented like the
//!   statement after them) or at the end of a statement's line.
//!
//! Formatting works on a token stream ([`lex`]), not the AST, because the grammar drops
//! comments; every token keeps its source text, so only layout changes. The input must
//! parse: a script with syntax errors is refused with them.

pub mod lex;

use crate::diagnostic::Diagnostic;
use crate::source::FileId;
use lex::{Kind, Token};

const INDENT: &str = "  ";

/// Statements that declare an interface and make it the current one.
const INTERFACE_DECLARATIONS: &[&str] = &["veth", "bridge", "macvlan", "ipvlan", "ipip", "gre", "vlan", "vxlan", "link"];
/// Statements that apply to the current interface.
const INTERFACE_ATTRIBUTES: &[&str] = &["addr", "up", "down", "mtu", "mac", "master", "shape", "htb", "netem", "bpf", "xdp"];
/// Statements allowed anywhere in a body: they do not end the card form.
const NAMESPACE_WIDE: &[&str] = &["route", "rule", "forward", "sysctl", "firewall"];

/// Formats a script. `Err` with the syntax errors when it does not parse.
pub fn format(file: FileId, text: &str) -> Result<String, Vec<Diagnostic>> {
    crate::syntax::parse(file, text)?;
    Ok(format_tokens(&lex::tokens(text)))
}

/// Formats a script that is known to parse (or whatever tokens it has).
pub fn format_tokens(tokens: &[Token]) -> String {
    let mut pos = 0;
    let items = parse_items(tokens, &mut pos);
    let mut out = String::new();
    render(&items, 0, &mut out);
    out
}

#[derive(Debug)]
enum Item {
    Blank,
    Comment(String),
    Stmt(Stmt),
}

#[derive(Debug, Default)]
struct Stmt {
    tokens: Vec<Token>,
    block: Option<Vec<Item>>,
    /// A comment after the block's `<` on the same line.
    open_comment: Option<String>,
    /// A comment at the end of the statement's (last) line.
    comment: Option<String>,
}

impl Stmt {
    fn keyword(&self) -> &str {
        match self.tokens.first().map(|t| &t.kind) {
            Some(Kind::Word(w)) => w,
            _ => "",
        }
    }
}

/// Where a comment on the current line would go.
#[derive(Clone, Copy, PartialEq)]
enum LineEnd {
    /// Nothing on this line yet: a comment stands on its own.
    Nothing,
    /// The line ends the last statement (or its block): a trailing comment.
    Stmt,
}

/// Reads items up to a `>` (consumed) or the end.
fn parse_items(tokens: &[Token], pos: &mut usize) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    let mut current: Option<Stmt> = None;
    let mut newlines = 0usize;
    let mut line_end = LineEnd::Nothing;
    // Before an item: a blank line if the source had one, not at the start of a list.
    fn blank_before(items: &mut Vec<Item>, newlines: usize) {
        if newlines >= 2 && !items.is_empty() {
            items.push(Item::Blank);
        }
    }
    fn finish(items: &mut Vec<Item>, current: &mut Option<Stmt>) {
        if let Some(stmt) = current.take() {
            items.push(Item::Stmt(stmt));
        }
    }
    while *pos < tokens.len() {
        let token = &tokens[*pos];
        *pos += 1;
        match &token.kind {
            Kind::Newline => {
                finish(&mut items, &mut current);
                newlines += 1;
                line_end = LineEnd::Nothing;
            }
            Kind::Semi => finish(&mut items, &mut current),
            Kind::Comment(text) => {
                finish(&mut items, &mut current);
                let last = items.iter_mut().rev().find_map(|i| match i {
                    Item::Stmt(s) => Some(s),
                    _ => None,
                });
                match (line_end, last) {
                    (LineEnd::Stmt, Some(stmt)) if stmt.comment.is_none() => stmt.comment = Some(text.clone()),
                    _ => {
                        blank_before(&mut items, newlines);
                        items.push(Item::Comment(text.clone()));
                        newlines = 0;
                    }
                }
                line_end = LineEnd::Nothing;
            }
            Kind::Open => {
                let mut stmt = current.take().unwrap_or_else(|| {
                    blank_before(&mut items, newlines);
                    Stmt::default()
                });
                // Whether a comment follows the `<` on its line.
                let open_comment = match tokens.get(*pos).map(|t| &t.kind) {
                    Some(Kind::Comment(text)) => {
                        *pos += 1;
                        Some(text.clone())
                    }
                    _ => None,
                };
                stmt.open_comment = open_comment;
                stmt.block = Some(parse_items(tokens, pos));
                items.push(Item::Stmt(stmt));
                newlines = 0;
                line_end = LineEnd::Stmt;
            }
            Kind::Close => {
                finish(&mut items, &mut current);
                return items;
            }
            _ => {
                let stmt = current.get_or_insert_with(|| {
                    blank_before(&mut items, newlines);
                    Stmt::default()
                });
                stmt.tokens.push(token.clone());
                newlines = 0;
                line_end = LineEnd::Stmt;
            }
        }
    }
    finish(&mut items, &mut current);
    items
}

fn render(items: &[Item], depth: usize, out: &mut String) {
    let mut card = false;
    // Comments and blank lines wait for the statement after them, whose indentation they take.
    let mut pending: Vec<&Item> = Vec::new();
    for item in items {
        let Item::Stmt(stmt) = item else {
            pending.push(item);
            continue;
        };
        let keyword = stmt.keyword();
        let level = if INTERFACE_DECLARATIONS.contains(&keyword) {
            card = stmt.block.is_none();
            depth
        } else if INTERFACE_ATTRIBUTES.contains(&keyword) && card {
            depth + 1
        } else if NAMESPACE_WIDE.contains(&keyword) {
            depth
        } else {
            card = false;
            depth
        };
        flush(&mut pending, level, out);
        render_stmt(stmt, level, out);
    }
    flush(&mut pending, depth, out);
}

fn flush(pending: &mut Vec<&Item>, level: usize, out: &mut String) {
    for item in pending.drain(..) {
        match item {
            Item::Blank => out.push('\n'),
            Item::Comment(text) => {
                indent(level, out);
                out.push_str(text);
                out.push('\n');
            }
            Item::Stmt(_) => unreachable!("statements are not pending"),
        }
    }
}

fn indent(level: usize, out: &mut String) {
    for _ in 0..level {
        out.push_str(INDENT);
    }
}

fn render_stmt(stmt: &Stmt, level: usize, out: &mut String) {
    indent(level, out);
    let mut previous: Option<&Token> = None;
    for token in &stmt.tokens {
        if let Some(prev) = previous
            && (!token.glued || structural(&token.kind) || structural(&prev.kind))
        {
            out.push(' ');
        }
        out.push_str(&token_text(&token.kind));
        previous = Some(token);
    }
    if let Some(block) = &stmt.block {
        if !stmt.tokens.is_empty() {
            out.push(' ');
        }
        if block.is_empty() && stmt.open_comment.is_none() {
            out.push_str("<>");
        } else if let Some(inner) = inline(stmt, block) {
            out.push_str("< ");
            let mut line = String::new();
            render_stmt(inner, 0, &mut line);
            out.push_str(line.trim_end_matches('\n'));
            out.push_str(" >");
        } else {
            out.push('<');
            if let Some(comment) = &stmt.open_comment {
                out.push(' ');
                out.push_str(comment);
            }
            out.push('\n');
            render(block, level + 1, out);
            indent(level, out);
            out.push('>');
        }
    }
    if let Some(comment) = &stmt.comment {
        out.push(' ');
        out.push_str(comment);
    }
    out.push('\n');
}

/// A block of one statement, itself without a block or comments, stays on its
/// statement's line: `link eth0 < addr 10.0.0.1/24 >`.
fn inline<'a>(stmt: &Stmt, block: &'a [Item]) -> Option<&'a Stmt> {
    match block {
        [Item::Stmt(inner)] if stmt.open_comment.is_none() && inner.block.is_none() && inner.comment.is_none() => Some(inner),
        _ => None,
    }
}

fn structural(kind: &Kind) -> bool {
    matches!(kind, Kind::Pair | Kind::Arrow | Kind::Open | Kind::Close)
}

fn token_text(kind: &Kind) -> String {
    match kind {
        Kind::Word(s) | Kind::Str(s) | Kind::Raw(s) | Kind::Comment(s) => s.clone(),
        Kind::Pair => "<->".into(),
        Kind::Arrow => "->".into(),
        Kind::Open => "<".into(),
        Kind::Close => ">".into(),
        Kind::Semi => ";".into(),
        Kind::Newline => "\n".into(),
    }
}
