//! Ownership: what each script created or changed, recorded under `/run/netscript/state/`
//! (a tmpfs: it goes away at reboot, together with the kernel state it describes).
//!
//! A record holds the undo actions of every operation a script's runs applied, in the
//! order they were applied. `down` runs them in reverse; a re-run of an edited script
//! runs those whose object the script no longer declares.

use crate::model::{Desired, Qdisc, HOST};
use crate::plan::action::{Action, ClassSpec, FilterSpec, QdiscParent};
use crate::plan::{ifb_name, route_spec, rule_spec};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const STATE_FORMAT: u32 = 1;

/// Where records live; `NETSCRIPT_RUN_DIR` moves it (tests, unprivileged tools).
pub fn run_dir() -> PathBuf {
    std::env::var_os("NETSCRIPT_RUN_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/run/netscript"))
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Record {
    pub format: u32,
    /// The script, as an absolute path.
    pub script: String,
    /// Undo actions, in the order their operations were applied.
    pub undo: Vec<Action>,
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

/// The record file of a script (by its absolute path).
pub fn record_path(script: &Path) -> PathBuf {
    let absolute = std::fs::canonicalize(script).unwrap_or_else(|_| script.to_path_buf());
    let text = absolute.to_string_lossy();
    // FNV-1a: stable across builds, unlike std's hasher.
    let hash = text.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
    let stem: String = absolute
        .file_stem()
        .map(|s| s.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).take(40).collect())
        .unwrap_or_default();
    run_dir().join("state").join(format!("{stem}-{hash:016x}.json"))
}

pub fn script_key(script: &Path) -> String {
    std::fs::canonicalize(script).unwrap_or_else(|_| script.to_path_buf()).to_string_lossy().into_owned()
}

pub fn load(script: &Path) -> Result<Option<Record>, StateError> {
    let path = record_path(script);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(StateError::Io { what: "read", path, error }),
    };
    let record: Record = match serde_json::from_str(&text) {
        Ok(record) => record,
        // A file this version cannot read may be from a newer one: then say so, rather
        // than call it damaged.
        Err(e) => {
            #[derive(serde::Deserialize)]
            struct Version {
                format: Option<u64>,
            }
            return Err(match serde_json::from_str::<Version>(&text) {
                Ok(Version { format: Some(found) }) if found > u64::from(STATE_FORMAT) => StateError::Newer { path, found: found.min(u64::from(u32::MAX)) as u32 },
                Ok(Version { format: None }) => StateError::Damaged { path, reason: "no format version".into() },
                _ => StateError::Damaged { path, reason: e.to_string() },
            });
        }
    };
    if record.format > STATE_FORMAT {
        return Err(StateError::Newer { path, found: record.format });
    }
    if record.script != script_key(script) {
        return Err(StateError::Damaged { path, reason: format!("it belongs to {}", record.script) });
    }
    Ok(Some(record))
}

/// Writes atomically: a temporary file, fsync, rename, fsync of the directory.
pub fn save(script: &Path, record: &Record) -> Result<(), StateError> {
    let path = record_path(script);
    let dir = path.parent().expect("record paths have a directory").to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|error| StateError::Io { what: "create", path: dir.clone(), error })?;
    if record.undo.is_empty() {
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
    let mut file = std::fs::File::create(&tmp).map_err(io("create", &tmp))?;
    let text = serde_json::to_vec_pretty(record).expect("records serialize");
    file.write_all(&text).map_err(io("write", &tmp))?;
    file.sync_all().map_err(io("sync", &tmp))?;
    std::fs::rename(&tmp, &path).map_err(io("rename", &path))?;
    std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(io("sync", &dir))?;
    Ok(())
}

/// Whether `desired` still declares the object that `undo` would remove or restore.
pub fn declares(desired: &Desired, undo: &Action) -> bool {
    let ns_of = |ns: &str| desired.namespaces.get(ns);
    let iface = |ns: &str, name: &str| ns_of(ns).and_then(|n| n.interfaces.get(name));
    match undo {
        Action::DeleteNetns { ns } => ns_of(ns).is_some_and(|n| n.name != HOST),
        Action::DeleteLink { ns, name } => {
            iface(ns, name).is_some_and(|i| i.is_created())
                || ns_of(ns).is_some_and(|n| n.interfaces.values().any(|i| i.ingress_shape.is_some() && ifb_name(&i.name) == *name))
        }
        Action::DelAddr { ns, dev, addr } => iface(ns, dev).is_some_and(|i| i.addrs.iter().any(|a| a.node == *addr)),
        Action::DelRoute { ns, route } => ns_of(ns).is_some_and(|n| n.routes.iter().any(|r| route_spec(r) == *route)),
        Action::DelRule { ns, rule } => ns_of(ns).is_some_and(|n| n.rules.iter().any(|r| rule_spec(r) == *rule)),
        Action::DelQdisc { ns, dev, parent } => match parent {
            QdiscParent::Root => iface(ns, dev).is_some_and(|i| i.root_qdisc.is_some())
                || ns_of(ns).is_some_and(|n| n.interfaces.values().any(|i| i.ingress_shape.is_some() && ifb_name(&i.name) == *dev)),
            QdiscParent::Ingress => iface(ns, dev).is_some_and(|i| i.ingress_shape.is_some()),
            QdiscParent::Clsact => iface(ns, dev).is_some_and(|i| !i.bpf.is_empty()),
        },
        Action::ReplaceQdisc { ns, dev, qdisc } => match qdisc.parent() {
            QdiscParent::Root => iface(ns, dev).is_some_and(|i| i.root_qdisc.as_ref().is_some_and(|q| matches!(q.node, Qdisc::Tbf(_) | Qdisc::Htb(_) | Qdisc::Netem(_)))),
            QdiscParent::Ingress => iface(ns, dev).is_some_and(|i| i.ingress_shape.is_some()),
            QdiscParent::Clsact => iface(ns, dev).is_some_and(|i| !i.bpf.is_empty()),
        },
        Action::DelClass { ns, dev, id } | Action::ReplaceClass { ns, dev, class: ClassSpec { id, .. } } => iface(ns, dev)
            .and_then(|i| i.root_qdisc.as_ref())
            .is_some_and(|q| matches!(&q.node, Qdisc::Htb(h) if h.classes.iter().any(|c| c.id.node == *id))),
        Action::DelFilter { ns, dev, filter: FilterSpec::MirredToIfb { .. } } => iface(ns, dev).is_some_and(|i| i.ingress_shape.is_some()),
        Action::DelFilter { ns, dev, .. } => iface(ns, dev).and_then(|i| i.root_qdisc.as_ref()).is_some_and(|q| matches!(q.node, Qdisc::Htb(_))),
        Action::SetSysctl { ns, key, .. } => ns_of(ns).is_some_and(|n| {
            n.sysctls.contains_key(key) || (n.forward.is_some() && (key == "net.ipv4.ip_forward" || key == "net.ipv6.conf.all.forwarding"))
        }),
        Action::SetLink { ns, name, .. } => iface(ns, name).is_some() || (name == "lo" && ns_of(ns).is_some()),
        Action::DetachBpf { ns, dev, direction, prio, .. } | Action::AttachBpf { ns, dev, direction, prio, .. } => {
            iface(ns, dev).is_some_and(|i| i.bpf.iter().filter(|b| b.node.direction == *direction).count() >= *prio as usize)
        }
        Action::DetachXdp { ns, dev, .. } | Action::AttachXdp { ns, dev, .. } => iface(ns, dev).is_some_and(|i| i.xdp.is_some()),
        // Forward actions never appear as undo.
        _ => true,
    }
}
