//! Programs netscript compiled itself ([`crate::plan::bpfgen`]), loaded with raw `bpf(2)`
//! calls: `BPF_MAP_CREATE` for the counter map, `BPF_PROG_LOAD` with the map's descriptor
//! patched into the instructions (on a refusal, loaded again with the verifier log on, the
//! log going into the diagnostic), `BPF_PROG_TEST_RUN` to run a program on a packet (the
//! property test and the benchmark), and reading the counters back.

use super::ExecError;
use super::KernelError;
use super::error::LoadRefusal;
use crate::plan::bpfgen::{Compiled, Target, insn};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const BPF_MAP_CREATE: nix::libc::c_long = 0;
const BPF_MAP_LOOKUP_ELEM: nix::libc::c_long = 1;
const BPF_PROG_LOAD: nix::libc::c_long = 5;
const BPF_PROG_TEST_RUN: nix::libc::c_long = 10;
const BPF_MAP_TYPE_ARRAY: u32 = 2;
/// The verifier log's buffer on the second try (the kernel's own limit is 16 MiB).
const LOG_BYTES: usize = 1 << 20;

fn sys(cmd: nix::libc::c_long, attr: &mut [u8]) -> Result<i64, nix::errno::Errno> {
    // SAFETY: `attr` is a valid, writable `union bpf_attr` prefix of its length; the
    // pointers written into it point at buffers that outlive the call.
    let r = unsafe { nix::libc::syscall(nix::libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len() as u32) };
    if r < 0 { Err(nix::errno::Errno::last()) } else { Ok(r) }
}

fn put(attr: &mut [u8], at: usize, bytes: &[u8]) {
    attr[at..at + bytes.len()].copy_from_slice(bytes);
}

/// A loaded compiled program and its counter map (if any rule counts).
pub struct LoadedRules {
    pub prog: OwnedFd,
    pub map: Option<OwnedFd>,
}

fn name_bytes(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (o, c) in out.iter_mut().zip(name.bytes().filter(|c| c.is_ascii_alphanumeric() || *c == b'_').take(15)) {
        *o = c;
    }
    out
}

/// An array map of `entries` u64 counters.
fn create_counters(entries: u32, name: &str) -> Result<OwnedFd, ExecError> {
    let mut attr = [0u8; 48];
    put(&mut attr, 0, &BPF_MAP_TYPE_ARRAY.to_ne_bytes());
    put(&mut attr, 4, &4u32.to_ne_bytes());
    put(&mut attr, 8, &8u32.to_ne_bytes());
    put(&mut attr, 12, &entries.to_ne_bytes());
    put(&mut attr, 28, &name_bytes(name));
    let fd = sys(BPF_MAP_CREATE, &mut attr).map_err(|e| ExecError::os("cannot create the counter map of a compiled eBPF program", e))?;
    // SAFETY: the kernel just gave us this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn prog_load(target: Target, code: &[u8], name: &str, log: Option<&mut Vec<u8>>) -> Result<OwnedFd, nix::errno::Errno> {
    let license = b"GPL\0";
    let mut attr = [0u8; 72];
    put(&mut attr, 0, &target.prog_type().to_ne_bytes());
    put(&mut attr, 4, &((code.len() / 8) as u32).to_ne_bytes());
    put(&mut attr, 8, &(code.as_ptr() as u64).to_ne_bytes());
    put(&mut attr, 16, &(license.as_ptr() as u64).to_ne_bytes());
    if let Some(log) = log {
        put(&mut attr, 24, &1u32.to_ne_bytes());
        put(&mut attr, 28, &(log.len() as u32).to_ne_bytes());
        put(&mut attr, 32, &(log.as_mut_ptr() as u64).to_ne_bytes());
    }
    put(&mut attr, 48, &name_bytes(name));
    let fd = sys(BPF_PROG_LOAD, &mut attr)?;
    // SAFETY: the kernel just gave us this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Loads `compiled` (creating its counter map first). A refusal carries the verifier's
/// log (its end, [`super::bpf::VERIFIER_LOG_LINES`] lines).
pub fn load_compiled(compiled: &Compiled, name: &str) -> Result<LoadedRules, ExecError> {
    let map = if compiled.counters > 0 { Some(create_counters(compiled.counters, name)?) } else { None };
    let mut insns = compiled.insns.clone();
    if let Some(map) = &map {
        for i in insns.iter_mut().filter(|i| i.code == insn::LDDW && i.src == insn::PSEUDO_MAP_FD) {
            i.imm = map.as_raw_fd();
        }
    }
    let code = insn::encode(&insns);
    match prog_load(compiled.target, &code, name, None) {
        Ok(prog) => Ok(LoadedRules { prog, map }),
        Err(first) => {
            let mut log = vec![0u8; LOG_BYTES];
            let again = prog_load(compiled.target, &code, name, Some(&mut log));
            let errno = again.as_ref().err().copied().unwrap_or(first) as i32;
            let text = String::from_utf8_lossy(log.split(|b| *b == 0).next().unwrap_or(&[])).into_owned();
            let mut error = KernelError::new(errno, None);
            if errno == nix::libc::EACCES || errno == nix::libc::EINVAL {
                error.meaning = "the verifier refused it".into();
            }
            Err(ExecError::ProgramRefused(LoadRefusal { program: name.to_string(), error, log: super::bpf::trim_log(&text, super::bpf::VERIFIER_LOG_LINES) }))
        }
    }
}

/// What one `BPF_PROG_TEST_RUN` gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRun {
    pub retval: u32,
    /// Mean nanoseconds per run (the kernel's figure, for `repeat` runs).
    pub duration_ns: u32,
    /// tc: `skb->mark` and `skb->priority` after the run.
    pub mark: u32,
    pub priority: u32,
}

/// `sizeof(struct __sk_buff)` as passed for the context (fields past the kernel's own
/// size are zero, which it accepts).
const SKB_CTX: usize = 192;

/// Runs `prog` (of `target`) on the frame `packet` `repeat` times; for tc, with
/// `skb->mark` = `mark` going in.
pub fn test_run(prog: &OwnedFd, target: Target, packet: &[u8], mark: u32, repeat: u32) -> Result<TestRun, ExecError> {
    let mut out = vec![0u8; packet.len() + 256];
    let mut ctx_in = [0u8; SKB_CTX];
    let mut ctx_out = [0u8; SKB_CTX];
    put(&mut ctx_in, crate::plan::bpfgen::SKB_MARK as usize, &mark.to_ne_bytes());
    let mut attr = [0u8; 80];
    put(&mut attr, 0, &(prog.as_raw_fd() as u32).to_ne_bytes());
    put(&mut attr, 8, &(packet.len() as u32).to_ne_bytes());
    put(&mut attr, 12, &(out.len() as u32).to_ne_bytes());
    put(&mut attr, 16, &(packet.as_ptr() as u64).to_ne_bytes());
    put(&mut attr, 24, &(out.as_mut_ptr() as u64).to_ne_bytes());
    put(&mut attr, 32, &repeat.to_ne_bytes());
    if target == Target::Tc {
        put(&mut attr, 40, &(SKB_CTX as u32).to_ne_bytes());
        put(&mut attr, 44, &(SKB_CTX as u32).to_ne_bytes());
        put(&mut attr, 48, &(ctx_in.as_ptr() as u64).to_ne_bytes());
        put(&mut attr, 56, &(ctx_out.as_mut_ptr() as u64).to_ne_bytes());
    }
    sys(BPF_PROG_TEST_RUN, &mut attr).map_err(|e| ExecError::os("BPF_PROG_TEST_RUN", e))?;
    let u32_at = |b: &[u8], at: usize| u32::from_ne_bytes(b[at..at + 4].try_into().unwrap());
    Ok(TestRun {
        retval: u32_at(&attr, 4),
        duration_ns: u32_at(&attr, 36),
        mark: u32_at(&ctx_out, crate::plan::bpfgen::SKB_MARK as usize),
        priority: u32_at(&ctx_out, crate::plan::bpfgen::SKB_PRIORITY as usize),
    })
}

/// The counters of a compiled program's map, one per rule.
pub fn read_counters(map: &OwnedFd, entries: u32) -> Result<Vec<u64>, ExecError> {
    (0..entries)
        .map(|key| {
            let mut value = 0u64;
            let mut attr = [0u8; 32];
            put(&mut attr, 0, &(map.as_raw_fd() as u32).to_ne_bytes());
            put(&mut attr, 8, &(&key as *const u32 as u64).to_ne_bytes());
            put(&mut attr, 16, &(&mut value as *mut u64 as u64).to_ne_bytes());
            sys(BPF_MAP_LOOKUP_ELEM, &mut attr).map_err(|e| ExecError::os("cannot read a rule counter", e))?;
            Ok(value)
        })
        .collect()
}

/// Loads the instructions of a planned [`crate::plan::action::BpfSource::Code`] for
/// attaching (`xdp`: the statement's kind, which must be the code's).
pub fn load_code(target: Target, code: &str, counters: u32, program: &crate::model::BpfProgram, xdp: bool) -> Result<super::bpf::LoadedProgram, ExecError> {
    if xdp != (target == Target::Xdp) {
        return Err(ExecError::InvalidPlan("compiled code of the other program type".into()));
    }
    let bytes: Option<Vec<u8>> = (0..code.len() / 2).map(|i| code.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
    let bytes = bytes.ok_or_else(|| ExecError::InvalidPlan("compiled code is not hex".into()))?;
    let compiled = Compiled { target, insns: insn::decode(&bytes), counters };
    if compiled.hash() != program.hash {
        return Err(ExecError::InvalidPlan("compiled code does not match its hash".into()));
    }
    let loaded = load_compiled(&compiled, &program.function)?;
    let id = super::bpf::info_by_fd(&loaded.prog)?.0;
    let name = crate::plan::action::bpf_filter_name(std::path::Path::new(""), program);
    let label = crate::plan::action::parse_bpf_filter_name(&name);
    Ok(super::bpf::LoadedProgram { fd: loaded.prog, id, name, label })
}

/// The rule counters of the attached compiled program `id` (its one array map), if it
/// has any: what `show --stats` prints next to each rule.
pub fn counters_of_program(id: u32) -> Option<Vec<u64>> {
    const BPF_MAP_GET_FD_BY_ID: nix::libc::c_long = 14;
    const BPF_OBJ_GET_INFO_BY_FD: nix::libc::c_long = 15;
    let prog = super::bpf::fd_by_id(id).ok()?;
    let mut map_id = 0u32;
    let mut info = [0u8; 80];
    put(&mut info, 52, &1u32.to_ne_bytes());
    put(&mut info, 56, &(&mut map_id as *mut u32 as u64).to_ne_bytes());
    let mut attr = [0u8; 16];
    put(&mut attr, 0, &(prog.as_raw_fd() as u32).to_ne_bytes());
    put(&mut attr, 4, &(info.len() as u32).to_ne_bytes());
    put(&mut attr, 8, &(info.as_mut_ptr() as u64).to_ne_bytes());
    sys(BPF_OBJ_GET_INFO_BY_FD, &mut attr).ok()?;
    if u32::from_ne_bytes(info[52..56].try_into().unwrap()) == 0 {
        return None;
    }
    let mut attr = [0u8; 12];
    put(&mut attr, 0, &map_id.to_ne_bytes());
    // SAFETY: the kernel gives us this descriptor.
    let map = unsafe { OwnedFd::from_raw_fd(sys(BPF_MAP_GET_FD_BY_ID, &mut attr).ok()? as i32) };
    let mut minfo = [0u8; 40];
    let mut attr = [0u8; 16];
    put(&mut attr, 0, &(map.as_raw_fd() as u32).to_ne_bytes());
    put(&mut attr, 4, &(minfo.len() as u32).to_ne_bytes());
    put(&mut attr, 8, &(minfo.as_mut_ptr() as u64).to_ne_bytes());
    sys(BPF_OBJ_GET_INFO_BY_FD, &mut attr).ok()?;
    let (value_size, entries) = (u32::from_ne_bytes(minfo[12..16].try_into().unwrap()), u32::from_ne_bytes(minfo[16..20].try_into().unwrap()));
    if value_size != 8 {
        return None;
    }
    read_counters(&map, entries).ok()
}
