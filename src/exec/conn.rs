//! One rtnetlink connection per namespace. The socket is created by a thread that is in
//! the namespace (a socket stays bound to the namespace it was created in), then driven
//! on the executor's tokio runtime from anywhere. Requests are pipelined: many may be
//! outstanding on one socket, netlink-proto matches answers to requests by sequence number.
//! Reading state (dumps) goes through a [`DumpSocket`] instead: blocking, on the worker
//! thread that is in the namespace. Both read the kernel's answers with `read_answer`.

use super::error::{ExecError, KernelError};
use netlink_packet_core::{
    ErrorMessage, NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkHeader,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_proto::{ConnectionHandle, NetlinkCodec};
use netlink_sys::{Socket, SocketAddr, TokioSocket, protocols::NETLINK_ROUTE};
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Requests outstanding at once on one socket. Bounded so that the acks of a burst never
/// overflow the socket's receive buffer (which would lose them: ENOBUFS).
const MAX_IN_FLIGHT: usize = 64;
/// Socket receive buffer asked for (the kernel caps it at net.core.rmem_max).
const RECV_BUFFER: usize = 4 << 20;
/// A request the kernel has not answered by then is reported, not waited for forever.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// A netlink route socket made in the calling thread's namespace, with extended acks on
/// and acks capped (errors carry only the request's header, then the kernel's message).
pub fn socket_in_current_namespace() -> Result<Socket, ExecError> {
    let socket = Socket::new(NETLINK_ROUTE).map_err(|e| ExecError::io("cannot open a netlink socket", &e))?;
    socket.set_ext_ack(true).map_err(|e| ExecError::io("cannot enable netlink extended acks", &e))?;
    socket.set_cap_ack(true).map_err(|e| ExecError::io("cannot enable capped netlink acks", &e))?;
    // Best effort: a smaller buffer only bounds how much a dump may get ahead of us.
    let _ = socket.set_rx_buf_sz(RECV_BUFFER);
    Ok(socket)
}

/// A live connection to one namespace.
pub struct NsConn {
    pub name: String,
    /// The namespace itself: for `IFLA_NET_NS_FD` and for `setns` (sysctls).
    pub ns_fd: std::sync::Arc<OwnedFd>,
    handle: ConnectionHandle<RouteNetlinkMessage>,
    task: Option<tokio::task::JoinHandle<()>>,
    in_flight: Semaphore,
}

impl NsConn {
    /// Wraps a socket made in the namespace; must be called inside the tokio runtime.
    pub fn new(name: String, ns_fd: OwnedFd, socket: Socket) -> Result<NsConn, ExecError> {
        socket.set_non_blocking(true).map_err(|e| ExecError::io("cannot make the netlink socket non-blocking", &e))?;
        // SAFETY: the descriptor comes from a socket we own and give up here.
        let socket = unsafe { TokioSocket::from_raw_fd(socket.into_raw_fd()) };
        let (mut conn, handle, _unsolicited) =
            netlink_proto::from_socket_with_codec::<RouteNetlinkMessage, TokioSocket, NetlinkCodec>(socket);
        // Forward acks so that success is seen as an answer, not as a closed stream.
        conn.set_forward_ack(true);
        let task = tokio::spawn(conn);
        Ok(NsConn {
            name,
            ns_fd: std::sync::Arc::new(ns_fd),
            handle,
            task: Some(task),
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
        })
    }

    /// Stops the connection and closes its socket now (not when the runtime gets to it),
    /// so that a namespace being deleted is not kept alive by it.
    pub async fn close(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Sends a request that changes something and waits for the kernel's ack.
    /// Returns the messages the kernel sent before the ack (for `NLM_F_ECHO` or a get).
    /// (Dumps go through a [`DumpSocket`] on a worker thread.)
    pub async fn request(&self, message: RouteNetlinkMessage, flags: u16) -> Result<Vec<RouteNetlinkMessage>, ExecError> {
        use futures::StreamExt;
        let _permit = self.in_flight.acquire().await.map_err(|_| ExecError::Protocol("connection closed".into()))?;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        let mut request = NetlinkMessage::new(header, NetlinkPayload::from(message));
        request.finalize();
        let mut answers = self
            .handle
            .request(request, SocketAddr::new(0, 0))
            .map_err(|e| ExecError::Protocol(format!("namespace {}: cannot send: {e}", self.name)))?;
        let mut replies = Vec::new();
        let collect = async {
            while let Some(answer) = answers.next().await {
                match read_answer(&self.name, answer)? {
                    Answer::Reply(m) => replies.push(m),
                    Answer::End => return Ok(true),
                    Answer::Other => {}
                }
            }
            Ok::<_, ExecError>(false)
        };
        let acked = tokio::time::timeout(ANSWER_TIMEOUT, collect)
            .await
            .map_err(|_| ExecError::Protocol(format!("namespace {}: no answer from the kernel within {ANSWER_TIMEOUT:?}", self.name)))??;
        if !acked {
            return Err(ExecError::Protocol(format!("namespace {}: the kernel closed the exchange without an ack", self.name)));
        }
        Ok(replies)
    }
}

/// What one answer from the kernel means, to a request or to a dump.
enum Answer {
    /// An object: a reply to a get, an entry of a dump.
    Reply(RouteNetlinkMessage),
    /// The end: the ack of a request, or the end of a dump.
    End,
    /// Nothing to act on.
    Other,
}

fn read_answer(namespace: &str, answer: NetlinkMessage<RouteNetlinkMessage>) -> Result<Answer, ExecError> {
    let flags = answer.header.flags;
    match answer.payload {
        NetlinkPayload::InnerMessage(m) => Ok(Answer::Reply(m)),
        NetlinkPayload::Error(ErrorMessage { code: None, .. }) => Ok(Answer::End),
        NetlinkPayload::Error(e) => {
            let code = e.code.map(|c| c.get()).unwrap_or(0);
            Err(ExecError::Kernel(KernelError::new(code, extack_message(flags, &e.header))))
        }
        // A dump that failed part-way ends with the error code.
        NetlinkPayload::Done(done) if done.code < 0 => Err(ExecError::Kernel(KernelError::new(done.code, None))),
        NetlinkPayload::Done(_) => Ok(Answer::End),
        NetlinkPayload::Overrun(_) => Err(ExecError::Protocol(format!("namespace {namespace}: netlink overrun"))),
        _ => Ok(Answer::Other),
    }
}

const DUMP_INTERRUPTED: &str = "dump interrupted by a concurrent change";

/// Receive buffer of a [`DumpSocket`]: the kernel fills dump datagrams up to 32 KiB
/// (more only for a single larger object), as netlink-proto also assumes.
const DUMP_BUFFER: usize = 64 * 1024;
const NLMSG_HDRLEN: usize = 16;

/// A blocking route socket for reading one namespace from a worker thread: one dump at a
/// time, read to its end before the next. Reading the state needs no pipelining; this
/// way the kernel fills dumps and netscript parses them on the worker threads, in
/// parallel, with one buffer per socket instead of a tokio connection per namespace.
pub struct DumpSocket {
    namespace: String,
    socket: Socket,
    buffer: Vec<u8>,
    sequence: u32,
}

impl DumpSocket {
    /// A socket in the calling thread's namespace, named `namespace` in errors.
    pub fn in_current_namespace(namespace: &str) -> Result<DumpSocket, ExecError> {
        Ok(DumpSocket { namespace: namespace.to_string(), socket: socket_in_current_namespace()?, buffer: Vec::with_capacity(DUMP_BUFFER), sequence: 0 })
    }

    /// Every object of one kind (the message says which). Retries when the kernel
    /// reports that the dump was interrupted by a concurrent change.
    pub fn dump(&mut self, message: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>, ExecError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.dump_once(message.clone()) {
                Err(ExecError::Protocol(p)) if p == DUMP_INTERRUPTED && attempts < 5 => continue,
                result => return result,
            }
        }
    }

    fn protocol(&self, what: impl std::fmt::Display) -> ExecError {
        ExecError::Protocol(format!("namespace {}: {what}", self.namespace))
    }

    fn dump_once(&mut self, message: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>, ExecError> {
        self.sequence = self.sequence.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = self.sequence;
        let mut request = NetlinkMessage::new(header, NetlinkPayload::from(message));
        request.finalize();
        let mut bytes = vec![0; request.buffer_len()];
        request.serialize(&mut bytes);
        self.socket.send_to(&bytes, &SocketAddr::new(0, 0), 0).map_err(|e| self.protocol(format_args!("cannot send: {e}")))?;
        let mut replies = Vec::new();
        let mut interrupted = false;
        loop {
            self.buffer.clear();
            let received = self.socket.recv(&mut self.buffer, 0).map_err(|e| self.protocol(format_args!("cannot receive: {e}")))?;
            let mut rest = &self.buffer[..received];
            while rest.len() >= NLMSG_HDRLEN {
                let length = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
                if length < NLMSG_HDRLEN || length > rest.len() {
                    return Err(self.protocol(format_args!("a netlink message of {length} bytes does not fit the {} received", rest.len())));
                }
                let raw = &rest[..length];
                rest = rest.get(align4(length)..).unwrap_or(&[]);
                // Messages netlink-packet-route cannot decode are skipped, as netlink-proto
                // does; the end of a dump (done or error) always decodes.
                let Ok(answer) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(raw) else { continue };
                if answer.header.sequence_number != self.sequence {
                    continue;
                }
                if answer.header.flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match read_answer(&self.namespace, answer)? {
                    Answer::Reply(m) => replies.push(m),
                    Answer::End if interrupted => return Err(ExecError::Protocol(DUMP_INTERRUPTED.into())),
                    Answer::End => return Ok(replies),
                    Answer::Other => {}
                }
            }
        }
    }
}

impl Drop for NsConn {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The kernel's explanation in an error message: after the (capped) original request come
/// `NLMSGERR_ATTR_*` attributes; type 1 is the message text.
pub(crate) fn extack_message(flags: u16, payload: &[u8]) -> Option<String> {
    const NLMSGERR_ATTR_MSG: u16 = 1;
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let original_len = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        let len = u32::from_ne_bytes(payload.get(0..4)?.try_into().ok()?) as usize;
        len.max(NLMSG_HDRLEN)
    };
    let mut rest = payload.get(align4(original_len)..)?;
    while rest.len() >= 4 {
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return None;
        }
        if kind == NLMSGERR_ATTR_MSG {
            let text = &rest[4..len];
            let text = text.split(|b| *b == 0).next().unwrap_or(&[]);
            let text = String::from_utf8_lossy(text).trim().to_string();
            return (!text.is_empty()).then_some(text);
        }
        rest = rest.get(align4(len)..)?;
    }
    None
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extack_text_is_found_after_the_capped_header() {
        let mut payload = vec![0u8; 16];
        let msg = b"Nexthop has invalid gateway\0";
        let len = (4 + msg.len()) as u16;
        payload.extend_from_slice(&len.to_ne_bytes());
        payload.extend_from_slice(&1u16.to_ne_bytes());
        payload.extend_from_slice(msg);
        assert_eq!(
            extack_message(NLM_F_ACK_TLVS | NLM_F_CAPPED, &payload).as_deref(),
            Some("Nexthop has invalid gateway")
        );
        assert_eq!(extack_message(NLM_F_CAPPED, &payload), None);
        // Truncated input never panics.
        assert_eq!(extack_message(NLM_F_ACK_TLVS | NLM_F_CAPPED, &payload[..18]), None);
    }
}
