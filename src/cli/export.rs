//! `netscript export [NS...] [--host] [-o FILE]`: the live state as a script that
//! recreates it ([`crate::live::export`]).

use super::exit;
use std::path::Path;

pub fn export(names: &[String], host: bool, output: Option<&Path>) -> i32 {
    let names = super::show::namespaces_or_all(names, host);
    let live = match crate::exec::check_privileges()
        .map_err(|e| e.to_string())
        .and_then(|()| crate::exec::Executor::new().and_then(|mut exec| exec.inventory(&names, crate::exec::inventory::Options { mac_origins: true, stats: false })).map_err(|e| e.to_string()))
    {
        Ok(live) => live,
        Err(e) => {
            eprintln!("netscript: cannot read the state: {e}");
            return exit::RUN_FAILED;
        }
    };
    let missing: Vec<&String> = names.iter().filter(|n| !live.namespaces.iter().any(|ns| ns.name == **n)).collect();
    if !missing.is_empty() {
        for name in missing {
            eprintln!("netscript: no namespace `{name}` (`ip netns list` lists them; `host` is the initial one)");
        }
        return exit::SCRIPT_ERRORS;
    }
    let script = crate::live::export::export(&live);
    match output {
        None => print!("{script}"),
        Some(path) => {
            if let Err(e) = std::fs::write(path, &script) {
                eprintln!("netscript: cannot write {}: {e}", path.display());
                return exit::RUN_FAILED;
            }
        }
    }
    exit::OK
}
