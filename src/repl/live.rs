//! Names read from the running system, for completion: namespaces (`/run/netns`, as `ip
//! netns` keeps them) and the interfaces in them (through the executor's observation).

use crate::model::{Desired, HOST, Namespace, NsOrigin};
use crate::source::Span;

/// Named network namespaces, sorted.
pub fn namespaces() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// `(namespace, interface)` of every interface in `host` and in `namespaces` (those
/// that exist); empty when the state cannot be read (no privileges).
pub fn interfaces(namespaces: &[String]) -> Vec<(String, String)> {
    let mut desired = Desired::default();
    desired.namespaces.insert(HOST.to_string(), Namespace::new(HOST.to_string(), NsOrigin::Host, Span::default()));
    let existing = self::namespaces();
    for name in namespaces.iter().filter(|n| existing.contains(n)) {
        desired.namespaces.insert(name.clone(), Namespace::new(name.clone(), NsOrigin::Declared, Span::default()));
    }
    let Some(observed) = super::session::live_observe(&desired) else { return Vec::new() };
    let mut out = Vec::new();
    for (ns, state) in &observed.namespaces {
        for link in state.links.keys() {
            out.push((ns.clone(), link.clone()));
        }
    }
    out
}
