//! Point-to-point addresses: `addr LOCAL peer PEER[/LEN]`. The prefix length is the
//! peer's (/32 or /128 when none is written), as `ip address add … peer …` takes it.

use super::codes::*;
use super::core::*;
use super::values as v;
use crate::ast;
use crate::diagnostic::Diagnostic;
use crate::model::IfAddr;
use crate::source::Spanned;

impl Evaluator<'_> {
    pub(super) fn peer_address(&mut self, local: &ast::IpValue, peer: &ast::IpValue) -> Option<Spanned<IfAddr>> {
        let written = self.ok(v::ip(&self.env, local))?;
        let peer_net = self.ok(v::prefix(&self.env, peer))?;
        let (local_ip, local_len) = written.node;
        if local_ip.is_ipv4() != peer_net.node.addr().is_ipv4() {
            let family = |v4: bool| if v4 { "IPv4" } else { "IPv6" };
            self.report(
                Diagnostic::error(MIXED_FAMILIES, peer_net.span, "an address and its peer are of one address family")
                    .label(format!("this is {}", family(peer_net.node.addr().is_ipv4())))
                    .also(written.span, format!("this is {}", family(local_ip.is_ipv4()))),
            );
            return None;
        }
        if let Some(len) = local_len {
            // `ip` takes the peer's length and drops this one silently: say which counts.
            self.report(
                Diagnostic::error(PREFIX_ON_PEER_LOCAL, written.span, format!("`{local_ip}/{len}` has a prefix length, but an address with a peer takes the peer's"))
                    .label("the peer's prefix length is the address's")
                    .help(format!("write it on the peer: `addr {local_ip} peer {}/{len}`", peer_net.node.addr())),
            );
            return None;
        }
        let addr = IfAddr::with_peer(local_ip, peer_net.node).expect("families checked");
        Some(Spanned::new(addr, written.span.to(peer_net.span)))
    }
}
