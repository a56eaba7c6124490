//! Starts netscript's language server for `.ns` files: `netscript lsp`, found on the
//! PATH of the worktree's shell (so a `cargo install`ed or distribution netscript works
//! as it does in a terminal), or at the path set in Zed's settings:
//! `"lsp": { "netscript": { "binary": { "path": "/path/to/netscript" } } }`.

use zed_extension_api::{self as zed, settings::LspSettings, LanguageServerId, Result};

struct Netscript;

impl zed::Extension for Netscript {
    fn new() -> Self {
        Netscript
    }

    fn language_server_command(&mut self, id: &LanguageServerId, worktree: &zed::Worktree) -> Result<zed::Command> {
        let configured = LspSettings::for_worktree(id.as_ref(), worktree).ok().and_then(|s| s.binary);
        let command = configured
            .as_ref()
            .and_then(|b| b.path.clone())
            .or_else(|| worktree.which("netscript"))
            .ok_or("netscript is not on the PATH: install it (cargo install --path .) or set lsp.netscript.binary.path")?;
        let args = configured.and_then(|b| b.arguments).unwrap_or_else(|| vec!["lsp".into()]);
        Ok(zed::Command { command, args, env: worktree.shell_env() })
    }
}

zed::register_extension!(Netscript);
