//! The checker: evaluates a script (let, for, interpolation, include) into the desired
//! state and reports every error it finds, not only the first.

pub mod bpf;
pub mod codes;
mod core;
mod expect;
mod firewall;
mod address_peer;
mod links;
mod ipvlan_ports;
mod link_cycles;
mod tunnels;
mod routing;
mod route_options;
mod rule_selectors;
mod traffic;
mod traffic_options;
mod traffic_filters;
mod traffic_tables;
mod traffic_keys;
mod netem_options;
mod tc_framing;
mod names;
mod snippet;
mod validate;
pub mod values;

pub use self::core::MAX_STATEMENTS;
pub use names::{MAX_INTERFACE_NAME, MAX_NAMESPACE_NAME};
pub use snippet::check_snippet;
pub use values::Val;

use crate::diagnostic::Diagnostic;
use crate::model::Desired;
use crate::source::{FileId, SourceMap};
use std::path::{Path, PathBuf};

/// Reads included files. The file system in a run; a map in tests.
pub trait Loader {
    fn read(&self, path: &Path) -> std::io::Result<String>;
    /// A stable identity for cycle detection.
    fn canonical(&self, path: &Path) -> Option<PathBuf>;
    /// Reads a binary file (eBPF objects).
    fn read_bytes(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        Ok(crate::bounded::read(path, crate::bounded::MAX_BPF_OBJECT_BYTES)?)
    }
}

pub struct FsLoader;

impl Loader for FsLoader {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        Ok(crate::bounded::read_string(path, crate::bounded::MAX_SCRIPT_BYTES)?)
    }
    fn canonical(&self, path: &Path) -> Option<PathBuf> {
        std::fs::canonicalize(path).ok()
    }
}

/// What checking a script gives: the desired state (meaningful only without errors) and
/// every diagnostic, in the order of the source.
#[derive(Debug)]
pub struct Checked {
    pub desired: Desired,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses and checks the file `file` of `sources`, reading includes through `loader`.
///
/// A syntax error does not hide the rest: the statements that parsed are checked too.
/// Diagnostics that a statement lost to a syntax error can cause (an unknown name it
/// would have declared) are then left out, as they would be noise.
pub fn check(sources: &mut SourceMap, file: FileId, loader: &dyn Loader) -> Checked {
    let text = sources.get(file).text.clone();
    let (script, diagnostics) = crate::syntax::parse_recovering(file, &text);
    check_parsed(sources, file, script.as_ref(), diagnostics, loader)
}

/// [`check`] of a file already parsed (`parse_recovering`'s answer, or the language
/// server's incremental parse of it).
pub fn check_parsed(sources: &mut SourceMap, file: FileId, script: Option<&crate::ast::Script>, mut diagnostics: Vec<Diagnostic>, loader: &dyn Loader) -> Checked {
    let Some(script) = script else {
        return Checked { desired: Desired::default(), diagnostics };
    };
    let entry_path = sources.get(file).path.clone();
    let mut evaluator = self::core::Evaluator::new(sources, loader);
    evaluator.enter_entry(entry_path.as_deref());
    evaluator.run(script);
    validate::validate(&mut evaluator);
    diagnostics.append(&mut evaluator.diagnostics);
    let mut desired = std::mem::take(&mut evaluator.desired);
    // Once, at the end: a namespace's block may be opened again any number of times.
    desired.namespaces.values_mut().for_each(crate::model::Namespace::shrink_to_fit);
    desired.namespaces.shrink_to_fit();
    let syntax_errors: Vec<crate::source::Span> =
        diagnostics.iter().filter(|d| d.is_error() && d.code.starts_with("netscript::syntax::")).map(|d| d.span).collect();
    if !syntax_errors.is_empty() {
        // Also whatever lies on a syntax error: a number too large reads as 0, which is
        // then "out of range" too.
        let on_syntax_error =
            |d: &Diagnostic| !d.code.starts_with("netscript::syntax::") && syntax_errors.iter().any(|s| s.file == d.span.file && s.start <= d.span.end && d.span.start <= s.end);
        diagnostics.retain(|d| !MAY_FOLLOW_FROM_A_SYNTAX_ERROR.contains(&d.code) && !on_syntax_error(d));
    }
    diagnostics.sort_by_key(|d| (d.span.file, d.span.start));
    Checked { desired, diagnostics }
}

/// What a statement blanked out by syntax recovery can cause elsewhere: left out of the
/// report when the file has a syntax error.
const MAY_FOLLOW_FROM_A_SYNTAX_ERROR: &[&str] = &[
    codes::UNKNOWN_NAMESPACE,
    codes::UNKNOWN_INTERFACE,
    codes::UNKNOWN_TABLE,
    codes::UNKNOWN_VARIABLE,
    codes::UNKNOWN_CLASS,
    codes::NO_CURRENT_INTERFACE,
    codes::MISPLACED,
    codes::NOT_A_BRIDGE,
    codes::GATEWAY_UNREACHABLE,
    codes::UNREACHABLE_EXPECT,
    codes::MISSING_OPTION,
    codes::EMPTY_RANGE,
];

/// Reads and checks a script file.
pub fn check_path(sources: &mut SourceMap, path: &Path) -> std::io::Result<Checked> {
    let text = crate::bounded::read_string(path, crate::bounded::MAX_SCRIPT_BYTES)?;
    let file = sources.add(path.display().to_string(), Some(path), text);
    Ok(check(sources, file, &FsLoader))
}
