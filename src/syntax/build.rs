//! pest pairs → AST: one function per grammar rule.

use super::Rule;
use super::limits::MAX_EXPRESSION_DEPTH;
use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::model::{BpfDirection, ExpectKind, FilterVerdict, IpProto, IpvlanFlag, IpvlanMode, KeyWidth, MacvlanMode, VlanProtocol, XdpMode};
use crate::source::{FileId, Span, Spanned};
use crate::units::{self, Duration, Percent, Rate, Size};
use pest::iterators::Pair;

mod bpf;
mod expect;
mod firewall;
mod links;
mod routing;
mod traffic;
mod values;

pub const NUMBER_TOO_LARGE: &str = "netscript::syntax::number_too_large";
pub const BYTE_RATE_UNIT: &str = "netscript::syntax::byte_rate_unit";

pub struct Builder<'t> {
    file: FileId,
    #[allow(dead_code)]
    text: &'t str,
    /// Where the text pest parsed starts in the file (a chunk of it: syntax/chunks.rs).
    pub(super) offset: usize,
    pub diagnostics: Vec<Diagnostic>,
    /// Rule lines read without pest, and where their words were taken out (fast_rules.rs).
    pub(super) fast: super::fast_rules::FastRules,
}

type P<'i> = Pair<'i, Rule>;

fn inner(pair: P<'_>) -> impl Iterator<Item = P<'_>> {
    pair.into_inner()
}

fn first(pair: P<'_>) -> P<'_> {
    pair.into_inner().next().expect("grammar guarantees an inner pair")
}

/// The inner pairs that are not keywords.
fn args(pair: P<'_>) -> impl Iterator<Item = P<'_>> {
    pair.into_inner().filter(|p| !super::rule_kind::is_keyword(p.as_rule()))
}

impl<'t> Builder<'t> {
    pub fn new(file: FileId, text: &'t str) -> Self {
        Builder { file, text, offset: 0, diagnostics: Vec::new(), fast: Default::default() }
    }

    /// A builder for pairs parsed from the file's text starting at byte `offset`.
    pub fn at(file: FileId, text: &'t str, offset: usize) -> Self {
        Builder { file, text, offset, diagnostics: Vec::new(), fast: Default::default() }
    }

    /// An option rule (`route_opt`, `vxlan_opt`, …): which option, its span, its value.
    pub(super) fn option<'i>(&self, wrapper: P<'i>) -> (Rule, Span, P<'i>) {
        let opt = first(wrapper);
        let span = self.span(&opt);
        let rule = opt.as_rule();
        let value = args(opt).next().expect("every option rule carries a value");
        (rule, span, value)
    }

    pub(super) fn span(&self, pair: &P<'_>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, self.fast.position(self.offset + s.start(), false), self.fast.position(self.offset + s.end(), true))
    }

    pub(super) fn spanned<T>(&self, pair: &P<'_>, node: T) -> Spanned<T> {
        Spanned::new(node, self.span(pair))
    }

    pub fn file(&mut self, pair: P<'_>) -> Script {
        let stmts = first(pair);
        Script { stmts: self.stmts(stmts) }
    }

    pub(super) fn stmts(&mut self, pair: P<'_>) -> Vec<Stmt> {
        let mut stmts: Vec<Stmt> = inner(pair).map(|p| self.stmt(p)).collect();
        // The tree of a large script lives through the whole check: without the spare
        // room of each block's doubling.
        stmts.shrink_to_fit();
        stmts
    }

    pub(super) fn block(&mut self, pair: P<'_>) -> Block {
        let span = self.span(&pair);
        Spanned::new(self.stmts(first(pair)), span)
    }

    /// The options of a statement (each read by `read`: which option, its span, its
    /// value) and its block if it has one.
    pub(super) fn options_then_block<'i, T>(&mut self, rest: impl Iterator<Item = P<'i>>, mut read: impl FnMut(&mut Self, Rule, Span, P<'i>) -> T) -> (Vec<T>, Option<Block>) {
        let mut opts = Vec::new();
        let mut body = None;
        for p in rest {
            if p.as_rule() == Rule::block {
                body = Some(self.block(p));
                continue;
            }
            let (rule, span, value) = self.option(p);
            opts.push(read(self, rule, span, value));
        }
        (opts, body)
    }

    pub(super) fn opt_block(&mut self, pair: Option<P<'_>>) -> Option<Block> {
        pair.map(|p| self.block(p))
    }

    pub(super) fn stmt(&mut self, pair: P<'_>) -> Stmt {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let kind = match rule {
            Rule::netns_stmt => {
                let mut it = args(pair);
                let name = self.name(it.next().unwrap());
                StmtKind::Netns { name, body: self.opt_block(it.next()) }
            }
            Rule::host_stmt => StmtKind::Host { body: self.block(args(pair).next().unwrap()) },
            Rule::table_stmt => {
                let mut it = args(pair);
                let name = self.ident(it.next().unwrap());
                StmtKind::Table { name, number: self.expr(it.next().unwrap()) }
            }
            Rule::let_stmt => {
                let mut it = args(pair);
                let name = self.ident(it.next().unwrap());
                StmtKind::Let { name, value: self.let_value(it.next().unwrap()) }
            }
            Rule::for_stmt => {
                let mut it = args(pair);
                let var = self.ident(it.next().unwrap());
                let from = self.expr(it.next().unwrap());
                let inclusive = it.next().unwrap().as_str() == "..=";
                let to = self.expr(it.next().unwrap());
                StmtKind::For { var, from, to, inclusive, body: self.block(it.next().unwrap()) }
            }
            Rule::include_stmt => StmtKind::Include { path: self.string(args(pair).next().unwrap()) },
            Rule::expect_stmt => self.expect_stmt(pair),
            Rule::veth_stmt => {
                let mut it = args(pair);
                let name = self.name(it.next().unwrap());
                let peer = self.name(it.next().unwrap());
                StmtKind::Veth { name, peer, body: self.opt_block(it.next()) }
            }
            Rule::bridge_stmt => {
                let mut it = args(pair);
                let name = self.name(it.next().unwrap());
                StmtKind::Bridge { name, body: self.opt_block(it.next()) }
            }
            Rule::dummy_stmt => {
                let mut it = args(pair);
                let name = self.name(it.next().unwrap());
                StmtKind::Dummy { name, body: self.opt_block(it.next()) }
            }
            Rule::vrf_stmt => {
                let mut it = args(pair).filter(|p| p.as_rule() != Rule::kw_table);
                let name = self.name(it.next().unwrap());
                let table = self.int_value(it.next().unwrap());
                StmtKind::Vrf { name, table, body: self.opt_block(it.next()) }
            }
            Rule::macvlan_stmt => self.macvlan_stmt(pair),
            Rule::vlan_stmt => self.vlan_stmt(pair),
            Rule::ipvlan_stmt => self.ipvlan_stmt(pair),
            Rule::ipip_stmt => self.tunnel_stmt(pair, crate::model::TunnelKind::Ipip),
            Rule::gre_stmt => self.tunnel_stmt(pair, crate::model::TunnelKind::Gre),
            Rule::vxlan_stmt => self.vxlan_stmt(pair),
            Rule::link_stmt => {
                let mut it = args(pair);
                let name = self.name(it.next().unwrap());
                StmtKind::Link { name, body: self.opt_block(it.next()) }
            }
            Rule::addr_stmt => StmtKind::Addr { addrs: args(pair).map(|p| self.addr_value(p)).collect() },
            Rule::up_stmt => StmtKind::Up,
            Rule::down_stmt => StmtKind::Down,
            Rule::mtu_stmt => StmtKind::Mtu { mtu: self.int_value(args(pair).next().unwrap()) },
            Rule::mac_stmt => StmtKind::Mac { mac: self.mac_value(args(pair).next().unwrap()) },
            Rule::master_stmt => StmtKind::Master { bridge: self.name(args(pair).next().unwrap()) },
            Rule::shape_stmt => self.shape_stmt(pair),
            Rule::htb_stmt => self.htb_stmt(pair),
            Rule::class_stmt => self.class_stmt(pair),
            Rule::filter_stmt => self.filter_stmt(pair),
            Rule::u32_table_stmt => {
                let mut it = args(pair);
                let id = self.class_id(it.next().unwrap());
                let (divisor, prio) = (it.next().unwrap(), it.next().unwrap());
                let (divisor_span, prio_span) = (self.span(&divisor), self.span(&prio));
                let divisor = Spanned::new(self.int_value(divisor), divisor_span);
                let prio = Spanned::new(self.int_value(prio), prio_span);
                StmtKind::U32Table { id, divisor, prio }
            }
            Rule::qdisc_stmt => {
                let mut it = args(pair);
                let clsact = first(it.next().unwrap()).as_rule() == Rule::kw_clsact;
                StmtKind::Qdisc { clsact, body: self.opt_block(it.next()) }
            }
            Rule::netem_stmt => StmtKind::Netem { opts: args(pair).map(|p| self.netem_opt(p)).collect() },
            Rule::bpf_stmt => self.bpf_stmt(pair),
            Rule::xdp_stmt => self.xdp_stmt(pair),
            Rule::route_stmt => self.route_stmt(pair),
            Rule::rule_stmt => StmtKind::Rule { opts: args(pair).map(|p| self.rule_opt(p)).collect() },
            Rule::forward_stmt => StmtKind::Forward {
                on: args(pair).next().map(|p| {
                    let on = first(p.clone()).as_rule() == Rule::kw_on;
                    self.spanned(&p, on)
                }),
            },
            Rule::sysctl_stmt => {
                let mut it = args(pair);
                let key = self.template(it.next().unwrap());
                let value_pair = it.next().unwrap();
                let value = self.sysctl_value(value_pair);
                StmtKind::Sysctl { key, value }
            }
            Rule::firewall_stmt => self.firewall_stmt(pair),
            other => unreachable!("not a statement rule: {other:?}"),
        };
        Spanned::new(kind, span)
    }
}
