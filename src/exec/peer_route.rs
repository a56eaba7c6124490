//! Adding a route whose gateway the kernel may not reach yet: the route to an IPv6
//! address's peer (`addr A peer B`) appears only once the address leaves "tentative",
//! which waits for the link's carrier — a veth's comes through the kernel's linkwatch,
//! asynchronously, a moment after both ends are up. A gateway reached through that
//! route is "unreachable" until then, so an IPv6 route refused with EHOSTUNREACH is
//! asked for again, briefly.

use super::conn::NsConn;
use super::error::ExecError;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::RouteNetlinkMessage;
use std::time::{Duration, Instant};

/// How long an IPv6 route through a gateway waits for the kernel to make the route to
/// an address's peer; a gateway that is really unreachable is refused after it.
const PEER_ROUTE_WAIT: Duration = Duration::from_secs(2);

pub(super) async fn add_route(conn: &NsConn, msg: RouteMessage, ipv6: bool) -> Result<(), ExecError> {
    let started = Instant::now();
    loop {
        match conn.request(RouteNetlinkMessage::NewRoute(msg.clone()), NLM_F_CREATE | NLM_F_EXCL).await {
            Err(ExecError::Kernel(k)) if ipv6 && k.errno == nix::errno::Errno::EHOSTUNREACH as i32 && started.elapsed() < PEER_ROUTE_WAIT => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => return other.map(drop),
        }
    }
}
