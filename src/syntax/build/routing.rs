//! Routing statements: route, rule options, table references, sysctl values.

use super::*;
use crate::model::{FwProto, RouteKind};

impl Builder<'_> {
    pub(super) fn route_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut it = args(pair).peekable();
        let kind = it.next_if(|p| p.as_rule() == Rule::route_kind).map(|k| {
            let span = self.span(&k);
            let kind = match first(k).as_rule() {
                Rule::kw_blackhole => RouteKind::Blackhole,
                Rule::kw_unreachable => RouteKind::Unreachable,
                _ => RouteKind::Prohibit,
            };
            Spanned::new(kind, span)
        });
        let dest_pair = first(it.next().unwrap());
        let dest = match dest_pair.as_rule() {
            Rule::kw_default => RouteDest::Default(self.span(&dest_pair)),
            _ => RouteDest::Ip(self.ip_value(dest_pair)),
        };
        let opts = it
            .map(|p| {
                if let Some(onlink) = p.clone().into_inner().next().filter(|o| o.as_rule() == Rule::onlink_opt) {
                    return RouteOpt::Onlink(self.span(&onlink));
                }
                if let Some(hop) = p.clone().into_inner().next().filter(|o| o.as_rule() == Rule::nexthop_opt) {
                    return self.nexthop(hop);
                }
                let (rule, span, value) = self.option(p);
                match rule {
                    Rule::via_opt => RouteOpt::Via(Spanned::new(self.ip_value(value), span)),
                    Rule::dev_opt => RouteOpt::Dev(Spanned::new(self.name(value), span)),
                    Rule::src_opt => RouteOpt::Src(Spanned::new(self.ip_value(value), span)),
                    Rule::metric_opt => RouteOpt::Metric(Spanned::new(self.int_value(value), span)),
                    Rule::route_mtu_opt => RouteOpt::Mtu(Spanned::new(self.int_value(value), span)),
                    Rule::advmss_opt => RouteOpt::Advmss(Spanned::new(self.int_value(value), span)),
                    Rule::scope_opt => RouteOpt::Scope(Spanned::new(
                        match first(value.clone()).as_rule() {
                            Rule::kw_host => RouteScopeValue::Host,
                            Rule::kw_link => RouteScopeValue::Link,
                            Rule::kw_global => RouteScopeValue::Global,
                            _ => RouteScopeValue::Number(self.int_value(first(value))),
                        },
                        span,
                    )),
                    Rule::route_proto_opt => RouteOpt::Proto(Spanned::new(
                        match value.as_rule() {
                            Rule::var => TableRef::Name(self.ident(value)),
                            _ => TableRef::Number(self.int_value(value)),
                        },
                        span,
                    )),
                    _ => RouteOpt::Table(Spanned::new(self.table_ref(value), span)),
                }
            })
            .collect();
        StmtKind::Route { kind, dest, opts }
    }

    pub(super) fn rule_opt(&mut self, pair: P<'_>) -> RuleOpt {
        let opt = first(pair);
        let span = self.span(&opt);
        let rule = opt.as_rule();
        let mut values = args(opt);
        let value = values.next().unwrap();
        match rule {
            Rule::from_opt => RuleOpt::From(Spanned::new(self.ip_value(value), span)),
            Rule::to_opt => RuleOpt::To(Spanned::new(self.ip_value(value), span)),
            Rule::iif_opt => RuleOpt::Iif(Spanned::new(self.name(value), span)),
            Rule::oif_opt => RuleOpt::Oif(Spanned::new(self.name(value), span)),
            Rule::fwmark_opt => {
                let mark = self.int_value(value);
                let mask = values.next().map(|m| self.int_value(m));
                RuleOpt::Fwmark(Spanned::new((mark, mask), span))
            }
            Rule::uidrange_opt => {
                let from = self.int_value(value);
                let to = self.int_value(values.next().unwrap());
                RuleOpt::Uidrange(Spanned::new((from, to), span))
            }
            Rule::priority_opt => RuleOpt::Priority(Spanned::new(self.int_value(value), span)),
            Rule::ipproto_opt => {
                let proto = match value.as_rule() {
                    Rule::fw_ip_proto => RuleProto::Named(match first(value).as_rule() {
                        Rule::kw_tcp => FwProto::Tcp,
                        Rule::kw_udp => FwProto::Udp,
                        Rule::kw_icmpv6 => FwProto::Icmpv6,
                        _ => FwProto::Icmp,
                    }),
                    _ => RuleProto::Number(self.int_value(value)),
                };
                RuleOpt::IpProto(Spanned::new(proto, span))
            }
            // `WORD VALUE[/MASK]`: the option's span ends at its last value (the pair's
            // would take in the blank before a mask that is not there).
            Rule::rule_sport | Rule::rule_dport => {
                let mut end = self.span(&value);
                let range = self.port_range(value);
                let mask = values.next().map(|m| {
                    end = self.span(&m);
                    self.int_value(m)
                });
                let node = Spanned::new((range, mask), Span { end: end.end, ..span });
                if rule == Rule::rule_sport { RuleOpt::Sport(node) } else { RuleOpt::Dport(node) }
            }
            Rule::tos_opt => RuleOpt::Tos(Spanned::new(self.int_value(value), span)),
            Rule::dscp_opt | Rule::flowlabel_opt => {
                let mut end = self.span(&value);
                let v = self.int_value(value);
                let mask = values.next().map(|m| {
                    end = self.span(&m);
                    self.int_value(m)
                });
                let node = Spanned::new((v, mask), Span { end: end.end, ..span });
                if rule == Rule::dscp_opt { RuleOpt::Dscp(node) } else { RuleOpt::Flowlabel(node) }
            }
            _ => RuleOpt::Table(Spanned::new(self.table_ref(value), span)),
        }
    }

    pub(super) fn table_ref(&mut self, pair: P<'_>) -> TableRef {
        let value = first(pair);
        match value.as_rule() {
            Rule::var => TableRef::Name(self.ident(value)),
            _ => TableRef::Number(self.int_value(value)),
        }
    }

    pub(super) fn sysctl_value(&mut self, pair: P<'_>) -> Spanned<String> {
        let value = first(pair);
        match value.as_rule() {
            Rule::string => self.string(value),
            _ => {
                let raw = value.as_str();
                let trimmed = raw.trim_end();
                let start = self.fast.position(self.offset + value.as_span().start(), false);
                Spanned::new(trimmed.to_string(), Span::new(self.file, start, start + trimmed.len()))
            }
        }
    }
}

impl Builder<'_> {
    /// `nexthop via IP [dev NAME] [weight N]`: the parts as written (each may repeat
    /// here; the checker says so).
    fn nexthop(&mut self, pair: P<'_>) -> RouteOpt {
        let span = self.span(&pair);
        let mut hop = NexthopAst { via: Vec::new(), dev: Vec::new(), weight: Vec::new() };
        for part in args(pair) {
            let part_span = self.span(&part);
            let rule = part.as_rule();
            let value = args(part).next().expect("every nexthop part carries a value");
            match rule {
                Rule::via_opt => hop.via.push(Spanned::new(self.ip_value(value), part_span)),
                Rule::dev_opt => hop.dev.push(Spanned::new(self.name(value), part_span)),
                _ => hop.weight.push(Spanned::new(self.int_value(value), part_span)),
            }
        }
        RouteOpt::Nexthop(Spanned::new(hop, span))
    }
}
