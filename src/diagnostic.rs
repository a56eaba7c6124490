//! Diagnostics: every error and warning netscript reports about a script, each with a
//! stable code, a labelled span and, where it helps, a help line. Rendered with miette.

use crate::source::{SourceMap, Span};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Diagnostic {
    /// Stable, e.g. `netscript::check::unknown_namespace`.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    #[serde(skip)]
    pub span: Span,
    pub label: String,
    /// Further places in the same file, e.g. the first declaration of a duplicate.
    #[serde(skip)]
    pub secondary: Vec<(Span, String)>,
    pub help: Option<String>,
    /// Where the script was when this arose, innermost first (`for i = 3`, `included from`).
    pub context: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            span,
            label: String::new(),
            secondary: Vec::new(),
            help: None,
            context: Vec::new(),
        }
    }
    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, span, message) }
    }
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn also(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push((span, label.into()));
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// "did you mean `x`?" for the closest of `candidates`, if one is close enough.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let mut score = strsim::jaro_winkler(name, candidate);
        // Short names with one edit (`ips` for `isp`) score low on Jaro-Winkler.
        if name.len() > 1 && strsim::damerau_levenshtein(name, candidate) == 1 {
            score = score.max(0.8);
        }
        if score >= 0.8 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

/// A diagnostic bound to its source text, in the shape miette renders.
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<String>,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{prefix}: {}", self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        let d = self.diagnostic;
        if d.help.is_none() && d.context.is_empty() {
            return None;
        }
        let mut text = d.help.clone().unwrap_or_default();
        for c in &d.context {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(c);
        }
        Some(Box::new(text))
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let d = self.diagnostic;
        let to_source = |s: Span| SourceSpan::new((s.start as usize).into(), s.len());
        let primary = LabeledSpan::new_primary_with_span(
            (!d.label.is_empty()).then(|| d.label.clone()),
            to_source(d.span),
        );
        let others = d
            .secondary
            .iter()
            .filter(|(s, _)| s.file == d.span.file)
            .map(move |(s, l)| LabeledSpan::new_with_span(Some(l.clone()), to_source(*s)));
        Some(Box::new(std::iter::once(primary).chain(others)))
    }
}

/// How diagnostics are drawn.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    pub color: bool,
    pub width: usize,
}

impl RenderOptions {
    /// Plain, fixed-width: what golden tests and pipes see.
    pub fn plain() -> Self {
        RenderOptions { color: false, width: 100 }
    }
}

/// Lines longer than this many bytes are shown as an excerpt around the span.
const LONG_LINE: usize = 240;
/// How much of a long line is shown on each side of the place it is cut around.
const EXCERPT_SIDE: usize = 80;

/// The text with every line longer than [`LONG_LINE`] cut to a window (marked with `…`)
/// around the first of `points` on it, and `points` moved to where they are in the
/// result (clamped into the window). miette cannot draw past column 65,535 (it panicked
/// on a label there), and a screen-wide line helps nobody.
fn shorten_long_lines(text: &str, points: &mut [usize]) -> Option<String> {
    if !text.split('\n').any(|line| line.len() > LONG_LINE) {
        return None;
    }
    let mut out = String::with_capacity(text.len().min(1 << 20));
    let mut moved = vec![false; points.len()];
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let content = line.strip_suffix('\n').unwrap_or(line);
        let (start, end) = (line_start, line_start + content.len());
        let new_start = out.len();
        if content.len() <= LONG_LINE {
            out.push_str(line);
            for (p, done) in points.iter_mut().zip(moved.iter_mut()) {
                if !*done && *p >= start && *p <= start + line.len() {
                    *p = new_start + (*p - start);
                    *done = true;
                }
            }
        } else {
            let anchor = points.iter().zip(&moved).find(|(p, done)| !**done && **p >= start && **p <= end).map_or(start, |(p, _)| *p);
            let mut from = anchor.saturating_sub(EXCERPT_SIDE).max(start);
            while !text.is_char_boundary(from) {
                from -= 1;
            }
            let mut to = (anchor + EXCERPT_SIDE).min(end);
            while !text.is_char_boundary(to) {
                to += 1;
            }
            if from > start {
                out.push('…');
            }
            let window_start = out.len();
            out.push_str(&text[from..to]);
            let window_end = out.len();
            if to < end {
                out.push('…');
            }
            out.push_str(&line[content.len()..]);
            for (p, done) in points.iter_mut().zip(moved.iter_mut()) {
                if !*done && *p >= start && *p <= start + line.len() {
                    *p = if *p < from {
                        window_start
                    } else if *p > to {
                        window_end
                    } else {
                        window_start + (*p - from)
                    };
                    *done = true;
                }
            }
        }
        line_start += line.len();
    }
    Some(out)
}

/// Renders one diagnostic as text, headed by its `file:line:col`.
pub fn render(diagnostic: &Diagnostic, sources: &SourceMap, options: RenderOptions) -> String {
    let original = diagnostic;
    let original_span = diagnostic.span;
    let file = sources.get(diagnostic.span.file);
    // Spans as offsets, primary first, then secondary ones of the same file.
    let same_file: Vec<usize> = diagnostic.secondary.iter().enumerate().filter(|(_, (s, _))| s.file == diagnostic.span.file).map(|(i, _)| i).collect();
    let mut points: Vec<usize> = std::iter::once(diagnostic.span)
        .chain(same_file.iter().map(|&i| diagnostic.secondary[i].0))
        .flat_map(|s| [s.start as usize, s.end as usize])
        .collect();
    let shortened;
    let (text, diagnostic) = match shorten_long_lines(&file.text, &mut points) {
        Some(text) => {
            let mut moved = diagnostic.clone();
            moved.span.start = points[0] as u32;
            moved.span.end = points[1] as u32;
            for (k, &i) in same_file.iter().enumerate() {
                moved.secondary[i].0.start = points[2 + 2 * k] as u32;
                moved.secondary[i].0.end = points[3 + 2 * k] as u32;
            }
            shortened = moved;
            (text, &shortened)
        }
        None => (file.text.to_string(), diagnostic),
    };
    // The column miette prints is then one of the excerpt: say so (the heading above has
    // the real one).
    let name = if std::ptr::eq(diagnostic, original) { file.name.clone() } else { format!("{} (long lines shortened)", file.name) };
    let report = Report { diagnostic, source: NamedSource::new(name, text) };
    let theme = if options.color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(options.width).with_links(false);
    let mut out = String::new();
    out.push_str(&sources.location(original_span));
    out.push_str(": ");
    handler.render_report(&mut out, &report).expect("rendering to a String cannot fail");
    out
}

/// Renders every diagnostic, errors and warnings in source order, with a closing count.
pub fn render_all(diagnostics: &[Diagnostic], sources: &SourceMap, options: RenderOptions) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&render(d, sources, options));
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    if errors + warnings > 0 {
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        out.push_str(&format!("{}, {}\n", plural(errors, "error"), plural(warnings, "warning")));
    }
    out
}

/// One diagnostic for tools (`check --format json`): 1-based line and column (in
/// characters) of both ends, and the span's byte offsets in its file.
pub fn to_json(diagnostic: &Diagnostic, sources: &SourceMap) -> serde_json::Value {
    let file = sources.get(diagnostic.span.file);
    let (line, column) = file.line_col(diagnostic.span.start);
    let (end_line, end_column) = file.line_col(diagnostic.span.end);
    let secondary: Vec<serde_json::Value> = diagnostic
        .secondary
        .iter()
        .map(|(span, label)| {
            let f = sources.get(span.file);
            let (line, column) = f.line_col(span.start);
            serde_json::json!({ "file": f.name, "line": line, "column": column, "span": { "start": span.start, "end": span.end }, "label": label })
        })
        .collect();
    serde_json::json!({
        "code": diagnostic.code,
        "severity": diagnostic.severity,
        "message": diagnostic.message,
        "file": file.name,
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "span": { "start": diagnostic.span.start, "end": diagnostic.span.end },
        "label": (!diagnostic.label.is_empty()).then_some(&diagnostic.label),
        "help": diagnostic.help,
        "context": diagnostic.context,
        "secondary": secondary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_around_the_span_on_char_boundaries() {
        let text = format!("{}x{}\nshort\n", "é".repeat(40_000), "é".repeat(40_000));
        let mut sources = SourceMap::new();
        let file = sources.add("wide.ns", None, text.as_str());
        let at = 80_000;
        let d = Diagnostic::error("netscript::test", Span::new(file, at, at + 1), "here").label("this x").also(Span::new(file, 0, 2), "start");
        let out = render(&d, &sources, RenderOptions::plain());
        assert!(out.starts_with("wide.ns:1:40001: netscript::test"), "{out}");
        assert!(out.contains("this x") && out.contains('…'), "{out}");
        assert!(out.lines().all(|l| l.chars().count() < 400), "{out}");
    }
}
