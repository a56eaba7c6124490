//! `netscript completions SHELL` and `netscript man [COMMAND]`: shell completions and the
//! manual page, generated from the clap definitions (so they cannot fall behind them).

use super::args::Cli;
use super::exit;
use clap::CommandFactory;
use clap_mangen::roff::{bold, roman, Roff};
use std::io::Write;

/// The whole command line, built (bin names and display names set for every command).
pub fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

pub fn completions(shell: clap_complete::Shell) -> i32 {
    let mut cmd = command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "netscript", &mut out);
    let _ = std::io::stdout().write_all(&out);
    exit::OK
}

pub fn man(name: Option<&str>) -> i32 {
    let page = match name {
        None => whole_manual(),
        Some(name) => match command_page(name) {
            Some(page) => page,
            None => {
                let known: Vec<String> = command().get_subcommands().map(|s| s.get_name().to_string()).collect();
                eprintln!("netscript: no command `{name}` (one of: {})", known.join(", "));
                return exit::USAGE;
            }
        },
    };
    let _ = std::io::stdout().write_all(page.as_bytes());
    exit::OK
}

fn render(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    f(&mut out).expect("rendering into memory does not fail");
    String::from_utf8(out).expect("roff output is UTF-8")
}

/// netscript-COMMAND(1): one command's page, as clap_mangen writes it.
pub fn command_page(name: &str) -> Option<String> {
    let cmd = command();
    let sub = cmd.get_subcommands().find(|s| s.get_name() == name)?.clone();
    let man = clap_mangen::Man::new(sub).title(format!("netscript-{name}").to_uppercase()).source(source()).manual("netscript manual");
    let mut page = render(|w| man.render(w));
    page.push_str(&render(|w| see_also().to_writer(w)));
    Some(page)
}

/// netscript(1): the synopsis, every command with its options, exit status, files,
/// environment.
pub fn whole_manual() -> String {
    let cmd = command();
    let man = clap_mangen::Man::new(cmd.clone()).title("NETSCRIPT").source(source()).manual("netscript manual");
    let mut page = String::new();
    page.push_str(&render(|w| man.render_title(w)));
    page.push_str(&body_keeping_headings(&render(|w| man.render_name_section(w))));
    page.push_str(&body_keeping_headings(&render(|w| man.render_synopsis_section(w))));
    page.push_str(&body_keeping_headings(&render(|w| man.render_description_section(w))));
    page.push_str(&body(&render(|w| intro().to_writer(w))));
    page.push_str(".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let man = clap_mangen::Man::new(sub.clone());
        // Each command's synopsis and options, as subsections of COMMANDS.
        let synopsis = render(|w| man.render_synopsis_section(w));
        let description = render(|w| man.render_description_section(w));
        let options = render(|w| man.render_options_section(w));
        page.push_str(&format!(".SS \"{}\"\n", sub.get_bin_name().unwrap_or(sub.get_name())));
        page.push_str(&body(&synopsis));
        page.push_str(".PP\n");
        page.push_str(&body(&description));
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            page.push_str(".PP\n");
            page.push_str(&body(&options));
        }
    }
    page.push_str(&body_keeping_headings(&render(|w| closing().to_writer(w))));
    page
}

fn source() -> String {
    format!("netscript {}", env!("CARGO_PKG_VERSION"))
}

/// A rendered section as part of another: without its `.SH` line and without the
/// string definition clap_mangen puts before each (the page's first one defines it).
fn body(section: &str) -> String {
    section
        .lines()
        .filter(|l| !l.starts_with(".SH ") && !l.starts_with(".ie \\n(.g .ds Aq") && !l.starts_with(".el .ds Aq"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn body_keeping_headings(section: &str) -> String {
    section.lines().filter(|l| !l.starts_with(".ie \\n(.g .ds Aq") && !l.starts_with(".el .ds Aq")).map(|l| format!("{l}\n")).collect()
}

fn intro() -> Roff {
    let mut roff = Roff::new();
    roff.text([roman(
        "A script declares namespaces, links, addresses, routes, rules, traffic control and sysctls; \
         run applies it as one transaction against the live kernel state, journaled and rolled back on failure, \
         and records what it made so that a re-run of an edited script, or down, removes exactly that. \
         The language: docs/LANGUAGE-REFERENCE.md in the source tree.",
    )]);
    roff
}

fn closing() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        ("0", "ok (warnings do not change it)"),
        ("1", "the input has errors: a script's diagnostics, an unreadable script, show or exec of a namespace that does not exist; nothing was changed"),
        ("2", "usage"),
        ("3", "the run failed and was rolled back: the system is as it was (also: the live state could not be read, another transaction holds the lock, a journal must be recovered first)"),
        ("4", "the rollback could not complete: netscript says what is left and how to finish"),
        ("5", "run --confirm: not confirmed in time (or rejected); rolled back, the system is as it was"),
        ("128+N", "stopped by signal N and rolled back (130 SIGINT, 143 SIGTERM, 129 SIGHUP)"),
    ] {
        roff.control("TP", []);
        roff.text([bold(code)]);
        roff.text([roman(meaning)]);
    }
    roff.control("SH", ["FILES"]);
    for (path, meaning) in [
        ("/run/netscript/state/", "the ownership record of each script: what its runs made and what undoes it"),
        ("/run/netscript/journal/", "the write-ahead journal of a running or interrupted transaction; netscript recover rolls it back"),
        ("/run/netscript/lock", "the host lock: one transaction at a time"),
        ("/run/netscript/confirm/", "the rendezvous of a run --confirm waiting for netscript confirm"),
        ("/run/netns/", "named network namespaces, as ip netns makes them"),
    ] {
        roff.control("TP", []);
        roff.text([bold(path)]);
        roff.text([roman(meaning)]);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, meaning) in [
        ("NO_COLOR", "set and not empty: no colour"),
        ("NETSCRIPT_RUN_DIR", "where records, journals and the lock live instead of /run/netscript"),
        ("NETSCRIPT_TIMINGS", "1: print each phase's duration on standard error"),
    ] {
        roff.control("TP", []);
        roff.text([bold(name)]);
        roff.text([roman(meaning)]);
    }
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman("ip(8), tc(8), ip-netns(8), ip-rule(8), tc-htb(8), tc-tbf(8)")]);
    roff
}

fn see_also() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman("netscript(1) (netscript man), ip(8), tc(8)")]);
    roff
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command has an about line and every argument a help line (the help,
    /// completions and the manual all show them).
    #[test]
    fn every_command_and_argument_is_described() {
        fn walk(cmd: &clap::Command, missing: &mut Vec<String>) {
            let name = cmd.get_bin_name().unwrap_or(cmd.get_name()).to_string();
            if cmd.get_about().is_none() {
                missing.push(format!("command `{name}` has no description"));
            }
            for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none_or(|h| h.to_string().trim().is_empty()) {
                    missing.push(format!("`{name}`: argument `{id}` has no description"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&command(), &mut missing);
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }

    #[test]
    fn the_manual_has_every_command() {
        let page = whole_manual();
        for sub in command().get_subcommands().filter(|s| !s.is_hide_set()) {
            assert!(page.contains(&format!(".SS \"netscript {}\"", sub.get_name())), "no section for {}", sub.get_name());
        }
        for section in ["NAME", "SYNOPSIS", "COMMANDS", "EXIT STATUS", "FILES", "ENVIRONMENT"] {
            assert!(page.contains(&format!(".SH {section}")) || page.contains(&format!(".SH \"{section}\"")), "no {section} section");
        }
    }
}
