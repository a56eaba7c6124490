//! Inline eBPF filters in the planner: the rules of a `bpf ingress|egress < ... >` or
//! `xdp < ... >` statement are compiled here ([`crate::plan::bpfgen`]), and the program
//! is named by a hash of its instructions, so that reconcile treats it like an object
//! file's program: the same code attached is left alone, other code is replaced.

use crate::model::{BpfProgram, FwRule};
use crate::plan::action::BpfSource;
use crate::plan::bpfgen::{self, Target};
use std::path::Path;

/// The section name inline programs carry in their labels.
pub const INLINE_SECTION: &str = "inline";

/// The function name of an inline program (also its kernel program name).
pub fn inline_function(target: Target) -> &'static str {
    match target {
        Target::Tc => "netscript_tc",
        Target::Xdp => "netscript_xdp",
    }
}

/// The program an attachment names and where the executor gets it: an object's program,
/// or the compiled rules. `None` when the checker found no program (and said why).
pub fn source(path: &Path, program: Option<&BpfProgram>, rules: Option<&[FwRule]>, target: Target) -> Option<(BpfProgram, BpfSource)> {
    if let Some(rules) = rules {
        let compiled = bpfgen::compile(rules, target).ok()?;
        let program = BpfProgram { section: INLINE_SECTION.into(), function: inline_function(target).into(), hash: compiled.hash() };
        let source = BpfSource::Code {
            target,
            code: bpfgen::insn::encode(&compiled.insns).iter().map(|b| format!("{b:02x}")).collect(),
            counters: compiled.counters,
            rules: rules.len(),
            program: program.clone(),
        };
        return Some((program, source));
    }
    let program = program?.clone();
    Some((program.clone(), BpfSource::Object { path: path.to_path_buf(), program }))
}
