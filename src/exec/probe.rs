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

mod icmp;
mod route;

pub use icmp::{checksum, echo_request, is_echo_reply};
use icmp::icmp;
use route::route_get;
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
