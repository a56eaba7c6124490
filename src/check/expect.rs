//! `expect`: reachability the run checks after applying.

use super::core::*;
use super::values::{self as v};
use crate::ast::{self, ExpectOpt};
use crate::model::*;
use crate::source::Span;

impl Evaluator<'_> {
    pub(super) fn expect(&mut self, span: Span, ns: &ast::Name, kind: ExpectKind, addr: &ast::IpValue, opts: &[ExpectOpt]) {
        let Some(ns) = self.ok(v::template(&self.env, ns)) else { return };
        let Some(addr) = self.ok(v::address(&self.env, addr)) else { return };
        let mut port = None;
        let mut within = None;
        let mut seen = Seen::default();
        for opt in opts {
            match opt {
                ExpectOpt::Port(p) => {
                    if self.once(&mut seen, "port", p.span) {
                        port = self.ok(v::int_in(&self.env, &p.node, "a port", 1, 65535)).map(|s| s.map(|p| p as u16));
                    }
                }
                ExpectOpt::Within(w) => {
                    if self.once(&mut seen, "within", w.span) {
                        within = self.ok(v::duration(&self.env, &w.node));
                    }
                }
            }
        }
        self.desired.expects.push(Expect { span, ns, kind, addr, port, within });
    }
}

