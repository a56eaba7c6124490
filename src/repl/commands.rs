//! The `:` commands of the REPL.

use super::session::Session;
use super::{Flow, Repl};
use crate::console::ShowFormat;
use crate::console::exit;
use crate::plan::{self, describe};
use std::path::Path;

#[derive(Debug)]
pub struct CommandInfo {
    pub name: &'static str,
    pub args: &'static str,
    pub help: &'static str,
}

pub const COMMANDS: &[CommandInfo] = &[
    CommandInfo { name: "plan", args: "", help: "show what :apply would do to the live system" },
    CommandInfo { name: "apply", args: "", help: "apply the pending statements as one transaction (rolled back on failure)" },
    CommandInfo { name: "discard", args: "", help: "drop the pending statements" },
    CommandInfo { name: "undo", args: "", help: "revert the last applied transaction and drop its statements" },
    CommandInfo { name: "show", args: "[NS...]", help: "the live state of namespaces (default: those the session names)" },
    CommandInfo { name: "exec", args: "NS CMD...", help: "run a command inside a namespace, as `ip netns exec` does" },
    CommandInfo { name: "list", args: "", help: "the session's statements (= applied, + pending), numbered as in plans" },
    CommandInfo { name: "load", args: "FILE", help: "read a script's statements into the session (pending)" },
    CommandInfo { name: "save", args: "FILE", help: "write the session's statements (applied and pending) as a script" },
    CommandInfo { name: "autocommit", args: "on|off", help: "apply each accepted statement at once (default: off)" },
    CommandInfo { name: "help", args: "", help: "this list" },
    CommandInfo { name: "quit", args: "", help: "leave (Ctrl-D); pending statements are not applied" },
];

/// The command a name or unique prefix of one stands for.
fn lookup(name: &str) -> Result<&'static CommandInfo, String> {
    if let Some(c) = COMMANDS.iter().find(|c| c.name == name) {
        return Ok(c);
    }
    let matching: Vec<_> = COMMANDS.iter().filter(|c| !name.is_empty() && c.name.starts_with(name)).collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("no command `:{name}`; :help lists them")),
        many => Err(format!("`:{name}` is ambiguous: {}", many.iter().map(|c| format!(":{}", c.name)).collect::<Vec<_>>().join(", "))),
    }
}

/// Runs one `:` command line.
pub fn run(repl: &mut Repl, line: &str) -> Flow {
    let mut words = line.trim().trim_start_matches(':').split_whitespace();
    let name = words.next().unwrap_or("");
    let args: Vec<&str> = words.collect();
    let command = match lookup(name) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("netscript: {message}");
            return Flow::Continue(exit::USAGE);
        }
    };
    let code = match (command.name, args.as_slice()) {
        ("plan", []) => plan(repl),
        ("apply", []) => repl.apply(),
        ("discard", []) => {
            let n = repl.session.pending.len();
            repl.session.pending.clear();
            repl.session.refresh_pending_ops();
            repl.note(&format!("discarded {n} pending statement(s)"));
            exit::OK
        }
        ("undo", []) => repl.undo(),
        ("show", names) => show(repl, names),
        ("exec", [ns, argv @ ..]) if !argv.is_empty() => exec(ns, argv),
        ("list", []) => {
            list(&repl.session);
            exit::OK
        }
        ("load", [file]) => match crate::bounded::read_string(std::path::Path::new(file), crate::bounded::MAX_SCRIPT_BYTES) {
            Ok(text) => repl.statement(&text, file, 1),
            Err(e) => {
                eprintln!("netscript: cannot read `{file}`: {e}");
                exit::SCRIPT_ERRORS
            }
        },
        ("save", [file]) => save(repl, Path::new(file)),
        ("autocommit", [state @ ("on" | "off")]) => {
            repl.session.autocommit = *state == "on";
            let mut message = format!("autocommit {state}");
            if repl.session.autocommit && !repl.session.pending.is_empty() {
                message.push_str(&format!(" ({} statement(s) still pending: :apply them)", repl.session.pending.len()));
            }
            repl.note(&message);
            exit::OK
        }
        ("help", []) => {
            help();
            exit::OK
        }
        ("quit", []) => return Flow::Quit,
        (_, _) => {
            eprintln!("netscript: usage: :{} {}", command.name, command.args);
            exit::USAGE
        }
    };
    Flow::Continue(code)
}

fn plan(repl: &mut Repl) -> i32 {
    let attempt = repl.session.whole();
    let Some(observed) = super::session::live_observe(&attempt.checked.desired) else {
        eprintln!("netscript: cannot read the live state (are you root?)");
        return exit::RUN_FAILED;
    };
    match plan::plan(&attempt.checked.desired, &observed) {
        Ok(plan) => {
            print!("{}", plan::render_text(&plan, &attempt.checked.desired, &attempt.sources));
            repl.session.pending_ops = Some(plan.ops.len());
            exit::OK
        }
        Err(diagnostics) => {
            repl.diagnostics(&diagnostics, &attempt.sources);
            exit::SCRIPT_ERRORS
        }
    }
}

/// `:exec NS CMD...`: the command's exit code is the command's result.
fn exec(ns: &str, argv: &[&str]) -> i32 {
    let argv: Vec<std::ffi::OsString> = argv.iter().map(std::ffi::OsString::from).collect();
    match crate::exec::netns_exec::netns_exec(ns, &argv) {
        Ok(status) => status.code().unwrap_or(1),
        Err(e) => {
            eprintln!("netscript: {e}");
            exit::RUN_FAILED
        }
    }
}

fn show(repl: &Repl, names: &[&str]) -> i32 {
    let names: Vec<String> = if names.is_empty() {
        // What the session names and exists; everything when it names nothing yet.
        let live = super::live::namespaces();
        repl.session.namespaces().into_iter().filter(|n| n == crate::model::HOST || live.contains(n)).collect()
    } else {
        names.iter().map(|s| s.to_string()).collect()
    };
    crate::console::show::show(&names, ShowFormat::Text, false)
}

fn list(session: &Session) {
    let mut line = 1;
    let mut print = |statement: &str, mark: char| {
        for l in statement.lines() {
            println!("{line:>4} {mark} {l}");
            line += 1;
        }
    };
    for s in session.applied_statements() {
        print(s, '=');
    }
    for s in &session.pending {
        print(s, '+');
    }
}

fn save(repl: &Repl, path: &Path) -> i32 {
    let text = repl.session.text();
    let statements = repl.session.applied_statements().count() + repl.session.pending.len();
    match std::fs::write(path, format!("{text}\n")) {
        Ok(()) => {
            let pending = match repl.session.pending.len() {
                0 => String::new(),
                n => format!(" ({n} of them pending, not applied yet)"),
            };
            repl.note(&format!("saved {statements} statement(s) to {}{pending}", path.display()));
            exit::OK
        }
        Err(e) => {
            eprintln!("netscript: cannot write `{}`: {e}", path.display());
            exit::RUN_FAILED
        }
    }
}

fn help() {
    println!("Statements accumulate as a pending change; :apply applies them as one transaction.");
    println!("A block `< ... >` may span lines. Tab completes; Ctrl-C clears the input; Ctrl-D leaves.");
    for c in COMMANDS {
        let usage = if c.args.is_empty() { format!(":{}", c.name) } else { format!(":{} {}", c.name, c.args) };
        println!("  {usage:<22} {}", c.help);
    }
}

/// One line per undo action, for messages.
pub fn describe_all(actions: &[crate::plan::Action]) -> String {
    actions.iter().map(|a| format!("  - {}\n", describe(a))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_found_by_unique_prefix() {
        assert_eq!(lookup("ap").unwrap().name, "apply");
        assert_eq!(lookup("q").unwrap().name, "quit");
        assert!(lookup("s").unwrap_err().contains("ambiguous"));
        assert!(lookup("frobnicate").is_err());
    }
}
