//! `expect` statements.

use super::*;

impl Builder<'_> {
    pub(super) fn expect_stmt(&mut self, pair: P<'_>) -> StmtKind {
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
}
