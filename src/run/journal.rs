//! The write-ahead journal: what a running transaction has sent to the kernel, so that
//! an interrupted one (SIGKILL, crash, power cut of the process) can be rolled back by
//! `netscript recover` ([`crate::run::recover`]).
//!
//! # Where
//!
//! One file per transaction, `/run/netscript/journal/<tx>.journal` ([`dir`], which
//! follows `NETSCRIPT_RUN_DIR`), where `<tx>` is `<unix nanoseconds>-<pid>`. It exists
//! from just before the first operation is sent until the transaction is committed or
//! fully rolled back; a file that is still there belongs to an interrupted transaction
//! (transactions hold the host lock, [`crate::run::lock`], so no live one can own it when
//! another process looks).
//!
//! # Format (version [`JOURNAL_FORMAT`] = 1)
//!
//! JSON Lines: one JSON object per line, each line written with a single `write` and
//! made durable (`fdatasync`) before the journal's owner goes on.
//!
//! * Line 1, the header: `{"journal":"netscript-journal","format":1,"tx":"…","pid":123,
//!   "script":"/abs/path.ns" | null,"started_unix":1700000000}`.
//! * Then records, tagged by `"rec"`:
//!   * `{"rec":"started","op":3,"action":{…},"undo":[{…},…]}`: operation 3 of the plan
//!     is about to be sent; `undo` restores the state from before it. Written and
//!     synced *before* the request leaves (the executor emits its `Started` event
//!     before it sends, and the transaction writes this record from that event).
//!   * `{"rec":"done","op":3}`: the kernel acknowledged operation 3.
//!   * `{"rec":"failed","op":3}`: the kernel refused it (nothing to undo).
//!   * `{"rec":"undone","op":3}`: every undo action of operation 3 has run (in the
//!     transaction's own rollback, or in `netscript recover`).
//!   * `{"rec":"commit","state":{…} | null}`: the commit point. The transaction was
//!     applied and verified; `state` is the ownership record ([`crate::run::state::Record`])
//!     it is about to save. After this line, recovery rolls *forward*: it saves that
//!     record and deletes the journal.
//!   * `{"rec":"abort"}`: cancels a preceding commit (saving the record failed; the
//!     transaction rolls back instead).
//!
//! Action objects are [`crate::plan::Action`] as serde writes them.
//!
//! # Reading a damaged journal
//!
//! * A last line without its newline is a record that was being written when the
//!   process died: it is ignored (its operation had not been sent yet, as the record is
//!   synced before sending). An empty file, or one whose header is cut, holds nothing.
//! * A complete line that is not valid JSON, or a first line that is not a netscript
//!   header, is an error ([`JournalError::Corrupt`], [`JournalError::Foreign`]): the
//!   file is left in place and nothing is undone on a guess.
//! * A header with a format newer than this build reads is [`JournalError::Newer`].
//!
//! # Test hooks
//!
//! For the crash tests only, three environment variables act on a journal's writer;
//! they do nothing when unset:
//! * `NETSCRIPT_TEST_KILL_AFTER_RECORDS=N`: the process sends itself SIGKILL right after
//!   the N-th record (header not counted) that it appended is durable.
//! * `NETSCRIPT_TEST_DELAY_PER_OP_MS=N`: sleeps N ms after each operation starts and
//!   after each undo action (to make a run, or its rollback, slow enough to signal it
//!   midway).
//! * `NETSCRIPT_TEST_JOURNAL_FAIL_RECORD=N`: writing record N (from 0, header not
//!   counted) fails once (`ENOSPC`), as on a file system full for a moment.

use crate::exec::ExecEvent;
use crate::plan::Action;
use crate::run::state::{self, Record};
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const JOURNAL_FORMAT: u32 = 1;
pub const MAGIC: &str = "netscript-journal";
pub const KILL_HOOK_ENV: &str = "NETSCRIPT_TEST_KILL_AFTER_RECORDS";
pub const DELAY_HOOK_ENV: &str = "NETSCRIPT_TEST_DELAY_PER_OP_MS";
pub const FAIL_HOOK_ENV: &str = "NETSCRIPT_TEST_JOURNAL_FAIL_RECORD";

/// Where journals live.
pub fn dir() -> PathBuf {
    state::run_dir().join("journal")
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Header {
    pub journal: String,
    pub format: u32,
    pub tx: String,
    pub pid: u32,
    /// The script, as an absolute path (`null` for standard input).
    pub script: Option<String>,
    pub started_unix: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "rec", rename_all = "snake_case")]
pub enum Entry {
    Started { op: usize, action: Action, undo: Vec<Action> },
    Done { op: usize },
    Failed { op: usize },
    Undone { op: usize },
    Commit { state: Option<Record> },
    Abort,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot {what} {path}: {error}")]
    Io { what: &'static str, path: PathBuf, error: std::io::Error },
    #[error("{path} is not a netscript journal ({reason}); it was left in place: inspect it and move it out of {dir}", dir = dir().display())]
    Foreign { path: PathBuf, reason: String },
    #[error("the journal {path} was written by a newer netscript (format {found}, this one reads {JOURNAL_FORMAT}); recover with that version")]
    Newer { path: PathBuf, found: u64 },
    #[error("the journal {path} is damaged at line {line} ({reason}); it was left in place and nothing was undone: inspect it, undo its operations by hand, then delete it")]
    Corrupt { path: PathBuf, line: usize, reason: String },
}

fn io<'p>(what: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> JournalError + 'p {
    move |error| JournalError::Io { what, path: path.to_path_buf(), error }
}

fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io("sync", dir))
}

/// The journals of interrupted transactions, oldest first.
pub fn pending() -> Result<Vec<PathBuf>, JournalError> {
    let dir = dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(JournalError::Io { what: "list", path: dir, error }),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "journal"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Why a run, `down` or `:apply` must not start: an interrupted transaction's journal.
pub fn refuse_if_pending() -> Result<(), String> {
    let mut pending = pending().map_err(|e| e.to_string())?;
    // A journal with no operation record (empty, or a header cut by a full disk) is a
    // transaction that started nothing: nothing to recover, so it blocks nothing. The
    // caller holds the host lock, so no live transaction owns it; remove it if we can.
    pending.retain(|path| match read(path) {
        Ok(j) if j.entries.is_empty() => {
            let _ = remove(path);
            false
        }
        _ => true,
    });
    let Some(first) = pending.first() else { return Ok(()) };
    let what = match read(first) {
        Ok(j) => match &j.header {
            Some(h) => format!("pid {}, script {}", h.pid, h.script.as_deref().unwrap_or("<stdin>")),
            None => "it started nothing".to_string(),
        },
        Err(e) => e.to_string(),
    };
    Err(format!(
        "an interrupted transaction left its journal {} ({what}): the host may be half-configured.\nrun `netscript recover` first: it rolls that transaction back",
        first.display()
    ))
}

/// A journal as read back.
#[derive(Debug, Clone)]
pub struct Recovered {
    pub path: PathBuf,
    /// `None` when the file is empty or its header was cut.
    pub header: Option<Header>,
    pub entries: Vec<Entry>,
    /// Whether a last, incomplete record was ignored.
    pub truncated: bool,
}

/// An operation that may have reached the kernel and is not undone yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub op: usize,
    pub action: Action,
    pub undo: Vec<Action>,
}

impl Recovered {
    /// The state record of a commit that was not aborted: `Some(None)` for a committed
    /// run of standard input (nothing to record).
    pub fn committed(&self) -> Option<Option<&Record>> {
        let mut commit = None;
        for e in &self.entries {
            match e {
                Entry::Commit { state } => commit = Some(state.as_ref()),
                Entry::Abort => commit = None,
                _ => {}
            }
        }
        commit
    }

    /// Started operations neither refused nor undone, in the order they started: an
    /// operation whose acknowledgement was not recorded may or may not have been
    /// applied, and is undone (its undo tolerates objects that are already gone).
    pub fn to_undo(&self) -> Vec<Pending> {
        let mut settled = HashSet::new();
        for e in &self.entries {
            if let Entry::Failed { op } | Entry::Undone { op } = e {
                settled.insert(*op);
            }
        }
        self.entries
            .iter()
            .filter_map(|e| match e {
                Entry::Started { op, action, undo } if !settled.contains(op) => Some(Pending { op: *op, action: action.clone(), undo: undo.clone() }),
                _ => None,
            })
            .collect()
    }
}

/// Reads a journal; tolerates a cut last record, refuses anything else that is wrong.
pub fn read(path: &Path) -> Result<Recovered, JournalError> {
    // Bounded, regular files only: a FIFO or /dev/zero planted here must not hang recovery.
    let bytes = crate::bounded::read(path, crate::bounded::MAX_RECORD_BYTES).map_err(|e| io("read", path)(e.into()))?;
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    // `split` yields a last piece after the final newline: empty when the file ends
    // with one, else the cut record.
    let tail = lines.pop().unwrap_or_default();
    let truncated = !tail.is_empty();
    let mut header = None;
    let mut entries = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| {
            if i == 0 {
                JournalError::Foreign { path: path.to_path_buf(), reason: format!("its first line is not JSON: {e}") }
            } else {
                JournalError::Corrupt { path: path.to_path_buf(), line: n, reason: e.to_string() }
            }
        })?;
        if i == 0 {
            if value.get("journal").and_then(|j| j.as_str()) != Some(MAGIC) {
                return Err(JournalError::Foreign { path: path.to_path_buf(), reason: "no netscript journal header".into() });
            }
            let format = value.get("format").and_then(|f| f.as_u64()).unwrap_or(0);
            if format > JOURNAL_FORMAT as u64 {
                return Err(JournalError::Newer { path: path.to_path_buf(), found: format });
            }
            let h: Header = serde_json::from_value(value).map_err(|e| JournalError::Corrupt { path: path.to_path_buf(), line: n, reason: e.to_string() })?;
            header = Some(h);
        } else {
            let entry: Entry = serde_json::from_value(value).map_err(|e| JournalError::Corrupt { path: path.to_path_buf(), line: n, reason: e.to_string() })?;
            entries.push(entry);
        }
    }
    Ok(Recovered { path: path.to_path_buf(), header, entries, truncated })
}

/// Test hooks, read once when a writer opens (see the module documentation).
#[derive(Debug, Default, Clone, Copy)]
struct Hooks {
    kill_after: Option<u64>,
    delay_ms: Option<u64>,
    fail_record: Option<u64>,
}

impl Hooks {
    fn from_env() -> Hooks {
        let num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        Hooks { kill_after: num(KILL_HOOK_ENV), delay_ms: num(DELAY_HOOK_ENV), fail_record: num(FAIL_HOOK_ENV) }
    }
}

/// The writer of one transaction's journal.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    /// Undo actions still to see run, per op, while a rollback runs.
    undo_left: HashMap<usize, usize>,
    appended: u64,
    hooks: Hooks,
    /// The first write that failed (the transaction is then cancelled).
    error: Option<JournalError>,
}

impl Journal {
    /// Creates the journal of a new transaction (durable, header written) for `script`
    /// (its absolute path; `None` for standard input).
    pub fn create(script: Option<String>) -> Result<Journal, JournalError> {
        let dir = dir();
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let tx = format!("{:020}-{}", now.as_nanos(), std::process::id());
        let path = dir.join(format!("{tx}.journal"));
        let file = OpenOptions::new().append(true).create_new(true).mode(0o600).open(&path).map_err(io("create", &path))?;
        let header = Header { journal: MAGIC.into(), format: JOURNAL_FORMAT, tx, pid: std::process::id(), script, started_unix: now.as_secs() };
        let mut journal = Journal { file, path, undo_left: HashMap::new(), appended: 0, hooks: Hooks::from_env(), error: None };
        // A journal that could not be made durable (a full or read-only disk) started
        // nothing: remove it, or it would make every later run ask for `recover`.
        let written = journal.write_line(&serde_json::to_vec(&header).expect("headers serialize")).and_then(|()| sync_dir(&dir));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&journal.path);
            return Err(e);
        }
        Ok(journal)
    }

    /// Opens an interrupted transaction's journal to append to it (recovery).
    pub fn reopen(recovered: &Recovered) -> Result<Journal, JournalError> {
        let path = recovered.path.clone();
        if recovered.truncated {
            // Cut the torn record off, so that what follows starts on its own line.
            let keep = crate::bounded::read(&path, crate::bounded::MAX_RECORD_BYTES).map_err(|e| io("read", &path)(e.into()))?.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let f = OpenOptions::new().write(true).open(&path).map_err(io("open", &path))?;
            f.set_len(keep as u64).map_err(io("truncate", &path))?;
            f.sync_all().map_err(io("sync", &path))?;
        }
        let file = OpenOptions::new().append(true).open(&path).map_err(io("open", &path))?;
        Ok(Journal { file, path, undo_left: HashMap::new(), appended: 0, hooks: Hooks::from_env(), error: None })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_line(&mut self, json: &[u8]) -> Result<(), JournalError> {
        let mut line = Vec::with_capacity(json.len() + 1);
        line.extend_from_slice(json);
        line.push(b'\n');
        self.file.write_all(&line).map_err(io("write", &self.path))?;
        self.file.sync_data().map_err(io("sync", &self.path))
    }

    /// Appends one record and makes it durable.
    pub fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        if self.hooks.fail_record == Some(self.appended) {
            self.hooks.fail_record = None;
            return Err(io("write", &self.path)(std::io::Error::from_raw_os_error(nix::libc::ENOSPC)));
        }
        self.write_line(&serde_json::to_vec(entry).expect("journal records serialize"))?;
        self.appended += 1;
        if self.hooks.kill_after == Some(self.appended) {
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        }
        Ok(())
    }

    /// Records what an executor event means for operation `op` (whose undo actions are
    /// `undo`): `Started`, `Done`, `Failed`, and `Undone` once all of `undo` has run.
    /// A write that fails cancels the transaction ([`crate::exec::cancel`]) and is kept
    /// for [`Journal::take_error`].
    pub fn record(&mut self, event: &ExecEvent, op: usize, undo: &[Action]) {
        let entry = match event {
            ExecEvent::Started { action, .. } => Some(Entry::Started { op, action: (*action).clone(), undo: undo.to_vec() }),
            ExecEvent::Done { .. } => Some(Entry::Done { op }),
            ExecEvent::Failed { .. } => Some(Entry::Failed { op }),
            ExecEvent::Undone { .. } => {
                let left = self.undo_left.entry(op).or_insert(undo.len());
                *left = left.saturating_sub(1);
                (*left == 0).then_some(Entry::Undone { op })
            }
            ExecEvent::Undoing { .. } | ExecEvent::UndoFailed { .. } => None,
        };
        if let Some(entry) = entry
            && let Err(e) = self.append(&entry)
        {
            crate::exec::cancel::request();
            self.error.get_or_insert(e);
        }
        if let (ExecEvent::Started { .. } | ExecEvent::Undone { .. }, Some(ms)) = (event, self.hooks.delay_ms) {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
    }

    /// The first write error since the journal opened.
    pub fn take_error(&mut self) -> Option<JournalError> {
        self.error.take()
    }

    /// Deletes the journal: the transaction is over (committed and recorded, or rolled
    /// back in full).
    pub fn finish(self) -> Result<(), JournalError> {
        remove(&self.path)
    }
}

/// Deletes a journal file, durably.
pub fn remove(path: &Path) -> Result<(), JournalError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(JournalError::Io { what: "remove", path: path.to_path_buf(), error }),
    }
    sync_dir(path.parent().unwrap_or(Path::new("/")))
}

/// An event callback that journals the events of `plan`'s operations, then passes them
/// on to `on_event`. The first undo marks the rollback as begun for the signal
/// handler's messages ([`crate::run::interrupt::rolling_back`]).
pub fn with_plan<'a>(journal: &'a mut Journal, plan: &'a crate::plan::Plan, on_event: &'a mut dyn FnMut(&ExecEvent)) -> impl FnMut(&ExecEvent) + 'a {
    move |event| {
        if let ExecEvent::Undoing { .. } = event {
            crate::run::interrupt::rolling_back(true);
        }
        let op = event_op(event);
        if let Some(o) = plan.ops.get(op) {
            journal.record(event, op, &o.undo);
        }
        on_event(event)
    }
}

/// The operation an event is about.
pub fn event_op(event: &ExecEvent) -> usize {
    match event {
        ExecEvent::Started { op, .. }
        | ExecEvent::Done { op, .. }
        | ExecEvent::Failed { op, .. }
        | ExecEvent::Undoing { op, .. }
        | ExecEvent::Undone { op, .. }
        | ExecEvent::UndoFailed { op, .. } => *op,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("netscript-journal-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    const HEADER: &str = r#"{"journal":"netscript-journal","format":1,"tx":"1-1","pid":1,"script":"/x.ns","started_unix":0}"#;

    #[test]
    fn cut_last_record_is_ignored_and_the_rest_read() {
        let d = tmpdir("cut");
        let text = format!("{HEADER}\n{}\n{}\n{{\"rec\":\"done\",\"o", r#"{"rec":"started","op":0,"action":{"op":"create_netns","ns":"a"},"undo":[{"op":"delete_netns","ns":"a"}]}"#, r#"{"rec":"started","op":1,"action":{"op":"create_netns","ns":"b"},"undo":[]}"#);
        let p = write(&d, "a.journal", &text);
        let j = read(&p).unwrap();
        assert!(j.truncated);
        assert_eq!(j.entries.len(), 2);
        assert_eq!(j.to_undo().iter().map(|p| p.op).collect::<Vec<_>>(), vec![0, 1]);
        assert!(j.committed().is_none());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn damaged_foreign_and_newer_journals_are_errors() {
        let d = tmpdir("bad");
        let corrupt = write(&d, "c.journal", &format!("{HEADER}\n{{not json\n{{\"rec\":\"done\",\"op\":1}}\n"));
        assert!(matches!(read(&corrupt), Err(JournalError::Corrupt { line: 2, .. })), "{:?}", read(&corrupt));
        let foreign = write(&d, "f.journal", "hello world\n");
        assert!(matches!(read(&foreign), Err(JournalError::Foreign { .. })));
        let foreign_json = write(&d, "g.journal", "{\"format\":1}\n");
        assert!(matches!(read(&foreign_json), Err(JournalError::Foreign { .. })));
        let newer = write(&d, "n.journal", &(HEADER.replace("\"format\":1", "\"format\":7") + "\n"));
        assert!(matches!(read(&newer), Err(JournalError::Newer { found: 7, .. })));
        let empty = write(&d, "e.journal", "");
        let j = read(&empty).unwrap();
        assert!(j.header.is_none() && j.entries.is_empty() && !j.truncated);
        let cut_header = write(&d, "h.journal", &HEADER[..20]);
        let j = read(&cut_header).unwrap();
        assert!(j.header.is_none() && j.truncated);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn settled_ops_and_commit_abort() {
        let d = tmpdir("settled");
        let lines = [
            HEADER,
            r#"{"rec":"started","op":0,"action":{"op":"create_netns","ns":"a"},"undo":[]}"#,
            r#"{"rec":"started","op":1,"action":{"op":"create_netns","ns":"b"},"undo":[]}"#,
            r#"{"rec":"started","op":2,"action":{"op":"create_netns","ns":"c"},"undo":[]}"#,
            r#"{"rec":"failed","op":1}"#,
            r#"{"rec":"undone","op":2}"#,
            r#"{"rec":"commit","state":null}"#,
        ];
        let p = write(&d, "s.journal", &(lines.join("\n") + "\n"));
        let j = read(&p).unwrap();
        assert_eq!(j.to_undo().iter().map(|p| p.op).collect::<Vec<_>>(), vec![0]);
        assert_eq!(j.committed(), Some(None));
        std::fs::write(&p, lines.join("\n") + "\n{\"rec\":\"abort\"}\n").unwrap();
        assert_eq!(read(&p).unwrap().committed(), None);
        std::fs::remove_dir_all(d).unwrap();
    }

}
