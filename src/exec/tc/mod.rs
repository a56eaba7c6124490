//! Traffic control objects as rtnetlink messages, byte for byte what iproute2's `tc`
//! (6.1) sends for the same command, and back from the kernel's dumps.
//!
//! Pure: nothing here opens a socket. The executor wraps the messages with
//! [`TcRequest::into_netlink`] (which sets the flags tc sets) and sends them.
//!
//! | netscript | tc command | function |
//! |---|---|---|
//! | `QdiscSpec::Tbf` | `tc qdisc add dev X root handle 1: tbf rate R burst B latency L` | [`qdisc_message`] |
//! | `QdiscSpec::Htb` | `tc qdisc add dev X root handle 1: htb default D` | [`qdisc_message`] |
//! | `QdiscSpec::Netem` | `tc qdisc add dev X root handle 1: netem delay D [J] [loss P%] [rate R]` | [`qdisc_message`] |
//! | `QdiscSpec::Ingress` | `tc qdisc add dev X ingress` (handle ffff:) | [`qdisc_message`] |
//! | `QdiscSpec::Clsact` | `tc qdisc add dev X clsact` | [`qdisc_message`] |
//! | `ClassSpec` | `tc class add dev X parent 1:[P] classid 1:ID htb rate R ceil C [prio N]` | [`class_message`] |
//! | `FilterSpec::U32` | `tc filter add dev X parent 1: protocol ip prio P u32 match ip ... flowid 1:F` (`tc filter add dev X ingress protocol ip …` when `ingress`) | [`filter_message`] |
//! | `FilterSpec::U32Table` | `tc filter add dev X ingress prio P handle ID: u32 divisor N` | [`filter_message`] |
//! | `FilterSpec::MirredToIfb` | `tc filter add dev X parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev IFB` | [`filter_message`] |
//!
//! The ingress redirect uses u32 with `match u32 0 0`, not matchall: the kernel this
//! was written against has u32, bpf and mirred, but not `CONFIG_NET_CLS_MATCHALL`.
//!
//! Rates, sizes and times go through tc's own arithmetic ([`Psched`], from
//! `tc/tc_core.c`), which depends on `/proc/net/psched`: use [`Psched::read`] on the
//! machine that applies the messages ([`Psched::HIGH_RES`] is what current kernels say).

mod decode;
mod equivalence;
mod filter;
mod htb;
mod kernel;
mod netem;
pub mod netem_dist;
mod psched;
mod tbf;
mod wire;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_u32;

pub use decode::{DecodedFilter, DecodedQdisc, decode_class, decode_class_in, decode_filter, decode_qdisc, decode_redirect};
pub use equivalence::{class_equivalent, class_equivalent_in, equivalent};

pub use htb::{HtbClassParams, HtbClassState};
pub use netem::{NetemParams, NetemState};
pub use psched::Psched;
pub use tbf::{TbfParams, TbfState};

use crate::plan::action::{ClassSpec, FilterSpec, QdiscParent, QdiscSpec};
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkHeader,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage, TcOption};

/// The handle netscript gives its root qdiscs, `1:`; classes are `1:minor`.
pub const QDISC_MAJOR: u16 = 1;
/// `ffff:`, the handle of the ingress and clsact qdiscs.
pub const INGRESS_MAJOR: u16 = 0xffff;
/// The minor of the ingress hook (TC_H_MIN_INGRESS): `tc filter add dev X ingress` sends
/// the parent `ffff:fff2`, which is where netscript puts its u32 filters too.
pub const INGRESS_HOOK_MINOR: u16 = 0xfff2;
/// EtherTypes as filters name them (`protocol ip`, `protocol all`).
pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_ALL: u16 = 0x0003;
/// The `prio` of the ingress redirect filter.
pub const REDIRECT_PRIO: u16 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TcError {
    #[error("a rate of 0 cannot be shaped")]
    ZeroRate,
    #[error("{0} is too large for tc")]
    TooLarge(&'static str),
    #[error("{0}")]
    Invalid(&'static str),
    #[error("the redirect to {0} needs the ifb device's interface index")]
    MissingIfbIndex(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TcDecodeError {
    #[error("malformed tc attributes: {0}")]
    Malformed(String),
    #[error("the dump lacks {0}")]
    Missing(&'static str),
}

fn handle(major: u16, minor: u16) -> TcHandle {
    TcHandle { major, minor }
}

fn minor(id: u32) -> Result<u16, TcError> {
    u16::try_from(id).map_err(|_| TcError::TooLarge("a class minor (at most ffff)"))
}

fn header(ifindex: i32, handle: TcHandle, parent: TcHandle, info: u32) -> TcMessage {
    let mut msg = TcMessage::with_index(ifindex);
    msg.header.handle = handle;
    msg.header.parent = parent;
    msg.header.info = info;
    msg
}

/// A filter's `tcm_info`: priority in the upper half, the EtherType in network order in
/// the lower (`TC_H_MAKE(prio << 16, htons(protocol))`).
fn filter_info(prio: u16, protocol: u16) -> u32 {
    ((prio as u32) << 16) | u16::from_ne_bytes(protocol.to_be_bytes()) as u32
}

/// TCA_OPTIONS with a payload netlink-packet-route has no type for. It is one opaque
/// attribute, the same shape the crate parses unknown kinds (tbf, htb, netem) into; netem
/// needs it anyway, since its payload begins with a bare struct.
fn raw_options(payload: Vec<u8>) -> TcAttribute {
    TcAttribute::Other(wire::nla(wire::TCA_OPTIONS, payload))
}

/// The qdisc message of `tc qdisc add/replace dev X ...` for `spec`.
pub fn qdisc_message(
    ifindex: i32,
    spec: &QdiscSpec,
    psched: &Psched,
) -> Result<TcMessage, TcError> {
    let (handle_, parent) = qdisc_position(spec.parent());
    let mut msg = header(ifindex, handle_, parent, 0);
    msg.attributes
        .push(TcAttribute::Kind(spec.kind().to_string()));
    match spec {
        QdiscSpec::Tbf(tbf) => msg
            .attributes
            .push(raw_options(TbfParams::new(tbf, psched)?.options())),
        QdiscSpec::Htb { default_class, r2q, direct_qlen } => msg
            .attributes
            .push(raw_options(htb::qdisc_options(*default_class, *r2q, *direct_qlen))),
        QdiscSpec::Netem(netem) => msg
            .attributes
            .push(raw_options(NetemParams::new(netem, psched)?.options())),
        // tc sends no options for these two.
        QdiscSpec::Ingress | QdiscSpec::Clsact => {}
    }
    Ok(msg)
}

/// Handle and parent of netscript's qdiscs: `root handle 1:`, or `ffff:` under the
/// ingress/clsact hook (`TC_H_INGRESS`, which clsact shares).
fn qdisc_position(parent: QdiscParent) -> (TcHandle, TcHandle) {
    match parent {
        QdiscParent::Root => (handle(QDISC_MAJOR, 0), TcHandle::ROOT),
        QdiscParent::Ingress | QdiscParent::Clsact => (handle(INGRESS_MAJOR, 0), TcHandle::INGRESS),
    }
}

/// `tc qdisc del dev X root | ingress | clsact`: tc names the kind only for the latter two.
pub fn qdisc_delete_message(ifindex: i32, parent: QdiscParent) -> TcMessage {
    match parent {
        QdiscParent::Root => header(ifindex, TcHandle::UNSPEC, TcHandle::ROOT, 0),
        QdiscParent::Ingress | QdiscParent::Clsact => {
            let (handle_, parent_handle) = qdisc_position(parent);
            let mut msg = header(ifindex, handle_, parent_handle, 0);
            let kind = if parent == QdiscParent::Ingress {
                "ingress"
            } else {
                "clsact"
            };
            msg.attributes.push(TcAttribute::Kind(kind.to_string()));
            msg
        }
    }
}

/// The class message of `tc class add/replace dev X parent 1:[P] classid 1:ID htb ...`.
/// A class without a parent class is a root class of the qdisc (parent `1:`).
pub fn class_message(
    ifindex: i32,
    class: &ClassSpec,
    psched: &Psched,
) -> Result<TcMessage, TcError> {
    let parent = handle(QDISC_MAJOR, minor(class.parent.unwrap_or(0))?);
    let mut msg = header(ifindex, handle(QDISC_MAJOR, minor(class.id)?), parent, 0);
    msg.attributes.push(TcAttribute::Kind("htb".to_string()));
    msg.attributes
        .push(raw_options(HtbClassParams::new(class, psched)?.options()));
    Ok(msg)
}

/// `tc class del dev X classid 1:ID`.
pub fn class_delete_message(ifindex: i32, id: u32) -> Result<TcMessage, TcError> {
    Ok(header(
        ifindex,
        handle(QDISC_MAJOR, minor(id)?),
        TcHandle::UNSPEC,
        0,
    ))
}

/// The filter message of `tc filter add dev X ...` for `filter`. The mirred redirect
/// needs the ifb device's index (`ifb_ifindex`); the u32 classifier ignores it.
pub fn filter_message(
    ifindex: i32,
    filter: &FilterSpec,
    ifb_ifindex: Option<u32>,
) -> Result<TcMessage, TcError> {
    let (parent, info) = filter_position(filter)?;
    let options = match filter {
        FilterSpec::U32 { proto, src, dst, sport, dport, flowid, action, link, hashkey, raw, ht, .. } => filter::classify_options(&filter::Classify {
            proto: *proto,
            src: *src,
            dst: *dst,
            sport: *sport,
            dport: *dport,
            classid: flowid.map(|f| minor(f).map(|m| handle(QDISC_MAJOR, m))).transpose()?,
            verdict: *action,
            link: link.map(|table| (table, *hashkey)),
            raw: raw.clone(),
            ht: *ht,
        })?,
        FilterSpec::MirredToIfb { ifb } => {
            let index = ifb_ifindex.ok_or_else(|| TcError::MissingIfbIndex(ifb.clone()))?;
            filter::redirect_options(index)
        }
        FilterSpec::U32Table { divisor, .. } => vec![netlink_packet_route::tc::TcFilterU32Option::Divisor(*divisor)],
    };
    // Without `handle`, the kernel picks the filter's handle (tc sends 0); with one, tc
    // sends the node id alone (`handle ::N`), and the kernel puts it in the priority's
    // hash table (a script's table `ht` names, in the bucket the HASH option says).
    let node = match filter {
        FilterSpec::U32 { handle: Some(node), .. } => TcHandle::from(*node),
        FilterSpec::U32Table { table, .. } => table_handle(*table)?,
        _ => TcHandle::UNSPEC,
    };
    let mut msg = header(ifindex, node, parent, info);
    msg.attributes.push(TcAttribute::Kind("u32".to_string()));
    msg.attributes.push(TcAttribute::Options(
        options.into_iter().map(TcOption::U32).collect(),
    ));
    Ok(msg)
}

/// `tc filter del dev X parent 1: protocol ip prio P` (or the redirect's `parent ffff:
/// protocol all prio 1`): removes every filter of that priority, which is the one
/// netscript put there.
///
/// A hash table is deleted by its handle, as `tc filter del dev X ingress prio P handle
/// ID: u32` does: the rest of its priority (the kernel's own table 800:) goes with it
/// when nothing else is there, and another's filters at that priority stay.
pub fn filter_delete_message(ifindex: i32, filter: &FilterSpec) -> Result<TcMessage, TcError> {
    let (parent, info) = filter_position(filter)?;
    if let FilterSpec::U32 { ht: Some(place), handle, .. } = filter {
        // A node of a script's table, by its whole handle `ID:BUCKET:NODE` (tc filter del
        // dev X ingress prio P handle ID:BUCKET:NODE u32): the others of its priority stay.
        let node = handle.unwrap_or(crate::model::U32_FIRST_NODE);
        let whole = u32::from(table_handle(place.table)?) | (place.bucket & 0xff) << 12 | (node & 0xfff);
        let mut msg = header(ifindex, TcHandle::from(whole), parent, info & 0xffff_0000);
        msg.attributes.push(TcAttribute::Kind("u32".to_string()));
        return Ok(msg);
    }
    if let FilterSpec::U32Table { table, .. } = filter {
        // Without `protocol`, as tc sends it: 0, any protocol.
        let mut msg = header(ifindex, table_handle(*table)?, parent, info & 0xffff_0000);
        msg.attributes.push(TcAttribute::Kind("u32".to_string()));
        return Ok(msg);
    }
    Ok(header(ifindex, TcHandle::UNSPEC, parent, info))
}

/// A u32 hash table's handle, `ID:` (the table id in the top 12 bits).
pub(super) fn table_handle(table: u32) -> Result<TcHandle, TcError> {
    if table == 0 || table > crate::model::MAX_U32_TABLE {
        return Err(TcError::Invalid("a u32 hash table id is between 1 and 7ff"));
    }
    Ok(TcHandle::from(table << 20))
}

fn filter_position(filter: &FilterSpec) -> Result<(TcHandle, u32), TcError> {
    Ok(match filter {
        FilterSpec::U32 { prio, ingress, ht, .. } => {
            let prio = u16::try_from(*prio)
                .ok()
                .filter(|p| *p != 0)
                .ok_or(TcError::Invalid("a filter prio is between 1 and 65535"))?;
            let parent = if *ingress { handle(INGRESS_MAJOR, INGRESS_HOOK_MINOR) } else { handle(QDISC_MAJOR, 0) };
            // In a script's table: its priority's protocol, all (tc's default).
            (parent, filter_info(prio, if ht.is_some() { ETH_P_ALL } else { ETH_P_IP }))
        }
        FilterSpec::MirredToIfb { .. } => (
            handle(INGRESS_MAJOR, 0),
            filter_info(REDIRECT_PRIO, ETH_P_ALL),
        ),
        FilterSpec::U32Table { prio, .. } => {
            let prio = u16::try_from(*prio)
                .ok()
                .filter(|p| *p != 0)
                .ok_or(TcError::Invalid("a filter prio is between 1 and 65535"))?;
            (handle(INGRESS_MAJOR, INGRESS_HOOK_MINOR), filter_info(prio, ETH_P_ALL))
        }
    })
}

/// What the executor asks of the kernel, with the netlink flags tc uses:
///
/// | request | message | flags (besides REQUEST, ACK) | tc command |
/// |---|---|---|---|
/// | `AddQdisc` | RTM_NEWQDISC | EXCL, CREATE | `tc qdisc add` |
/// | `ReplaceQdisc` | RTM_NEWQDISC | REPLACE, CREATE | `tc qdisc replace` |
/// | `DelQdisc` | RTM_DELQDISC | — | `tc qdisc del` |
/// | `AddClass` | RTM_NEWTCLASS | EXCL, CREATE | `tc class add` |
/// | `ReplaceClass` | RTM_NEWTCLASS | CREATE (tc sends no REPLACE for classes) | `tc class replace` |
/// | `DelClass` | RTM_DELTCLASS | — | `tc class del` |
/// | `AddFilter` | RTM_NEWTFILTER | EXCL, CREATE | `tc filter add` |
/// | `DelFilter` | RTM_DELTFILTER | — | `tc filter del` |
///
/// `ReplaceQdisc` of a different kind at the root swaps the qdisc (and drops its classes
/// and filters); of the same kind it changes the parameters in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcRequest {
    AddQdisc,
    ReplaceQdisc,
    DelQdisc,
    AddClass,
    ReplaceClass,
    DelClass,
    AddFilter,
    DelFilter,
}

impl TcRequest {
    pub fn flags(self) -> u16 {
        let base = NLM_F_REQUEST | NLM_F_ACK;
        match self {
            TcRequest::AddQdisc | TcRequest::AddClass | TcRequest::AddFilter => {
                base | NLM_F_EXCL | NLM_F_CREATE
            }
            TcRequest::ReplaceQdisc => base | NLM_F_REPLACE | NLM_F_CREATE,
            TcRequest::ReplaceClass => base | NLM_F_CREATE,
            TcRequest::DelQdisc | TcRequest::DelClass | TcRequest::DelFilter => base,
        }
    }

    /// The complete request; sequence number and port id are left 0 for the sender.
    pub fn into_netlink(self, msg: TcMessage) -> NetlinkMessage<RouteNetlinkMessage> {
        let payload = match self {
            TcRequest::AddQdisc | TcRequest::ReplaceQdisc => {
                RouteNetlinkMessage::NewQueueDiscipline(msg)
            }
            TcRequest::DelQdisc => RouteNetlinkMessage::DelQueueDiscipline(msg),
            TcRequest::AddClass | TcRequest::ReplaceClass => {
                RouteNetlinkMessage::NewTrafficClass(msg)
            }
            TcRequest::DelClass => RouteNetlinkMessage::DelTrafficClass(msg),
            TcRequest::AddFilter => RouteNetlinkMessage::NewTrafficFilter(msg),
            TcRequest::DelFilter => RouteNetlinkMessage::DelTrafficFilter(msg),
        };
        let mut header = NetlinkHeader::default();
        header.flags = self.flags();
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(payload));
        nl.finalize();
        nl
    }
}
