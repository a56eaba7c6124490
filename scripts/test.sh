#!/usr/bin/env bash
# Runs every test of netscript. Installs what the tests need on a fresh Debian machine
# first (scripts/lib/apt.sh: it waits for another apt to finish), and says how long the
# installs and each part of the tests took.
# Kernel tests need root (they run in their own network and mount namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/apt.sh
start=$SECONDS

# ------------------------------------------------------------------ installs
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v unshare >/dev/null || need+=(util-linux)
command -v nsenter >/dev/null || need+=(util-linux)
command -v strace >/dev/null || need+=(strace)   # tests/journal_cuts.rs: the journal's fsyncs
command -v clang >/dev/null || need+=(clang llvm)
command -v nft >/dev/null || need+=(nftables)
[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
# the manual page is rendered, and the completion scripts parsed, by tests/cli_docs.rs
command -v groff >/dev/null || need+=(groff-base)
command -v zsh >/dev/null || need+=(zsh)
command -v fish >/dev/null || need+=(fish)
# tests/show.rs draws the topology with Graphviz
command -v dot >/dev/null || need+=(graphviz)
# tests/cni_chained.rs: the reference CNI plugins, Go and libcni's sources (its driver
# is built offline from them)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v go >/dev/null || need+=(golang-go)
[ -d /usr/share/gocode/src/github.com/containernetworking/cni/libcni ] || need+=(golang-github-appc-cni-dev)
if [ ${#need[@]} -gt 0 ]; then
  apt_install "${need[@]}"
fi
# what the editor suites need (vim, neovim, emacs, node; an npm package)
if [ -x editors/test.sh ]; then
  editors/test.sh --install-only
fi
# iproute2 6.15 (bookworm-backports, extracted into a cache, not installed): the oracle
# for rule selectors bookworm's `ip` cannot show (scripts/iproute2-new.sh)
scripts/iproute2-new.sh >/dev/null
# the full-kernel lane's qemu, busybox and Debian kernel (scripts/full-kernel.sh; 77: it
# cannot run on this machine, and its step below says why)
full_kernel=0
scripts/full-kernel.sh --prepare || full_kernel=$?
[ "$full_kernel" = 0 ] || [ "$full_kernel" = 77 ] || exit "$full_kernel"
installs=$((SECONDS - start))
[ "$installs" = 0 ] || echo "installs: ${installs}s"

# ------------------------------------------------------------------ tests
tests_start=$SECONDS
# step NAME CMD...: runs a part of the tests, its output into the log that the closing
# line counts, then says its time
log=$(mktemp)
trap 'rm -f "$log"' EXIT
step() {
  local name=$1 t=$SECONDS status=0
  shift
  "$@" 2>&1 | tee -a "$log" || status=$?
  echo "time: ${name} $((SECONDS - t))s"
  return $status
}

export CARGO_TERM_COLOR=never
# In CI the property tests draw the same cases every run, so that a run's result does not
# depend on luck; elsewhere they draw new ones each time (that is how they find bugs).
if [ -n "${CI:-}" ]; then
  export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261126}"
fi
# The example eBPF programs, next to their sources (examples/bpf/*.ns name them); the
# tests compile their own copies.
examples/bpf/build.sh
# --workspace: netscript and editors/tree-sitter-netscript (the tree-sitter grammar's tests)
t=$SECONDS
cargo build --quiet --workspace --all-targets
echo "time: build $((SECONDS - t))s"
step cargo-test cargo test --quiet --workspace
# The chain benchmark's smoke run (N=5, one pair, debug build): it must keep working.
step bench-smoke cargo test --quiet --bench chain
# The firewall benchmark's smoke run (50 rules against nft -f, debug build).
step bench-smoke-firewall cargo test --quiet --bench firewall
# The CNI benchmark's smoke run (10 pods: parallel and sequential ADDs and DELs).
step bench-smoke-cni cargo test --quiet --bench cni
# The eBPF rule compiler against clang -O2 (test runs, repeat 1000): both load and agree.
step bench-smoke-bpf cargo test --quiet --bench bpf_compile
# XDP against nftables dropping a UDP flood (0.2 s each): both drop what was sent.
step bench-smoke-xdp-flood cargo test --quiet --bench xdp_flood
editor_suites=0
if [ -x editors/test.sh ]; then
  # the tree-sitter grammar's tests ran in `cargo test --workspace` above: not again
  step editors env NETSCRIPT_TREE_SITTER_TESTED="cargo test --workspace" editors/test.sh
  editor_suites=$(grep -c '^ok ' "$log" || true)
fi
# The full-kernel lane (docs/TESTING.md): the tests of tests/full-kernel/lane.txt on
# Debian's kernel under qemu, for what this machine's kernel lacks (netem...). Exit 77:
# qemu cannot run here; the step prints `full-kernel: skipped: <reason>`.
full_kernel=0
step full-kernel scripts/full-kernel.sh || full_kernel=$?
[ "$full_kernel" = 0 ] || [ "$full_kernel" = 77 ] || exit "$full_kernel"
echo "time: tests $((SECONDS - tests_start))s, installs ${installs}s, in all $((SECONDS - start))s"
# One closing line that counts everything (cargo's own last line is its doc-test run).
passed=$(grep -o '[0-9]* passed' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -o '[0-9]* failed' "$log" | awk '{s+=$1} END {print s+0}')
echo "tests: $((passed + editor_suites)) passed, $failed failed"
