//! Ownership records: what each script's runs created or changed, under
//! `/run/netscript/state/` (a tmpfs: it goes away at reboot, together with the kernel
//! state it describes). The model — what netscript owns, what it only modifies, what it
//! never touches — is in [`crate::plan::ownership`].
//!
//! A record lists [`Owned`] entries in the order their operations were applied. The
//! planner removes those the script no longer declares; `down` removes them all.

pub use crate::plan::ownership::Owned;
use crate::plan::Action;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Format 2: entries with what they made and what undoes them, namespace inodes.
/// Format 1 (undo actions only) is read too.
pub const STATE_FORMAT: u32 = 2;

pub use crate::paths::run_dir;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Record {
    pub format: u32,
    /// The script, as an absolute path (or `stdin:NAME` for `run --name NAME -`).
    pub script: String,
    /// What the runs made, in the order applied.
    #[serde(default)]
    pub owned: Vec<Owned>,
    /// The inode of each namespace the runs created: a namespace of that name with
    /// another inode is someone else's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub netns_ids: BTreeMap<String, u64>,
    /// The cookie of each of them (`SO_NETNS_COOKIE`; the inode alone is reused).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub netns_cookies: BTreeMap<String, u64>,
    /// Where the last run saw the kernel hold exactly the firewall table the script
    /// declares, by namespace (a shortcut for reading it back; dropped when stale).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub firewall_seals: BTreeMap<String, crate::plan::firewall::FirewallSeal>,
    /// Format 1's undo actions, read into `owned`.
    #[serde(default, skip_serializing)]
    undo: Vec<Action>,
}

impl Record {
    pub fn new(script: String) -> Record {
        Record { format: STATE_FORMAT, script, owned: Vec::new(), netns_ids: BTreeMap::new(), netns_cookies: BTreeMap::new(), firewall_seals: BTreeMap::new(), undo: Vec::new() }
    }

    /// Every undo action, in the order their operations were applied.
    pub fn undo_actions(&self) -> impl DoubleEndedIterator<Item = &Action> {
        self.owned.iter().flat_map(|o| o.undo.iter())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {what} {path}: {error}")]
    Io { what: &'static str, path: PathBuf, error: std::io::Error },
    #[error("the state file {path} is damaged ({reason}); it was left in place. Inspect it, then delete it to forget that run")]
    Damaged { path: PathBuf, reason: String },
    #[error("the state file {path} was written by a newer netscript (format {found}, this one reads {STATE_FORMAT}); upgrade netscript")]
    Newer { path: PathBuf, found: u32 },
}

/// The prefix of the record name of a script read from standard input
/// (`netscript run --name NAME -`): `stdin:NAME`.
pub const STDIN_PREFIX: &str = "stdin:";

/// The name a script's record is kept under: its absolute path, resolved as `run` did.
/// A script that no longer exists (deleted after its run) resolves the same way, through
/// its directory, so that `down` still finds its record. `stdin:NAME` stays as it is.
pub fn script_key(script: &Path) -> String {
    let text = script.to_string_lossy();
    if text.starts_with(STDIN_PREFIX) {
        return text.into_owned();
    }
    if let Ok(path) = std::fs::canonicalize(script) {
        return path.to_string_lossy().into_owned();
    }
    let absolute = std::path::absolute(script).unwrap_or_else(|_| script.to_path_buf());
    let resolved = match (absolute.parent().and_then(|p| std::fs::canonicalize(p).ok()), absolute.file_name()) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => absolute,
    };
    resolved.to_string_lossy().into_owned()
}

/// The record file of a script (see [`script_key`]).
pub fn record_path(script: &Path) -> PathBuf {
    let key = script_key(script);
    // FNV-1a: stable across builds, unlike std's hasher.
    let hash = key.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
    let stem: String = Path::new(&key)
        .file_stem()
        .map(|s| s.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).take(40).collect())
        .unwrap_or_default();
    run_dir().join("state").join(format!("{stem}-{hash:016x}.json"))
}

pub fn load(script: &Path) -> Result<Option<Record>, StateError> {
    let path = record_path(script);
    // Bounded, regular files only, never blocking: a record is a file on disk that
    // something else may have replaced.
    let text = match crate::bounded::read_string(&path, crate::bounded::MAX_RECORD_BYTES) {
        Ok(text) => text,
        Err(crate::bounded::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(crate::bounded::ReadError::Io(error)) => return Err(StateError::Io { what: "read", path, error }),
        Err(other) => return Err(StateError::Damaged { path, reason: other.to_string() }),
    };
    parse(&path, &text, Some(&script_key(script))).map(Some)
}

/// A record from the text of its file at `path`: format checked (newer is said so),
/// format 1 upgraded, every action validated; `key`, when given, must be its script.
fn parse(path: &Path, text: &str, key: Option<&str>) -> Result<Record, StateError> {
    let path = path.to_path_buf();
    let record: Record = match serde_json::from_str(text) {
        Ok(record) => record,
        // A file this version cannot read may be from a newer one: then say so, rather
        // than call it damaged.
        Err(e) => {
            #[derive(serde::Deserialize)]
            struct Version {
                format: Option<u64>,
            }
            return Err(match serde_json::from_str::<Version>(text) {
                Ok(Version { format: Some(found) }) if found > u64::from(STATE_FORMAT) => StateError::Newer { path, found: found.min(u64::from(u32::MAX)) as u32 },
                Ok(Version { format: None }) => StateError::Damaged { path, reason: "no format version".into() },
                _ => StateError::Damaged { path, reason: e.to_string() },
            });
        }
    };
    if record.format > STATE_FORMAT {
        return Err(StateError::Newer { path, found: record.format });
    }
    let mut record = record;
    if !record.undo.is_empty() {
        let legacy = std::mem::take(&mut record.undo);
        record.owned.extend(legacy.into_iter().map(|u| Owned { made: None, undo: vec![u] }));
    }
    for action in record.owned.iter().flat_map(|o| o.undo.iter().chain(o.made.iter())) {
        validate(action).map_err(|reason| StateError::Damaged { path: path.clone(), reason })?;
    }
    if let Some(key) = key
        && record.script != key
    {
        return Err(StateError::Damaged { path, reason: format!("it belongs to {}", record.script) });
    }
    Ok(record)
}

/// Writes atomically: a temporary file, fsync, rename, fsync of the directory.
pub fn save(script: &Path, record: &Record) -> Result<(), StateError> {
    let path = record_path(script);
    let dir = path.parent().expect("record paths have a directory").to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|error| StateError::Io { what: "create", path: dir.clone(), error })?;
    if record.owned.is_empty() {
        return match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(StateError::Io { what: "remove", path, error }),
        };
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    fn io<'p>(what: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> StateError + 'p {
        move |error| StateError::Io { what, path: path.to_path_buf(), error }
    }
    // Root's only (0600); a temporary file that could not be finished (a full disk) is
    // removed, so that nothing is left behind.
    let written = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(io("create", &tmp))?;
        // Compact: a record of a thousand namespaces holds thousands of entries.
        let text = serde_json::to_vec(record).expect("records serialize");
        file.write_all(&text).map_err(io("write", &tmp))?;
        file.sync_all().map_err(io("sync", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("rename", &path))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(io("sync", &dir))?;
    Ok(())
}

/// What a record may ask for, checked as strictly as a script: a record is a file that
/// someone could have written by hand.
fn validate(action: &Action) -> Result<(), String> {
    let name_ok = |n: &str| !n.is_empty() && n.len() <= 255 && !n.contains('/') && n != "." && n != "..";
    if !name_ok(action.namespace()) {
        return Err(format!("invalid namespace name `{}`", action.namespace()));
    }
    if let Action::SetSysctl { key, .. } = action
        && crate::model::sysctl_key_problem(key).is_some()
    {
        return Err(format!("sysctl `{key}` is not one netscript sets"));
    }
    Ok(())
}

/// The records of every other script on this host (unreadable ones are left out: the
/// run of their own script reports them).
pub fn load_others(mine: &str) -> Vec<crate::plan::ownership::OtherScript> {
    // This script's own record is not another's: not read twice.
    records_but(Some(&record_path(Path::new(mine)))).into_iter().filter(|other| other.script != mine).collect()
}

/// The records of every script on this host (for `show`: which script made what).
pub fn load_all() -> Vec<crate::plan::ownership::OtherScript> {
    records_but(None)
}

fn records_but(skip: Option<&Path>) -> Vec<crate::plan::ownership::OtherScript> {
    let Ok(entries) = std::fs::read_dir(run_dir().join("state")) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") || Some(path.as_path()) == skip {
            continue;
        }
        let Ok(text) = crate::bounded::read_string(&path, crate::bounded::MAX_RECORD_BYTES) else { continue };
        // Upgraded and validated like this script's own; kept only where its name is the
        // file its script's record would have.
        let Ok(record) = parse(&path, &text, None) else { continue };
        if record_path(Path::new(&record.script)) == path {
            out.push(crate::plan::ownership::OtherScript { script: record.script, owned: record.owned });
        }
    }
    out.sort_by(|a, b| a.script.cmp(&b.script));
    out
}

/// Gives entry `entry` of `script`'s record the undo `undo` (a handover, see
/// [`crate::plan::Handover`]).
pub fn take_over(script: &str, entry: usize, undo: Vec<Action>) -> Result<(), StateError> {
    let path = Path::new(script);
    let Some(mut record) = load(path)? else { return Ok(()) };
    if let Some(e) = record.owned.get_mut(entry) {
        e.undo = undo;
    }
    save(path, &record)
}
