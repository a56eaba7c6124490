//! Expectations checked against the live network: an ICMP echo, or a TCP connect when a
//! port is given, sent from inside a namespace, and the route the kernel chose there.
//!
//! Every expectation runs on its own thread, which `setns`es into the namespace and then
//! opens its sockets there (a socket belongs to the namespace it was created in); all
//! expectations run at once, each bounded by its `within` (default
//! [`EXPECT_DEFAULT_WITHIN`]).
//!
//! ICMP: an unprivileged datagram ICMP socket (`socket(AF_INET, SOCK_DGRAM,
//! IPPROTO_ICMP)`) when the namespace's `net.ipv4.ping_group_range` admits us, else a raw
//! ICMP socket (root). The namespace's sysctls are never changed: probing changes
//! nothing. The socket is connected to the target (so only its packets come back) and
//! has `IP_RECVERR`/`IPV6_RECVERR` on (so ICMP errors — destination unreachable — come
//! back as socket errors). An echo request goes out every [`RESEND`] until a reply comes
//! or the time is up.
//!
//! Outcomes: reached, timeout (no answer in time), unreachable (an ICMP destination
//! unreachable, or the kernel's own ENETUNREACH/EHOSTUNREACH: no route, no neighbour),
//! refused (TCP RST). Transient failures are retried until the time is up; the last one
//! is the outcome. `reach` holds when reached; `noreach` holds when not reached in the
//! whole window (for a port: when the connection cannot be made, refused included).

use super::netns;
use crate::model::{EXPECT_DEFAULT_WITHIN, Expect, ExpectKind, HOST};
use netlink_packet_core::{NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use nix::libc;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Interval between echo requests (and between TCP connection attempts after a quick
/// failure) while an expectation waits.
pub const RESEND: Duration = Duration::from_millis(200);

/// How the target was tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// ICMP echo (ICMPv6 echo for v6 targets).
    Icmp,
    /// TCP connect to a port.
    Tcp,
}

/// What happened to a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// An echo reply came back / the connection was accepted, after this long.
    Reached { after: Duration },
    /// No answer within the time allowed.
    Timeout,
    /// Destination unreachable: no route, no neighbour, or an ICMP error; the reason.
    Unreachable(String),
    /// The connection was refused (TCP RST): the host is there, nothing listens.
    Refused,
    /// The probe could not be made (no such namespace, no permission); the reason.
    Error(String),
}

impl ProbeOutcome {
    /// One word, for tables and JSON.
    pub fn word(&self) -> &'static str {
        match self {
            ProbeOutcome::Reached { .. } => "reached",
            ProbeOutcome::Timeout => "timeout",
            ProbeOutcome::Unreachable(_) => "unreachable",
            ProbeOutcome::Refused => "refused",
            ProbeOutcome::Error(_) => "error",
        }
    }

    /// What happened, starting with [`word`](Self::word): "timeout: no echo reply
    /// within 2s".
    pub fn detail(&self, method: Method, within: Duration) -> String {
        let what = match (self, method) {
            (ProbeOutcome::Reached { after }, Method::Icmp) => format!("echo reply after {}", millis(*after)),
            (ProbeOutcome::Reached { after }, Method::Tcp) => format!("connected after {}", millis(*after)),
            (ProbeOutcome::Timeout, Method::Icmp) => format!("no echo reply within {}", millis(within)),
            (ProbeOutcome::Timeout, Method::Tcp) => format!("no answer to the connection within {}", millis(within)),
            (ProbeOutcome::Unreachable(why), _) => why.clone(),
            (ProbeOutcome::Refused, _) => "connection refused: the host answered, nothing listens on the port".to_string(),
            (ProbeOutcome::Error(why), _) => format!("could not probe: {why}"),
        };
        format!("{}: {what}", self.word())
    }
}

fn millis(d: Duration) -> String {
    if d >= Duration::from_secs(1) && d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else if d >= Duration::from_millis(10) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}ms", d.as_secs_f64() * 1000.0)
    }
}

/// The result of checking one expectation.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    pub method: Method,
    pub outcome: ProbeOutcome,
    /// Whether the expectation holds.
    pub holds: bool,
    /// The time it was allowed.
    pub within: Duration,
    /// The route the kernel chose in the namespace for the address, as `ip route get`
    /// prints it, or why there is none.
    pub route: Result<String, String>,
}

impl ProbeResult {
    /// What was tried, e.g. "ICMP echo from ns1 to 192.168.1.2".
    pub fn tried(&self, e: &Expect) -> String {
        match (self.method, &e.port) {
            (Method::Tcp, Some(p)) => format!("TCP connect from {} to {}", e.ns.node, SocketAddr::new(e.addr.node, p.node)),
            _ => format!("ICMP echo from {} to {}", e.ns.node, e.addr.node),
        }
    }

    /// The route hint: "route in ns1: 192.168.1.2 dev veth0 src 192.168.1.1".
    pub fn route_text(&self, ns: &str) -> String {
        match &self.route {
            Ok(r) => format!("route in {ns}: {r}"),
            Err(why) => format!("route in {ns}: none ({why})"),
        }
    }
}

/// The time an expectation may take.
pub fn within(e: &Expect) -> Duration {
    Duration::from_nanos(e.within.as_ref().map(|w| w.node).unwrap_or(EXPECT_DEFAULT_WITHIN).0)
}

/// Checks every expectation, all at once; results in the order given. `host` is the
/// namespace of the calling thread.
pub fn check_all(expects: &[Expect]) -> Vec<ProbeResult> {
    let host = netns::current_thread_netns();
    std::thread::scope(|scope| {
        let handles: Vec<_> = expects
            .iter()
            .map(|e| {
                let host = host.as_ref().map_err(|e| e.to_string()).and_then(|fd| fd.try_clone().map_err(|e| e.to_string()));
                scope.spawn(move || check_one(e, host))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a probe thread panicked")).collect()
    })
}

fn check_one(e: &Expect, host: Result<OwnedFd, String>) -> ProbeResult {
    let method = if e.port.is_some() { Method::Tcp } else { Method::Icmp };
    let within = within(e);
    let fail = |why: String| ProbeResult { method, outcome: ProbeOutcome::Error(why.clone()), holds: false, within, route: Err(why) };
    // This thread is ours alone and ends after the probe: it can stay in the namespace.
    let fd = if e.ns.node == HOST { host } else { netns::open_named(&e.ns.node).map_err(|err| err.to_string()) };
    let entered = fd.and_then(|fd| netns::enter(&fd).map_err(|err| err.to_string()));
    if let Err(why) = entered {
        return fail(why);
    }
    let route = route_get(e.addr.node);
    let outcome = match &e.port {
        Some(p) => tcp(SocketAddr::new(e.addr.node, p.node), within),
        None => icmp(e.addr.node, within),
    };
    let reached = matches!(outcome, ProbeOutcome::Reached { .. });
    let holds = match (e.kind, &outcome) {
        (_, ProbeOutcome::Error(_)) => false,
        (ExpectKind::Reach, _) => reached,
        (ExpectKind::Noreach, _) => !reached,
    };
    ProbeResult { method, outcome, holds, within, route }
}

fn classify(err: &io::Error) -> Option<ProbeOutcome> {
    match err.raw_os_error() {
        Some(libc::ECONNREFUSED) => Some(ProbeOutcome::Refused),
        Some(libc::ETIMEDOUT) => Some(ProbeOutcome::Timeout),
        Some(libc::ENETUNREACH) => Some(ProbeOutcome::Unreachable("network unreachable (ENETUNREACH)".into())),
        Some(libc::EHOSTUNREACH) => Some(ProbeOutcome::Unreachable("host unreachable (EHOSTUNREACH)".into())),
        Some(libc::EHOSTDOWN) => Some(ProbeOutcome::Unreachable("host down (EHOSTDOWN)".into())),
        Some(libc::EACCES) | Some(libc::EPERM) => Some(ProbeOutcome::Unreachable(format!("prohibited ({err})"))),
        Some(libc::EADDRNOTAVAIL) => Some(ProbeOutcome::Unreachable("no usable source address (EADDRNOTAVAIL)".into())),
        Some(libc::EAGAIN) | Some(libc::EINTR) => None,
        _ if err.kind() == io::ErrorKind::TimedOut || err.kind() == io::ErrorKind::WouldBlock => Some(ProbeOutcome::Timeout),
        _ => Some(ProbeOutcome::Error(err.to_string())),
    }
}

/// TCP connect attempts until one is accepted or the time is up.
fn tcp(target: SocketAddr, within: Duration) -> ProbeOutcome {
    let start = Instant::now();
    let deadline = start + within;
    let mut last = ProbeOutcome::Timeout;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return last;
        }
        match TcpStream::connect_timeout(&target, deadline - now) {
            Ok(_) => return ProbeOutcome::Reached { after: start.elapsed() },
            Err(err) => match classify(&err) {
                Some(ProbeOutcome::Error(why)) => return ProbeOutcome::Error(why),
                Some(outcome) => last = outcome,
                None => {}
            },
        }
        let now = Instant::now();
        if now < deadline {
            std::thread::sleep(RESEND.min(deadline - now));
        }
    }
}

/// An ICMP socket in the current namespace: datagram if allowed, else raw.
/// Returns the socket and whether it is raw.
fn icmp_socket(v6: bool) -> io::Result<(OwnedFd, bool)> {
    let (family, proto) = if v6 { (libc::AF_INET6, libc::IPPROTO_ICMPV6) } else { (libc::AF_INET, libc::IPPROTO_ICMP) };
    let open = |kind: libc::c_int| -> io::Result<OwnedFd> {
        // SAFETY: plain socket(2); the descriptor is owned from here on.
        let fd = unsafe { libc::socket(family, kind | libc::SOCK_CLOEXEC, proto) };
        if fd < 0 { Err(io::Error::last_os_error()) } else { Ok(unsafe { OwnedFd::from_raw_fd(fd) }) }
    };
    match open(libc::SOCK_DGRAM) {
        Ok(fd) => Ok((fd, false)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EPROTONOSUPPORT)) => {
            Ok((open(libc::SOCK_RAW)?, true))
        }
        Err(e) => Err(e),
    }
}

fn setsockopt_int(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: the option value is a c_int that outlives the call.
    let r = unsafe {
        libc::setsockopt(fd.as_raw_fd(), level, name, (&value as *const libc::c_int).cast(), size_of::<libc::c_int>() as libc::socklen_t)
    };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

fn connect(fd: &OwnedFd, addr: IpAddr) -> io::Result<()> {
    let r = match addr {
        IpAddr::V4(a) => {
            // SAFETY: all-zero is a valid sockaddr_in.
            let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
            // SAFETY: sa is a valid sockaddr_in of the given length.
            unsafe { libc::connect(fd.as_raw_fd(), (&sa as *const libc::sockaddr_in).cast(), size_of::<libc::sockaddr_in>() as libc::socklen_t) }
        }
        IpAddr::V6(a) => {
            // SAFETY: all-zero is a valid sockaddr_in6.
            let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_addr.s6_addr = a.octets();
            // SAFETY: sa is a valid sockaddr_in6 of the given length.
            unsafe { libc::connect(fd.as_raw_fd(), (&sa as *const libc::sockaddr_in6).cast(), size_of::<libc::sockaddr_in6>() as libc::socklen_t) }
        }
    };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

fn send(fd: &OwnedFd, packet: &[u8]) -> io::Result<()> {
    // SAFETY: the buffer is valid for its length.
    let r = unsafe { libc::send(fd.as_raw_fd(), packet.as_ptr().cast(), packet.len(), libc::MSG_DONTWAIT) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

fn recv(fd: &OwnedFd, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: the buffer is valid for its length.
    let r = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags | libc::MSG_DONTWAIT) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(r as usize) }
}

/// Waits until `fd` is readable or has an error, at most `timeout`.
fn wait_readable(fd: &OwnedFd, timeout: Duration) {
    let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, ms) };
}

/// The internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = if chunk.len() == 2 { u16::from_be_bytes([chunk[0], chunk[1]]) } else { u16::from_be_bytes([chunk[0], 0]) };
        sum += u32::from(word);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
const PAYLOAD: &[u8; 16] = b"netscript expect";

/// An echo request. The checksum is filled in for v4 (the kernel computes ICMPv6's).
pub fn echo_request(v6: bool, ident: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 }, 0, 0, 0];
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(PAYLOAD);
    if !v6 {
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// Whether `packet` (as received: with the IPv4 header on a raw v4 socket) is an echo
/// reply to us. Datagram sockets get only their own replies (the kernel rewrites the
/// identifier), raw sockets see every echo reply from the target.
pub fn is_echo_reply(packet: &[u8], v6: bool, raw: bool, ident: u16) -> bool {
    let icmp = if raw && !v6 {
        let header = usize::from(packet.first().map_or(0, |b| b & 0x0f)) * 4;
        match packet.get(header..) {
            Some(rest) if header >= 20 => rest,
            _ => return false,
        }
    } else {
        packet
    };
    if icmp.len() < 8 || icmp[0] != if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 } {
        return false;
    }
    !raw || u16::from_be_bytes([icmp[4], icmp[5]]) == ident && icmp[8..].starts_with(PAYLOAD)
}

/// ICMP echo requests until a reply comes or the time is up.
fn icmp(target: IpAddr, within: Duration) -> ProbeOutcome {
    let start = Instant::now();
    let deadline = start + within;
    let v6 = target.is_ipv6();
    let (fd, raw) = match icmp_socket(v6) {
        Ok(s) => s,
        Err(e) => return ProbeOutcome::Error(format!("cannot open an ICMP socket: {e}")),
    };
    let recverr = if v6 { (libc::SOL_IPV6, libc::IPV6_RECVERR) } else { (libc::SOL_IP, libc::IP_RECVERR) };
    if let Err(e) = setsockopt_int(&fd, recverr.0, recverr.1, 1) {
        return ProbeOutcome::Error(format!("cannot ask for ICMP errors: {e}"));
    }
    // No route at all: the kernel says so at connect time already. Retried like any
    // other failure (a route may still be settling, e.g. an IPv6 address in DAD).
    while let Err(e) = connect(&fd, target) {
        let outcome = classify(&e).unwrap_or(ProbeOutcome::Timeout);
        let now = Instant::now();
        if matches!(outcome, ProbeOutcome::Error(_)) || now >= deadline {
            return outcome;
        }
        std::thread::sleep(RESEND.min(deadline - now));
    }
    // Raw sockets see every reply: tell ours apart by an identifier of our own.
    let ident = (std::process::id() as u16) ^ (fd.as_raw_fd() as u16).rotate_left(8);
    let mut last = ProbeOutcome::Timeout;
    let mut seq: u16 = 0;
    let mut next_send = start;
    let mut buf = [0u8; 2048];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return last;
        }
        if now >= next_send {
            seq = seq.wrapping_add(1);
            if let Err(e) = send(&fd, &echo_request(v6, ident, seq)) {
                match classify(&e) {
                    Some(ProbeOutcome::Error(why)) => return ProbeOutcome::Error(why),
                    Some(outcome) => last = outcome,
                    None => {}
                }
            }
            next_send = now + RESEND;
        }
        wait_readable(&fd, next_send.min(deadline).saturating_duration_since(Instant::now()));
        // Everything that arrived: replies, and errors (which also queue one entry each
        // on the error queue; drained so that poll does not report them forever).
        for _ in 0..64 {
            match recv(&fd, &mut buf, 0) {
                Ok(n) if is_echo_reply(&buf[..n], v6, raw, ident) => return ProbeOutcome::Reached { after: start.elapsed() },
                Ok(_) => {}
                Err(e) => match classify(&e) {
                    None => break,
                    Some(ProbeOutcome::Error(why)) => return ProbeOutcome::Error(why),
                    Some(outcome) => last = outcome,
                },
            }
        }
        for _ in 0..64 {
            if recv(&fd, &mut buf, libc::MSG_ERRQUEUE).is_err() {
                break;
            }
        }
    }
}

/// `ip route get ADDR` in the current namespace: one RTM_GETROUTE for the address.
fn route_get(addr: IpAddr) -> Result<String, String> {
    use netlink_sys::{Socket, SocketAddr as NlAddr, protocols::NETLINK_ROUTE};
    let socket = Socket::new(NETLINK_ROUTE).map_err(|e| format!("cannot open a netlink socket: {e}"))?;
    let mut msg = RouteMessage::default();
    msg.header.address_family = if addr.is_ipv6() { AddressFamily::Inet6 } else { AddressFamily::Inet };
    msg.header.destination_prefix_length = if addr.is_ipv6() { 128 } else { 32 };
    msg.attributes.push(RouteAttribute::Destination(RouteAddress::from(addr)));
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST;
    header.sequence_number = 1;
    let mut request = NetlinkMessage::new(header, NetlinkPayload::from(RouteNetlinkMessage::GetRoute(msg)));
    request.finalize();
    let mut buf = vec![0u8; request.buffer_len()];
    request.serialize(&mut buf);
    socket.send_to(&buf, &NlAddr::new(0, 0), 0).map_err(|e| format!("cannot ask the kernel: {e}"))?;
    let (answer, _) = socket.recv_from_full().map_err(|e| format!("no answer from the kernel: {e}"))?;
    let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&answer).map_err(|e| format!("unreadable answer: {e}"))?;
    match reply.payload {
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(route)) => Ok(route_text(addr, &route)),
        NetlinkPayload::Error(e) => match e.code {
            Some(code) => Err(io::Error::from_raw_os_error(-code.get()).to_string()),
            None => Err("the kernel sent no route".into()),
        },
        other => Err(format!("unexpected answer {other:?}")),
    }
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

/// The name of interface `index` in the current namespace.
fn ifname(index: u32) -> String {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: the buffer holds IF_NAMESIZE bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return format!("if{index}");
    }
    // SAFETY: if_indextoname wrote a NUL-terminated name into buf.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

/// A route as `ip route get` prints it: `[local] ADDR [via GW] dev DEV [src SRC] [table T]`.
fn route_text(addr: IpAddr, route: &RouteMessage) -> String {
    let mut s = String::new();
    match route.header.kind {
        RouteType::Unicast => {}
        RouteType::Local => s.push_str("local "),
        other => s.push_str(&format!("{} ", format!("{other:?}").to_lowercase())),
    }
    s.push_str(&addr.to_string());
    let (mut via, mut dev, mut src, mut table) = (None, None, None, None);
    for attr in &route.attributes {
        match attr {
            RouteAttribute::Gateway(g) => via = route_ip(g),
            RouteAttribute::Oif(i) => dev = Some(ifname(*i)),
            RouteAttribute::PrefSource(a) => src = route_ip(a),
            RouteAttribute::Table(t) => table = Some(*t),
            _ => {}
        }
    }
    if let Some(via) = via {
        s.push_str(&format!(" via {via}"));
    }
    if let Some(dev) = dev {
        s.push_str(&format!(" dev {dev}"));
    }
    if let Some(src) = src {
        s.push_str(&format!(" src {src}"));
    }
    if let Some(t) = table.filter(|t| *t != 254 && *t != 255) {
        s.push_str(&format!(" table {t}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_echo_request_checksums_to_zero() {
        let p = echo_request(false, 0x1234, 7);
        assert_eq!(p[0], 8);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
    }

    #[test]
    fn replies_are_told_apart() {
        let mut reply = echo_request(false, 0x1234, 1);
        reply[0] = ECHO_REPLY_V4;
        // Datagram sockets: no IP header, any identifier (the kernel chose it).
        assert!(is_echo_reply(&reply, false, false, 0x9999));
        // Raw v4: an IP header first; the identifier must be ours.
        let mut with_header = vec![0x45u8];
        with_header.extend_from_slice(&[0; 19]);
        with_header.extend_from_slice(&reply);
        assert!(is_echo_reply(&with_header, false, true, 0x1234));
        assert!(!is_echo_reply(&with_header, false, true, 0x1235));
        // A request is not a reply.
        let request = echo_request(true, 1, 1);
        assert!(!is_echo_reply(&request, true, true, 1));
        assert!(!is_echo_reply(&[0, 0], false, false, 1));
    }
}
