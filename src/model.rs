//! The desired state: what a script means once `let`, `for`, interpolation and `include`
//! are evaluated. Ordered (indexmap) so that plans are deterministic; every part keeps the
//! span of the source that produced it.

use crate::source::{Span, Spanned};
use crate::units::{Duration, Percent, Rate, Size};
use indexmap::IndexMap;
use ipnet::IpNet;
use std::net::IpAddr;
use std::path::PathBuf;

mod firewall;
pub use firewall::*;

/// The initial network namespace, as named in scripts.
pub const HOST: &str = "host";

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Desired {
    pub namespaces: IndexMap<String, Namespace>,
    /// Named routing tables (`table NAME = N`), besides the built-in main/local/default.
    pub tables: IndexMap<String, Spanned<u32>>,
    pub expects: Vec<Expect>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum NsOrigin {
    /// `host < ... >`: the namespace netscript runs in; never created or deleted.
    Host,
    /// `netns NAME`.
    Declared,
    /// Named only as the peer side of a veth; created like a declared one.
    Implicit,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Namespace {
    pub name: String,
    pub origin: NsOrigin,
    /// The first statement that declared (or implied) it.
    #[serde(skip)]
    pub span: Span,
    pub interfaces: IndexMap<String, Interface>,
    pub routes: Vec<Route>,
    pub rules: Vec<Rule>,
    pub forward: Option<Spanned<bool>>,
    pub sysctls: IndexMap<String, Spanned<String>>,
    /// `firewall HOOK < ... >`: one chain a hook, in the order hooks first appear.
    pub firewall: Vec<FwChain>,
}

impl Namespace {
    pub fn new(name: String, origin: NsOrigin, span: Span) -> Self {
        Namespace {
            name,
            origin,
            span,
            interfaces: IndexMap::new(),
            routes: Vec::new(),
            rules: Vec::new(),
            forward: None,
            sysctls: IndexMap::new(),
            firewall: Vec::new(),
        }
    }
    pub fn is_host(&self) -> bool {
        self.origin == NsOrigin::Host
    }
}

/// An interface in a namespace, by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct IfRef {
    pub ns: String,
    pub name: String,
}

impl std::fmt::Display for IfRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.ns, self.name)
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Interface {
    pub name: String,
    #[serde(skip)]
    pub span: Span,
    pub kind: IfaceKind,
    pub addrs: Vec<Spanned<IpNet>>,
    /// `up`/`down`; `None` means the default: up for interfaces the script creates,
    /// unchanged for `link` on an existing one.
    pub admin_up: Option<Spanned<bool>>,
    pub mtu: Option<Spanned<u32>>,
    pub mac: Option<Spanned<[u8; 6]>>,
    pub master: Option<Spanned<String>>,
    pub root_qdisc: Option<Spanned<Qdisc>>,
    /// `shape ingress ...`: an ifb device, a mirred redirect to it, and a tbf on it.
    pub ingress_shape: Option<Spanned<Tbf>>,
    pub bpf: Vec<Spanned<BpfAttach>>,
    pub xdp: Option<Spanned<XdpAttach>>,
}

impl Interface {
    pub fn new(name: String, kind: IfaceKind, span: Span) -> Self {
        Interface {
            name,
            span,
            kind,
            addrs: Vec::new(),
            admin_up: None,
            mtu: None,
            mac: None,
            master: None,
            root_qdisc: None,
            ingress_shape: None,
            bpf: Vec::new(),
            xdp: None,
        }
    }
    /// Whether the script creates this interface (as opposed to configuring one that exists).
    pub fn is_created(&self) -> bool {
        !matches!(self.kind, IfaceKind::Existing | IfaceKind::Loopback)
    }
    /// The administrative state the script asks for, defaults applied.
    pub fn wants_up(&self) -> Option<bool> {
        match &self.admin_up {
            Some(s) => Some(s.node),
            None if self.is_created() || matches!(self.kind, IfaceKind::Loopback) => Some(true),
            None => None,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum IfaceKind {
    /// This end declared the pair; the pair is created from here.
    Veth { peer: IfRef },
    /// The far end of a pair declared elsewhere.
    VethPeer { of: IfRef },
    Bridge,
    Macvlan { parent: Spanned<String>, mode: MacvlanMode },
    Vxlan(Vxlan),
    /// `link NAME` for an interface the script does not create.
    Existing,
    /// `lo`, present in every namespace.
    Loopback,
}

impl IfaceKind {
    pub fn word(&self) -> &'static str {
        match self {
            IfaceKind::Veth { .. } | IfaceKind::VethPeer { .. } => "veth",
            IfaceKind::Bridge => "bridge",
            IfaceKind::Macvlan { .. } => "macvlan",
            IfaceKind::Vxlan(_) => "vxlan",
            IfaceKind::Existing => "link",
            IfaceKind::Loopback => "loopback",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MacvlanMode {
    Private,
    Vepa,
    Bridge,
    Passthru,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Vxlan {
    pub vni: Spanned<u32>,
    pub remote: Option<Spanned<IpAddr>>,
    pub group: Option<Spanned<IpAddr>>,
    pub local: Option<Spanned<IpAddr>>,
    pub dev: Option<Spanned<String>>,
    pub port: Option<Spanned<u16>>,
}

/// A routing table, resolved to its number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Table {
    pub id: u32,
    /// The name the script used, if any (`main`, or one from `table NAME = N`).
    pub name: Option<String>,
}

pub const TABLE_MAIN: u32 = 254;
pub const TABLE_LOCAL: u32 = 255;
pub const TABLE_DEFAULT: u32 = 253;

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name}"),
            None => write!(f, "{}", self.id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum RouteDest {
    /// `default`: 0.0.0.0/0, or ::/0 when the gateway is v6.
    Default,
    Prefix(IpNet),
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Route {
    #[serde(skip)]
    pub span: Span,
    pub dest: Spanned<RouteDest>,
    pub via: Option<Spanned<IpAddr>>,
    pub dev: Option<Spanned<String>>,
    pub src: Option<Spanned<IpAddr>>,
    pub metric: Option<Spanned<u32>>,
    pub table: Option<Spanned<Table>>,
}

impl Route {
    pub fn is_ipv6(&self) -> bool {
        match &self.dest.node {
            RouteDest::Prefix(p) => matches!(p, IpNet::V6(_)),
            RouteDest::Default => matches!(self.via.as_ref().map(|v| v.node), Some(IpAddr::V6(_))),
        }
    }
    pub fn table_id(&self) -> u32 {
        self.table.as_ref().map(|t| t.id).unwrap_or(TABLE_MAIN)
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Rule {
    #[serde(skip)]
    pub span: Span,
    pub from: Option<Spanned<IpNet>>,
    pub to: Option<Spanned<IpNet>>,
    pub iif: Option<Spanned<String>>,
    pub oif: Option<Spanned<String>>,
    pub fwmark: Option<Spanned<(u32, Option<u32>)>>,
    pub uidrange: Option<Spanned<(u32, u32)>>,
    pub priority: Option<Spanned<u32>>,
    pub table: Spanned<Table>,
}

impl Rule {
    pub fn is_ipv6(&self) -> bool {
        matches!(self.from.as_ref().map(|f| f.node), Some(IpNet::V6(_)))
            || matches!(self.to.as_ref().map(|f| f.node), Some(IpNet::V6(_)))
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum Qdisc {
    Tbf(Tbf),
    Htb(Htb),
    Netem(Netem),
}

impl Qdisc {
    pub fn kind(&self) -> &'static str {
        match self {
            Qdisc::Tbf(_) => "tbf",
            Qdisc::Htb(_) => "htb",
            Qdisc::Netem(_) => "netem",
        }
    }
}

/// `shape RATE [burst SIZE] [latency DURATION]`, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tbf {
    pub rate: Rate,
    pub burst: Size,
    pub latency: Duration,
}

/// Default latency of `shape`: tc's walkthrough value.
pub const SHAPE_DEFAULT_LATENCY: Duration = Duration(70_000_000);

/// Default burst of `shape`: 10kb, or what the rate sends in 10 ms when that is more, so
/// that the bucket holds at least one timer tick's worth of traffic at high rates.
pub fn shape_default_burst(rate: Rate) -> Size {
    let ten_ms = rate.bytes_per_sec() / 100;
    Size(ten_ms.max(10 * 1024))
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Htb {
    /// Minor of the default class (`default 20` is class 1:20); 0 when absent, as tc does.
    pub default_class: Option<Spanned<u32>>,
    pub classes: Vec<HtbClass>,
    pub filters: Vec<U32Filter>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct HtbClass {
    #[serde(skip)]
    pub span: Span,
    /// tc's minor, read as hex: `class 10` is 1:10 (0x10).
    pub id: Spanned<u32>,
    /// The parent class's minor; `None` for a root class (parent 1:).
    pub parent: Option<u32>,
    pub rate: Spanned<Rate>,
    pub ceil: Option<Spanned<Rate>>,
    pub prio: Option<Spanned<u32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum IpProto {
    Tcp,
    Udp,
    Icmp,
}

impl IpProto {
    pub fn number(self) -> u8 {
        match self {
            IpProto::Tcp => 6,
            IpProto::Udp => 17,
            IpProto::Icmp => 1,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct U32Filter {
    #[serde(skip)]
    pub span: Span,
    pub proto: Option<IpProto>,
    pub src: Option<Spanned<IpNet>>,
    pub dst: Option<Spanned<IpNet>>,
    pub sport: Option<Spanned<u16>>,
    pub dport: Option<Spanned<u16>>,
    /// Minor of the target class.
    pub flowid: Spanned<u32>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Netem {
    pub delay: Duration,
    pub jitter: Option<Duration>,
    pub loss: Option<Percent>,
    pub rate: Option<Rate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BpfDirection {
    Ingress,
    Egress,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BpfAttach {
    pub direction: BpfDirection,
    /// Resolved against the directory of the script that names it.
    pub path: PathBuf,
    pub section: Option<String>,
    /// The program the checker found in the object; `None` when it could not (and said so).
    pub program: Option<BpfProgram>,
}

/// One program of an eBPF object file, as the checker found it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BpfProgram {
    /// The ELF section holding it (`classifier`, `xdp`, ...).
    pub section: String,
    /// Its function (symbol) name, which is how the loader finds it.
    pub function: String,
    /// The object file's content hash (16 hex digits of its SHA-256): a changed file is
    /// a changed program.
    pub hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum XdpMode {
    Generic,
    Native,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct XdpAttach {
    pub path: PathBuf,
    pub section: Option<String>,
    pub mode: Option<XdpMode>,
    /// See [`BpfAttach::program`].
    pub program: Option<BpfProgram>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ExpectKind {
    Reach,
    Noreach,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Expect {
    #[serde(skip)]
    pub span: Span,
    pub ns: Spanned<String>,
    pub kind: ExpectKind,
    pub addr: Spanned<IpAddr>,
    pub port: Option<Spanned<u16>>,
    pub within: Option<Spanned<Duration>>,
}

/// Default bound on an `expect`'s wait.
pub const EXPECT_DEFAULT_WITHIN: Duration = Duration(2_000_000_000);

/// Why a sysctl key is not one netscript may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SysctlKeyProblem {
    /// Outside `net.`: not per namespace, it would change the whole host.
    NotNetwork,
    /// An empty, `.` or `..` component.
    Malformed,
}

/// The one rule for sysctl keys, applied by the checker to scripts and by the executor
/// to every key it writes: records read back from state and journal files are input
/// too, and a forged one must not reach `kernel.*`. Keys are `net.` words separated by
/// single dots, or (as sysctl(8) reads them, for interface names with dots) `net/`
/// components separated by `/`.
pub fn sysctl_key_problem(key: &str) -> Option<SysctlKeyProblem> {
    let malformed = if key.contains('/') {
        if !key.starts_with("net") {
            return Some(SysctlKeyProblem::NotNetwork);
        }
        // `net.ipv4.conf/all/…` names no file: dots are kept in the `/` form.
        key.split('/').next() != Some("net") || key.split('/').any(|p| p.is_empty() || p == "." || p == "..")
    } else {
        if !key.starts_with("net.") {
            return Some(SysctlKeyProblem::NotNetwork);
        }
        key.split('.').any(str::is_empty)
    };
    malformed.then_some(SysctlKeyProblem::Malformed)
}
