//! eBPF attachments: `bpf ingress|egress` and `xdp`; the object files are read by
//! [`object`] (pure: bytes in, answer out).

mod object;
pub use object::*;
mod sections;
mod inline;
pub use sections::{LIBBPF_TC_SECTIONS, aya_compatible, section_direction};

use super::codes::*;
use super::core::*;
use crate::ast::{Stmt, StmtKind, XdpOpt};
use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::source::Spanned;
use std::path::Path;

impl Evaluator<'_> {
    /// Reads the object of a `bpf`/`xdp` statement and finds its program; every problem
    /// is a diagnostic on the path (or on the section name), and gives `None`.
    pub(super) fn bpf_program(&mut self, full: &Path, path: &Spanned<String>, section: Option<&Spanned<String>>, want: self::ProgramKind) -> Option<BpfProgram> {
        use self::ObjectError as E;
        let bytes = match self.loader.read_bytes(full) {
            Ok(bytes) => bytes,
            Err(e) => {
                let help = match e.kind() {
                    std::io::ErrorKind::NotFound => format!(
                        "paths are relative to the script's directory; compile the program first, e.g. `clang -O2 -g -target bpf -c {} -o {}`",
                        Path::new(&path.node).with_extension("c").display(),
                        path.node
                    ),
                    _ => crate::bounded::refusal_help(&e).unwrap_or_else(|| "check the file's permissions".to_string()),
                };
                self.report(
                    Diagnostic::error(BPF_OBJECT_UNREADABLE, path.span, format!("cannot read the eBPF object `{}`: {e}", path.node))
                        .label("this object file")
                        .help(help),
                );
                return None;
            }
        };
        let listing = |l: &[self::Listed]| {
            if l.is_empty() {
                "the object holds no program".to_string()
            } else {
                format!("the object holds: {}", l.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", "))
            }
        };
        let at_section = section.map(|s| s.span).unwrap_or(path.span);
        let d = match self::find(&bytes, section.map(|s| s.node.as_str()), want) {
            Ok(program) => return Some(program),
            Err(E::Invalid(why)) => Diagnostic::error(BPF_INVALID_OBJECT, path.span, format!("`{}` is not an eBPF object netscript can load: {why}", path.node))
                .label("this file")
                .help("compile the program with `clang -O2 -g -target bpf -c prog.c -o prog.o`"),
            Err(E::NoSuchSection { wanted, available }) => {
                let names: Vec<&str> = available.iter().flat_map(|l| [l.section.as_str(), l.function.as_str()]).collect();
                let mut help = listing(&available);
                if let Some(dym) = crate::diagnostic::did_you_mean(&wanted, names) {
                    help = format!("{dym} {help}");
                }
                Diagnostic::error(BPF_NO_SUCH_SECTION, at_section, format!("`{}` has no section or program `{wanted}`", path.node))
                    .label("no such section")
                    .help(help)
            }
            Err(E::WrongType { found, wanted }) => {
                let statement = match wanted {
                    self::ProgramKind::Classifier => "`bpf ingress|egress` needs a tc classifier: SEC(\"classifier\"); an XDP program goes in an `xdp` statement",
                    self::ProgramKind::Xdp => "`xdp` needs an XDP program: SEC(\"xdp\"); a tc classifier goes in a `bpf ingress|egress` statement",
                };
                Diagnostic::error(BPF_WRONG_PROGRAM_TYPE, at_section, format!("{found} is not {} program", match wanted { self::ProgramKind::Xdp => "an XDP", self::ProgramKind::Classifier => "a tc classifier" }))
                    .label(format!("{} {} program", if found.kind.starts_with('X') { "an" } else { "a" }, found.kind))
                    .help(statement)
            }
            Err(E::SeveralInSection { section: name, functions }) => Diagnostic::error(
                BPF_AMBIGUOUS_PROGRAM,
                at_section,
                format!("section `{name}` of `{}` holds {} programs", path.node, functions.len()),
            )
            .label("which one?")
            .help(format!("name the function instead: {}", functions.iter().map(|f| format!("`section {f}`")).collect::<Vec<_>>().join(" or "))),
            Err(E::NoProgram { wanted, available }) => Diagnostic::error(BPF_WRONG_PROGRAM_TYPE, path.span, format!("`{}` holds no {} program", path.node, wanted.word()))
                .label("in this object")
                .help(listing(&available)),
            Err(E::Ambiguous { candidates }) => Diagnostic::error(
                BPF_AMBIGUOUS_PROGRAM,
                path.span,
                format!("`{}` holds {} {} programs", path.node, candidates.len(), want.word()),
            )
            .label("which one?")
            .help(format!("add `section NAME`; {}", listing(&candidates))),
        };
        self.report(d);
        None
    }

    /// A section naming a direction (`tc/ingress`, `tcx/egress`) must name the script's.
    fn direction_agrees(&mut self, program: &BpfProgram, direction: &Spanned<BpfDirection>, path: &Spanned<String>, section: Option<&Spanned<String>>) -> bool {
        let Some(ingress) = self::section_direction(&program.section) else { return true };
        if ingress == (direction.node == BpfDirection::Ingress) {
            return true;
        }
        let (said, other) = if ingress { ("ingress", "egress") } else { ("egress", "ingress") };
        self.report(
            Diagnostic::error(BPF_DIRECTION_CONFLICT, section.map(|s| s.span).unwrap_or(path.span), format!("program `{}` sits in section `{}`, made for {said}, not {other}", program.function, program.section))
                .label(format!("an {said} program"))
                .also(direction.span, format!("attached at {other} here"))
                .help(format!("write `bpf {said} ...`, or move the program to SEC(\"tc\") or SEC(\"tcx/{other}\")")),
        );
        false
    }

    pub(super) fn program_attribute(&mut self, ns: &str, iface: &str, stmt: &Stmt) {
        match &stmt.node {
            StmtKind::Bpf { direction, path, section, places } => {
                let base = self.base_dir(path.span.file);
                let full = base.join(&path.node);
                let program = self.bpf_program(&full, path, section.as_ref(), self::ProgramKind::Classifier);
                let program = program.filter(|p| self.direction_agrees(p, direction, path, section.as_ref()));
                let (prio, handle) = self.bpf_places(places);
                let attach = BpfAttach { direction: direction.node, path: full, section: section.as_ref().map(|s| s.node.clone()), program, rules: None, prio, handle };
                self.iface_mut(ns, iface).bpf.push(Spanned::new(attach, stmt.span));
            }
            StmtKind::Xdp { path, opts } => {
                let base = self.base_dir(path.span.file);
                let mut seen = Seen::default();
                let mut attach = XdpAttach { path: base.join(&path.node), section: None, mode: None, program: None, rules: None };
                let mut section_opt = None;
                for opt in opts {
                    match opt {
                        XdpOpt::Section(s) if self.once(&mut seen, "section", s.span) => {
                            attach.section = Some(s.node.clone());
                            section_opt = Some(s.clone());
                        }
                        XdpOpt::Mode(m) if self.once(&mut seen, "mode", m.span) => attach.mode = Some(m.node),
                        _ => {}
                    }
                }
                attach.program = self.bpf_program(&attach.path, path, section_opt.as_ref(), self::ProgramKind::Xdp);
                if let Some(first) = self.iface_mut(ns, iface).xdp.as_ref().map(|x| x.span) {
                    self.report(
                        Diagnostic::error(CONFLICTING_ATTRIBUTE, stmt.span, format!("`{iface}` can hold one XDP program"))
                            .label("a second one")
                            .also(first, "the first one"),
                    );
                    return;
                }
                self.iface_mut(ns, iface).xdp = Some(Box::new(Spanned::new(attach, stmt.span)));
            }
            _ => unreachable!("not a program_attribute statement")
        }
    }
}

