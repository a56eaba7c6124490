#!/usr/bin/env bash
# Makes tests/plan_corpus/ anew: runs kernel test binaries with NETSCRIPT_CAPTURE_PLANS
# (src/run/capture.rs), so that every plan they make writes what it was made from, and
# keeps each distinct capture as <binary>-<n>.json.gz; then writes the plans' golden files
# (tests/plan_corpus.rs) and checks that a second planning reads the same. Needs root, as
# the kernel tests do. Usage: scripts/capture-plans.sh [BINARY...] (default: the list
# below, chosen for what their plans meet: records, refusals, edits, rollbacks).
set -euo pipefail
cd "$(dirname "$0")/.."
binaries=("$@")
if [ ${#binaries[@]} = 0 ]; then
  binaries=(ownership run_kernel rollback_visible link_remake tc_reconcile tc_state route_attributes route_multipath routing_selectors firewall_live expect_kernel down_parallel tc_ingress_tables tc_ingress_ht bpf_kernel address_peer convergence
    tc_traffic tc_ingress_u32 tc_filter_places tc_framing tc_hook_qdisc tc_options tc_breadth netem_options bpf_inline bpf_filter_places firewall_kernel confirm crash_safety)
fi
corpus=tests/plan_corpus
raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT
for b in "${binaries[@]}"; do
  mkdir -p "$raw/$b"
  echo "capture: $b"
  NETSCRIPT_CAPTURE_PLANS="$raw/$b" cargo test -q --test "$b" >/dev/null 2>&1 || { echo "capture: $b failed; run it alone"; exit 1; }
  rm -f "$corpus/$b"-*.json.gz "$corpus/plans/$b"-*.snap
  n=0
  declare -A seen=()
  for f in $(ls "$raw/$b" | sort -t- -k1,1n -k2,2n); do
    sum=$(sha256sum < "$raw/$b/$f" | cut -c1-16)
    [ -z "${seen[$sum]:-}" ] || continue
    seen[$sum]=1
    mkdir -p "$corpus"
    gzip -9nc "$raw/$b/$f" > "$corpus/$(printf '%s-%04d.json.gz' "$b" "$n")"
    n=$((n + 1))
  done
  unset seen
  echo "capture: $b: $n states"
done
INSTA_UPDATE=always cargo test -q --test plan_corpus >/dev/null 2>&1 || true
INSTA_UPDATE=no cargo test -q --test plan_corpus
