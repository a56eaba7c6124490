//! The CNI protocol's JSON (spec 1.1.0, and the earlier versions a chained plugin
//! accepts): the network configuration on stdin, the results and the error object on
//! stdout. Only what netscript reads is typed; `prevResult` passes through as it came.

use serde::{Deserialize, Serialize};

/// The spec versions this plugin speaks. Chaining (`prevResult`) began with 0.3.0, so
/// the versions before it (0.1.0, 0.2.0) are not accepted for a chained plugin.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/// The newest version, used in an error when the configuration names none we know.
pub const LATEST: &str = "1.1.0";

/// The spec's well-known error codes (section 5, "Error"), and netscript's own (100+).
pub mod code {
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    pub const UNSUPPORTED_FIELD: u32 = 2;
    pub const UNKNOWN_CONTAINER: u32 = 3;
    pub const INVALID_ENVIRONMENT: u32 = 4;
    pub const IO_FAILURE: u32 = 5;
    pub const DECODING_FAILURE: u32 = 6;
    pub const INVALID_CONFIG: u32 = 7;
    pub const TRY_AGAIN_LATER: u32 = 11;
    pub const NOT_AVAILABLE: u32 = 50;
    /// netscript: the snippet could not be applied; everything was rolled back.
    pub const APPLY_FAILED: u32 = 100;
    /// netscript: CHECK found that the namespace no longer holds what ADD applied.
    pub const DRIFT: u32 = 101;
    /// netscript: a failure whose rollback did not complete; details say what is left.
    pub const ROLLBACK_INCOMPLETE: u32 = 102;
}

/// The error object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CniError {
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    pub code: u32,
    pub msg: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub details: String,
}

impl CniError {
    pub fn new(code: u32, msg: impl Into<String>, details: impl Into<String>) -> CniError {
        CniError { cni_version: LATEST.to_string(), code, msg: msg.into(), details: details.into() }
    }
}

/// One attachment named in a GC's `cni.dev/valid-attachments`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct ValidAttachment {
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub ifname: String,
}

/// The plugin configuration, as the runtime derives it for this plugin (section 3).
#[derive(Debug, Clone, Deserialize)]
pub struct NetConf {
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The snippet, inline.
    #[serde(default)]
    pub script: Option<String>,
    /// The snippet, as an absolute path.
    #[serde(rename = "scriptFile", default)]
    pub script_file: Option<String>,
    #[serde(rename = "prevResult", default)]
    pub prev_result: Option<serde_json::Value>,
    #[serde(rename = "cni.dev/valid-attachments", default)]
    pub valid_attachments: Option<Vec<ValidAttachment>>,
}

/// What netscript reads of a `prevResult` (1.x and 0.3.x/0.4.0 share these fields).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PrevResult {
    #[serde(default)]
    pub interfaces: Vec<PrevInterface>,
    #[serde(default)]
    pub ips: Vec<PrevIp>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PrevInterface {
    pub name: String,
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PrevIp {
    pub address: String,
    #[serde(default)]
    pub gateway: Option<String>,
    #[serde(default)]
    pub interface: Option<usize>,
}

/// `a.b.c` → comparable numbers; `None` when not a version.
pub fn parse_version(v: &str) -> Option<(u32, u32, u32)> {
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// Whether version `v` is at least `min`.
pub fn at_least(v: &str, min: &str) -> bool {
    match (parse_version(v), parse_version(min)) {
        (Some(a), Some(b)) => a >= b,
        _ => false,
    }
}
