//! The `netscript` command: a thin layer over the pipeline.

pub mod args;
mod check_live;
mod confirm;
mod docs;
mod exec;
mod export;
mod fmt;
mod recover;
pub(crate) mod run;
mod status;

pub use crate::console::{exit, Output};
use crate::console::show;

use crate::check::{self, Checked};
use crate::diagnostic::{self};
use crate::plan::{self, Observed};
use crate::source::{FileId, SourceMap};
use args::{Cli, Color, Command, Format};
use clap::Parser as _;
use std::io::{IsTerminal, Write};
use std::path::Path;

pub fn main() -> i32 {
    crate::timing::timed("command", main_timed)
}

fn main_timed() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // No subcommand on a terminal: the interactive session.
        Err(e)
            if matches!(e.kind(), clap::error::ErrorKind::MissingSubcommand | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand)
                && std::io::stdin().is_terminal() =>
        {
            match Cli::try_parse_from(std::env::args_os().chain([std::ffi::OsString::from("repl")])) {
                Ok(cli) => cli,
                Err(_) => {
                    let _ = e.print();
                    return exit::USAGE;
                }
            }
        }
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { exit::USAGE } else { exit::OK };
        }
    };
    let options = cli.options();
    let out = Output::new(options.color.unwrap_or(Color::Auto), options.quiet, options.verbose);
    if let Some(wait) = options.wait {
        crate::run::lock::set_wait(wait);
    }
    match &cli.command {
        Command::Check { files, format: args::CheckFormat::Text, .. } => check_files(&out, files),
        Command::Check { files, format: args::CheckFormat::Json, .. } => check_files_json(files),
        Command::Run { file, dry_run: true, offline, format, name, .. } | Command::Plan { file, offline, format, name, .. } => {
            match record_name(file, name.as_deref(), false) {
                Ok(record) => dry_run(&out, file, record.as_deref(), *offline, *format),
                Err(code) => code,
            }
        }
        Command::Run { file, dry_run: false, name, confirm: Some(timeout), .. } => match record_name(file, name.as_deref(), true) {
            Ok(record) => confirm::run(&out, file, record.as_deref(), *timeout),
            Err(code) => code,
        },
        Command::Confirm { file, name, reject, .. } => confirm::confirm(&out, file.as_deref(), name.as_deref(), *reject),
        Command::Watchdog { pid } => confirm::watchdog(*pid),
        Command::Run { file, dry_run: false, name, .. } => match record_name(file, name.as_deref(), true) {
            Ok(record) => run::run(&out, file, record.as_deref()),
            Err(code) => code,
        },
        Command::Down { file, dry_run, format, name, .. } => {
            let file = file.clone().unwrap_or_else(|| "-".into());
            match record_name(&file, name.as_deref(), true) {
                Ok(Some(record)) if *dry_run => run::down_dry_run(&out, &record, *format),
                Ok(Some(record)) => run::down(&out, &record),
                Ok(None) => exit::USAGE,
                Err(code) => code,
            }
        }
        Command::Recover { forget, .. } => recover::recover(&out, *forget),
        Command::Show { namespaces, format, stats } => show::show_as(namespaces, *format, *stats),
        Command::CheckLive { file, format, .. } => check_live::check_live(&out, file, *format),
        Command::Exec { ns, command } => exec::exec(ns, command),
        Command::Repl { .. } => crate::repl::main(&out, options.color.unwrap_or(Color::Auto)),
        Command::Export { namespaces, host, output } => export::export(namespaces, *host, output.as_deref()),
        Command::Status { format } => status::status(*format),
        Command::Completions { shell } => docs::completions(*shell),
        Command::Man { command } => docs::man(command.as_deref()),
        Command::Fmt { files, check } => fmt::fmt(&out, files, *check),
        Command::Lsp => crate::lsp::main(),
    }
}

/// The path a run's ownership record is keyed by: the script's own path, or
/// `stdin:NAME` for a script read from standard input. A recorded run (`run`, `down`)
/// of standard input needs a name.
fn record_name(file: &Path, name: Option<&str>, recorded: bool) -> Result<Option<std::path::PathBuf>, i32> {
    let from_stdin = file.as_os_str() == "-";
    match (from_stdin, name) {
        (true, Some(name)) if !name.is_empty() && !name.contains('/') => Ok(Some(format!("{}{name}", crate::run::state::STDIN_PREFIX).into())),
        (true, Some(name)) => {
            eprintln!("netscript: `--name {name}` is not a usable name (empty, or with `/`)");
            Err(exit::USAGE)
        }
        (true, None) if recorded => {
            eprintln!("netscript: a script read from standard input must be named to be recorded (so that `down` can remove what it makes): use `--name NAME -`");
            Err(exit::USAGE)
        }
        (true, None) => Ok(None),
        (false, Some(_)) => {
            eprintln!("netscript: --name is for scripts read from standard input (`-`); a file is recorded under its own path");
            Err(exit::USAGE)
        }
        (false, None) => Ok(Some(file.to_path_buf())),
    }
}

/// Reads a script (or standard input for `-`) into the source map.
pub fn load(sources: &mut SourceMap, path: &Path) -> Result<FileId, String> {
    if path.as_os_str() == "-" {
        let text = crate::bounded::read_stream_string(std::io::stdin().lock(), crate::bounded::MAX_SCRIPT_BYTES)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        return Ok(sources.add("<stdin>", None, text));
    }
    let text = crate::bounded::read_string(path, crate::bounded::MAX_SCRIPT_BYTES).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    Ok(sources.add(path.display().to_string(), Some(path), text))
}

/// Loads and checks one script; prints its diagnostics. `None` when it has errors.
pub fn load_and_check(out: &Output, sources: &mut SourceMap, path: &Path) -> Option<Checked> {
    let file = match load(sources, path) {
        Ok(file) => file,
        Err(message) => {
            eprintln!("netscript: {message}");
            return None;
        }
    };
    let checked = crate::timing::timed("parse and check", || check::check(sources, file, &check::FsLoader));
    out.diagnostics(&checked.diagnostics, sources);
    if checked.has_errors() { None } else { Some(checked) }
}

fn check_files(out: &Output, files: &[std::path::PathBuf]) -> i32 {
    let mut code = exit::OK;
    for path in files {
        let mut sources = SourceMap::new();
        match load_and_check(out, &mut sources, path) {
            Some(checked) => {
                // A script that checks must also plan: planning finds what only a whole
                // view shows (a veth pair split across namespaces, unsupported statements).
                if let Err(diagnostics) = plan::plan(&checked.desired, &Observed::empty()) {
                    out.diagnostics(&diagnostics, &sources);
                    code = exit::SCRIPT_ERRORS;
                } else if !out.quiet {
                    eprintln!("{}: ok", path.display());
                }
            }
            None => code = exit::SCRIPT_ERRORS,
        }
    }
    code
}

/// `check --format json`: every diagnostic of every file, as one JSON array on stdout.
fn check_files_json(files: &[std::path::PathBuf]) -> i32 {
    let mut all = Vec::new();
    let mut code = exit::OK;
    for path in files {
        let mut sources = SourceMap::new();
        let file = match load(&mut sources, path) {
            Ok(file) => file,
            Err(message) => {
                // No source to point into: the file itself is the location.
                all.push(serde_json::json!({
                    "code": "netscript::io::unreadable", "severity": "error", "message": message,
                    "file": path.display().to_string(), "line": null, "column": null, "span": null,
                    "label": null, "help": null,
                }));
                code = exit::SCRIPT_ERRORS;
                continue;
            }
        };
        let checked = check::check(&mut sources, file, &check::FsLoader);
        let mut diagnostics = checked.diagnostics.clone();
        if !checked.has_errors()
            && let Err(plan_diagnostics) = plan::plan(&checked.desired, &Observed::empty())
        {
            diagnostics.extend(plan_diagnostics);
        }
        if diagnostics.iter().any(|d| d.is_error()) {
            code = exit::SCRIPT_ERRORS;
        }
        all.extend(diagnostics.iter().map(|d| diagnostic::to_json(d, &sources)));
    }
    let _ = writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&all).expect("JSON values serialize"));
    code
}

fn dry_run(out: &Output, path: &Path, record: Option<&Path>, offline: bool, format: Format) -> i32 {
    let mut sources = SourceMap::new();
    let Some(checked) = load_and_check(out, &mut sources, path) else { return exit::SCRIPT_ERRORS };
    let planned = if offline {
        plan::plan(&checked.desired, &Observed::empty())
    } else {
        // Against the live state and the script's record: what a run would remove shows too.
        let planned = crate::exec::Executor::new()
            .map_err(|e| crate::run::transaction::Outcome::Setup(e.to_string()))
            .and_then(|mut exec| crate::run::transaction::plan_live(&mut exec, &checked.desired, record));
        match planned {
            Ok(p) => Ok(p.plan),
            Err(crate::run::transaction::Outcome::Refused(d)) => Err(d),
            Err(other) => {
                let e = match other {
                    crate::run::transaction::Outcome::Setup(e) => e,
                    other => format!("{other:?}"),
                };
                eprintln!("netscript: cannot read the live state ({e}); use --offline to plan against an empty system");
                return exit::RUN_FAILED;
            }
        }
    };
    let plan = match planned {
        Ok(plan) => plan,
        Err(diagnostics) => {
            out.diagnostics(&diagnostics, &sources);
            return exit::SCRIPT_ERRORS;
        }
    };
    let text = match format {
        Format::Text => plan::render_text(&plan, &checked.desired, &sources),
        Format::Json => plan::render_json(&plan, &checked.desired, &sources),
        Format::Dot => plan::render_dot(&plan, &checked.desired, &sources),
        Format::Bpf => plan::render_bpf::render_bpf(&checked.desired, &sources),
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    exit::OK
}
