//! `netscript exec NS -- CMD ARGS...`: a command inside a namespace, as `ip netns exec`.

use super::exit;
use crate::exec::netns_exec;
use std::ffi::OsString;

pub fn exec(ns: &str, command: &[OsString]) -> i32 {
    if ns != crate::model::HOST
        && let Err(e) = crate::exec::check_privileges()
    {
        eprintln!("netscript: {e}");
        return exit::RUN_FAILED;
    }
    match netns_exec::netns_exec(ns, command) {
        Ok(status) => netns_exec::exit_code(status),
        Err(e) => {
            eprintln!("netscript: exec in {ns}: {e}");
            // As a shell does: 127 for a command that is not there, 126 otherwise.
            match e.errno() {
                Some(nix::libc::ENOENT) => 127,
                _ => 126,
            }
        }
    }
}
