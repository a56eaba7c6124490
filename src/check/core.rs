//! The core of evaluation, shared by every statement family: the evaluator, its
//! environment (let, for, interpolation), includes, nesting and size limits, the
//! dispatch of each statement to its family's file (links, routing, traffic, bpf,
//! expect), and diagnostics collection. Errors are collected, never fatal: a bad
//! statement is reported and skipped.

use super::traffic::FilterPlace;
use super::codes::*;
use super::values::{self as v, Env, Val};
use super::Loader;
use super::links::interface_block;
use super::routing::PendingTable;
use crate::ast::{self, Stmt, StmtKind};
use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::source::{FileId, SourceMap, Span, Spanned};
// FxHash: these maps are keyed by short names and spans, hashed per statement.
use rustc_hash::FxHashMap as HashMap;
use std::path::{Path, PathBuf};

/// The most statements a script may generate (after loops and includes). A loop that
/// would pass it is refused before it runs.
pub const MAX_STATEMENTS: u64 = 1_000_000;

/// Where statements are being evaluated, and what they apply to.
#[derive(Clone)]
pub(super) enum Body {
    Top,
    Namespace { ns: String, current: Option<String> },
    /// The block of an interface declaration.
    Interface { ns: String, iface: String },
    /// An htb block, or a class's block (with that class as parent).
    Htb { ns: String, iface: String, parent: Option<u32> },
    /// The block of `qdisc ingress`: its u32 filters.
    Ingress { ns: String, iface: String },
}

/// How deep blocks and includes may nest during evaluation, all files together.
pub const MAX_EVAL_DEPTH: usize = 64;

pub struct Evaluator<'a> {
    pub sources: &'a mut SourceMap,
    pub(super) loader: &'a dyn Loader,
    pub(super) env: Env,
    pub desired: Desired,
    pub diagnostics: Vec<Diagnostic>,
    pub(super) context: Vec<String>,
    pub(super) include_stack: Vec<(PathBuf, Span)>,
    pub(super) generated: u64,
    pub(super) aborted: bool,
    /// Statement lists being evaluated, one inside the other (blocks and includes).
    pub(super) depth: usize,
    pub pending_tables: Vec<PendingTable>,
    /// Where each interface was declared, for duplicate reports.
    pub(super) declared_at: HashMap<(String, String), Span>,
    /// Repeats of one diagnostic (same code and place), e.g. from loop iterations.
    pub(super) seen: HashMap<(&'static str, Span), usize>,
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
            declared_at: HashMap::default(),
            seen: HashMap::default(),
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

    pub(super) fn ok<T>(&mut self, r: Result<T, Diagnostic>) -> Option<T> {
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

    pub(super) fn stmts(&mut self, stmts: &[Stmt], body: &mut Body) {
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

    pub(super) fn stmts_at_depth(&mut self, stmts: &[Stmt], body: &mut Body) {
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

    pub(super) fn misplaced(&mut self, stmt: &Stmt, body: &Body) {
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
            (_, Body::Ingress { .. }) => (format!("`{kw}` is not allowed in a `qdisc ingress` block"), "a `qdisc ingress` block holds `filter` and `table` statements".to_string()),
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

    pub(super) fn stmt(&mut self, stmt: &Stmt, body: &mut Body) {
        match &stmt.node {
            StmtKind::Let { name, value } => {
                if let Some(val) = self.ok(v::let_value(&self.env, value)) {
                    self.env.set(&name.node, val);
                }
            }
            StmtKind::For { .. } => self.for_loop(stmt, body),
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
            StmtKind::Veth { .. } | StmtKind::Bridge { .. } | StmtKind::Dummy { .. } | StmtKind::Vrf { .. } | StmtKind::Macvlan { .. } | StmtKind::Vlan { .. } | StmtKind::Ipvlan { .. } | StmtKind::Tunnel { .. } | StmtKind::Vxlan { .. } | StmtKind::Link { .. } => {
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
            StmtKind::Filter { opts, target, action } => match body {
                Body::Htb { ns, iface, .. } => {
                    let (ns, iface) = (ns.clone(), iface.clone());
                    self.filter(&ns, &iface, stmt.span, opts, target.as_ref(), action.clone(), FilterPlace::Htb)
                }
                Body::Ingress { ns, iface } => {
                    let (ns, iface) = (ns.clone(), iface.clone());
                    self.filter(&ns, &iface, stmt.span, opts, target.as_ref(), action.clone(), FilterPlace::Ingress)
                }
                _ => self.misplaced(stmt, body),
            },
            StmtKind::U32Table { id, divisor, prio } => match body {
                Body::Ingress { ns, iface } => {
                    let (ns, iface) = (ns.clone(), iface.clone());
                    self.u32_table(&ns, &iface, stmt.span, id, divisor, prio)
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

    pub(super) fn for_loop(&mut self, stmt: &Stmt, body: &mut Body) {
        let StmtKind::For { var, from, to, inclusive, body: block } = &stmt.node else { return };
        let inclusive = *inclusive;
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

    pub(super) fn include(&mut self, path: &Spanned<String>) {
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

    /// Reports a repeated option; true the first time `what` is seen.
    pub(super) fn once(&mut self, seen: &mut Seen, what: &'static str, span: Span) -> bool {
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

    /// Sets an attribute that may be given once per interface (or again with the same value).
    pub(super) fn set_once<T: PartialEq + Clone + std::fmt::Debug>(
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

    /// A statement on the current interface: handed to its family.
    pub(super) fn attribute(&mut self, stmt: &Stmt, body: &mut Body) {
        let Some((ns, iface)) = self.current_interface(stmt, body) else { return };
        match &stmt.node {
            StmtKind::Addr { addrs } => self.addresses(&ns, &iface, addrs),
            StmtKind::Up | StmtKind::Down | StmtKind::Mtu { .. } | StmtKind::Mac { .. } | StmtKind::Master { .. } => self.link_attribute(&ns, &iface, stmt),
            StmtKind::Shape { .. } | StmtKind::Htb { .. } | StmtKind::Netem { .. } | StmtKind::Qdisc { .. } => self.traffic_attribute(&ns, &iface, stmt),
            StmtKind::Bpf { .. } | StmtKind::Xdp { .. } => self.program_attribute(&ns, &iface, stmt),
            StmtKind::BpfRules { .. } | StmtKind::XdpRules { .. } => self.inline_program(&ns, &iface, stmt),
            _ => unreachable!("every other statement is handled before attributes"),
        }
    }
}

#[derive(Default)]
pub(super) struct Seen(pub(super) HashMap<&'static str, Span>);



/// The span of a statement's leading keyword.
pub fn keyword_span(stmt: &Stmt) -> Span {
    let len = stmt.node.keyword().len() as u32;
    Span { end: (stmt.span.start + len).min(stmt.span.end), ..stmt.span }
}


pub(super) fn group_digits(n: u64) -> String {
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
                    StmtKind::Htb { body: Some(b), .. } | StmtKind::Class { body: Some(b), .. } | StmtKind::Qdisc { body: Some(b), .. } => Some(static_cost(&b.node, env)),
                    _ => None,
                })
                .unwrap_or(0),
        };
        total = total.saturating_add(1).saturating_add(nested);
    }
    total
}
