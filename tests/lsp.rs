//! `netscript lsp` in process, over an in-memory connection: the handshake, diagnostics
//! on open (with their code and help), hover with the plan's explicit defaults, and a
//! clean shutdown. The end-to-end tests with real clients (pytest-lsp, Neovim) are in
//! editors/lsp, run by editors/test.sh.

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{json, Value};
use std::time::Duration;

fn recv(client: &Connection) -> Message {
    client.receiver.recv_timeout(Duration::from_secs(20)).expect("the server answers")
}

fn request(client: &Connection, id: i32, method: &str, params: Value) -> Value {
    client.sender.send(Message::Request(Request::new(RequestId::from(id), method.into(), params))).unwrap();
    loop {
        if let Message::Response(r) = recv(client) {
            assert_eq!(r.id, RequestId::from(id));
            return r.response_result.expect("a result, not an error");
        }
    }
}

#[test]
fn diagnostics_hover_and_shutdown_in_memory() {
    let (server, client) = Connection::memory();
    let thread = std::thread::spawn(move || netscript::lsp::serve(&server));
    let init = request(&client, 1, "initialize", json!({ "capabilities": {} }));
    assert_eq!(init["capabilities"]["hoverProvider"], json!(true));
    assert_eq!(init["capabilities"]["textDocumentSync"], json!(1));
    client.sender.send(Message::Notification(Notification::new("initialized".into(), json!({})))).unwrap();

    let uri = "file:///nonexistent/netscript-lsp-test.ns";
    let text = "table wan = 100\nnetns a < veth v0 <-> b.v1; shape 1mbit; rule from 10.0.0.1 table wna >\n";
    let open = json!({ "textDocument": { "uri": uri, "languageId": "netscript", "version": 1, "text": text } });
    client.sender.send(Message::Notification(Notification::new("textDocument/didOpen".into(), open))).unwrap();
    let Message::Notification(published) = recv(&client) else { panic!("expected diagnostics") };
    assert_eq!(published.method, "textDocument/publishDiagnostics");
    let diagnostics = published.params["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0]["code"], json!("netscript::check::unknown_table"));
    let at = text.lines().nth(1).unwrap().find("wna").unwrap();
    assert_eq!(diagnostics[0]["range"], json!({ "start": { "line": 1, "character": at }, "end": { "line": 1, "character": at + 3 } }));
    assert!(diagnostics[0]["message"].as_str().unwrap().contains("help: did you mean `wan`?"));

    // Fixed: no diagnostics, and the shaper's hover shows tbf's defaults.
    let fixed = text.replace("wna", "wan");
    let change = json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": fixed }] });
    client.sender.send(Message::Notification(Notification::new("textDocument/didChange".into(), change))).unwrap();
    let Message::Notification(published) = recv(&client) else { panic!("expected diagnostics") };
    assert_eq!(published.params["diagnostics"], json!([]));
    let column = fixed.lines().nth(1).unwrap().find("shape").unwrap();
    let hover = request(&client, 2, "textDocument/hover", json!({ "textDocument": { "uri": uri }, "position": { "line": 1, "character": column } }));
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("tbf rate 1mbit burst 10kb latency 70ms"), "{value}");

    request(&client, 3, "shutdown", Value::Null);
    client.sender.send(Message::Notification(Notification::new("exit".into(), Value::Null))).unwrap();
    assert_eq!(thread.join().unwrap(), Ok(()));
}
