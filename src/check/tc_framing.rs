//! `overhead N`, `mpu SIZE`, `linklayer ethernet|atm` of `shape` and htb classes: tc
//! keeps the overhead and the mpu in 16 bits (`struct tc_ratespec`), and refuses an
//! overhead it cannot read as one (`get_u16`); the mpu it would silently truncate is
//! refused here instead.

use super::core::*;
use super::values::{self as v};
use crate::ast::FramingOpt;
use crate::model::Framing;

impl Evaluator<'_> {
    pub(super) fn framing_opt(&mut self, seen: &mut Seen, opt: &FramingOpt, framing: &mut Framing) {
        match opt {
            FramingOpt::Overhead(o) if self.once(seen, "overhead", o.span) => {
                let value = v::int_in(&self.env, &o.node, "an overhead", 0, u16::MAX as i64)
                    .map_err(|d| d.help("tc's `overhead` is a number of bytes added to each packet, kept in 16 bits (e.g. 24 for Ethernet's preamble, gap and FCS)"));
                if let Some(value) = self.ok(value) {
                    framing.overhead = value.node as u16;
                }
            }
            FramingOpt::Mpu(m) if self.once(seen, "mpu", m.span) => {
                let Some(size) = self.ok(v::size(&self.env, &m.node)) else { return };
                if size.node.0 > u16::MAX as u64 {
                    self.report(
                        v::out_of_range(size.span, "an mpu", size.node, "0b", "65535b")
                            .help("the kernel keeps the minimum packet unit in 16 bits (tc would silently cut a larger one)"),
                    );
                    return;
                }
                framing.mpu = size.node.0 as u16;
            }
            FramingOpt::Linklayer(l) if self.once(seen, "linklayer", l.span) => framing.linklayer = l.node,
            _ => {}
        }
    }
}
