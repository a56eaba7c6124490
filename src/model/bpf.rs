//! eBPF programs attached to interfaces (tc `bpf`, `xdp`).

use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BpfDirection {
    Ingress,
    Egress,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BpfAttach {
    pub direction: BpfDirection,
    /// Resolved against the directory of the script that names it.
    pub path: PathBuf,
    pub section: Option<String>,
    /// The program the checker found in the object; `None` when it could not (and said so).
    pub program: Option<BpfProgram>,
    /// `bpf ingress|egress < rules >`: the rules netscript compiles (no object; `path`
    /// empty, `program` `None`).
    pub rules: Option<Vec<super::FwRule>>,
    /// tc's `prio`, when given; otherwise the statement's position on its hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prio: Option<crate::source::Spanned<u16>>,
    /// tc's `handle`, when given and not netscript's default, [`BPF_DEFAULT_HANDLE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<u32>,
}

/// The handle netscript gives a cls_bpf filter when the script names none.
pub const BPF_DEFAULT_HANDLE: u32 = 1;

impl BpfAttach {
    /// The tc priority of the `index`th (from 0) `bpf` statement of its hook: its `prio`,
    /// or its position counted from 1.
    pub fn prio_at(&self, index: usize) -> u16 {
        self.prio.as_ref().map_or((index + 1).min(u16::MAX as usize) as u16, |p| p.node)
    }
}

/// One program of an eBPF object file, as the checker found it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BpfProgram {
    /// The ELF section holding it (`classifier`, `xdp`, ...).
    pub section: String,
    /// Its function (symbol) name, which is how the loader finds it.
    pub function: String,
    /// The object file's content hash (16 hex digits of its SHA-256): a changed file is
    /// a changed program.
    pub hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum XdpMode {
    Generic,
    Native,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct XdpAttach {
    pub path: PathBuf,
    pub section: Option<String>,
    pub mode: Option<XdpMode>,
    /// See [`BpfAttach::program`].
    pub program: Option<BpfProgram>,
    /// See [`BpfAttach::rules`].
    pub rules: Option<Vec<super::FwRule>>,
}

/// The first 16 hex digits of the SHA-256 of `bytes`: an object file's identity, from the
/// check (which reads it) to the load (which must find the same bytes).
pub fn content_hash(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(bytes);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
