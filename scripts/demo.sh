#!/usr/bin/env bash
# Runs examples/seed.ns for real, inside a throw-away network and mount namespace (so the
# host is never touched): apply, ping across the veth, show, re-run, tear down.
# Needs root (it creates network namespaces).
#
# It builds netscript first with `cargo build`: the debug build, 81 s from nothing on a
# quiet 2-core machine (2.3 CPU-minutes; the release build, fat LTO, took 5 min 33 s in the
# report of issue 21), and scripts/test.sh reuses most of it. Its timings are a debug
# build's; the README's Performance section has the release build's.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "scripts/demo.sh needs root: it creates network namespaces (sudo scripts/demo.sh)" >&2
  exit 1
fi
source scripts/lib/apt.sh
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
if [ ${#need[@]} -gt 0 ]; then
  apt_install "${need[@]}"
fi
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
t=$SECONDS
if [ -x "$target/debug/netscript" ]; then
  echo "building netscript (cargo build; seconds when nothing changed)"
else
  echo "building netscript (cargo build, a debug build: 1.5 minutes the first time on 2 idle cores)"
fi
cargo build --bin netscript
echo "built in $((SECONDS - t))s"
echo
bin="$target/debug/netscript"
script="$PWD/${1:-examples/seed.ns}"
exec unshare --net --mount --propagation private bash -euo pipefail -c "
  mount -t tmpfs tmpfs /run && mkdir -p /run/netns
  echo '\$ netscript plan $script'; '$bin' plan '$script'
  echo; echo '\$ netscript run $script'; '$bin' run '$script'
  echo; echo '\$ ip netns exec ns1 ping -c 1 192.168.1.2'; ip netns exec ns1 ping -c 1 -W 2 192.168.1.2 | head -2
  echo; echo '\$ netscript show pbr'; '$bin' show pbr
  echo; echo '\$ netscript run $script   # again: nothing to do'; '$bin' run '$script'
  echo; echo '\$ netscript down $script'; '$bin' down '$script'
  echo; echo '\$ ip netns list'; ip netns list
"
