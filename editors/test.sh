#!/usr/bin/env bash
# Tests the netscript editor support in editors/: VS Code (TextMate grammar), Vim,
# Neovim, Emacs, tree-sitter, the language server with two clients and Zed's extension,
# plus the keyword check against grammar/netscript.pest.
#
#   editors/test.sh                  (from anywhere; root or sudo needed only to install)
#   editors/test.sh --install-only   installs what the suites need, runs nothing
#
# On a fresh Debian machine it installs what it needs, once: vim, neovim, emacs-nox,
# nodejs, npm, gcc (apt, through scripts/lib/apt.sh: it waits for another apt to finish);
# vscode-tmgrammar-test (npm ci, into editors/vscode/node_modules). Re-runs reuse all of
# it. The tree-sitter grammar is tested through the tree-sitter crate
# (`cargo test -p tree-sitter-netscript`, needs cargo); tree-sitter-cli
# $TS_CLI_VERSION is used only where it is installed already, to check that the committed
# src/ is what grammar.js generates (a maintainer's step: editors/README.md).
# NETSCRIPT_EXAMPLES_DIR overrides where the example scripts are (default: examples/).
# NETSCRIPT_TREE_SITTER_TESTED (set by scripts/test.sh, which runs those tests itself
# with `cargo test --workspace`) skips the tree-sitter suite.
# Quiet on success (one line per suite, with its time); prints the failing suite's log
# and exits non-zero on any failure.
set -euo pipefail

TS_CLI_VERSION=0.27.1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
# shellcheck source=../scripts/lib/apt.sh
source "$root/scripts/lib/apt.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$SECONDS
failed=0

# run NAME CMD...: run a suite quietly, show its log if it fails
run() {
  local name=$1; shift
  local log="$work/$name.log" t=$SECONDS status
  # a subshell with errexit of its own: inside `if`, bash would ignore it
  set +e
  ( set -e; "$@" ) >"$log" 2>&1
  status=$?
  set -e
  if [ $status = 0 ]; then
    printf 'ok    %-12s %3ss\n' "$name" $((SECONDS - t))
  else
    printf 'FAIL  %-12s %3ss\n' "$name" $((SECONDS - t))
    sed 's/^/      /' "$log"
    failed=1
  fi
}

# ------------------------------------------------------------------ installs
missing=()
vim --version 2>/dev/null | grep -q '+syntax' || missing+=(vim)
command -v nvim >/dev/null || missing+=(neovim)
command -v emacs >/dev/null || missing+=(emacs-nox)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v cc >/dev/null || missing+=(gcc)
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi

if [ ! -x "$here/vscode/node_modules/.bin/vscode-tmgrammar-test" ]; then
  echo "installing vscode-tmgrammar-test (npm ci)"
  t=$SECONDS
  (cd "$here/vscode" && npm ci --no-audit --no-fund --loglevel=error) >"$work/npm.log" 2>&1 \
    || { cat "$work/npm.log"; exit 1; }
  echo "installed vscode-tmgrammar-test in $((SECONDS - t))s"
fi

# pytest-lsp, pinned in editors/lsp/requirements.txt, into a venv of its own
lsp_venv="$here/lsp/.venv"
if ! cmp -s "$here/lsp/requirements.txt" "$lsp_venv/requirements.txt" 2>/dev/null; then
  echo "installing pytest-lsp (pip, into editors/lsp/.venv)"
  t=$SECONDS
  { rm -rf "$lsp_venv" && python3 -m venv "$lsp_venv" \
      && "$lsp_venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/lsp/requirements.txt" \
      && cp "$here/lsp/requirements.txt" "$lsp_venv/requirements.txt"; } >"$work/pip.log" 2>&1 \
    || { cat "$work/pip.log"; exit 1; }
  echo "installed pytest-lsp in $((SECONDS - t))s"
fi

[ "${1:-}" != --install-only ] || exit 0

export PATH="$HOME/.cargo/bin:$PATH"

# the example scripts of the project, if there are any yet
shopt -s nullglob
examples=("${NETSCRIPT_EXAMPLES_DIR:-$root/examples}"/*.ns)
shopt -u nullglob
samples=("$here/test/sample.ns" "$here/test/indent.ns")

# ------------------------------------------------------------------ suites
keywords() {
  # tests/editors_keywords.rs on its own (no crate to build): every keyword of
  # grammar/netscript.pest is in every editor grammar
  command -v rustc >/dev/null || { echo "rustc is needed"; return 1; }
  CARGO_MANIFEST_DIR=$root rustc --edition 2021 --test -o "$work/editors_keywords" \
    "$root/tests/editors_keywords.rs"
  "$work/editors_keywords" --quiet
}

vscode() {
  cd "$here/vscode"
  node_modules/.bin/vscode-tmgrammar-test -g syntaxes/netscript.tmLanguage.json 'test/**/*.test.ns'
  # the samples and every example: no `invalid` scope, no text left unscoped
  node test/tokens.js --no-invalid "${samples[@]}" ${examples[@]+"${examples[@]}"}
  # the language client (it runs inside VS Code only: here, that it is valid JavaScript)
  node --check extension.js
}

vim_() {
  cd "$here"
  vim -Nu NONE -es -S vim/test/run.vim </dev/null
}

neovim() {
  cd "$here"
  nvim --headless --clean -S vim/test/run.vim </dev/null
}

emacs_() {
  cd "$here"
  cp emacs/netscript-mode.el "$work/"
  emacs --batch -Q --eval '(setq byte-compile-error-on-warn t)' \
    -f batch-byte-compile "$work/netscript-mode.el"
  emacs --batch -Q -L emacs -l emacs/test/netscript-mode-tests.el -f ert-run-tests-batch-and-exit
}

# the language server's binary: $NETSCRIPT_BIN, else a debug build
lsp_binary() {
  if [ -z "${NETSCRIPT_BIN:-}" ]; then
    (cd "$root" && cargo build --quiet --bin netscript)
    export NETSCRIPT_BIN="$root/target/debug/netscript"
  fi
}

lsp() {
  # every request of `netscript lsp` against golden answers (editors/lsp/golden), with
  # pytest-lsp as the client over stdio
  lsp_binary
  cd "$here/lsp"
  "$lsp_venv/bin/python" -m pytest -q -p no:cacheprovider test_lsp.py
}

nvim_lsp() {
  # Neovim's own LSP client (vim.lsp.start_client) on a file with an error: the
  # diagnostic arrives with its code; hover and go-to-definition answer
  lsp_binary
  cd "$root"
  nvim --headless --clean -c "luafile editors/lsp/nvim_test.lua" </dev/null
  # the snippet editors/README.md gives users: a .ns file gets the server's diagnostics
  PATH="$(dirname "$NETSCRIPT_BIN"):$PATH" nvim --headless --clean \
    -c "luafile editors/nvim/netscript-lsp.lua" -c "edit editors/lsp/fixtures/broken.ns" \
    -c "lua if not vim.wait(10000, function() return #vim.diagnostic.get(0) > 0 end, 20) then vim.cmd('cquit 1') end" \
    -c "qall!" </dev/null
}

zed() {
  # the extension's WebAssembly part, built as Zed builds it when it installs the
  # extension (wasm32-wasip2): it compiles against the pinned zed_extension_api, and the
  # manifest gives the server to the language that languages/netscript declares
  command -v rustup >/dev/null || { echo "rustup is needed (the wasm32-wasip2 target)"; return 1; }
  rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
  cd "$here/zed"
  cargo build --quiet --locked --release --target wasm32-wasip2 --target-dir "$root/target/zed"
  [ -s "$root/target/zed/wasm32-wasip2/release/zed_netscript.wasm" ] || { echo "no zed_netscript.wasm built"; return 1; }
  language=$(sed -n 's/^name = "\(.*\)"$/\1/p' languages/netscript/config.toml)
  grep -q "^languages = \[\"$language\"\]" extension.toml \
    || { echo "extension.toml's language server is not for the language \"$language\""; return 1; }
}

treesitter() {
  # the committed parser through the tree-sitter crate: corpus, highlight assertions,
  # queries, Helix's highlights, samples and examples (tree-sitter-netscript/tests/grammar.rs)
  command -v cargo >/dev/null || { echo "cargo is needed"; return 1; }
  cd "$root"
  cargo test --quiet -p tree-sitter-netscript --test grammar
}

treesitter_cli() {
  # the committed src/ is what grammar.js generates; then the CLI's own test run
  # work on a copy, so that the tree is left as it is
  mkdir -p "$work/ts/config"
  cp -r "$here/tree-sitter-netscript" "$work/ts/"
  export TREE_SITTER_DIR="$work/ts/config" TREE_SITTER_LIBDIR="$work/ts/lib"
  printf '{"parser-directories": ["%s"]}\n' "$work/ts" >"$TREE_SITTER_DIR/config.json"
  cd "$work/ts/tree-sitter-netscript"
  rm -rf src
  tree-sitter generate
  for f in parser.c grammar.json node-types.json; do
    cmp -s "src/$f" "$here/tree-sitter-netscript/src/$f" \
      || { echo "src/$f is stale: run tree-sitter generate in editors/tree-sitter-netscript"; return 1; }
  done
  tree-sitter test
}

run keywords keywords
run vscode vscode
run vim vim_
run neovim neovim
run emacs emacs_
run lsp lsp
run nvim-lsp nvim_lsp
run zed zed
if [ -n "${NETSCRIPT_TREE_SITTER_TESTED:-}" ]; then
  # scripts/test.sh has run the same tests already (cargo test --workspace)
  printf 'skip  %-12s its tests ran above, in %s\n' tree-sitter "$NETSCRIPT_TREE_SITTER_TESTED"
else
  run tree-sitter treesitter
fi
if tree-sitter --version 2>/dev/null | grep -q "tree-sitter $TS_CLI_VERSION\b"; then
  run ts-generate treesitter_cli
else
  printf 'skip  %-12s no tree-sitter-cli %s here: whether src/ is what grammar.js generates is not checked (editors/README.md)\n' \
    ts-generate "$TS_CLI_VERSION"
fi
[ ${#examples[@]} -gt 0 ] || echo "note: no examples/*.ns to check"

if [ $failed = 0 ]; then
  echo "editors: all tests passed ($((SECONDS - start))s)"
else
  echo "editors: FAILED"
  exit 1
fi
