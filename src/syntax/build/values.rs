//! Names, expressions and values (rates, sizes, durations, addresses, strings): shared
//! by every statement family.

use super::*;

impl Builder<'_> {
    pub(super) fn ident(&mut self, pair: P<'_>) -> Ident {
        self.spanned(&pair, pair.as_str().to_string())
    }

    pub(super) fn name(&mut self, pair: P<'_>) -> Name {
        self.template(pair)
    }

    pub(super) fn template(&mut self, pair: P<'_>) -> Template {
        let span = self.span(&pair);
        let parts = inner(pair)
            .map(|p| match p.as_rule() {
                Rule::interp => Part::Interp(self.expr(first(p))),
                _ => Part::Text(p.as_str().to_string()),
            })
            .collect();
        Template { span, parts }
    }

    pub(super) fn expr(&mut self, pair: P<'_>) -> Expr {
        self.expr_with_depth(pair).0
    }

    /// An expression and the depth of its tree. A chain of operators deeper than
    /// [`MAX_EXPRESSION_DEPTH`] is reported and cut there: its evaluation (and drop)
    /// recurse once per level.
    pub(super) fn expr_with_depth(&mut self, pair: P<'_>) -> (Expr, usize) {
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
                        self.diagnostics.push(crate::syntax::limits::expression_too_long(op_span));
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
    pub(super) fn integer(&mut self, pair: &P<'_>) -> u64 {
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


    pub(super) fn let_value(&mut self, pair: P<'_>) -> LetValue {
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

    pub(super) fn value<L>(&mut self, pair: P<'_>, lit: impl FnOnce(&mut Self, P<'_>) -> Spanned<L>) -> Value<L> {
        let value = first(pair);
        match value.as_rule() {
            Rule::interp => Value::Interp(self.expr(value)),
            _ => Value::Lit(lit(self, value)),
        }
    }

    pub(super) fn int_value(&mut self, pair: P<'_>) -> IntValue {
        self.value(pair, |b, p| {
            let v = b.integer(&p) as i64;
            b.spanned(&p, v)
        })
    }

    pub(super) fn rate_value(&mut self, pair: P<'_>) -> RateValue {
        self.value(pair, Self::rate_lit)
    }

    pub(super) fn size_value(&mut self, pair: P<'_>) -> SizeValue {
        self.value(pair, Self::size_lit)
    }

    pub(super) fn duration_value(&mut self, pair: P<'_>) -> DurationValue {
        self.value(pair, Self::duration_lit)
    }

    pub(super) fn percent_value(&mut self, pair: P<'_>) -> PercentValue {
        self.value(pair, Self::percent_lit)
    }

    pub(super) fn mac_value(&mut self, pair: P<'_>) -> MacValue {
        self.value(pair, |b, p| {
            let mut mac = [0u8; 6];
            for (i, byte) in p.as_str().split(':').enumerate() {
                mac[i] = u8::from_str_radix(byte, 16).expect("grammar guarantees two hex digits");
            }
            b.spanned(&p, mac)
        })
    }

    /// `decimal ~ unit` scaled, with a diagnostic when it does not fit.
    pub(super) fn quantity(&mut self, pair: &P<'_>, multiplier: impl Fn(&str) -> Option<u64>, what: &str) -> u64 {
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

    pub(super) fn rate_lit(&mut self, pair: P<'_>) -> Spanned<Rate> {
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

    pub(super) fn size_lit(&mut self, pair: P<'_>) -> Spanned<Size> {
        let v = self.quantity(&pair, units::size_multiplier, "size");
        self.spanned(&pair, Size(v))
    }

    pub(super) fn duration_lit(&mut self, pair: P<'_>) -> Spanned<Duration> {
        let v = self.quantity(&pair, units::duration_multiplier, "duration");
        self.spanned(&pair, Duration(v))
    }

    pub(super) fn percent_lit(&mut self, pair: P<'_>) -> Spanned<Percent> {
        let number = first(pair.clone()).as_str();
        let v: f64 = number.parse().unwrap_or(0.0);
        self.spanned(&pair, Percent(v))
    }

    pub(super) fn ip_value(&mut self, pair: P<'_>) -> IpValue {
        let value = first(pair);
        match value.as_rule() {
            Rule::interp => IpValue::Interp(self.expr(value)),
            _ => self.ip_literal(value),
        }
    }

    /// `addr_item`: an address, and its peer after `peer`.
    pub(super) fn addr_value(&mut self, pair: P<'_>) -> AddrValue {
        let mut values = args(pair).map(|p| self.ip_value(p));
        let local = values.next().expect("the grammar gives an address");
        AddrValue { local, peer: values.next() }
    }

    pub(super) fn ip_literal(&mut self, pair: P<'_>) -> IpValue {
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

    pub(super) fn octet(&mut self, pair: P<'_>) -> Octet {
        match pair.as_rule() {
            Rule::interp => Octet::Interp(Box::new(self.expr(first(pair)))),
            _ => {
                let v = pair.as_str().parse::<u64>().unwrap_or(u64::MAX);
                Octet::Lit(self.spanned(&pair, v))
            }
        }
    }

    pub(super) fn string(&mut self, pair: P<'_>) -> Spanned<String> {
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
