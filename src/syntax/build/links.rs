//! Link declarations with options: macvlan, vxlan.

use super::*;

impl Builder<'_> {
    pub(super) fn macvlan_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut it = args(pair);
        let name = self.name(it.next().unwrap());
        let parent = self.name(it.next().unwrap());
        let mut mode = None;
        let mut body = None;
        for p in it {
            match p.as_rule() {
                Rule::macvlan_mode => {
                    let m = match first(p.clone()).as_rule() {
                        Rule::kw_bridge => MacvlanMode::Bridge,
                        Rule::kw_private => MacvlanMode::Private,
                        Rule::kw_vepa => MacvlanMode::Vepa,
                        _ => MacvlanMode::Passthru,
                    };
                    mode = Some(self.spanned(&p, m));
                }
                _ => body = Some(self.block(p)),
            }
        }
        StmtKind::Macvlan { name, parent, mode, body }
    }

    pub(super) fn ipvlan_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut it = args(pair);
        let name = self.name(it.next().unwrap());
        let parent = self.name(it.next().unwrap());
        let (mut mode, mut flag, mut body) = (None, None, None);
        for p in it {
            match p.as_rule() {
                Rule::ipvlan_mode => {
                    let m = match p.as_str() {
                        "l2" => IpvlanMode::L2,
                        "l3s" => IpvlanMode::L3s,
                        _ => IpvlanMode::L3,
                    };
                    mode = Some(self.spanned(&p, m));
                }
                Rule::ipvlan_flag => {
                    let f = match first(p.clone()).as_rule() {
                        Rule::kw_private => IpvlanFlag::Private,
                        Rule::kw_vepa => IpvlanFlag::Vepa,
                        _ => IpvlanFlag::Bridge,
                    };
                    flag = Some(self.spanned(&p, f));
                }
                _ => body = Some(self.block(p)),
            }
        }
        StmtKind::Ipvlan { name, parent, mode, flag, body }
    }

    pub(super) fn vlan_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut it = args(pair);
        let name = self.name(it.next().unwrap());
        let parent = self.name(it.next().unwrap());
        let id = self.int_value(it.next().unwrap());
        let mut protocol = None;
        let mut body = None;
        for p in it {
            match p.as_rule() {
                Rule::vlan_protocol => {
                    let v = if p.as_str() == "802.1ad" { VlanProtocol::Ieee8021Ad } else { VlanProtocol::Ieee8021Q };
                    protocol = Some(self.spanned(&p, v));
                }
                _ => body = Some(self.block(p)),
            }
        }
        StmtKind::Vlan { name, parent, id, protocol, body }
    }

    pub(super) fn tunnel_stmt(&mut self, pair: P<'_>, kind: crate::model::TunnelKind) -> StmtKind {
        let mut it = args(pair);
        let name = self.name(it.next().unwrap());
        let (opts, body) = self.options_then_block(it, |b, rule, span, value| match rule {
            Rule::remote_opt => TunnelOpt::Remote(Spanned::new(b.ip_value(value), span)),
            Rule::local_opt => TunnelOpt::Local(Spanned::new(b.ip_value(value), span)),
            Rule::ttl_opt => TunnelOpt::Ttl(Spanned::new(b.int_value(value), span)),
            _ => TunnelOpt::Key(Spanned::new(b.int_value(value), span)),
        });
        StmtKind::Tunnel { kind, name, opts, body }
    }

    pub(super) fn vxlan_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut it = args(pair);
        let name = self.name(it.next().unwrap());
        let (opts, body) = self.options_then_block(it, |b, rule, span, value| match rule {
            Rule::vni_opt => VxlanOpt::Id(Spanned::new(b.int_value(value), span)),
            Rule::remote_opt => VxlanOpt::Remote(Spanned::new(b.ip_value(value), span)),
            Rule::group_opt => VxlanOpt::Group(Spanned::new(b.ip_value(value), span)),
            Rule::local_opt => VxlanOpt::Local(Spanned::new(b.ip_value(value), span)),
            Rule::dev_opt => VxlanOpt::Dev(Spanned::new(b.name(value), span)),
            _ => VxlanOpt::Port(Spanned::new(b.int_value(value), span)),
        });
        StmtKind::Vxlan { name, opts, body }
    }
}
