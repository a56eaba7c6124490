//! Source text → AST. pest's types stay inside this module.

mod build;
pub mod chunks;
mod errors;
mod fast_rules;
pub mod incremental;
mod limits;
mod rule_kind;
mod shift;

pub use limits::{MAX_EXPRESSION_DEPTH, MAX_NESTING, TOO_DEEP};

use crate::ast::Script;
use crate::diagnostic::Diagnostic;
use crate::source::FileId;
use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/netscript.pest"]
pub(crate) struct Grammar;

/// At most this many syntax errors are reported for one file.
const MAX_SYNTAX_ERRORS: usize = 20;

/// Parses one file. On syntax errors, reports each one it can find: after an error it
/// blanks the failing statement and parses again, so later statements are still read.
/// Warnings (e.g. a byte-rate unit) are returned only with errors; see
/// [`parse_recovering`] for them all.
pub fn parse(file: FileId, text: &str) -> Result<Script, Vec<Diagnostic>> {
    match parse_recovering(file, text) {
        (Some(script), diagnostics) if !diagnostics.iter().any(Diagnostic::is_error) => Ok(script),
        (_, diagnostics) => Err(diagnostics),
    }
}

/// Parses one file as far as it can: the statements that parsed (those of a syntax
/// error blanked out), and every diagnostic. `None` when nothing could be read (input
/// nested too deep, or too many syntax errors to go on).
pub fn parse_recovering(file: FileId, text: &str) -> (Option<Script>, Vec<Diagnostic>) {
    // Before pest: its parser recurses once per nesting level.
    if let Err(d) = limits::check_nesting(file, text) {
        return (None, vec![d]);
    }
    // Plain firewall rule lines read without pest, when the text without them parses and
    // each goes into the firewall block that holds it (fast_rules.rs).
    if let Some((kept, mut fast)) = fast_rules::remove_rule_lines(file, text) {
        let parsed = match chunks::parse_with(file, &kept, &mut fast) {
            Some(parsed) => Some(parsed),
            None if !fast.any_taken() => chunks::parse_piece_with(file, &kept, 0..kept.len(), &mut fast),
            None => None,
        };
        if let Some((stmts, warnings)) = parsed
            && fast.all_placed()
        {
            return (Some(Script { stmts }), warnings);
        }
    }
    // One top-level piece at a time when every piece parses (the same tree, less memory).
    if let Some((stmts, warnings)) = chunks::parse(file, text) {
        return (Some(Script { stmts }), warnings);
    }
    parse_whole(file, text)
}

/// How many lines of `text` are read without pest (tests check that the path is taken).
#[doc(hidden)]
pub fn fast_rule_lines(text: &str) -> usize {
    fast_rules::remove_rule_lines(FileId(0), text).map_or(0, |(_, fast)| fast.len())
}

/// [`parse_recovering`] of the whole text at once, never by pieces (what a syntax error
/// needs; tests compare both).
#[doc(hidden)]
pub fn parse_whole(file: FileId, text: &str) -> (Option<Script>, Vec<Diagnostic>) {
    if let Err(d) = limits::check_nesting(file, text) {
        return (None, vec![d]);
    }
    let mut diagnostics = Vec::new();
    let mut masked: Option<String> = None;
    loop {
        let current = masked.as_deref().unwrap_or(text);
        match Grammar::parse(Rule::file, current) {
            Ok(mut pairs) => {
                let file_pair = pairs.next().expect("file rule always yields one pair");
                let mut builder = build::Builder::new(file, text);
                let script = builder.file(file_pair);
                diagnostics.extend(builder.diagnostics);
                return (Some(script), diagnostics);
            }
            Err(error) => {
                let (diagnostic, position) = errors::syntax_error(file, current, &error);
                // The same error at the same place again is noise, not news.
                if !diagnostics.last().is_some_and(|d: &Diagnostic| d.span == diagnostic.span && d.message == diagnostic.message) {
                    diagnostics.push(diagnostic);
                }
                if diagnostics.len() >= MAX_SYNTAX_ERRORS {
                    return (None, diagnostics);
                }
                match errors::blank_statement(current, position) {
                    Some(next) if next != current => masked = Some(next),
                    _ => return (None, diagnostics),
                }
            }
        }
    }
}

/// Classifies the source for highlighting: byte ranges with the kind of token they hold.
/// Used by the REPL; driven by the same grammar as the parser.
pub fn highlight_spans(text: &str) -> Vec<(std::ops::Range<usize>, TokenClass)> {
    let Ok(pairs) = Grammar::parse(Rule::file, text) else {
        return errors::lex_fallback(text);
    };
    let mut out = Vec::new();
    for pair in pairs.flatten() {
        if let Some(class) = token_class(pair.as_rule()) {
            let span = pair.as_span();
            out.push((span.start()..span.end(), class));
        }
    }
    // Comments are silent rules: find them by scanning.
    out.extend(errors::comment_ranges(text).into_iter().map(|r| (r, TokenClass::Comment)));
    out.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenClass {
    Keyword,
    Name,
    Number,
    Literal,
    String,
    Comment,
    Interpolation,
    Operator,
}

fn token_class(rule: Rule) -> Option<TokenClass> {
    if rule_kind::is_keyword(rule) {
        return Some(TokenClass::Keyword);
    }
    Some(match rule {
        Rule::name_text | Rule::var => TokenClass::Name,
        Rule::integer | Rule::hex_digits => TokenClass::Number,
        Rule::rate_lit | Rule::size_lit | Rule::duration_lit | Rule::percent_lit | Rule::mac_lit | Rule::v4_value | Rule::v6_value => {
            TokenClass::Literal
        }
        Rule::string => TokenClass::String,
        Rule::interp => TokenClass::Interpolation,
        Rule::range_op => TokenClass::Operator,
        _ => return None,
    })
}

/// Every keyword of the grammar, for completion and the editors' consistency test.
pub fn keywords() -> Vec<&'static str> {
    let grammar = include_str!("../../grammar/netscript.pest");
    let mut words: Vec<&'static str> = grammar
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("kw_"))
        .filter_map(|rest| rest.split('"').nth(1))
        .collect();
    words.sort_unstable();
    words.dedup();
    words
}
