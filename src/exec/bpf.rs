//! eBPF programs: loading them, attaching them to interfaces (tc clsact + cls_bpf in
//! direct-action mode, and XDP), detaching them, and reading back what is attached.
//!
//! ## Why aya for loading, and netlink for attaching
//!
//! Loading an ELF object — maps, BTF, relocations, `BPF_PROG_LOAD` with the verifier log
//! — is done by [aya](https://aya-rs.dev) 0.14 (pure Rust, no libbpf/C toolchain at run
//! time; 0.14 is the newest release that builds with the rustc of this project, newer
//! ones need 1.98). The checker parses objects with aya's own parser (`aya_obj`), so what
//! passes `check` is what aya loads.
//!
//! Attaching is *not* done with aya's `SchedClassifier::attach`/`Xdp::attach`: those
//! attach from the calling thread's namespace by interface name, and return link handles
//! that detach the program when they (or the `Ebpf`) are dropped — attachments bound to
//! this process's lifetime. netscript's attachments must outlive the run, be undone by a
//! rollback inside the same transaction, and be removed by `down` from another process.
//! So the executor sends the attach itself, on the namespace's own rtnetlink connection
//! (the one every other operation of the transaction uses, with extended acks):
//!
//! * `bpf`: RTM_NEWTFILTER, kind `bpf`, on `ffff:fff2` (ingress) / `ffff:fff3` (egress)
//!   of the clsact qdisc, with `TCA_BPF_FD`, `TCA_BPF_NAME`, `TCA_BPF_FLAGS` =
//!   direct-action — what `tc filter add dev X ingress prio P bpf da obj F sec S` sends.
//!   The filter name carries the object's hash ([`bpf_filter_name`]): a later run reads
//!   it back from the filter dump to see whether the program is the one the script names.
//! * `xdp`: RTM_SETLINK with `IFLA_XDP` { fd, flags generic/native }, as `ip link set dev
//!   X xdp{generic,drv} obj F sec S`. The kernel keeps no name for an XDP attachment, so
//!   the executor writes a small label (`/run/netscript/bpf/ID.json`, by program id, which
//!   the kernel never reuses before a reboot, when /run is emptied too). Labels of
//!   programs the kernel no longer holds are pruned ([`prune_labels`]).
//!
//! Once attached, the kernel holds the program; the loader's descriptors are closed when
//! the operation ends. Detaching is a plain delete (RTM_DELTFILTER by priority, or
//! `IFLA_XDP` fd -1), from any process. A program being detached or replaced is kept
//! loaded (a descriptor by id) until the executor ends, so that a rollback can put it back.

use super::{ExecError, Inner, KernelError};
pub use super::error::LoadRefusal;
use crate::model::{BpfDirection, BpfProgram, XdpMode};
use crate::plan::action::{Action, BpfLabel, BpfSource, bpf_filter_name, parse_bpf_filter_name};
use crate::plan::observed::{AttachPoint, ObservedProgram};
use netlink_packet_route::RouteNetlinkMessage as M;
use netlink_packet_route::link::{LinkAttribute, LinkMessage, LinkXdp, XdpAttached};
use netlink_packet_route::tc::{TcAttribute, TcBpfFlags, TcFilterBpfOption, TcHandle, TcMessage, TcOption};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

/// `TC_H_MIN_INGRESS` / `TC_H_MIN_EGRESS` under `TC_H_CLSACT` (ffff:).
const CLSACT_INGRESS: u16 = 0xfff2;
const CLSACT_EGRESS: u16 = 0xfff3;
const ETH_P_ALL: u16 = 0x0003;
/// `XDP_FLAGS_SKB_MODE`, `XDP_FLAGS_DRV_MODE`.
const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
/// Lines of a verifier log shown in a diagnostic: its end, where the refusal is.
pub const VERIFIER_LOG_LINES: usize = 40;

/// A program loaded for attaching: its descriptor and id.
pub struct LoadedProgram {
    pub fd: OwnedFd,
    pub id: u32,
    /// The tc filter name to give it.
    pub name: String,
    pub label: Option<BpfLabel>,
}

/// The last `lines` lines of a verifier log, with a note of how many were left out.
pub fn trim_log(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.trim_end_matches(['\0', '\n', ' ']).lines().collect();
    if all.len() <= lines {
        return all.join("\n");
    }
    let mut out = format!("... ({} earlier lines of the log left out)\n", all.len() - lines);
    out.push_str(&all[all.len() - lines..].join("\n"));
    out
}

fn load_error(program: &str, error: aya::programs::ProgramError) -> ExecError {
    match error {
        aya::programs::ProgramError::LoadError { io_error, verifier_log } => ExecError::ProgramRefused(LoadRefusal {
            program: program.to_string(),
            error: {
                let mut k = KernelError::new(io_error.raw_os_error().unwrap_or(nix::libc::EINVAL), None);
                // BPF_PROG_LOAD's EACCES/EINVAL are the verifier's refusal, not missing privileges.
                if k.errno == nix::libc::EACCES || k.errno == nix::libc::EINVAL {
                    k.meaning = "the verifier refused it".into();
                }
                k
            },
            log: trim_log(&verifier_log.to_string(), VERIFIER_LOG_LINES),
        }),
        other => ExecError::Unsupported(format!("cannot load program `{program}`: {other}")),
    }
}

/// Loads `program` of the object at `path` (whose hash must still be the one checked).
fn load_object(path: &std::path::Path, program: &BpfProgram, xdp: bool) -> Result<LoadedProgram, ExecError> {
    let bytes = crate::bounded::read(path, crate::bounded::MAX_BPF_OBJECT_BYTES)
        .map_err(|e| ExecError::io(format!("cannot read {}", path.display()), &std::io::Error::from(e)))?;
    let hash = crate::model::content_hash(&bytes);
    if hash != program.hash {
        return Err(ExecError::InvalidPlan(format!(
            "{} changed since it was checked (hash {} now, {} then); run again",
            path.display(),
            hash,
            program.hash
        )));
    }
    let mut ebpf = aya::EbpfLoader::new()
        .verifier_log_level(aya::VerifierLogLevel::VERBOSE | aya::VerifierLogLevel::STATS)
        .load(&crate::check::bpf::aya_compatible(&bytes))
        .map_err(|e| ExecError::Unsupported(format!("cannot load {}: {e}", path.display())))?;
    let function = &program.function;
    let missing = || ExecError::Unsupported(format!("{} has no program `{function}`", path.display()));
    let prog = ebpf.program_mut(function).ok_or_else(missing)?;
    let fd = match (prog, xdp) {
        (aya::programs::Program::SchedClassifier(p), false) => {
            p.load().map_err(|e| load_error(function, e))?;
            p.fd().map_err(|e| load_error(function, e))?.as_fd().try_clone_to_owned()
        }
        (aya::programs::Program::Xdp(p), true) => {
            p.load().map_err(|e| load_error(function, e))?;
            p.fd().map_err(|e| load_error(function, e))?.as_fd().try_clone_to_owned()
        }
        _ => return Err(ExecError::Unsupported(format!("program `{function}` of {} is not of the expected type", path.display()))),
    }
    .map_err(|e| ExecError::io("cannot duplicate a program descriptor", &e))?;
    let id = info_by_fd(&fd)?.0;
    let name = bpf_filter_name(path, program);
    let label = parse_bpf_filter_name(&name);
    Ok(LoadedProgram { fd, id, name, label })
}

fn load(source: &BpfSource, xdp: bool) -> Result<LoadedProgram, ExecError> {
    match source {
        BpfSource::Object { path, program } => load_object(path, program, xdp),
        BpfSource::Loaded { id, name, again } => match fd_by_id(*id) {
            Ok(fd) => Ok(LoadedProgram { fd, id: *id, name: name.clone(), label: parse_bpf_filter_name(name) }),
            Err(e) if super::apply::means_gone(&e) => match again {
                Some(again) => load(again, xdp),
                None => Err(e),
            },
            Err(e) => Err(e),
        },
        BpfSource::Code { target, code, counters, program, .. } => super::bpf_raw::load_code(*target, code, *counters, program, xdp),
    }
}

fn bpf_syscall(cmd: nix::libc::c_long, attr: &mut [u8]) -> Result<i64, nix::errno::Errno> {
    // SAFETY: `attr` is a valid, writable `union bpf_attr` prefix of its length.
    let r = unsafe { nix::libc::syscall(nix::libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len() as u32) };
    if r < 0 { Err(nix::errno::Errno::last()) } else { Ok(r) }
}

/// A descriptor of the loaded program `id` (`BPF_PROG_GET_FD_BY_ID`).
pub fn fd_by_id(id: u32) -> Result<OwnedFd, ExecError> {
    const BPF_PROG_GET_FD_BY_ID: nix::libc::c_long = 13;
    let mut attr = [0u8; 12];
    attr[..4].copy_from_slice(&id.to_ne_bytes());
    let fd = bpf_syscall(BPF_PROG_GET_FD_BY_ID, &mut attr).map_err(|e| ExecError::os(format!("cannot find eBPF program {id}"), e))?;
    // SAFETY: the kernel just gave us this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// (id, name, tag) of a loaded program (`BPF_OBJ_GET_INFO_BY_FD`).
pub fn info_by_fd(fd: &OwnedFd) -> Result<(u32, String, String), ExecError> {
    const BPF_OBJ_GET_INFO_BY_FD: nix::libc::c_long = 15;
    // struct bpf_prog_info up to and including `name` (offset 64, 16 bytes).
    let mut info = [0u8; 80];
    let mut attr = [0u8; 16];
    attr[..4].copy_from_slice(&(fd.as_raw_fd() as u32).to_ne_bytes());
    attr[4..8].copy_from_slice(&(info.len() as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(info.as_mut_ptr() as u64).to_ne_bytes());
    bpf_syscall(BPF_OBJ_GET_INFO_BY_FD, &mut attr).map_err(|e| ExecError::os("cannot read an eBPF program's information", e))?;
    let id = u32::from_ne_bytes(info[4..8].try_into().unwrap());
    let tag: String = info[8..16].iter().map(|b| format!("{b:02x}")).collect();
    let name = String::from_utf8_lossy(info[64..80].split(|b| *b == 0).next().unwrap_or(&[])).into_owned();
    Ok((id, name, tag))
}

/// (name, tag) of the loaded program `id`, if it exists.
pub fn program_info(id: u32) -> Option<(String, String)> {
    let fd = fd_by_id(id).ok()?;
    info_by_fd(&fd).ok().map(|(_, name, tag)| (name, tag))
}

fn label_path(id: u32) -> PathBuf {
    crate::paths::run_dir().join("bpf").join(format!("{id}.json"))
}

/// Records what netscript attached as XDP program `id` (see the module doc).
fn write_label(id: u32, label: &BpfLabel) -> Result<(), ExecError> {
    prune_labels();
    let path = label_path(id);
    let dir = path.parent().expect("labels have a directory");
    std::fs::create_dir_all(dir).map_err(|e| ExecError::io(format!("cannot create {}", dir.display()), &e))?;
    let text = serde_json::to_vec(label).expect("labels serialize");
    std::fs::write(&path, text).map_err(|e| ExecError::io(format!("cannot write {}", path.display()), &e))
}

/// Removes the labels of XDP programs the kernel no longer holds (detached and freed:
/// their ids are never reused before a reboot). Best effort: a label left behind is
/// only a small file.
pub fn prune_labels() {
    let Ok(entries) = std::fs::read_dir(crate::paths::run_dir().join("bpf")) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let id = path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<u32>().ok());
        let (Some(id), Some("json")) = (id, path.extension().and_then(|e| e.to_str())) else { continue };
        if fd_by_id(id).err().and_then(|e| e.errno()) == Some(nix::libc::ENOENT) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

pub fn read_label(id: u32) -> Option<BpfLabel> {
    serde_json::from_slice(&std::fs::read(label_path(id)).ok()?).ok()
}

fn hook(direction: BpfDirection) -> TcHandle {
    TcHandle { major: 0xffff, minor: if direction == BpfDirection::Ingress { CLSACT_INGRESS } else { CLSACT_EGRESS } }
}

/// The handle of every filter netscript attaches (one a priority) unless the script
/// gives `handle N`.
const FILTER_HANDLE: u32 = crate::model::BPF_DEFAULT_HANDLE;

/// `tcm_info` of a filter: priority, and the EtherType in network order.
fn filter_info(prio: u16) -> u32 {
    ((prio as u32) << 16) | u16::from_ne_bytes(ETH_P_ALL.to_be_bytes()) as u32
}

/// `tc filter add dev X ingress|egress protocol all prio P handle H bpf direct-action fd
/// FD name N`, H 1 unless the script gives one. The handle is explicit, so that adding again where the filter is finds it
/// (EEXIST) instead of adding a second one under the kernel's next handle: the undo of a
/// detach that was journaled but never sent (a SIGKILL in between) finds it in place.
pub fn attach_filter_message(ifindex: u32, direction: BpfDirection, prio: u16, handle: Option<u32>, fd: i32, name: &str) -> TcMessage {
    let mut msg = TcMessage::with_index(ifindex as i32);
    msg.header.parent = hook(direction);
    msg.header.info = filter_info(prio);
    msg.header.handle = TcHandle::from(handle.unwrap_or(FILTER_HANDLE));
    msg.attributes.push(TcAttribute::Kind("bpf".into()));
    msg.attributes.push(TcAttribute::Options(vec![
        TcOption::Bpf(TcFilterBpfOption::ProgFd(fd as u32)),
        TcOption::Bpf(TcFilterBpfOption::ProgName(name.to_string())),
        TcOption::Bpf(TcFilterBpfOption::Flags(TcBpfFlags::DirectAction)),
    ]));
    msg
}

/// `tc filter del dev X ingress|egress protocol all prio P`.
pub fn detach_filter_message(ifindex: u32, direction: BpfDirection, prio: u16) -> TcMessage {
    let mut msg = TcMessage::with_index(ifindex as i32);
    msg.header.parent = hook(direction);
    msg.header.info = filter_info(prio);
    msg
}

/// RTM_SETLINK with `IFLA_XDP`: attach `fd` (or detach, with -1) in `mode`.
pub fn xdp_message(ifindex: u32, fd: i32, mode: Option<XdpMode>) -> LinkMessage {
    let flags = match mode {
        Some(XdpMode::Generic) => XDP_FLAGS_SKB_MODE,
        Some(XdpMode::Native) => XDP_FLAGS_DRV_MODE,
        None => 0,
    };
    let mut msg = LinkMessage::default();
    msg.header.index = ifindex;
    msg.attributes.push(LinkAttribute::Xdp(vec![LinkXdp::Fd(fd), LinkXdp::Flags(flags)]));
    msg
}

/// A cls_bpf filter from a dump: (prio, program id, name, direct-action, handle), the
/// handle `None` when it is netscript's default.
#[allow(clippy::type_complexity)]
pub fn decode_filter(msg: &TcMessage) -> Option<(u16, u32, String, bool, Option<u32>)> {
    let kind = msg.attributes.iter().find_map(|a| match a {
        TcAttribute::Kind(k) => Some(k.as_str()),
        _ => None,
    })?;
    if kind != "bpf" {
        return None;
    }
    let (mut id, mut name, mut direct) = (None, String::new(), false);
    for a in &msg.attributes {
        if let TcAttribute::Options(options) = a {
            for o in options {
                match o {
                    TcOption::Bpf(TcFilterBpfOption::ProgId(i)) => id = Some(*i),
                    TcOption::Bpf(TcFilterBpfOption::ProgName(n)) => name = n.clone(),
                    TcOption::Bpf(TcFilterBpfOption::Flags(f)) => direct = f.contains(TcBpfFlags::DirectAction),
                    _ => {}
                }
            }
        }
    }
    let handle = u32::from(msg.header.handle);
    Some(((msg.header.info >> 16) as u16, id?, name, direct, (handle != FILTER_HANDLE).then_some(handle)))
}

/// The XDP program of a dumped link: (mode, id).
pub fn decode_xdp(msg: &LinkMessage) -> Option<(XdpMode, u32)> {
    let nlas = msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::Xdp(x) => Some(x),
        _ => None,
    })?;
    let mut mode = None;
    let mut id = None;
    for n in nlas {
        match n {
            LinkXdp::Attached(XdpAttached::SocketBuffer) => mode = Some(XdpMode::Generic),
            LinkXdp::Attached(XdpAttached::Driver) => mode = Some(XdpMode::Native),
            LinkXdp::ProgId(i) => id = Some(*i),
            _ => {}
        }
    }
    Some((mode?, id?))
}

impl Inner {
    /// Keeps program `id` loaded until the executor ends (for a rollback to put it back).
    fn keep(&self, id: Option<u32>) {
        if let Some(fd) = id.and_then(|id| fd_by_id(id).ok()) {
            self.kept_programs.borrow_mut().push(fd);
        }
    }

    /// Before deleting a link, keeps the programs on it that the deletion's undo attaches
    /// again by id: they would go with the link, and a rollback would load the same code
    /// anew (another program, its counters at zero) instead of giving back the one there.
    pub(crate) fn keep_what_a_deletion_frees(&self, op: &crate::plan::Op) {
        if !matches!(op.action, Action::DeleteLink { .. }) {
            return;
        }
        for undo in &op.undo {
            if let Action::AttachBpf { program: BpfSource::Loaded { id, .. }, .. } | Action::AttachXdp { program: BpfSource::Loaded { id, .. }, .. } = undo {
                self.keep(Some(*id));
            }
        }
    }

    pub(crate) async fn bpf_action(&self, action: &Action) -> Result<(), ExecError> {
        use super::traffic::{TcRequest, send_tc_message};
        match action {
            Action::AttachBpf { ns, dev, direction, prio, handle, program } => {
                let conn = self.conn(ns).await?;
                let index = self.ifindex(ns, dev).await?;
                let loaded = load(program, false)?;
                let msg = attach_filter_message(index, *direction, *prio, *handle, loaded.fd.as_raw_fd(), &loaded.name);
                send_tc_message(&conn, TcRequest::AddFilter, msg).await
            }
            Action::DetachBpf { ns, dev, direction, prio, keep } => {
                let conn = self.conn(ns).await?;
                let index = self.ifindex(ns, dev).await?;
                self.keep(*keep);
                send_tc_message(&conn, TcRequest::DelFilter, detach_filter_message(index, *direction, *prio)).await
            }
            Action::AttachXdp { ns, dev, mode, program, keep } => {
                let conn = self.conn(ns).await?;
                let index = self.ifindex(ns, dev).await?;
                let loaded = load(program, true)?;
                self.keep(*keep);
                conn.request(M::SetLink(xdp_message(index, loaded.fd.as_raw_fd(), *mode)), 0).await?;
                // Loaded from an object or code (a program put back by id has its label
                // already; one loaded again because it was freed needs it anew).
                if let Some(label) = &loaded.label {
                    write_label(loaded.id, label)?;
                }
                Ok(())
            }
            Action::DetachXdp { ns, dev, mode, keep } => {
                let conn = self.conn(ns).await?;
                let index = self.ifindex(ns, dev).await?;
                self.keep(*keep);
                // Detach in the mode the program is attached in now: a record keeps the
                // undo of the first attach (its mode), and a later run may have moved the
                // program to another mode; a detach in the wrong mode leaves it attached.
                let mut query = LinkMessage::default();
                query.header.index = index;
                let replies = conn.request(M::GetLink(query), 0).await?;
                let attached = replies.iter().find_map(|m| match m {
                    M::NewLink(l) => Some(decode_xdp(l).map(|(mode, _)| mode)),
                    _ => None,
                });
                match attached {
                    Some(None) => Ok(()),
                    Some(Some(now)) => conn.request(M::SetLink(xdp_message(index, -1, Some(now))), 0).await.map(drop),
                    None => conn.request(M::SetLink(xdp_message(index, -1, *mode)), 0).await.map(drop),
                }
            }
            _ => Err(ExecError::InvalidPlan("not an eBPF action".into())),
        }
    }
}

/// Reads what is attached: XDP from the link dump, cls_bpf filters from the clsact hooks
/// of `clsact_devices` (name, index).
pub(crate) fn observe_programs(
    socket: &mut super::conn::DumpSocket,
    links: &[(String, &LinkMessage)],
    clsact_devices: &[(String, u32)],
) -> Result<Vec<ObservedProgram>, ExecError> {
    let mut out = Vec::new();
    for (dev, link) in links {
        if let Some((mode, id)) = decode_xdp(link) {
            out.push(ObservedProgram { dev: dev.clone(), attach: AttachPoint::Xdp { mode }, id, name: String::new(), direct_action: true, label: read_label(id), handle: None });
        }
    }
    for (dev, index) in clsact_devices {
        for direction in [BpfDirection::Ingress, BpfDirection::Egress] {
            let mut found: Vec<ObservedProgram> = Vec::new();
            for m in socket.dump(super::traffic::dump_filters_message(*index, hook(direction)))? {
                let M::NewTrafficFilter(f) = &m else { continue };
                let Some((prio, id, name, direct_action, handle)) = decode_filter(f) else { continue };
                // The kernel dumps a filter chain's head without options, then each filter.
                if found.iter().any(|p| p.id == id && p.attach == AttachPoint::Tc { direction, prio }) {
                    continue;
                }
                let label = parse_bpf_filter_name(&name);
                found.push(ObservedProgram { dev: dev.clone(), attach: AttachPoint::Tc { direction, prio }, id, name, direct_action, label, handle });
            }
            out.extend(found);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_keep_their_end() {
        let log: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        let t = trim_log(&log, 3);
        assert_eq!(t, "... (97 earlier lines of the log left out)\nline 98\nline 99\nline 100");
        assert_eq!(trim_log("a\nb\n\0", 3), "a\nb");
    }

    #[test]
    fn filter_messages_sit_on_the_clsact_hooks() {
        let m = attach_filter_message(7, BpfDirection::Egress, 2, None, 9, "netscript:x");
        assert_eq!(m.header.parent, TcHandle { major: 0xffff, minor: 0xfff3 });
        assert_eq!(m.header.info >> 16, 2);
        assert_eq!(m.header.handle, TcHandle { major: 0, minor: 1 });
        assert_eq!((m.header.info & 0xffff) as u16, u16::from_ne_bytes([0x00, 0x03]));
        let (prio, id, name, da, handle) = {
            let mut dumped = m.clone();
            if let Some(TcAttribute::Options(o)) = dumped.attributes.last_mut() {
                o.push(TcOption::Bpf(TcFilterBpfOption::ProgId(42)));
            }
            decode_filter(&dumped).unwrap()
        };
        assert_eq!((prio, id, name.as_str(), da, handle), (2, 42, "netscript:x", true, None));
        // `handle 7`: tc's plain number, in tcm_handle, read back as given.
        let mut m = attach_filter_message(7, BpfDirection::Ingress, 3, Some(7), 9, "netscript:x");
        assert_eq!(m.header.handle, TcHandle { major: 0, minor: 7 });
        if let Some(TcAttribute::Options(o)) = m.attributes.last_mut() {
            o.push(TcOption::Bpf(TcFilterBpfOption::ProgId(42)));
        }
        assert_eq!(decode_filter(&m).unwrap().4, Some(7));
    }
}
