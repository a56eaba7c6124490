//! `netscript check-live FILE`: the script's expectations against the live network.

use super::args::ShowFormat;
use super::{exit, load_and_check, Output};
use crate::run::expectations;
use crate::source::SourceMap;
use std::io::Write;
use std::path::Path;

pub fn check_live(out: &Output, path: &Path, format: ShowFormat) -> i32 {
    let mut sources = SourceMap::new();
    let Some(checked) = load_and_check(out, &mut sources, path) else { return exit::SCRIPT_ERRORS };
    if let Err(e) = crate::exec::check_privileges() {
        eprintln!("netscript: {e}");
        return exit::RUN_FAILED;
    }
    let results = expectations::check(&checked.desired);
    let text = match format {
        ShowFormat::Text if results.is_empty() => String::new(),
        ShowFormat::Text => expectations::render_table(&results, &sources),
        ShowFormat::Json => expectations::render_json(&results, &sources),
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    let failed = results.iter().filter(|(_, r)| !r.holds).count();
    if !out.quiet && format == ShowFormat::Text {
        match (results.len(), failed) {
            (0, _) => eprintln!("{}: no expectations", path.display()),
            (n, 0) => eprintln!("{n} expectation(s): all hold"),
            (n, f) => eprintln!("{n} expectation(s): {f} do(es) not hold"),
        }
    }
    if failed == 0 { exit::OK } else { exit::RUN_FAILED }
}
