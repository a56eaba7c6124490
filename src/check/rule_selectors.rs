//! A rule's masked selectors (issue 24): `sport V/MASK`, `dport V/MASK`, `dscp V[/MASK]`
//! and `flowlabel V[/MASK]`, checked as the kernel checks them (net/core/fib_rules.c,
//! net/ipv4/fib_rules.c, net/ipv6/fib6_rules.c), so that a rule it would refuse, or keep
//! as something else, is refused here with its place.

use super::codes::*;
use super::core::*;
use super::values::{self as v};
use crate::ast::{IntValue, PortRange};
use crate::diagnostic::Diagnostic;
use crate::source::Spanned;

/// The DSCP's six bits: the mask the kernel gives a `dscp` written without one.
pub const DSCP_FULL_MASK: u8 = 0x3f;
/// The IPv6 flow label's 20 bits: the mask of a `flowlabel` written without one.
pub const FLOWLABEL_FULL_MASK: u32 = 0xfffff;

/// A rule's ports and the mask of a single port.
type PortsAndMask = (Spanned<(u16, u16)>, Option<Spanned<u16>>);

/// What a rule's masked selectors came to (each with the span of its option).
#[derive(Default)]
pub(super) struct Masked {
    pub sport: Option<Spanned<(u16, u16)>>,
    pub sport_mask: Option<Spanned<u16>>,
    pub dport: Option<Spanned<(u16, u16)>>,
    pub dport_mask: Option<Spanned<u16>>,
    pub dscp: Option<Spanned<(u8, u8)>>,
    pub flowlabel: Option<Spanned<(u32, u32)>>,
}

impl Evaluator<'_> {
    /// `sport A[-B][/MASK]` of a rule: a range, or one port under a mask. The kernel
    /// takes rule ports 1-65534 (its `fib_rule_port_range_valid`), a mask only on a
    /// single port, and only a mask that keeps every bit of the port.
    pub(super) fn rule_port(&mut self, word: &str, x: &Spanned<(PortRange, Option<IntValue>)>) -> Option<PortsAndMask> {
        let (range, mask) = &x.node;
        let (a, b) = self.port_range(&Spanned::new(range.clone(), x.span))?;
        if b == u16::MAX {
            let at = range.1.as_ref().unwrap_or(&range.0);
            self.report(
                Diagnostic::error(OUT_OF_RANGE, v::int_in(&self.env, at, "a port", 0, 65535).map(|s| s.span).unwrap_or(x.span), "a rule cannot match port 65535")
                    .label("the kernel takes rule ports 1-65534")
                    .help(if a == b { format!("e.g. `{word} 65534`") } else { format!("e.g. `{word} {}-65534`", a.min(65534)) }),
            );
            return None;
        }
        let ports = Spanned::new((a, b), x.span);
        let Some(mask) = mask else { return Some((ports, None)) };
        let m = self.ok(v::int_in(&self.env, mask, "a port mask", 1, 65535))?;
        if a != b {
            self.report(
                Diagnostic::error(CONFLICTING_ATTRIBUTE, m.span, format!("a port mask applies to one port, not to the range {a}-{b}"))
                    .label("this mask")
                    .also(x.span, "is on a range")
                    .help(format!("write a range (`{word} {a}-{b}`) or one port with a mask (e.g. `{word} 0x0f00/0xff00`)")),
            );
            return None;
        }
        let m16 = m.node as u16;
        if a & !m16 != 0 {
            self.report(
                Diagnostic::error(OUT_OF_RANGE, m.span, format!("the mask {m16:#06x} does not cover the port {a:#06x}"))
                    .label(format!("the port has the bits {:#06x} outside it", a & !m16))
                    .help(format!("the kernel refuses a port with bits outside its mask: e.g. `{word} {:#06x}/{m16:#06x}`", a & m16)),
            );
            return None;
        }
        // A full mask is the single port itself (the kernel reports one for `sport P`).
        Some((ports, (m16 != u16::MAX).then(|| Spanned::new(m16, m.span))))
    }

    /// `dscp V[/MASK]`: six bits (0-63) under a mask of six bits (0x3f when none is
    /// written, as the kernel keeps it); the value must lie inside the mask.
    pub(super) fn rule_dscp(&mut self, x: &Spanned<(IntValue, Option<IntValue>)>) -> Option<Spanned<(u8, u8)>> {
        let value = self.ok(v::int_in(&self.env, &x.node.0, "a DSCP value", 0, DSCP_FULL_MASK as i64))?;
        let mask = match &x.node.1 {
            Some(m) => self.ok(v::int_in(&self.env, m, "a DSCP mask", 0, DSCP_FULL_MASK as i64))?,
            None => Spanned::new(DSCP_FULL_MASK as i64, x.span),
        };
        let (d, m) = (value.node as u8, mask.node as u8);
        if d & !m != 0 {
            self.report(
                Diagnostic::error(OUT_OF_RANGE, mask.span, format!("the mask {m:#04x} does not cover the DSCP {d:#04x}"))
                    .label(format!("the DSCP has the bits {:#04x} outside it", d & !m))
                    .help(format!("the kernel refuses a DSCP with bits outside its mask: e.g. `dscp {:#04x}/{m:#04x}`", d & m)),
            );
            return None;
        }
        Some(Spanned::new((d, m), x.span))
    }

    /// `flowlabel V[/MASK]`: 20 bits under a mask of 20 bits (0xfffff when none is
    /// written). A zero mask is refused: the kernel keeps no selector then (the rule
    /// would match every packet and read back without its `flowlabel`).
    pub(super) fn rule_flowlabel(&mut self, x: &Spanned<(IntValue, Option<IntValue>)>) -> Option<Spanned<(u32, u32)>> {
        let value = self.ok(v::int_in(&self.env, &x.node.0, "a flow label", 0, FLOWLABEL_FULL_MASK as i64))?;
        let mask = match &x.node.1 {
            Some(m) => self.ok(v::int_in(&self.env, m, "a flow label mask", 1, FLOWLABEL_FULL_MASK as i64))?,
            None => Spanned::new(FLOWLABEL_FULL_MASK as i64, x.span),
        };
        let (l, m) = (value.node as u32, mask.node as u32);
        if l & !m != 0 {
            self.report(
                Diagnostic::error(OUT_OF_RANGE, mask.span, format!("the mask {m:#07x} does not cover the flow label {l:#07x}"))
                    .label(format!("the label has the bits {:#07x} outside it", l & !m))
                    .help(format!("the kernel refuses a flow label with bits outside its mask: e.g. `flowlabel {:#07x}/{m:#07x}`", l & m)),
            );
            return None;
        }
        Some(Spanned::new((l, m), x.span))
    }

    /// What the kernel refuses of a whole rule: `dscp` with `tos` (it matches the same
    /// bits one way or the other), `flowlabel` on an IPv4 rule.
    pub(super) fn rule_masked_fits(&mut self, v6: bool, tos: Option<&Spanned<u8>>, m: &Masked) -> bool {
        if let (Some(d), Some(t)) = (&m.dscp, tos) {
            self.report(
                Diagnostic::error(CONFLICTING_ATTRIBUTE, d.span, "a rule matches `dscp` or `tos`, not both")
                    .label("this DSCP")
                    .also(t.span, "and this TOS select the same bits")
                    .help(format!("keep one: `dscp {}` is `tos {:#04x}`", d.node.0, d.node.0 << 2)),
            );
            return false;
        }
        if let Some(f) = m.flowlabel.as_ref().filter(|_| !v6) {
            self.report(
                Diagnostic::error(MIXED_FAMILIES, f.span, "a flow label is an IPv6 selector; this rule is IPv4")
                    .label("IPv4 packets have no flow label")
                    .help("make the rule IPv6: give it an IPv6 `from` or `to` (`from ::/0` selects every source)"),
            );
            return false;
        }
        true
    }
}
