//! The session: the statements accepted so far (applied, then pending), the transactions
//! that applied them (with their undo actions, for `:undo`), and the checks that decide
//! whether a typed statement is accepted.
//!
//! The session's script is the text of every accepted statement, in order. Its desired
//! state is that whole text, checked; `:apply` runs it as one transaction, so only what
//! the live system does not hold yet (the pending difference) is changed.

use crate::check::{self, Checked};
use crate::diagnostic::Diagnostic;
use crate::model::Desired;
use crate::plan::{self, Action, Observed};
use crate::source::{FileId, SourceMap, Span};
use std::path::PathBuf;

/// The name of the session's whole script in diagnostics and plans.
pub const SESSION_NAME: &str = "<session>";

/// One `:apply` that changed (or found up to date) the system.
#[derive(Debug, Clone)]
pub struct Applied {
    pub statements: Vec<String>,
    /// Undo actions of the operations it applied, in the order they were applied.
    pub undo: Vec<Action>,
}

#[derive(Debug)]
pub struct Session {
    pub applied: Vec<Applied>,
    pub pending: Vec<String>,
    /// Apply each accepted statement at once.
    pub autocommit: bool,
    /// Operations `:apply` would run now; `None` when the live state cannot be read.
    pub pending_ops: Option<usize>,
    /// The desired state of [`Session::text`], kept in step with it.
    pub desired: Desired,
    /// The script file under which this session's runs are recorded (`netscript down`
    /// on it removes what the session applied).
    pub script_path: PathBuf,
}

/// A statement checked against the session.
pub struct Attempt {
    pub sources: SourceMap,
    pub checked: Checked,
    /// Diagnostics to show: errors anywhere, warnings only in the new input (remapped
    /// into the input's own file so they point into the line just typed).
    pub diagnostics: Vec<Diagnostic>,
}

impl Attempt {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    pub fn new() -> Session {
        let script_path = crate::run::state::run_dir().join("repl").join(format!("session-{}.ns", std::process::id()));
        Session { applied: Vec::new(), pending: Vec::new(), autocommit: false, pending_ops: Some(0), desired: Desired::default(), script_path }
    }

    /// Statements already applied, in order.
    pub fn applied_statements(&self) -> impl Iterator<Item = &String> {
        self.applied.iter().flat_map(|a| a.statements.iter())
    }

    /// The session's script: applied statements, then pending ones.
    pub fn text(&self) -> String {
        join(self.applied_statements().chain(self.pending.iter()))
    }

    /// The text of applied statements only.
    pub fn applied_text(&self) -> String {
        join(self.applied_statements())
    }

    /// Checks `base` followed by `input`. `label` names the input in diagnostics and
    /// `first_line` is the line the input starts on there (for piped input and files).
    pub fn attempt(base: &str, input: Option<&str>, label: &str, first_line: usize) -> Attempt {
        let mut sources = SourceMap::new();
        let (text, offset) = match input {
            Some(input) if !base.is_empty() => (format!("{base}\n{input}"), base.len() + 1),
            Some(input) => (input.to_string(), 0),
            None => (base.to_string(), base.len()),
        };
        let session = sources.add(SESSION_NAME, None, text.clone());
        let mut checked = check::check(&mut sources, session, &check::FsLoader);
        if !checked.has_errors()
            && let Err(diagnostics) = plan::plan(&checked.desired, &Observed::empty())
        {
            // What only a whole view shows (a veth pair split across namespaces…).
            checked.diagnostics.extend(diagnostics);
        }
        let mut diagnostics = checked.diagnostics.clone();
        if let Some(input) = input {
            let pad = "\n".repeat(first_line.saturating_sub(1));
            let input_file = sources.add(label, None, format!("{pad}{input}"));
            let remap = |span: &mut Span| remap(span, session, offset, pad.len(), input_file);
            for d in &mut diagnostics {
                remap(&mut d.span);
                d.secondary.iter_mut().for_each(|(s, _)| remap(s));
            }
            diagnostics.retain(|d| d.is_error() || d.span.file == input_file);
        }
        Attempt { sources, checked, diagnostics }
    }

    /// Checks `input` after the session's statements; on success it becomes pending.
    pub fn accept(&mut self, input: &str, label: &str, first_line: usize) -> Attempt {
        let attempt = Session::attempt(&self.text(), Some(input), label, first_line);
        if !attempt.has_errors() {
            self.pending.push(input.trim_end().to_string());
            self.desired = attempt.checked.desired.clone();
        }
        attempt
    }

    /// The session's whole script, checked (it always checks: statements are accepted
    /// only when it does).
    pub fn whole(&self) -> Attempt {
        Session::attempt(&self.text(), None, SESSION_NAME, 1)
    }

    /// After the statements changed other than by [`Session::accept`]: re-checks the
    /// whole script and recounts the pending operations.
    pub fn refresh_pending_ops(&mut self) {
        self.desired = self.whole().checked.desired;
        self.count_pending_ops();
    }

    /// Recounts the operations pending against the live system.
    pub fn count_pending_ops(&mut self) {
        self.pending_ops = if self.pending.is_empty() {
            Some(0)
        } else {
            live_observe(&self.desired).and_then(|observed| plan::plan(&self.desired, &observed).ok()).map(|p| p.ops.len())
        };
    }

    /// Namespaces this session names, in order of declaration.
    pub fn namespaces(&self) -> Vec<String> {
        self.desired.namespaces.keys().cloned().collect()
    }

    /// Writes the session's script file (the key of its ownership record) with `text`.
    pub fn write_script(&self, text: &str) -> std::io::Result<()> {
        if let Some(dir) = self.script_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let header = "# A netscript REPL session: what it applied. `netscript down` on this file removes it.\n";
        std::fs::write(&self.script_path, format!("{header}{text}\n"))
    }

    /// Forgets the undo actions of an undone transaction in the ownership record.
    pub fn forget_in_record(&self, undone: &[Action]) -> Result<(), crate::run::state::StateError> {
        let Some(mut record) = crate::run::state::load(&self.script_path)? else { return Ok(()) };
        for action in undone {
            if let Some(entry) = record.owned.iter_mut().rev().find(|o| o.undo.contains(action)) {
                entry.undo.retain(|a| a != action);
            }
        }
        record.owned.retain(|o| !o.undo.is_empty());
        crate::run::state::save(&self.script_path, &record)
    }
}

fn join<'a>(statements: impl Iterator<Item = &'a String>) -> String {
    statements.map(String::as_str).collect::<Vec<_>>().join("\n")
}

fn remap(span: &mut Span, session: FileId, offset: usize, pad: usize, input: FileId) {
    if span.file == session && span.start as usize >= offset {
        *span = Span::new(input, span.start as usize - offset + pad, span.end as usize - offset + pad);
    }
}

/// The live state of what `desired` names, read with a fresh executor (a kept one could
/// hold connections into namespaces deleted since). `None` without privileges.
pub fn live_observe(desired: &Desired) -> Option<Observed> {
    crate::exec::Executor::new().ok()?.observe(desired).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_statement_becomes_pending_and_a_bad_one_changes_nothing() {
        let mut s = Session::new();
        assert!(!s.accept("netns a < bridge br0 < up > >", "<input>", 1).has_errors());
        let bad = s.accept("netns b < bridge nosuch < addr 10.0.0.300/24 > >", "<input>", 1);
        assert!(bad.has_errors());
        assert_eq!(s.pending, vec!["netns a < bridge br0 < up > >".to_string()]);
        // The error points into the input alone, not into the session's text.
        let d = bad.diagnostics.iter().find(|d| d.is_error()).unwrap();
        assert_eq!(bad.sources.get(d.span.file).name, "<input>");
        assert!(bad.sources.snippet(d.span).contains("300"), "{:?}", bad.sources.snippet(d.span));
    }

    #[test]
    fn statements_see_earlier_ones() {
        let mut s = Session::new();
        assert!(!s.accept("let n = 3", "<input>", 1).has_errors());
        assert!(!s.accept("netns a{n} < bridge br0 >", "<input>", 1).has_errors());
        assert_eq!(s.namespaces(), vec!["a3".to_string()]);
        // A duplicate declaration is caught against the session's earlier statements.
        assert!(s.accept("netns a3 < bridge br0 >", "<input>", 1).has_errors());
        assert_eq!(s.pending.len(), 2);
    }

    #[test]
    fn input_lines_keep_their_numbers() {
        let mut s = Session::new();
        let bad = s.accept("netns a <\n  mtu x\n>", "<stdin>", 7);
        assert!(bad.has_errors());
        let d = bad.diagnostics.iter().find(|d| d.is_error()).unwrap();
        assert!(bad.sources.location(d.span).starts_with("<stdin>:8:"), "{}", bad.sources.location(d.span));
    }
}
