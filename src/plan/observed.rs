//! The observed state: what the kernel holds now, for the namespaces a script names.
//! The executor fills it; the planner only reads it.

use crate::plan::action::{ClassSpec, FilterSpec, QdiscSpec, RouteSpec, RuleSpec};
use indexmap::IndexMap;
use ipnet::IpNet;

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Observed {
    /// Namespaces that exist, by name (`host` for the initial one). A namespace the
    /// script names but that is absent here does not exist yet.
    pub namespaces: IndexMap<String, ObservedNs>,
    /// Planning without a kernel (`check`, `--dry-run --offline`): interfaces named by
    /// `link` are assumed to exist.
    pub offline: bool,
}

impl Observed {
    /// Nothing exists but the host namespace, which is empty: what `check` plans against.
    pub fn empty() -> Self {
        let mut namespaces = IndexMap::new();
        namespaces.insert(crate::model::HOST.to_string(), ObservedNs::default());
        Observed { namespaces, offline: true }
    }
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ObservedNs {
    pub links: IndexMap<String, ObservedLink>,
    /// Routes of the tables the script uses.
    pub routes: Vec<RouteSpec>,
    pub rules: Vec<RuleSpec>,
    pub qdiscs: Vec<ObservedQdisc>,
    pub classes: Vec<(String, ClassSpec)>,
    /// Filters on the htb qdiscs (`parent 1:`), by device.
    pub filters: Vec<ObservedFilter>,
    /// Values of the sysctls the script sets.
    pub sysctls: IndexMap<String, String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ObservedLink {
    pub name: String,
    pub index: u32,
    /// The kernel's kind (`veth`, `bridge`, …), `None` for physical devices and `lo`.
    pub kind: Option<String>,
    pub up: bool,
    pub mtu: u32,
    pub mac: Option<[u8; 6]>,
    pub master: Option<String>,
    pub addrs: Vec<IpNet>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ObservedQdisc {
    pub dev: String,
    pub spec: QdiscSpec,
}

/// A filter on an htb qdisc 1:. `spec` is `None` for one netscript would not have
/// written (another classifier, other matches): present at `prio`, but foreign.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ObservedFilter {
    pub dev: String,
    pub prio: u32,
    pub spec: Option<FilterSpec>,
}
