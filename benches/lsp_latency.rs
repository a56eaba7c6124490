//! The language server's answer to an edit: `textDocument/didChange` of a 10,000-line
//! document → its `publishDiagnostics`, measured in process (the server's own work: check,
//! plan, index; JSON encoding included, stdio excluded). Prints figures; asserts nothing
//! about time. Goal (issue 18): ≤ 50 ms.
//!
//!     cargo bench --bench lsp_latency
//!
//! The document is flat namespaces of 10 lines each (a veth with addresses, an MTU, a
//! bridge, a route, a rule, an htb tree); each edit changes one address, alternately
//! into a typo (an error with a "did you mean") and back.

use lsp_server::Notification;
use serde_json::json;
use std::fmt::Write as _;
use std::time::Instant;

fn document(lines: usize) -> String {
    let mut out = String::from("table t100 = 100\n");
    let mut k = 0;
    while out.lines().count() < lines {
        let (a, b) = (k / 256 % 256, k % 256);
        let _ = write!(
            out,
            "netns f{k} <\n  veth v0 <-> p{k}.v1 < addr 10.{a}.{b}.1/24; mtu 1500 >\n  bridge br0\n  link v0 < master br0 >\n  route 10.200.0.0/16 via 10.{a}.{b}.2\n  rule from 10.{a}.{b}.0/24 table t100\n  link br0\n    htb default 10 < class 10 rate 10mbit; filter proto tcp dport 22 -> 10 >\n  forward\n>\n"
        );
        k += 1;
    }
    out
}

fn main() {
    // `cargo test --benches` runs this too: then a small document, figures meaningless.
    let lines = if std::env::args().any(|a| a == "--bench") { 10_000 } else { 500 };
    let text = document(lines);
    let uri = "file:///nonexistent/bench.ns";
    let mut server = netscript::lsp::Server::default();
    let t = Instant::now();
    let out = server.notification(Notification::new(
        "textDocument/didOpen".into(),
        json!({ "textDocument": { "uri": uri, "languageId": "netscript", "version": 1, "text": text } }),
    ));
    let open = t.elapsed();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].params["diagnostics"], json!([]), "the document must check");
    let mut times = Vec::new();
    for i in 0..20 {
        let edited = if i % 2 == 0 { text.replacen("rule from 10.0.0.0/24 table t100", "rule from 10.0.0.0/24 table t10", 1) } else { text.clone() };
        let t = Instant::now();
        let out = server.notification(Notification::new(
            "textDocument/didChange".into(),
            json!({ "textDocument": { "uri": uri, "version": i + 2 }, "contentChanges": [{ "text": edited }] }),
        ));
        let _ = serde_json::to_string(&out[0].params).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        let errors = out[0].params["diagnostics"].as_array().unwrap().len();
        assert_eq!(errors > 0, i % 2 == 0, "edit {i}: {errors} diagnostics");
    }
    times.sort_by(f64::total_cmp);
    println!(
        "lsp: didChange → publishDiagnostics on {} lines ({} bytes): median {:.1} ms, max {:.1} ms over {} edits (open {:.1} ms); goal ≤ 50 ms",
        text.lines().count(),
        text.len(),
        times[times.len() / 2],
        times[times.len() - 1],
        times.len(),
        open.as_secs_f64() * 1e3
    );
}
