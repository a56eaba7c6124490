//! pest pairs → AST for packet policy (`firewall`).

use super::{P, args, first, inner};
use crate::ast::*;
use crate::model::{CtState, FwProto, Hook, Verdict};
use crate::source::Spanned;
use crate::syntax::Rule;

impl super::Builder<'_> {
    pub(super) fn firewall_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut hook = None;
        let mut policy = None;
        let mut rules = Vec::new();
        for p in args(pair) {
            match p.as_rule() {
                Rule::fw_hook => {
                    let h = match first(p.clone()).as_rule() {
                        Rule::kw_input => Hook::Input,
                        Rule::kw_forward => Hook::Forward,
                        Rule::kw_output => Hook::Output,
                        Rule::kw_prerouting => Hook::Prerouting,
                        _ => Hook::Postrouting,
                    };
                    hook = Some(self.spanned(&p, h));
                }
                Rule::fw_policy => {
                    let v = args(p.clone()).next().expect("grammar requires a verdict");
                    let verdict = match first(v.clone()).as_rule() {
                        Rule::kw_accept => Verdict::Accept,
                        _ => Verdict::Drop,
                    };
                    policy = Some(self.spanned(&v, verdict));
                }
                _ => rules = self.rule_block(p),
            }
        }
        StmtKind::Firewall(FirewallAst { hook: hook.expect("grammar requires a hook"), policy, rules })
    }

    /// The rules of a `< RULE; ... >` block (a firewall's, an inline eBPF program's): those
    /// pest parsed and those read without it (fast_rules.rs), in the order of the text.
    pub(super) fn rule_block(&mut self, block: P<'_>) -> Vec<FwRuleAst> {
        let span = self.span(&block);
        let parsed: Vec<FwRuleAst> = inner(block).filter(|r| r.as_rule() == Rule::fw_rule).map(|r| self.fw_rule(r)).collect();
        let fast = self.fast.take_before(span.start, span.end);
        if fast.is_empty() {
            return parsed;
        }
        let mut rules = Vec::with_capacity(parsed.len() + fast.len());
        let (mut parsed, mut fast) = (parsed.into_iter().peekable(), fast.into_iter().peekable());
        while let (Some(p), Some(f)) = (parsed.peek(), fast.peek()) {
            let next = if p.span.start < f.span.start { parsed.next() } else { fast.next() };
            rules.extend(next);
        }
        rules.extend(parsed);
        rules.extend(fast);
        rules
    }

    pub(super) fn fw_rule(&mut self, pair: P<'_>) -> FwRuleAst {
        let span = self.span(&pair);
        let mut it = inner(pair);
        let action = self.fw_action(it.next().expect("grammar requires an action"));
        let matches = it.map(|m| self.fw_match(m)).collect();
        FwRuleAst { span, action, matches }
    }

    fn fw_action(&mut self, pair: P<'_>) -> Spanned<FwActionAst> {
        let a = first(pair);
        let span = self.span(&a);
        let action = match a.as_rule() {
            Rule::kw_accept => FwActionAst::Accept,
            Rule::kw_drop => FwActionAst::Drop,
            Rule::kw_reject => FwActionAst::Reject,
            Rule::kw_pass => FwActionAst::Pass,
            Rule::kw_masquerade => FwActionAst::Masquerade,
            Rule::fw_mark_set => FwActionAst::Mark(self.int_value(args(a).next().unwrap())),
            Rule::fw_classify => FwActionAst::Classify(self.class_id(args(a).next().unwrap())),
            Rule::fw_snat => FwActionAst::Snat(self.ip_value(args(a).next().unwrap())),
            _ => {
                let target = first(args(a).next().unwrap());
                match target.as_rule() {
                    Rule::dnat_v4_port => {
                        let tspan = self.span(&target);
                        let mut octets = Vec::with_capacity(4);
                        let mut port = None;
                        for p in inner(target) {
                            match p.as_rule() {
                                Rule::v4_octet => octets.push(self.octet(first(p))),
                                _ => port = Some(self.int_value(p)),
                            }
                        }
                        let octets: [Octet; 4] = octets.try_into().expect("grammar guarantees four octets");
                        let addr_end = tspan.end - port.as_ref().map(|p| p.span().len() as u32 + 1).unwrap_or(0);
                        let aspan = crate::source::Span { end: addr_end, ..tspan };
                        FwActionAst::Dnat(IpValue::V4 { span: aspan, octets, prefix: None }, port)
                    }
                    Rule::dnat_v6_port => {
                        let mut it = inner(target);
                        let addr = self.ip_literal(it.next().unwrap());
                        let port = self.int_value(it.next().unwrap());
                        FwActionAst::Dnat(addr, Some(port))
                    }
                    _ => FwActionAst::Dnat(self.ip_value(target), None),
                }
            }
        };
        Spanned::new(action, span)
    }

    pub(super) fn port_range(&mut self, pair: P<'_>) -> PortRange {
        let mut it = inner(pair);
        let from = self.int_value(it.next().unwrap());
        let to = it.next().map(|p| self.int_value(p));
        (from, to)
    }

    fn fw_match(&mut self, pair: P<'_>) -> FwMatch {
        let m = first(pair);
        let span = self.span(&m);
        match m.as_rule() {
            Rule::kw_counter => FwMatch::Counter(span),
            Rule::fw_proto => {
                let proto = match first(args(m).next().unwrap()).as_rule() {
                    Rule::kw_tcp => FwProto::Tcp,
                    Rule::kw_udp => FwProto::Udp,
                    Rule::kw_icmpv6 => FwProto::Icmpv6,
                    _ => FwProto::Icmp,
                };
                FwMatch::Proto(Spanned::new(proto, span))
            }
            Rule::src_opt => FwMatch::Src(Spanned::new(self.ip_value(args(m).next().unwrap()), span)),
            Rule::dst_opt => FwMatch::Dst(Spanned::new(self.ip_value(args(m).next().unwrap()), span)),
            Rule::fw_sport => FwMatch::Sport(Spanned::new(self.port_range(args(m).next().unwrap()), span)),
            Rule::fw_dport => FwMatch::Dport(Spanned::new(self.port_range(args(m).next().unwrap()), span)),
            Rule::iif_opt => FwMatch::Iif(Spanned::new(self.name(args(m).next().unwrap()), span)),
            Rule::oif_opt => FwMatch::Oif(Spanned::new(self.name(args(m).next().unwrap()), span)),
            Rule::fw_mark_match => {
                let mut it = args(m);
                let mark = self.int_value(it.next().unwrap());
                let mask = it.next().map(|p| self.int_value(p));
                FwMatch::Mark(Spanned::new((mark, mask), span))
            }
            _ => {
                let states = args(m)
                    .map(|s| {
                        let state = match first(s.clone()).as_rule() {
                            Rule::kw_new => CtState::New,
                            Rule::kw_established => CtState::Established,
                            Rule::kw_related => CtState::Related,
                            _ => CtState::Invalid,
                        };
                        self.spanned(&s, state)
                    })
                    .collect();
                FwMatch::Ct(Spanned::new(states, span))
            }
        }
    }
}
