//! Packet policy (`firewall HOOK [policy accept|drop] < rules >`, docs/LANGUAGE.md §3b):
//! evaluation of the rules into [`FwChain`]s, and the checks that need the whole script
//! (interfaces named by `iif`/`oif`, htb classes named by `classify`).
//!
//! The checker refuses what nftables would refuse, before anything changes: NAT outside
//! the hooks where it applies (`dnat` at prerouting/output, `masquerade` at postrouting,
//! `snat` at postrouting/input), `reject` at a routing hook, ports without `proto tcp` or
//! `proto udp`, matches and NAT addresses of different address families.

use super::core::{Evaluator, Seen};
use crate::ast::{FirewallAst, FwActionAst, FwMatch, FwRuleAst, PortRange, Stmt};
use crate::check::codes::*;
use crate::check::values as v;
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::model::*;
use crate::source::{Span, Spanned};
use ipnet::IpNet;

impl Evaluator<'_> {
    pub(super) fn firewall(&mut self, ns: &str, stmt: &Stmt, fw: &FirewallAst) {
        let hook = fw.hook.node;
        let rules: Vec<FwRule> = fw.rules.iter().filter_map(|r| self.fw_rule(hook, r)).collect();
        let namespace = self.desired.namespaces.get_mut(ns).expect("entered");
        let chain = match namespace.firewall.iter().position(|c| c.hook == hook) {
            Some(i) => &mut namespace.firewall[i],
            None => {
                namespace.firewall.push(FwChain { hook, span: stmt.span, policy: None, rules: Vec::new() });
                namespace.firewall.last_mut().expect("pushed")
            }
        };
        chain.rules.extend(rules);
        let Some(policy) = &fw.policy else { return };
        match &chain.policy {
            Some(previous) if previous.node != policy.node => {
                let first = previous.span;
                let word = |v: Verdict| if v == Verdict::Accept { "accept" } else { "drop" };
                let d = Diagnostic::error(CONFLICTING_ATTRIBUTE, policy.span, format!("the {} hook of `{ns}` has two policies, {} and {}", hook.word(), word(previous.node), word(policy.node)))
                    .label("conflicts with the earlier one")
                    .also(first, "first set here")
                    .help("a hook has one default policy: give it once");
                self.report(d);
            }
            Some(_) => {}
            None => chain.policy = Some(policy.clone()),
        }
    }

    pub(super) fn port_range(&mut self, r: &Spanned<PortRange>) -> Option<(u16, u16)> {
        let (from, to) = &r.node;
        let a = self.ok(v::int_in(&self.env, from, "a port", 1, 65535))?;
        let b = match to {
            Some(to) => self.ok(v::int_in(&self.env, to, "a port", 1, 65535))?,
            None => a.clone(),
        };
        if a.node > b.node {
            self.report(
                Diagnostic::error(OUT_OF_RANGE, r.span, format!("the port range {}-{} is reversed", a.node, b.node))
                    .label("the first port must not exceed the second")
                    .help(format!("write `{}-{}`", b.node, a.node)),
            );
            return None;
        }
        Some((a.node as u16, b.node as u16))
    }

    pub(super) fn fw_rule(&mut self, hook: Hook, r: &FwRuleAst) -> Option<FwRule> {
        let mut ok = true;
        let mut seen = Seen::default();
        let mut rule = FwRule {
            span: r.span,
            action: FwAction::Accept,
            proto: None,
            src: None,
            dst: None,
            sport: None,
            dport: None,
            iif: None,
            oif: None,
            mark: None,
            ct: Vec::new(),
            counter: false,
        };
        let mut spans: std::collections::HashMap<&'static str, Span> = Default::default();
        for m in &r.matches {
            match m {
                FwMatch::Proto(p) if self.once(&mut seen, "proto", p.span) => {
                    rule.proto = Some(p.node);
                    spans.insert("proto", p.span);
                }
                FwMatch::Src(x) if self.once(&mut seen, "src", x.span) => {
                    rule.src = self.ok(v::network(&self.env, &x.node)).map(|s| {
                        spans.insert("src", s.span);
                        s.node
                    });
                    ok &= rule.src.is_some();
                }
                FwMatch::Dst(x) if self.once(&mut seen, "dst", x.span) => {
                    rule.dst = self.ok(v::network(&self.env, &x.node)).map(|s| {
                        spans.insert("dst", s.span);
                        s.node
                    });
                    ok &= rule.dst.is_some();
                }
                FwMatch::Sport(x) if self.once(&mut seen, "sport", x.span) => {
                    rule.sport = self.port_range(x);
                    spans.insert("sport", x.span);
                    ok &= rule.sport.is_some();
                }
                FwMatch::Dport(x) if self.once(&mut seen, "dport", x.span) => {
                    rule.dport = self.port_range(x);
                    spans.insert("dport", x.span);
                    ok &= rule.dport.is_some();
                }
                FwMatch::Iif(x) if self.once(&mut seen, "iif", x.span) => {
                    rule.iif = self.ok(v::template(&self.env, &x.node));
                    ok &= rule.iif.is_some();
                }
                FwMatch::Oif(x) if self.once(&mut seen, "oif", x.span) => {
                    rule.oif = self.ok(v::template(&self.env, &x.node));
                    ok &= rule.oif.is_some();
                }
                FwMatch::Mark(x) if self.once(&mut seen, "mark", x.span) => {
                    let (mark, mask) = &x.node;
                    let mark = self.ok(v::int_in(&self.env, mark, "a mark", 0, u32::MAX as i64));
                    let mask = match mask {
                        Some(m) => self.ok(v::int_in(&self.env, m, "a mark mask", 0, u32::MAX as i64)).map(|m| Some(m.node as u32)),
                        None => Some(None),
                    };
                    match (mark, mask) {
                        (Some(mark), Some(mask)) => rule.mark = Some((mark.node as u32, mask)),
                        _ => ok = false,
                    }
                }
                FwMatch::Ct(x) if self.once(&mut seen, "ct", x.span) => {
                    let mut states: Vec<CtState> = x.node.iter().map(|s| s.node).collect();
                    states.sort();
                    states.dedup();
                    rule.ct = states;
                }
                FwMatch::Counter(span) if self.once(&mut seen, "counter", *span) => rule.counter = true,
                _ => ok = false,
            }
        }
        let action_span = r.action.span;
        let hook_error = |what: &str, allowed: &str| {
            Diagnostic::error(FIREWALL_HOOK, action_span, format!("`{what}` does not apply at the {} hook", hook.word()))
                .label(format!("not at {}", hook.word()))
                .help(format!("`{what}` belongs in {allowed}"))
        };
        rule.action = match &r.action.node {
            FwActionAst::Accept => FwAction::Accept,
            FwActionAst::Drop => FwAction::Drop,
            FwActionAst::Reject if !hook.allows_reject() => {
                self.report(hook_error("reject", "`firewall input`, `firewall forward` or `firewall output`; at this hook, `drop`"));
                return None;
            }
            FwActionAst::Reject => FwAction::Reject,
            FwActionAst::Pass => {
                self.report(
                    Diagnostic::error(FIREWALL_HOOK, action_span, "`pass` is the eBPF back end's verdict, not a firewall's")
                        .label("not in a firewall")
                        .help("a firewall rule lets packets through with `accept`"),
                );
                return None;
            }
            FwActionAst::Masquerade if hook != Hook::Postrouting => {
                self.report(hook_error("masquerade", "`firewall postrouting`, where source NAT applies"));
                return None;
            }
            FwActionAst::Masquerade => FwAction::Masquerade,
            FwActionAst::Snat(_) if !hook.has_snat() => {
                self.report(hook_error("snat", "`firewall postrouting` (or `input`), where source NAT applies"));
                return None;
            }
            FwActionAst::Snat(a) => FwAction::Snat(self.ok(v::address(&self.env, a))?.node),
            FwActionAst::Dnat(..) if !hook.has_dnat() => {
                self.report(hook_error("dnat", "`firewall prerouting` (or `output`), where destination NAT applies"));
                return None;
            }
            FwActionAst::Dnat(a, port) => {
                let addr = self.ok(v::address(&self.env, a))?.node;
                let port = match port {
                    Some(p) => {
                        let port = self.ok(v::int_in(&self.env, p, "a port", 1, 65535))?;
                        if !rule.proto.is_some_and(FwProto::has_ports) {
                            self.report(
                                Diagnostic::error(MISSING_OPTION, port.span, "`dnat` to a port needs `proto tcp` or `proto udp`")
                                    .label("which protocol's port?")
                                    .help("add `proto tcp` (or `proto udp`) to the rule"),
                            );
                            return None;
                        }
                        Some(port.node as u16)
                    }
                    None => None,
                };
                FwAction::Dnat(addr, port)
            }
            FwActionAst::Mark(n) => FwAction::Mark(self.ok(v::int_in(&self.env, n, "a mark", 0, u32::MAX as i64))?.node as u32),
            FwActionAst::Classify(id) => FwAction::Classify(self.ok(v::class_minor(&self.env, id))?.node),
        };
        if !ok {
            return None;
        }
        for (what, range) in [("sport", rule.sport), ("dport", rule.dport)] {
            if range.is_some() && !rule.proto.is_some_and(FwProto::has_ports) {
                let mut d = Diagnostic::error(MISSING_OPTION, spans[what], format!("`{what}` needs `proto tcp` or `proto udp`"))
                    .label("which protocol's port?")
                    .help("add `proto tcp` (or `proto udp`) to the rule");
                if let Some(p) = spans.get("proto") {
                    d = d.also(*p, "this protocol has no ports");
                }
                self.report(d);
                return None;
            }
        }
        // One address family a rule: prefixes, NAT addresses and ICMP flavours agree.
        let mut families: Vec<(bool, Span, String)> = Vec::new();
        for (what, net) in [("src", rule.src), ("dst", rule.dst)] {
            if let Some(n) = net {
                families.push((matches!(n, IpNet::V4(_)), spans[what], format!("`{what}` is IPv{}", if matches!(n, IpNet::V4(_)) { 4 } else { 6 })));
            }
        }
        if let FwAction::Snat(a) | FwAction::Dnat(a, _) = &rule.action {
            families.push((a.is_ipv4(), action_span, format!("the NAT address is IPv{}", if a.is_ipv4() { 4 } else { 6 })));
        }
        match rule.proto {
            Some(FwProto::Icmp) => families.push((true, spans["proto"], "`icmp` is IPv4's".into())),
            Some(FwProto::Icmpv6) => families.push((false, spans["proto"], "`icmpv6` is IPv6's".into())),
            _ => {}
        }
        if let Some((v4, span, label)) = families.first().cloned()
            && let Some((_, other_span, other_label)) = families.iter().find(|f| f.0 != v4).cloned()
        {
            self.report(
                Diagnostic::error(MIXED_FAMILIES, other_span, "a firewall rule matches one address family; these differ")
                    .label(other_label)
                    .also(span, label)
                    .help("split it into an IPv4 rule and an IPv6 rule"),
            );
            return None;
        }
        Some(rule)
    }
}

/// The whole-script checks of a namespace's firewall: `iif`/`oif` name interfaces the
/// namespace declares (or `link`s), `classify` names a declared htb class.
pub(in crate::check) fn validate(ns: &Namespace, found: &mut Vec<Diagnostic>) {
    for chain in &ns.firewall {
        for rule in &chain.rules {
            for (name, role) in [(&rule.iif, "input interface"), (&rule.oif, "output interface")] {
                let Some(name) = name else { continue };
                if name.node == "lo" || ns.interfaces.contains_key(&name.node) {
                    continue;
                }
                let help = did_you_mean(&name.node, ns.interfaces.keys().map(String::as_str))
                    .unwrap_or_else(|| format!("if `{}` exists already, declare it in `{}` with `link {}`", name.node, ns.name, name.node));
                found.push(
                    Diagnostic::error(UNKNOWN_INTERFACE, name.span, format!("unknown interface `{}` in namespace `{}`", name.node, ns.name))
                        .label(format!("no such {role} in `{}`", ns.name))
                        .help(help),
                );
            }
            if let FwAction::Classify(id) = rule.action {
                let has_class = |iface: &Interface| matches!(&iface.root_qdisc, Some(q) if matches!(&q.node, Qdisc::Htb(h) if h.classes.iter().any(|c| c.id.node == id)));
                let candidates: Vec<&Interface> = match &rule.oif {
                    Some(oif) => ns.interfaces.get(&oif.node).into_iter().collect(),
                    None => ns.interfaces.values().collect(),
                };
                if candidates.iter().any(|i| has_class(i)) {
                    continue;
                }
                let where_ = match &rule.oif {
                    Some(oif) => format!("on `{}`", oif.node),
                    None => format!("on any interface of `{}`", ns.name),
                };
                found.push(
                    Diagnostic::error(UNKNOWN_CLASS, rule.span, format!("`classify {id:x}` names htb class 1:{id:x}, which is not declared {where_}"))
                        .label("no such htb class")
                        .help(format!("declare it on the outgoing interface: `htb < class {id:x} rate 1mbit >`")),
                );
            }
        }
    }
}
