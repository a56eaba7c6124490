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
        let path = self.string(it.next().unwrap());
        let section = it.next().map(|p| self.section(p));
        StmtKind::Bpf { direction, path, section }
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
}
