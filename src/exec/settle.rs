//! Requests the kernel refuses for a moment after a related change it finishes
//! asynchronously: asked again, briefly, for the one error that means "not yet".

use super::conn::NsConn;
use super::error::ExecError;
use super::traffic::{send_tc_message, TcRequest};
use netlink_packet_route::tc::TcMessage;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::RouteNetlinkMessage;
use nix::errno::Errno;
use std::time::{Duration, Instant};

/// How long an IPv6 route through a gateway waits for the kernel to make the route to
/// an address's peer; a gateway that is really unreachable is refused after it.
const PEER_ROUTE_WAIT: Duration = Duration::from_secs(2);

/// How long deleting a u32 hash table waits for the filters that linked to it to let go.
const TABLE_RELEASE_WAIT: Duration = Duration::from_secs(2);

/// The route to an IPv6 address's peer (`addr A peer B`) appears only once the address
/// leaves "tentative", which waits for the link's carrier — a veth's comes through the
/// kernel's linkwatch, asynchronously, a moment after both ends are up. A gateway
/// reached through that route is "unreachable" (EHOSTUNREACH) until then.
pub(super) async fn add_route(conn: &NsConn, msg: RouteMessage, ipv6: bool) -> Result<(), ExecError> {
    let not_yet = if ipv6 { Some(Errno::EHOSTUNREACH) } else { None };
    retry_while(not_yet, PEER_ROUTE_WAIT, || async {
        conn.request(RouteNetlinkMessage::NewRoute(msg.clone()), NLM_F_CREATE | NLM_F_EXCL).await.map(drop)
    })
    .await
}

/// A filter that linked to a u32 hash table lets go of it only after an RCU grace period
/// (cls_u32 frees its keys in deferred work): until then the kernel says the table is in
/// use (EBUSY).
pub(super) async fn delete_u32_table(conn: &NsConn, message: TcMessage) -> Result<(), ExecError> {
    retry_while(Some(Errno::EBUSY), TABLE_RELEASE_WAIT, || send_tc_message(conn, TcRequest::DelFilter, message.clone())).await
}

/// Sends `request` again every 10 ms while the kernel answers `not_yet`, for at most
/// `wait`; any other answer, or `not_yet` after `wait`, is the result.
async fn retry_while<F, Fut>(not_yet: Option<Errno>, wait: Duration, mut request: F) -> Result<(), ExecError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), ExecError>>,
{
    let started = Instant::now();
    loop {
        match request().await {
            Err(e) if not_yet.is_some_and(|n| e.errno() == Some(n as i32)) && started.elapsed() < wait => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => return other,
        }
    }
}
