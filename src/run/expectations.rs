//! The script's `expect` statements, checked against the live network (by
//! [`crate::exec::probe`]) and turned into results and diagnostics for the transaction
//! and for `netscript check-live`.

use crate::diagnostic::Diagnostic;
use crate::exec::probe::{self, ProbeResult};
use crate::model::{Desired, Expect, ExpectKind};
use std::fmt::Write as _;

pub const EXPECTATION_FAILED: &str = "netscript::run::expectation_failed";

/// Every expectation of `desired` with its result, in script order (checked at once).
pub fn check(desired: &Desired) -> Vec<(&Expect, ProbeResult)> {
    desired.expects.iter().zip(probe::check_all(&desired.expects)).collect()
}

/// The expectation as written: "ns1 reach 192.168.1.2 port 80".
pub fn statement(e: &Expect) -> String {
    let kind = match e.kind {
        ExpectKind::Reach => "reach",
        ExpectKind::Noreach => "noreach",
    };
    let mut s = format!("{} {kind} {}", e.ns.node, e.addr.node);
    if let Some(p) = &e.port {
        write!(s, " port {}", p.node).unwrap();
    }
    s
}

/// The diagnostic for an expectation that does not hold, on its `expect` statement;
/// `aftermath` says what became of the run.
pub fn diagnostic(e: &Expect, result: &ProbeResult, aftermath: &str) -> Diagnostic {
    let label = match e.kind {
        ExpectKind::Reach => "expected to reach",
        ExpectKind::Noreach => "expected not to reach",
    };
    Diagnostic::error(
        EXPECTATION_FAILED,
        e.span,
        format!("expectation does not hold: {} — {}", result.tried(e), result.outcome.detail(result.method, result.within)),
    )
    .label(label)
    .help(format!("{}\n{aftermath}", result.route_text(&e.ns.node)))
}

/// The diagnostics of the expectations that do not hold (empty: all hold).
pub fn unmet(results: &[(&Expect, ProbeResult)], aftermath: &str) -> Vec<Diagnostic> {
    results.iter().filter(|(_, r)| !r.holds).map(|(e, r)| diagnostic(e, r, aftermath)).collect()
}

#[derive(serde::Serialize)]
struct JsonResult {
    expectation: String,
    location: String,
    method: probe::Method,
    result: &'static str,
    holds: bool,
    detail: String,
    route: Option<String>,
    route_error: Option<String>,
    elapsed_ms: Option<f64>,
}

/// The results as a table (text) for `check-live`.
pub fn render_table(results: &[(&Expect, ProbeResult)], sources: &crate::source::SourceMap) -> String {
    let rows: Vec<[String; 5]> = results
        .iter()
        .map(|(e, r)| {
            [
                statement(e),
                if r.holds { "holds".into() } else { "FAILS".into() },
                r.outcome.detail(r.method, r.within),
                match &r.route {
                    Ok(route) => route.clone(),
                    Err(why) => format!("no route ({why})"),
                },
                sources.location(e.span),
            ]
        })
        .collect();
    let header = ["EXPECT", "STATUS", "RESULT", "ROUTE", "WHERE"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header.map(String::from)).chain(rows) {
        let line: Vec<String> = row.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        writeln!(out, "{}", line.join("  ").trim_end()).unwrap();
    }
    out
}

/// The results as JSON for `check-live --format json`.
pub fn render_json(results: &[(&Expect, ProbeResult)], sources: &crate::source::SourceMap) -> String {
    let items: Vec<JsonResult> = results
        .iter()
        .map(|(e, r)| JsonResult {
            expectation: format!("expect {}", statement(e)),
            location: sources.location(e.span),
            method: r.method,
            result: r.outcome.word(),
            holds: r.holds,
            detail: r.outcome.detail(r.method, r.within),
            route: r.route.as_ref().ok().cloned(),
            route_error: r.route.as_ref().err().cloned(),
            elapsed_ms: match r.outcome {
                probe::ProbeOutcome::Reached { after } => Some(after.as_secs_f64() * 1000.0),
                _ => None,
            },
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&items).expect("results serialize");
    s.push('\n');
    s
}
