//! The command line.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "netscript", version, about = "A scripting language for Linux networking: namespaces, veth, routing, rules and traffic control, applied as one transaction.")]
#[command(after_help = "Exit codes: 0 ok · 1 the script has errors, or `show`/`exec` named no such namespace (nothing changed) · 2 usage · 3 the run failed and was rolled back · 4 the rollback could not complete · 128+N stopped by signal N (SIGINT 130, SIGTERM 143, SIGHUP 129) and rolled back")]
pub struct Cli {
    /// When to colour output.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,
    /// List each operation as it is applied and undone.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// How long `run`, `down` and `recover` wait for another netscript transaction to
    /// finish (e.g. `10s`, `2m`, `0`); default 10s.
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_wait)]
    pub wait: Option<std::time::Duration>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check scripts for errors; changes nothing, needs no privileges.
    Check {
        /// Script files (`-` for standard input).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// `json`: one JSON array of every diagnostic on standard output, for tools
        /// (code, severity, message, file, line, column, span byte offsets, label, help).
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Apply a script as one transaction (with --dry-run: show the plan only).
    Run {
        file: PathBuf,
        /// Show what would be done, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: plan against an empty system instead of the live one.
        #[arg(long, requires = "dry_run")]
        offline: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The name a script read from standard input (`-`) is recorded under, so that
        /// a later run of the same name, or `down --name NAME`, finds what it made.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// Remove what runs of a script created, and restore what they changed.
    Down {
        /// The script (it need not exist any more), or `-` with --name.
        #[arg(required_unless_present = "name")]
        file: Option<PathBuf>,
        /// Show what would be removed and restored, change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// For a script that was run from standard input with `run --name NAME -`.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// Roll back transactions that were interrupted (killed, crashed), from their journals.
    Recover {
        /// Delete the journals without undoing anything (after cleaning up by hand).
        #[arg(long)]
        forget: bool,
    },
    /// Print the live state of namespaces (all of /run/netns and host when none named).
    Show {
        namespaces: Vec<String>,
        #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
        format: ShowFormat,
        /// Also print traffic-control statistics (bytes, packets, drops, overlimits of
        /// every qdisc and class).
        #[arg(long)]
        stats: bool,
    },
    /// Check only a script's `expect` statements against the live network; changes
    /// nothing. Exit 0 when all hold, 3 when one does not.
    CheckLive {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
        format: ShowFormat,
    },
    /// Run a command inside a namespace, as `ip netns exec` does; its exit code is
    /// passed through.
    Exec {
        /// The namespace (`host`: this one).
        ns: String,
        /// The command and its arguments (after `--`).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<std::ffi::OsString>,
    },
    /// An interactive session: type statements, `:plan`, `:apply`, `:undo` (see docs/REPL.md).
    /// Also what `netscript` with no arguments opens on a terminal. With standard input
    /// not a terminal: reads statements and commands line by line, applies at the end.
    Repl,
    /// Show the plan for a script: the same as `run --dry-run`.
    Plan {
        file: PathBuf,
        /// Plan against an empty system instead of the live one.
        #[arg(long)]
        offline: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// As for `run`: the record name of a script read from standard input.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// Format scripts in place in the one canonical layout (`-`: standard input to
    /// standard output). Comments are kept; the meaning never changes.
    Fmt {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing: print a diff of each file that is not formatted and exit 1.
        #[arg(long)]
        check: bool,
    },
    /// A language server on standard input and output (LSP): diagnostics, hover,
    /// completion, definitions, references, symbols, rename, formatting.
    Lsp,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Dot,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFormat {
    Text,
    Json,
}

pub use crate::console::{Color, ShowFormat};

fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    if text == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. 10s, 500ms, 2m)"))
}
