#!/usr/bin/env node
// Tokenize netscript files with the TextMate grammar, as VS Code does.
//   node test/tokens.js FILE...            print every token with its scopes
//   node test/tokens.js --no-invalid FILE... fail if any token gets an `invalid` scope
'use strict';
const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')).buffer;
const onigLib = oniguruma.loadWASM(wasm).then(() => ({
  createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
  createOnigString: (s) => new oniguruma.OnigString(s),
}));
const grammarPath = path.join(__dirname, '..', 'syntaxes', 'netscript.tmLanguage.json');
const registry = new vsctm.Registry({
  onigLib,
  loadGrammar: async () => vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath),
});

(async () => {
  const args = process.argv.slice(2);
  const noInvalid = args[0] === '--no-invalid';
  const files = noInvalid ? args.slice(1) : args;
  const grammar = await registry.loadGrammar('source.netscript');
  let bad = 0;
  for (const file of files) {
    let state = vsctm.INITIAL;
    fs.readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      const r = grammar.tokenizeLine(line, state);
      for (const t of r.tokens) {
        const text = line.slice(t.startIndex, t.endIndex);
        const scopes = t.scopes.slice(1).join(' ');
        if (noInvalid) {
          if (/(^|\s)invalid\./.test(scopes)) {
            console.error(`${file}:${i + 1}:${t.startIndex + 1}: ${JSON.stringify(text)} is ${scopes}`);
            bad++;
          }
        } else if (text.trim()) {
          console.log(`${i + 1}:${t.startIndex + 1}\t${JSON.stringify(text)}\t${scopes}`);
        }
      }
      state = r.ruleStack;
    });
  }
  if (bad) {
    console.error(`${bad} token(s) scoped invalid`);
    process.exit(1);
  }
})().catch((e) => { console.error(e); process.exit(2); });
