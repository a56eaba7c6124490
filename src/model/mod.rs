//! The desired state: what a script means once `let`, `for`, interpolation and `include`
//! are evaluated. Ordered (indexmap) so that plans are deterministic; every part keeps the
//! span of the source that produced it.
//!
//! One file per statement family (links, routing, traffic, bpf, expect); this one holds
//! the whole (desired state, namespaces) and what several families share.

use crate::source::{Span, Spanned};
use indexmap::IndexMap;

mod bpf;
mod expect;
mod firewall;
mod links;
mod routing;
mod traffic;

pub use bpf::*;
pub use expect::*;
pub use firewall::*;
pub use links::*;
pub use routing::*;
pub use traffic::*;

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
