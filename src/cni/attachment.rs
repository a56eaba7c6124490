//! An attachment (network, container id, interface): where its files live and the
//! namespace it is in.
//!
//! Each attachment keeps netscript's run files — the ownership record, the journal, the
//! lock — in a directory of its own, `/run/netscript/cni/<network>-<container>-<ifname>-<hash>/`,
//! with `attachment.json` naming the attachment and its namespace. So ADDs of different
//! pods never wait for each other's lock, a crashed ADD's journal is recovered by the
//! next operation on the same attachment only, and no record of one pod's namespace is
//! read as another script's in another (every attachment's `host` is a different
//! namespace). `netscript status` and `recover` on the host do not look there.

use crate::exec::netns;
use serde::{Deserialize, Serialize};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The name the record of an attachment is kept under, inside its directory.
pub const RECORD: &str = "stdin:cni";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attachment {
    pub network: String,
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub ifname: String,
    /// The namespace path given at ADD, and its identity (its cookie, which the kernel
    /// never reuses; its inode where there is no cookie): a namespace at that path that
    /// is another one is not the one ADD changed.
    #[serde(default)]
    pub netns: String,
    #[serde(default)]
    pub netns_inode: Option<u64>,
    #[serde(default)]
    pub netns_cookie: Option<u64>,
}

/// Where every attachment's directory is.
pub fn root() -> PathBuf {
    crate::paths::base_run_dir().join("cni")
}

impl Attachment {
    /// Whether `self` and `other` name the same namespace (unknown: yes).
    pub fn same_namespace(&self, other: &Attachment) -> bool {
        match ((self.netns_cookie, other.netns_cookie), (self.netns_inode, other.netns_inode)) {
            ((Some(a), Some(b)), _) => a == b,
            (_, (Some(a), Some(b))) => a == b,
            _ => true,
        }
    }

    /// The attachment as `attachment.json` recorded it, if it did.
    pub fn recorded_as(&self) -> Option<Attachment> {
        crate::bounded::read_string(&self.dir().join("attachment.json"), 1 << 16).ok().and_then(|t| serde_json::from_str(&t).ok())
    }

    /// This attachment in the namespace `fd`, which the calling thread is in.
    pub fn in_namespace(&self, fd: &OwnedFd) -> Attachment {
        Attachment { netns_inode: netns::id_of(fd), netns_cookie: netns::current_cookie(), ..self.clone() }
    }

    pub fn dir(&self) -> PathBuf {
        let key = format!("{}\0{}\0{}", self.network, self.container_id, self.ifname);
        let hash = key.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
        let readable: String = format!("{}-{}-{}", self.network, self.container_id.chars().take(12).collect::<String>(), self.ifname)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
            .take(60)
            .collect();
        root().join(format!("{readable}-{hash:016x}"))
    }

    /// Makes this attachment's directory the process's run directory.
    pub fn enter_dir(&self) -> std::io::Result<()> {
        let dir = self.dir();
        crate::run::lock::secure_dir(&root())?;
        crate::run::lock::secure_dir(&dir)?;
        crate::paths::set_run_dir(Some(dir));
        Ok(())
    }

    pub fn save(&self) -> std::io::Result<()> {
        let path = self.dir().join("attachment.json");
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(self).expect("attachments serialize"))?;
        std::fs::rename(&tmp, &path)
    }

    /// Whether ADD recorded anything for this attachment.
    pub fn recorded(&self) -> bool {
        self.dir().join("attachment.json").exists() || self.dir().join("state").exists()
    }

    /// Forgets the attachment: its directory goes (record, journal, lock).
    pub fn forget(&self) -> std::io::Result<()> {
        crate::paths::set_run_dir(None);
        match std::fs::remove_dir_all(self.dir()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Every attachment recorded on this host (unreadable ones are left out).
pub fn all() -> Vec<Attachment> {
    let Ok(entries) = std::fs::read_dir(root()) else { return Vec::new() };
    let mut out: Vec<Attachment> = entries
        .flatten()
        .filter_map(|e| crate::bounded::read_string(&e.path().join("attachment.json"), 1 << 16).ok())
        .filter_map(|text| serde_json::from_str(&text).ok())
        .collect();
    out.sort_by(|a: &Attachment, b| (&a.network, &a.container_id, &a.ifname).cmp(&(&b.network, &b.container_id, &b.ifname)));
    out
}

/// Opens the namespace at `path`; `Ok(None)` when it is gone.
pub fn open_netns(path: &Path) -> Result<Option<OwnedFd>, String> {
    match netns::open_path(path) {
        Ok(fd) => Ok(Some(fd)),
        Err(crate::exec::ExecError::NoSuchNamespace(_)) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Moves this process's main thread (and every thread it starts from now on: the
/// executor's) into the namespace `fd`: from here, `host` is that namespace. Sysctls
/// follow: `/proc/sys/net` is resolved by the opening thread's network namespace.
pub fn enter_netns(fd: &OwnedFd) -> Result<(), String> {
    netns::enter(fd).map_err(|e| e.to_string())
}
