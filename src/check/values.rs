//! Evaluation of expressions, interpolated names and typed values in an environment.

use super::codes::*;
use crate::ast::*;
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::source::{Span, Spanned};
use crate::units::{Duration, Percent, Rate, Size};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
// FxHash: these maps are keyed by short names and spans, hashed per statement.
use rustc_hash::FxHashMap as HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A value a variable can hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Int(i64),
    Rate(Rate),
    Size(Size),
    Duration(Duration),
    Percent(Percent),
    /// An address, with its prefix length when one was written.
    Ip(IpAddr, Option<u8>),
    /// A name, for interpolation into names only: no `let` makes one; front ends
    /// predefine them (the CNI plugin's `ifname`, `containerid`).
    Name(String),
}

impl Val {
    pub fn kind(&self) -> &'static str {
        match self {
            Val::Int(_) => "an integer",
            Val::Rate(_) => "a rate",
            Val::Size(_) => "a size",
            Val::Duration(_) => "a duration",
            Val::Percent(_) => "a percentage",
            Val::Ip(_, None) => "an address",
            Val::Ip(_, Some(_)) => "a prefix",
            Val::Name(_) => "a name",
        }
    }
}

/// Variables in scope, innermost last.
#[derive(Debug, Default)]
pub struct Env {
    scopes: Vec<HashMap<String, Val>>,
}

impl Env {
    pub fn new() -> Self {
        Env { scopes: vec![HashMap::default()] }
    }
    pub fn push(&mut self) {
        self.scopes.push(HashMap::default());
    }
    pub fn pop(&mut self) {
        self.scopes.pop();
    }
    pub fn set(&mut self, name: &str, value: Val) {
        self.scopes.last_mut().expect("one scope at least").insert(name.to_string(), value);
    }
    pub fn get(&self, name: &str) -> Option<&Val> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }
    fn names(&self) -> impl Iterator<Item = &str> {
        self.scopes.iter().flat_map(|s| s.keys().map(String::as_str))
    }
}

pub type EvalResult<T> = Result<T, Diagnostic>;

pub fn expr(env: &Env, e: &Expr) -> EvalResult<Val> {
    match &e.node {
        ExprKind::Int(v) => Ok(Val::Int(*v)),
        ExprKind::Var(name) => env.get(name).cloned().ok_or_else(|| unknown_variable(env, name, e.span)),
        ExprKind::Neg(inner) => {
            let v = int(env, inner)?;
            v.checked_neg().map(Val::Int).ok_or_else(|| overflow(e.span))
        }
        ExprKind::Binary(l, op, r) => {
            let (a, b) = (int(env, l)?, int(env, r)?);
            let result = match op {
                BinOp::Add => a.checked_add(b),
                BinOp::Sub => a.checked_sub(b),
                BinOp::Mul => a.checked_mul(b),
                BinOp::Div | BinOp::Rem if b == 0 => {
                    return Err(Diagnostic::error(DIVISION_BY_ZERO, r.span, "division by zero")
                        .label("this is 0")
                        .help(format!("`{}` needs a divisor other than 0", op.symbol())));
                }
                BinOp::Div => a.checked_div(b),
                BinOp::Rem => a.checked_rem(b),
            };
            result.map(Val::Int).ok_or_else(|| overflow(e.span))
        }
    }
}

fn overflow(span: Span) -> Diagnostic {
    Diagnostic::error(OVERFLOW, span, "arithmetic overflow").label("the result does not fit in 64 bits")
}

fn unknown_variable(env: &Env, name: &str, span: Span) -> Diagnostic {
    let mut d = Diagnostic::error(UNKNOWN_VARIABLE, span, format!("unknown variable `{name}`")).label("not defined here");
    if let Some(help) = did_you_mean(name, env.names()) {
        d = d.help(help);
    } else {
        d = d.help(format!("define it first with `let {name} = ...`, or use it inside a `for {name} in ...` loop"));
    }
    d
}

pub fn type_mismatch(span: Span, expected: &str, found: &Val) -> Diagnostic {
    Diagnostic::error(TYPE_MISMATCH, span, format!("expected {expected}, found {}", found.kind()))
        .label(format!("this is {}", found.kind()))
}

pub fn int(env: &Env, e: &Expr) -> EvalResult<i64> {
    match expr(env, e)? {
        Val::Int(v) => Ok(v),
        other => Err(type_mismatch(e.span, "an integer", &other)),
    }
}

/// An integer that must lie in `range`; `what` names it in the message ("an MTU").
pub fn int_in(env: &Env, v: &IntValue, what: &str, lo: i64, hi: i64) -> EvalResult<Spanned<i64>> {
    let (value, span) = match v {
        Value::Lit(l) => (l.node, l.span),
        Value::Interp(e) => (int(env, e)?, e.span),
    };
    if value < lo || value > hi {
        return Err(out_of_range(span, what, value, lo, hi));
    }
    Ok(Spanned::new(value, span))
}

pub fn out_of_range(span: Span, what: &str, value: impl std::fmt::Display, lo: impl std::fmt::Display, hi: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(OUT_OF_RANGE, span, format!("{what} must be between {lo} and {hi}, not {value}"))
        .label("out of range")
}

macro_rules! typed_value {
    ($fn:ident, $ty:ty, $variant:ident, $expected:literal) => {
        pub fn $fn(env: &Env, v: &Value<$ty>) -> EvalResult<Spanned<$ty>> {
            match v {
                Value::Lit(l) => Ok(l.clone()),
                Value::Interp(e) => match expr(env, e)? {
                    Val::$variant(x) => Ok(Spanned::new(x, e.span)),
                    other => Err(type_mismatch(e.span, $expected, &other)),
                },
            }
        }
    };
}

typed_value!(rate, Rate, Rate, "a rate");
typed_value!(size, Size, Size, "a size");
typed_value!(duration, Duration, Duration, "a duration");
typed_value!(percent, Percent, Percent, "a percentage");

pub fn mac(env: &Env, v: &MacValue) -> EvalResult<Spanned<[u8; 6]>> {
    match v {
        Value::Lit(l) => Ok(l.clone()),
        Value::Interp(e) => Err(type_mismatch(e.span, "a MAC address", &expr(env, e)?)),
    }
}

/// A name with its interpolations filled in (integers only). Names start with a letter or
/// `_` (an interpolation may stand first).
pub fn template(env: &Env, t: &Template) -> EvalResult<Spanned<String>> {
    if let Some(Part::Text(first)) = t.parts.first()
        && let Some(c) = first.chars().next()
        && !(c.is_ascii_alphabetic() || c == '_')
    {
        return Err(Diagnostic::error(super::codes::INVALID_NAME, t.span, format!("a name starts with a letter or `_`, not `{c}`"))
            .label("not a name")
            .help("names are letters, digits, `_` and `-` (interfaces also `.`), starting with a letter or `_`"));
    }
    let mut out = String::new();
    for part in &t.parts {
        match part {
            Part::Text(s) => out.push_str(s),
            Part::Interp(e) => match &e.node {
                ExprKind::Var(name) if let Some(Val::Name(text)) = env.get(name) => out.push_str(text),
                _ => out.push_str(&int(env, e)?.to_string()),
            },
        }
    }
    Ok(Spanned::new(out, t.span))
}

fn octet_value(env: &Env, o: &Octet, max: u64, what: &str) -> EvalResult<u64> {
    let (v, span) = match o {
        Octet::Lit(l) => (l.node, l.span),
        Octet::Interp(e) => {
            let v = int(env, e)?;
            if v < 0 {
                return Err(Diagnostic::error(INVALID_ADDRESS, e.span, format!("{what} must be between 0 and {max}, not {v}")).label("negative"));
            }
            (v as u64, e.span)
        }
    };
    if v > max {
        let shown = if v == u64::MAX { "a larger number".to_string() } else { v.to_string() };
        return Err(Diagnostic::error(INVALID_ADDRESS, span, format!("{what} must be between 0 and {max}, not {shown}")).label("out of range"));
    }
    Ok(v)
}

/// An address or prefix as written: the address and the prefix length if given.
pub fn ip(env: &Env, v: &IpValue) -> EvalResult<Spanned<(IpAddr, Option<u8>)>> {
    match v {
        IpValue::V4 { span, octets, prefix } => {
            let mut bytes = [0u8; 4];
            for (i, o) in octets.iter().enumerate() {
                bytes[i] = octet_value(env, o, 255, "an address octet")? as u8;
            }
            let prefix = prefix.as_ref().map(|p| octet_value(env, p, 32, "a v4 prefix length")).transpose()?;
            Ok(Spanned::new((IpAddr::V4(Ipv4Addr::from(bytes)), prefix.map(|p| p as u8)), *span))
        }
        IpValue::V6 { span, text, prefix } => {
            let addr: Ipv6Addr = text.parse().map_err(|_| {
                let mut d = Diagnostic::error(INVALID_ADDRESS, *span, format!("`{text}` is not a valid address")).label("not an IPv6 address");
                if text.split(':').count() == 6 && text.split(':').all(|p| p.len() == 2) {
                    d = d.help("this looks like a MAC address; addresses are written 10.0.0.1/24 or fd00::1/64");
                }
                d
            })?;
            let prefix = prefix.as_ref().map(|p| octet_value(env, p, 128, "a v6 prefix length")).transpose()?;
            Ok(Spanned::new((IpAddr::V6(addr), prefix.map(|p| p as u8)), *span))
        }
        IpValue::Interp(e) => match expr(env, e)? {
            Val::Ip(addr, prefix) => Ok(Spanned::new((addr, prefix), e.span)),
            other => Err(type_mismatch(e.span, "an address", &other)),
        },
    }
}

/// An address that must carry no prefix length.
pub fn address(env: &Env, v: &IpValue) -> EvalResult<Spanned<IpAddr>> {
    let s = ip(env, v)?;
    if let Some(p) = s.node.1 {
        return Err(Diagnostic::error(INVALID_ADDRESS, s.span, format!("expected an address, found the prefix {}/{p}", s.node.0))
            .label("a prefix length is not allowed here")
            .help(format!("write `{}`", s.node.0)));
    }
    Ok(s.map(|(a, _)| a))
}

/// A prefix; a bare address counts as a host prefix (/32 or /128), as in iproute2.
pub fn prefix(env: &Env, v: &IpValue) -> EvalResult<Spanned<IpNet>> {
    let s = ip(env, v)?;
    let (addr, len) = s.node;
    let net = match addr {
        IpAddr::V4(a) => IpNet::V4(Ipv4Net::new(a, len.unwrap_or(32)).expect("length checked")),
        IpAddr::V6(a) => IpNet::V6(Ipv6Net::new(a, len.unwrap_or(128)).expect("length checked")),
    };
    Ok(Spanned::new(net, s.span))
}

/// A network prefix whose host bits must be zero (route destinations, rule selectors).
pub fn network(env: &Env, v: &IpValue) -> EvalResult<Spanned<IpNet>> {
    let p = prefix(env, v)?;
    if p.node.trunc() != p.node {
        return Err(Diagnostic::error(HOST_BITS_SET, p.span, format!("`{}` has host bits set", p.node))
            .label("the kernel refuses a prefix with host bits")
            .help(format!("did you mean `{}`?", p.node.trunc())));
    }
    Ok(p)
}

/// A class id read as tc reads it: hex digits, `{expr}` read as if its decimal digits had
/// been written. Returns the minor.
pub fn class_minor(env: &Env, id: &ClassId) -> EvalResult<Spanned<u32>> {
    if let Some(major) = &id.major
        && u32::from_str_radix(&major.node, 16).ok() != Some(1)
    {
        return Err(Diagnostic::error(OUT_OF_RANGE, major.span, format!("class ids belong to qdisc 1:, not {}:", major.node))
            .label("the htb qdisc's handle is 1:")
            .help("write the minor alone, e.g. `10` for 1:10"));
    }
    let (digits, span) = match &id.minor {
        ClassMinor::Hex(h) => (h.clone(), id.span),
        ClassMinor::Interp(e) => {
            let v = int(env, e)?;
            if v < 0 {
                return Err(out_of_range(e.span, "a class id", v, 1, "ffff"));
            }
            (v.to_string(), e.span)
        }
    };
    match u32::from_str_radix(&digits, 16) {
        Ok(v) if (1..=0xffff).contains(&v) => Ok(Spanned::new(v, span)),
        _ => Err(out_of_range(span, "a class id (hex, as tc reads it)", digits, 1, "ffff")
            .help("class ids are tc minors, read as hex: `class 10` is 1:10")),
    }
}

/// Reads a `let` value.
pub fn let_value(env: &Env, v: &LetValue) -> EvalResult<Val> {
    Ok(match v {
        LetValue::Rate(r) => Val::Rate(r.node),
        LetValue::Size(s) => Val::Size(s.node),
        LetValue::Duration(d) => Val::Duration(d.node),
        LetValue::Percent(p) => Val::Percent(p.node),
        LetValue::Ip(ipv) => {
            let s = ip(env, ipv)?;
            Val::Ip(s.node.0, s.node.1)
        }
        LetValue::Expr(e) => expr(env, e)?,
    })
}
