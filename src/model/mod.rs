//! The desired state: what a script means once `let`, `for`, interpolation and `include`
//! are evaluated. Ordered (indexmap) so that plans are deterministic; every part keeps the
//! span of the source that produced it.
//!
//! One file per statement family (links, routing, traffic, bpf, expect); this one holds
//! the whole (desired state, namespaces) and what several families share.

use crate::source::{Span, Spanned};
use indexmap::IndexMap;

mod address;
mod bpf;
mod expect;
mod firewall;
mod links;
mod routing;
mod tc_framing;
mod traffic;
mod u32_keys;

pub use address::IfAddr;
pub use bpf::*;
pub use expect::*;
pub use firewall::*;
pub use links::*;
pub use routing::*;
pub use tc_framing::*;
pub use traffic::*;
pub use u32_keys::*;

/// The initial network namespace, as named in scripts.
pub const HOST: &str = "host";

/// Pushes `item`, making room for exactly one on the first push: most namespaces hold
/// one route, one rule, one class, where `push` would make room for four (a third of a
/// 100,000-line script's model was that spare room). Later pushes grow as usual.
pub fn push_lean<T>(v: &mut Vec<T>, item: T) {
    if v.capacity() == 0 {
        v.reserve_exact(1);
    }
    v.push(item);
}

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Desired {
    pub namespaces: IndexMap<String, Namespace>,
    /// Named routing tables (`table NAME = N`), besides the built-in main/local/default.
    pub tables: IndexMap<String, Spanned<u32>>,
    pub expects: Vec<Expect>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NsOrigin {
    /// `host < ... >`: the namespace netscript runs in; never created or deleted.
    Host,
    /// `netns NAME`.
    Declared,
    /// Named only as the peer side of a veth; created like a declared one.
    Implicit,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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
    /// Gives back the spare capacity of its collections. A namespace holds one or two of
    /// most things, and a first `push` reserves room for four: in a 100,000-line script
    /// the spare room was a third of the checker's memory.
    pub fn shrink_to_fit(&mut self) {
        self.interfaces.shrink_to_fit();
        self.routes.shrink_to_fit();
        self.rules.shrink_to_fit();
        self.sysctls.shrink_to_fit();
        self.firewall.shrink_to_fit();
        for iface in self.interfaces.values_mut() {
            iface.addrs.shrink_to_fit();
            iface.bpf.shrink_to_fit();
            if let Some(q) = &mut iface.root_qdisc
                && let Qdisc::Htb(htb) = &mut q.node
            {
                htb.classes.shrink_to_fit();
                htb.filters.shrink_to_fit();
            }
        }
    }
    /// [`Namespace::shrink_to_fit`] for collections of a few items only: the checker
    /// calls it as each `netns` block ends (a block opened again adds to them, so a large
    /// collection is left to grow amortised: shrinking it at every block would copy it).
    pub fn shrink_small(&mut self) {
        const SMALL: usize = 8;
        fn vec<T>(v: &mut Vec<T>) {
            if v.len() <= SMALL {
                v.shrink_to_fit();
            }
        }
        if self.interfaces.len() <= SMALL {
            self.interfaces.shrink_to_fit();
        }
        vec(&mut self.routes);
        vec(&mut self.rules);
        for iface in self.interfaces.values_mut() {
            vec(&mut iface.addrs);
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
