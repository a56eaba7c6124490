//! `netscript repl`: an interactive session on rustyline (see docs/REPL.md).
//!
//! Typed statements are checked against everything accepted before them and accumulate
//! as a pending change (the prompt counts its operations); `:apply` applies the session
//! as one transaction, `:undo` reverts the last one. `:autocommit on` applies each
//! accepted statement at once. With standard input not a terminal, statements and
//! commands are read line by line without prompts or colour (like `ip -batch -`); the
//! first failure ends the run with its exit code, and what is pending at the end of the
//! input is applied (like `netscript run -`).

pub mod commands;
pub mod helper;
pub mod live;
pub mod session;

use crate::console::Color;
use crate::console::{exit, Output};
use crate::diagnostic::{self, Diagnostic, RenderOptions};
use crate::source::SourceMap;
use crate::run::transaction::{self, Outcome};
use helper::{Known, ReplHelper, continues, open_blocks};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};
use session::{Applied, Session};
use std::cell::RefCell;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::rc::Rc;

/// What the loop does after an input.
pub enum Flow {
    /// Go on; the exit code of what ran (piped mode stops on the first non-zero).
    Continue(i32),
    Quit,
}

pub struct Repl {
    pub session: Session,
    out: Output,
    interactive: bool,
}

pub fn main(out: &Output, color: Color) -> i32 {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let interactive = std::io::stdin().is_terminal();
    let color = match color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => interactive && !no_color && std::io::stdout().is_terminal(),
    };
    let mut repl = Repl { session: Session::new(), out: Output { color, quiet: out.quiet, verbose: out.verbose }, interactive };
    if interactive { repl.interactive() } else { repl.piped() }
}

/// `$XDG_STATE_HOME/netscript/history`, or `~/.local/state/netscript/history`.
pub fn history_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("netscript").join("history"))
}

impl Repl {
    /// A message for the person at the terminal (left out when piped or quiet).
    pub fn note(&self, message: &str) {
        if !self.out.quiet {
            eprintln!("{message}");
        }
    }

    pub fn diagnostics(&self, diagnostics: &[Diagnostic], sources: &SourceMap) {
        if diagnostics.is_empty() {
            return;
        }
        let options = RenderOptions { color: self.out.color, ..RenderOptions::plain() };
        eprint!("{}", diagnostic::render_all(diagnostics, sources, options));
    }

    /// Runs one complete input: a `:` command or statements.
    pub fn handle(&mut self, input: &str, label: &str, first_line: usize) -> Flow {
        if input.trim_start().starts_with(':') {
            return commands::run(self, input);
        }
        let meaningful = input.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        });
        if !meaningful {
            return Flow::Continue(exit::OK);
        }
        Flow::Continue(self.statement(input, label, first_line))
    }

    /// Checks statements against the session; accepted, they become pending (and are
    /// applied at once under autocommit). Rejected, nothing changes.
    pub fn statement(&mut self, input: &str, label: &str, first_line: usize) -> i32 {
        let attempt = self.session.accept(input, label, first_line);
        self.diagnostics(&attempt.diagnostics, &attempt.sources);
        if attempt.has_errors() {
            if self.interactive {
                eprintln!("rejected: the session is unchanged");
            }
            return exit::SCRIPT_ERRORS;
        }
        if self.session.autocommit {
            let code = self.apply();
            if code != exit::OK {
                self.session.pending.pop();
                self.session.refresh_pending_ops();
                self.note("the statement was not applied; it is dropped from the session");
            }
            return code;
        }
        // The count is for the prompt: piped mode has none.
        if self.interactive {
            self.session.count_pending_ops();
        }
        exit::OK
    }

    /// `:apply`: the session as one transaction.
    pub fn apply(&mut self) -> i32 {
        if self.session.pending.is_empty() {
            self.note("nothing pending");
            return exit::OK;
        }
        if let Err(e) = crate::exec::check_privileges() {
            eprintln!("netscript: {e}");
            return exit::RUN_FAILED;
        }
        let attempt = self.session.whole();
        if attempt.has_errors() {
            self.diagnostics(&attempt.diagnostics, &attempt.sources);
            return exit::SCRIPT_ERRORS;
        }
        if let Err(e) = self.session.write_script(&self.session.text()) {
            eprintln!("netscript: cannot write {}: {e}", self.session.script_path.display());
            return exit::RUN_FAILED;
        }
        let outcome = transaction::run(&attempt.checked.desired, Some(&self.session.script_path), &mut crate::console::events(&self.out));
        let undo = match &outcome {
            Outcome::Applied(summary) => Some(summary.undo.clone()),
            Outcome::UpToDate { .. } => Some(Vec::new()),
            _ => None,
        };
        match undo {
            Some(undo) => {
                let statements = std::mem::take(&mut self.session.pending);
                self.session.applied.push(Applied { statements, undo });
            }
            None => {
                let _ = self.session.write_script(&self.session.applied_text());
            }
        }
        let code = crate::console::report(&self.out, &attempt.sources, outcome);
        self.session.refresh_pending_ops();
        code
    }

    /// `:undo`: reverts the last applied transaction and drops its statements.
    pub fn undo(&mut self) -> i32 {
        let Some(last) = self.session.applied.last().cloned() else {
            eprintln!("netscript: nothing to undo");
            return exit::SCRIPT_ERRORS;
        };
        if !self.session.pending.is_empty() {
            let kept = self.session.applied[..self.session.applied.len() - 1].iter().flat_map(|a| a.statements.iter()).chain(self.session.pending.iter());
            let text = kept.map(String::as_str).collect::<Vec<_>>().join("\n");
            if Session::attempt(&text, None, session::SESSION_NAME, 1).has_errors() {
                eprintln!("netscript: the pending statements build on the last transaction: :discard them first");
                return exit::SCRIPT_ERRORS;
            }
        }
        if let Err(e) = crate::exec::check_privileges() {
            eprintln!("netscript: {e}");
            return exit::RUN_FAILED;
        }
        let mut exec = match crate::exec::Executor::new() {
            Ok(exec) => exec,
            Err(e) => {
                eprintln!("netscript: cannot start the executor: {e}");
                return exit::RUN_FAILED;
            }
        };
        let mut on_event = crate::console::events(&self.out);
        let mut done = Vec::new();
        let mut left = Vec::new();
        for action in last.undo.iter().rev() {
            on_event(&crate::exec::ExecEvent::Undoing { op: usize::MAX, action });
            match exec.run_action(action) {
                Ok(()) => done.push(action.clone()),
                Err(e) if crate::exec::apply::means_gone(&e) => done.push(action.clone()),
                Err(e) => left.push((action.clone(), e)),
            }
        }
        if let Err(e) = self.session.forget_in_record(&done) {
            eprintln!("netscript: warning: {e}");
        }
        if !left.is_empty() {
            eprintln!("netscript: could not undo everything; still left:");
            for (action, error) in &left {
                eprintln!("  - {} ({error})", crate::plan::describe(action));
            }
            eprintln!("the transaction stays in the session; fix the cause and :undo again");
            let last = self.session.applied.last_mut().expect("checked above");
            last.undo = left.into_iter().rev().map(|(a, _)| a).collect();
            return exit::ROLLBACK_INCOMPLETE;
        }
        self.session.applied.pop();
        if self.session.applied.is_empty() {
            let _ = std::fs::remove_file(&self.session.script_path);
        } else {
            let _ = self.session.write_script(&self.session.applied_text());
        }
        self.note(&format!("undone: {} operation(s) reverted, {} statement(s) dropped from the session", done.len(), last.statements.len()));
        self.session.refresh_pending_ops();
        exit::OK
    }

    fn prompt(&self) -> (String, String) {
        let count = match (self.session.pending.len(), self.session.pending_ops) {
            (0, _) => String::new(),
            (_, Some(ops)) => format!(" ({ops} pending)"),
            (n, None) => format!(" ({n} statement{} pending)", if n == 1 { "" } else { "s" }),
        };
        let auto = if self.session.autocommit { " autocommit" } else { "" };
        let plain = format!("netscript{auto}{count}> ");
        let count = if count.is_empty() { count } else { format!("\x1b[33m{count}\x1b[0m") };
        let styled = if self.out.color { format!("\x1b[1;32mnetscript\x1b[0m{auto}{count}> ") } else { plain.clone() };
        (plain, styled)
    }

    fn known(&self) -> Known {
        Known::from_desired(&self.session.desired, &self.session.text())
    }

    fn interactive(&mut self) -> i32 {
        let config = Config::builder().auto_add_history(false).completion_type(CompletionType::List).build();
        let mut editor: Editor<ReplHelper, DefaultHistory> = match Editor::with_config(config) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("netscript: cannot start the line editor: {e}");
                return exit::RUN_FAILED;
            }
        };
        let known = Rc::new(RefCell::new(Known::default()));
        editor.set_helper(Some(ReplHelper::new(known.clone(), self.out.color)));
        let history = history_path();
        if let Some(path) = &history {
            let _ = std::fs::create_dir_all(path.parent().expect("a file in a directory"));
            let _ = editor.load_history(path);
        }
        if !self.out.quiet {
            eprintln!("netscript {}: statements accumulate until :apply; :help lists the commands; Ctrl-D leaves", env!("CARGO_PKG_VERSION"));
        }
        let mut buffer = String::new();
        loop {
            if let Some(h) = editor.helper() {
                h.depth.set(open_blocks(&buffer));
            }
            let prompt = if buffer.is_empty() { self.prompt() } else { ("     ...> ".to_string(), "     ...> ".to_string()) };
            match editor.readline(&prompt) {
                Ok(line) => {
                    if buffer.is_empty() && line.trim().is_empty() {
                        continue;
                    }
                    if !buffer.is_empty() {
                        buffer.push('\n');
                    }
                    buffer.push_str(&line);
                    if continues(&buffer) {
                        continue;
                    }
                    let input = std::mem::take(&mut buffer);
                    let _ = editor.add_history_entry(input.as_str());
                    if let Some(path) = &history {
                        let _ = editor.append_history(path);
                    }
                    if let Flow::Quit = self.handle(&input, "<input>", 1)
                        && self.may_leave(&mut editor)
                    {
                        break;
                    }
                    *known.borrow_mut() = self.known();
                }
                Err(ReadlineError::Interrupted) => buffer.clear(),
                Err(ReadlineError::Eof) if !buffer.is_empty() => buffer.clear(),
                Err(ReadlineError::Eof) => {
                    if self.may_leave(&mut editor) {
                        break;
                    }
                }
                Err(e) => {
                    eprintln!("netscript: {e}");
                    return exit::RUN_FAILED;
                }
            }
        }
        if !self.session.applied.is_empty() {
            self.note(&format!(
                "what this session applied stays; `netscript down {}` removes it",
                self.session.script_path.display()
            ));
        }
        exit::OK
    }

    /// Leaving with pending statements asks first.
    fn may_leave(&mut self, editor: &mut Editor<ReplHelper, DefaultHistory>) -> bool {
        let n = self.session.pending.len();
        if n == 0 {
            return true;
        }
        let question = format!("{n} pending statement(s) are not applied; leave and discard them? [y/N] ");
        matches!(editor.readline(&question).as_deref().map(str::trim), Ok("y" | "yes"))
    }

    fn piped(&mut self) -> i32 {
        let stdin = std::io::stdin();
        let mut buffer = String::new();
        let mut first_line = 0;
        for (n, line) in stdin.lock().lines().enumerate() {
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    eprintln!("netscript: cannot read standard input: {e}");
                    return exit::RUN_FAILED;
                }
            };
            if buffer.is_empty() {
                first_line = n + 1;
            } else {
                buffer.push('\n');
            }
            buffer.push_str(&line);
            if continues(&buffer) {
                continue;
            }
            let input = std::mem::take(&mut buffer);
            match self.handle(&input, "<stdin>", first_line) {
                Flow::Continue(exit::OK) => {}
                Flow::Continue(code) => return code,
                Flow::Quit => return exit::OK,
            }
        }
        if !buffer.is_empty() {
            eprintln!("netscript: <stdin>:{first_line}: the input ends inside a block: a `<` is not closed");
            return exit::SCRIPT_ERRORS;
        }
        if self.session.pending.is_empty() { exit::OK } else { self.apply() }
    }
}
