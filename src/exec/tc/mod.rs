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
//! | `FilterSpec::U32` | `tc filter add dev X parent 1: protocol ip prio P u32 match ip ... flowid 1:F` | [`filter_message`] |
//! | `FilterSpec::MirredToIfb` | `tc filter add dev X parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev IFB` | [`filter_message`] |
//!
//! The ingress redirect uses u32 with `match u32 0 0`, not matchall: the kernel this
//! was written against has u32, bpf and mirred, but not `CONFIG_NET_CLS_MATCHALL`.
//!
//! Rates, sizes and times go through tc's own arithmetic ([`Psched`], from
//! `tc/tc_core.c`), which depends on `/proc/net/psched`: use [`Psched::read`] on the
//! machine that applies the messages ([`Psched::HIGH_RES`] is what current kernels say).

mod filter;
mod htb;
mod kernel;
mod netem;
mod psched;
mod tbf;
mod wire;

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
use netlink_packet_route::tc::{TcAttribute, TcFilterU32Option, TcHandle, TcMessage, TcOption};

/// The handle netscript gives its root qdiscs, `1:`; classes are `1:minor`.
pub const QDISC_MAJOR: u16 = 1;
/// `ffff:`, the handle of the ingress and clsact qdiscs.
pub const INGRESS_MAJOR: u16 = 0xffff;
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
        QdiscSpec::Htb { default_class } => msg
            .attributes
            .push(raw_options(htb::qdisc_options(*default_class))),
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
        FilterSpec::U32 {
            proto,
            src,
            dst,
            sport,
            dport,
            flowid,
            ..
        } => filter::classify_options(
            *proto,
            src.as_ref(),
            dst.as_ref(),
            *sport,
            *dport,
            handle(QDISC_MAJOR, minor(*flowid)?),
        )?,
        FilterSpec::MirredToIfb { ifb } => {
            let index = ifb_ifindex.ok_or_else(|| TcError::MissingIfbIndex(ifb.clone()))?;
            filter::redirect_options(index)
        }
    };
    // The kernel picks the filter's handle (tc sends 0).
    let mut msg = header(ifindex, TcHandle::UNSPEC, parent, info);
    msg.attributes.push(TcAttribute::Kind("u32".to_string()));
    msg.attributes.push(TcAttribute::Options(
        options.into_iter().map(TcOption::U32).collect(),
    ));
    Ok(msg)
}

/// `tc filter del dev X parent 1: protocol ip prio P` (or the redirect's `parent ffff:
/// protocol all prio 1`): removes every filter of that priority, which is the one
/// netscript put there.
pub fn filter_delete_message(ifindex: i32, filter: &FilterSpec) -> Result<TcMessage, TcError> {
    let (parent, info) = filter_position(filter)?;
    Ok(header(ifindex, TcHandle::UNSPEC, parent, info))
}

fn filter_position(filter: &FilterSpec) -> Result<(TcHandle, u32), TcError> {
    Ok(match filter {
        FilterSpec::U32 { prio, .. } => {
            let prio = u16::try_from(*prio)
                .ok()
                .filter(|p| *p != 0)
                .ok_or(TcError::Invalid("a filter prio is between 1 and 65535"))?;
            (handle(QDISC_MAJOR, 0), filter_info(prio, ETH_P_IP))
        }
        FilterSpec::MirredToIfb { .. } => (
            handle(INGRESS_MAJOR, 0),
            filter_info(REDIRECT_PRIO, ETH_P_ALL),
        ),
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

/// A qdisc from a dump, as far as netscript can tell.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedQdisc {
    pub kind: String,
    pub handle: TcHandle,
    pub parent: TcHandle,
    /// Where it sits, if that is a place netscript puts qdiscs (the root, or the
    /// ingress/clsact hook).
    pub position: Option<QdiscParent>,
    /// The spec, for the kinds netscript makes (tbf, htb, netem, ingress, clsact) when
    /// they sit where netscript puts them (root handle 1:, or ffff:). Anything else —
    /// the kernel's default qdiscs, a tbf with a peakrate, a qdisc under a class — is
    /// `None`: present, but not something netscript would have made.
    pub spec: Option<QdiscSpec>,
}

fn kind_of(msg: &TcMessage) -> Option<&str> {
    msg.attributes.iter().find_map(|a| match a {
        TcAttribute::Kind(k) => Some(k.as_str()),
        _ => None,
    })
}

/// The TCA_OPTIONS payload of a message: from a kernel dump parsed by
/// netlink-packet-route (one opaque option for kinds it does not know), or from a
/// message built here (one opaque attribute).
fn options_payload(msg: &TcMessage) -> Option<Vec<u8>> {
    msg.attributes.iter().find_map(|a| match a {
        TcAttribute::Other(nla) if wire::is_options_kind(netlink_packet_core::Nla::kind(nla)) => {
            Some(wire::nla_value(nla))
        }
        TcAttribute::Options(options) => match options.as_slice() {
            [TcOption::Other(nla)]
                if wire::is_options_kind(netlink_packet_core::Nla::kind(nla)) =>
            {
                Some(wire::nla_value(nla))
            }
            _ => None,
        },
        _ => None,
    })
}

/// Reads a dumped qdisc (RTM_NEWQDISC from a dump) into netscript's terms.
pub fn decode_qdisc(msg: &TcMessage) -> Result<DecodedQdisc, TcDecodeError> {
    let kind = kind_of(msg)
        .ok_or(TcDecodeError::Missing("TCA_KIND"))?
        .to_string();
    let (handle_, parent) = (msg.header.handle, msg.header.parent);
    let position = if parent == TcHandle::ROOT {
        Some(QdiscParent::Root)
    } else if parent == TcHandle::INGRESS && handle_ == handle(INGRESS_MAJOR, 0) {
        match kind.as_str() {
            "ingress" => Some(QdiscParent::Ingress),
            "clsact" => Some(QdiscParent::Clsact),
            _ => None,
        }
    } else {
        None
    };
    let at_root_1 = position == Some(QdiscParent::Root) && handle_ == handle(QDISC_MAJOR, 0);
    let options = || options_payload(msg).ok_or(TcDecodeError::Missing("TCA_OPTIONS"));
    let spec = match kind.as_str() {
        "tbf" if at_root_1 => {
            let state = TbfState::parse(&options()?)?;
            // A tbf with a peak rate is not one netscript makes.
            (state.peak_rate_bytes == 0).then(|| QdiscSpec::Tbf(state.to_tbf()))
        }
        "htb" if at_root_1 => Some(QdiscSpec::Htb {
            default_class: htb::parse_qdisc_options(&options()?)?,
        }),
        "netem" if at_root_1 => Some(QdiscSpec::Netem(NetemState::parse(&options()?)?.to_netem())),
        "ingress" if position == Some(QdiscParent::Ingress) => Some(QdiscSpec::Ingress),
        "clsact" if position == Some(QdiscParent::Clsact) => Some(QdiscSpec::Clsact),
        _ => None,
    };
    Ok(DecodedQdisc {
        kind,
        handle: handle_,
        parent,
        position,
        spec,
    })
}

/// Reads a dumped htb class of qdisc 1: into a [`ClassSpec`]; `None` for classes of other
/// kinds or other qdiscs.
pub fn decode_class(msg: &TcMessage) -> Result<Option<ClassSpec>, TcDecodeError> {
    let (h, p) = (msg.header.handle, msg.header.parent);
    if kind_of(msg) != Some("htb") || h.major != QDISC_MAJOR {
        return Ok(None);
    }
    // The kernel dumps a root class with parent TC_H_ROOT (tc sent `parent 1:`).
    let parent = if p == TcHandle::ROOT || p == handle(QDISC_MAJOR, 0) {
        None
    } else if p.major == QDISC_MAJOR {
        Some(p.minor as u32)
    } else {
        return Ok(None);
    };
    let payload = options_payload(msg).ok_or(TcDecodeError::Missing("TCA_OPTIONS"))?;
    let state = HtbClassState::parse(&payload)?;
    Ok(Some(state.to_class(h.minor as u32, parent)))
}

/// A dumped filter on an htb qdisc (`parent 1:`): its priority, and what it does in
/// netscript's terms (`None` when netscript would not have written it).
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedFilter {
    pub prio: u32,
    pub spec: Option<FilterSpec>,
}

/// Reads a dumped filter of qdisc `1:`. The kernel dumps each u32 filter as several
/// messages (the priority, its hash table, its key nodes); only key nodes, which carry a
/// selector, are filters here: the rest give `Ok(None)`.
pub fn decode_filter(msg: &TcMessage) -> Result<Option<DecodedFilter>, TcDecodeError> {
    if msg.header.parent != handle(QDISC_MAJOR, 0) {
        return Ok(None);
    }
    let prio = msg.header.info >> 16;
    let protocol = u16::from_be((msg.header.info & 0xffff) as u16);
    let options: Vec<&TcFilterU32Option> = msg
        .attributes
        .iter()
        .filter_map(|a| match a {
            TcAttribute::Options(options) => Some(options),
            _ => None,
        })
        .flatten()
        .filter_map(|o| match o {
            TcOption::U32(u) => Some(u),
            _ => None,
        })
        .collect();
    let is_key_node = options.iter().any(|o| matches!(o, TcFilterU32Option::Selector(_)));
    if kind_of(msg) == Some("u32") && !is_key_node {
        return Ok(None);
    }
    let owned: Vec<TcFilterU32Option> = options.into_iter().cloned().collect();
    let spec = (kind_of(msg) == Some("u32") && protocol == ETH_P_IP)
        .then(|| filter::decode_classify(&owned))
        .flatten()
        .filter(|c| c.classid.major == QDISC_MAJOR)
        .map(|c| FilterSpec::U32 {
            prio,
            proto: c.proto,
            src: c.src,
            dst: c.dst,
            sport: c.sport,
            dport: c.dport,
            flowid: c.classid.minor as u32,
        });
    Ok(Some(DecodedFilter { prio, spec }))
}

/// The device index a filter on the ingress qdisc (`parent ffff:`) redirects to, when it
/// is netscript's redirect (`u32 match u32 0 0 action mirred egress redirect dev IFB`).
/// None for anything else, including the u32 hash-table nodes the dump also lists.
pub fn decode_redirect(msg: &TcMessage) -> Option<u32> {
    use netlink_packet_route::tc::{TcActionAttribute, TcActionMirrorOption, TcActionOption, TcMirrorActionType};
    if msg.header.parent != handle(INGRESS_MAJOR, 0) || kind_of(msg) != Some("u32") {
        return None;
    }
    let options = msg.attributes.iter().filter_map(|a| match a {
        TcAttribute::Options(options) => Some(options),
        _ => None,
    });
    let actions = options.flatten().filter_map(|o| match o {
        TcOption::U32(TcFilterU32Option::Action(actions)) => Some(actions),
        _ => None,
    });
    let attributes = actions.flatten().flat_map(|action| action.attributes.iter());
    let parms = attributes
        .filter_map(|a| match a {
            TcActionAttribute::Options(options) => Some(options),
            _ => None,
        })
        .flatten()
        .find_map(|o| match o {
            TcActionOption::Mirror(TcActionMirrorOption::Parms(parms)) => Some(parms),
            _ => None,
        })?;
    (parms.eaction == TcMirrorActionType::EgressRedir).then_some(parms.ifindex)
}

/// Whether the kernel holding `observed` (decoded from a dump) is what applying `desired`
/// leaves it holding. Decoding rounds (see [`TbfState::to_tbf`], [`NetemState::to_netem`],
/// [`HtbClassState::to_class`]); this compares the decoding of the kernel state `desired`
/// predictably produces with `observed`, so it tolerates exactly that rounding and
/// nothing more. A desired spec tc would refuse is never equivalent.
pub fn equivalent(desired: &QdiscSpec, observed: &QdiscSpec, psched: &Psched) -> bool {
    match (desired, observed) {
        (QdiscSpec::Tbf(d), QdiscSpec::Tbf(o)) => {
            TbfParams::new(d, psched).is_ok_and(|p| TbfState::predict(&p).to_tbf() == *o)
        }
        (QdiscSpec::Netem(d), QdiscSpec::Netem(o)) => {
            NetemParams::new(d, psched).is_ok_and(|p| NetemState::predict(&p).to_netem() == *o)
        }
        (QdiscSpec::Htb { default_class: d }, QdiscSpec::Htb { default_class: o }) => d == o,
        (QdiscSpec::Ingress, QdiscSpec::Ingress) | (QdiscSpec::Clsact, QdiscSpec::Clsact) => true,
        _ => false,
    }
}

/// [`equivalent`] for htb classes: same id and parent, same rates in bytes/s, same
/// priority as the kernel keeps it (prio 0 and none are the same; above 7 is 7).
pub fn class_equivalent(desired: &ClassSpec, observed: &ClassSpec, psched: &Psched) -> bool {
    desired.id == observed.id
        && desired.parent.unwrap_or(0) == observed.parent.unwrap_or(0)
        && HtbClassParams::new(desired, psched).is_ok_and(|p| {
            HtbClassState::predict(&p).to_class(desired.id, observed.parent) == *observed
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Netem, Tbf};
    use crate::units::{Duration, Percent, Rate, Size};
    use netlink_packet_core::{Emitable, Parseable};

    const P: Psched = Psched::HIGH_RES;

    /// Through the wire and back, as a dump arrives: emitted, then parsed by
    /// netlink-packet-route.
    fn over_the_wire(msg: &TcMessage) -> TcMessage {
        let mut bytes = vec![0; msg.buffer_len()];
        msg.emit(&mut bytes);
        TcMessage::parse(&bytes).unwrap()
    }

    fn round_trip(spec: &QdiscSpec) -> QdiscSpec {
        let msg = over_the_wire(&qdisc_message(3, spec, &P).unwrap());
        decode_qdisc(&msg).unwrap().spec.unwrap()
    }

    fn tbf(rate: u64, burst: u64, latency_us: u64) -> Tbf {
        Tbf {
            rate: Rate(rate),
            burst: Size(burst),
            latency: Duration(latency_us * 1000),
        }
    }

    #[test]
    fn tbf_round_trips_exactly_for_whole_values() {
        for t in [
            tbf(1_000_000, 10_240, 70_000),
            tbf(5_000_000, 32_768, 400_000),
            tbf(8_000, 1_514, 1_000),
        ] {
            assert_eq!(round_trip(&QdiscSpec::Tbf(t.clone())), QdiscSpec::Tbf(t));
        }
    }

    #[test]
    fn tbf_equivalence_tolerates_only_the_rounding() {
        // 70.0001 ms at 1mbit is 0.0125 bytes more than 70 ms: tc's limit is the same.
        let desired = QdiscSpec::Tbf(tbf(1_000_000, 10_240, 70_000));
        let observed = QdiscSpec::Tbf(
            TbfState::predict(&TbfParams::new(&tbf(1_000_000, 10_240, 70_000), &P).unwrap())
                .to_tbf(),
        );
        assert!(equivalent(&desired, &observed, &P));
        let same_limit = QdiscSpec::Tbf(Tbf {
            latency: Duration(70_000_100),
            ..tbf(1_000_000, 10_240, 70_000)
        });
        assert!(equivalent(&same_limit, &observed, &P));
        for different in [
            tbf(1_000_000, 10_241, 70_000),
            tbf(1_000_000, 10_240, 70_008),
            tbf(1_000_008, 10_240, 70_000),
        ] {
            assert!(!equivalent(&QdiscSpec::Tbf(different), &observed, &P));
        }
        assert!(!equivalent(
            &desired,
            &QdiscSpec::Htb { default_class: 0 },
            &P
        ));
    }

    #[test]
    fn htb_qdisc_round_trips() {
        for default_class in [0, 0x20, 0xffff] {
            assert_eq!(
                round_trip(&QdiscSpec::Htb { default_class }),
                QdiscSpec::Htb { default_class }
            );
        }
    }

    fn netem(delay_us: u64, jitter_us: Option<u64>, loss: Option<f64>, rate: Option<u64>) -> Netem {
        Netem {
            delay: Duration(delay_us * 1000),
            jitter: jitter_us.map(|j| Duration(j * 1000)),
            loss: loss.map(Percent),
            rate: rate.map(Rate),
        }
    }

    #[test]
    fn netem_round_trips_through_equivalence() {
        for n in [
            netem(100_000, None, None, None),
            netem(100_000, Some(10_000), Some(1.0), Some(1_000_000)),
            netem(0, None, Some(0.25), None),
            netem(3, Some(5), Some(33.3), Some(40_000_000_000)),
        ] {
            let spec = QdiscSpec::Netem(n.clone());
            let decoded = round_trip(&spec);
            assert!(equivalent(&spec, &decoded, &P), "{n:?} → {decoded:?}");
            let QdiscSpec::Netem(d) = &decoded else {
                panic!()
            };
            assert_eq!(d.rate, n.rate);
            assert_eq!(d.jitter.is_some(), n.jitter.is_some());
        }
        // Whole multiples of 8 µs are exact; 3 µs is 46 ticks, 2944 ns.
        assert_eq!(
            round_trip(&QdiscSpec::Netem(netem(100_000, None, None, None))),
            QdiscSpec::Netem(netem(100_000, None, None, None))
        );
        let QdiscSpec::Netem(short) = round_trip(&QdiscSpec::Netem(netem(3, None, None, None)))
        else {
            panic!()
        };
        assert_eq!(short.delay, Duration(2944));
        let desired = QdiscSpec::Netem(netem(100_000, None, Some(1.0), None));
        assert!(!equivalent(
            &desired,
            &QdiscSpec::Netem(netem(100_000, None, Some(1.1), None)),
            &P
        ));
        assert!(!equivalent(
            &desired,
            &QdiscSpec::Netem(netem(100_008, None, Some(1.0), None)),
            &P
        ));
    }

    #[test]
    fn netem_dump_prefers_the_64_bit_times() {
        // A kernel dump carries TCA_NETEM_LATENCY64/JITTER64 (ns) after the struct.
        let mut options = NetemParams::new(&netem(1, None, None, None), &P)
            .unwrap()
            .options();
        options.extend(wire::nlas_bytes(&[
            wire::nla(10, 123_456_789u64.to_ne_bytes().to_vec()),
            wire::nla(11, 1_000u64.to_ne_bytes().to_vec()),
        ]));
        let state = NetemState::parse(&options).unwrap();
        assert_eq!((state.latency_ns, state.jitter_ns), (123_456_789, 1_000));
    }

    #[test]
    fn classes_round_trip() {
        for (class, wire_parent) in [
            (
                ClassSpec {
                    id: 0x10,
                    parent: None,
                    rate: Rate(1_000_000),
                    ceil: Rate(2_000_000),
                    prio: Some(1),
                },
                TcHandle::ROOT,
            ),
            (
                ClassSpec {
                    id: 0x20,
                    parent: Some(1),
                    rate: Rate(40_000_000_000),
                    ceil: Rate(100_000_000_000),
                    prio: None,
                },
                handle(1, 1),
            ),
        ] {
            let mut msg = over_the_wire(&class_message(3, &class, &P).unwrap());
            assert!(class_equivalent(
                &class,
                &decode_class(&msg).unwrap().unwrap(),
                &P
            ));
            assert_eq!(decode_class(&msg).unwrap().unwrap(), class);
            // As the kernel dumps it (a root class has parent TC_H_ROOT).
            msg.header.parent = wire_parent;
            assert_eq!(decode_class(&msg).unwrap().unwrap(), class);
        }
        let c = ClassSpec {
            id: 0x10,
            parent: None,
            rate: Rate(1_000_000),
            ceil: Rate(1_000_000),
            prio: Some(9),
        };
        let observed = ClassSpec {
            prio: Some(7),
            ..c.clone()
        };
        assert!(
            class_equivalent(&c, &observed, &P),
            "the kernel clamps prio to 7"
        );
        assert!(!class_equivalent(
            &c,
            &ClassSpec {
                id: 0x11,
                ..observed.clone()
            },
            &P
        ));
        assert!(!class_equivalent(
            &c,
            &ClassSpec {
                ceil: Rate(2_000_000),
                ..observed
            },
            &P
        ));
    }

    #[test]
    fn foreign_qdiscs_are_seen_but_not_claimed() {
        // A tbf somewhere else than root 1:, and a kind netscript does not make.
        let mut msg = over_the_wire(
            &qdisc_message(3, &QdiscSpec::Tbf(tbf(1_000_000, 10_240, 70_000)), &P).unwrap(),
        );
        msg.header.handle = handle(2, 0);
        let decoded = decode_qdisc(&msg).unwrap();
        assert_eq!(
            (decoded.kind.as_str(), decoded.position, decoded.spec),
            ("tbf", Some(QdiscParent::Root), None)
        );
        let mut fq = TcMessage::with_index(3);
        fq.header.parent = TcHandle::ROOT;
        fq.attributes.push(TcAttribute::Kind("pfifo_fast".into()));
        assert_eq!(decode_qdisc(&fq).unwrap().spec, None);
    }

    #[test]
    fn u32_filters_round_trip() {
        let u32 = |prio, proto, src: Option<&str>, dst: Option<&str>, sport, dport, flowid| FilterSpec::U32 {
            prio,
            proto,
            src: src.map(|s| s.parse().unwrap()),
            dst: dst.map(|s| s.parse().unwrap()),
            sport,
            dport,
            flowid,
        };
        use crate::model::IpProto::*;
        for spec in [
            u32(1, None, None, None, None, None, 0x10),
            u32(2, Some(Tcp), None, None, None, Some(5001), 0x10),
            u32(3, Some(Udp), Some("10.0.0.0/24"), Some("192.168.1.7/32"), Some(53), Some(4000), 0xffff),
            u32(7, None, Some("0.0.0.0/0"), None, Some(80), None, 0x20),
            u32(9, Some(Icmp), None, Some("10.1.0.0/16"), None, None, 1),
        ] {
            let msg = over_the_wire(&filter_message(3, &spec, None).unwrap());
            let decoded = decode_filter(&msg).unwrap().unwrap();
            assert_eq!(decoded.spec.as_ref(), Some(&spec));
        }
        // The ingress redirect is not on qdisc 1:, and a hash-table node is no filter.
        let redirect = FilterSpec::MirredToIfb { ifb: "ifb-x".into() };
        assert_eq!(decode_filter(&over_the_wire(&filter_message(3, &redirect, Some(9)).unwrap())).unwrap(), None);
        // It is decoded as a redirect instead, to the device it names; a classifier is not.
        assert_eq!(decode_redirect(&over_the_wire(&filter_message(3, &redirect, Some(9)).unwrap())), Some(9));
        assert_eq!(decode_redirect(&over_the_wire(&filter_message(3, &u32(1, None, None, None, None, Some(1), 0x10), None).unwrap())), None);
        let mut node = filter_message(3, &u32(1, None, None, None, None, Some(1), 0x10), None).unwrap();
        node.attributes.retain(|a| matches!(a, TcAttribute::Kind(_)));
        assert_eq!(decode_filter(&over_the_wire(&node)).unwrap(), None);
        // A key netscript does not write (an offset mask): seen, but foreign.
        let mut odd = filter_message(3, &u32(4, None, None, None, None, Some(1), 0x10), None).unwrap();
        for a in &mut odd.attributes {
            if let TcAttribute::Options(options) = a {
                for o in options {
                    if let TcOption::U32(TcFilterU32Option::Selector(sel)) = o {
                        sel.keys[0].off = 24;
                    }
                }
            }
        }
        assert_eq!(decode_filter(&over_the_wire(&odd)).unwrap(), Some(DecodedFilter { prio: 4, spec: None }));
    }

    #[test]
    fn refusals() {
        let zero = QdiscSpec::Tbf(tbf(0, 10_240, 70_000));
        assert_eq!(qdisc_message(3, &zero, &P), Err(TcError::ZeroRate));
        let huge_burst = QdiscSpec::Tbf(tbf(1_000_000, 1 << 33, 70_000));
        assert!(qdisc_message(3, &huge_burst, &P).is_err());
        let v6 = FilterSpec::U32 {
            prio: 1,
            proto: None,
            src: Some("fd00::/8".parse().unwrap()),
            dst: None,
            sport: None,
            dport: None,
            flowid: 0x10,
        };
        assert!(filter_message(3, &v6, None).is_err());
        let prio0 = FilterSpec::U32 {
            prio: 0,
            proto: None,
            src: None,
            dst: None,
            sport: None,
            dport: Some(1),
            flowid: 0x10,
        };
        assert!(filter_message(3, &prio0, None).is_err());
        let big_minor = ClassSpec {
            id: 0x10000,
            parent: None,
            rate: Rate(8),
            ceil: Rate(8),
            prio: None,
        };
        assert!(class_message(3, &big_minor, &P).is_err());
        let loss = QdiscSpec::Netem(netem(0, None, Some(101.0), None));
        assert!(qdisc_message(3, &loss, &P).is_err());
    }
}
