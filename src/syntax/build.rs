//! pest pairs → AST: one function per grammar rule.

use super::Rule;
use super::limits::MAX_EXPRESSION_DEPTH;
use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::model::{BpfDirection, ExpectKind, IpProto, MacvlanMode, XdpMode};
use crate::source::{FileId, Span, Spanned};
use crate::units::{self, Duration, Percent, Rate, Size};
use pest::iterators::Pair;

mod firewall;

pub const NUMBER_TOO_LARGE: &str = "netscript::syntax::number_too_large";
pub const BYTE_RATE_UNIT: &str = "netscript::syntax::byte_rate_unit";

pub struct Builder<'t> {
    file: FileId,
    #[allow(dead_code)]
    text: &'t str,
    pub diagnostics: Vec<Diagnostic>,
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
    pair.into_inner().filter(|p| !format!("{:?}", p.as_rule()).starts_with("kw_"))
}

impl<'t> Builder<'t> {
    pub fn new(file: FileId, text: &'t str) -> Self {
        Builder { file, text, diagnostics: Vec::new() }
    }

    /// An option rule (`route_opt`, `vxlan_opt`, …): which option, its span, its value.
    fn option<'i>(&self, wrapper: P<'i>) -> (Rule, Span, P<'i>) {
        let opt = first(wrapper);
        let span = self.span(&opt);
        let rule = opt.as_rule();
        let value = args(opt).next().expect("every option rule carries a value");
        (rule, span, value)
    }

    fn span(&self, pair: &P<'_>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, s.start(), s.end())
    }

    fn spanned<T>(&self, pair: &P<'_>, node: T) -> Spanned<T> {
        Spanned::new(node, self.span(pair))
    }

    pub fn file(&mut self, pair: P<'_>) -> Script {
        let stmts = first(pair);
        Script { stmts: self.stmts(stmts) }
    }

    fn stmts(&mut self, pair: P<'_>) -> Vec<Stmt> {
        inner(pair).map(|p| self.stmt(p)).collect()
    }

    fn block(&mut self, pair: P<'_>) -> Block {
        let span = self.span(&pair);
        Spanned::new(self.stmts(first(pair)), span)
    }

    fn opt_block(&mut self, pair: Option<P<'_>>) -> Option<Block> {
        pair.map(|p| self.block(p))
    }

    fn stmt(&mut self, pair: P<'_>) -> Stmt {
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
            Rule::macvlan_stmt => self.macvlan_stmt(pair),
            Rule::vxlan_stmt => self.vxlan_stmt(pair),
            Rule::link_stmt => {
                let mut it = args(pair);
                let name = self.name(it.next().unwrap());
                StmtKind::Link { name, body: self.opt_block(it.next()) }
            }
            Rule::addr_stmt => StmtKind::Addr { addrs: args(pair).map(|p| self.ip_value(p)).collect() },
            Rule::up_stmt => StmtKind::Up,
            Rule::down_stmt => StmtKind::Down,
            Rule::mtu_stmt => StmtKind::Mtu { mtu: self.int_value(args(pair).next().unwrap()) },
            Rule::mac_stmt => StmtKind::Mac { mac: self.mac_value(args(pair).next().unwrap()) },
            Rule::master_stmt => StmtKind::Master { bridge: self.name(args(pair).next().unwrap()) },
            Rule::shape_stmt => self.shape_stmt(pair),
            Rule::htb_stmt => {
                let mut default = None;
                let mut body = None;
                for p in args(pair) {
                    match p.as_rule() {
                        Rule::class_id => default = Some(self.class_id(p)),
                        _ => body = Some(self.block(p)),
                    }
                }
                StmtKind::Htb { default, body }
            }
            Rule::class_stmt => self.class_stmt(pair),
            Rule::filter_stmt => self.filter_stmt(pair),
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

    fn expect_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut it = args(pair);
        let ns = self.name(it.next().unwrap());
        let kind = match first(it.next().unwrap()).as_rule() {
            Rule::kw_reach => ExpectKind::Reach,
            _ => ExpectKind::Noreach,
        };
        let addr = self.ip_value(it.next().unwrap());
        let opts = it
            .map(|opt| {
                let (rule, span, value) = self.option(opt);
                match rule {
                    Rule::port_opt => ExpectOpt::Port(Spanned::new(self.int_value(value), span)),
                    _ => ExpectOpt::Within(Spanned::new(self.duration_value(value), span)),
                }
            })
            .collect();
        StmtKind::Expect { ns, kind, addr, opts }
    }

    fn macvlan_stmt(&mut self, pair: P<'_>) -> StmtKind {
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

    fn vxlan_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut it = args(pair);
        let name = self.name(it.next().unwrap());
        let mut opts = Vec::new();
        let mut body = None;
        for p in it {
            if p.as_rule() == Rule::block {
                body = Some(self.block(p));
                continue;
            }
            let (rule, span, value) = self.option(p);
            opts.push(match rule {
                Rule::vni_opt => VxlanOpt::Id(Spanned::new(self.int_value(value), span)),
                Rule::remote_opt => VxlanOpt::Remote(Spanned::new(self.ip_value(value), span)),
                Rule::group_opt => VxlanOpt::Group(Spanned::new(self.ip_value(value), span)),
                Rule::local_opt => VxlanOpt::Local(Spanned::new(self.ip_value(value), span)),
                Rule::dev_opt => VxlanOpt::Dev(Spanned::new(self.name(value), span)),
                _ => VxlanOpt::Port(Spanned::new(self.int_value(value), span)),
            });
        }
        StmtKind::Vxlan { name, opts, body }
    }

    fn shape_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut ingress = false;
        let mut rate = None;
        let mut opts = Vec::new();
        for p in inner(pair) {
            match p.as_rule() {
                Rule::kw_ingress => ingress = true,
                Rule::rate_value => rate = Some(self.rate_value(p)),
                Rule::shape_opt => {
                    let (rule, span, value) = self.option(p);
                    opts.push(match rule {
                        Rule::burst_opt => ShapeOpt::Burst(Spanned::new(self.size_value(value), span)),
                        _ => ShapeOpt::Latency(Spanned::new(self.duration_value(value), span)),
                    });
                }
                _ => {}
            }
        }
        StmtKind::Shape { ingress, rate: rate.expect("grammar requires a rate"), opts }
    }

    fn class_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut it = args(pair);
        let id = self.class_id(it.next().unwrap());
        let mut opts = Vec::new();
        let mut body = None;
        for p in it {
            if p.as_rule() == Rule::block {
                body = Some(self.block(p));
                continue;
            }
            let (rule, span, value) = self.option(p);
            opts.push(match rule {
                Rule::rate_opt => ClassOpt::Rate(Spanned::new(self.rate_value(value), span)),
                Rule::ceil_opt => ClassOpt::Ceil(Spanned::new(self.rate_value(value), span)),
                _ => ClassOpt::Prio(Spanned::new(self.int_value(value), span)),
            });
        }
        StmtKind::Class { id, opts, body }
    }

    fn filter_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut opts = Vec::new();
        let mut target = None;
        for p in args(pair) {
            if p.as_rule() == Rule::class_id {
                target = Some(self.class_id(p));
                continue;
            }
            let (rule, span, value) = self.option(p);
            opts.push(match rule {
                Rule::proto_opt => {
                    let proto = match first(value).as_rule() {
                        Rule::kw_tcp => IpProto::Tcp,
                        Rule::kw_udp => IpProto::Udp,
                        _ => IpProto::Icmp,
                    };
                    FilterOpt::Proto(Spanned::new(proto, span))
                }
                Rule::src_opt => FilterOpt::Src(Spanned::new(self.ip_value(value), span)),
                Rule::dst_opt => FilterOpt::Dst(Spanned::new(self.ip_value(value), span)),
                Rule::sport_opt => FilterOpt::Sport(Spanned::new(self.int_value(value), span)),
                _ => FilterOpt::Dport(Spanned::new(self.int_value(value), span)),
            });
        }
        StmtKind::Filter { opts, target: target.expect("grammar requires a target") }
    }

    fn netem_opt(&mut self, pair: P<'_>) -> NetemOpt {
        let (rule, span, value) = self.option(pair);
        match rule {
            Rule::delay_opt => NetemOpt::Delay(Spanned::new(self.duration_value(value), span)),
            Rule::jitter_opt => NetemOpt::Jitter(Spanned::new(self.duration_value(value), span)),
            Rule::loss_opt => NetemOpt::Loss(Spanned::new(self.percent_value(value), span)),
            _ => NetemOpt::Rate(Spanned::new(self.rate_value(value), span)),
        }
    }

    fn bpf_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut it = args(pair);
        let dir_pair = it.next().unwrap();
        let direction = match first(dir_pair.clone()).as_rule() {
            Rule::kw_ingress => BpfDirection::Ingress,
            _ => BpfDirection::Egress,
        };
        let direction = self.spanned(&dir_pair, direction);
        let path = self.string(it.next().unwrap());
        let section = it.next().map(|p| self.section(p));
        StmtKind::Bpf { direction, path, section }
    }

    fn section(&mut self, pair: P<'_>) -> Spanned<String> {
        let value = args(pair).next().unwrap();
        match value.as_rule() {
            Rule::string => self.string(value),
            _ => self.spanned(&value, value.as_str().to_string()),
        }
    }

    fn xdp_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut it = args(pair);
        let path = self.string(it.next().unwrap());
        let opts = it
            .map(|p| {
                let opt = first(p);
                match opt.as_rule() {
                    Rule::section_opt => XdpOpt::Section(self.section(opt)),
                    _ => {
                        let mode_pair = args(opt).next().unwrap();
                        let mode = match first(mode_pair.clone()).as_rule() {
                            Rule::kw_generic => XdpMode::Generic,
                            _ => XdpMode::Native,
                        };
                        XdpOpt::Mode(self.spanned(&mode_pair, mode))
                    }
                }
            })
            .collect();
        StmtKind::Xdp { path, opts }
    }

    fn route_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut it = args(pair);
        let dest_pair = first(it.next().unwrap());
        let dest = match dest_pair.as_rule() {
            Rule::kw_default => RouteDest::Default(self.span(&dest_pair)),
            _ => RouteDest::Ip(self.ip_value(dest_pair)),
        };
        let opts = it
            .map(|p| {
                let (rule, span, value) = self.option(p);
                match rule {
                    Rule::via_opt => RouteOpt::Via(Spanned::new(self.ip_value(value), span)),
                    Rule::dev_opt => RouteOpt::Dev(Spanned::new(self.name(value), span)),
                    Rule::src_opt => RouteOpt::Src(Spanned::new(self.ip_value(value), span)),
                    Rule::metric_opt => RouteOpt::Metric(Spanned::new(self.int_value(value), span)),
                    _ => RouteOpt::Table(Spanned::new(self.table_ref(value), span)),
                }
            })
            .collect();
        StmtKind::Route { dest, opts }
    }

    fn rule_opt(&mut self, pair: P<'_>) -> RuleOpt {
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
            _ => RuleOpt::Table(Spanned::new(self.table_ref(value), span)),
        }
    }

    fn table_ref(&mut self, pair: P<'_>) -> TableRef {
        let value = first(pair);
        match value.as_rule() {
            Rule::var => TableRef::Name(self.ident(value)),
            _ => TableRef::Number(self.int_value(value)),
        }
    }

    fn sysctl_value(&mut self, pair: P<'_>) -> Spanned<String> {
        let value = first(pair);
        match value.as_rule() {
            Rule::string => self.string(value),
            _ => {
                let raw = value.as_str();
                let trimmed = raw.trim_end();
                let start = value.as_span().start();
                Spanned::new(trimmed.to_string(), Span::new(self.file, start, start + trimmed.len()))
            }
        }
    }

    // ------------------------------------------------------------ names, expressions

    fn ident(&mut self, pair: P<'_>) -> Ident {
        self.spanned(&pair, pair.as_str().to_string())
    }

    fn name(&mut self, pair: P<'_>) -> Name {
        self.template(pair)
    }

    fn template(&mut self, pair: P<'_>) -> Template {
        let span = self.span(&pair);
        let parts = inner(pair)
            .map(|p| match p.as_rule() {
                Rule::interp => Part::Interp(self.expr(first(p))),
                _ => Part::Text(p.as_str().to_string()),
            })
            .collect();
        Template { span, parts }
    }

    fn expr(&mut self, pair: P<'_>) -> Expr {
        self.expr_with_depth(pair).0
    }

    /// An expression and the depth of its tree. A chain of operators deeper than
    /// [`MAX_EXPRESSION_DEPTH`] is reported and cut there: its evaluation (and drop)
    /// recurse once per level.
    fn expr_with_depth(&mut self, pair: P<'_>) -> (Expr, usize) {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::expr | Rule::term => {
                let mut it = inner(pair);
                let (mut left, mut depth) = self.expr_with_depth(it.next().unwrap());
                while let Some(op) = it.next() {
                    let op_span = self.span(&op);
                    let op = match op.as_str() {
                        "+" => BinOp::Add,
                        "-" => BinOp::Sub,
                        "*" => BinOp::Mul,
                        "/" => BinOp::Div,
                        _ => BinOp::Rem,
                    };
                    let (right, right_depth) = self.expr_with_depth(it.next().unwrap());
                    let new_depth = depth.max(right_depth) + 1;
                    if new_depth > MAX_EXPRESSION_DEPTH {
                        self.diagnostics.push(super::limits::expression_too_long(op_span));
                        break;
                    }
                    let span = left.span.to(right.span);
                    left = Spanned::new(ExprKind::Binary(Box::new(left), op, Box::new(right)), span);
                    depth = new_depth;
                }
                (left, depth)
            }
            Rule::factor | Rule::interp => self.expr_with_depth(first(pair)),
            Rule::neg => {
                let (operand, depth) = self.expr_with_depth(first(pair));
                (Spanned::new(ExprKind::Neg(Box::new(operand)), span), depth + 1)
            }
            Rule::integer => (Spanned::new(ExprKind::Int(self.integer(&pair) as i64), span), 1),
            Rule::var => (Spanned::new(ExprKind::Var(pair.as_str().to_string()), span), 1),
            other => unreachable!("not an expression rule: {other:?}"),
        }
    }

    /// An integer literal (decimal or 0x hex); too large ones are reported and read as 0.
    fn integer(&mut self, pair: &P<'_>) -> u64 {
        let text = pair.as_str();
        let parsed = match text.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => text.parse::<u64>(),
        };
        match parsed {
            Ok(v) if v <= i64::MAX as u64 => v,
            _ => {
                self.diagnostics.push(
                    Diagnostic::error(NUMBER_TOO_LARGE, self.span(pair), format!("the number `{text}` is too large"))
                        .label("too large")
                        .help(format!("numbers may be at most {}", i64::MAX)),
                );
                0
            }
        }
    }

    // ------------------------------------------------------------ values

    fn let_value(&mut self, pair: P<'_>) -> LetValue {
        let value = first(pair);
        match value.as_rule() {
            Rule::rate_lit => LetValue::Rate(self.rate_lit(value)),
            Rule::size_lit => LetValue::Size(self.size_lit(value)),
            Rule::duration_lit => LetValue::Duration(self.duration_lit(value)),
            Rule::percent_lit => LetValue::Percent(self.percent_lit(value)),
            Rule::v4_value | Rule::v6_value => LetValue::Ip(self.ip_literal(value)),
            _ => LetValue::Expr(self.expr(value)),
        }
    }

    fn value<L>(&mut self, pair: P<'_>, lit: impl FnOnce(&mut Self, P<'_>) -> Spanned<L>) -> Value<L> {
        let value = first(pair);
        match value.as_rule() {
            Rule::interp => Value::Interp(self.expr(value)),
            _ => Value::Lit(lit(self, value)),
        }
    }

    fn int_value(&mut self, pair: P<'_>) -> IntValue {
        self.value(pair, |b, p| {
            let v = b.integer(&p) as i64;
            b.spanned(&p, v)
        })
    }

    fn rate_value(&mut self, pair: P<'_>) -> RateValue {
        self.value(pair, Self::rate_lit)
    }

    fn size_value(&mut self, pair: P<'_>) -> SizeValue {
        self.value(pair, Self::size_lit)
    }

    fn duration_value(&mut self, pair: P<'_>) -> DurationValue {
        self.value(pair, Self::duration_lit)
    }

    fn percent_value(&mut self, pair: P<'_>) -> PercentValue {
        self.value(pair, Self::percent_lit)
    }

    fn mac_value(&mut self, pair: P<'_>) -> MacValue {
        self.value(pair, |b, p| {
            let mut mac = [0u8; 6];
            for (i, byte) in p.as_str().split(':').enumerate() {
                mac[i] = u8::from_str_radix(byte, 16).expect("grammar guarantees two hex digits");
            }
            b.spanned(&p, mac)
        })
    }

    /// `decimal ~ unit` scaled, with a diagnostic when it does not fit.
    fn quantity(&mut self, pair: &P<'_>, multiplier: impl Fn(&str) -> Option<u64>, what: &str) -> u64 {
        let mut it = pair.clone().into_inner();
        let number = it.next().unwrap().as_str();
        let unit = it.next().map(|u| u.as_str()).unwrap_or("");
        let m = multiplier(unit).expect("grammar only admits known units");
        match units::scale(number, m) {
            Some(v) => v,
            None => {
                self.diagnostics.push(
                    Diagnostic::error(NUMBER_TOO_LARGE, self.span(pair), format!("the {what} `{}` is too large", pair.as_str()))
                        .label("does not fit in 64 bits"),
                );
                0
            }
        }
    }

    fn rate_lit(&mut self, pair: P<'_>) -> Spanned<Rate> {
        let v = self.quantity(&pair, units::rate_multiplier, "rate");
        // tc's `bps` units are bytes per second (`mbps` = 8 mbit): a classic surprise.
        let text = pair.as_str();
        let unit_start = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
        let (number, unit) = text.split_at(unit_start);
        if unit.to_ascii_lowercase().ends_with("bps") {
            let bits_unit = format!("{}bit", &unit[..unit.len() - 3]);
            let in_bits = units::Rate(v);
            let bytes = match unit[..unit.len() - 3].to_ascii_lowercase().as_str() {
                "k" => "kilobyte",
                "m" => "megabyte",
                "g" => "gigabyte",
                "t" => "terabyte",
                _ => "byte",
            };
            let plural = if number == "1" { "" } else { "s" };
            self.diagnostics.push(
                Diagnostic::warning(BYTE_RATE_UNIT, self.span(&pair), format!("`{text}` means {number} {bytes}{plural} per second ({in_bits})"))
                    .label("bps units count bytes, as in tc")
                    .help(format!("write `{in_bits}` to keep this rate in bits, or `{number}{bits_unit}` if bits were meant")),
            );
        }
        self.spanned(&pair, Rate(v))
    }

    fn size_lit(&mut self, pair: P<'_>) -> Spanned<Size> {
        let v = self.quantity(&pair, units::size_multiplier, "size");
        self.spanned(&pair, Size(v))
    }

    fn duration_lit(&mut self, pair: P<'_>) -> Spanned<Duration> {
        let v = self.quantity(&pair, units::duration_multiplier, "duration");
        self.spanned(&pair, Duration(v))
    }

    fn percent_lit(&mut self, pair: P<'_>) -> Spanned<Percent> {
        let number = first(pair.clone()).as_str();
        let v: f64 = number.parse().unwrap_or(0.0);
        self.spanned(&pair, Percent(v))
    }

    fn ip_value(&mut self, pair: P<'_>) -> IpValue {
        let value = first(pair);
        match value.as_rule() {
            Rule::interp => IpValue::Interp(self.expr(value)),
            _ => self.ip_literal(value),
        }
    }

    fn ip_literal(&mut self, pair: P<'_>) -> IpValue {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::v4_value => {
                let mut octets = Vec::with_capacity(4);
                let mut prefix = None;
                for p in inner(pair) {
                    match p.as_rule() {
                        Rule::v4_octet => octets.push(self.octet(first(p))),
                        _ => prefix = Some(self.octet(first(p))),
                    }
                }
                let octets: [Octet; 4] = octets.try_into().expect("grammar guarantees four octets");
                IpValue::V4 { span, octets, prefix }
            }
            _ => {
                let mut it = inner(pair);
                let text = it.next().unwrap().as_str().to_string();
                let prefix = it.next().map(|p| self.octet(first(p)));
                IpValue::V6 { span, text, prefix }
            }
        }
    }

    fn octet(&mut self, pair: P<'_>) -> Octet {
        match pair.as_rule() {
            Rule::interp => Octet::Interp(self.expr(first(pair))),
            _ => {
                let v = pair.as_str().parse::<u64>().unwrap_or(u64::MAX);
                Octet::Lit(self.spanned(&pair, v))
            }
        }
    }

    fn class_id(&mut self, pair: P<'_>) -> ClassId {
        let span = self.span(&pair);
        let parts: Vec<P<'_>> = inner(pair).collect();
        let (major, minor) = match parts.len() {
            2 => (Some(parts[0].clone()), parts[1].clone()),
            _ => (None, parts[0].clone()),
        };
        let major = major.map(|m| self.spanned(&m, m.as_str().to_string()));
        let minor = match minor.as_rule() {
            Rule::interp => ClassMinor::Interp(self.expr(first(minor))),
            _ => ClassMinor::Hex(minor.as_str().to_string()),
        };
        ClassId { span, major, minor }
    }

    fn string(&mut self, pair: P<'_>) -> Spanned<String> {
        let raw = first(pair.clone()).as_str();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => {}
                }
            } else {
                out.push(c);
            }
        }
        self.spanned(&pair, out)
    }
}
