//! The parse of a document that changes a little at a time (the language server's).
//!
//! The document is cut into top-level pieces (syntax/chunks.rs). The pieces an edit left
//! alone keep their statements: those before the edit as they are, those after it moved
//! by the edit's length (syntax/shift.rs); only the pieces in between are parsed. The
//! result is the statements and warnings a parse of the whole text gives. When a piece
//! does not parse, or the text nests too deep, the whole text is parsed as before
//! ([`super::parse_recovering`]), so syntax errors read exactly as they did.

use super::chunks;
use super::shift::Shift;
use crate::ast::{Script, Stmt};
use crate::diagnostic::Diagnostic;
use crate::source::FileId;
use std::ops::Range;

/// A text's parse, kept to parse its next version.
pub struct Parsed {
    file: FileId,
    text: String,
    pieces: Vec<Piece>,
    script: Script,
}

struct Piece {
    range: Range<usize>,
    /// How many of the script's top-level statements come from this piece.
    stmts: usize,
    /// The builder's warnings (e.g. a byte-rate unit).
    diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    pub fn script(&self) -> &Script {
        &self.script
    }

    /// What the parse reported (warnings only: a text with a syntax error has no `Parsed`).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        self.pieces.iter().flat_map(|p| p.diagnostics.iter().cloned()).collect()
    }
}

/// Parses `text` (file `file`), reusing what `previous` (the parse of an earlier version)
/// still holds. `Err` is [`super::parse_recovering`]'s answer for the whole text, given
/// when the text has a syntax error or nests too deep; it leaves nothing to reuse.
pub fn parse(previous: Option<Parsed>, file: FileId, text: &str) -> Result<Parsed, (Option<Script>, Vec<Diagnostic>)> {
    match reparse(previous, file, text) {
        Some(parsed) => Ok(parsed),
        None => Err(super::parse_recovering(file, text)),
    }
}

fn reparse(previous: Option<Parsed>, file: FileId, text: &str) -> Option<Parsed> {
    super::limits::check_nesting(file, text).ok()?;
    let ranges = chunks::pieces(text);
    let (mut old_pieces, mut stmts, old_text) = match previous {
        Some(p) if p.file == file => (p.pieces, p.script.stmts, p.text),
        _ => (Vec::new(), Vec::new(), String::new()),
    };
    let same = |old: &Range<usize>, new: &Range<usize>| old.len() == new.len() && old_text.as_bytes()[old.clone()] == text.as_bytes()[new.clone()];
    // The pieces before the edit, at the same offsets.
    let mut prefix = 0;
    while prefix < ranges.len() && prefix < old_pieces.len() && old_pieces[prefix].range.start == ranges[prefix].start && same(&old_pieces[prefix].range, &ranges[prefix]) {
        prefix += 1;
    }
    // The pieces after it, moved by `delta`.
    let delta = text.len() as i64 - old_text.len() as i64;
    let mut suffix = 0;
    while suffix < ranges.len() - prefix && suffix < old_pieces.len() - prefix && {
        let (old, new) = (&old_pieces[old_pieces.len() - 1 - suffix].range, &ranges[ranges.len() - 1 - suffix]);
        new.start as i64 - old.start as i64 == delta && same(old, new)
    } {
        suffix += 1;
    }
    let prefix_stmts: usize = old_pieces[..prefix].iter().map(|p| p.stmts).sum();
    let suffix_stmts: usize = old_pieces[old_pieces.len() - suffix..].iter().map(|p| p.stmts).sum();
    let tail_stmts = stmts.split_off(stmts.len() - suffix_stmts);
    stmts.truncate(prefix_stmts);
    let tail_pieces = old_pieces.split_off(old_pieces.len() - suffix);
    old_pieces.truncate(prefix);
    let mut pieces = old_pieces;
    pieces.reserve(ranges.len() - prefix);
    for range in &ranges[prefix..ranges.len() - suffix] {
        let (mut more, diagnostics) = chunks::parse_piece(file, text, range.clone())?;
        pieces.push(Piece { range: range.clone(), stmts: more.len(), diagnostics });
        stmts.append(&mut more);
    }
    let mut tail = tail_stmts.into_iter();
    for (piece, range) in tail_pieces.into_iter().zip(&ranges[ranges.len() - suffix..]) {
        let mut own: Vec<Stmt> = tail.by_ref().take(piece.stmts).collect();
        let mut diagnostics = piece.diagnostics;
        if delta != 0 && !(own.iter_mut().all(|s| s.shift(delta)) && diagnostics.iter_mut().all(|d| d.shift(delta))) {
            // A statement the shift does not move (firewall rules): parsed again.
            (own, diagnostics) = chunks::parse_piece(file, text, range.clone())?;
        }
        pieces.push(Piece { range: range.clone(), stmts: own.len(), diagnostics });
        stmts.append(&mut own);
    }
    Some(Parsed { file, text: text.to_string(), pieces, script: Script { stmts } })
}
