#!/usr/bin/env bash
# A newer iproute2 for the tests' oracle: bookworm's iproute2 (6.1) can neither set nor
# show a rule's `dscp`, `flowlabel` or port masks, and the kernel has them, so the parity
# tests of those selectors (tests/rule_masked_selectors.rs) ask iproute2 6.15 from
# bookworm-backports, built for this system's libraries. It is downloaded with apt-get
# (its own sources list and lists, so the system's apt configuration is untouched) and
# extracted into NETSCRIPT_IPROUTE2_CACHE (default /var/cache/netscript-iproute2), never
# installed: the system's `ip` stays what it is.
#
#   scripts/iproute2-new.sh     prints the path of the newer `ip` (fetching it first
#                               when the cache has none); exit 1 when it cannot
set -euo pipefail
cache=${NETSCRIPT_IPROUTE2_CACHE:-/var/cache/netscript-iproute2}
suite=${NETSCRIPT_IPROUTE2_SUITE:-bookworm-backports}
ip=$cache/root/bin/ip

usable() {
  [ -x "$ip" ] && "$ip" -V 2>/dev/null | grep -q 'iproute2-6\.\(1[5-9]\|[2-9][0-9]\)'
}

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 # one fetch at a time (parallel tests share the cache)
if ! usable; then
  rm -rf "$cache/root" "$cache/dl" "$cache/apt"
  mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" "$cache/dl"
  echo "deb http://deb.debian.org/debian $suite main" >"$cache/apt/sources.list"
  opts=(-o "Dir::Etc::SourceList=$cache/apt/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
    -o "Dir::State::Lists=$cache/apt/lists" -o "Dir::Cache=$cache/apt/cache"
    -o "Dir::Cache::archives=$cache/apt/cache/archives" -o "APT::Sandbox::User=root")
  if ! apt-get -q "${opts[@]}" update >"$cache/dl/log" 2>&1 ||
    ! (cd "$cache/dl" && apt-get -q "${opts[@]}" download "iproute2/$suite" >>"$cache/dl/log" 2>&1); then
    sed 's/^/  /' "$cache/dl/log" >&2
    echo "iproute2-new: cannot download iproute2 from $suite (apt-get failed, above)" >&2
    exit 1
  fi
  dpkg-deb -x "$cache"/dl/iproute2_*.deb "$cache/root"
  rm -rf "$cache/dl" "$cache/apt"
  usable || { echo "iproute2-new: $ip does not run here: $("$ip" -V 2>&1 | head -1)" >&2; exit 1; }
fi
echo "$ip"
