//! The commands on one attachment: ADD (one transaction), DEL (idempotent), CHECK
//! (re-plan; anything to do is drift), GC (DEL of every attachment the runtime no
//! longer lists).

use super::attachment::{self, Attachment, RECORD};
use super::types::{code, CniError, NetConf, PrevResult};
use crate::diagnostic::Diagnostic;
use crate::model::{Desired, HOST};
use crate::run::transaction::{self, DownOutcome, Outcome};
use crate::source::SourceMap;
use std::path::Path;

/// The parameters of one invocation.
pub struct Invocation {
    pub attachment: Attachment,
    pub conf: NetConf,
}

fn err(code: u32, msg: &str, details: impl Into<String>) -> CniError {
    CniError::new(code, msg, details)
}

/// One line a diagnostic: message, code, place, help.
fn describe_diagnostics(diagnostics: &[Diagnostic], sources: Option<&SourceMap>) -> String {
    diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let place = match sources {
                None => String::new(),
                Some(sources) => {
                    let j = crate::diagnostic::to_json(d, sources);
                    format!(" at {}:{}:{}", j["file"].as_str().unwrap_or(""), j["line"], j["column"])
                }
            };
            let help = d.help.as_deref().map(|h| format!(" (help: {})", h.replace('\n', "; "))).unwrap_or_default();
            format!("{} [{}]{place}{help}", d.message, d.code)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks the configuration's snippet with the attachment's variables.
pub fn desired(inv: &Invocation) -> Result<Desired, CniError> {
    let mut sources = SourceMap::new();
    let file = match (&inv.conf.script, &inv.conf.script_file) {
        (Some(text), None) => sources.add("<script>", None, text.clone()),
        (None, Some(path)) => {
            let path = Path::new(path);
            if !path.is_absolute() {
                return Err(err(code::INVALID_CONFIG, "invalid network config", format!("scriptFile {} is not an absolute path", path.display())));
            }
            let text = crate::bounded::read_string(path, crate::bounded::MAX_SCRIPT_BYTES)
                .map_err(|e| err(code::INVALID_CONFIG, "invalid network config", format!("cannot read scriptFile {}: {e}", path.display())))?;
            sources.add(path.display().to_string(), Some(path), text)
        }
        (None, None) => return Err(err(code::INVALID_CONFIG, "invalid network config", "the configuration has neither `script` nor `scriptFile`")),
        (Some(_), Some(_)) => return Err(err(code::INVALID_CONFIG, "invalid network config", "the configuration has both `script` and `scriptFile`: give one")),
    };
    let prev: PrevResult = match &inv.conf.prev_result {
        Some(value) => serde_json::from_value(value.clone()).map_err(|e| err(code::DECODING_FAILURE, "cannot decode prevResult", e.to_string()))?,
        None => PrevResult::default(),
    };
    let vars = super::vars::predefined(&inv.attachment.ifname, &inv.attachment.container_id, &prev);
    let checked = crate::check::check_snippet(&mut sources, file, &crate::check::FsLoader, &vars);
    let mut diagnostics = checked.diagnostics;
    if !diagnostics.iter().any(Diagnostic::is_error)
        && let Err(planning) = crate::plan::plan(&checked.desired, &crate::plan::Observed::empty())
    {
        diagnostics.extend(planning);
    }
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(err(code::INVALID_CONFIG, "invalid netscript snippet", describe_diagnostics(&diagnostics, Some(&sources))));
    }
    let others: Vec<&String> = checked.desired.namespaces.keys().filter(|ns| *ns != HOST).collect();
    if !others.is_empty() {
        let names: Vec<&str> = others.iter().map(|s| s.as_str()).collect();
        return Err(err(
            code::INVALID_CONFIG,
            "invalid netscript snippet",
            format!("a CNI snippet applies to the container's namespace only; it names other namespaces: {}", names.join(", ")),
        ));
    }
    Ok(checked.desired)
}

/// Enters the attachment's namespace (main thread, before any executor exists) and
/// directory. `Ok(false)`: the namespace is gone.
fn enter(att: &Attachment, netns: &Path) -> Result<bool, CniError> {
    let fd = match attachment::open_netns(netns) {
        Ok(Some(fd)) => fd,
        Ok(None) => return Ok(false),
        Err(e) => return Err(err(code::IO_FAILURE, "cannot open the network namespace", e)),
    };
    attachment::enter_netns(&fd).map_err(|e| err(code::IO_FAILURE, "cannot enter the network namespace", e))?;
    att.enter_dir().map_err(|e| err(code::IO_FAILURE, "cannot create the attachment's directory", e.to_string()))?;
    Ok(true)
}

/// An interrupted transaction of this attachment (a killed ADD) is rolled back first.
fn recover_pending() -> Result<(), CniError> {
    if crate::run::journal::pending().map(|p| p.is_empty()).unwrap_or(true) {
        return Ok(());
    }
    match crate::run::recover::recover(&mut |_| {}) {
        crate::run::recover::RecoverOutcome::Setup(e) => Err(err(code::TRY_AGAIN_LATER, "an interrupted operation could not be recovered", e)),
        crate::run::recover::RecoverOutcome::Journals(results) if results.iter().any(|r| r.result.is_err()) => {
            Err(err(code::ROLLBACK_INCOMPLETE, "an interrupted operation could not be recovered", format!("{results:?}")))
        }
        _ => Ok(()),
    }
}

fn setup_error(message: String) -> CniError {
    if message.contains("holds the host lock") {
        err(code::TRY_AGAIN_LATER, "another operation on this attachment is running", message)
    } else {
        err(code::APPLY_FAILED, "netscript could not start", message)
    }
}

fn failure(diagnostics: &[Diagnostic], rollback: &crate::exec::RollbackOutcome) -> CniError {
    let mut details = describe_diagnostics(diagnostics, None);
    match transaction::leftover_text(rollback) {
        None => {
            details.push_str(if details.is_empty() { "" } else { "\n" });
            details.push_str("everything was rolled back");
            err(code::APPLY_FAILED, "the netscript snippet could not be applied", details)
        }
        Some(left) => err(code::ROLLBACK_INCOMPLETE, "the netscript snippet could not be applied, and the rollback did not complete", format!("{details}\n{left}")),
    }
}

/// ADD: the snippet as one transaction in the container's namespace; the result is
/// `prevResult`, passed through.
pub fn add(inv: &mut Invocation) -> Result<serde_json::Value, CniError> {
    let desired = desired(inv)?;
    let netns = Path::new(&inv.attachment.netns).to_path_buf();
    let fd = attachment::open_netns(&netns).map_err(|e| err(code::IO_FAILURE, "cannot open the network namespace", e))?;
    let Some(fd) = fd else {
        return Err(err(code::UNKNOWN_CONTAINER, "the container's network namespace does not exist", format!("CNI_NETNS={}", netns.display())));
    };
    attachment::enter_netns(&fd).map_err(|e| err(code::IO_FAILURE, "cannot enter the network namespace", e))?;
    inv.attachment = inv.attachment.in_namespace(&fd);
    drop(fd);
    // A record of this attachment in another namespace (the runtime re-created the
    // pod's namespace without a DEL): what it lists, and the values it would give back,
    // went with that namespace.
    if inv.attachment.recorded_as().is_some_and(|earlier| !earlier.same_namespace(&inv.attachment)) {
        inv.attachment.forget().map_err(|e| err(code::IO_FAILURE, "cannot forget the attachment's earlier namespace", e.to_string()))?;
    }
    inv.attachment.enter_dir().map_err(|e| err(code::IO_FAILURE, "cannot create the attachment's directory", e.to_string()))?;
    inv.attachment.save().map_err(|e| err(code::IO_FAILURE, "cannot record the attachment", e.to_string()))?;
    recover_pending()?;
    let outcome = transaction::run(&desired, Some(Path::new(RECORD)), &mut |_| {});
    match outcome {
        Outcome::UpToDate { .. } | Outcome::Applied(_) => Ok(result(&inv.conf, &created_links(), &inv.attachment.netns)),
        Outcome::Refused(diagnostics) => Err(err(code::APPLY_FAILED, "the netscript snippet cannot be applied to this namespace", describe_diagnostics(&diagnostics, None))),
        Outcome::Failed { diagnostics, rollback } => Err(failure(&diagnostics, &rollback)),
        Outcome::Setup(message) | Outcome::Leftover(message) => Err(setup_error(message)),
    }
}

/// The links the attachment's record says netscript created (the ifb of `shape
/// ingress`, a bridge or macvlan the snippet declares), in the order made.
fn created_links() -> Vec<String> {
    let Ok(Some(record)) = crate::run::state::load(Path::new(RECORD)) else { return Vec::new() };
    record
        .owned
        .iter()
        .filter_map(|o| match &o.made {
            Some(crate::plan::Action::CreateLink { ns, name, .. }) if ns == HOST => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// The result: `prevResult` as it came, in the configuration's version, with the
/// interfaces netscript created added to `interfaces` (in the container's namespace).
/// Addresses and routes a snippet declares are not listed: they are not the attachment's
/// addressing, which the interface plugin and IPAM report.
fn result(conf: &NetConf, created: &[String], netns: &str) -> serde_json::Value {
    let mut result = match &conf.prev_result {
        Some(serde_json::Value::Object(map)) => serde_json::Value::Object(map.clone()),
        _ => serde_json::json!({}),
    };
    result["cniVersion"] = serde_json::Value::String(conf.cni_version.clone());
    if !created.is_empty() {
        if !result["interfaces"].is_array() {
            result["interfaces"] = serde_json::json!([]);
        }
        let interfaces = result["interfaces"].as_array_mut().expect("just made an array");
        for name in created {
            let listed = interfaces.iter().any(|i| i["name"] == name.as_str() && i["sandbox"] == netns);
            if !listed {
                interfaces.push(serde_json::json!({ "name": name, "sandbox": netns }));
            }
        }
    }
    result
}

/// DEL: removes what ADD made. Succeeds when nothing is recorded, when the namespace is
/// gone (what was in it went with it: the record is forgotten), and a second time.
pub fn del(att: &Attachment, netns: &str) -> Result<(), CniError> {
    if !att.recorded() {
        return Ok(());
    }
    // The namespace ADD changed: the one at CNI_NETNS if that is still it, else the
    // one recorded (GC has no CNI_NETNS).
    let recorded = att.recorded_as();
    let path = if netns.is_empty() { recorded.as_ref().map(|r| r.netns.clone()).unwrap_or_default() } else { netns.to_string() };
    let live = if path.is_empty() { None } else { attachment::open_netns(Path::new(&path)).ok().flatten() };
    let Some(fd) = live else {
        return att.forget().map_err(|e| err(code::IO_FAILURE, "cannot forget the attachment", e.to_string()));
    };
    attachment::enter_netns(&fd).map_err(|e| err(code::IO_FAILURE, "cannot enter the network namespace", e))?;
    if recorded.is_some_and(|r| !r.same_namespace(&att.in_namespace(&fd))) {
        return att.forget().map_err(|e| err(code::IO_FAILURE, "cannot forget the attachment", e.to_string()));
    }
    att.enter_dir().map_err(|e| err(code::IO_FAILURE, "cannot open the attachment's directory", e.to_string()))?;
    recover_pending()?;
    match transaction::down(Path::new(RECORD), &mut |_| {}) {
        DownOutcome::NothingRecorded | DownOutcome::Removed { .. } => att.forget().map_err(|e| err(code::IO_FAILURE, "cannot forget the attachment", e.to_string())),
        DownOutcome::Failed { diagnostics, rollback } => Err(failure(&diagnostics, &rollback)),
        DownOutcome::Setup(message) => Err(setup_error(message)),
    }
}

/// CHECK: what ADD applied must still be there: a re-plan against the record finds
/// nothing to do.
pub fn check(inv: &Invocation) -> Result<(), CniError> {
    let desired = desired(inv)?;
    let netns = Path::new(&inv.attachment.netns).to_path_buf();
    if !enter(&inv.attachment, &netns)? {
        return Err(err(code::UNKNOWN_CONTAINER, "the container's network namespace does not exist", format!("CNI_NETNS={}", netns.display())));
    }
    let mut exec = crate::exec::Executor::new().map_err(|e| err(code::APPLY_FAILED, "netscript could not start", e.to_string()))?;
    let planned = match transaction::plan_live(&mut exec, &desired, Some(Path::new(RECORD))) {
        Ok(planned) => planned,
        Err(Outcome::Refused(diagnostics)) => return Err(err(code::DRIFT, "the namespace no longer holds what the snippet declares", describe_diagnostics(&diagnostics, None))),
        Err(Outcome::Setup(message)) => return Err(setup_error(message)),
        Err(other) => return Err(err(code::APPLY_FAILED, "netscript could not plan", format!("{other:?}"))),
    };
    if planned.plan.ops.is_empty() {
        return Ok(());
    }
    let drift: Vec<String> = planned.plan.ops.iter().map(|op| format!("still to {}", crate::plan::describe(&op.action))).collect();
    Err(err(code::DRIFT, "the namespace no longer holds what the snippet declares", drift.join("\n")))
}

/// GC: DEL of every attachment of this network that `valid` does not list. Errors are
/// collected; the others are still collected.
pub fn gc(conf: &NetConf) -> Result<(), CniError> {
    let valid: std::collections::BTreeSet<(String, String)> =
        conf.valid_attachments.iter().flatten().map(|a| (a.container_id.clone(), a.ifname.clone())).collect();
    let mut errors = Vec::new();
    for att in attachment::all() {
        if att.network != conf.name || valid.contains(&(att.container_id.clone(), att.ifname.clone())) {
            continue;
        }
        if let Err(e) = del(&att, "") {
            errors.push(format!("{} {}: {} ({})", att.container_id, att.ifname, e.msg, e.details));
        }
    }
    crate::paths::set_run_dir(None);
    if errors.is_empty() { Ok(()) } else { Err(err(code::APPLY_FAILED, "some stale attachments could not be removed", errors.join("\n"))) }
}
