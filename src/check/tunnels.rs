//! `ipip` and `gre`: IPv4 tunnels. Their addresses are IPv4, `remote` is required (a
//! tunnel without one is the kind of device the kernel keeps as its fallback), the
//! kernel's fallback devices' names are the kernel's.

use super::codes::*;
use super::core::*;
use super::values::{self as v};
use crate::ast::{Stmt, TunnelOpt};
use crate::diagnostic::Diagnostic;
use crate::model::{Tunnel, TunnelKind};
use crate::source::Spanned;
use std::net::{IpAddr, Ipv4Addr};

impl Evaluator<'_> {
    pub(super) fn tunnel(&mut self, stmt: &Stmt, kind: TunnelKind, name: &str, opts: &[TunnelOpt]) -> Option<Tunnel> {
        if TunnelKind::is_fallback_device(name) {
            self.report(
                Diagnostic::error(KERNEL_TUNNEL_NAME, keyword_span(stmt), format!("`{name}` is the kernel's own tunnel device"))
                    .label("made by the kernel in every namespace once its tunnel module is loaded")
                    .help("give the tunnel another name (`t0`, `gre1`, …)"),
            );
            return None;
        }
        let mut seen = Seen::default();
        let (mut local, mut remote, mut ttl, mut key) = (None, None, None, None);
        for opt in opts {
            match opt {
                TunnelOpt::Local(a) if self.once(&mut seen, "local", a.span) => local = self.ok(v::address(&self.env, &a.node)).and_then(|a| self.v4(kind, a)),
                TunnelOpt::Remote(a) if self.once(&mut seen, "remote", a.span) => remote = self.ok(v::address(&self.env, &a.node)).and_then(|a| self.v4(kind, a)),
                TunnelOpt::Ttl(t) if self.once(&mut seen, "ttl", t.span) => {
                    ttl = self.ok(v::int_in(&self.env, &t.node, "a TTL (0: the inner packet's)", 0, 255)).map(|s| s.map(|t| t as u8));
                }
                TunnelOpt::Key(k) if self.once(&mut seen, "key", k.span) => {
                    key = self.ok(v::int_in(&self.env, &k.node, "a GRE key", 0, u32::MAX as i64)).map(|s| s.map(|k| k as u32));
                }
                _ => {}
            }
        }
        let Some(remote) = remote else {
            if !seen.0.contains_key("remote") {
                self.report(
                    Diagnostic::error(MISSING_OPTION, keyword_span(stmt), format!("{} tunnel needs a `remote` (its other end)", a_kind(kind)))
                        .label("no `remote` given")
                        .help(format!("e.g. `{} t0 local 10.0.0.1 remote 10.0.0.2`", kind.word())),
                );
            }
            return None;
        };
        Some(Tunnel { kind, local, remote, ttl, key })
    }

    fn v4(&mut self, kind: TunnelKind, a: Spanned<IpAddr>) -> Option<Spanned<Ipv4Addr>> {
        match a.node {
            IpAddr::V4(v4) => Some(Spanned::new(v4, a.span)),
            IpAddr::V6(_) => {
                self.report(
                    Diagnostic::error(MIXED_FAMILIES, a.span, format!("{} tunnel's addresses are IPv4", a_kind(kind)))
                        .label("an IPv6 address")
                        .help("ipip and gre carry packets over IPv4; an IPv6 underlay is ip6tnl's or ip6gre's, which netscript does not make"),
                );
                None
            }
        }
    }
}

/// The kind with its article: "an ipip", "a gre".
fn a_kind(kind: TunnelKind) -> &'static str {
    match kind {
        TunnelKind::Ipip => "an ipip",
        TunnelKind::Gre => "a gre",
    }
}
