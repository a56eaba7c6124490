//! eBPF object files, read at check time: which programs an object holds, in which ELF
//! sections, of which type, and a hash of its contents. Pure (bytes in, answer out); the
//! checker reads the file through its [`super::Loader`].
//!
//! Parsing is aya's own (`aya_obj::Object::parse`), the same parser that loads the object
//! at apply time, so an object that passes here is one the loader understands. aya knows
//! programs by function name and keeps each one's section *type*; the ELF section *names*
//! (what `section NAME` and tc's `sec` say) come from the `object` crate.
//!
//! aya 0.14 recognises the section names `classifier[/...]` for tc classifiers and
//! `xdp[/...]` / `xdp.frags` for XDP; libbpf's `tc`, `tc/ingress`, `tcx/egress`, … and
//! `action` are renamed for it first ([`super::sections`]), so they load as classifiers.

use crate::model::BpfProgram;
use aya_obj::ProgramSection;
use object::{Object as _, ObjectSection as _};

/// The program type a statement needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramKind {
    /// `bpf ingress|egress`: `BPF_PROG_TYPE_SCHED_CLS`.
    Classifier,
    /// `xdp`: `BPF_PROG_TYPE_XDP`, attachable to an interface.
    Xdp,
}

impl ProgramKind {
    pub fn word(self) -> &'static str {
        match self {
            ProgramKind::Classifier => "tc classifier",
            ProgramKind::Xdp => "XDP",
        }
    }
}

/// A program in an object: where and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub section: String,
    pub function: String,
    /// `tc classifier`, `XDP`, `kprobe`, ...
    pub kind: &'static str,
}

impl std::fmt::Display for Listed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` in section `{}` ({})", self.function, self.section, self.kind)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectError {
    /// Not an ELF eBPF object aya can read.
    Invalid(String),
    /// `section NAME` names neither a section nor a function of the object.
    NoSuchSection { wanted: String, available: Vec<Listed> },
    /// The named program is not of the type the statement needs.
    WrongType { found: Listed, wanted: ProgramKind },
    /// `section NAME` names a section holding several programs.
    SeveralInSection { section: String, functions: Vec<String> },
    /// No `section`, and the object has no program of the needed type.
    NoProgram { wanted: ProgramKind, available: Vec<Listed> },
    /// No `section`, and the object has several programs of the needed type.
    Ambiguous { candidates: Vec<Listed> },
}

pub use crate::model::content_hash;

fn kind_word(section: &ProgramSection) -> &'static str {
    match section {
        ProgramSection::SchedClassifier => "tc classifier",
        ProgramSection::Xdp { attach_type: aya_obj::programs::XdpAttachType::Interface, .. } => "XDP",
        ProgramSection::Xdp { .. } => "XDP for a cpumap/devmap",
        ProgramSection::KProbe => "kprobe",
        ProgramSection::KRetProbe => "kretprobe",
        ProgramSection::UProbe { .. } | ProgramSection::URetProbe { .. } => "uprobe",
        ProgramSection::TracePoint => "tracepoint",
        ProgramSection::SocketFilter => "socket filter",
        ProgramSection::CgroupSkb { .. } => "cgroup skb",
        _ => "another program type",
    }
}

fn is(section: &ProgramSection, kind: ProgramKind) -> bool {
    match kind {
        ProgramKind::Classifier => matches!(section, ProgramSection::SchedClassifier),
        ProgramKind::Xdp => matches!(section, ProgramSection::Xdp { attach_type: aya_obj::programs::XdpAttachType::Interface, .. }),
    }
}

/// Every program of an object with its section type, sorted by section then function.
fn list(bytes: &[u8]) -> Result<Vec<(Listed, ProgramSection)>, ObjectError> {
    let parsed = aya_obj::Object::parse(&super::sections::aya_compatible(bytes)).map_err(|e| ObjectError::Invalid(e.to_string()))?;
    let elf = object::File::parse(bytes).map_err(|e| ObjectError::Invalid(e.to_string()))?;
    let mut out: Vec<(Listed, ProgramSection)> = parsed
        .programs
        .iter()
        .map(|(function, p)| {
            let section = elf
                .section_by_index(object::SectionIndex(p.section_index))
                .ok()
                .and_then(|s| s.name().ok().map(str::to_string))
                .unwrap_or_default();
            (Listed { section, function: function.clone(), kind: kind_word(&p.section) }, p.section.clone())
        })
        .collect();
    out.sort_by(|a, b| (&a.0.section, &a.0.function).cmp(&(&b.0.section, &b.0.function)));
    Ok(out)
}

/// The program a statement asks for: the one in section (or of function) `section`, else
/// the only one of type `want`.
pub fn find(bytes: &[u8], section: Option<&str>, want: ProgramKind) -> Result<BpfProgram, ObjectError> {
    let all = list(bytes)?;
    let chosen = match section {
        Some(name) => {
            let in_section: Vec<&(Listed, ProgramSection)> = all.iter().filter(|(l, _)| l.section == name).collect();
            let by_function = all.iter().find(|(l, _)| l.function == name);
            match (in_section.as_slice(), by_function) {
                ([one], _) => *one,
                ([], Some(f)) => f,
                ([], None) => {
                    return Err(ObjectError::NoSuchSection { wanted: name.to_string(), available: all.into_iter().map(|(l, _)| l).collect() });
                }
                (several, _) => {
                    return Err(ObjectError::SeveralInSection {
                        section: name.to_string(),
                        functions: several.iter().map(|(l, _)| l.function.clone()).collect(),
                    });
                }
            }
        }
        None => {
            let candidates: Vec<&(Listed, ProgramSection)> = all.iter().filter(|(_, s)| is(s, want)).collect();
            match candidates.as_slice() {
                [one] => *one,
                [] => return Err(ObjectError::NoProgram { wanted: want, available: all.into_iter().map(|(l, _)| l).collect() }),
                several => return Err(ObjectError::Ambiguous { candidates: several.iter().map(|(l, _)| l.clone()).collect() }),
            }
        }
    };
    let (listed, kind) = chosen;
    if !is(kind, want) {
        return Err(ObjectError::WrongType { found: listed.clone(), wanted: want });
    }
    Ok(BpfProgram { section: listed.section.clone(), function: listed.function.clone(), hash: content_hash(bytes) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_an_object() {
        assert!(matches!(find(b"not an elf file", None, ProgramKind::Xdp), Err(ObjectError::Invalid(_))));
        assert!(matches!(find(&[], Some("xdp"), ProgramKind::Xdp), Err(ObjectError::Invalid(_))));
    }

    #[test]
    fn hashes_differ_with_content() {
        assert_eq!(content_hash(b"a").len(), 16);
        assert_eq!(content_hash(b"a"), content_hash(b"a"));
        assert_ne!(content_hash(b"a"), content_hash(b"b"));
    }
}
