//! ICMP echo from inside a namespace: datagram or raw socket, echo requests and
//! replies, checksums.

use super::*;

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
pub(super) fn icmp(target: IpAddr, within: Duration) -> ProbeOutcome {
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
