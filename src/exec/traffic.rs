//! Sending tc messages. The messages themselves (kinds, handles, options) are built by
//! `crate::exec::tc`; this module only knows which rtnetlink request each action is.

use super::ExecError;
use super::conn::NsConn;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::{TcHandle, TcMessage};
use crate::plan::action::QdiscParent;

/// Which tc request to make, with the flags `tc` itself uses for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcRequest {
    /// `tc qdisc replace`: RTM_NEWQDISC, CREATE|REPLACE.
    ReplaceQdisc,
    /// `tc qdisc del`: RTM_DELQDISC.
    DelQdisc,
    /// `tc class replace`: RTM_NEWTCLASS, CREATE|REPLACE.
    ReplaceClass,
    /// `tc class del`: RTM_DELTCLASS.
    DelClass,
    /// `tc filter add`: RTM_NEWTFILTER, CREATE|EXCL.
    AddFilter,
    /// `tc filter del`: RTM_DELTFILTER.
    DelFilter,
}

/// Sends `message` as the tc request `request` on the namespace's socket and waits for
/// the kernel's ack.
pub async fn send_tc_message(conn: &NsConn, request: TcRequest, message: TcMessage) -> Result<(), ExecError> {
    let (netlink, flags) = match request {
        TcRequest::ReplaceQdisc => (RouteNetlinkMessage::NewQueueDiscipline(message), NLM_F_CREATE | NLM_F_REPLACE),
        TcRequest::DelQdisc => (RouteNetlinkMessage::DelQueueDiscipline(message), 0),
        TcRequest::ReplaceClass => (RouteNetlinkMessage::NewTrafficClass(message), NLM_F_CREATE | NLM_F_REPLACE),
        TcRequest::DelClass => (RouteNetlinkMessage::DelTrafficClass(message), 0),
        TcRequest::AddFilter => (RouteNetlinkMessage::NewTrafficFilter(message), NLM_F_CREATE | NLM_F_EXCL),
        TcRequest::DelFilter => (RouteNetlinkMessage::DelTrafficFilter(message), 0),
    };
    conn.request(netlink, flags).await.map(|_| ())
}

/// The message deleting the qdisc at `parent` of `ifindex` (no options involved: the
/// kernel finds the qdisc by its parent). Ingress and clsact share the same parent.
pub fn del_qdisc_message(ifindex: u32, parent: QdiscParent) -> TcMessage {
    let mut msg = TcMessage::default();
    msg.header.index = ifindex as i32;
    msg.header.parent = match parent {
        QdiscParent::Root => TcHandle::ROOT,
        QdiscParent::Ingress | QdiscParent::Clsact => TcHandle::INGRESS,
    };
    msg
}

/// The message deleting htb class 1:`minor` of `ifindex`.
pub fn del_class_message(ifindex: u32, minor: u32) -> TcMessage {
    let mut msg = TcMessage::default();
    msg.header.index = ifindex as i32;
    msg.header.handle = TcHandle { major: 1, minor: minor as u16 };
    msg
}

/// The message dumping every qdisc of the namespace.
pub fn dump_qdiscs_message() -> RouteNetlinkMessage {
    RouteNetlinkMessage::GetQueueDiscipline(TcMessage::default())
}

/// The message dumping the classes of one device.
pub fn dump_classes_message(ifindex: u32) -> RouteNetlinkMessage {
    let mut msg = TcMessage::default();
    msg.header.index = ifindex as i32;
    RouteNetlinkMessage::GetTrafficClass(msg)
}
