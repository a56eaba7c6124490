//! nftables' netlink encoding (NETLINK_NETFILTER, subsystem NFNL_SUBSYS_NFTABLES), the
//! part netscript needs: attributes, messages, batches, and a blocking socket made in
//! the calling thread's namespace. Constants are the kernel's
//! (include/uapi/linux/netfilter/nf_tables.h, nfnetlink.h).

use crate::exec::error::{ExecError, KernelError};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};
use std::os::fd::AsRawFd;

pub const NFNL_SUBSYS_NFTABLES: u16 = 10;
pub const NFNL_MSG_BATCH_BEGIN: u16 = 16;
pub const NFNL_MSG_BATCH_END: u16 = 17;

pub const NFT_MSG_NEWTABLE: u16 = 0;
pub const NFT_MSG_GETTABLE: u16 = 1;
pub const NFT_MSG_DELTABLE: u16 = 2;
pub const NFT_MSG_NEWCHAIN: u16 = 3;
pub const NFT_MSG_GETCHAIN: u16 = 4;
pub const NFT_MSG_NEWRULE: u16 = 6;
pub const NFT_MSG_GETRULE: u16 = 7;
pub const NFT_MSG_GETSET: u16 = 10;
pub const NFT_MSG_GETGEN: u16 = 16;
pub const NFT_MSG_GETOBJ: u16 = 19;

pub const NFPROTO_UNSPEC: u8 = 0;
pub const NFPROTO_INET: u8 = 1;
pub const NFPROTO_IPV4: u32 = 2;
pub const NFPROTO_IPV6: u32 = 10;

const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLA_F_NESTED: u16 = 0x8000;
const NLMSG_HDRLEN: usize = 16;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Netlink attributes being written (a message body, or a nest's).
#[derive(Default, Clone)]
pub struct Attrs {
    pub bytes: Vec<u8>,
}

impl Attrs {
    pub fn new() -> Self {
        Attrs::default()
    }
    pub fn raw(&mut self, kind: u16, value: &[u8]) -> &mut Self {
        let len = 4 + value.len();
        self.bytes.extend_from_slice(&(len as u16).to_ne_bytes());
        self.bytes.extend_from_slice(&kind.to_ne_bytes());
        self.bytes.extend_from_slice(value);
        self.bytes.resize(align4(self.bytes.len()), 0);
        self
    }
    /// A string with its terminating NUL, as nftables reads names.
    pub fn str(&mut self, kind: u16, value: &str) -> &mut Self {
        let mut v = value.as_bytes().to_vec();
        v.push(0);
        self.raw(kind, &v)
    }
    /// nftables' 32-bit values are big-endian.
    pub fn be32(&mut self, kind: u16, value: u32) -> &mut Self {
        self.raw(kind, &value.to_be_bytes())
    }
    pub fn be64(&mut self, kind: u16, value: u64) -> &mut Self {
        self.raw(kind, &value.to_be_bytes())
    }
    pub fn nest(&mut self, kind: u16, inner: &Attrs) -> &mut Self {
        self.raw(kind | NLA_F_NESTED, &inner.bytes)
    }
    /// A nest whose content `build` writes in place (its length is filled in after).
    pub fn nest_with(&mut self, kind: u16, build: impl FnOnce(&mut Attrs)) -> &mut Self {
        self.nest_flagged(kind | NLA_F_NESTED, build)
    }
    /// [`Attrs::nest_with`] without the `NLA_F_NESTED` flag, as nf_tables itself writes
    /// the nests of expressions when it lists them (and reads either).
    pub fn nest_plain_with(&mut self, kind: u16, build: impl FnOnce(&mut Attrs)) -> &mut Self {
        self.nest_flagged(kind, build)
    }
    fn nest_flagged(&mut self, kind: u16, build: impl FnOnce(&mut Attrs)) -> &mut Self {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&[0, 0]);
        self.bytes.extend_from_slice(&kind.to_ne_bytes());
        build(self);
        let len = self.bytes.len() - start;
        self.bytes[start..start + 2].copy_from_slice(&(len as u16).to_ne_bytes());
        self
    }
}

/// Reads attributes: (type without flags, value).
pub fn parse_attrs(mut bytes: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while bytes.len() >= 4 {
        let len = u16::from_ne_bytes([bytes[0], bytes[1]]) as usize;
        let kind = u16::from_ne_bytes([bytes[2], bytes[3]]) & 0x3fff;
        if len < 4 || len > bytes.len() {
            break;
        }
        out.push((kind, &bytes[4..len]));
        bytes = bytes.get(align4(len)..).unwrap_or(&[]);
    }
    out
}

pub fn attr<'a>(attrs: &[(u16, &'a [u8])], kind: u16) -> Option<&'a [u8]> {
    attrs.iter().find(|(k, _)| *k == kind).map(|(_, v)| *v)
}

/// Whether attribute `kind` is the string `value` (with or without its NUL).
pub fn attr_is(attrs: &[(u16, &[u8])], kind: u16, value: &str) -> bool {
    attr(attrs, kind).is_some_and(|v| v.strip_suffix(&[0]).unwrap_or(v) == value.as_bytes())
}

pub fn attr_str(attrs: &[(u16, &[u8])], kind: u16) -> Option<String> {
    let v = attr(attrs, kind)?;
    let v = v.split(|b| *b == 0).next().unwrap_or(&[]);
    Some(String::from_utf8_lossy(v).into_owned())
}

pub fn attr_be32(attrs: &[(u16, &[u8])], kind: u16) -> Option<u32> {
    Some(u32::from_be_bytes(attr(attrs, kind)?.get(..4)?.try_into().ok()?))
}

pub fn attr_be64(attrs: &[(u16, &[u8])], kind: u16) -> Option<u64> {
    Some(u64::from_be_bytes(attr(attrs, kind)?.get(..8)?.try_into().ok()?))
}

/// One netlink message: header, nfgenmsg, attributes.
fn message(out: &mut Vec<u8>, kind: u16, flags: u16, seq: u32, family: u8, res_id: u16, attrs: &Attrs) {
    let start = message_start(out, kind, flags, seq, family, res_id);
    out.extend_from_slice(&attrs.bytes);
    message_end(out, start);
}

/// Writes a message's header and nfgenmsg (its length still 0); returns where it starts.
fn message_start(out: &mut Vec<u8>, kind: u16, flags: u16, seq: u32, family: u8, res_id: u16) -> usize {
    let start = out.len();
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.push(family);
    out.push(0); // NFNETLINK_V0
    out.extend_from_slice(&res_id.to_be_bytes());
    start
}

/// Fills in the length of the message that starts at `start` and pads it.
fn message_end(out: &mut Vec<u8>, start: usize) {
    let len = out.len() - start;
    out[start..start + 4].copy_from_slice(&(len as u32).to_ne_bytes());
    out.resize(align4(out.len()), 0);
}

/// nftables messages to send as one transaction: the kernel applies all or none.
pub struct Batch {
    bytes: Vec<u8>,
    seq: u32,
    /// What each message was, by sequence number, for errors.
    what: Vec<(u32, String)>,
}

impl Batch {
    pub fn new() -> Batch {
        let mut b = Batch { bytes: Vec::new(), seq: 1, what: Vec::new() };
        message(&mut b.bytes, NFNL_MSG_BATCH_BEGIN, 0, b.seq, NFPROTO_UNSPEC, NFNL_SUBSYS_NFTABLES, &Attrs::new());
        b
    }
    pub fn add(&mut self, msg: u16, flags: u16, attrs: &Attrs, what: impl Into<String>) {
        self.seq += 1;
        self.what.push((self.seq, what.into()));
        message(&mut self.bytes, (NFNL_SUBSYS_NFTABLES << 8) | msg, flags, self.seq, NFPROTO_INET, 0, attrs);
    }
    /// A message whose attributes `build` writes in place, in the batch's own buffer;
    /// returns its sequence number. What it is, for errors, is told to
    /// [`NftSocket::send_batch`] by sequence number.
    pub fn add_with(&mut self, msg: u16, flags: u16, build: impl FnOnce(&mut Attrs)) -> u32 {
        self.seq += 1;
        let start = message_start(&mut self.bytes, (NFNL_SUBSYS_NFTABLES << 8) | msg, flags, self.seq, NFPROTO_INET, 0);
        let mut a = Attrs { bytes: std::mem::take(&mut self.bytes) };
        build(&mut a);
        self.bytes = a.bytes;
        message_end(&mut self.bytes, start);
        self.seq
    }
    /// Room for about `bytes` more bytes of messages.
    pub fn reserve(&mut self, bytes: usize) {
        self.bytes.reserve(bytes);
    }
    fn finish(mut self) -> (Vec<u8>, Vec<(u32, String)>, u32) {
        self.seq += 1;
        let end = self.seq;
        message(&mut self.bytes, NFNL_MSG_BATCH_END, 0, end, NFPROTO_UNSPEC, NFNL_SUBSYS_NFTABLES, &Attrs::new());
        (self.bytes, self.what, end)
    }
}

/// A NETLINK_NETFILTER socket made in the calling thread's namespace (a socket stays
/// with the namespace it was made in).
pub struct NftSocket {
    socket: Socket,
    seq: u32,
}

const RECV_BUFFER: usize = 1 << 20;

fn set_buffer(socket: &Socket, option: i32, size: usize) {
    let size = size.min(i32::MAX as usize) as nix::libc::c_int;
    // SAFETY: a plain setsockopt with an int argument on a socket we own.
    unsafe {
        nix::libc::setsockopt(
            socket.as_raw_fd(),
            nix::libc::SOL_SOCKET,
            option,
            (&size as *const nix::libc::c_int).cast(),
            std::mem::size_of::<nix::libc::c_int>() as nix::libc::socklen_t,
        );
    }
}

impl NftSocket {
    pub fn in_current_namespace() -> Result<NftSocket, ExecError> {
        let mut socket = Socket::new(NETLINK_NETFILTER).map_err(|e| ExecError::io("cannot open a netfilter netlink socket", &e))?;
        socket.bind_auto().map_err(|e| ExecError::io("cannot bind a netfilter netlink socket", &e))?;
        let _ = socket.set_ext_ack(true);
        let _ = socket.set_cap_ack(true);
        // Best effort, as root: room for a dump's datagrams and a batch's errors.
        set_buffer(&socket, nix::libc::SO_RCVBUFFORCE, RECV_BUFFER);
        Ok(NftSocket { socket, seq: 0 })
    }

    /// Sends `batch`; the kernel processes it before `sendmsg` returns, so its answers
    /// are all queued then: errors only (messages carry no ACK flag), one for each
    /// message refused, or one for the batch end if the commit failed.
    pub fn send_batch(&mut self, batch: Batch) -> Result<(), ExecError> {
        self.send_batch_labelled(batch, &|_| None)
    }

    /// [`NftSocket::send_batch`], where `label` names the messages added with
    /// [`Batch::add_with`] (by sequence number) for errors.
    pub fn send_batch_labelled(&mut self, batch: Batch, label: &dyn Fn(u32) -> Option<String>) -> Result<(), ExecError> {
        let (bytes, what, end) = batch.finish();
        // A batch is one datagram: make room for it (SO_SNDBUFFORCE, as nft does).
        set_buffer(&self.socket, nix::libc::SO_SNDBUFFORCE, bytes.len() + 4096);
        let sent = self.socket.send_to(&bytes, &SocketAddr::new(0, 0), 0).map_err(|e| ExecError::io("cannot send an nftables batch", &e))?;
        if sent != bytes.len() {
            return Err(ExecError::Protocol(format!("nftables batch: sent {sent} of {} bytes", bytes.len())));
        }
        let mut buffer = Vec::with_capacity(64 * 1024);
        let mut first_error: Option<ExecError> = None;
        loop {
            buffer.clear();
            match self.socket.recv(&mut buffer, nix::libc::MSG_DONTWAIT) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(ExecError::io("cannot read the kernel's answer to an nftables batch", &e)),
            }
            for (kind, _flags, seq, payload, hflags) in messages(&buffer) {
                if kind != NLMSG_ERROR || payload.len() < 4 {
                    continue;
                }
                let code = i32::from_ne_bytes(payload[0..4].try_into().expect("4 bytes"));
                if code == 0 || first_error.is_some() {
                    continue;
                }
                let mut k = KernelError::new(code, crate::exec::conn::extack_message(hflags, &payload[4..]));
                let what = what.iter().find(|(s, _)| *s == seq).map(|(_, w)| w.clone()).or_else(|| label(seq));
                let what = what.unwrap_or_else(|| if seq == end { "the commit of the batch".into() } else { "the batch".into() });
                k.meaning = format!("nftables refused {what}: {}", k.meaning);
                first_error = Some(ExecError::Kernel(k));
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every object a get request dumps (nfgenmsg family inet), as attribute bodies.
    pub fn dump(&mut self, msg: u16, attrs: &Attrs) -> Result<Vec<Vec<u8>>, ExecError> {
        let mut out = Vec::new();
        self.dump_each(msg, attrs, |body| out.push(body.to_vec()))?;
        Ok(out)
    }

    /// Every object a get request dumps, each one's attributes handed to `each` as it is
    /// read (nothing copied).
    pub fn dump_each(&mut self, msg: u16, attrs: &Attrs, each: impl FnMut(&[u8])) -> Result<(), ExecError> {
        self.request(msg, NLM_F_DUMP | NLM_F_ACK, attrs, each)
    }

    /// nftables' generation counter: the kernel bumps it on every commit that changes
    /// any table of the namespace.
    pub fn generation(&mut self) -> Result<u32, ExecError> {
        const NFTA_GEN_ID: u16 = 1;
        let mut id = None;
        self.request(NFT_MSG_GETGEN, NLM_F_ACK, &Attrs::new(), |body| id = attr_be32(&parse_attrs(body), NFTA_GEN_ID))?;
        id.ok_or_else(|| ExecError::Protocol("nftables answered a generation request without a generation".into()))
    }

    /// Sends one get request and hands each answer's attributes to `each`, up to the
    /// end of a dump or the acknowledgement.
    fn request(&mut self, msg: u16, flags: u16, attrs: &Attrs, mut each: impl FnMut(&[u8])) -> Result<(), ExecError> {
        self.seq = self.seq.wrapping_add(1);
        let mut bytes = Vec::new();
        message(&mut bytes, (NFNL_SUBSYS_NFTABLES << 8) | msg, flags, self.seq, NFPROTO_INET, 0, attrs);
        self.socket.send_to(&bytes, &SocketAddr::new(0, 0), 0).map_err(|e| ExecError::io("cannot send an nftables dump request", &e))?;
        let mut buffer = Vec::with_capacity(64 * 1024);
        loop {
            buffer.clear();
            self.socket.recv(&mut buffer, 0).map_err(|e| ExecError::io("cannot read an nftables dump", &e))?;
            for (kind, _flags, seq, payload, hflags) in messages(&buffer) {
                if seq != self.seq {
                    continue;
                }
                match kind {
                    NLMSG_DONE => return Ok(()),
                    NLMSG_ERROR => {
                        let code = payload.get(0..4).map(|c| i32::from_ne_bytes(c.try_into().expect("4 bytes"))).unwrap_or(0);
                        if code == 0 {
                            return Ok(());
                        }
                        return Err(ExecError::Kernel(KernelError::new(code, crate::exec::conn::extack_message(hflags, payload.get(4..).unwrap_or(&[])))));
                    }
                    _ => {
                        // A dump part, or a single answer (then the ack follows).
                        each(payload.get(4..).unwrap_or(&[]));
                    }
                }
            }
        }
    }
}

/// The messages of a datagram: (type, flags, sequence, payload after the header, flags).
fn messages(mut bytes: &[u8]) -> Vec<(u16, u16, u32, &[u8], u16)> {
    let mut out = Vec::new();
    while bytes.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes(bytes[0..4].try_into().expect("4 bytes")) as usize;
        if len < NLMSG_HDRLEN || len > bytes.len() {
            break;
        }
        let kind = u16::from_ne_bytes([bytes[4], bytes[5]]);
        let flags = u16::from_ne_bytes([bytes[6], bytes[7]]);
        let seq = u32::from_ne_bytes(bytes[8..12].try_into().expect("4 bytes"));
        out.push((kind, flags, seq, &bytes[NLMSG_HDRLEN..len], flags));
        bytes = bytes.get(align4(len)..).unwrap_or(&[]);
    }
    out
}
