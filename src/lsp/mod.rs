//! `netscript lsp`: a language server over standard input and output (lsp-server and
//! lsp-types, as rust-analyzer uses). Full-text sync; each change re-checks the document
//! as `netscript check` would (same codes, spans, help, "did you mean"; included files
//! too, read from open documents first) and publishes the diagnostics. Also hover,
//! completion, go-to-definition, references, document symbols, rename and formatting.
//! Editor setup: editors/README.md.

mod analysis;
mod complete;
mod hover;
pub mod index;
pub mod text;

use analysis::Analysis;
use index::Symbol;
use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types::notification::{self as n, Notification as _};
use lsp_types::request::{self as r, Request as _};
use lsp_types::*;
use std::collections::HashMap;
use std::path::PathBuf;
use text::{path_to_uri, uri_to_path, LineIndex};

/// Runs the server on stdio until the client says `exit`. Returns the exit code.
pub fn main() -> i32 {
    let (connection, io) = Connection::stdio();
    let code = match serve(&connection) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("netscript lsp: {e}");
            1
        }
    };
    drop(connection);
    let _ = io.join();
    code
}

pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions { trigger_characters: Some(vec!["{".into(), " ".into()]), ..Default::default() }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        ..Default::default()
    }
}

/// Serves one connection: the initialize handshake, then messages until `exit`.
pub fn serve(connection: &Connection) -> Result<(), String> {
    let caps = serde_json::to_value(capabilities()).expect("capabilities serialize");
    let (id, _params) = connection.initialize_start().map_err(|e| e.to_string())?;
    let result = serde_json::json!({ "capabilities": caps, "serverInfo": { "name": "netscript", "version": env!("CARGO_PKG_VERSION") } });
    connection.initialize_finish(id, result).map_err(|e| e.to_string())?;
    let mut server = Server::default();
    for message in &connection.receiver {
        match message {
            Message::Request(req) => {
                if connection.handle_shutdown(&req).map_err(|e| e.to_string())? {
                    return Ok(());
                }
                let response = server.request(req);
                connection.sender.send(Message::Response(response)).map_err(|e| e.to_string())?;
            }
            Message::Notification(note) => {
                for out in server.notification(note) {
                    connection.sender.send(Message::Notification(out)).map_err(|e| e.to_string())?;
                }
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

struct Document {
    text: String,
    path: Option<PathBuf>,
    analysis: Option<Analysis>,
    /// The last parse of `text`, from which the next edit's parse starts.
    parsed: Option<crate::syntax::incremental::Parsed>,
}

#[derive(Default)]
pub struct Server {
    docs: HashMap<Uri, Document>,
    /// For each document, the included files it published diagnostics to (to clear them).
    published: HashMap<Uri, Vec<Uri>>,
}

fn params<P: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<P, String> {
    serde_json::from_value(value).map_err(|e| format!("invalid params: {e}"))
}

impl Server {
    fn open_texts(&self) -> HashMap<PathBuf, String> {
        self.docs.values().filter_map(|d| Some((d.path.clone()?, d.text.clone()))).collect()
    }

    fn analysis(&mut self, uri: &Uri) -> Option<&Analysis> {
        if self.docs.get(uri)?.analysis.is_none() {
            let open = self.open_texts();
            let doc = self.docs.get_mut(uri)?;
            let name = doc.path.as_ref().map_or_else(|| uri.as_str().to_string(), |p| p.display().to_string());
            // Only the top-level statements an edit touched are parsed again.
            let parsed = crate::syntax::incremental::parse(doc.parsed.take(), crate::source::FileId(0), &doc.text);
            let analysis = match &parsed {
                Ok(p) => Analysis::new(doc.path.as_deref(), &name, &doc.text, &open, (Some(p.script()), p.diagnostics())),
                Err((script, diagnostics)) => Analysis::new(doc.path.as_deref(), &name, &doc.text, &open, (script.as_ref(), diagnostics.clone())),
            };
            doc.parsed = parsed.ok();
            doc.analysis = Some(analysis);
        }
        self.docs.get(uri)?.analysis.as_ref()
    }

    /// Handles a notification; returns what to send (diagnostics).
    pub fn notification(&mut self, note: Notification) -> Vec<Notification> {
        let uri = match note.method.as_str() {
            n::DidOpenTextDocument::METHOD => {
                let Ok(p) = params::<DidOpenTextDocumentParams>(note.params) else { return Vec::new() };
                let path = uri_to_path(&p.text_document.uri);
                self.docs.insert(p.text_document.uri.clone(), Document { text: p.text_document.text, path, analysis: None, parsed: None });
                p.text_document.uri
            }
            n::DidChangeTextDocument::METHOD => {
                let Ok(p) = params::<DidChangeTextDocumentParams>(note.params) else { return Vec::new() };
                let Some(doc) = self.docs.get_mut(&p.text_document.uri) else { return Vec::new() };
                for change in p.content_changes {
                    match change.range {
                        None => doc.text = change.text,
                        Some(range) => {
                            let index = LineIndex::new(&doc.text);
                            let (start, end) = (index.offset(range.start), index.offset(range.end));
                            doc.text.replace_range(start..end.max(start), &change.text);
                        }
                    }
                }
                p.text_document.uri
            }
            n::DidCloseTextDocument::METHOD => {
                let Ok(p) = params::<DidCloseTextDocumentParams>(note.params) else { return Vec::new() };
                self.docs.remove(&p.text_document.uri);
                let mut out = vec![publish(p.text_document.uri.clone(), Vec::new())];
                out.extend(self.published.remove(&p.text_document.uri).unwrap_or_default().into_iter().map(|u| publish(u, Vec::new())));
                return out;
            }
            _ => return Vec::new(),
        };
        // Any document may include another: every analysis is stale.
        for doc in self.docs.values_mut() {
            doc.analysis = None;
        }
        self.diagnostics(&uri)
    }

    /// The diagnostics of a document and of the files it includes, one notification a file.
    pub fn diagnostics(&mut self, uri: &Uri) -> Vec<Notification> {
        let Some(analysis) = self.analysis(uri) else { return Vec::new() };
        // The document first, then its includes in the order they were read.
        let mut by_file: std::collections::BTreeMap<crate::source::FileId, Vec<lsp_types::Diagnostic>> = Default::default();
        by_file.insert(analysis.file, Vec::new());
        // One line index a file, not one a diagnostic.
        let mut lines: HashMap<crate::source::FileId, LineIndex> = HashMap::new();
        for d in &analysis.diagnostics {
            let index = lines.entry(d.span.file).or_insert_with(|| LineIndex::new(&analysis.sources.get(d.span.file).text));
            by_file.entry(d.span.file).or_default().push(to_lsp(analysis, d, uri, index));
        }
        let mut out = Vec::new();
        let mut included = Vec::new();
        for (file, diagnostics) in by_file {
            let target = if file == analysis.file {
                uri.clone()
            } else {
                match analysis.sources.get(file).path.as_deref().and_then(|p| path_to_uri(&std::fs::canonicalize(p).unwrap_or(p.to_path_buf()))) {
                    Some(u) => u,
                    None => continue,
                }
            };
            if target != *uri {
                included.push(target.clone());
            }
            out.push(publish(target, diagnostics));
        }
        let before = self.published.insert(uri.clone(), included.clone()).unwrap_or_default();
        out.extend(before.into_iter().filter(|u| !included.contains(u)).map(|u| publish(u, Vec::new())));
        out
    }

    pub fn request(&mut self, req: Request) -> Response {
        let id = req.id.clone();
        let result = match req.method.as_str() {
            r::HoverRequest::METHOD => params(req.params).map(|p: HoverParams| serde_json::to_value(self.hover(p)).unwrap()),
            r::Completion::METHOD => params(req.params).map(|p: CompletionParams| serde_json::to_value(self.completion(p)).unwrap()),
            r::GotoDefinition::METHOD => params(req.params).map(|p: GotoDefinitionParams| serde_json::to_value(self.definition(p)).unwrap()),
            r::References::METHOD => params(req.params).map(|p: ReferenceParams| serde_json::to_value(self.references(p)).unwrap()),
            r::DocumentSymbolRequest::METHOD => params(req.params).map(|p: DocumentSymbolParams| serde_json::to_value(self.symbols(p)).unwrap()),
            r::Rename::METHOD => params(req.params).and_then(|p: RenameParams| self.rename(p).map(|e| serde_json::to_value(e).unwrap())),
            r::Formatting::METHOD => params(req.params).map(|p: DocumentFormattingParams| serde_json::to_value(self.format(p)).unwrap()),
            other => return Response::new_err(id, lsp_server::ErrorCode::MethodNotFound as i32, format!("unsupported request {other}")),
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(message) => Response::new_err(id, lsp_server::ErrorCode::InvalidParams as i32, message),
        }
    }

    /// The document's analysis and the byte offset of a position in it.
    fn at(&mut self, pos: &TextDocumentPositionParams) -> Option<(&Analysis, u32)> {
        let analysis = self.analysis(&pos.text_document.uri)?;
        let text = &analysis.sources.get(analysis.file).text;
        let offset = LineIndex::new(text).offset(pos.position) as u32;
        Some((analysis, offset))
    }

    fn hover(&mut self, p: HoverParams) -> Option<Hover> {
        let (analysis, offset) = self.at(&p.text_document_position_params)?;
        let (value, span) = match analysis.index().at(analysis.file, offset) {
            Some(o) => (hover::symbol(analysis, o), o.span),
            None => {
                let stmt = analysis.statement_at(offset)?;
                (hover::statement(analysis, offset)?, keyword_span(stmt))
            }
        };
        let text = &analysis.sources.get(analysis.file).text;
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value }),
            range: Some(LineIndex::new(text).range(span.start as usize, span.end as usize)),
        })
    }

    fn completion(&mut self, p: CompletionParams) -> Option<CompletionResponse> {
        let uri = p.text_document_position.text_document.uri.clone();
        let dir = self.docs.get(&uri)?.path.as_ref().and_then(|p| p.parent().map(PathBuf::from));
        let (analysis, offset) = self.at(&p.text_document_position)?;
        let text = &analysis.sources.get(analysis.file).text;
        let items = complete::complete(analysis, &text[..offset as usize], dir.as_deref());
        Some(CompletionResponse::Array(items))
    }

    fn location(analysis: &Analysis, doc: &Uri, span: crate::source::Span) -> Option<Location> {
        let source = analysis.sources.get(span.file);
        let uri = if span.file == analysis.file { doc.clone() } else { path_to_uri(&std::fs::canonicalize(source.path.as_ref()?).ok()?)? };
        Some(Location { uri, range: LineIndex::new(&source.text).range(span.start as usize, span.end as usize) })
    }

    fn definition(&mut self, p: GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
        let uri = p.text_document_position_params.text_document.uri.clone();
        let (analysis, offset) = self.at(&p.text_document_position_params)?;
        let occurrence = analysis.index().at(analysis.file, offset)?;
        let locations: Vec<Location> = analysis.index().definitions(&occurrence.symbol).iter().filter_map(|o| Self::location(analysis, &uri, o.span)).collect();
        Some(GotoDefinitionResponse::Array(locations))
    }

    fn references(&mut self, p: ReferenceParams) -> Option<Vec<Location>> {
        let uri = p.text_document_position.text_document.uri.clone();
        let (analysis, offset) = self.at(&p.text_document_position)?;
        let occurrence = analysis.index().at(analysis.file, offset)?;
        let include_declaration = p.context.include_declaration;
        Some(analysis.index().of(&occurrence.symbol).filter(|o| include_declaration || !o.declaration).filter_map(|o| Self::location(analysis, &uri, o.span)).collect())
    }

    /// Namespaces of the document, each with its interfaces, as an outline.
    #[allow(deprecated)] // DocumentSymbol::deprecated must be written out.
    fn symbols(&mut self, p: DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
        let analysis = self.analysis(&p.text_document.uri)?;
        let text = &analysis.sources.get(analysis.file).text;
        let lines = LineIndex::new(text);
        let range = |s: crate::source::Span| lines.range(s.start as usize, s.end as usize);
        let symbol = |name: String, kind, stmt, at, children| DocumentSymbol {
            name,
            detail: None,
            kind,
            tags: None,
            deprecated: None,
            range: range(stmt),
            selection_range: range(at),
            children,
        };
        let mut namespaces: Vec<(String, DocumentSymbol)> = Vec::new();
        let here: Vec<&index::Occurrence> = analysis.index().occurrences.iter().filter(|o| o.span.file == analysis.file && o.declaration).collect();
        // Declared namespaces in the order of the source, then those only named by a veth's peer.
        for o in &here {
            if let Symbol::Namespace(ns) = &o.symbol
                && !namespaces.iter().any(|(n, _)| n == ns)
            {
                namespaces.push((ns.clone(), symbol(ns.clone(), SymbolKind::NAMESPACE, o.stmt, o.span, Some(Vec::new()))));
            }
        }
        for o in &here {
            if let Symbol::Interface(ns, name) = &o.symbol {
                let index = match namespaces.iter().position(|(n, _)| n == ns) {
                    Some(i) => i,
                    None => {
                        namespaces.push((ns.clone(), symbol(ns.clone(), SymbolKind::NAMESPACE, o.stmt, o.span, Some(Vec::new()))));
                        namespaces.len() - 1
                    }
                };
                let children = namespaces[index].1.children.get_or_insert_with(Vec::new);
                if !children.iter().any(|c| &c.name == name) {
                    children.push(symbol(name.clone(), SymbolKind::INTERFACE, o.stmt, o.span, None));
                }
            }
        }
        Some(DocumentSymbolResponse::Nested(namespaces.into_iter().map(|(_, s)| s).collect()))
    }

    // lsp-types' WorkspaceEdit is keyed by Uri, whose hash does not change.
    #[allow(clippy::mutable_key_type)]
    fn rename(&mut self, p: RenameParams) -> Result<Option<WorkspaceEdit>, String> {
        let uri = p.text_document_position.text_document.uri.clone();
        let new_name = p.new_name;
        let Some((analysis, offset)) = self.at(&p.text_document_position) else { return Ok(None) };
        let Some(occurrence) = analysis.index().at(analysis.file, offset) else { return Err("nothing to rename here".into()) };
        let (old, valid) = match &occurrence.symbol {
            Symbol::Namespace(ns) => (ns, valid_name(&new_name, false) && new_name.len() <= crate::check::MAX_NAMESPACE_NAME),
            Symbol::Interface(_, name) => (name, valid_name(&new_name, true) && new_name.len() <= crate::check::MAX_INTERFACE_NAME),
            _ => return Err("only namespaces and interfaces can be renamed".into()),
        };
        if old.contains('{') || old == crate::model::HOST {
            return Err(format!("`{old}` cannot be renamed (an interpolated or built-in name)"));
        }
        if !valid {
            return Err(format!("`{new_name}` is not a valid name here"));
        }
        let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
        for o in analysis.index().of(&occurrence.symbol) {
            if let Some(location) = Self::location(analysis, &uri, o.span) {
                changes.entry(location.uri).or_default().push(TextEdit { range: location.range, new_text: new_name.clone() });
            }
        }
        Ok(Some(WorkspaceEdit { changes: Some(changes), ..Default::default() }))
    }

    fn format(&mut self, p: DocumentFormattingParams) -> Option<Vec<TextEdit>> {
        let doc = self.docs.get(&p.text_document.uri)?;
        let formatted = crate::fmt::format(crate::source::FileId(0), &doc.text).ok()?;
        if formatted == doc.text {
            return Some(Vec::new());
        }
        let index = LineIndex::new(&doc.text);
        Some(vec![TextEdit { range: index.range(0, doc.text.len()), new_text: formatted }])
    }
}

/// The span of a statement's leading keyword.
fn keyword_span(stmt: &crate::ast::Stmt) -> crate::source::Span {
    let len = stmt.node.keyword().len() as u32;
    crate::source::Span { end: (stmt.span.start + len).min(stmt.span.end), ..stmt.span }
}

/// Namespace names: letters, digits, `_`, `-`, starting with a letter or `_`; interface
/// names may also hold `.`.
fn valid_name(name: &str, interface: bool) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (interface && c == '.'))
}

fn publish(uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>) -> Notification {
    Notification::new(n::PublishDiagnostics::METHOD.to_string(), PublishDiagnosticsParams { uri, diagnostics, version: None })
}

/// A netscript diagnostic as LSP's: the code, the message with its label, help and
/// context (LSP has no field for them), secondary spans as related information.
fn to_lsp(analysis: &Analysis, d: &crate::diagnostic::Diagnostic, doc: &Uri, lines: &LineIndex) -> lsp_types::Diagnostic {
    let range = lines.range(d.span.start as usize, d.span.end as usize);
    let mut message = d.message.clone();
    if !d.label.is_empty() && d.label != d.message {
        message.push_str(&format!(" ({})", d.label));
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    for context in &d.context {
        message.push_str(&format!("\n{context}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .secondary
        .iter()
        .filter_map(|(span, label)| Some(DiagnosticRelatedInformation { location: Server::location(analysis, doc, *span)?, message: label.clone() }))
        .collect();
    lsp_types::Diagnostic {
        range,
        severity: Some(if d.is_error() { DiagnosticSeverity::ERROR } else { DiagnosticSeverity::WARNING }),
        code: Some(NumberOrString::String(d.code.to_string())),
        source: Some("netscript".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..Default::default()
    }
}

