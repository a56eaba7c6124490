//! PLACEHOLDER for the tc encoder (written in another branch, replaced at merge): pure
//! construction of tc netlink messages from qdisc/class/filter specs, and decoding of
//! dumped qdiscs/classes back into specs. Every function here returns
//! `ExecError::Unsupported` (or decodes nothing) until then; `src/exec/traffic.rs` does
//! the sending and must not change when this module is replaced.

use crate::exec::ExecError;
use crate::plan::action::{ClassSpec, FilterSpec, QdiscSpec};
use netlink_packet_route::tc::TcMessage;

/// The qdisc `spec` on interface `ifindex`, handle and parent included.
pub fn qdisc_message(ifindex: u32, spec: &QdiscSpec) -> Result<TcMessage, ExecError> {
    let _ = (ifindex, spec);
    Err(ExecError::Unsupported(format!("qdisc {} (the tc encoder is not merged yet)", spec.kind())))
}

/// The htb class `spec` under qdisc 1: on `ifindex`.
pub fn class_message(ifindex: u32, spec: &ClassSpec) -> Result<TcMessage, ExecError> {
    let _ = (ifindex, spec);
    Err(ExecError::Unsupported("htb classes (the tc encoder is not merged yet)".into()))
}

/// The filter `spec` on `ifindex`; `mirred_target` is the resolved index of the ifb
/// device of a `MirredToIfb` filter.
pub fn filter_message(ifindex: u32, spec: &FilterSpec, mirred_target: Option<u32>) -> Result<TcMessage, ExecError> {
    let _ = (ifindex, spec, mirred_target);
    Err(ExecError::Unsupported("tc filters (the tc encoder is not merged yet)".into()))
}

/// HOOK for observe: a dumped qdisc as a spec, or `None` when it is not one netscript
/// can express. `kind` is the raw `TCA_KIND`. Decoding options (tbf/htb/netem) is the
/// tc encoder's job; until it is merged only the option-less kinds are recognised.
pub fn decode_qdisc(kind: &str, msg: &TcMessage) -> Option<QdiscSpec> {
    let _ = msg;
    match kind {
        "ingress" => Some(QdiscSpec::Ingress),
        "clsact" => Some(QdiscSpec::Clsact),
        _ => None,
    }
}

/// HOOK for observe: a dumped htb class as a spec (options decoding, tc encoder's job).
pub fn decode_class(msg: &TcMessage) -> Option<ClassSpec> {
    let _ = msg;
    None
}
