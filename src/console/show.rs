//! `netscript show`: the live state of namespaces ([`crate::live`]: everything a script
//! can declare), as text, JSON (`docs/SHOW-FORMAT.md`) or a Graphviz topology.

use super::{ShowFormat, StateFormat};
use super::exit;
use crate::model::HOST;

/// `show` as the REPL's `:show` calls it.
pub fn show(names: &[String], format: ShowFormat, stats: bool) -> i32 {
    let format = match format {
        ShowFormat::Text => StateFormat::Text,
        ShowFormat::Json => StateFormat::Json,
    };
    show_as(names, format, stats)
}

/// The namespaces to read: those named, or `host` and every one under /run/netns.
pub fn namespaces_or_all(names: &[String], with_host: bool) -> Vec<String> {
    if !names.is_empty() {
        return names.to_vec();
    }
    let mut all = Vec::new();
    if with_host {
        all.push(HOST.to_string());
    }
    all.extend(crate::live::named_namespaces());
    all
}

pub fn show_as(names: &[String], format: StateFormat, stats: bool) -> i32 {
    let names = namespaces_or_all(names, true);
    let mut live = match crate::exec::Executor::new().and_then(|mut exec| exec.inventory(&names, crate::exec::inventory::Options { mac_origins: true, stats })) {
        Ok(live) => live,
        Err(e) => {
            eprintln!("netscript: cannot read the state: {e}");
            return exit::RUN_FAILED;
        }
    };
    super::sources::fill_sources(&mut live, stats);
    let text = match format {
        StateFormat::Text => crate::live::text::render(&live),
        StateFormat::Json => crate::live::json::render(&live),
        StateFormat::Dot => crate::live::dot::render(&live),
    };
    print!("{text}");
    let missing: Vec<&String> = names.iter().filter(|n| !live.namespaces.iter().any(|ns| ns.name == **n)).collect();
    for name in &missing {
        eprintln!("netscript: no namespace `{name}` (`ip netns list` lists them; `host` is the initial one)");
    }
    // A name that does not exist is an error in the input (exit 1), not a failed run (3).
    if missing.is_empty() { exit::OK } else { exit::SCRIPT_ERRORS }
}
