//! eBPF attachments: bpf, xdp, section names.

use super::*;

impl Builder<'_> {
    pub(super) fn bpf_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut it = args(pair);
        let dir_pair = it.next().unwrap();
        let direction = match first(dir_pair.clone()).as_rule() {
            Rule::kw_ingress => BpfDirection::Ingress,
            _ => BpfDirection::Egress,
        };
        let direction = self.spanned(&dir_pair, direction);
        let next = it.next().unwrap();
        if next.as_rule() == Rule::fw_block {
            return StmtKind::BpfRules { direction, rules: self.rule_block(next) };
        }
        let path = self.string(next);
        let mut section = None;
        let mut places = Vec::new();
        for p in it {
            if p.as_rule() == Rule::section_opt {
                section = Some(self.section(p));
                continue;
            }
            let (rule, span, value) = self.option(p);
            places.push(match rule {
                Rule::prio_opt => BpfPlace::Prio(Spanned::new(self.int_value(value), span)),
                _ => BpfPlace::Handle(Spanned::new(self.int_value(value), span)),
            });
        }
        StmtKind::Bpf { direction, path, section, places }
    }

    pub(super) fn section(&mut self, pair: P<'_>) -> Spanned<String> {
        let value = args(pair).next().unwrap();
        match value.as_rule() {
            Rule::string => self.string(value),
            _ => self.spanned(&value, value.as_str().to_string()),
        }
    }

    pub(super) fn xdp_stmt(&mut self, pair: P<'_>) -> StmtKind {
        let mut it = args(pair);
        let next = it.next().unwrap();
        if next.as_rule() == Rule::xdp_inline {
            let mut mode = None;
            let mut rules = Vec::new();
            for p in inner(next) {
                match p.as_rule() {
                    Rule::xdp_mode_opt => mode = Some(self.xdp_mode(p)),
                    _ => rules = self.rule_block(p),
                }
            }
            return StmtKind::XdpRules { mode, rules };
        }
        let path = self.string(next);
        let opts = it
            .map(|p| {
                let opt = first(p);
                match opt.as_rule() {
                    Rule::section_opt => XdpOpt::Section(self.section(opt)),
                    _ => XdpOpt::Mode(self.xdp_mode(opt)),
                }
            })
            .collect();
        StmtKind::Xdp { path, opts }
    }

    fn xdp_mode(&mut self, opt: P<'_>) -> Spanned<XdpMode> {
        let mode_pair = args(opt).next().unwrap();
        let mode = match first(mode_pair.clone()).as_rule() {
            Rule::kw_generic => XdpMode::Generic,
            _ => XdpMode::Native,
        };
        self.spanned(&mode_pair, mode)
    }
}
