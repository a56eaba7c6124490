#!/usr/bin/env bash
# Runs examples/seed.ns for real, inside a throw-away network and mount namespace (so the
# host is never touched): apply, ping across the veth, show, re-run, tear down.
# Needs root (it creates network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/apt.sh
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
if [ ${#need[@]} -gt 0 ]; then
  apt_install "${need[@]}"
fi
cargo build --quiet --release
bin="$PWD/target/release/netscript"
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
