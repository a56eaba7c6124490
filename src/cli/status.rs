//! `netscript status`: the scripts netscript manages on this host, from their ownership
//! records (`/run/netscript/state/`): when each last changed the system, what it owns,
//! whether the live state still matches it (drift), and the journals of transactions
//! that are running or were interrupted.
//!
//! Drift is what `netscript plan FILE` shows: the script (as it is now on disk) planned
//! against the live state with its record, exactly as a run would plan it. Any operation
//! is drift — an address deleted by hand, a link taken down, a route changed — unless the
//! script was edited after its last run, when the operations are (also) the edit's. A
//! script that no longer exists, or was read from standard input, cannot be planned
//! again; for those, status says which of the recorded objects are gone.
//!
//! Status takes no lock and changes nothing; it reads while another transaction may run
//! (that transaction's journal is listed).

use super::args::ShowFormat;
use super::exit;
use crate::model::Desired;
use crate::plan::{describe, ownership};
use crate::source::SourceMap;
use crate::run::state::{self, Record};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One managed script, as status reports it.
#[derive(Debug, serde::Serialize)]
pub struct ScriptStatus {
    /// The record's key: the script's absolute path, or `stdin:NAME`.
    pub script: String,
    /// The record file.
    pub record: PathBuf,
    /// Whether the script file is still there (`null` for standard input).
    pub exists: Option<bool>,
    /// When a run last changed the record (the record file's modification time), RFC 3339.
    pub applied: Option<String>,
    pub applied_unix: Option<u64>,
    /// What the record holds, by kind: what the runs created and what they changed.
    pub owns: indexmap::IndexMap<&'static str, usize>,
    pub drift: Drift,
    /// Journals of this script's transactions (running, waiting for a confirmation, or
    /// interrupted).
    pub journals: Vec<JournalStatus>,
}

#[derive(Debug, serde::Serialize)]
pub struct Drift {
    /// `in_sync`, `drift`, `edited` (the script changed since its last run: the
    /// operations are the edit's, and perhaps drift), or `unknown`.
    pub state: &'static str,
    /// What a run would do to make the live state the script's again.
    pub operations: Vec<String>,
    /// Record entries no longer in place: objects deleted, values changed back to what
    /// they were before the script, by hand (the next run or `down` forgets them).
    pub gone: usize,
    /// Why the state is `unknown`, or a note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct JournalStatus {
    pub path: PathBuf,
    pub script: Option<String>,
    pub pid: Option<u32>,
    /// Whether that process still runs (a transaction in progress, or a `run --confirm`
    /// waiting); otherwise the transaction was interrupted and `netscript recover` rolls
    /// it back.
    pub running: bool,
    pub started_unix: Option<u64>,
    /// The journal's commit point is recorded (recover rolls forward).
    pub committed: bool,
    /// Operations started and not undone.
    pub operations: usize,
    /// A `run --confirm` waiting for its confirmation: when it rolls back unless
    /// confirmed (`netscript confirm`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm_deadline_unix: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct Status {
    pub state_dir: PathBuf,
    pub scripts: Vec<ScriptStatus>,
    /// Every pending journal, also those of scripts with no record yet.
    pub journals: Vec<JournalStatus>,
    /// Record files that could not be read.
    pub errors: Vec<serde_json::Value>,
}

pub fn status(format: ShowFormat) -> i32 {
    let status = match gather() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("netscript: {e}");
            return exit::RUN_FAILED;
        }
    };
    let text = match format {
        ShowFormat::Json => serde_json::to_string_pretty(&status).expect("status serializes") + "\n",
        ShowFormat::Text => render_text(&status, SystemTime::now()),
    };
    print!("{text}");
    exit::OK
}

/// Everything status reports. Needs root for the drift (reading the live state).
pub fn gather() -> Result<Status, String> {
    let state_dir = state::run_dir().join("state");
    let journals = journals();
    let mut scripts = Vec::new();
    let mut errors = Vec::new();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&state_dir) {
        Ok(entries) => entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("cannot list {}: {e}", state_dir.display())),
    };
    files.sort();
    let mut exec = None;
    for file in files {
        let record = match read_record(&file) {
            Ok(r) => r,
            Err(e) => {
                errors.push(json!({ "record": file, "error": e }));
                continue;
            }
        };
        let exec = match exec.get_or_insert_with(|| crate::exec::check_privileges().map_err(|e| e.to_string()).and_then(|()| crate::exec::Executor::new().map_err(|e| e.to_string()))) {
            Ok(exec) => Ok(exec),
            Err(e) => Err(e.clone()),
        };
        scripts.push(script_status(&file, record, exec, &journals));
    }
    Ok(Status { state_dir, scripts, journals, errors })
}

/// A record file read as `run` reads it: through its script's key, so that a file that
/// is not where its script's record belongs is reported, not believed.
fn read_record(file: &Path) -> Result<Record, String> {
    let text = crate::bounded::read_string(file, crate::bounded::MAX_RECORD_BYTES).map_err(|e| e.to_string())?;
    let key = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("script").and_then(|s| s.as_str()).map(str::to_string))
        .ok_or_else(|| "not a netscript record (no `script`)".to_string())?;
    if state::record_path(Path::new(&key)) != file {
        return Err(format!("names the script {key}, whose record is another file"));
    }
    match state::load(Path::new(&key)) {
        Ok(Some(record)) => Ok(record),
        Ok(None) => Err("it went away while being read".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Counts of what a record holds, by kind (only kinds it has, in a fixed order).
pub fn owned_counts(record: &Record) -> indexmap::IndexMap<&'static str, usize> {
    const KINDS: [(&str, &str); 12] = [
        ("netns", "namespaces"),
        ("link", "links"),
        ("link-attr", "link attributes"),
        ("addr", "addresses"),
        ("route", "routes"),
        ("rule", "rules"),
        ("qdisc", "qdiscs"),
        ("class", "classes"),
        ("filter", "filters"),
        ("redirect", "filters"),
        ("sysctl", "sysctls"),
        ("bpf", "programs"),
    ];
    let mut counts = indexmap::IndexMap::new();
    for entry in &record.owned {
        let Some(key) = ownership::entry_key(entry) else { continue };
        let kind = key.split(' ').next().unwrap_or_default();
        let kind = if kind == "xdp" { "bpf" } else { kind };
        if let Some((_, name)) = KINDS.iter().find(|(k, _)| *k == kind) {
            *counts.entry(*name).or_insert(0) += 1;
        }
    }
    counts.sort_by_cached_key(|k, _| KINDS.iter().position(|(_, n)| n == k));
    counts
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn script_status(file: &Path, record: Record, exec: Result<&mut crate::exec::Executor, String>, journals: &[JournalStatus]) -> ScriptStatus {
    let from_stdin = record.script.starts_with(state::STDIN_PREFIX);
    let script_path = PathBuf::from(&record.script);
    let exists = (!from_stdin).then(|| script_path.is_file());
    let applied_at = modified(file);
    let applied_unix = applied_at.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()).map(|d| d.as_secs());
    let applied = applied_at.map(|t| humantime::format_rfc3339_seconds(t).to_string());
    let owns = owned_counts(&record);
    let drift = match exec {
        Err(e) => Drift { state: "unknown", operations: Vec::new(), gone: 0, note: Some(format!("the live state cannot be read: {e}")) },
        Ok(exec) => drift(exec, &record, &script_path, exists == Some(true), applied_at),
    };
    let journals = journals.iter().filter(|j| j.script.as_deref() == Some(record.script.as_str())).cloned().collect();
    ScriptStatus { script: record.script.clone(), record: file.to_path_buf(), exists, applied, applied_unix, owns, drift, journals }
}

fn drift(exec: &mut crate::exec::Executor, record: &Record, script: &Path, exists: bool, applied_at: Option<SystemTime>) -> Drift {
    let unknown = |note: String| Drift { state: "unknown", operations: Vec::new(), gone: 0, note: Some(note) };
    // What the record alone tells: which of its objects are gone. Planned as a script
    // that keeps the namespaces the record made and declares nothing in them: what is
    // still there would be removed, what is gone is forgotten.
    let mut keep = Desired::default();
    for entry in &record.owned {
        if let Some(crate::plan::Action::DeleteNetns { ns }) = entry.undo.first() {
            keep.namespaces.insert(ns.clone(), crate::model::Namespace::new(ns.clone(), crate::model::NsOrigin::Declared, Default::default()));
        }
    }
    let gone = match crate::run::transaction::plan_live(exec, &keep, Some(script)) {
        Ok(planned) => planned.plan.forget.len(),
        Err(e) => return unknown(outcome_text(e)),
    };
    if !exists {
        let why = if record.script.starts_with(state::STDIN_PREFIX) { "it was read from standard input" } else { "the script no longer exists" };
        if gone > 0 {
            return Drift { state: "drift", operations: Vec::new(), gone, note: Some(format!("{why}: only the record can be compared with the live state")) };
        }
        return unknown(format!("{why}: everything it recorded still exists, but without the script its attributes cannot be compared"));
    }
    let mut sources = SourceMap::new();
    let checked = match super::load(&mut sources, script) {
        Ok(file) => crate::check::check(&mut sources, file, &crate::check::FsLoader),
        Err(e) => return Drift { gone, ..unknown(e) },
    };
    if checked.has_errors() {
        return Drift { gone, ..unknown("the script has errors now (`netscript check` shows them)".into()) };
    }
    let planned = match crate::run::transaction::plan_live(exec, &checked.desired, Some(script)) {
        Ok(p) => p,
        Err(e) => return Drift { gone, ..unknown(outcome_text(e)) },
    };
    let mut operations: Vec<String> = planned.plan.ops.iter().map(|op| describe(&op.action)).collect();
    operations.extend(planned.plan.drop_netns.iter().map(|ns| format!("delete netns {ns} (no longer declared)")));
    let edited = match (modified(script), applied_at) {
        (Some(script), Some(applied)) => script > applied,
        _ => false,
    };
    let state = match (operations.is_empty(), edited) {
        (true, _) => "in_sync",
        (false, false) => "drift",
        (false, true) => "edited",
    };
    let note = (state == "edited").then(|| "the script was changed after its last run: a run would apply the edit (and restore any drift)".to_string());
    Drift { state, operations, gone, note }
}

fn outcome_text(outcome: crate::run::transaction::Outcome) -> String {
    match outcome {
        crate::run::transaction::Outcome::Setup(e) => e,
        crate::run::transaction::Outcome::Refused(d) => format!("a run would be refused: {}", d.first().map(|d| d.message.clone()).unwrap_or_default()),
        other => format!("{other:?}"),
    }
}

/// The pending journals, oldest first.
pub fn journals() -> Vec<JournalStatus> {
    let paths = crate::run::journal::pending().unwrap_or_default();
    let waiting = super::confirm::waiting();
    paths
        .into_iter()
        .map(|path| match crate::run::journal::read(&path) {
            Ok(j) => {
                let pid = j.header.as_ref().map(|h| h.pid);
                JournalStatus {
                    script: j.header.as_ref().and_then(|h| h.script.clone()),
                    pid,
                    running: pid.is_some_and(process_alive),
                    started_unix: j.header.as_ref().map(|h| h.started_unix),
                    committed: j.committed().is_some(),
                    operations: j.to_undo().len(),
                    confirm_deadline_unix: waiting.iter().find(|w| Some(w.pid) == pid).map(|w| w.deadline_unix),
                    error: None,
                    path,
                }
            }
            Err(e) => JournalStatus { path, script: None, pid: None, running: false, started_unix: None, committed: false, operations: 0, confirm_deadline_unix: None, error: Some(e.to_string()) },
        })
        .collect()
}

pub(super) fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    // Signal 0: whether the process exists (EPERM: it does, someone else's).
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e == nix::errno::Errno::EPERM,
    }
}

fn singular(kind: &str) -> &str {
    match kind {
        "addresses" => "address",
        "classes" => "class",
        "link attributes" => "link attribute",
        other => other.strip_suffix('s').unwrap_or(other),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn ago(then: u64, now: SystemTime) -> String {
    let now = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let secs = now.saturating_sub(then);
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h {}m ago", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d ago", secs / 86400),
    }
}

fn journal_line(j: &JournalStatus, now: SystemTime) -> String {
    if let Some(e) = &j.error {
        return format!("{}: unreadable: {e}", j.path.display());
    }
    let who = j.pid.map(|p| format!("pid {p}")).unwrap_or_else(|| "no header".into());
    let when = j.started_unix.map(|t| format!(", started {}", ago(t, now))).unwrap_or_default();
    let what = if let (true, Some(deadline)) = (j.running, j.confirm_deadline_unix) {
        let left = deadline.saturating_sub(now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0));
        format!("applied, waiting for its confirmation: rolled back in {left}s unless `netscript confirm`")
    } else if j.running {
        "running (or waiting for a confirmation)".to_string()
    } else if j.committed {
        "interrupted after its commit point: `netscript recover` saves its record".to_string()
    } else {
        format!("interrupted with {}: `netscript recover` rolls it back", plural(j.operations, "operation", "operations"))
    };
    format!("{} ({who}{when}): {what}", j.path.display())
}

pub fn render_text(status: &Status, now: SystemTime) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    match status.scripts.len() {
        0 => writeln!(out, "no script is managed on this host (no record in {})", status.state_dir.display()).unwrap(),
        n => writeln!(out, "{} managed on this host (records in {})", plural(n, "script", "scripts"), status.state_dir.display()).unwrap(),
    }
    for s in &status.scripts {
        let gone_note = if s.exists == Some(false) { " (the file no longer exists)" } else { "" };
        writeln!(out, "\n{}{gone_note}", s.script).unwrap();
        if let (Some(applied), Some(unix)) = (&s.applied, s.applied_unix) {
            writeln!(out, "  applied  {applied} ({})", ago(unix, now)).unwrap();
        }
        let owns: Vec<String> = s.owns.iter().map(|(k, n)| if *n == 1 { format!("1 {}", singular(k)) } else { format!("{n} {k}") }).collect();
        writeln!(out, "  owns     {}", if owns.is_empty() { "nothing".into() } else { owns.join(", ") }).unwrap();
        let d = &s.drift;
        match d.state {
            "in_sync" => writeln!(out, "  drift    none: the live state is what the script declares").unwrap(),
            "drift" if d.operations.is_empty() => writeln!(out, "  drift    {}", d.note.as_deref().unwrap_or("")).unwrap(),
            "drift" => writeln!(out, "  drift    {} would restore what the script declares:", plural(d.operations.len(), "operation", "operations")).unwrap(),
            "edited" => writeln!(out, "  drift    the script was edited after its last run; a run would do {}:", plural(d.operations.len(), "operation", "operations")).unwrap(),
            _ => writeln!(out, "  drift    unknown: {}", d.note.as_deref().unwrap_or("")).unwrap(),
        }
        for op in &d.operations {
            writeln!(out, "             {op}").unwrap();
        }
        if d.gone > 0 {
            writeln!(out, "           {} of what it recorded {} no longer in place (deleted, or changed back, by hand)", d.gone, if d.gone == 1 { "is" } else { "are" }).unwrap();
        }
        match s.journals.as_slice() {
            [] => writeln!(out, "  journal  none pending").unwrap(),
            js => {
                for j in js {
                    writeln!(out, "  journal  {}", journal_line(j, now)).unwrap();
                }
            }
        }
    }
    for e in &status.errors {
        writeln!(out, "\nunreadable record {}: {}", e["record"].as_str().unwrap_or(""), e["error"].as_str().unwrap_or("")).unwrap();
    }
    let orphans: Vec<&JournalStatus> = status.journals.iter().filter(|j| !status.scripts.iter().any(|s| j.script.as_deref() == Some(s.script.as_str()))).collect();
    if !orphans.is_empty() {
        writeln!(out, "\njournals of scripts with no record yet:").unwrap();
        for j in orphans {
            writeln!(out, "  {}", journal_line(j, now)).unwrap();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;

    #[test]
    fn counts_by_kind_in_a_fixed_order() {
        let mut record = Record::new("/x.ns".into());
        let owned = |undo: Action| ownership::Owned { made: None, undo: vec![undo] };
        record.owned.push(owned(Action::DelAddr { ns: "a".into(), dev: "v0".into(), addr: "10.0.0.1/24".parse().unwrap() }));
        record.owned.push(owned(Action::DeleteNetns { ns: "a".into() }));
        record.owned.push(owned(Action::DelAddr { ns: "a".into(), dev: "v0".into(), addr: "10.0.0.2/24".parse().unwrap() }));
        record.owned.push(owned(Action::SetSysctl { ns: "a".into(), key: "net.ipv4.ip_forward".into(), value: "0".into() }));
        let counts = owned_counts(&record);
        assert_eq!(counts.into_iter().collect::<Vec<_>>(), vec![("namespaces", 1), ("addresses", 2), ("sysctls", 1)]);
    }
}
