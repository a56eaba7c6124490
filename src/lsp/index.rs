//! Where each namespace, interface, routing table, htb class and variable is declared
//! and used, read from the AST of every file of a check (the document and its includes).
//!
//! Names are keyed as written: `r{i}` is one symbol wherever `r{i}` is written (a loop's
//! names are not evaluated here); `NS.NAME` is a use of namespace NS and of interface NAME
//! in it. Variables are found in `let`/`for`/`table` expressions and in every `{...}`.

use crate::ast::{self, ClassId, FwMatch, Name, RouteOpt, RuleOpt, Stmt, StmtKind, TableRef, VxlanOpt};
use crate::source::{FileId, SourceMap, Span};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Symbol {
    Namespace(String),
    /// Namespace, interface.
    Interface(String, String),
    Table(String),
    /// Namespace, interface, class minor (hex, as written, lower case).
    Class(String, String, String),
    Variable(String),
}

impl Symbol {
    pub fn describe(&self) -> String {
        match self {
            Symbol::Namespace(ns) => format!("namespace `{ns}`"),
            Symbol::Interface(ns, name) => format!("interface `{name}` of namespace `{ns}`"),
            Symbol::Table(t) => format!("routing table `{t}`"),
            Symbol::Class(ns, iface, id) => format!("htb class `1:{id}` on `{ns}.{iface}`"),
            Symbol::Variable(v) => format!("variable `{v}`"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Occurrence {
    pub symbol: Symbol,
    pub span: Span,
    /// A declaration (as opposed to a use).
    pub declaration: bool,
    /// The statement it is in (for outlines).
    pub stmt: Span,
}

#[derive(Debug, Default)]
pub struct Index {
    pub occurrences: Vec<Occurrence>,
}

impl Index {
    /// Indexes every file of `sources`; also gives back the AST of `main`.
    pub fn build(sources: &SourceMap, main: FileId) -> (Index, Option<ast::Script>) {
        let mut index = Index::default();
        let mut main_script = None;
        for (file, source) in sources.files() {
            let (Some(script), _) = crate::syntax::parse_recovering(file, &source.text) else { continue };
            let mut walker = Walker { sources, out: &mut index.occurrences, ns: None, iface: None };
            walker.stmts(&script.stmts);
            walker.braces(file, &source.text);
            if file == main {
                main_script = Some(script);
            }
        }
        (index, main_script)
    }

    /// The occurrence whose span holds `offset` in `file` (the narrowest).
    pub fn at(&self, file: FileId, offset: u32) -> Option<&Occurrence> {
        self.occurrences.iter().filter(|o| o.span.file == file && o.span.start <= offset && offset <= o.span.end).min_by_key(|o| o.span.len())
    }

    pub fn of<'a>(&'a self, symbol: &'a Symbol) -> impl Iterator<Item = &'a Occurrence> + 'a {
        self.occurrences.iter().filter(move |o| &o.symbol == symbol)
    }

    /// Its declarations; for what nothing declares (a namespace only named as a veth's
    /// peer, an interface only configured by `link`), its first occurrence.
    pub fn definitions<'a>(&'a self, symbol: &'a Symbol) -> Vec<&'a Occurrence> {
        let declared: Vec<&Occurrence> = self.of(symbol).filter(|o| o.declaration).collect();
        if declared.is_empty() { self.of(symbol).take(1).collect() } else { declared }
    }

    /// Every distinct symbol of a kind, sorted, e.g. for completion.
    pub fn names(&self, pick: impl Fn(&Symbol) -> Option<String>) -> Vec<String> {
        let mut names: Vec<String> = self.occurrences.iter().filter_map(|o| pick(&o.symbol)).collect();
        names.sort();
        names.dedup();
        names
    }
}

struct Walker<'a> {
    sources: &'a SourceMap,
    out: &'a mut Vec<Occurrence>,
    ns: Option<String>,
    iface: Option<String>,
}

impl Walker<'_> {
    fn text(&self, span: Span) -> &str {
        self.sources.snippet(span)
    }

    fn push(&mut self, symbol: Symbol, span: Span, declaration: bool, stmt: Span) {
        self.out.push(Occurrence { symbol, span, declaration, stmt });
    }

    fn stmts(&mut self, stmts: &[Stmt]) {
        for stmt in stmts {
            self.stmt(stmt);
        }
    }

    fn block(&mut self, block: &Option<ast::Block>) {
        if let Some(block) = block {
            let saved = self.iface.clone();
            self.stmts(&block.node);
            self.iface = saved;
        }
    }

    /// An interface declared or named in the current namespace; `NS.NAME` in NS.
    fn interface(&mut self, name: &Name, declaration: bool, stmt: Span) -> Option<String> {
        let text = self.text(name.span).to_string();
        match split_dot(&text) {
            Some(dot) => {
                let ns_span = Span::new(name.span.file, name.span.start as usize, name.span.start as usize + dot);
                let if_span = Span::new(name.span.file, name.span.start as usize + dot + 1, name.span.end as usize);
                let (ns, iface) = (text[..dot].to_string(), text[dot + 1..].to_string());
                self.push(Symbol::Namespace(ns.clone()), ns_span, false, stmt);
                self.push(Symbol::Interface(ns, iface), if_span, declaration, stmt);
                None
            }
            None => {
                let ns = self.ns.clone()?;
                self.push(Symbol::Interface(ns, text.clone()), name.span, declaration, stmt);
                Some(text)
            }
        }
    }

    fn class(&mut self, id: &ClassId, declaration: bool, stmt: Span) {
        if let (Some(ns), Some(iface)) = (self.ns.clone(), self.iface.clone()) {
            let minor = match &id.minor {
                ast::ClassMinor::Hex(h) => h.trim_start_matches('0').to_lowercase(),
                ast::ClassMinor::Interp(e) => self.text(e.span).to_string(),
            };
            let minor = if minor.is_empty() { "0".to_string() } else { minor };
            self.push(Symbol::Class(ns, iface, minor), id.span, declaration, stmt);
        }
    }

    fn table(&mut self, table: &TableRef, stmt: Span) {
        if let TableRef::Name(name) = table {
            self.push(Symbol::Table(name.node.clone()), name.span, false, stmt);
        }
    }

    fn expr(&mut self, expr: &ast::Expr) {
        match &expr.node {
            ast::ExprKind::Var(v) => self.out.push(Occurrence { symbol: Symbol::Variable(v.clone()), span: expr.span, declaration: false, stmt: expr.span }),
            ast::ExprKind::Neg(e) => self.expr(e),
            ast::ExprKind::Binary(a, _, b) => {
                self.expr(a);
                self.expr(b);
            }
            ast::ExprKind::Int(_) => {}
        }
    }

    fn stmt(&mut self, stmt: &Stmt) {
        let s = stmt.span;
        match &stmt.node {
            StmtKind::Netns { name, body } => {
                let ns = self.text(name.span).to_string();
                self.push(Symbol::Namespace(ns.clone()), name.span, true, s);
                self.in_namespace(ns, body);
            }
            StmtKind::Host { body } => self.in_namespace(crate::model::HOST.to_string(), &Some(body.clone())),
            StmtKind::Table { name, number } => {
                self.push(Symbol::Table(name.node.clone()), name.span, true, s);
                self.expr(number);
            }
            StmtKind::Let { name, value } => {
                self.push(Symbol::Variable(name.node.clone()), name.span, true, s);
                if let ast::LetValue::Expr(e) = value {
                    self.expr(e);
                }
            }
            StmtKind::For { var, from, to, body, .. } => {
                self.expr(from);
                self.expr(to);
                self.push(Symbol::Variable(var.node.clone()), var.span, true, s);
                let saved = self.iface.clone();
                self.stmts(&body.node);
                self.iface = saved;
            }
            StmtKind::Expect { ns, .. } => {
                let ns_text = self.text(ns.span).to_string();
                self.push(Symbol::Namespace(ns_text), ns.span, false, s);
            }
            StmtKind::Veth { name, peer, body } => {
                self.iface = self.interface(name, true, s);
                self.interface(peer, true, s);
                self.block(body);
            }
            StmtKind::Bridge { name, body } | StmtKind::Dummy { name, body } | StmtKind::Vrf { name, body, .. } | StmtKind::Tunnel { name, body, .. } => {
                self.iface = self.interface(name, true, s);
                self.block(body);
            }
            StmtKind::Macvlan { name, parent, body, .. } | StmtKind::Vlan { name, parent, body, .. } | StmtKind::Ipvlan { name, parent, body, .. } => {
                self.interface(parent, false, s);
                self.iface = self.interface(name, true, s);
                self.block(body);
            }
            StmtKind::Vxlan { name, opts, body } => {
                for opt in opts {
                    if let VxlanOpt::Dev(dev) = opt {
                        self.interface(&dev.node, false, s);
                    }
                }
                self.iface = self.interface(name, true, s);
                self.block(body);
            }
            StmtKind::Link { name, body } => {
                self.iface = self.interface(name, false, s);
                self.block(body);
            }
            StmtKind::Master { bridge } => {
                self.interface(bridge, false, s);
            }
            StmtKind::Htb { default, body, .. } => {
                if let Some(id) = default {
                    self.class(id, false, s);
                }
                self.block(body);
            }
            StmtKind::Class { id, body, .. } => {
                self.class(id, true, s);
                self.block(body);
            }
            // An ingress qdisc's filters name no htb class (their flowid is a mark).
            StmtKind::Qdisc { body: Some(b), .. } => {
                for stmt in &b.node {
                    if !matches!(stmt.node, StmtKind::Filter { .. }) {
                        self.stmt(stmt);
                    }
                }
            }
            StmtKind::Filter { target: Some(target), .. } => self.class(target, false, s),
            StmtKind::Route { opts, .. } => {
                for opt in opts {
                    match opt {
                        RouteOpt::Dev(dev) => {
                            self.interface(&dev.node, false, s);
                        }
                        RouteOpt::Table(t) => self.table(&t.node, s),
                        _ => {}
                    }
                }
            }
            StmtKind::Rule { opts } => {
                for opt in opts {
                    match opt {
                        RuleOpt::Iif(n) | RuleOpt::Oif(n) => {
                            self.interface(&n.node, false, s);
                        }
                        RuleOpt::Table(t) => self.table(&t.node, s),
                        _ => {}
                    }
                }
            }
            StmtKind::Firewall(fw) => {
                for rule in &fw.rules {
                    if let ast::FwActionAst::Classify(id) = &rule.action.node {
                        // The class of the outgoing interface: `oif` names it.
                        let oif = rule.matches.iter().find_map(|m| match m {
                            FwMatch::Oif(n) => Some(self.text(n.span).to_string()),
                            _ => None,
                        });
                        let current = oif.or(self.iface.clone());
                        let saved = std::mem::replace(&mut self.iface, current);
                        self.class(id, false, rule.span);
                        self.iface = saved;
                    }
                    for m in &rule.matches {
                        if let FwMatch::Iif(n) | FwMatch::Oif(n) = m {
                            self.interface(&n.node, false, rule.span);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn in_namespace(&mut self, ns: String, body: &Option<ast::Block>) {
        let saved = (self.ns.replace(ns), self.iface.take());
        self.block(body);
        (self.ns, self.iface) = saved;
    }

    /// Variables used inside `{...}` interpolations, found in the text (outside comments
    /// and strings).
    fn braces(&mut self, file: FileId, text: &str) {
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut depth = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'#' if depth == 0 => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'"' if depth == 0 => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                }
                b'{' => depth += 1,
                b'}' => depth = 0,
                c if depth > 0 && (c.is_ascii_alphabetic() || c == b'_') => {
                    let start = i;
                    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                        i += 1;
                    }
                    let span = Span::new(file, start, i);
                    self.push(Symbol::Variable(text[start..i].to_string()), span, false, span);
                    continue;
                }
                b'0'..=b'9' if depth > 0 => {
                    // `0x10`: not a variable `x10`.
                    while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                        i += 1;
                    }
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

/// Where `NS.NAME` splits: the first `.` outside `{...}`.
fn split_dot(text: &str) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            '.' if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}
