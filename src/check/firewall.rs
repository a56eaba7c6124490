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
        let mut seen = Given::default();
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
        // Where `proto`, `src`, `dst`, `sport` and `dport` stand, for the diagnostics below.
        let mut spans = Spans::default();
        for m in &r.matches {
            match m {
                FwMatch::Proto(p) if self.given_once(&mut seen, "proto", p.span) => {
                    rule.proto = Some(p.node);
                    spans.proto = Some(p.span);
                }
                FwMatch::Src(x) if self.given_once(&mut seen, "src", x.span) => {
                    rule.src = self.ok(v::network(&self.env, &x.node)).map(|s| {
                        spans.src = Some(s.span);
                        s.node
                    });
                    ok &= rule.src.is_some();
                }
                FwMatch::Dst(x) if self.given_once(&mut seen, "dst", x.span) => {
                    rule.dst = self.ok(v::network(&self.env, &x.node)).map(|s| {
                        spans.dst = Some(s.span);
                        s.node
                    });
                    ok &= rule.dst.is_some();
                }
                FwMatch::Sport(x) if self.given_once(&mut seen, "sport", x.span) => {
                    rule.sport = self.port_range(x);
                    spans.sport = Some(x.span);
                    ok &= rule.sport.is_some();
                }
                FwMatch::Dport(x) if self.given_once(&mut seen, "dport", x.span) => {
                    rule.dport = self.port_range(x);
                    spans.dport = Some(x.span);
                    ok &= rule.dport.is_some();
                }
                FwMatch::Iif(x) if self.given_once(&mut seen, "iif", x.span) => {
                    rule.iif = self.ok(v::template(&self.env, &x.node));
                    ok &= rule.iif.is_some();
                }
                FwMatch::Oif(x) if self.given_once(&mut seen, "oif", x.span) => {
                    rule.oif = self.ok(v::template(&self.env, &x.node));
                    ok &= rule.oif.is_some();
                }
                FwMatch::Mark(x) if self.given_once(&mut seen, "mark", x.span) => {
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
                FwMatch::Ct(x) if self.given_once(&mut seen, "ct", x.span) => {
                    let mut states: Vec<CtState> = x.node.iter().map(|s| s.node).collect();
                    states.sort();
                    states.dedup();
                    rule.ct = states;
                }
                FwMatch::Counter(span) if self.given_once(&mut seen, "counter", *span) => rule.counter = true,
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
        for (what, range, at) in [("sport", rule.sport, spans.sport), ("dport", rule.dport, spans.dport)] {
            if range.is_some() && !rule.proto.is_some_and(FwProto::has_ports) {
                let at = at.expect("a port range that was read has its span");
                let mut d = Diagnostic::error(MISSING_OPTION, at, format!("`{what}` needs `proto tcp` or `proto udp`"))
                    .label("which protocol's port?")
                    .help("add `proto tcp` (or `proto udp`) to the rule");
                if let Some(p) = spans.proto {
                    d = d.also(p, "this protocol has no ports");
                }
                self.report(d);
                return None;
            }
        }
        // One address family a rule: prefixes, NAT addresses and ICMP flavours agree. Each
        // is (IPv4?, where, what), worded only for a diagnostic.
        let v4 = |n: &IpNet| matches!(n, IpNet::V4(_));
        let nat = match &rule.action {
            FwAction::Snat(a) | FwAction::Dnat(a, _) => Some((a.is_ipv4(), action_span, Family::Nat)),
            _ => None,
        };
        let icmp = match rule.proto {
            Some(FwProto::Icmp) => spans.proto.map(|p| (true, p, Family::Icmp)),
            Some(FwProto::Icmpv6) => spans.proto.map(|p| (false, p, Family::Icmpv6)),
            _ => None,
        };
        let families = [
            rule.src.as_ref().zip(spans.src).map(|(n, at)| (v4(n), at, Family::Match("src"))),
            rule.dst.as_ref().zip(spans.dst).map(|(n, at)| (v4(n), at, Family::Match("dst"))),
            nat,
            icmp,
        ];
        let mut families = families.into_iter().flatten();
        if let Some((v4, span, family)) = families.next()
            && let Some((other_v4, other_span, other)) = families.find(|f| f.0 != v4)
        {
            self.report(
                Diagnostic::error(MIXED_FAMILIES, other_span, "a firewall rule matches one address family; these differ")
                    .label(other.label(other_v4))
                    .also(span, family.label(v4))
                    .help("split it into an IPv4 rule and an IPv6 rule"),
            );
            return None;
        }
        Some(rule)
    }
}

/// The matches a rule has given (their spans), each at most once: a second one is
/// `DUPLICATE_OPTION`, reported by [`Evaluator::once`]. An array, not [`Seen`]'s map: a
/// script may hold 10,000 rules.
#[derive(Default)]
struct Given([Option<Span>; 10]);

/// Where a rule's `proto`, `src` and `dst` values and its port ranges stand.
#[derive(Default)]
struct Spans {
    proto: Option<Span>,
    src: Option<Span>,
    dst: Option<Span>,
    sport: Option<Span>,
    dport: Option<Span>,
}

/// What has an address family in a rule (for `MIXED_FAMILIES`'s labels).
#[derive(Clone, Copy)]
enum Family {
    Match(&'static str),
    Nat,
    Icmp,
    Icmpv6,
}

impl Family {
    fn label(self, v4: bool) -> String {
        let version = if v4 { 4 } else { 6 };
        match self {
            Family::Match(what) => format!("`{what}` is IPv{version}"),
            Family::Nat => format!("the NAT address is IPv{version}"),
            Family::Icmp => "`icmp` is IPv4's".into(),
            Family::Icmpv6 => "`icmpv6` is IPv6's".into(),
        }
    }
}

impl Evaluator<'_> {
    /// [`Evaluator::once`] for a rule's match `what` (a word of [`FwMatch`]).
    fn given_once(&mut self, given: &mut Given, what: &'static str, span: Span) -> bool {
        const WORDS: [&str; 10] = ["proto", "src", "dst", "sport", "dport", "iif", "oif", "mark", "ct", "counter"];
        let slot = WORDS.iter().position(|w| *w == what).expect("a match word");
        match given.0[slot] {
            None => {
                given.0[slot] = Some(span);
                true
            }
            Some(first) => {
                let mut seen = Seen::default();
                seen.0.insert(what, first);
                self.once(&mut seen, what, span)
            }
        }
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
