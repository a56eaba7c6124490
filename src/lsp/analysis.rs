//! One document checked as `netscript check` checks it (its includes read from open
//! documents first, then the file system), planned against an empty system, and indexed
//! (lazily).

use super::index::Index;
use crate::ast::{Stmt, StmtKind};
use crate::check::{self, Loader};
use crate::diagnostic::Diagnostic;
use crate::plan::{self, Observed};
use crate::source::{FileId, SourceMap, Span};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Included files come from the editor's open documents when they are open (unsaved
/// edits count), else from the file system.
pub struct DocLoader<'a> {
    pub open: &'a HashMap<PathBuf, String>,
}

impl Loader for DocLoader<'_> {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        if let Some(text) = self.open.get(path).or_else(|| self.open.get(&std::fs::canonicalize(path).ok()?)) {
            return Ok(text.clone());
        }
        check::FsLoader.read(path)
    }
    fn canonical(&self, path: &Path) -> Option<PathBuf> {
        std::fs::canonicalize(path).ok().or_else(|| self.open.contains_key(path).then(|| path.to_path_buf()))
    }
}

pub struct Analysis {
    pub sources: SourceMap,
    /// The document is always file 0.
    pub file: FileId,
    pub diagnostics: Vec<Diagnostic>,
    /// The index and the document's AST: built on the first request that needs them, so
    /// that an edit's diagnostics do not wait for them.
    indexed: std::cell::OnceCell<(Index, Option<crate::ast::Script>)>,
    /// What the plan does, each operation with the statement it comes from; empty when
    /// the script has errors. Described (into text) only when a hover asks.
    ops: Vec<(Span, plan::Action)>,
}

impl Analysis {
    /// `parsed` is the document's parse (as file 0): its statements and the diagnostics
    /// of the parse.
    pub fn new(path: Option<&Path>, name: &str, text: &str, open: &HashMap<PathBuf, String>, parsed: (Option<&crate::ast::Script>, Vec<Diagnostic>)) -> Analysis {
        let mut sources = SourceMap::new();
        let file = sources.add(name, path, text.to_string());
        debug_assert_eq!(file, FileId(0));
        let checked = check::check_parsed(&mut sources, file, parsed.0, parsed.1, &DocLoader { open });
        let has_errors = checked.has_errors();
        let check::Checked { desired, mut diagnostics } = checked;
        let mut ops = Vec::new();
        if !has_errors {
            match plan::plan(&desired, &Observed::empty()) {
                Ok(plan) => ops = plan.ops.into_iter().map(|op| (op.origin, op.action)).collect(),
                Err(more) => diagnostics.extend(more),
            }
        }
        Analysis { sources, file, diagnostics, indexed: std::cell::OnceCell::new(), ops }
    }

    pub fn index(&self) -> &Index {
        &self.indexed.get_or_init(|| Index::build(&self.sources, self.file)).0
    }

    fn script(&self) -> Option<&crate::ast::Script> {
        self.indexed.get_or_init(|| Index::build(&self.sources, self.file)).1.as_ref()
    }

    /// The innermost statement of the document that holds `offset`.
    pub fn statement_at(&self, offset: u32) -> Option<&Stmt> {
        fn find(stmts: &[Stmt], offset: u32) -> Option<&Stmt> {
            let stmt = stmts.iter().find(|s| s.span.start <= offset && offset <= s.span.end)?;
            let inner = match &stmt.node {
                StmtKind::Netns { body: Some(b), .. }
                | StmtKind::Veth { body: Some(b), .. }
                | StmtKind::Bridge { body: Some(b), .. }
                | StmtKind::Dummy { body: Some(b), .. }
                | StmtKind::Vrf { body: Some(b), .. }
                | StmtKind::Macvlan { body: Some(b), .. }
                | StmtKind::Vlan { body: Some(b), .. }
                | StmtKind::Ipvlan { body: Some(b), .. }
                | StmtKind::Tunnel { body: Some(b), .. }
                | StmtKind::Vxlan { body: Some(b), .. }
                | StmtKind::Link { body: Some(b), .. }
                | StmtKind::Htb { body: Some(b), .. }
                | StmtKind::Qdisc { body: Some(b), .. }
                | StmtKind::Class { body: Some(b), .. } => find(&b.node, offset),
                StmtKind::Host { body } | StmtKind::For { body, .. } => find(&body.node, offset),
                _ => None,
            };
            inner.or(Some(stmt))
        }
        find(&self.script()?.stmts, offset)
    }

    /// The operations a statement plans (for a block statement, its block's too).
    pub fn ops_of(&self, stmt: Span) -> Vec<String> {
        self.ops.iter().filter(|(origin, _)| origin.file == stmt.file && stmt.start <= origin.start && origin.end <= stmt.end).map(|(_, a)| plan::describe(a)).collect()
    }
}
