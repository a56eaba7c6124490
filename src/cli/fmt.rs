//! `netscript fmt [--check] FILE...`.

use super::{exit, Output};
use crate::source::SourceMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn fmt(out: &Output, files: &[PathBuf], check: bool) -> i32 {
    let mut code = exit::OK;
    for path in files {
        let mut sources = SourceMap::new();
        let file = match super::load(&mut sources, path) {
            Ok(file) => file,
            Err(message) => {
                eprintln!("netscript: {message}");
                code = exit::SCRIPT_ERRORS;
                continue;
            }
        };
        let text = sources.get(file).text.clone();
        let formatted = match crate::fmt::format(file, &text) {
            Ok(formatted) => formatted,
            Err(diagnostics) => {
                out.diagnostics(&diagnostics, &sources);
                code = exit::SCRIPT_ERRORS;
                continue;
            }
        };
        let stdin = path.as_os_str() == "-";
        if check {
            if formatted != *text {
                let _ = std::io::stdout().write_all(diff(path, &text, &formatted).as_bytes());
                code = exit::SCRIPT_ERRORS;
            }
        } else if stdin {
            let _ = std::io::stdout().write_all(formatted.as_bytes());
        } else if formatted != *text {
            if let Err(e) = write_in_place(path, &formatted) {
                eprintln!("netscript: cannot write `{}`: {e}", path.display());
                code = exit::SCRIPT_ERRORS;
            } else if !out.quiet {
                eprintln!("{}: formatted", path.display());
            }
        }
    }
    code
}

/// A unified diff from the file as it is to the file formatted.
pub fn diff(path: &Path, old: &str, new: &str) -> String {
    let name = path.display().to_string();
    similar::TextDiff::from_lines(old, new).unified_diff().context_radius(3).header(&name, &format!("{name} (formatted)")).to_string()
}

/// Replaces the file through a temporary file beside it, so a crash leaves either version.
fn write_in_place(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".fmt-tmp");
    let tmp = PathBuf::from(tmp);
    let permissions = std::fs::metadata(path)?.permissions();
    std::fs::write(&tmp, text)?;
    std::fs::set_permissions(&tmp, permissions)?;
    std::fs::rename(&tmp, path)
}
