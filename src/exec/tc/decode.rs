//! The kernel's tc dumps back into netscript's specs: qdiscs (with foreign ones seen but
//! not claimed), htb classes, u32 filters and the ingress redirect.

use super::*;
use crate::plan::action::{ClassSpec, FilterSpec, QdiscParent, QdiscSpec};
use netlink_packet_route::tc::{TcAttribute, TcFilterU32Option, TcHandle, TcMessage, TcOption};

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
        "tbf" if at_root_1 => Some(QdiscSpec::Tbf(TbfState::parse(&options()?)?.to_tbf())),
        "htb" if at_root_1 => Some(htb::parse_qdisc_options(&options()?)?),
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
    decode_class_in(msg, None)
}

/// [`decode_class`] for a class of an htb with `r2q` (`None`: tc's 10): a quantum that
/// is the kernel's default for that r2q reads as none.
pub fn decode_class_in(msg: &TcMessage, r2q: Option<u32>) -> Result<Option<ClassSpec>, TcDecodeError> {
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
    Ok(Some(state.to_class(h.minor as u32, parent, r2q, Psched::local())))
}

/// A dumped filter on an htb qdisc (`parent 1:`) or the ingress qdisc: its priority, and what it does in
/// netscript's terms (`None` when netscript would not have written it).
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedFilter {
    pub prio: u32,
    /// The kernel's handle (a u32 node's `table:bucket:node`).
    pub handle: u32,
    pub spec: Option<FilterSpec>,
}

/// Reads a dumped filter of qdisc `1:` or of the ingress qdisc `ffff:`. The kernel dumps
/// each u32 filter as several messages (the priority, its hash table, its key nodes);
/// only key nodes, which carry a selector, are filters here: the rest give `Ok(None)`.
pub fn decode_filter(msg: &TcMessage) -> Result<Option<DecodedFilter>, TcDecodeError> {
    let ingress = on_ingress_qdisc(msg.header.parent);
    if msg.header.parent != handle(QDISC_MAJOR, 0) && !ingress {
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
        // A hash table: one a script names (`table ID`, ids below the kernel's own from
        // 800) is reported; the priority's own table, and the priority itself, are not.
        let table = u32::from(msg.header.handle) >> 20;
        let divisor = options.iter().find_map(|o| match o {
            TcFilterU32Option::Divisor(d) => Some(*d),
            _ => None,
        });
        return Ok(match divisor {
            Some(divisor) if ingress && u32::from(msg.header.handle) & 0xf_ffff == 0 && (1..=crate::model::MAX_U32_TABLE).contains(&table) => {
                let protocol_all = protocol == ETH_P_ALL;
                Some(DecodedFilter { prio, handle: u32::from(msg.header.handle), spec: protocol_all.then_some(FilterSpec::U32Table { prio, table, divisor }) })
            }
            _ => None,
        });
    }
    let owned: Vec<TcFilterU32Option> = options.into_iter().cloned().collect();
    let whole = u32::from(msg.header.handle);
    let spec = (kind_of(msg) == Some("u32"))
        .then(|| filter::decode_classify(&owned))
        .flatten()
        // In a script's table, protocol all (the table's); elsewhere netscript's filters
        // are protocol ip.
        .filter(|c| protocol == if c.ht.is_some() { ETH_P_ALL } else { ETH_P_IP })
        .filter(|c| c.ht.is_none() || ingress)
        .filter(|c| c.classid.is_none_or(|id| id.major == QDISC_MAJOR))
        .map(|c| FilterSpec::U32 {
            ingress,
            // A node of a script's table always says its node id.
            handle: if c.ht.is_some() { Some(whole & 0xfff) } else { u32_node(msg.header.handle) },
            prio,
            proto: c.proto,
            src: c.src,
            dst: c.dst,
            sport: c.sport,
            dport: c.dport,
            flowid: c.classid.map(|id| id.minor as u32),
            action: c.verdict,
            link: c.link.map(|(table, _)| table),
            hashkey: c.link.and_then(|(_, key)| key),
            raw: c.raw,
            ht: c.ht,
        });
    Ok(Some(DecodedFilter { prio, handle: whole, spec }))
}

/// Whether a dumped filter's parent is the ingress qdisc: `ffff:`, or `ffff:fff2`, the
/// ingress hook as `tc filter add dev X ingress` names it (the kernel reports one or the
/// other, by how the qdisc's filters were added).
fn on_ingress_qdisc(parent: TcHandle) -> bool {
    parent == handle(INGRESS_MAJOR, 0) || parent == handle(INGRESS_MAJOR, INGRESS_HOOK_MINOR)
}

/// A u32 key node's node id (the low 12 bits of its handle `htid:hash:node`), `None`
/// for the kernel's default, 800, as netscript's model keeps it (and for 0, which only a
/// request has: the kernel's choice).
fn u32_node(handle: TcHandle) -> Option<u32> {
    let node = u32::from(handle) & 0xfff;
    (node != 0 && node != crate::model::U32_DEFAULT_NODE).then_some(node)
}

/// The device index a filter on the ingress qdisc (`parent ffff:`) redirects to, when it
/// is netscript's redirect (`u32 match u32 0 0 action mirred egress redirect dev IFB`).
/// None for anything else, including the u32 hash-table nodes the dump also lists.
pub fn decode_redirect(msg: &TcMessage) -> Option<u32> {
    use netlink_packet_route::tc::{TcActionAttribute, TcActionMirrorOption, TcActionOption, TcMirrorActionType};
    if !on_ingress_qdisc(msg.header.parent) || kind_of(msg) != Some("u32") {
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

