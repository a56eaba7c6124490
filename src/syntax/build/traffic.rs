//! Traffic control statements: shape, htb classes and filters, netem options, class ids.

use super::*;

impl Builder<'_> {
    pub(super) fn shape_stmt(&mut self, pair: P<'_>) -> StmtKind {
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
                        Rule::limit_opt => ShapeOpt::Limit(Spanned::new(self.size_value(value), span)),
                        Rule::peakrate_opt => ShapeOpt::Peakrate(Spanned::new(self.rate_value(value), span)),
                        Rule::tc_mtu_opt => ShapeOpt::Mtu(Spanned::new(self.size_value(value), span)),
                        Rule::overhead_opt | Rule::mpu_opt | Rule::linklayer_opt => ShapeOpt::Framing(self.framing_opt(rule, span, value)),
                        _ => ShapeOpt::Latency(Spanned::new(self.duration_value(value), span)),
                    });
                }
                _ => {}
            }
        }
        StmtKind::Shape { ingress, rate: rate.expect("grammar requires a rate"), opts }
    }

    /// `overhead N`, `mpu SIZE`, `linklayer ethernet|atm` (of `shape` and `class`).
    fn framing_opt(&mut self, rule: Rule, span: Span, value: P<'_>) -> FramingOpt {
        match rule {
            Rule::overhead_opt => FramingOpt::Overhead(Spanned::new(self.int_value(value), span)),
            Rule::mpu_opt => FramingOpt::Mpu(Spanned::new(self.size_value(value), span)),
            _ => {
                let layer = match first(value.clone()).as_rule() {
                    Rule::kw_atm => crate::model::LinkLayer::Atm,
                    _ => crate::model::LinkLayer::Ethernet,
                };
                FramingOpt::Linklayer(Spanned::new(layer, span))
            }
        }
    }

    pub(super) fn htb_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut default = None;
        let (opts, body) = self.options_then_block(args(pair), |b, rule, span, value| match rule {
            Rule::htb_default_opt => {
                default = Some(b.class_id(value));
                None
            }
            Rule::r2q_opt => Some(HtbOpt::R2q(Spanned::new(b.int_value(value), span))),
            _ => Some(HtbOpt::DirectQlen(Spanned::new(b.int_value(value), span))),
        });
        StmtKind::Htb { default, opts: opts.into_iter().flatten().collect(), body }
    }

    pub(super) fn class_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut it = args(pair);
        let id = self.class_id(it.next().unwrap());
        let (opts, body) = self.options_then_block(it, |b, rule, span, value| match rule {
            Rule::rate_opt => ClassOpt::Rate(Spanned::new(b.rate_value(value), span)),
            Rule::ceil_opt => ClassOpt::Ceil(Spanned::new(b.rate_value(value), span)),
            Rule::burst_opt => ClassOpt::Burst(Spanned::new(b.size_value(value), span)),
            Rule::cburst_opt => ClassOpt::Cburst(Spanned::new(b.size_value(value), span)),
            Rule::quantum_opt => ClassOpt::Quantum(Spanned::new(b.size_value(value), span)),
            Rule::tc_mtu_opt => ClassOpt::Mtu(Spanned::new(b.size_value(value), span)),
            Rule::overhead_opt | Rule::mpu_opt | Rule::linklayer_opt => ClassOpt::Framing(b.framing_opt(rule, span, value)),
            _ => ClassOpt::Prio(Spanned::new(b.int_value(value), span)),
        });
        StmtKind::Class { id, opts, body }
    }

    pub(super) fn filter_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut opts = Vec::new();
        let mut target = None;
        let mut action = None;
        for p in args(pair) {
            if p.as_rule() == Rule::class_id {
                target = Some(self.class_id(p));
                continue;
            }
            if p.as_rule() == Rule::filter_action {
                let verdict = match args(p.clone()).next().map(|v| first(v).as_rule()) {
                    Some(Rule::kw_drop) => FilterVerdict::Drop,
                    Some(Rule::kw_reclassify) => FilterVerdict::Reclassify,
                    Some(Rule::kw_continue) => FilterVerdict::Continue,
                    // `pass` is gact's other name for `ok`.
                    _ => FilterVerdict::Ok,
                };
                action = Some(self.spanned(&p, verdict));
                continue;
            }
            let inner_opt = first(p.clone());
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
                Rule::prio_opt => FilterOpt::Prio(Spanned::new(self.int_value(value), span)),
                Rule::u32_handle_opt => FilterOpt::Handle(self.class_id(value)),
                Rule::u32_link_opt => {
                    let hashkey = args(inner_opt).nth(1).map(|h| {
                        let mut it = args(h);
                        let (mask, at) = (it.next().unwrap(), it.next().unwrap());
                        let (mask_span, at_span) = (self.span(&mask), self.span(&at));
                        (Spanned::new(self.int_value(mask), mask_span), Spanned::new(self.int_value(at), at_span))
                    });
                    FilterOpt::Link { table: self.class_id(value), hashkey }
                }
                Rule::u32_ht_opt => FilterOpt::Ht(self.class_id(value)),
                Rule::u32_sample_opt => FilterOpt::Sample(self.raw_key(value)),
                Rule::u32_match_opt => FilterOpt::Match(self.raw_key(value)),
                _ => FilterOpt::Dport(Spanned::new(self.int_value(value), span)),
            });
        }
        StmtKind::Filter { opts, target, action }
    }

    /// `u32|u16|u8 VALUE MASK [at OFF]` of a `match` or `sample`.
    fn raw_key(&mut self, pair: P<'_>) -> RawKeyAst {
        let span = self.span(&pair);
        let mut it = args(pair);
        let width_pair = it.next().expect("grammar: a width");
        let width = match first(width_pair.clone()).as_rule() {
            Rule::kw_u8 => KeyWidth::U8,
            Rule::kw_u16 => KeyWidth::U16,
            _ => KeyWidth::U32,
        };
        let width = self.spanned(&width_pair, width);
        let value_of = |b: &mut Self, p: P<'_>| {
            let s = b.span(&p);
            Spanned::new(b.int_value(p), s)
        };
        let value = value_of(self, it.next().expect("grammar: a value"));
        let mask = value_of(self, it.next().expect("grammar: a mask"));
        let at = it.next().map(|p| value_of(self, p));
        RawKeyAst { span, width, value, mask, at }
    }

    pub(super) fn netem_opt(&mut self, pair: P<'_>) -> NetemOpt {
        if first(pair.clone()).as_rule() == Rule::slot_opt {
            return self.slot_opt(first(pair));
        }
        let (rule, span, value) = self.option(pair);
        match rule {
            Rule::delay_opt => NetemOpt::Delay(Spanned::new(self.duration_value(value), span)),
            Rule::jitter_opt => NetemOpt::Jitter(Spanned::new(self.duration_value(value), span)),
            Rule::loss_opt if value.as_rule() != Rule::percent_value => {
                let gemodel = value.as_rule() == Rule::loss_gemodel;
                let values = args(value)
                    .map(|p| {
                        let s = self.span(&p);
                        Spanned::new(self.percent_value(p), s)
                    })
                    .collect();
                NetemOpt::LossModel(Spanned::new(LossModelAst { gemodel, values }, span))
            }
            Rule::loss_opt => NetemOpt::Loss(Spanned::new(self.percent_value(value), span)),
            Rule::netem_limit_opt => NetemOpt::Limit(Spanned::new(self.int_value(value), span)),
            Rule::duplicate_opt => NetemOpt::Duplicate(Spanned::new(self.percent_value(value), span)),
            Rule::corrupt_opt => NetemOpt::Corrupt(Spanned::new(self.percent_value(value), span)),
            Rule::reorder_opt => NetemOpt::Reorder(Spanned::new(self.percent_value(value), span)),
            Rule::gap_opt => NetemOpt::Gap(Spanned::new(self.int_value(value), span)),
            Rule::distribution_opt => NetemOpt::Distribution(Spanned::new(value.as_str().to_string(), self.span(&value))),
            _ => NetemOpt::Rate(Spanned::new(self.rate_value(value), span)),
        }
    }

    /// `slot MIN [MAX] [packets N] [bytes SIZE]` or `slot distribution TABLE DELAY JITTER
    /// …`: the limits may come in any order (each
    /// is kept as often as given, so that the checker can name a repeat).
    fn slot_opt(&mut self, pair: P<'_>) -> NetemOpt {
        let span = self.span(&pair);
        let mut times = Vec::new();
        let mut dist = None;
        let (mut packets, mut bytes) = (Vec::new(), Vec::new());
        for p in args(pair) {
            match p.as_rule() {
                Rule::slot_dist => {
                    let mut parts = args(p);
                    let name = parts.next().expect("a table name");
                    let table = Spanned::new(name.as_str().to_string(), self.span(&name));
                    let mut time = |p: Option<P<'_>>| {
                        let p = p.expect("grammar requires a delay and a jitter");
                        let s = self.span(&p);
                        Spanned::new(self.duration_value(p), s)
                    };
                    let delay = time(parts.next());
                    let jitter = time(parts.next());
                    dist = Some(SlotTimes::Distribution { table, delay, jitter });
                }
                Rule::duration_value => {
                    let s = self.span(&p);
                    times.push(Spanned::new(self.duration_value(p), s));
                }
                Rule::slot_packets => {
                    let s = self.span(&p);
                    packets.push(Spanned::new(self.int_value(args(p).next().expect("a count")), s));
                }
                _ => {
                    let s = self.span(&p);
                    bytes.push(Spanned::new(self.size_value(args(p).next().expect("a size")), s));
                }
            }
        }
        let times = dist.unwrap_or_else(|| {
            let mut times = times.into_iter();
            let min = times.next().expect("grammar requires a min");
            SlotTimes::Range { min, max: times.next() }
        });
        NetemOpt::Slot(Spanned::new(SlotAst { times, packets, bytes }, span))
    }

    pub(super) fn class_id(&mut self, pair: P<'_>) -> ClassId {
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
}
