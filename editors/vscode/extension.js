// The netscript language client: starts `netscript lsp` (diagnostics, hover, completion,
// go to definition, references, outline, rename, formatting) for .ns files.
// Setting `netscript.server.path`: the netscript binary (default: `netscript` on PATH).
const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration('netscript').get('server.path') || 'netscript';
  const server = { command, args: ['lsp'], transport: TransportKind.stdio };
  client = new LanguageClient('netscript', 'netscript', { run: server, debug: server }, {
    documentSelector: [{ scheme: 'file', language: 'netscript' }, { scheme: 'untitled', language: 'netscript' }],
  });
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
