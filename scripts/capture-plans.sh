#!/usr/bin/env bash
# Makes tests/plan_corpus/ anew: runs kernel test binaries with NETSCRIPT_CAPTURE_PLANS
# (src/run/capture.rs), so that every plan they make writes what it was made from, and
# keeps each distinct capture as <binary>-<n>.json.gz; then writes the plans' golden
# files (tests/plan_corpus.rs) and checks that planning again reads the same. Needs
# root, as the kernel tests do.
#
#   scripts/capture-plans.sh [BINARY...]   those binaries (default: the list below,
#                                          chosen for what their plans meet: records,
#                                          refusals, edits, rollbacks)
#   scripts/capture-plans.sh --lane        the full-kernel lane's binaries, under qemu
#                                          (netem, vlan, vrf, ...: scripts/full-kernel.sh),
#                                          kept as lane_<binary>-<n>.json.gz
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=tests/plan_corpus
raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT
mkdir -p "$corpus"

# keep NAME DIR: DIR's captures, each distinct one once, as NAME-<n>.json.gz
keep() {
  local name=$1 dir=$2 n=0 f sum
  rm -f "$corpus/$name"-*.json.gz "$corpus/plans/$name"-*.snap
  declare -A seen=()
  for f in $(ls "$dir" | sort -t- -k1,1n -k2,2n); do
    sum=$(sha256sum <"$dir/$f" | cut -c1-16)
    [ -z "${seen[$sum]:-}" ] || continue
    seen[$sum]=1
    gzip -9nc "$dir/$f" >"$corpus/$(printf '%s-%04d.json.gz' "$name" "$n")"
    n=$((n + 1))
  done
  echo "capture: $name: $n states"
}

if [ "${1:-}" = --lane ]; then
  NETSCRIPT_CAPTURE_PLANS="$raw" scripts/full-kernel.sh >"$raw.log" 2>&1 || { tail -20 "$raw.log"; echo "capture: the lane failed ($raw.log)"; exit 1; }
  for dir in "$raw"/*/; do
    keep "lane_$(basename "$dir")" "$dir"
  done
else
  binaries=("$@")
  if [ ${#binaries[@]} = 0 ]; then
    binaries=(ownership run_kernel rollback_visible link_remake tc_reconcile tc_state route_attributes route_multipath routing_selectors firewall_live expect_kernel down_parallel tc_ingress_tables tc_ingress_ht bpf_kernel address_peer convergence
      tc_traffic tc_ingress_u32 tc_filter_places tc_framing tc_hook_qdisc tc_options tc_breadth netem_options bpf_inline bpf_filter_places firewall_kernel confirm crash_safety)
  fi
  for b in "${binaries[@]}"; do
    mkdir -p "$raw/$b"
    echo "capture: $b"
    NETSCRIPT_CAPTURE_PLANS="$raw/$b" cargo test -q --test "$b" >/dev/null 2>&1 || { echo "capture: $b failed; run it alone"; exit 1; }
    keep "$b" "$raw/$b"
  done
fi
INSTA_UPDATE=always cargo test -q --test plan_corpus >/dev/null 2>&1 || true
INSTA_UPDATE=no cargo test -q --test plan_corpus
