//! Parsing a file one top-level piece at a time.
//!
//! pest keeps a token queue for everything it parsed until the pairs are dropped: for a
//! whole 100,000-line file that queue, and the pairs built on it, lived as long as the
//! syntax tree was being built. The file is cut instead at the newlines that stand
//! outside any block, string, comment or line continuation (a newline there can only be
//! a statement separator), and each piece is parsed and turned into statements on its own.
//!
//! The result is the same as a parse of the whole file: `<` and `>` appear in the grammar
//! only as a block's delimiters (and inside `<->` and `->`), so a cut misplaced inside a
//! block leaves a piece with an unmatched delimiter, which does not parse. When any piece
//! does not parse the caller parses the whole file as before, so syntax errors are found
//! and reported exactly as they were (tests/chunked_parse.rs compares both over every
//! example and test script).

use super::build::Builder;
use super::fast_rules::FastRules;
use super::{Grammar, Rule};
use crate::ast::Stmt;
use crate::diagnostic::Diagnostic;
use crate::source::FileId;
use pest::Parser as _;
use std::ops::Range;

/// The top-level pieces of `text`: byte ranges, in order, separated by one `\n` each.
pub fn pieces(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 256 + 1);
    let mut depth = 0usize;
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => {
                // A comment runs to the end of the line (any newline).
                while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                // A string runs to its closing quote; a backslash escapes any character,
                // a newline too; an unescaped newline ends it (a syntax error).
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' && b[i] != b'\r' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                if i < b.len() && b[i] == b'"' {
                    i += 1;
                }
                continue;
            }
            // A line continuation is whitespace.
            b'\\' => {
                i += match (b.get(i + 1), b.get(i + 2)) {
                    (Some(b'\r'), Some(b'\n')) => 3,
                    (Some(b'\n' | b'\r'), _) => 2,
                    _ => 1,
                };
                continue;
            }
            // `<->` is an operator, not a block.
            b'<' if b.get(i + 1) == Some(&b'-') => i += 1,
            b'<' => depth += 1,
            // `->` and `<->` end in `>`, which closes nothing.
            b'>' if i > 0 && b[i - 1] == b'-' => {}
            b'>' => depth = depth.saturating_sub(1),
            b'\n' if depth == 0 => {
                out.push(start..i);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(start.min(b.len())..b.len());
    out
}

/// Parses one piece (`range` of the file's `text`) into statements with the file's
/// offsets, and the builder's diagnostics (warnings). None when it does not parse.
pub fn parse_piece(file: FileId, text: &str, range: Range<usize>) -> Option<(Vec<Stmt>, Vec<Diagnostic>)> {
    parse_piece_with(file, text, range, &mut FastRules::default())
}

/// [`parse_piece`] of a text without its plain rule lines (fast_rules.rs): the builder
/// takes their rules from `fast`, and its positions in the file too.
pub(super) fn parse_piece_with(file: FileId, text: &str, range: Range<usize>, fast: &mut FastRules) -> Option<(Vec<Stmt>, Vec<Diagnostic>)> {
    let piece = &text[range.clone()];
    if piece.bytes().all(|c| matches!(c, b' ' | b'\t' | b'\r')) {
        return Some((Vec::new(), Vec::new()));
    }
    let mut pairs = Grammar::parse(Rule::file, piece).ok()?;
    let file_pair = pairs.next()?;
    let mut builder = Builder::at(file, piece, range.start);
    builder.fast = std::mem::take(fast);
    let script = builder.file(file_pair);
    *fast = std::mem::take(&mut builder.fast);
    Some((script.stmts, builder.diagnostics))
}

/// Parses the whole file piece by piece; None when a piece does not parse (or the file is
/// one piece: the caller's whole-file parse is then no slower).
pub fn parse(file: FileId, text: &str) -> Option<(Vec<Stmt>, Vec<Diagnostic>)> {
    parse_with(file, text, &mut FastRules::default())
}

/// [`parse`] of a text without its plain rule lines (fast_rules.rs).
pub(super) fn parse_with(file: FileId, text: &str, fast: &mut FastRules) -> Option<(Vec<Stmt>, Vec<Diagnostic>)> {
    let pieces = pieces(text);
    if pieces.len() < 2 {
        return None;
    }
    let mut stmts = Vec::with_capacity(pieces.len());
    let mut diagnostics = Vec::new();
    for range in pieces {
        let (mut more, mut warnings) = parse_piece_with(file, text, range, fast)?;
        stmts.append(&mut more);
        diagnostics.append(&mut warnings);
    }
    Some((stmts, diagnostics))
}
