//! What every front end prints and returns, shared by the CLI and the REPL (which do not
//! depend on each other for it): the output settings and diagnostics, exit codes, the
//! run's progress and outcome report, and `show`.

mod outcome;
pub mod show;
pub mod sources;

pub use outcome::{events, report};

use crate::diagnostic::{self, RenderOptions};
use crate::source::SourceMap;
use clap::ValueEnum;
use std::io::{IsTerminal, Write};

/// Exit codes, as documented in `--help` and the README.
pub mod exit {
    pub const OK: i32 = 0;
    pub const SCRIPT_ERRORS: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const RUN_FAILED: i32 = 3;
    pub const ROLLBACK_INCOMPLETE: i32 = 4;
    /// `run --confirm`: not confirmed in time (or rejected), rolled back.
    pub const NOT_CONFIRMED: i32 = 5;
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Also when piped.
    Always,
    /// Not at all.
    Never,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateFormat {
    /// For people: each link with what hangs on it, then routes, rules, sysctls.
    Text,
    /// The stable format of docs/SHOW-FORMAT.md (iproute2's conventions).
    Json,
    /// The topology as a Graphviz graph.
    Dot,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShowFormat {
    /// For people.
    Text,
    /// For tools.
    Json,
}

/// How to print: colour only on a terminal, never with NO_COLOR.
pub struct Output {
    pub color: bool,
    pub quiet: bool,
    pub verbose: bool,
}

impl Output {
    pub fn new(color: Color, quiet: bool, verbose: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => !no_color && std::io::stderr().is_terminal(),
        };
        Output { color, quiet, verbose }
    }

    pub fn render_options(&self) -> RenderOptions {
        RenderOptions { color: self.color, ..RenderOptions::plain() }
    }

    /// Prints diagnostics to stderr; warnings are left out under --quiet.
    pub fn diagnostics(&self, checked: &[diagnostic::Diagnostic], sources: &SourceMap) {
        let shown: Vec<_> = checked.iter().filter(|d| !self.quiet || d.is_error()).cloned().collect();
        if shown.is_empty() {
            return;
        }
        let text = diagnostic::render_all(&shown, sources, self.render_options());
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
}

