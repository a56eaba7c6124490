//! Completion by context: which block the cursor is in (top level, a namespace body, an
//! interface block, an htb block, a firewall's rules) and what precedes it in the
//! statement decide between keywords, option words, namespaces, interfaces of the
//! namespace being edited, tables, classes, variables and file paths.

use super::analysis::Analysis;
use super::index::Symbol;
use crate::fmt::lex::{self, Kind};
use lsp_types::{CompletionItem, CompletionItemKind};
use std::path::Path;

const TOP: &[&str] = &["netns", "host", "table", "let", "for", "include", "expect"];
const INTERFACES: &[&str] = &["veth", "bridge", "dummy", "vrf", "macvlan", "ipvlan", "ipip", "gre", "vlan", "vxlan", "link"];
const ATTRIBUTES: &[&str] = &["addr", "up", "down", "mtu", "mac", "master", "shape", "htb", "netem", "qdisc", "bpf", "xdp"];
const NAMESPACE_WIDE: &[&str] = &["route", "rule", "forward", "sysctl", "firewall", "let", "for"];
const HTB: &[&str] = &["class", "filter"];
const FW_ACTIONS: &[&str] = &["accept", "drop", "reject", "mark", "classify", "masquerade", "snat", "dnat"];

/// The words that may follow a statement's keyword.
fn options(keyword: &str) -> &'static [&'static str] {
    match keyword {
        "macvlan" => &["on", "mode", "bridge", "private", "vepa", "passthru"],
        "vxlan" => &["id", "remote", "group", "local", "dev", "port"],
        "vlan" => &["on", "id", "protocol", "802.1Q", "802.1ad"],
        "ipvlan" => &["on", "mode", "l2", "l3", "l3s", "bridge", "private", "vepa"],
        "ipip" => &["local", "remote", "ttl"],
        "gre" => &["local", "remote", "ttl", "key"],
        "shape" => &["ingress", "burst", "latency", "limit", "peakrate", "mtu", "overhead", "mpu", "linklayer", "ethernet", "atm"],
        "htb" => &["default", "r2q", "direct_qlen"],
        "class" => &["rate", "ceil", "prio", "burst", "cburst", "quantum", "mtu", "overhead", "mpu", "linklayer", "ethernet", "atm"],
        "filter" => &["proto", "tcp", "udp", "icmp", "src", "dst", "sport", "dport", "prio", "handle", "link", "hashkey", "mask", "at", "ht", "sample", "match", "u32", "u16", "u8"],
        "netem" => &["delay", "jitter", "loss", "rate", "limit", "duplicate", "corrupt", "reorder", "gap", "slot", "packets", "bytes", "state", "gemodel", "distribution", "normal", "pareto", "paretonormal"],
        "qdisc" => &["ingress", "clsact"],
        "vrf" => &["table"],
        "bpf" => &["ingress", "egress", "section"],
        "xdp" => &["section", "mode", "generic", "native"],
        "route" => &["default", "via", "dev", "src", "metric", "table"],
        "rule" => &["from", "to", "iif", "oif", "fwmark", "uidrange", "priority", "table", "lookup", "ipproto", "sport", "dport", "tos", "dsfield", "dscp", "flowlabel"],
        "forward" => &["on", "off"],
        "expect" => &["reach", "noreach", "port", "within"],
        "firewall" => &["input", "forward", "output", "prerouting", "postrouting", "policy", "accept", "drop"],
        "for" => &["in"],
        _ => &[],
    }
}

const FW_MATCHES: &[&str] = &["proto", "tcp", "udp", "icmp", "icmpv6", "src", "dst", "sport", "dport", "iif", "oif", "mark", "ct", "new", "established", "related", "invalid", "counter", "to"];

/// What the text before the cursor says about where it is.
struct Context {
    /// The keywords of the statements whose blocks hold the cursor, outermost first.
    blocks: Vec<String>,
    /// The namespace being edited and its current interface.
    ns: Option<String>,
    iface: Option<String>,
    /// The statement's tokens before the word under the cursor.
    before: Vec<Kind>,
    in_braces: bool,
}

fn context(text: &str) -> Context {
    let tokens = lex::tokens(text);
    let mut cx = Context { blocks: Vec::new(), ns: None, iface: None, before: Vec::new(), in_braces: false };
    let mut saved: Vec<(Option<String>, Option<String>)> = Vec::new();
    let mut stmt: Vec<Kind> = Vec::new();
    // The word being typed is not part of the context.
    let typing = !text.ends_with(|c: char| c.is_whitespace() || "<>;".contains(c));
    let count = if typing && matches!(tokens.last().map(|t| &t.kind), Some(Kind::Word(_) | Kind::Str(_))) { tokens.len() - 1 } else { tokens.len() };
    for token in &tokens[..count] {
        match &token.kind {
            Kind::Newline | Kind::Semi => stmt.clear(),
            Kind::Comment(_) => {}
            Kind::Open => {
                let word = |i: usize| match stmt.get(i) {
                    Some(Kind::Word(w)) => Some(w.clone()),
                    _ => None,
                };
                let keyword = word(0).unwrap_or_default();
                saved.push((cx.ns.clone(), cx.iface.clone()));
                match keyword.as_str() {
                    "netns" => (cx.ns, cx.iface) = (word(1), None),
                    "host" => (cx.ns, cx.iface) = (Some("host".into()), None),
                    k if INTERFACES.contains(&k) => cx.iface = word(1),
                    _ => {}
                }
                cx.blocks.push(keyword);
                stmt.clear();
            }
            Kind::Close => {
                cx.blocks.pop();
                if let Some((ns, iface)) = saved.pop() {
                    (cx.ns, cx.iface) = (ns, iface);
                }
                stmt.clear();
            }
            kind => {
                stmt.push(kind.clone());
                if let (Some(Kind::Word(k)), Some(Kind::Word(name))) = (stmt.first(), stmt.get(1))
                    && stmt.len() == 2
                    && INTERFACES.contains(&k.as_str())
                {
                    cx.iface = Some(name.clone());
                }
            }
        }
    }
    if let Some(Kind::Word(w)) = tokens.last().map(|t| &t.kind)
        && typing
    {
        cx.in_braces = w.rfind('{') > w.rfind('}');
    }
    cx.before = stmt;
    cx
}

fn items(words: impl IntoIterator<Item = String>, kind: CompletionItemKind, detail: &str) -> Vec<CompletionItem> {
    words.into_iter().map(|label| CompletionItem { label, kind: Some(kind), detail: Some(detail.to_string()), ..Default::default() }).collect()
}

fn keywords(words: &[&str]) -> Vec<CompletionItem> {
    let mut out = items(words.iter().map(|w| w.to_string()), CompletionItemKind::KEYWORD, "keyword");
    for item in &mut out {
        item.documentation = super::hover::keyword_doc(&item.label).map(|d| lsp_types::Documentation::String(d.to_string()));
    }
    out
}

pub fn complete(analysis: &Analysis, text_before: &str, dir: Option<&Path>) -> Vec<CompletionItem> {
    let cx = context(text_before);
    let index = analysis.index();
    let variables = || items(index.names(|s| if let Symbol::Variable(v) = s { Some(v.clone()) } else { None }), CompletionItemKind::VARIABLE, "variable");
    if cx.in_braces {
        return variables();
    }
    let namespaces = || {
        let mut names = index.names(|s| if let Symbol::Namespace(n) = s { Some(n.clone()) } else { None });
        names.retain(|n| n != "host");
        items(names, CompletionItemKind::MODULE, "namespace")
    };
    let ns = cx.ns.clone().unwrap_or_default();
    let interfaces = || items(index.names(|s| if let Symbol::Interface(n, i) = s { (n == &ns).then(|| i.clone()) } else { None }), CompletionItemKind::INTERFACE, "interface");
    let block = cx.blocks.iter().rev().find(|b| b.as_str() != "for").map(String::as_str);
    let keyword = match cx.before.first() {
        Some(Kind::Word(w)) => w.as_str(),
        None => {
            let words: Vec<&str> = match block {
                None => TOP.to_vec(),
                Some("netns" | "host") => [INTERFACES, ATTRIBUTES, NAMESPACE_WIDE].concat(),
                Some(k) if INTERFACES.contains(&k) => [ATTRIBUTES, NAMESPACE_WIDE].concat(),
                Some("htb" | "class") => HTB.to_vec(),
                Some("firewall") => FW_ACTIONS.to_vec(),
                Some(_) => Vec::new(),
            };
            return keywords(&words);
        }
        _ => "",
    };
    let previous = cx.before.last();
    match previous {
        Some(Kind::Word(p)) => match p.as_str() {
            "netns" | "expect" if cx.before.len() == 1 => return namespaces(),
            "dev" | "iif" | "oif" | "master" | "on" => return interfaces(),
            "link" if cx.before.len() == 1 => return interfaces(),
            "table" | "lookup" if keyword != "table" => {
                let mut names = vec!["main".to_string(), "local".to_string(), "default".to_string()];
                names.extend(index.names(|s| if let Symbol::Table(t) = s { Some(t.clone()) } else { None }));
                return items(names, CompletionItemKind::CONSTANT, "routing table");
            }
            "classify" | "default" if keyword == "htb" || keyword == "classify" || block == Some("firewall") => return classes(analysis, &cx),
            "include" => return files(dir, "ns"),
            "ingress" | "egress" if keyword == "bpf" => return files(dir, "o"),
            "xdp" if cx.before.len() == 1 => return files(dir, "o"),
            _ => {}
        },
        Some(Kind::Arrow) => return classes(analysis, &cx),
        Some(Kind::Pair) => {
            let names = index.names(|s| if let Symbol::Interface(n, i) = s { Some(format!("{n}.{i}")) } else { None });
            return [namespaces(), items(names, CompletionItemKind::INTERFACE, "interface")].concat();
        }
        _ => {}
    }
    if block == Some("firewall") {
        return keywords(FW_MATCHES);
    }
    keywords(options(keyword))
}

fn classes(analysis: &Analysis, cx: &Context) -> Vec<CompletionItem> {
    let (ns, iface) = (cx.ns.clone().unwrap_or_default(), cx.iface.clone());
    let names = analysis.index().names(|s| match s {
        Symbol::Class(n, i, id) if n == &ns && iface.as_ref().is_none_or(|f| f == i) => Some(id.clone()),
        _ => None,
    });
    items(names, CompletionItemKind::ENUM_MEMBER, "htb class")
}

/// Files with this extension in the document's directory, as string literals.
fn files(dir: Option<&Path>, extension: &str) -> Vec<CompletionItem> {
    let Some(Ok(entries)) = dir.map(std::fs::read_dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| Path::new(n).extension().is_some_and(|e| e == extension))
        .map(|n| format!("\"{n}\""))
        .collect();
    names.sort();
    items(names, CompletionItemKind::FILE, "file")
}
