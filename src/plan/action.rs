//! Operations: what the planner asks of the executor. Each is self-contained (names,
//! not interface indexes) so that the planner stays pure; the executor resolves names.

use crate::model::{IfAddr, BpfDirection, BpfProgram, Htb, IpProto, MacvlanMode, Netem, Tbf, XdpMode};
use crate::units::{Rate, Size};
use ipnet::IpNet;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Action {
    CreateNetns { ns: String },
    DeleteNetns { ns: String },
    CreateLink { ns: String, name: String, kind: LinkKind, attrs: LinkAttrs },
    DeleteLink { ns: String, name: String },
    SetLink { ns: String, name: String, set: LinkSet },
    /// Changes a link's kind-specific attributes in place (an ipvlan's mode and flag, a
    /// tunnel's addresses, ttl and key):
    /// `kind` is the link's kind with all of them as wanted (`ip link set NAME type …`).
    ChangeLink { ns: String, name: String, kind: LinkKind },
    AddAddr { ns: String, dev: String, addr: IfAddr },
    DelAddr { ns: String, dev: String, addr: IfAddr },
    AddRoute { ns: String, route: RouteSpec },
    DelRoute { ns: String, route: RouteSpec },
    AddRule { ns: String, rule: RuleSpec },
    DelRule { ns: String, rule: RuleSpec },
    /// Adds the qdisc, or replaces one of the same kind in place (tc's `replace`).
    ReplaceQdisc { ns: String, dev: String, qdisc: QdiscSpec },
    DelQdisc { ns: String, dev: String, parent: QdiscParent },
    ReplaceClass { ns: String, dev: String, class: ClassSpec },
    DelClass { ns: String, dev: String, id: u32 },
    AddFilter { ns: String, dev: String, filter: FilterSpec },
    DelFilter { ns: String, dev: String, filter: FilterSpec },
    SetSysctl { ns: String, key: String, value: String },
    /// Attaches an eBPF classifier as a cls_bpf filter in direct-action mode on the
    /// clsact qdisc's ingress or egress hook, at priority `prio`.
    AttachBpf {
        ns: String,
        dev: String,
        direction: BpfDirection,
        prio: u16,
        /// tc's `handle`; `None` for netscript's default, 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        handle: Option<u32>,
        program: BpfSource,
    },
    /// Removes the filters of priority `prio` on that hook. `keep` is the id of the
    /// program there, which the executor keeps loaded until it ends so that a rollback
    /// can put it back.
    DetachBpf { ns: String, dev: String, direction: BpfDirection, prio: u16, keep: Option<u32> },
    /// Attaches an XDP program to the link (replacing the one there in the same mode);
    /// `mode` `None` lets the kernel choose (native when the driver has it).
    /// `keep`: as for [`Action::DetachBpf`], the program being replaced.
    AttachXdp { ns: String, dev: String, mode: Option<XdpMode>, program: BpfSource, keep: Option<u32> },
    DetachXdp { ns: String, dev: String, mode: Option<XdpMode>, keep: Option<u32> },
    /// Makes netscript's nftables table in `ns` (`inet netscript`) hold exactly `table`:
    /// one nftables batch, which the kernel applies atomically.
    SetFirewall { ns: String, table: super::firewall::FwTable },
    /// Deletes netscript's nftables table in `ns`.
    DeleteFirewall { ns: String },
}

/// Where an attached program comes from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BpfSource {
    /// Loaded from an object file; the executor refuses if the file's hash is no longer
    /// the one checked.
    Object { path: std::path::PathBuf, program: BpfProgram },
    /// A program the kernel holds already, by id (the undo of a replacement): `name` is
    /// the tc filter name it had. `again`: the object or code that made it, where this
    /// script's record knows it, to load it again should the kernel have freed it (a
    /// recovery after a SIGKILL: the process that kept it loaded is gone).
    Loaded {
        id: u32,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        again: Option<Box<BpfSource>>,
    },
    /// Compiled by netscript from inline rules: the instructions' bytes in hex (the
    /// counter map, when `counters` > 0, is created at load and patched in), and the
    /// label it carries (`section` `inline`, `hash` of the code).
    Code { target: super::bpfgen::Target, code: String, counters: u32, rules: usize, program: BpfProgram },
}

/// The name netscript gives its cls_bpf filters (`TCA_BPF_NAME`, shown by `tc filter
/// show`): it carries the object's hash, so that a later run sees whether the program
/// attached is the one the script names.
pub fn bpf_filter_name(path: &std::path::Path, program: &BpfProgram) -> String {
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    format!("netscript:{}:{}:{}:{}", program.hash, program.section, program.function, file)
}

/// What a netscript filter name says: (hash, section, function, file).
pub fn parse_bpf_filter_name(name: &str) -> Option<BpfLabel> {
    let mut parts = name.strip_prefix("netscript:")?.splitn(4, ':');
    let label = BpfLabel {
        hash: parts.next()?.to_string(),
        section: parts.next()?.to_string(),
        function: parts.next()?.to_string(),
        file: parts.next()?.to_string(),
    };
    Some(label)
}

/// What netscript attached: the program's object, as recorded on the attachment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BpfLabel {
    pub hash: String,
    pub section: String,
    pub function: String,
    /// The object's file name.
    pub file: String,
}

impl Action {
    /// Whether this removes an object (the undo of making it), as opposed to making one
    /// or giving back what was there before.
    pub fn removes_an_object(&self) -> bool {
        matches!(
            self,
            Action::DeleteNetns { .. }
                | Action::DeleteLink { .. }
                | Action::DelAddr { .. }
                | Action::DelRoute { .. }
                | Action::DelRule { .. }
                | Action::DelQdisc { .. }
                | Action::DelClass { .. }
                | Action::DelFilter { .. }
                | Action::DeleteFirewall { .. }
        )
    }

    /// The namespace whose netlink socket carries this operation (`host` for the initial one).
    pub fn namespace(&self) -> &str {
        match self {
            Action::CreateNetns { ns }
            | Action::DeleteNetns { ns }
            | Action::CreateLink { ns, .. }
            | Action::DeleteLink { ns, .. }
            | Action::SetLink { ns, .. }
            | Action::ChangeLink { ns, .. }
            | Action::AddAddr { ns, .. }
            | Action::DelAddr { ns, .. }
            | Action::AddRoute { ns, .. }
            | Action::DelRoute { ns, .. }
            | Action::AddRule { ns, .. }
            | Action::DelRule { ns, .. }
            | Action::ReplaceQdisc { ns, .. }
            | Action::DelQdisc { ns, .. }
            | Action::ReplaceClass { ns, .. }
            | Action::DelClass { ns, .. }
            | Action::AddFilter { ns, .. }
            | Action::DelFilter { ns, .. }
            | Action::SetSysctl { ns, .. }
            | Action::AttachBpf { ns, .. }
            | Action::DetachBpf { ns, .. }
            | Action::AttachXdp { ns, .. }
            | Action::DetachXdp { ns, .. }
            | Action::SetFirewall { ns, .. }
            | Action::DeleteFirewall { ns } => ns,
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// Both ends are created at once, each directly in its namespace.
    Veth { peer_ns: String, peer_name: String, peer_attrs: LinkAttrs },
    Bridge,
    Dummy,
    Vrf { table: u32 },
    Macvlan { parent: String, mode: MacvlanMode },
    /// An 802.1Q VLAN on `parent` (`ip link add link PARENT name NAME type vlan id ID`).
    Vlan { parent: String, id: u16, protocol: crate::model::VlanProtocol },
    /// An ipvlan on `parent` (`ip link add NAME link PARENT type ipvlan mode MODE FLAG`).
    Ipvlan { parent: String, mode: crate::model::IpvlanMode, flag: crate::model::IpvlanFlag },
    /// An IPv4 tunnel (`ip link add NAME type ipip|gre local A remote B ttl N [key K]`).
    Tunnel { tunnel: crate::model::TunnelKind, params: crate::model::TunnelParams },
    Vxlan { vni: u32, remote: Option<IpAddr>, group: Option<IpAddr>, local: Option<IpAddr>, dev: Option<String>, port: Option<u16> },
    /// The intermediate device of ingress shaping.
    Ifb,
}

/// Attributes set when a link is created, so that no second round trip is needed.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinkAttrs {
    pub up: bool,
    pub mtu: Option<u32>,
    pub mac: Option<[u8; 6]>,
    pub master: Option<String>,
}

/// A change to an existing link; `None` leaves that attribute alone.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinkSet {
    pub up: Option<bool>,
    pub mtu: Option<u32>,
    pub mac: Option<[u8; 6]>,
    /// `Some(None)` removes the link from its master. In JSON (journals, records): absent
    /// for `None`, `null` for `Some(None)` — serde would read a `null` back as `None`, and
    /// an undo that takes a link out of its bridge would do nothing.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "present_or_null")]
    pub master: Option<Option<String>>,
}

mod present_or_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Option<String>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    /// Called only when the field is present: `null` is `Some(None)`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct RouteSpec {
    pub dest: IpNet,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub src: Option<IpAddr>,
    pub metric: Option<u32>,
    pub table: u32,
    /// `onlink` (RTNH_F_ONLINK).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub onlink: bool,
    /// Unicast, or a route that refuses (blackhole, unreachable, prohibit).
    #[serde(default, skip_serializing_if = "is_unicast")]
    pub kind: crate::model::RouteKind,
    /// `mtu` (RTAX_MTU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// `advmss` (RTAX_ADVMSS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advmss: Option<u32>,
    /// The scope, only where it is not the one netscript (and `ip route`) gives such a
    /// route by default ([`RouteSpec::default_scope`]): equal routes compare equal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<u8>,
    /// The protocol, only where it is not netscript's own (110).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto: Option<u8>,
    /// The paths of a multipath route (RTA_MULTIPATH); empty for any other.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nexthops: Vec<NextHopSpec>,
}

/// One path of a multipath route.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct NextHopSpec {
    pub via: IpAddr,
    pub dev: Option<String>,
    /// 1–256, as `ip route` writes it.
    pub weight: u32,
}

impl RouteSpec {
    /// The scope `ip route add` gives a route when none is named: link for an IPv4
    /// unicast route without a gateway, global otherwise (IPv6 routes are all global).
    pub fn default_scope(&self) -> u8 {
        if self.kind == crate::model::RouteKind::Unicast && self.via.is_none() && self.nexthops.is_empty() && self.dest.addr().is_ipv4() { 253 } else { 0 }
    }
    /// The scope the route has: the one named, or the default.
    pub fn scope_or_default(&self) -> u8 {
        self.scope.unwrap_or_else(|| self.default_scope())
    }
}

fn is_unicast(kind: &crate::model::RouteKind) -> bool {
    *kind == crate::model::RouteKind::Unicast
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct RuleSpec {
    pub v6: bool,
    pub from: Option<IpNet>,
    pub to: Option<IpNet>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub fwmark: Option<u32>,
    pub fwmask: Option<u32>,
    pub uidrange: Option<(u32, u32)>,
    pub priority: Option<u32>,
    pub table: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipproto: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sport: Option<(u16, u16)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dport: Option<(u16, u16)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos: Option<u8>,
    /// The mask of a single `sport`/`dport` (FRA_SPORT_MASK, FRA_DPORT_MASK).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sport_mask: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dport_mask: Option<u16>,
    /// `dscp` (value, mask): FRA_DSCP, FRA_DSCP_MASK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dscp: Option<(u8, u8)>,
    /// `flowlabel` (value, mask), IPv6: FRA_FLOWLABEL, FRA_FLOWLABEL_MASK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flowlabel: Option<(u32, u32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QdiscParent {
    Root,
    Ingress,
    Clsact,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QdiscSpec {
    /// Root qdisc, handle 1:.
    Tbf(Tbf),
    /// Root qdisc, handle 1:, with its default class minor, and r2q and direct_qlen
    /// when the script gives them (tc's defaults otherwise: 10, the txqueuelen).
    Htb {
        default_class: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r2q: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        direct_qlen: Option<u32>,
    },
    Netem(Netem),
    /// handle ffff:, for the mirred redirect of ingress shaping.
    Ingress,
    /// For eBPF classifiers.
    Clsact,
}

impl QdiscSpec {
    pub fn parent(&self) -> QdiscParent {
        match self {
            QdiscSpec::Ingress => QdiscParent::Ingress,
            QdiscSpec::Clsact => QdiscParent::Clsact,
            _ => QdiscParent::Root,
        }
    }
    pub fn kind(&self) -> &'static str {
        match self {
            QdiscSpec::Tbf(_) => "tbf",
            QdiscSpec::Htb { .. } => "htb",
            QdiscSpec::Netem(_) => "netem",
            QdiscSpec::Ingress => "ingress",
            QdiscSpec::Clsact => "clsact",
        }
    }
}

impl From<&Htb> for QdiscSpec {
    fn from(htb: &Htb) -> Self {
        QdiscSpec::Htb { default_class: htb.default_class.as_ref().map(|d| d.node).unwrap_or(0), r2q: htb.r2q, direct_qlen: htb.direct_qlen }
    }
}

/// An htb class under qdisc 1:.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassSpec {
    /// Minor of this class: 1:id.
    pub id: u32,
    /// Minor of the parent class, `None` for parent 1:.
    pub parent: Option<u32>,
    pub rate: Rate,
    pub ceil: Rate,
    pub prio: Option<u32>,
    /// tc's `burst`, `cburst` (bytes), `quantum` (bytes) and `mtu`, when given; tc's
    /// defaults otherwise (see [`crate::model::HtbClass`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<Size>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cburst: Option<Size>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantum: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// tc's `overhead`, `mpu`, `linklayer` (the kernel keeps and dumps them).
    #[serde(default, skip_serializing_if = "crate::model::Framing::is_default")]
    pub framing: crate::model::Framing,
}

/// ` r2q N direct_qlen N`, each when given: what follows `htb default ID` in text.
pub fn htb_option_words(r2q: Option<u32>, direct_qlen: Option<u32>) -> String {
    let mut out = String::new();
    if let Some(r) = r2q {
        out.push_str(&format!(" r2q {r}"));
    }
    if let Some(q) = direct_qlen {
        out.push_str(&format!(" direct_qlen {q}"));
    }
    out
}

impl ClassSpec {
    /// ` burst B cburst C quantum Q mtu M overhead O mpu U linklayer L`, each when given, in
    /// netscript's units.
    pub fn option_words(&self) -> String {
        let mut out = String::new();
        if let Some(b) = self.burst {
            out.push_str(&format!(" burst {b}"));
        }
        if let Some(c) = self.cburst {
            out.push_str(&format!(" cburst {c}"));
        }
        if let Some(q) = self.quantum {
            out.push_str(&format!(" quantum {}", Size(q as u64)));
        }
        if let Some(m) = self.mtu {
            out.push_str(&format!(" mtu {}", Size(m as u64)));
        }
        out.push_str(&self.framing.option_words());
        out
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterSpec {
    /// u32 match on qdisc 1: (or, `ingress`, on the ingress qdisc ffff:), classifying
    /// into class 1:flowid. `prio` orders filters.
    U32 {
        /// On the ingress qdisc (`parent ffff:`) rather than the htb (`parent 1:`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ingress: bool,
        prio: u32,
        proto: Option<IpProto>,
        src: Option<IpNet>,
        dst: Option<IpNet>,
        sport: Option<u16>,
        dport: Option<u16>,
        /// tc's `flowid 1:F`; none for a filter that only links to a hash table.
        flowid: Option<u32>,
        /// tc's `link ID:`: the hash table a match goes on in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<u32>,
        /// tc's `hashkey mask M at OFF` (with `link`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hashkey: Option<crate::model::HashKey>,
        /// tc's u32 node id (`handle ::N`); `None` for the kernel's default, 800.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        handle: Option<u32>,
        /// A gact verdict (`action ok` …), run after the match.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<crate::model::FilterVerdict>,
        /// Raw keys (`match u32|u16|u8 …`), after the keys of the named matches.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        raw: Vec<crate::model::RawKey>,
        /// The hash table and bucket the filter sits in (`ht ID:BUCKET`, on the ingress
        /// qdisc, protocol all as the table's priority); then `handle` is always its node.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ht: Option<crate::model::U32Place>,
    },
    /// On the ingress qdisc: redirect every packet to the ifb device's egress.
    MirredToIfb { ifb: String },
    /// A u32 hash table on the ingress qdisc (`tc filter add dev X ingress prio P handle
    /// TABLE: u32 divisor N`, protocol all as tc's default): the kernel keeps it at the
    /// priority `prio`, with `divisor` buckets.
    U32Table { prio: u32, table: u32, divisor: u32 },
}

#[cfg(test)]
mod tests {
    use super::LinkSet;

    #[test]
    fn leaving_a_master_survives_a_round_trip_through_json() {
        for set in [LinkSet { master: Some(None), ..Default::default() }, LinkSet { master: Some(Some("br0".into())), ..Default::default() }, LinkSet::default()] {
            let text = serde_json::to_string(&set).unwrap();
            assert_eq!(serde_json::from_str::<LinkSet>(&text).unwrap(), set, "{text}");
        }
    }
}
