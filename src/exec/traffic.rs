//! Sending tc messages. The messages themselves (kinds, handles, options) are built by
//! `crate::exec::tc`; this module only knows which rtnetlink request each action is.

use super::ExecError;
use super::conn::NsConn;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::{TcHandle, TcMessage};
use crate::plan::action::{ClassSpec, FilterSpec, QdiscParent, QdiscSpec};
use super::tc;
pub use super::tc::{TcRequest, decode_redirect};

/// This machine's tc clock parameters, read once: tc's arithmetic depends on them.
pub fn psched() -> &'static tc::Psched {
    static PSCHED: std::sync::OnceLock<tc::Psched> = std::sync::OnceLock::new();
    PSCHED.get_or_init(|| tc::Psched::read().unwrap_or(tc::Psched::HIGH_RES))
}

fn encoding(error: tc::TcError) -> ExecError {
    ExecError::Unsupported(error.to_string())
}

pub fn qdisc_message(ifindex: u32, spec: &QdiscSpec) -> Result<TcMessage, ExecError> {
    tc::qdisc_message(ifindex as i32, spec, psched()).map_err(encoding)
}

pub fn class_message(ifindex: u32, spec: &ClassSpec) -> Result<TcMessage, ExecError> {
    tc::class_message(ifindex as i32, spec, psched()).map_err(encoding)
}

pub fn filter_message(ifindex: u32, spec: &FilterSpec, mirred_target: Option<u32>) -> Result<TcMessage, ExecError> {
    tc::filter_message(ifindex as i32, spec, mirred_target).map_err(encoding)
}

pub fn filter_delete_message(ifindex: u32, spec: &FilterSpec) -> Result<TcMessage, ExecError> {
    tc::filter_delete_message(ifindex as i32, spec).map_err(encoding)
}

/// A dumped root/ingress qdisc as a spec; `None` for one netscript cannot express.
pub fn decode_qdisc(msg: &TcMessage) -> Option<QdiscSpec> {
    tc::decode_qdisc(msg).ok().and_then(|d| d.spec)
}

/// A dumped htb class as a spec, its quantum read against its qdisc's r2q.
pub fn decode_class(msg: &TcMessage, r2q: Option<u32>) -> Option<ClassSpec> {
    tc::decode_class_in(msg, r2q).ok().flatten()
}

/// The r2q of `dev`'s observed htb (`None`: tc's 10).
pub fn htb_r2q(qdiscs: &[crate::plan::observed::ObservedQdisc], dev: &str) -> Option<u32> {
    qdiscs.iter().find_map(|q| match &q.spec {
        QdiscSpec::Htb { r2q, .. } if q.dev == dev => *r2q,
        _ => None,
    })
}

/// A dumped filter of qdisc 1: (see [`tc::decode_filter`]).
pub fn decode_filter(msg: &TcMessage) -> Option<tc::DecodedFilter> {
    tc::decode_filter(msg).ok().flatten()
}

/// Where netscript's filters sit: on the htb qdisc 1: (classification) and on the
/// ingress qdisc (the redirect of `shape ingress`).
pub const HTB_FILTERS: TcHandle = TcHandle { major: tc::QDISC_MAJOR, minor: 0 };
pub const INGRESS_FILTERS: TcHandle = TcHandle { major: tc::INGRESS_MAJOR, minor: 0 };

/// The message dumping the filters attached at `parent` of one device.
pub fn dump_filters_message(ifindex: u32, parent: TcHandle) -> RouteNetlinkMessage {
    let mut msg = TcMessage::with_index(ifindex as i32);
    msg.header.parent = parent;
    RouteNetlinkMessage::GetTrafficFilter(msg)
}

/// Sends `message` as `request`, with the flags `tc` itself uses for it, and waits for
/// the kernel's ack.
pub async fn send_tc_message(conn: &NsConn, request: TcRequest, message: TcMessage) -> Result<(), ExecError> {
    let flags = request.flags() & !(netlink_packet_core::NLM_F_REQUEST | netlink_packet_core::NLM_F_ACK);
    let netlink = match request {
        TcRequest::AddQdisc | TcRequest::ReplaceQdisc => RouteNetlinkMessage::NewQueueDiscipline(message),
        TcRequest::DelQdisc => RouteNetlinkMessage::DelQueueDiscipline(message),
        TcRequest::AddClass | TcRequest::ReplaceClass => RouteNetlinkMessage::NewTrafficClass(message),
        TcRequest::DelClass => RouteNetlinkMessage::DelTrafficClass(message),
        TcRequest::AddFilter => RouteNetlinkMessage::NewTrafficFilter(message),
        TcRequest::DelFilter => RouteNetlinkMessage::DelTrafficFilter(message),
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

/// Replaces each observed qdisc and class that is what the desired state asks for, within
/// the kernel's rounding, by the desired spec itself: the planner then compares exactly.
/// First, the delay table of each netem the record made (`interest`) is recalled (see
/// [`recall_netem_tables`]).
pub fn normalize(observed: &mut crate::plan::Observed, desired: &crate::model::Desired, interest: &crate::plan::ownership::Interest) {
    recall_netem_tables(observed, interest);
    for (name, ns) in &desired.namespaces {
        let Some(seen) = observed.namespaces.get_mut(name) else { continue };
        let (qdiscs, classes) = crate::plan::desired_tc(ns);
        for (dev, want) in qdiscs {
            for have in seen.qdiscs.iter_mut().filter(|q| q.dev == dev && q.spec.parent() == want.parent()) {
                if have.spec != want && tc::equivalent(&want, &have.spec, psched()) {
                    have.spec = want.clone();
                }
            }
        }
        for (dev, want) in classes {
            for (d, have) in seen.classes.iter_mut() {
                if *d == dev && have.id == want.id && *have != want && tc::class_equivalent_in(&want, have, htb_r2q(&seen.qdiscs, d), psched()) {
                    *have = want.clone();
                }
            }
        }
    }
}

/// The kernel never reports a netem's tables (the delay's, the slots'). A root netem the
/// record made that still has the parameters the record made it with (within the
/// kernel's rounding) is that netem, and holds the record's tables (or none): the
/// observed netem gets them. One whose parameters changed since was changed or made
/// again by someone else, with tables nobody can read back: it is listed in
/// `netem_drift` with the record's tables,
/// for the planner to refuse what it cannot give back (plan::planner::netem_change).
pub fn recall_netem_tables(observed: &mut crate::plan::Observed, interest: &crate::plan::ownership::Interest) {
    if interest.netems.is_empty() {
        return;
    }
    for (name, seen) in observed.namespaces.iter_mut() {
        let mut drift = Vec::new();
        for q in seen.qdiscs.iter_mut().filter(|q| q.spec.parent() == QdiscParent::Root) {
            let (QdiscSpec::Netem(have), Some(made)) = (&mut q.spec, interest.netems.get(&(name.clone(), q.dev.clone()))) else { continue };
            let untabled = made.clone().with_tables(Default::default());
            if tc::equivalent(&QdiscSpec::Netem(untabled), &QdiscSpec::Netem(have.clone()), psched()) {
                *have = have.clone().with_tables(made.tables());
            } else {
                drift.push((q.dev.clone(), made.tables()));
            }
        }
        seen.netem_drift = drift;
    }
}
