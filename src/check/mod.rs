//! The checker: evaluates a script (let, for, interpolation, include) into the desired
//! state and reports every error it finds, not only the first.

pub mod bpf;
pub mod codes;
mod eval;
mod names;
mod validate;
pub mod values;

pub use eval::MAX_STATEMENTS;
pub use names::{MAX_INTERFACE_NAME, MAX_NAMESPACE_NAME};

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
pub fn check(sources: &mut SourceMap, file: FileId, loader: &dyn Loader) -> Checked {
    let text = sources.get(file).text.clone();
    let script = match crate::syntax::parse(file, &text) {
        Ok(script) => script,
        Err(diagnostics) => return Checked { desired: Desired::default(), diagnostics },
    };
    let entry_path = sources.get(file).path.clone();
    let mut evaluator = eval::Evaluator::new(sources, loader);
    evaluator.enter_entry(entry_path.as_deref());
    evaluator.run(&script);
    validate::validate(&mut evaluator);
    let mut diagnostics = std::mem::take(&mut evaluator.diagnostics);
    let desired = std::mem::take(&mut evaluator.desired);
    diagnostics.sort_by_key(|d| (d.span.file, d.span.start));
    Checked { desired, diagnostics }
}

/// Reads and checks a script file.
pub fn check_path(sources: &mut SourceMap, path: &Path) -> std::io::Result<Checked> {
    let text = crate::bounded::read_string(path, crate::bounded::MAX_SCRIPT_BYTES)?;
    let file = sources.add(path.display().to_string(), Some(path), text);
    Ok(check(sources, file, &FsLoader))
}
