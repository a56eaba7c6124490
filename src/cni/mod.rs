//! netscript as a chained CNI plugin (spec 1.1.0; see `docs/CNI.md`): the runtime runs
//! it with `CNI_COMMAND` and the other parameters in the environment and the network
//! configuration on stdin; the configuration's netscript snippet is applied inside the
//! container's namespace (`CNI_NETNS`) as one transaction, with the attachment's facts
//! as variables. The result, or the spec's error object, goes to stdout.
//!
//! It runs when the binary is called `netscript-cni` (a symbolic link in the CNI bin
//! directory), as `netscript cni`, or as `netscript` with no argument and `CNI_COMMAND`
//! set (a runtime runs a plugin by its `type` with no arguments).

pub mod attachment;
pub mod ops;
pub mod types;
pub mod vars;

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use types::{code, CniError, NetConf, LATEST, SUPPORTED_VERSIONS};

/// The largest configuration read from stdin.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// `Some(exit code)` when this process was invoked as a CNI plugin (and has run as one).
pub fn invoked() -> Option<i32> {
    let mut args = std::env::args_os();
    let argv0 = args.next();
    let first = args.next();
    let rest = args.next();
    let name = argv0.as_ref().and_then(|a| Path::new(a).file_name().map(|n| n.to_os_string()));
    let as_plugin = name.as_deref() == Some(OsStr::new("netscript-cni"))
        || (first.as_deref() == Some(OsStr::new("cni")) && rest.is_none())
        || (first.is_none() && std::env::var_os("CNI_COMMAND").is_some());
    as_plugin.then(main)
}

/// Runs one CNI command from this process's environment and stdin; returns the exit
/// code (0, or 1 with the error object on stdout).
pub fn main() -> i32 {
    let input = crate::bounded::read_stream_string(std::io::stdin().lock(), MAX_CONFIG_BYTES).map_err(|e| e.to_string());
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let outcome = run(&env("CNI_COMMAND"), input, &env);
    let mut stdout = std::io::stdout().lock();
    match outcome {
        Ok(Some(result)) => {
            let _ = writeln!(stdout, "{}", serde_json::to_string_pretty(&result).expect("results serialize"));
            0
        }
        Ok(None) => 0,
        Err(error) => {
            eprintln!("netscript (CNI): {} (code {}){}", error.msg, error.code, if error.details.is_empty() { String::new() } else { format!(": {}", error.details) });
            let _ = writeln!(stdout, "{}", serde_json::to_string_pretty(&error).expect("errors serialize"));
            1
        }
    }
}

/// A container id as the spec allows: alphanumeric first, then alphanumerics, `_`, `.`, `-`.
fn valid_container_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric()) && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// One command: its result (`None`: success without output), or its error.
pub fn run(command: &str, input: Result<String, String>, env: &dyn Fn(&str) -> String) -> Result<Option<serde_json::Value>, CniError> {
    if !matches!(command, "ADD" | "DEL" | "CHECK" | "STATUS" | "GC" | "VERSION") {
        let what = if command.is_empty() { "CNI_COMMAND is not set".to_string() } else { format!("CNI_COMMAND={command} is not a CNI command") };
        return Err(CniError::new(code::INVALID_ENVIRONMENT, "invalid CNI_COMMAND", format!("{what} (ADD, DEL, CHECK, STATUS, GC, VERSION)")));
    }
    let input = input.map_err(|e| CniError::new(code::IO_FAILURE, "cannot read the network configuration from stdin", e))?;
    if command == "VERSION" {
        #[derive(serde::Deserialize)]
        struct Version {
            #[serde(rename = "cniVersion")]
            cni_version: Option<String>,
        }
        let asked = if input.trim().is_empty() {
            None
        } else {
            serde_json::from_str::<Version>(&input).map_err(|e| CniError::new(code::DECODING_FAILURE, "cannot decode the version request", e.to_string()))?.cni_version
        };
        return Ok(Some(serde_json::json!({ "cniVersion": asked.unwrap_or_else(|| LATEST.to_string()), "supportedVersions": SUPPORTED_VERSIONS })));
    }
    let conf: NetConf = serde_json::from_str(&input).map_err(|e| CniError::new(code::DECODING_FAILURE, "cannot decode the network configuration", e.to_string()))?;
    if !SUPPORTED_VERSIONS.contains(&conf.cni_version.as_str()) {
        return Err(CniError::new(
            code::INCOMPATIBLE_VERSION,
            "incompatible CNI version",
            format!("cniVersion {:?} is not one of {}", conf.cni_version, SUPPORTED_VERSIONS.join(", ")),
        ));
    }
    let version = conf.cni_version.clone();
    let in_version = |mut e: CniError| {
        e.cni_version = version.clone();
        e
    };
    let needs = |min: &str| {
        if types::at_least(&conf.cni_version, min) {
            Ok(())
        } else {
            Err(CniError::new(code::INCOMPATIBLE_VERSION, "incompatible CNI version", format!("{command} needs cniVersion {min} or later, the configuration has {}", conf.cni_version)))
        }
    };
    match command {
        "STATUS" => {
            needs("1.1.0").map_err(&in_version)?;
            crate::exec::check_privileges().map_err(|e| in_version(CniError::new(code::NOT_AVAILABLE, "netscript cannot change the network", e.to_string())))?;
            Ok(None)
        }
        "GC" => {
            needs("1.1.0").map_err(&in_version)?;
            ops::gc(&conf).map_err(&in_version).map(|()| None)
        }
        _ => {
            if command == "CHECK" {
                needs("0.4.0").map_err(&in_version)?;
            }
            let mut invalid = Vec::new();
            let container_id = env("CNI_CONTAINERID");
            if !valid_container_id(&container_id) {
                invalid.push(format!("CNI_CONTAINERID={container_id:?} (alphanumeric first, then alphanumerics, `_`, `.`, `-`)"));
            }
            let ifname = env("CNI_IFNAME");
            if ifname.is_empty() || ifname.len() > crate::check::MAX_INTERFACE_NAME || ifname.contains('/') {
                invalid.push(format!("CNI_IFNAME={ifname:?} (an interface name)"));
            }
            let netns = env("CNI_NETNS");
            if command != "DEL" && netns.is_empty() {
                invalid.push("CNI_NETNS is not set".to_string());
            }
            if !invalid.is_empty() {
                return Err(in_version(CniError::new(code::INVALID_ENVIRONMENT, "invalid CNI environment variables", invalid.join("; "))));
            }
            let attachment = attachment::Attachment { network: conf.name.clone(), container_id, ifname, netns: netns.clone(), netns_inode: None, netns_cookie: None };
            let mut inv = ops::Invocation { attachment, conf };
            match command {
                "ADD" => ops::add(&mut inv).map(Some).map_err(&in_version),
                "DEL" => ops::del(&inv.attachment, &netns).map(|()| None).map_err(&in_version),
                _ => ops::check(&inv).map(|()| None).map_err(&in_version),
            }
        }
    }
}
