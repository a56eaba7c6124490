//! Evaluation: the AST, with let/for/interpolation/include, → the desired state.
//! Errors are collected, never fatal: a bad statement is reported and skipped.

use super::codes::*;
use super::names;
use super::values::{self as v, Env, Val};
use super::Loader;
use crate::ast::{self, ClassOpt, ExpectOpt, FilterOpt, NetemOpt, RouteOpt, RuleOpt, ShapeOpt, Stmt, StmtKind, TableRef, VxlanOpt, XdpOpt};
use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::source::{FileId, SourceMap, Span, Spanned};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The most statements a script may generate (after loops and includes). A loop that
/// would pass it is refused before it runs.
pub const MAX_STATEMENTS: u64 = 1_000_000;

#[path = "firewall.rs"]
pub(in crate::check) mod firewall;

/// Where statements are being evaluated, and what they apply to.
#[derive(Clone)]
enum Body {
    Top,
    Namespace { ns: String, current: Option<String> },
    /// The block of an interface declaration.
    Interface { ns: String, iface: String },
    /// An htb block, or a class's block (with that class as parent).
    Htb { ns: String, iface: String, parent: Option<u32> },
}

/// A table reference to resolve once every `table` statement has been seen.
pub struct PendingTable {
    pub ns: String,
    pub target: TableTarget,
    pub name: Spanned<String>,
}

pub enum TableTarget {
    Route(usize),
    Rule(usize),
}

/// How deep blocks and includes may nest during evaluation, all files together.
pub const MAX_EVAL_DEPTH: usize = 64;

pub struct Evaluator<'a> {
    pub sources: &'a mut SourceMap,
    loader: &'a dyn Loader,
    env: Env,
    pub desired: Desired,
    pub diagnostics: Vec<Diagnostic>,
    context: Vec<String>,
    include_stack: Vec<(PathBuf, Span)>,
    generated: u64,
    aborted: bool,
    /// Statement lists being evaluated, one inside the other (blocks and includes).
    depth: usize,
    pub pending_tables: Vec<PendingTable>,
    /// Where each interface was declared, for duplicate reports.
    declared_at: HashMap<(String, String), Span>,
    /// Repeats of one diagnostic (same code and place), e.g. from loop iterations.
    seen: HashMap<(&'static str, Span), usize>,
}

impl<'a> Evaluator<'a> {
    pub fn new(sources: &'a mut SourceMap, loader: &'a dyn Loader) -> Self {
        Evaluator {
            sources,
            loader,
            env: Env::new(),
            desired: Desired::default(),
            diagnostics: Vec::new(),
            context: Vec::new(),
            include_stack: Vec::new(),
            generated: 0,
            aborted: false,
            depth: 0,
            pending_tables: Vec::new(),
            declared_at: HashMap::new(),
            seen: HashMap::new(),
        }
    }

    pub fn report(&mut self, mut d: Diagnostic) {
        let key = (d.code, d.span);
        if let Some(&index) = self.seen.get(&key) {
            // Count repeats on the first report instead of repeating it.
            let first = &mut self.diagnostics[index];
            let note = first.context.iter().position(|c| c.starts_with("the same error occurs"));
            let count = match note {
                Some(i) => {
                    let n: usize = first.context[i].split_whitespace().nth(4).and_then(|n| n.parse().ok()).unwrap_or(1);
                    first.context.remove(i);
                    n + 1
                }
                None => 1,
            };
            let why = if self.context.iter().any(|c| c.starts_with("in the loop")) { " (in other loop iterations)" } else { "" };
            first.context.push(format!("the same error occurs {count} more time{}{why}", if count == 1 { "" } else { "s" }));
            return;
        }
        d.context.extend(self.context.iter().rev().cloned());
        self.seen.insert(key, self.diagnostics.len());
        self.diagnostics.push(d);
    }

    fn ok<T>(&mut self, r: Result<T, Diagnostic>) -> Option<T> {
        match r {
            Ok(t) => Some(t),
            Err(d) => {
                self.report(d);
                None
            }
        }
    }

    pub fn run(&mut self, script: &ast::Script) {
        self.stmts(&script.stmts, &mut Body::Top);
    }

    fn stmts(&mut self, stmts: &[Stmt], body: &mut Body) {
        // The parser bounds nesting within one file; includes nest files, and a chain of
        // includes inside blocks must not recurse without bound either.
        if self.depth >= MAX_EVAL_DEPTH {
            if let Some(first) = stmts.first() {
                self.report(
                    Diagnostic::error(crate::syntax::TOO_DEEP, first.span, format!("blocks and includes nest deeper than {MAX_EVAL_DEPTH} levels here"))
                        .label("this statement is too deep")
                        .help("flatten the script: fewer nested blocks or includes"),
                );
            }
            return;
        }
        self.depth += 1;
        self.stmts_at_depth(stmts, body);
        self.depth -= 1;
    }

    fn stmts_at_depth(&mut self, stmts: &[Stmt], body: &mut Body) {
        for stmt in stmts {
            if self.aborted {
                return;
            }
            self.generated += 1;
            if self.generated > MAX_STATEMENTS {
                self.report(
                    Diagnostic::error(TOO_MANY_STATEMENTS, stmt.span, format!("the script generates more than {} statements", group_digits(MAX_STATEMENTS)))
                        .label("the limit is passed here")
                        .help("split the topology into several scripts, or use smaller loops"),
                );
                self.aborted = true;
                return;
            }
            self.stmt(stmt, body);
        }
    }

    fn misplaced(&mut self, stmt: &Stmt, body: &Body) {
        let kw = stmt.node.keyword();
        let (message, help) = match (&stmt.node, body) {
            (StmtKind::Netns { .. } | StmtKind::Host { .. } | StmtKind::Table { .. } | StmtKind::Expect { .. } | StmtKind::Include { .. }, _) => {
                (format!("`{kw}` is a top-level statement"), format!("move `{kw}` out of the block, to the top level of the script"))
            }
            (StmtKind::Class { .. } | StmtKind::Filter { .. }, _) => {
                (format!("`{kw}` belongs inside an `htb` block"), format!("write it as `htb < {kw} ... >` on the interface it shapes"))
            }
            (_, Body::Top) => (
                format!("`{kw}` must be inside a namespace body"),
                format!("put it in a block: `netns NAME < ... {kw} ... >`, or `host < ... >` for the initial namespace"),
            ),
            (_, Body::Htb { .. }) => (format!("`{kw}` is not allowed in an htb block"), "an htb block holds `class` and `filter` statements".to_string()),
            (_, Body::Interface { .. }) => (
                format!("`{kw}` is not allowed in an interface's block"),
                "declare interfaces in the namespace body, not inside another interface's block".to_string(),
            ),
            (_, Body::Namespace { .. }) => (format!("`{kw}` is not allowed here"), String::new()),
        };
        let mut d = Diagnostic::error(MISPLACED, keyword_span(stmt), message).label("not allowed here");
        if !help.is_empty() {
            d = d.help(help);
        }
        self.report(d);
    }

    fn stmt(&mut self, stmt: &Stmt, body: &mut Body) {
        match &stmt.node {
            StmtKind::Let { name, value } => {
                if let Some(val) = self.ok(v::let_value(&self.env, value)) {
                    self.env.set(&name.node, val);
                }
            }
            StmtKind::For { var, from, to, inclusive, body: block } => self.for_loop(stmt, var, from, to, *inclusive, block, body),
            StmtKind::Include { path } => match body {
                Body::Top => self.include(path),
                _ => self.misplaced(stmt, body),
            },
            StmtKind::Netns { name, body: block } => match body {
                Body::Top => self.netns(name, block.as_ref()),
                _ => self.misplaced(stmt, body),
            },
            StmtKind::Host { body: block } => match body {
                Body::Top => {
                    self.namespace_entry(HOST, NsOrigin::Host, keyword_span(stmt));
                    let mut inner = Body::Namespace { ns: HOST.to_string(), current: None };
                    self.stmts(&block.node, &mut inner);
                }
                _ => self.misplaced(stmt, body),
            },
            StmtKind::Table { name, number } => match body {
                Body::Top => self.table(name, number),
                _ => self.misplaced(stmt, body),
            },
            StmtKind::Expect { ns, kind, addr, opts } => match body {
                Body::Top => self.expect(stmt.span, ns, *kind, addr, opts),
                _ => self.misplaced(stmt, body),
            },
            StmtKind::Veth { .. } | StmtKind::Bridge { .. } | StmtKind::Macvlan { .. } | StmtKind::Vxlan { .. } | StmtKind::Link { .. } => {
                match body {
                    Body::Namespace { ns, current } => {
                        let ns = ns.clone();
                        if let Some(iface) = self.interface_decl(&ns, stmt) {
                            *current = Some(iface.clone());
                            if let Some(block) = interface_block(&stmt.node) {
                                let mut inner = Body::Interface { ns, iface };
                                self.stmts(&block.node, &mut inner);
                            }
                        }
                    }
                    _ => self.misplaced(stmt, body),
                }
            }
            StmtKind::Route { .. } | StmtKind::Rule { .. } | StmtKind::Forward { .. } | StmtKind::Sysctl { .. } => match body {
                Body::Namespace { ns, .. } | Body::Interface { ns, .. } => {
                    let ns = ns.clone();
                    self.namespace_wide(&ns, stmt)
                }
                _ => self.misplaced(stmt, body),
            },
            StmtKind::Class { id, opts, body: block } => match body {
                Body::Htb { ns, iface, parent } => {
                    let (ns, iface, parent) = (ns.clone(), iface.clone(), *parent);
                    if let Some(minor) = self.class(&ns, &iface, parent, stmt.span, id, opts)
                        && let Some(block) = block
                    {
                        let mut inner = Body::Htb { ns, iface, parent: Some(minor) };
                        self.stmts(&block.node, &mut inner);
                    }
                }
                _ => self.misplaced(stmt, body),
            },
            StmtKind::Filter { opts, target } => match body {
                Body::Htb { ns, iface, .. } => {
                    let (ns, iface) = (ns.clone(), iface.clone());
                    self.filter(&ns, &iface, stmt.span, opts, target)
                }
                _ => self.misplaced(stmt, body),
            },
            StmtKind::Firewall(fw) => match body {
                Body::Namespace { ns, .. } | Body::Interface { ns, .. } => {
                    let ns = ns.clone();
                    self.firewall(&ns, stmt, fw)
                }
                _ => self.misplaced(stmt, body),
            },
            _ => self.attribute(stmt, body),
        }
    }

    fn for_loop(&mut self, stmt: &Stmt, var: &ast::Ident, from: &ast::Expr, to: &ast::Expr, inclusive: bool, block: &ast::Block, body: &mut Body) {
        let (Some(a), Some(b)) = (self.ok(v::int(&self.env, from)), self.ok(v::int(&self.env, to))) else { return };
        let end = if inclusive { b.saturating_add(1) } else { b };
        if end <= a {
            let range = format!("{a}..{}{b}", if inclusive { "=" } else { "" });
            self.report(
                Diagnostic::warning(EMPTY_RANGE, from.span.to(to.span), format!("the range {range} is empty"))
                    .label("this loop runs no iteration"),
            );
            return;
        }
        let iterations = (end as i128 - a as i128) as u64;
        let per_iteration = static_cost(&block.node, &self.env);
        let estimate = iterations.saturating_mul(per_iteration);
        // An iteration costs at least one step, so that an empty body cannot spin forever.
        let budget = iterations.saturating_mul(per_iteration.max(1));
        if self.generated.saturating_add(budget) > MAX_STATEMENTS {
            let before = match self.generated {
                0 | 1 => String::new(),
                n => format!(" (after the {} statements before it)", group_digits(n - 1)),
            };
            self.report(
                Diagnostic::error(
                    TOO_MANY_STATEMENTS,
                    keyword_span(stmt).to(to.span),
                    format!("this loop would generate {} statements{before}, more than the limit of {}", group_digits(estimate), group_digits(MAX_STATEMENTS)),
                )
                .label(format!("{} iterations of {} statement{}", group_digits(iterations), group_digits(per_iteration), if per_iteration == 1 { "" } else { "s" }))
                .help("split the topology into several scripts, or use smaller loops"),
            );
            return;
        }
        let file = self.sources.get(stmt.span.file).name.clone();
        let (line, _) = self.sources.get(stmt.span.file).line_col(stmt.span.start);
        for i in a..end {
            if self.aborted {
                return;
            }
            self.env.push();
            self.env.set(&var.node, Val::Int(i));
            self.context.push(format!("in the loop at {file}:{line}, where {} = {i}", var.node));
            self.stmts(&block.node, body);
            self.context.pop();
            self.env.pop();
        }
    }

    fn include(&mut self, path: &Spanned<String>) {
        let base = self.base_dir(path.span.file);
        let full = base.join(&path.node);
        let key = self.loader.canonical(&full).unwrap_or_else(|| full.clone());
        if let Some(pos) = self.include_stack.iter().position(|(p, _)| *p == key) {
            let shown = |p: &Path| p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string());
            let mut chain: Vec<String> = self.include_stack[pos..].iter().map(|(p, _)| shown(p)).collect();
            chain.push(shown(&key));
            self.report(
                Diagnostic::error(INCLUDE_CYCLE, path.span, format!("`{}` includes itself", path.node))
                    .label("this include closes a cycle")
                    .help(format!("the cycle: {}", chain.join(" → "))),
            );
            return;
        }
        let text = match self.loader.read(&full) {
            Ok(text) => text,
            Err(error) => {
                self.report(
                    Diagnostic::error(INCLUDE_NOT_FOUND, path.span, format!("cannot read `{}`: {error}", path.node))
                        .label("included here")
                        .help(crate::bounded::refusal_help(&error).unwrap_or_else(|| {
                            format!("the path is relative to the including file's directory: {}", full.display())
                        })),
                );
                return;
            }
        };
        let file = self.sources.add(full.display().to_string(), Some(&full), text.as_str());
        let (script, diagnostics) = crate::syntax::parse_recovering(file, &text);
        for d in diagnostics {
            self.report(d);
        }
        let Some(script) = script else { return };
        let location = self.sources.location(path.span);
        self.include_stack.push((key, path.span));
        self.context.push(format!("in the file included at {location}"));
        self.stmts(&script.stmts, &mut Body::Top);
        self.context.pop();
        self.include_stack.pop();
    }

    pub fn base_dir(&self, file: FileId) -> PathBuf {
        self.sources
            .get(file)
            .path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    pub fn enter_entry(&mut self, path: Option<&Path>) {
        if let Some(p) = path {
            let key = self.loader.canonical(p).unwrap_or_else(|| p.to_path_buf());
            self.include_stack.push((key, Span::default()));
        }
    }

    fn namespace_entry(&mut self, name: &str, origin: NsOrigin, span: Span) -> &mut Namespace {
        let ns = self
            .desired
            .namespaces
            .entry(name.to_string())
            .or_insert_with(|| Namespace::new(name.to_string(), origin, span));
        if ns.origin == NsOrigin::Implicit && origin == NsOrigin::Declared {
            ns.origin = NsOrigin::Declared;
            ns.span = span;
        }
        ns
    }

    fn netns(&mut self, name: &ast::Name, block: Option<&ast::Block>) {
        let Some(name) = self.ok(v::template(&self.env, name)) else { return };
        if let Err(d) = names::namespace(&name) {
            self.report(d);
            return;
        }
        self.namespace_entry(&name.node, NsOrigin::Declared, name.span);
        if let Some(block) = block {
            let mut inner = Body::Namespace { ns: name.node.clone(), current: None };
            self.stmts(&block.node, &mut inner);
        }
    }

    fn table(&mut self, name: &ast::Ident, number: &ast::Expr) {
        if let Some(builtin) = builtin_table(&name.node) {
            self.report(
                Diagnostic::error(DUPLICATE_TABLE, name.span, format!("`{}` is a built-in table ({builtin})", name.node))
                    .label("already defined")
                    .help("choose another name"),
            );
            return;
        }
        let Some(id) = self.ok(v::int(&self.env, number)) else { return };
        if !(1..=u32::MAX as i64).contains(&id) {
            self.report(v::out_of_range(number.span, "a table number", id, 1, u32::MAX));
            return;
        }
        if (TABLE_DEFAULT as i64..=TABLE_LOCAL as i64).contains(&id) {
            let builtin = match id as u32 {
                TABLE_DEFAULT => "default",
                TABLE_MAIN => "main",
                _ => "local",
            };
            self.report(
                Diagnostic::error(DUPLICATE_TABLE, number.span, format!("table number {id} is the built-in table `{builtin}`"))
                    .label("already taken")
                    .help(format!("use `{builtin}` by name, or choose another number")),
            );
            return;
        }
        if let Some(previous) = self.desired.tables.get(&name.node) {
            let (prev_span, prev_id) = (previous.span, previous.node);
            if prev_id != id as u32 {
                self.report(
                    Diagnostic::error(DUPLICATE_TABLE, name.span, format!("table `{}` is already defined as {prev_id}", name.node))
                        .label(format!("redefined as {id}"))
                        .also(prev_span, "first defined here"),
                );
            }
            return;
        }
        self.desired.tables.insert(name.node.clone(), Spanned::new(id as u32, name.span));
    }

    fn expect(&mut self, span: Span, ns: &ast::Name, kind: ExpectKind, addr: &ast::IpValue, opts: &[ExpectOpt]) {
        let Some(ns) = self.ok(v::template(&self.env, ns)) else { return };
        let Some(addr) = self.ok(v::address(&self.env, addr)) else { return };
        let mut port = None;
        let mut within = None;
        let mut seen = Seen::default();
        for opt in opts {
            match opt {
                ExpectOpt::Port(p) => {
                    if self.once(&mut seen, "port", p.span) {
                        port = self.ok(v::int_in(&self.env, &p.node, "a port", 1, 65535)).map(|s| s.map(|p| p as u16));
                    }
                }
                ExpectOpt::Within(w) => {
                    if self.once(&mut seen, "within", w.span) {
                        within = self.ok(v::duration(&self.env, &w.node));
                    }
                }
            }
        }
        self.desired.expects.push(Expect { span, ns, kind, addr, port, within });
    }

    /// Declares an interface in `ns`; returns its name. `link` on a known one configures it.
    fn interface_decl(&mut self, ns: &str, stmt: &Stmt) -> Option<String> {
        let name_tpl = match &stmt.node {
            StmtKind::Veth { name, .. }
            | StmtKind::Bridge { name, .. }
            | StmtKind::Macvlan { name, .. }
            | StmtKind::Vxlan { name, .. }
            | StmtKind::Link { name, .. } => name,
            _ => unreachable!("not an interface declaration"),
        };
        let name = self.ok(v::template(&self.env, name_tpl))?;
        if let Err(d) = names::interface(&name) {
            self.report(d);
            return None;
        }
        let kind = match &stmt.node {
            StmtKind::Veth { peer, .. } => {
                let peer_ref = self.veth_peer(ns, &name, peer)?;
                IfaceKind::Veth { peer: peer_ref }
            }
            StmtKind::Bridge { .. } => IfaceKind::Bridge,
            StmtKind::Macvlan { parent, mode, .. } => {
                let parent = self.ok(v::template(&self.env, parent))?;
                IfaceKind::Macvlan { parent, mode: mode.as_ref().map(|m| m.node).unwrap_or(MacvlanMode::Bridge) }
            }
            StmtKind::Vxlan { opts, .. } => IfaceKind::Vxlan(self.vxlan(stmt, opts)?),
            StmtKind::Link { .. } => {
                if name.node == "lo" {
                    IfaceKind::Loopback
                } else {
                    IfaceKind::Existing
                }
            }
            _ => unreachable!(),
        };
        if self.declare(ns, &name, kind) { Some(name.node) } else { None }
    }

    /// Records an interface; false (and a report) when it is declared twice.
    fn declare(&mut self, ns: &str, name: &Spanned<String>, kind: IfaceKind) -> bool {
        let key = (ns.to_string(), name.node.clone());
        let namespace = self.desired.namespaces.get_mut(ns).expect("namespace entered before its body");
        match namespace.interfaces.get_mut(&name.node) {
            None => {
                namespace.interfaces.insert(name.node.clone(), Interface::new(name.node.clone(), kind, name.span));
                self.declared_at.insert(key, name.span);
                true
            }
            Some(existing) if matches!(kind, IfaceKind::Existing | IfaceKind::Loopback) => {
                let _ = existing;
                true
            }
            Some(existing) if matches!(existing.kind, IfaceKind::Existing) => {
                existing.kind = kind;
                existing.span = name.span;
                self.declared_at.insert(key, name.span);
                true
            }
            Some(existing) => {
                let first = self.declared_at.get(&key).copied().unwrap_or(existing.span);
                let what = match &existing.kind {
                    IfaceKind::VethPeer { of } => format!("as the peer of veth {of}"),
                    k => format!("as a {}", k.word()),
                };
                let mut d = Diagnostic::error(DUPLICATE_INTERFACE, name.span, format!("interface `{}` is declared twice in namespace `{ns}`", name.node))
                    .label("declared again here")
                    .help(format!("it is already declared {what}; use `link {}` to configure it", name.node));
                if first.file == name.span.file && first != name.span {
                    d = d.also(first, "first declared here");
                } else if first != name.span {
                    d.context.push(format!("first declared at {}", self.sources.location(first)));
                }
                self.report(d);
                false
            }
        }
    }

    fn veth_peer(&mut self, ns: &str, name: &Spanned<String>, peer: &ast::Name) -> Option<IfRef> {
        let peer = self.ok(v::template(&self.env, peer))?;
        let (peer_ns, peer_name) = match peer.node.split_once('.') {
            Some((n, i)) => (n.to_string(), i.to_string()),
            None => (ns.to_string(), peer.node.clone()),
        };
        if peer_ns != HOST {
            let ns_span = Spanned::new(peer_ns.clone(), Span { end: (peer.span.start + peer_ns.len() as u32).min(peer.span.end), ..peer.span });
            if let Err(d) = names::namespace(&ns_span) {
                self.report(d);
                return None;
            }
        }
        let name_span = Span { start: peer.span.end.saturating_sub(peer_name.len() as u32).max(peer.span.start), ..peer.span };
        let peer_spanned = Spanned::new(peer_name.clone(), name_span);
        if let Err(d) = names::interface(&peer_spanned) {
            self.report(d);
            return None;
        }
        if peer_ns == ns && peer_name == name.node {
            self.report(
                Diagnostic::error(DUPLICATE_INTERFACE, peer.span, format!("a veth cannot be its own peer (`{}`)", name.node))
                    .label("same name as this end")
                    .help("name the other end differently, or put it in another namespace: `NS.NAME`"),
            );
            return None;
        }
        let origin = if peer_ns == HOST { NsOrigin::Host } else { NsOrigin::Implicit };
        self.namespace_entry(&peer_ns, origin, peer.span);
        let this_end = IfRef { ns: ns.to_string(), name: name.node.clone() };
        if !self.declare(&peer_ns, &peer_spanned, IfaceKind::VethPeer { of: this_end }) {
            return None;
        }
        Some(IfRef { ns: peer_ns, name: peer_name })
    }

    fn vxlan(&mut self, stmt: &Stmt, opts: &[VxlanOpt]) -> Option<Vxlan> {
        let mut seen = Seen::default();
        let mut vni = None;
        let mut x = Vxlan { vni: Spanned::new(0, stmt.span), remote: None, group: None, local: None, dev: None, port: None };
        for opt in opts {
            match opt {
                VxlanOpt::Id(i) if self.once(&mut seen, "id", i.span) => {
                    vni = self.ok(v::int_in(&self.env, &i.node, "a VNI", 0, (1 << 24) - 1)).map(|s| s.map(|v| v as u32));
                }
                VxlanOpt::Remote(r) if self.once(&mut seen, "remote", r.span) => x.remote = self.ok(v::address(&self.env, &r.node)),
                VxlanOpt::Group(g) if self.once(&mut seen, "group", g.span) => x.group = self.ok(v::address(&self.env, &g.node)),
                VxlanOpt::Local(l) if self.once(&mut seen, "local", l.span) => x.local = self.ok(v::address(&self.env, &l.node)),
                VxlanOpt::Dev(d) if self.once(&mut seen, "dev", d.span) => x.dev = self.ok(v::template(&self.env, &d.node)),
                VxlanOpt::Port(p) if self.once(&mut seen, "port", p.span) => {
                    x.port = self.ok(v::int_in(&self.env, &p.node, "a port", 1, 65535)).map(|s| s.map(|p| p as u16));
                }
                _ => {}
            }
        }
        if let (Some(r), Some(g)) = (&x.remote, &x.group) {
            self.report(
                Diagnostic::error(CONFLICTING_ATTRIBUTE, g.span, "a vxlan has either a `remote` or a `group`, not both")
                    .label("group given here")
                    .also(r.span, "remote given here"),
            );
        }
        match vni {
            Some(vni) => x.vni = vni,
            None => {
                if !seen.0.contains_key("id") {
                    self.report(
                        Diagnostic::error(MISSING_OPTION, keyword_span(stmt), "a vxlan needs an `id` (its VNI)")
                            .label("no `id` given")
                            .help("e.g. `vxlan vx0 id 42 remote 10.0.0.2 dev eth0`"),
                    );
                }
                return None;
            }
        }
        Some(x)
    }

    /// Reports a repeated option; true the first time `what` is seen.
    fn once(&mut self, seen: &mut Seen, what: &'static str, span: Span) -> bool {
        if let Some(first) = seen.0.get(what) {
            let first = *first;
            self.report(
                Diagnostic::error(DUPLICATE_OPTION, span, format!("`{what}` is given twice"))
                    .label("given again here")
                    .also(first, "first given here"),
            );
            return false;
        }
        seen.0.insert(what, span);
        true
    }

    fn current_interface(&mut self, stmt: &Stmt, body: &Body) -> Option<(String, String)> {
        match body {
            Body::Interface { ns, iface } => Some((ns.clone(), iface.clone())),
            Body::Namespace { ns, current: Some(iface) } => Some((ns.clone(), iface.clone())),
            Body::Namespace { ns, current: None } => {
                let kw = stmt.node.keyword();
                self.report(
                    Diagnostic::error(NO_CURRENT_INTERFACE, keyword_span(stmt), format!("`{kw}` needs an interface, and none is declared before it in `{ns}`"))
                        .label("which interface?")
                        .help(format!("declare one first (`veth v0 <-> NS.v1`, `bridge br0`), or name an existing one with `link eth0`, then `{kw}`")),
                );
                None
            }
            _ => {
                self.misplaced(stmt, body);
                None
            }
        }
    }

    fn iface_mut(&mut self, ns: &str, iface: &str) -> &mut Interface {
        self.desired.namespaces.get_mut(ns).and_then(|n| n.interfaces.get_mut(iface)).expect("current interface is declared")
    }

    /// Sets an attribute that may be given once per interface (or again with the same value).
    fn set_once<T: PartialEq + Clone + std::fmt::Debug>(
        &mut self,
        ns: &str,
        iface: &str,
        what: &str,
        value: Spanned<T>,
        slot: impl Fn(&mut Interface) -> &mut Option<Spanned<T>>,
    ) {
        let target = slot(self.iface_mut(ns, iface));
        match target {
            Some(previous) if previous.node != value.node => {
                let first = previous.span;
                self.report(
                    Diagnostic::error(CONFLICTING_ATTRIBUTE, value.span, format!("`{iface}` is given two different values for its {what}"))
                        .label("conflicts with the earlier one")
                        .also(first, "first set here"),
                );
            }
            Some(_) => {}
            None => *target = Some(value),
        }
    }

    fn attribute(&mut self, stmt: &Stmt, body: &mut Body) {
        let Some((ns, iface)) = self.current_interface(stmt, body) else { return };
        let env = &self.env;
        match &stmt.node {
            StmtKind::Addr { addrs } => {
                for a in addrs {
                    // A bare address is a host prefix (/32, /128), as in iproute2: then
                    // the interface has no connected route, and the run fails later, far
                    // away (a gateway "unreachable"). Say so here.
                    if let Ok(written) = v::ip(&self.env, a)
                        && written.node.1.is_none()
                    {
                        let host = if written.node.0.is_ipv4() { 32 } else { 128 };
                        let example = if written.node.0.is_ipv4() { 24 } else { 64 };
                        self.report(
                            Diagnostic::warning(ADDRESS_WITHOUT_PREFIX, written.span, format!("the address {} has no prefix length: it is taken as /{host}", written.node.0))
                                .label(format!("means {}/{host}, a network of one address", written.node.0))
                                .help(format!("write the prefix of its network, e.g. `{}/{example}`, or `/{host}` if a single address is meant", written.node.0)),
                        );
                    }
                    let Some(p) = self.ok(v::prefix(&self.env, a)) else { continue };
                    let existing = self.iface_mut(&ns, &iface).addrs.iter().find(|x| x.node.addr() == p.node.addr()).map(|x| x.span);
                    match existing {
                        Some(first) => self.report(
                            Diagnostic::error(DUPLICATE_ADDRESS, p.span, format!("`{}` already has the address {}", iface, p.node.addr()))
                                .label("given again here")
                                .also(first, "first given here"),
                        ),
                        None => self.iface_mut(&ns, &iface).addrs.push(p),
                    }
                }
            }
            StmtKind::Up | StmtKind::Down => {
                let up = Spanned::new(matches!(stmt.node, StmtKind::Up), stmt.span);
                self.set_once(&ns, &iface, "administrative state", up, |i| &mut i.admin_up);
            }
            StmtKind::Mtu { mtu } => {
                if let Some(m) = self.ok(v::int_in(env, mtu, "an MTU", 68, 65535)) {
                    self.set_once(&ns, &iface, "MTU", m.map(|m| m as u32), |i| &mut i.mtu);
                }
            }
            StmtKind::Mac { mac } => {
                if let Some(m) = self.ok(v::mac(env, mac)) {
                    if m.node[0] & 1 == 1 {
                        self.report(
                            Diagnostic::error(super::codes::INVALID_ADDRESS, m.span, "a multicast MAC address cannot be an interface's address")
                                .label("the lowest bit of the first byte is set")
                                .help("use a unicast address, e.g. 02:00:00:00:00:01 (locally administered)"),
                        );
                        return;
                    }
                    self.set_once(&ns, &iface, "MAC address", m, |i| &mut i.mac);
                }
            }
            StmtKind::Master { bridge } => {
                if let Some(b) = self.ok(v::template(env, bridge)) {
                    self.set_once(&ns, &iface, "master", b, |i| &mut i.master);
                }
            }
            StmtKind::Shape { ingress, rate, opts } => self.shape(&ns, &iface, stmt, *ingress, rate, opts),
            StmtKind::Htb { default, body: block } => {
                let default = match default {
                    Some(d) => match self.ok(v::class_minor(&self.env, d)) {
                        Some(m) => Some(m),
                        None => return,
                    },
                    None => None,
                };
                let htb = Qdisc::Htb(Htb { default_class: default, classes: Vec::new(), filters: Vec::new() });
                if !self.set_root_qdisc(&ns, &iface, Spanned::new(htb, keyword_span(stmt))) {
                    return;
                }
                if let Some(block) = block {
                    let mut inner = Body::Htb { ns: ns.clone(), iface: iface.clone(), parent: None };
                    self.stmts(&block.node, &mut inner);
                }
            }
            StmtKind::Netem { opts } => self.netem(&ns, &iface, stmt, opts),
            StmtKind::Bpf { direction, path, section } => {
                let base = self.base_dir(path.span.file);
                let full = base.join(&path.node);
                let program = self.bpf_program(&full, path, section.as_ref(), super::bpf::ProgramKind::Classifier);
                let attach = BpfAttach { direction: direction.node, path: full, section: section.as_ref().map(|s| s.node.clone()), program };
                self.iface_mut(&ns, &iface).bpf.push(Spanned::new(attach, stmt.span));
            }
            StmtKind::Xdp { path, opts } => {
                let base = self.base_dir(path.span.file);
                let mut seen = Seen::default();
                let mut attach = XdpAttach { path: base.join(&path.node), section: None, mode: None, program: None };
                let mut section_opt = None;
                for opt in opts {
                    match opt {
                        XdpOpt::Section(s) if self.once(&mut seen, "section", s.span) => {
                            attach.section = Some(s.node.clone());
                            section_opt = Some(s.clone());
                        }
                        XdpOpt::Mode(m) if self.once(&mut seen, "mode", m.span) => attach.mode = Some(m.node),
                        _ => {}
                    }
                }
                attach.program = self.bpf_program(&attach.path, path, section_opt.as_ref(), super::bpf::ProgramKind::Xdp);
                if let Some(first) = self.iface_mut(&ns, &iface).xdp.as_ref().map(|x| x.span) {
                    self.report(
                        Diagnostic::error(CONFLICTING_ATTRIBUTE, stmt.span, format!("`{iface}` can hold one XDP program"))
                            .label("a second one")
                            .also(first, "the first one"),
                    );
                    return;
                }
                self.iface_mut(&ns, &iface).xdp = Some(Spanned::new(attach, stmt.span));
            }
            _ => unreachable!("every other statement is handled before attributes"),
        }
    }

    /// Reads the object of a `bpf`/`xdp` statement and finds its program; every problem
    /// is a diagnostic on the path (or on the section name), and gives `None`.
    fn bpf_program(&mut self, full: &Path, path: &Spanned<String>, section: Option<&Spanned<String>>, want: super::bpf::ProgramKind) -> Option<BpfProgram> {
        use super::bpf::ObjectError as E;
        let bytes = match self.loader.read_bytes(full) {
            Ok(bytes) => bytes,
            Err(e) => {
                let help = match e.kind() {
                    std::io::ErrorKind::NotFound => format!(
                        "paths are relative to the script's directory; compile the program first, e.g. `clang -O2 -g -target bpf -c {} -o {}`",
                        Path::new(&path.node).with_extension("c").display(),
                        path.node
                    ),
                    _ => crate::bounded::refusal_help(&e).unwrap_or_else(|| "check the file's permissions".to_string()),
                };
                self.report(
                    Diagnostic::error(BPF_OBJECT_UNREADABLE, path.span, format!("cannot read the eBPF object `{}`: {e}", path.node))
                        .label("this object file")
                        .help(help),
                );
                return None;
            }
        };
        let listing = |l: &[super::bpf::Listed]| {
            if l.is_empty() {
                "the object holds no program".to_string()
            } else {
                format!("the object holds: {}", l.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", "))
            }
        };
        let at_section = section.map(|s| s.span).unwrap_or(path.span);
        let d = match super::bpf::find(&bytes, section.map(|s| s.node.as_str()), want) {
            Ok(program) => return Some(program),
            Err(E::Invalid(why)) => Diagnostic::error(BPF_INVALID_OBJECT, path.span, format!("`{}` is not an eBPF object netscript can load: {why}", path.node))
                .label("this file")
                .help("compile the program with `clang -O2 -g -target bpf -c prog.c -o prog.o`"),
            Err(E::NoSuchSection { wanted, available }) => {
                let names: Vec<&str> = available.iter().flat_map(|l| [l.section.as_str(), l.function.as_str()]).collect();
                let mut help = listing(&available);
                if let Some(dym) = crate::diagnostic::did_you_mean(&wanted, names) {
                    help = format!("{dym} {help}");
                }
                Diagnostic::error(BPF_NO_SUCH_SECTION, at_section, format!("`{}` has no section or program `{wanted}`", path.node))
                    .label("no such section")
                    .help(help)
            }
            Err(E::WrongType { found, wanted }) => {
                let statement = match wanted {
                    super::bpf::ProgramKind::Classifier => "`bpf ingress|egress` needs a tc classifier: SEC(\"classifier\"); an XDP program goes in an `xdp` statement",
                    super::bpf::ProgramKind::Xdp => "`xdp` needs an XDP program: SEC(\"xdp\"); a tc classifier goes in a `bpf ingress|egress` statement",
                };
                Diagnostic::error(BPF_WRONG_PROGRAM_TYPE, at_section, format!("{found} is not {} program", match wanted { super::bpf::ProgramKind::Xdp => "an XDP", super::bpf::ProgramKind::Classifier => "a tc classifier" }))
                    .label(format!("{} {} program", if found.kind.starts_with('X') { "an" } else { "a" }, found.kind))
                    .help(statement)
            }
            Err(E::SeveralInSection { section: name, functions }) => Diagnostic::error(
                BPF_AMBIGUOUS_PROGRAM,
                at_section,
                format!("section `{name}` of `{}` holds {} programs", path.node, functions.len()),
            )
            .label("which one?")
            .help(format!("name the function instead: {}", functions.iter().map(|f| format!("`section {f}`")).collect::<Vec<_>>().join(" or "))),
            Err(E::NoProgram { wanted, available }) => Diagnostic::error(BPF_WRONG_PROGRAM_TYPE, path.span, format!("`{}` holds no {} program", path.node, wanted.word()))
                .label("in this object")
                .help(listing(&available)),
            Err(E::Ambiguous { candidates }) => Diagnostic::error(
                BPF_AMBIGUOUS_PROGRAM,
                path.span,
                format!("`{}` holds {} {} programs", path.node, candidates.len(), want.word()),
            )
            .label("which one?")
            .help(format!("add `section NAME`; {}", listing(&candidates))),
        };
        self.report(d);
        None
    }

    fn set_root_qdisc(&mut self, ns: &str, iface: &str, qdisc: Spanned<Qdisc>) -> bool {
        let span = qdisc.span;
        let target = &mut self.iface_mut(ns, iface).root_qdisc;
        if let Some(previous) = target {
            let (first, kind) = (previous.span, previous.node.kind());
            self.report(
                Diagnostic::error(CONFLICTING_QDISC, span, format!("`{iface}` already has a root qdisc ({kind})"))
                    .label("a second root qdisc")
                    .also(first, "the first one")
                    .help("an interface has one root qdisc: keep one of `shape`, `htb` and `netem`"),
            );
            return false;
        }
        *target = Some(qdisc);
        true
    }

    fn shape(&mut self, ns: &str, iface: &str, stmt: &Stmt, ingress: bool, rate: &ast::RateValue, opts: &[ShapeOpt]) {
        let Some(rate) = self.ok(v::rate(&self.env, rate)) else { return };
        if rate.node.0 < 8 {
            self.report(
                Diagnostic::error(OUT_OF_RANGE, rate.span, format!("a shaping rate must be at least 8bit, not {}", rate.node)).label("too slow to shape"),
            );
            return;
        }
        let mut seen = Seen::default();
        let mut burst = None;
        let mut latency = None;
        for opt in opts {
            match opt {
                ShapeOpt::Burst(b) if self.once(&mut seen, "burst", b.span) => burst = self.ok(v::size(&self.env, &b.node)),
                ShapeOpt::Latency(l) if self.once(&mut seen, "latency", l.span) => latency = self.ok(v::duration(&self.env, &l.node)),
                _ => {}
            }
        }
        if let Some(b) = &burst
            && (b.node.0 == 0 || b.node.0 >= 1 << 32)
        {
            self.report(v::out_of_range(b.span, "a burst", b.node, "1b", "4gb (exclusive)"));
            return;
        }
        let tbf = Tbf {
            rate: rate.node,
            burst: burst.map(|b| b.node).unwrap_or_else(|| shape_default_burst(rate.node)),
            latency: latency.map(|l| l.node).unwrap_or(SHAPE_DEFAULT_LATENCY),
        };
        if ingress {
            let target = &mut self.iface_mut(ns, iface).ingress_shape;
            if let Some(first) = target.as_ref().map(|t| t.span) {
                self.report(
                    Diagnostic::error(CONFLICTING_QDISC, stmt.span, format!("`{iface}` is already shaped on ingress"))
                        .label("a second ingress shaper")
                        .also(first, "the first one"),
                );
                return;
            }
            *target = Some(Spanned::new(tbf, stmt.span));
        } else {
            self.set_root_qdisc(ns, iface, Spanned::new(Qdisc::Tbf(tbf), stmt.span));
        }
    }

    fn netem(&mut self, ns: &str, iface: &str, stmt: &Stmt, opts: &[NetemOpt]) {
        let mut seen = Seen::default();
        let mut netem = Netem { delay: crate::units::Duration(0), jitter: None, loss: None, rate: None };
        for opt in opts {
            match opt {
                NetemOpt::Delay(d) if self.once(&mut seen, "delay", d.span) => {
                    if let Some(d) = self.ok(v::duration(&self.env, &d.node)) {
                        netem.delay = d.node;
                    }
                }
                NetemOpt::Jitter(j) if self.once(&mut seen, "jitter", j.span) => netem.jitter = self.ok(v::duration(&self.env, &j.node)).map(|j| j.node),
                NetemOpt::Loss(l) if self.once(&mut seen, "loss", l.span) => {
                    if let Some(p) = self.ok(v::percent(&self.env, &l.node)) {
                        if !(0.0..=100.0).contains(&p.node.0) {
                            self.report(v::out_of_range(p.span, "a loss percentage", p.node, "0%", "100%"));
                        } else {
                            netem.loss = Some(p.node);
                        }
                    }
                }
                NetemOpt::Rate(r) if self.once(&mut seen, "rate", r.span) => netem.rate = self.ok(v::rate(&self.env, &r.node)).map(|r| r.node),
                _ => {}
            }
        }
        self.set_root_qdisc(ns, iface, Spanned::new(Qdisc::Netem(netem), stmt.span));
    }

    fn htb_mut(&mut self, ns: &str, iface: &str) -> &mut Htb {
        match self.iface_mut(ns, iface).root_qdisc.as_mut().map(|q| &mut q.node) {
            Some(Qdisc::Htb(h)) => h,
            _ => unreachable!("an htb block is only entered after its qdisc is set"),
        }
    }

    fn class(&mut self, ns: &str, iface: &str, parent: Option<u32>, span: Span, id: &ast::ClassId, opts: &[ClassOpt]) -> Option<u32> {
        let minor = self.ok(v::class_minor(&self.env, id))?;
        let mut seen = Seen::default();
        let (mut rate, mut ceil, mut prio) = (None, None, None);
        for opt in opts {
            match opt {
                ClassOpt::Rate(r) if self.once(&mut seen, "rate", r.span) => rate = self.ok(v::rate(&self.env, &r.node)),
                ClassOpt::Ceil(c) if self.once(&mut seen, "ceil", c.span) => ceil = self.ok(v::rate(&self.env, &c.node)),
                ClassOpt::Prio(p) if self.once(&mut seen, "prio", p.span) => {
                    prio = self.ok(v::int_in(&self.env, &p.node, "an htb class priority", 0, 7)).map(|s| s.map(|p| p as u32));
                }
                _ => {}
            }
        }
        let Some(rate) = rate else {
            if !seen.0.contains_key("rate") {
                self.report(
                    Diagnostic::error(MISSING_OPTION, id.span, format!("class {} needs a `rate`", id_text(minor.node)))
                        .label("no rate given")
                        .help("e.g. `class 10 rate 8mbit ceil 10mbit`"),
                );
            }
            return None;
        };
        if let Some(c) = &ceil
            && c.node < rate.node
        {
            self.report(
                Diagnostic::error(OUT_OF_RANGE, c.span, format!("the ceil ({}) is below the rate ({})", c.node, rate.node))
                    .label("ceil must be at least the rate")
                    .also(rate.span, "rate given here"),
            );
            return None;
        }
        let htb = self.htb_mut(ns, iface);
        if let Some(first) = htb.classes.iter().find(|c| c.id.node == minor.node).map(|c| c.id.span) {
            self.report(
                Diagnostic::error(DUPLICATE_CLASS, minor.span, format!("class {} is declared twice", id_text(minor.node)))
                    .label("declared again here")
                    .also(first, "first declared here"),
            );
            return None;
        }
        htb.classes.push(HtbClass { span, id: minor.clone(), parent, rate, ceil, prio });
        Some(minor.node)
    }

    fn filter(&mut self, ns: &str, iface: &str, span: Span, opts: &[FilterOpt], target: &ast::ClassId) {
        let Some(flowid) = self.ok(v::class_minor(&self.env, target)) else { return };
        let mut seen = Seen::default();
        let mut f = U32Filter { span, proto: None, src: None, dst: None, sport: None, dport: None, flowid };
        for opt in opts {
            match opt {
                FilterOpt::Proto(p) if self.once(&mut seen, "proto", p.span) => f.proto = Some(p.node),
                FilterOpt::Src(s) if self.once(&mut seen, "src", s.span) => f.src = self.ok(v::network(&self.env, &s.node)),
                FilterOpt::Dst(d) if self.once(&mut seen, "dst", d.span) => f.dst = self.ok(v::network(&self.env, &d.node)),
                FilterOpt::Sport(p) if self.once(&mut seen, "sport", p.span) => {
                    f.sport = self.ok(v::int_in(&self.env, &p.node, "a port", 1, 65535)).map(|s| s.map(|p| p as u16));
                }
                FilterOpt::Dport(p) if self.once(&mut seen, "dport", p.span) => {
                    f.dport = self.ok(v::int_in(&self.env, &p.node, "a port", 1, 65535)).map(|s| s.map(|p| p as u16));
                }
                _ => {}
            }
        }
        for (prefix, what) in [(&f.src, "src"), (&f.dst, "dst")] {
            if let Some(p) = prefix
                && matches!(p.node, ipnet::IpNet::V6(_))
            {
                self.report(
                    Diagnostic::error(MIXED_FAMILIES, p.span, format!("htb filters match IPv4; `{what}` is an IPv6 prefix"))
                        .label("IPv6 is not matched by these filters"),
                );
                return;
            }
        }
        if (f.sport.is_some() || f.dport.is_some()) && f.proto == Some(IpProto::Icmp) {
            self.report(
                Diagnostic::error(CONFLICTING_ATTRIBUTE, span, "ICMP has no ports")
                    .label("`sport`/`dport` with `proto icmp`")
                    .help("match ports with `proto tcp` or `proto udp`"),
            );
            return;
        }
        self.htb_mut(ns, iface).filters.push(f);
    }

    fn namespace_wide(&mut self, ns: &str, stmt: &Stmt) {
        match &stmt.node {
            StmtKind::Route { dest, opts } => self.route(ns, stmt.span, dest, opts),
            StmtKind::Rule { opts } => self.rule(ns, stmt, opts),
            StmtKind::Forward { on } => {
                let on = on.clone().unwrap_or(Spanned::new(true, stmt.span));
                let namespace = self.desired.namespaces.get_mut(ns).expect("entered");
                match &namespace.forward {
                    Some(previous) if previous.node != on.node => {
                        let first = previous.span;
                        self.report(
                            Diagnostic::error(CONFLICTING_ATTRIBUTE, on.span, format!("forwarding in `{ns}` is set both on and off"))
                                .label("conflicts with the earlier one")
                                .also(first, "first set here"),
                        );
                    }
                    Some(_) => {}
                    None => namespace.forward = Some(on),
                }
            }
            StmtKind::Sysctl { key, value } => {
                let Some(key) = self.ok(v::template(&self.env, key)) else { return };
                if let Err(d) = names::sysctl_key(&key) {
                    self.report(d);
                    return;
                }
                let namespace = self.desired.namespaces.get_mut(ns).expect("entered");
                match namespace.sysctls.get(&key.node) {
                    Some(previous) if previous.node != value.node => {
                        let first = previous.span;
                        self.report(
                            Diagnostic::error(CONFLICTING_ATTRIBUTE, value.span, format!("`{}` is set to two different values", key.node))
                                .label("conflicts with the earlier one")
                                .also(first, "first set here"),
                        );
                    }
                    Some(_) => {}
                    None => {
                        namespace.sysctls.insert(key.node, value.clone());
                    }
                }
            }
            _ => unreachable!("not namespace-wide"),
        }
    }

    fn table_ref(&mut self, ns: &str, r: &Spanned<TableRef>, target: TableTarget) -> Option<Spanned<Table>> {
        match &r.node {
            TableRef::Number(n) => {
                let id = self.ok(v::int_in(&self.env, n, "a table number", 1, u32::MAX as i64))?;
                Some(Spanned::new(Table { id: id.node as u32, name: None }, r.span))
            }
            TableRef::Name(name) => {
                if let Some(id) = builtin_table(&name.node) {
                    return Some(Spanned::new(Table { id, name: Some(name.node.clone()) }, r.span));
                }
                // Named tables may be defined anywhere at top level: resolved after evaluation.
                self.pending_tables.push(PendingTable { ns: ns.to_string(), target, name: name.clone() });
                Some(Spanned::new(Table { id: 0, name: Some(name.node.clone()) }, r.span))
            }
        }
    }

    fn route(&mut self, ns: &str, span: Span, dest: &ast::RouteDest, opts: &[RouteOpt]) {
        let dest = match dest {
            ast::RouteDest::Default(s) => Spanned::new(RouteDest::Default, *s),
            ast::RouteDest::Ip(ip) => match self.ok(v::network(&self.env, ip)) {
                Some(p) => p.map(RouteDest::Prefix),
                None => return,
            },
        };
        let index = self.desired.namespaces[ns].routes.len();
        let mut route = Route { span, dest, via: None, dev: None, src: None, metric: None, table: None };
        let mut seen = Seen::default();
        for opt in opts {
            match opt {
                RouteOpt::Via(x) if self.once(&mut seen, "via", x.span) => route.via = self.ok(v::address(&self.env, &x.node)),
                RouteOpt::Dev(x) if self.once(&mut seen, "dev", x.span) => route.dev = self.ok(v::template(&self.env, &x.node)),
                RouteOpt::Src(x) if self.once(&mut seen, "src", x.span) => route.src = self.ok(v::address(&self.env, &x.node)),
                RouteOpt::Metric(x) if self.once(&mut seen, "metric", x.span) => {
                    route.metric = self.ok(v::int_in(&self.env, &x.node, "a metric", 0, u32::MAX as i64)).map(|s| s.map(|m| m as u32));
                }
                RouteOpt::Table(x) if self.once(&mut seen, "table", x.span) => route.table = self.table_ref(ns, x, TableTarget::Route(index)),
                _ => {}
            }
        }
        if !seen.0.contains_key("via") && !seen.0.contains_key("dev") {
            self.report(
                Diagnostic::error(MISSING_OPTION, span, "a route needs a gateway (`via`) or a device (`dev`)")
                    .label("where should packets go?")
                    .help("e.g. `route default via 192.168.1.1` or `route 10.1.0.0/16 dev eth0`"),
            );
            return;
        }
        if route.via.is_none() && route.dev.is_none() {
            return; // already reported: the `via` or `dev` given did not evaluate
        }
        self.desired.namespaces.get_mut(ns).expect("entered").routes.push(route);
    }

    fn rule(&mut self, ns: &str, stmt: &Stmt, opts: &[RuleOpt]) {
        let index = self.desired.namespaces[ns].rules.len();
        let mut seen = Seen::default();
        let (mut from, mut to, mut iif, mut oif, mut fwmark, mut uidrange, mut priority, mut table) = (None, None, None, None, None, None, None, None);
        for opt in opts {
            match opt {
                RuleOpt::From(x) if self.once(&mut seen, "from", x.span) => from = self.ok(v::network(&self.env, &x.node)),
                RuleOpt::To(x) if self.once(&mut seen, "to", x.span) => to = self.ok(v::network(&self.env, &x.node)),
                RuleOpt::Iif(x) if self.once(&mut seen, "iif", x.span) => iif = self.ok(v::template(&self.env, &x.node)),
                RuleOpt::Oif(x) if self.once(&mut seen, "oif", x.span) => oif = self.ok(v::template(&self.env, &x.node)),
                RuleOpt::Fwmark(x) if self.once(&mut seen, "fwmark", x.span) => {
                    let (mark, mask) = &x.node;
                    let mark = self.ok(v::int_in(&self.env, mark, "a fwmark", 0, u32::MAX as i64));
                    let mask = mask.as_ref().map(|m| self.ok(v::int_in(&self.env, m, "a fwmark mask", 0, u32::MAX as i64)));
                    if let (Some(mark), Some(mask)) = (mark, mask.unwrap_or(Some(Spanned::new(-1, x.span)))) {
                        let mask = (mask.node >= 0).then_some(mask.node as u32);
                        fwmark = Some(Spanned::new((mark.node as u32, mask), x.span));
                    }
                }
                RuleOpt::Uidrange(x) if self.once(&mut seen, "uidrange", x.span) => {
                    let (a, b) = &x.node;
                    let a = self.ok(v::int_in(&self.env, a, "a uid", 0, u32::MAX as i64));
                    let b = self.ok(v::int_in(&self.env, b, "a uid", 0, u32::MAX as i64));
                    if let (Some(a), Some(b)) = (a, b) {
                        if a.node > b.node {
                            self.report(
                                Diagnostic::error(OUT_OF_RANGE, x.span, format!("the uid range {}-{} is reversed", a.node, b.node))
                                    .label("the first uid must not exceed the second")
                                    .help(format!("write `uidrange {}-{}`", b.node, a.node)),
                            );
                        } else {
                            uidrange = Some(Spanned::new((a.node as u32, b.node as u32), x.span));
                        }
                    }
                }
                RuleOpt::Priority(x) if self.once(&mut seen, "priority", x.span) => {
                    priority = self.ok(v::int_in(&self.env, &x.node, "a rule priority", 0, u32::MAX as i64)).map(|s| s.map(|p| p as u32));
                }
                RuleOpt::Table(x) if self.once(&mut seen, "table", x.span) => table = self.table_ref(ns, x, TableTarget::Rule(index)),
                _ => {}
            }
        }
        let Some(table) = table else {
            if !seen.0.contains_key("table") {
                self.report(
                    Diagnostic::error(MISSING_OPTION, keyword_span(stmt), "a rule needs a table to look up")
                        .label("no `table` or `lookup` given")
                        .help("e.g. `rule from 10.0.0.100 table 100`"),
                );
            }
            return;
        };
        if let (Some(f), Some(t)) = (&from, &to)
            && f.node.addr().is_ipv4() != t.node.addr().is_ipv4()
        {
            self.report(
                Diagnostic::error(MIXED_FAMILIES, t.span, "a rule matches one address family; `from` and `to` differ")
                    .label(format!("this is IPv{}", if t.node.addr().is_ipv4() { 4 } else { 6 }))
                    .also(f.span, format!("this is IPv{}", if f.node.addr().is_ipv4() { 4 } else { 6 })),
            );
            return;
        }
        let rule = Rule { span: stmt.span, from, to, iif, oif, fwmark, uidrange, priority, table };
        self.desired.namespaces.get_mut(ns).expect("entered").rules.push(rule);
    }
}

#[derive(Default)]
struct Seen(HashMap<&'static str, Span>);

fn interface_block(kind: &StmtKind) -> Option<&ast::Block> {
    match kind {
        StmtKind::Veth { body, .. }
        | StmtKind::Bridge { body, .. }
        | StmtKind::Macvlan { body, .. }
        | StmtKind::Vxlan { body, .. }
        | StmtKind::Link { body, .. } => body.as_ref(),
        _ => None,
    }
}

pub fn builtin_table(name: &str) -> Option<u32> {
    match name {
        "main" => Some(TABLE_MAIN),
        "local" => Some(TABLE_LOCAL),
        "default" => Some(TABLE_DEFAULT),
        _ => None,
    }
}

/// The span of a statement's leading keyword.
pub fn keyword_span(stmt: &Stmt) -> Span {
    let len = stmt.node.keyword().len() as u32;
    Span { end: (stmt.span.start + len).min(stmt.span.end), ..stmt.span }
}

fn id_text(minor: u32) -> String {
    format!("1:{minor:x}")
}

fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Statements a block would generate, counting loops whose bounds are known now; used to
/// refuse an oversized loop before running it.
fn static_cost(stmts: &[Stmt], env: &Env) -> u64 {
    let mut total: u64 = 0;
    for stmt in stmts {
        let nested = match &stmt.node {
            StmtKind::For { from, to, inclusive, body, .. } => {
                let iterations = match (v::int(env, from), v::int(env, to)) {
                    (Ok(a), Ok(b)) => {
                        let end = if *inclusive { b.saturating_add(1) } else { b };
                        (end as i128 - a as i128).max(0) as u64
                    }
                    _ => 1,
                };
                iterations.saturating_mul(static_cost(&body.node, env).max(1))
            }
            StmtKind::Netns { body: Some(b), .. } | StmtKind::Host { body: b } => static_cost(&b.node, env),
            kind => interface_block(kind)
                .map(|b| static_cost(&b.node, env))
                .or(match kind {
                    StmtKind::Htb { body: Some(b), .. } | StmtKind::Class { body: Some(b), .. } => Some(static_cost(&b.node, env)),
                    _ => None,
                })
                .unwrap_or(0),
        };
        total = total.saturating_add(1).saturating_add(nested);
    }
    total
}
