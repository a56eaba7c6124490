//! Inline eBPF filters: `bpf ingress|egress < rules >` and `xdp [mode M] < rules >`
//! (docs/LANGUAGE.md §3b). The rules are the `firewall` statement's, evaluated by its
//! checker (one match model); what eBPF cannot do is refused here first: `reject`, NAT,
//! the stateful matches `ct`, `iif`, `oif`, and in XDP, which has no socket buffer,
//! `mark` and `classify`. `pass` is `accept`.

use super::super::codes::*;
use super::super::core::*;
use crate::ast::{FwActionAst, FwMatch, FwRuleAst, Stmt, StmtKind};
use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::source::Spanned;

impl Evaluator<'_> {
    pub(in crate::check) fn inline_program(&mut self, ns: &str, iface: &str, stmt: &Stmt) {
        match &stmt.node {
            StmtKind::BpfRules { direction, rules } => {
                let rules = self.inline_rules(rules, false);
                let attach = BpfAttach { direction: direction.node, path: Default::default(), section: None, program: None, rules: Some(rules), prio: None, handle: None };
                self.iface_mut(ns, iface).bpf.push(Spanned::new(attach, stmt.span));
            }
            StmtKind::XdpRules { mode, rules } => {
                let rules = self.inline_rules(rules, true);
                if let Some(first) = self.iface_mut(ns, iface).xdp.as_ref().map(|x| x.span) {
                    self.report(
                        Diagnostic::error(CONFLICTING_ATTRIBUTE, stmt.span, format!("`{iface}` can hold one XDP program"))
                            .label("a second one")
                            .also(first, "the first one"),
                    );
                    return;
                }
                let attach = XdpAttach { path: Default::default(), section: None, mode: mode.as_ref().map(|m| m.node), program: None, rules: Some(rules) };
                self.iface_mut(ns, iface).xdp = Some(Box::new(Spanned::new(attach, stmt.span)));
            }
            _ => unreachable!("not an inline program"),
        }
    }

    fn inline_rules(&mut self, rules: &[FwRuleAst], xdp: bool) -> Vec<FwRule> {
        let statement = if xdp { "xdp" } else { "bpf" };
        let a = if xdp { "an" } else { "a" };
        let actions = if xdp { "pass and drop" } else { "pass, drop, mark and classify" };
        let mut out = Vec::new();
        for r in rules {
            let action = &r.action;
            let allowed = match action.node {
                FwActionAst::Accept | FwActionAst::Pass | FwActionAst::Drop => true,
                FwActionAst::Mark(_) | FwActionAst::Classify(_) => !xdp,
                _ => false,
            };
            if !allowed {
                let why = if xdp && matches!(action.node, FwActionAst::Mark(_) | FwActionAst::Classify(_)) {
                    "XDP runs before the kernel makes a socket buffer, which holds the mark and the priority"
                } else {
                    "a stateless eBPF filter only lets packets through, drops them, or (tc) marks or classifies them"
                };
                self.report(
                    Diagnostic::error(BPF_RULE, action.span, format!("`{}` is not an action of {a} `{statement}` rule", action.node.word()))
                        .label(why)
                        .help(format!("`{statement}` rules have the actions {actions}; for this one use a `firewall` rule")),
                );
                continue;
            }
            let mut refused = false;
            for m in &r.matches {
                let (span, word) = match m {
                    FwMatch::Ct(x) => (x.span, "ct"),
                    FwMatch::Iif(x) => (x.span, "iif"),
                    FwMatch::Oif(x) => (x.span, "oif"),
                    FwMatch::Mark(x) if xdp => (x.span, "mark"),
                    _ => continue,
                };
                refused = true;
                let help = if word == "mark" {
                    "XDP sees packets before they have a mark: match the mark in a `bpf ingress|egress` rule".to_string()
                } else {
                    format!("`{word}` needs the kernel's connection or routing state: use a `firewall` rule")
                };
                self.report(Diagnostic::error(BPF_RULE, span, format!("`{word}` is not a match of {a} `{statement}` rule")).label("not in eBPF").help(help));
            }
            if refused {
                continue;
            }
            let mut rule = r.clone();
            if matches!(rule.action.node, FwActionAst::Pass) {
                rule.action.node = FwActionAst::Accept;
            }
            // The firewall's own checks (ports need tcp/udp, one address family, values),
            // at a hook that allows every action left.
            if let Some(rule) = self.fw_rule(Hook::Input, &rule) {
                out.push(rule);
            }
        }
        out
    }
}
