//! What the kernel and iproute2 accept as names.

use super::codes::*;
use crate::diagnostic::Diagnostic;
use crate::model::HOST;
use crate::source::Spanned;

pub use crate::model::MAX_INTERFACE_NAME;
/// netscript's bound on namespace names (they become file names under /run/netns).
pub const MAX_NAMESPACE_NAME: usize = 64;

pub fn namespace(name: &Spanned<String>) -> Result<(), Diagnostic> {
    let n = &name.node;
    if n == HOST {
        return Err(Diagnostic::error(RESERVED_NAME, name.span, "`host` is reserved for the initial namespace")
            .label("reserved")
            .help("configure the initial namespace with `host < ... >`, or choose another name"));
    }
    if n.is_empty() {
        return Err(Diagnostic::error(INVALID_NAME, name.span, "the namespace name is empty").label("a name is needed here"));
    }
    if n == "." || n == ".." || n.contains('/') || n.contains('\0') {
        return Err(Diagnostic::error(INVALID_NAME, name.span, format!("`{n}` cannot name a namespace"))
            .label("not a safe file name under /run/netns"));
    }
    if n.contains('.') {
        return Err(Diagnostic::error(INVALID_NAME, name.span, format!("namespace names hold no `.`: `{n}`"))
            .label("`.` separates a namespace from an interface (`NS.NAME`)")
            .help(format!("use `-` or `_` instead: `{}`", n.replace('.', "-"))));
    }
    if let Some(c) = n.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        return Err(Diagnostic::error(INVALID_NAME, name.span, format!("`{c}` is not allowed in a namespace name"))
            .label("namespace names hold letters, digits, `_` and `-`"));
    }
    if n.len() > MAX_NAMESPACE_NAME {
        return Err(Diagnostic::error(NAME_TOO_LONG, name.span, format!("the namespace name `{n}` is {} bytes long", n.len()))
            .label(format!("more than {MAX_NAMESPACE_NAME} bytes"))
            .help(format!("namespace names are at most {MAX_NAMESPACE_NAME} bytes")));
    }
    Ok(())
}

pub fn interface(name: &Spanned<String>) -> Result<(), Diagnostic> {
    let n = &name.node;
    if n.is_empty() {
        return Err(Diagnostic::error(INVALID_NAME, name.span, "the interface name is empty").label("a name is needed here"));
    }
    if n == "." || n == ".." {
        return Err(Diagnostic::error(INVALID_NAME, name.span, format!("`{n}` cannot name an interface")).label("the kernel refuses this name"));
    }
    if let Some(c) = n.chars().find(|c| !(c.is_ascii_alphanumeric() || "_-.".contains(*c))) {
        return Err(Diagnostic::error(INVALID_NAME, name.span, format!("`{c}` is not allowed in an interface name"))
            .label("interface names hold letters, digits, `_`, `-` and `.`"));
    }
    if n.len() > MAX_INTERFACE_NAME {
        return Err(Diagnostic::error(NAME_TOO_LONG, name.span, format!("the interface name `{n}` is {} bytes long", n.len()))
            .label(format!("{} bytes; the kernel allows {MAX_INTERFACE_NAME} (IFNAMSIZ)", n.len()))
            .help(format!("shorten it, e.g. `{}`", &n[..MAX_INTERFACE_NAME])));
    }
    Ok(())
}

pub fn sysctl_key(key: &Spanned<String>) -> Result<(), Diagnostic> {
    use crate::model::{SysctlKeyProblem, sysctl_key_problem};
    let k = &key.node;
    match sysctl_key_problem(k) {
        None => Ok(()),
        Some(SysctlKeyProblem::NotNetwork) => Err(Diagnostic::error(INVALID_SYSCTL, key.span, format!("`{k}` is not a network sysctl"))
            .label("only net.* keys are per namespace")
            .help("netscript sets net.* keys, which belong to the namespace; others would change the whole host")),
        // The `/` form (as sysctl(8) reads it) reaches interfaces with dots in their
        // names: net/ipv4/conf/eth0.100/forwarding.
        Some(SysctlKeyProblem::Malformed) => Err(Diagnostic::error(INVALID_SYSCTL, key.span, format!("`{k}` is not a valid sysctl key"))
            .label("keys are words separated by single dots (or `/`)")
            .help("for an interface whose name holds a dot, write the key with `/`: net/ipv4/conf/eth0.100/forwarding")),
    }
}
