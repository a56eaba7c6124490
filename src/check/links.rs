//! Namespaces and links: `netns`, `host`, interface declarations (veth, bridge, macvlan,
//! vxlan, link) and their attributes (up/down, mtu, mac, master).

use super::codes::*;
use super::core::*;
use super::names;
use super::values::{self as v};
use crate::ast::{self, Stmt, StmtKind, VxlanOpt};
use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::source::{Span, Spanned};

impl Evaluator<'_> {
    pub(super) fn namespace_entry(&mut self, name: &str, origin: NsOrigin, span: Span) -> &mut Namespace {
        let ns = self
            .desired
            .namespaces
            .entry(name.to_string())
            .or_insert_with(|| Namespace::new(name.to_string(), origin, span));
        if ns.origin == NsOrigin::Implicit && origin == NsOrigin::Declared {
            ns.origin = NsOrigin::Declared;
            ns.span = span;
        }
        ns
    }

    pub(super) fn netns(&mut self, name: &ast::Name, block: Option<&ast::Block>) {
        let Some(name) = self.ok(v::template(&self.env, name)) else { return };
        if let Err(d) = names::namespace(&name) {
            self.report(d);
            return;
        }
        self.namespace_entry(&name.node, NsOrigin::Declared, name.span);
        if let Some(block) = block {
            let mut inner = Body::Namespace { ns: name.node.clone(), current: None };
            self.stmts(&block.node, &mut inner);
            if let Some(ns) = self.desired.namespaces.get_mut(&name.node) {
                ns.shrink_small();
            }
        }
    }

    /// Declares an interface in `ns`; returns its name. `link` on a known one configures it.
    pub(super) fn interface_decl(&mut self, ns: &str, stmt: &Stmt) -> Option<String> {
        let name_tpl = match &stmt.node {
            StmtKind::Veth { name, .. }
            | StmtKind::Bridge { name, .. }
            | StmtKind::Dummy { name, .. }
            | StmtKind::Vrf { name, .. }
            | StmtKind::Macvlan { name, .. }
            | StmtKind::Vlan { name, .. }
            | StmtKind::Ipvlan { name, .. }
            | StmtKind::Tunnel { name, .. }
            | StmtKind::Vxlan { name, .. }
            | StmtKind::Link { name, .. } => name,
            _ => unreachable!("not an interface declaration"),
        };
        let name = self.ok(v::template(&self.env, name_tpl))?;
        if let Err(d) = names::interface(&name) {
            self.report(d);
            return None;
        }
        let kind = match &stmt.node {
            StmtKind::Veth { peer, .. } => {
                let peer_ref = self.veth_peer(ns, &name, peer)?;
                IfaceKind::Veth { peer: peer_ref }
            }
            StmtKind::Bridge { .. } => IfaceKind::Bridge,
            StmtKind::Dummy { .. } => IfaceKind::Dummy,
            StmtKind::Vrf { table, .. } => IfaceKind::Vrf { table: self.ok(v::int_in(&self.env, table, "a VRF's table", 1, u32::MAX as i64))?.map(|t| t as u32) },
            StmtKind::Macvlan { parent, mode, .. } => {
                let parent = self.ok(v::template(&self.env, parent))?;
                IfaceKind::Macvlan { parent, mode: mode.as_ref().map(|m| m.node).unwrap_or(MacvlanMode::Bridge) }
            }
            StmtKind::Vlan { parent, id, protocol, .. } => {
                let parent = self.ok(v::template(&self.env, parent))?;
                let id = self.ok(v::int_in(&self.env, id, "an 802.1Q VLAN id", 1, 4094).map_err(|d| d.help("802.1Q reserves ids 0 and 4095; a vlan takes one of 1-4094")))?.map(|i| i as u16);
                IfaceKind::Vlan { parent, id, protocol: protocol.as_ref().map(|p| p.node).unwrap_or_default() }
            }
            StmtKind::Ipvlan { parent, mode, flag, .. } => {
                let parent = self.ok(v::template(&self.env, parent))?;
                IfaceKind::Ipvlan { parent, mode: mode.as_ref().map(|m| m.node).unwrap_or_default(), flag: flag.as_ref().map(|f| f.node).unwrap_or_default() }
            }
            StmtKind::Tunnel { kind, opts, .. } => IfaceKind::Tunnel(Box::new(self.tunnel(stmt, *kind, &name.node, opts)?)),
            StmtKind::Vxlan { opts, .. } => IfaceKind::Vxlan(Box::new(self.vxlan(stmt, opts)?)),
            StmtKind::Link { .. } => {
                if name.node == "lo" {
                    IfaceKind::Loopback
                } else {
                    IfaceKind::Existing
                }
            }
            _ => unreachable!(),
        };
        if self.declare(ns, &name, kind) { Some(name.node) } else { None }
    }

    /// Records an interface; false (and a report) when it is declared twice.
    pub(super) fn declare(&mut self, ns: &str, name: &Spanned<String>, kind: IfaceKind) -> bool {
        let key = (ns.to_string(), name.node.clone());
        let namespace = self.desired.namespaces.get_mut(ns).expect("namespace entered before its body");
        match namespace.interfaces.get_mut(&name.node) {
            None => {
                namespace.interfaces.insert(name.node.clone(), Interface::new(name.node.clone(), kind, name.span));
                self.declared_at.insert(key, name.span);
                true
            }
            Some(existing) if matches!(kind, IfaceKind::Existing | IfaceKind::Loopback) => {
                let _ = existing;
                true
            }
            Some(existing) if matches!(existing.kind, IfaceKind::Existing) => {
                existing.kind = kind;
                existing.span = name.span;
                self.declared_at.insert(key, name.span);
                true
            }
            Some(existing) => {
                let first = self.declared_at.get(&key).copied().unwrap_or(existing.span);
                let what = match &existing.kind {
                    IfaceKind::VethPeer { of } => format!("as the peer of veth {of}"),
                    k => format!("as a {}", k.word()),
                };
                let mut d = Diagnostic::error(DUPLICATE_INTERFACE, name.span, format!("interface `{}` is declared twice in namespace `{ns}`", name.node))
                    .label("declared again here")
                    .help(format!("it is already declared {what}; use `link {}` to configure it", name.node));
                if first.file == name.span.file && first != name.span {
                    d = d.also(first, "first declared here");
                } else if first != name.span {
                    d.context.push(format!("first declared at {}", self.sources.location(first)));
                }
                self.report(d);
                false
            }
        }
    }

    pub(super) fn veth_peer(&mut self, ns: &str, name: &Spanned<String>, peer: &ast::Name) -> Option<IfRef> {
        let peer = self.ok(v::template(&self.env, peer))?;
        let (peer_ns, peer_name) = match peer.node.split_once('.') {
            Some((n, i)) => (n.to_string(), i.to_string()),
            None => (ns.to_string(), peer.node.clone()),
        };
        if peer_ns != HOST {
            let ns_span = Spanned::new(peer_ns.clone(), Span { end: (peer.span.start + peer_ns.len() as u32).min(peer.span.end), ..peer.span });
            if let Err(d) = names::namespace(&ns_span) {
                self.report(d);
                return None;
            }
        }
        let name_span = Span { start: peer.span.end.saturating_sub(peer_name.len() as u32).max(peer.span.start), ..peer.span };
        let peer_spanned = Spanned::new(peer_name.clone(), name_span);
        if let Err(d) = names::interface(&peer_spanned) {
            self.report(d);
            return None;
        }
        if peer_ns == ns && peer_name == name.node {
            self.report(
                Diagnostic::error(DUPLICATE_INTERFACE, peer.span, format!("a veth cannot be its own peer (`{}`)", name.node))
                    .label("same name as this end")
                    .help("name the other end differently, or put it in another namespace: `NS.NAME`"),
            );
            return None;
        }
        let origin = if peer_ns == HOST { NsOrigin::Host } else { NsOrigin::Implicit };
        self.namespace_entry(&peer_ns, origin, peer.span);
        let this_end = IfRef { ns: ns.to_string(), name: name.node.clone() };
        if !self.declare(&peer_ns, &peer_spanned, IfaceKind::VethPeer { of: this_end }) {
            return None;
        }
        Some(IfRef { ns: peer_ns, name: peer_name })
    }

    pub(super) fn vxlan(&mut self, stmt: &Stmt, opts: &[VxlanOpt]) -> Option<Vxlan> {
        let mut seen = Seen::default();
        let mut vni = None;
        let mut x = Vxlan { vni: Spanned::new(0, stmt.span), remote: None, group: None, local: None, dev: None, port: None };
        for opt in opts {
            match opt {
                VxlanOpt::Id(i) if self.once(&mut seen, "id", i.span) => {
                    vni = self.ok(v::int_in(&self.env, &i.node, "a VNI", 0, (1 << 24) - 1)).map(|s| s.map(|v| v as u32));
                }
                VxlanOpt::Remote(r) if self.once(&mut seen, "remote", r.span) => x.remote = self.ok(v::address(&self.env, &r.node)),
                VxlanOpt::Group(g) if self.once(&mut seen, "group", g.span) => x.group = self.ok(v::address(&self.env, &g.node)),
                VxlanOpt::Local(l) if self.once(&mut seen, "local", l.span) => x.local = self.ok(v::address(&self.env, &l.node)),
                VxlanOpt::Dev(d) if self.once(&mut seen, "dev", d.span) => x.dev = self.ok(v::template(&self.env, &d.node)),
                VxlanOpt::Port(p) if self.once(&mut seen, "port", p.span) => {
                    x.port = self.ok(v::int_in(&self.env, &p.node, "a port", 1, 65535)).map(|s| s.map(|p| p as u16));
                }
                _ => {}
            }
        }
        if let (Some(r), Some(g)) = (&x.remote, &x.group) {
            self.report(
                Diagnostic::error(CONFLICTING_ATTRIBUTE, g.span, "a vxlan has either a `remote` or a `group`, not both")
                    .label("group given here")
                    .also(r.span, "remote given here"),
            );
        }
        match vni {
            Some(vni) => x.vni = vni,
            None => {
                if !seen.0.contains_key("id") {
                    self.report(
                        Diagnostic::error(MISSING_OPTION, keyword_span(stmt), "a vxlan needs an `id` (its VNI)")
                            .label("no `id` given")
                            .help("e.g. `vxlan vx0 id 42 remote 10.0.0.2 dev eth0`"),
                    );
                }
                return None;
            }
        }
        Some(x)
    }

    pub(super) fn current_interface(&mut self, stmt: &Stmt, body: &Body) -> Option<(String, String)> {
        match body {
            Body::Interface { ns, iface } => Some((ns.clone(), iface.clone())),
            Body::Namespace { ns, current: Some(iface) } => Some((ns.clone(), iface.clone())),
            Body::Namespace { ns, current: None } => {
                let kw = stmt.node.keyword();
                self.report(
                    Diagnostic::error(NO_CURRENT_INTERFACE, keyword_span(stmt), format!("`{kw}` needs an interface, and none is declared before it in `{ns}`"))
                        .label("which interface?")
                        .help(format!("declare one first (`veth v0 <-> NS.v1`, `bridge br0`), or name an existing one with `link eth0`, then `{kw}`")),
                );
                None
            }
            _ => {
                self.misplaced(stmt, body);
                None
            }
        }
    }

    pub(super) fn iface_mut(&mut self, ns: &str, iface: &str) -> &mut Interface {
        self.desired.namespaces.get_mut(ns).and_then(|n| n.interfaces.get_mut(iface)).expect("current interface is declared")
    }

    pub(super) fn link_attribute(&mut self, ns: &str, iface: &str, stmt: &Stmt) {
        let env = &self.env;
        match &stmt.node {
            StmtKind::Up | StmtKind::Down => {
                let up = Spanned::new(matches!(stmt.node, StmtKind::Up), stmt.span);
                self.set_once(ns, iface, "administrative state", up, |i| &mut i.admin_up);
            }
            StmtKind::Mtu { mtu } => {
                if let Some(m) = self.ok(v::int_in(env, mtu, "an MTU", 68, 65535)) {
                    self.set_once(ns, iface, "MTU", m.map(|m| m as u32), |i| &mut i.mtu);
                }
            }
            StmtKind::Mac { mac } => {
                if let Some(m) = self.ok(v::mac(env, mac)) {
                    if m.node[0] & 1 == 1 {
                        self.report(
                            Diagnostic::error(super::codes::INVALID_ADDRESS, m.span, "a multicast MAC address cannot be an interface's address")
                                .label("the lowest bit of the first byte is set")
                                .help("use a unicast address, e.g. 02:00:00:00:00:01 (locally administered)"),
                        );
                        return;
                    }
                    self.set_once(ns, iface, "MAC address", m, |i| &mut i.mac);
                }
            }
            StmtKind::Master { bridge } => {
                if let Some(b) = self.ok(v::template(env, bridge)) {
                    self.set_once(ns, iface, "master", b, |i| &mut i.master);
                }
            }
            _ => unreachable!("not a link_attribute statement")
        }
    }
}

pub(super) fn interface_block(kind: &StmtKind) -> Option<&ast::Block> {
    match kind {
        StmtKind::Veth { body, .. }
        | StmtKind::Bridge { body, .. }
        | StmtKind::Dummy { body, .. }
        | StmtKind::Vrf { body, .. }
        | StmtKind::Macvlan { body, .. }
        | StmtKind::Vlan { body, .. }
        | StmtKind::Ipvlan { body, .. }
        | StmtKind::Tunnel { body, .. }
        | StmtKind::Vxlan { body, .. }
        | StmtKind::Link { body, .. } => body.as_ref(),
        _ => None,
    }
}
