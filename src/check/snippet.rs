//! A snippet: a script whose top-level statements are those of a namespace body (and
//! `table`, `expect`), applied to the initial namespace (`host`) as if written inside
//! `host < ... >`, with variables
//! predefined by the front end. The CNI plugin checks its configuration's script this
//! way: there, `host` is the container's namespace (the plugin enters it first).

use super::core::{Body, Evaluator};
use super::values::Val;
use super::{validate, Checked, Loader, MAY_FOLLOW_FROM_A_SYNTAX_ERROR};
use crate::ast::StmtKind;
use crate::model::{Desired, NsOrigin, HOST};
use crate::source::{FileId, SourceMap};

/// Parses and checks the snippet `file` of `sources` with `predefined` variables in scope.
pub fn check_snippet(sources: &mut SourceMap, file: FileId, loader: &dyn Loader, predefined: &[(String, Val)]) -> Checked {
    let text = sources.get(file).text.clone();
    let (script, mut diagnostics) = crate::syntax::parse_recovering(file, &text);
    let Some(script) = script else {
        return Checked { desired: Desired::default(), diagnostics };
    };
    let entry_path = sources.get(file).path.clone();
    let mut evaluator = Evaluator::new(sources, loader);
    for (name, value) in predefined {
        evaluator.env.set(name, value.clone());
    }
    evaluator.enter_entry(entry_path.as_deref());
    let span = script.stmts.first().map(|s| s.span).unwrap_or(crate::source::Span { file, start: 0, end: 0 });
    evaluator.namespace_entry(HOST, NsOrigin::Host, span);
    // `table` and `expect` keep their top-level meaning (`expect host reach {gw4}`
    // probes from the container's namespace); everything else is the namespace's body,
    // one body throughout, so that the card form's current interface carries on.
    let mut body = Body::Namespace { ns: HOST.to_string(), current: None };
    for stmt in &script.stmts {
        match stmt.node {
            StmtKind::Table { .. } | StmtKind::Expect { .. } => evaluator.stmts(std::slice::from_ref(stmt), &mut Body::Top),
            _ => evaluator.stmts(std::slice::from_ref(stmt), &mut body),
        }
    }
    validate::validate(&mut evaluator);
    for d in &mut evaluator.diagnostics {
        if d.code == super::codes::MISPLACED && d.help.as_deref().is_some_and(|h| h.contains("to the top level of the script")) {
            d.help = Some("a snippet is the body of one namespace (the container's): it cannot declare namespaces or include files".to_string());
        }
    }
    diagnostics.append(&mut evaluator.diagnostics);
    let desired = std::mem::take(&mut evaluator.desired);
    if diagnostics.iter().any(|d| d.is_error() && d.code.starts_with("netscript::syntax::")) {
        diagnostics.retain(|d| !MAY_FOLLOW_FROM_A_SYNTAX_ERROR.contains(&d.code));
    }
    diagnostics.sort_by_key(|d| (d.span.file, d.span.start));
    Checked { desired, diagnostics }
}
