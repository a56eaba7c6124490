//! The command line.
//!
//! Each command lists only the options it reads: `--color`/`--quiet` where diagnostics or
//! summaries are printed, `--verbose`/`--wait` where a transaction runs. For scripts
//! written for earlier versions, the four are still accepted before the command
//! (`netscript -v run x.ns`), hidden from the help.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "netscript", version, about = "A scripting language for Linux networking: namespaces, veth, routing, rules and traffic control, applied as one transaction.")]
#[command(after_help = "Exit codes: 0 ok · 1 the script has errors, or `show`/`exec` named no such namespace (nothing changed) · 2 usage · 3 the run failed and was rolled back · 4 the rollback could not complete · 5 `run --confirm` was not confirmed in time (or was rejected) and was rolled back · 128+N stopped by signal N (SIGINT 130, SIGTERM 143, SIGHUP 129) and rolled back")]
pub struct Cli {
    /// Accepted before the command, as earlier versions had it (see each command's help).
    #[arg(long, value_enum, value_name = "WHEN", hide = true)]
    pub color: Option<Color>,
    /// Accepted before the command, as earlier versions had it.
    #[arg(short, long, hide = true)]
    pub verbose: bool,
    /// Accepted before the command, as earlier versions had it.
    #[arg(short, long, hide = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Accepted before the command, as earlier versions had it.
    #[arg(long, value_name = "DURATION", value_parser = parse_wait, hide = true)]
    pub wait: Option<std::time::Duration>,
    #[command(subcommand)]
    pub command: Command,
}

/// How diagnostics and summaries are printed.
#[derive(Args, Debug, Clone, Default)]
pub struct OutputOpts {
    /// When to colour diagnostics: `auto` (on a terminal, unless NO_COLOR is set),
    /// `always` or `never`.
    #[arg(long, value_enum, value_name = "WHEN")]
    pub color: Option<Color>,
    /// Print only errors: no warnings, no summary lines.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Options of the commands that run a transaction.
#[derive(Args, Debug, Clone, Default)]
pub struct TxOpts {
    /// List each operation as it is applied or undone.
    #[arg(short, long, conflicts_with = "quiet")]
    pub verbose: bool,
    /// How long to wait for another netscript transaction to finish (e.g. `10s`, `2m`,
    /// `0` for not at all); default 10s.
    #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
    pub wait: Option<std::time::Duration>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check scripts for errors; changes nothing, needs no privileges.
    Check {
        /// Script files (`-` for standard input).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// `json`: one JSON array of every diagnostic on standard output, for tools
        /// (code, severity, message, file, line, column, span byte offsets, label, help).
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        #[command(flatten)]
        output: OutputOpts,
    },
    /// Apply a script as one transaction (with --dry-run: show the plan only).
    Run {
        /// The script (`-` for standard input, with --name).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Show what would be done, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: plan against an empty system instead of the live one.
        #[arg(long, requires = "dry_run")]
        offline: bool,
        /// With --dry-run: how to print the plan (`dot`: the operation graph, for Graphviz).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The name a script read from standard input (`-`) is recorded under, so that
        /// a later run of the same name, or `down --name NAME`, finds what it made.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Keep the change only if it is confirmed within DURATION (e.g. `30s`, `2m`):
        /// by answering the prompt on a terminal, or with `netscript confirm` from
        /// another shell. Otherwise it is rolled back (exit 5), also when this process
        /// is killed (the next netscript command, or `netscript recover`, rolls it back).
        #[arg(long, value_name = "DURATION", value_parser = parse_confirm, conflicts_with = "dry_run")]
        confirm: Option<std::time::Duration>,
        #[command(flatten)]
        output: OutputOpts,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Confirm a `run --confirm` that is waiting, so that its change is kept.
    Confirm {
        /// The waiting run's script; not needed when only one run waits.
        #[arg(value_name = "FILE", conflicts_with = "name")]
        file: Option<PathBuf>,
        /// For a run of standard input started with `run --name NAME --confirm ... -`.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Roll the waiting run back now instead of keeping it.
        #[arg(long)]
        reject: bool,
        #[command(flatten)]
        output: OutputOpts,
    },
    /// Remove what runs of a script created, and restore what they changed.
    Down {
        /// The script (it need not exist any more), or `-` with --name.
        #[arg(required_unless_present = "name", value_name = "FILE")]
        file: Option<PathBuf>,
        /// Show what would be removed and restored, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: how to print the plan.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// For a script that was run from standard input with `run --name NAME -`.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        #[command(flatten)]
        output: OutputOpts,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Roll back transactions that were interrupted (killed, crashed), from their journals.
    Recover {
        /// Delete the journals without undoing anything (after cleaning up by hand).
        #[arg(long)]
        forget: bool,
        #[command(flatten)]
        output: OutputOpts,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// The scripts netscript manages on this host: path, when applied, what they own,
    /// whether the live state still matches them (drift), and pending journals.
    Status {
        /// `json`: one object for tools (its fields: docs/OPERATING.md).
        #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
        format: ShowFormat,
    },
    /// Print the live state of namespaces (all of /run/netns and host when none named).
    Show {
        /// Namespaces to show (`host` is the initial one); all when none is named.
        #[arg(value_name = "NS")]
        namespaces: Vec<String>,
        /// `json`: the stable format of docs/SHOW-FORMAT.md; `dot`: the topology, for
        /// Graphviz (`netscript show --format dot | dot -Tsvg > net.svg`).
        #[arg(long, value_enum, default_value_t = StateFormat::Text)]
        format: StateFormat,
        /// Also print traffic-control statistics (bytes, packets, drops, overlimits of
        /// every qdisc and class).
        #[arg(long)]
        stats: bool,
    },
    /// Write a script that recreates the live state of namespaces.
    Export {
        /// Namespaces to export (`host` is the initial one); every namespace of
        /// /run/netns when none is named.
        #[arg(value_name = "NS")]
        namespaces: Vec<String>,
        /// Also export the initial namespace (`host`) when no namespace is named.
        #[arg(long)]
        host: bool,
        /// Write the script to FILE instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Check only a script's `expect` statements against the live network; changes
    /// nothing. Exit 0 when all hold, 3 when one does not.
    CheckLive {
        /// The script whose expectations are checked.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// `json`: one object per expectation.
        #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
        format: ShowFormat,
        #[command(flatten)]
        output: OutputOpts,
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
    Repl {
        #[command(flatten)]
        output: OutputOpts,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Show the plan for a script: the same as `run --dry-run`.
    Plan {
        /// The script (`-` for standard input).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Plan against an empty system instead of the live one.
        #[arg(long)]
        offline: bool,
        /// How to print the plan (`dot`: the operation graph, for Graphviz).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// As for `run`: the record name of a script read from standard input.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        #[command(flatten)]
        output: OutputOpts,
    },
    /// Format scripts in place in the one canonical layout (`-`: standard input to
    /// standard output). Comments are kept; the meaning never changes.
    Fmt {
        /// Script files (`-` for standard input, written formatted to standard output).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing: print a diff of each file that is not formatted and exit 1.
        #[arg(long)]
        check: bool,
    },
    /// A language server on standard input and output (LSP): diagnostics, hover,
    /// completion, definitions, references, symbols, rename, formatting.
    Lsp,
    /// Print a completion script for a shell (e.g. `netscript completions bash >
    /// /etc/bash_completion.d/netscript`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Rolls back a `run --confirm` whose process died before it was confirmed (started
    /// by that run; not for people).
    #[command(hide = true)]
    Watchdog {
        /// The pid of the run it watches.
        pid: u32,
    },
    /// Print the manual page (roff; `netscript man | man -l -`).
    Man {
        /// A command's own page (e.g. `run`); the whole manual when none is named.
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
}

/// The options that apply, wherever they were written (before or after the command).
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub color: Option<Color>,
    pub quiet: bool,
    pub verbose: bool,
    pub wait: Option<std::time::Duration>,
}

impl Cli {
    pub fn options(&self) -> Options {
        let (output, tx) = match &self.command {
            Command::Check { output, .. } | Command::CheckLive { output, .. } | Command::Plan { output, .. } | Command::Confirm { output, .. } => (Some(output), None),
            Command::Run { output, tx, .. } | Command::Down { output, tx, .. } | Command::Recover { output, tx, .. } | Command::Repl { output, tx } => (Some(output), Some(tx)),
            _ => (None, None),
        };
        Options {
            color: output.and_then(|o| o.color).or(self.color),
            quiet: self.quiet || output.is_some_and(|o| o.quiet),
            verbose: self.verbose || tx.is_some_and(|t| t.verbose),
            wait: tx.and_then(|t| t.wait).or(self.wait),
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Numbered operations, each with the statement it comes from.
    Text,
    /// One JSON object: the operations with their undo actions.
    Json,
    /// The operation graph, for Graphviz.
    Dot,
    /// The eBPF instructions generated for the script's inline filters (`bpf ... < rules >`,
    /// `xdp < rules >`).
    Bpf,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFormat {
    /// Rendered diagnostics on standard error.
    Text,
    /// One JSON array on standard output.
    Json,
}

pub use crate::console::{Color, ShowFormat, StateFormat};


fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    if text == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. 10s, 500ms, 2m)"))
}

fn parse_confirm(text: &str) -> Result<std::time::Duration, String> {
    match parse_wait(text)? {
        d if d.is_zero() => Err("a confirmation needs some time to arrive (write e.g. 30s, 2m)".into()),
        d => Ok(d),
    }
}
