//! Limits on how deep a script may nest, checked on the raw text before pest sees it.
//!
//! pest's generated parser, the AST builder and the evaluator all recurse once per
//! nesting level (`<` blocks, `(`, `{`, unary `-`). Ten thousand nested parentheses
//! overflowed the stack (a SIGABRT, not a diagnostic). No real script nests more than a
//! handful of levels, so a cheap scan refuses deeper input with a located diagnostic.

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};

pub const TOO_DEEP: &str = "netscript::syntax::too_deep";

/// Blocks, parentheses, interpolations and unary minus signs, counted together.
pub const MAX_NESTING: usize = 64;

/// An expression of more operators than this is refused: its tree is as deep as it is
/// long (`1+1+…+1`), and evaluating 50,000 terms overflowed the stack.
pub const MAX_EXPRESSION_DEPTH: usize = 256;

/// Finds the first place where the text nests deeper than [`MAX_NESTING`].
pub fn check_nesting(file: FileId, text: &str) -> Result<(), Diagnostic> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'#' => {
                // A comment runs to the end of the line.
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                // A string runs to its closing quote (backslash escapes), or the line's end.
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            // `<->` is an operator, not a block.
            b'<' if bytes.get(i + 1) == Some(&b'-') => i += 1,
            b'<' | b'(' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(too_deep(file, i, i + 1, depth));
                }
            }
            // `->` and `<->` end in `>`, which closes nothing.
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b'>' | b')' | b'}' => depth = depth.saturating_sub(1),
            b'-' => {
                // A run of minus signs (spaces between them allowed) nests like
                // parentheses: `- - -1` is -(-(-1)).
                let start = i;
                let mut run = 0;
                let mut j = i;
                while j < bytes.len() && matches!(bytes[j], b'-' | b' ' | b'\t') {
                    if bytes[j] == b'-' {
                        run += 1;
                        i = j;
                    }
                    j += 1;
                }
                if depth + run > MAX_NESTING {
                    return Err(too_deep(file, start, i + 1, depth + run));
                }
                // `i` is on the last minus of the run; a `>` after it is an arrow.
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

fn too_deep(file: FileId, start: usize, end: usize, depth: usize) -> Diagnostic {
    Diagnostic::error(TOO_DEEP, Span::new(file, start, end), format!("the script nests deeper than {MAX_NESTING} levels here"))
        .label(format!("level {depth}"))
        .help(format!(
            "netscript allows at most {MAX_NESTING} nested blocks, parentheses, interpolations and minus signs together; \
             flatten the script (a `let` or a `for` loop instead of nesting)"
        ))
}

/// The diagnostic for an expression longer than [`MAX_EXPRESSION_DEPTH`] operators.
pub fn expression_too_long(span: Span) -> Diagnostic {
    Diagnostic::error(TOO_DEEP, span, format!("this expression is deeper than {MAX_EXPRESSION_DEPTH} operations"))
        .label(format!("operation {} is here", MAX_EXPRESSION_DEPTH + 1))
        .help("split it into several `let`s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings_comments_and_arrows() {
        let ok = |t: &str| check_nesting(FileId(0), t).is_ok();
        assert!(ok(&format!("{}{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING))));
        assert!(!ok(&"(".repeat(MAX_NESTING + 1)));
        assert!(!ok(&"- ".repeat(MAX_NESTING + 1)));
        assert!(ok(&"veth a <-> b.c\n".repeat(1000)));
        assert!(ok(&"filter dport 1 -> 10\n".repeat(1000)));
        assert!(ok(&format!("# {}\n\"{}\"", "<".repeat(1000), "(".repeat(1000))));
        let d = check_nesting(FileId(0), &format!("x {}", "<".repeat(100))).unwrap_err();
        assert_eq!((d.span.start, d.span.end), (2 + MAX_NESTING as u32, 3 + MAX_NESTING as u32));
    }
}
