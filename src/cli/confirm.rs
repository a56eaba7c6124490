//! Confirm-or-revert: `netscript run --confirm DURATION FILE` and `netscript confirm`.
//!
//! The run applies, verifies and checks its expectations as usual, then waits before its
//! commit point ([`crate::run::transaction::run_confirmed`]): the change is kept only if it
//! is confirmed within DURATION — by answering `y` at the prompt (standard input a
//! terminal), or by `netscript confirm` from another shell — and rolled back otherwise
//! (exit 5). While it waits, the run holds the host lock and its journal has no commit
//! record, so whatever ends the process before a confirmation ends in a rollback:
//!
//! * SIGINT, SIGTERM, SIGHUP: rolled back at once (exit 130, 143, 129);
//! * SIGKILL, a crash, the OOM killer: the **watchdog**, a small process started with the
//!   run (`netscript watchdog PID`, in a process group of its own so that the terminal's
//!   signals do not reach it), sees its pipe from the run close without the run's "done"
//!   byte and runs `netscript recover`, which rolls the journal back. Without the
//!   watchdog (killed too), `netscript recover` does the same by hand, and every other
//!   `run`/`down` refuses to start until it has.
//!
//! # The rendezvous
//!
//! Under `/run/netscript/confirm/` (mode 0700, root's), for the waiting run of pid P:
//! * `P.json`: `{"pid":P,"script":KEY,"journal":PATH,"deadline_unix":T,"watchdog_pid":W}`,
//!   what `netscript confirm` and `status` read;
//! * `P.fifo`: a FIFO the run reads (opened read-write, so that it never sees an end of
//!   file); `netscript confirm` writes `yes\n` (or `no\n` for `--reject`) into it. At the
//!   deadline the run unlinks the FIFO first, then reads what is in it: an answer written
//!   by a confirmer that could still open it counts;
//! * `P.outcome`: written by the run, when the answer came through the FIFO, once the
//!   transaction is over (`kept`, `rolled back`, `rollback incomplete`); the confirmer
//!   reads and removes it.

use super::{exit, load_and_check, Output};
use crate::source::SourceMap;
use crate::run::transaction::Outcome;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The exit code of a run that was not confirmed in time (or was rejected) and was
/// rolled back completely.
pub const NOT_CONFIRMED: i32 = exit::NOT_CONFIRMED;

/// A run waiting for its confirmation, as its rendezvous file says.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Waiting {
    pub pid: u32,
    /// The record key of its script (`stdin:NAME` for standard input).
    pub script: String,
    pub journal: PathBuf,
    pub deadline_unix: u64,
    pub watchdog_pid: Option<u32>,
}

pub fn dir() -> PathBuf {
    crate::run::state::run_dir().join("confirm")
}

fn file(pid: u32, ext: &str) -> PathBuf {
    dir().join(format!("{pid}.{ext}"))
}

/// The runs waiting for a confirmation (their process alive), by pid.
pub fn waiting() -> Vec<Waiting> {
    let Ok(entries) = std::fs::read_dir(dir()) else { return Vec::new() };
    let mut found: Vec<Waiting> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| crate::bounded::read_string(&p, 64 * 1024).ok())
        .filter_map(|text| serde_json::from_str::<Waiting>(&text).ok())
        .filter(|w| super::status::process_alive(w.pid))
        .collect();
    found.sort_by_key(|w| w.pid);
    found
}

/// How the wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Confirmed { remote: bool },
    Rejected { remote: bool },
    TimedOut,
    Signal,
}

impl Answer {
    fn keep(self) -> bool {
        matches!(self, Answer::Confirmed { .. })
    }
    fn remote(self) -> bool {
        matches!(self, Answer::Confirmed { remote: true } | Answer::Rejected { remote: true })
    }
}

/// `netscript run --confirm DURATION FILE`.
pub fn run(out: &Output, path: &Path, record: Option<&Path>, timeout: Duration) -> i32 {
    let mut sources = SourceMap::new();
    let Some(checked) = load_and_check(out, &mut sources, path) else { return exit::SCRIPT_ERRORS };
    let key = record.map(crate::run::state::script_key).unwrap_or_else(|| "<stdin>".into());
    // The watchdog first: from here on, a killed run is rolled back without anyone.
    let (watchdog_pid, done) = match spawn_watchdog() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("netscript: cannot start the watchdog that rolls the run back should this process be killed: {e}");
            eprintln!("nothing was changed");
            return exit::RUN_FAILED;
        }
    };
    let mut answer = None;
    let mut waited = Duration::ZERO;
    let outcome = crate::run::transaction::run_confirmed(&checked.desired, record, &mut crate::console::events(out), &mut |journal| {
        let started = Instant::now();
        let a = wait_for_answer(&key, journal, timeout, watchdog_pid);
        waited = started.elapsed();
        answer = Some(a);
        a.keep()
    });
    // The summary's time is the transaction's own, not the wait for the answer.
    let outcome = match outcome {
        Outcome::Applied(mut summary) => {
            summary.elapsed = summary.elapsed.saturating_sub(waited);
            Outcome::Applied(summary)
        }
        other => other,
    };
    let (code, said) = report(out, &sources, outcome, answer, timeout);
    // Done: the watchdog has nothing to do.
    let _ = nix::unistd::write(&done, b"d");
    if let Some(a) = answer
        && a.remote()
    {
        // For the `netscript confirm` that answered: what came of it.
        let _ = std::fs::write(file(std::process::id(), "outcome"), said);
    }
    code
}

/// Prints the outcome; returns the exit code and a word for a remote confirmer.
fn report(out: &Output, sources: &SourceMap, outcome: Outcome, answer: Option<Answer>, timeout: Duration) -> (i32, &'static str) {
    match (&outcome, answer) {
        (Outcome::Failed { diagnostics, rollback }, Some(a)) if diagnostics.is_empty() && !a.keep() => {
            if let Some(text) = crate::run::transaction::leftover_text(rollback) {
                eprint!("{text}");
                return (exit::ROLLBACK_INCOMPLETE, "rollback incomplete");
            }
            let code = match a {
                Answer::Signal => super::run::interrupted(exit::RUN_FAILED),
                Answer::TimedOut => {
                    eprintln!("not confirmed within {}: rolled back, the system is as it was", humantime::format_duration(timeout));
                    NOT_CONFIRMED
                }
                _ => {
                    eprintln!("rejected: rolled back, the system is as it was");
                    NOT_CONFIRMED
                }
            };
            (code, "rolled back")
        }
        _ => {
            let code = super::run::interrupted(crate::console::report(out, sources, outcome));
            (code, if code == exit::OK { "kept" } else { "rolled back" })
        }
    }
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Waits for the answer: on the terminal, through the FIFO, or the deadline.
fn wait_for_answer(key: &str, journal: &Path, timeout: Duration, watchdog_pid: u32) -> Answer {
    let pid = std::process::id();
    let (fifo_path, json_path) = (file(pid, "fifo"), file(pid, "json"));
    let fifo = match open_rendezvous(key, journal, timeout, watchdog_pid) {
        Ok(fifo) => Some(fifo),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "netscript: warning: `netscript confirm` cannot reach this run ({e}); answer here");
            None
        }
    };
    let terminal = std::io::stdin().is_terminal();
    let deadline = Instant::now() + timeout;
    let at = humantime::format_rfc3339_seconds(SystemTime::now() + timeout);
    let elsewhere = match key.strip_prefix(crate::run::state::STDIN_PREFIX) {
        Some(name) => format!("netscript confirm --name {name}"),
        None => format!("netscript confirm {key}"),
    };
    let mut err = std::io::stderr();
    if terminal {
        let _ = write!(err, "applied and verified. Keep this change? It is rolled back in {} (at {at}) unless confirmed: [y/N] (or `{elsewhere}` from another shell) ", humantime::format_duration(timeout));
    } else {
        let _ = writeln!(err, "applied and verified; waiting {} (until {at}) for `{elsewhere}`: rolled back otherwise", humantime::format_duration(timeout));
    }
    let _ = err.flush();
    let mut listen_terminal = terminal;
    let mut pending = Vec::new();
    let answer = loop {
        if crate::run::interrupt::received().is_some() {
            break Answer::Signal;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Answer::TimedOut;
        }
        let stdin = std::io::stdin();
        let mut fds = Vec::new();
        if let Some(f) = &fifo {
            fds.push(nix::poll::PollFd::new(f.as_fd(), nix::poll::PollFlags::POLLIN));
        }
        if listen_terminal {
            fds.push(nix::poll::PollFd::new(stdin.as_fd(), nix::poll::PollFlags::POLLIN));
        }
        let wait = nix::poll::PollTimeout::try_from(left.min(Duration::from_millis(200))).unwrap_or(nix::poll::PollTimeout::ZERO);
        if nix::poll::poll(&mut fds, wait).unwrap_or(0) == 0 {
            continue;
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        let mut idx = 0;
        if let Some(f) = &fifo {
            if ready[idx]
                && let Some(a) = read_fifo(f, &mut pending)
            {
                let _ = writeln!(err, "{}{} by `netscript confirm`", if terminal { "\n" } else { "" }, if a.keep() { "confirmed" } else { "rejected" });
                break a;
            }
            idx += 1;
        }
        if listen_terminal && ready.get(idx) == Some(&true) {
            let mut line = String::new();
            match stdin.lock().read_line(&mut line) {
                Ok(0) | Err(_) => {
                    listen_terminal = false;
                    let _ = writeln!(err, "\nno answer from the terminal; still waiting for `{elsewhere}`");
                }
                Ok(_) => match line.trim().to_ascii_lowercase().as_str() {
                    "y" | "yes" => break Answer::Confirmed { remote: false },
                    "n" | "no" => break Answer::Rejected { remote: false },
                    _ => {
                        let _ = write!(err, "answer y to keep the change, n to roll it back now: ");
                        let _ = err.flush();
                    }
                },
            }
        }
    };
    // No confirmer can open the FIFO once it is unlinked; what one wrote before counts.
    let _ = std::fs::remove_file(&fifo_path);
    let answer = match (answer, &fifo) {
        (Answer::TimedOut, Some(f)) => read_fifo(f, &mut pending).unwrap_or(Answer::TimedOut),
        (a, _) => a,
    };
    let _ = std::fs::remove_file(&json_path);
    answer
}

/// Reads what confirmers wrote; the first whole line that is an answer.
fn read_fifo(fifo: &std::fs::File, pending: &mut Vec<u8>) -> Option<Answer> {
    let mut buf = [0u8; 256];
    loop {
        match (&*fifo).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    while let Some(end) = pending.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = pending.drain(..=end).collect();
        match line.trim_ascii() {
            b"yes" => return Some(Answer::Confirmed { remote: true }),
            b"no" => return Some(Answer::Rejected { remote: true }),
            _ => {}
        }
    }
    None
}

/// Makes `P.fifo` and `P.json`; returns the FIFO, open for reading (and writing, so that
/// a confirmer closing it is no end of file).
fn open_rendezvous(key: &str, journal: &Path, timeout: Duration, watchdog_pid: u32) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let pid = std::process::id();
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir())?;
    let fifo_path = file(pid, "fifo");
    let _ = std::fs::remove_file(&fifo_path);
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o600)).map_err(std::io::Error::from)?;
    let fifo = std::fs::OpenOptions::new().read(true).write(true).custom_flags(nix::libc::O_NONBLOCK).open(&fifo_path)?;
    let waiting = Waiting { pid, script: key.to_string(), journal: journal.to_path_buf(), deadline_unix: now_unix() + timeout.as_secs(), watchdog_pid: Some(watchdog_pid) };
    let json_path = file(pid, "json");
    let tmp = json_path.with_extension("json.tmp");
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?.write_all(&serde_json::to_vec(&waiting).expect("serializes"))?;
    std::fs::rename(&tmp, &json_path)?;
    Ok(fifo)
}

/// Starts `netscript watchdog PID` with a pipe from this process on its standard input;
/// returns its pid and the pipe's write end (close-on-exec: only this process holds it).
fn spawn_watchdog() -> std::io::Result<(u32, OwnedFd)> {
    use std::os::unix::process::CommandExt;
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)?;
    let exe = std::env::current_exe()?;
    let child = std::process::Command::new(exe)
        .args(["watchdog", &std::process::id().to_string()])
        .stdin(std::process::Stdio::from(read))
        .stdout(std::process::Stdio::null())
        // Its own process group: Ctrl-C and a terminal hangup reach the run, not it.
        .process_group(0)
        .spawn()?;
    Ok((child.id(), write))
}

/// `netscript watchdog PID` (hidden): waits for the run's pipe to close; if the run
/// ended without saying it was done and left its journal, rolls it back (`recover`).
pub fn watchdog(pid: u32) -> i32 {
    let mut byte = [0u8; 1];
    let done = matches!(std::io::stdin().read(&mut byte), Ok(1) if byte[0] == b'd');
    if done {
        return exit::OK;
    }
    // The run died. Its rendezvous goes; its journal, if any, is rolled back.
    let _ = std::fs::remove_file(file(pid, "fifo"));
    let _ = std::fs::remove_file(file(pid, "json"));
    let mine = crate::run::journal::pending()
        .unwrap_or_default()
        .into_iter()
        .any(|p| crate::run::journal::read(&p).ok().and_then(|j| j.header).is_some_and(|h| h.pid == pid));
    if !mine {
        return exit::OK;
    }
    eprintln!("netscript: the run waiting for its confirmation (pid {pid}) ended before it was confirmed: rolling it back");
    let out = Output { color: false, quiet: false, verbose: false };
    super::recover::recover(&out, false)
}

/// `netscript confirm [FILE | --name NAME] [--reject]`.
pub fn confirm(out: &Output, file_arg: Option<&Path>, name: Option<&str>, reject: bool) -> i32 {
    let key = match (file_arg, name) {
        (Some(f), _) => Some(crate::run::state::script_key(f)),
        (None, Some(n)) => Some(format!("{}{n}", crate::run::state::STDIN_PREFIX)),
        (None, None) => None,
    };
    let all = waiting();
    let candidates: Vec<&Waiting> = all.iter().filter(|w| key.as_deref().is_none_or(|k| w.script == k)).collect();
    let w = match (candidates.as_slice(), &key) {
        ([one], _) => (*one).clone(),
        ([], Some(k)) => {
            eprintln!("netscript: no run of {k} is waiting for a confirmation{}", if all.is_empty() { "" } else { " (`netscript status` lists the runs that are)" });
            return exit::RUN_FAILED;
        }
        ([], None) => {
            eprintln!("netscript: no run is waiting for a confirmation");
            return exit::RUN_FAILED;
        }
        (many, _) => {
            eprintln!("netscript: {} runs are waiting for a confirmation; name one:", many.len());
            for w in many {
                eprintln!("  {} (pid {})", w.script, w.pid);
            }
            return exit::USAGE;
        }
    };
    let fifo = std::fs::OpenOptions::new().write(true).custom_flags_nonblock().open(file(w.pid, "fifo"));
    let mut fifo = match fifo {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("netscript: too late: the run of {} stopped waiting (its time was up); it is rolled back", w.script);
            return exit::RUN_FAILED;
        }
        Err(e) => {
            eprintln!("netscript: cannot reach the run of {} (pid {}): {e}", w.script, w.pid);
            return exit::RUN_FAILED;
        }
    };
    if let Err(e) = fifo.write_all(if reject { b"no\n" } else { b"yes\n" }) {
        eprintln!("netscript: cannot reach the run of {} (pid {}): {e}", w.script, w.pid);
        return exit::RUN_FAILED;
    }
    drop(fifo);
    // What came of it: the run says so when it is over.
    let outcome = file(w.pid, "outcome");
    let started = Instant::now();
    while super::status::process_alive(w.pid) && !outcome.exists() {
        if started.elapsed() > Duration::from_secs(120) {
            eprintln!("netscript: answered; the run of {} (pid {}) is still finishing (`netscript status` shows it)", w.script, w.pid);
            return exit::OK;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let said = std::fs::read_to_string(&outcome).unwrap_or_default();
    let _ = std::fs::remove_file(&outcome);
    match (said.as_str(), reject) {
        ("kept", false) => {
            if !out.quiet {
                eprintln!("confirmed: the run of {} is kept", w.script);
            }
            exit::OK
        }
        ("rolled back", true) => {
            if !out.quiet {
                eprintln!("rejected: the run of {} was rolled back", w.script);
            }
            exit::OK
        }
        ("rolled back", false) => {
            eprintln!("netscript: the run of {} was rolled back all the same (its output says why)", w.script);
            exit::RUN_FAILED
        }
        ("rollback incomplete", _) => {
            eprintln!("netscript: the run of {} could not be rolled back completely (its output says what is left)", w.script);
            exit::ROLLBACK_INCOMPLETE
        }
        _ => {
            eprintln!("netscript: the run of {} (pid {}) ended without saying what came of the answer; `netscript status` shows the state", w.script, w.pid);
            exit::RUN_FAILED
        }
    }
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlock for std::fs::OpenOptions {
    /// Opening a FIFO for writing without a reader fails (ENXIO) instead of blocking.
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(nix::libc::O_NONBLOCK)
    }
}
