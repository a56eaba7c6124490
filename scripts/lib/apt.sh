# Debian package installs for the project's scripts. Source it, then:
#
#   apt_install PKG...     installs the packages (as root, or through sudo), saying what it
#                          installs and how long that took
#
# Another apt-get or dpkg (unattended-upgrades, a second script, another user) may hold
# apt's locks. apt_install waits for them instead of failing, at most NETSCRIPT_APT_WAIT
# seconds in all (default 300): `apt-get install` through -o DPkg::Lock::Timeout, and
# `apt-get update`, which does not apply that option to its lists lock, by trying again
# every 5 seconds. A failure of another kind (a mirror in the middle of a sync, a dropped
# connection) is tried once more, after 10 seconds. When it gives up it prints apt's
# output and why. Used by scripts/test.sh, scripts/demo.sh and editors/test.sh.

apt_install() {
  [ $# -gt 0 ] || return 0
  local wait=${NETSCRIPT_APT_WAIT:-300} start=$SECONDS attempt log
  local deadline=$((SECONDS + wait))
  local as=()
  [ "$(id -u)" = 0 ] || as=(sudo)
  log=$(mktemp)
  echo "installing $* (apt-get; waits up to ${wait}s for another apt or dpkg to finish)"
  for attempt in 1 2; do
    if _apt_run "$deadline" "$log" "${as[@]}" apt-get -q update &&
      _apt_run "$deadline" "$log" "${as[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
        -o "DPkg::Lock::Timeout=$((deadline > SECONDS ? deadline - SECONDS : 1))" \
        install --no-install-recommends "$@"; then
      echo "installed $* in $((SECONDS - start))s"
      rm -f "$log"
      return 0
    fi
    if _apt_lock_error "$log"; then
      sed 's/^/  /' "$log" | tail -5
      echo "could not install $*: another apt-get or dpkg held apt's lock for ${wait}s" \
        "(it is named above); run this again when it has finished, or set NETSCRIPT_APT_WAIT"
      rm -f "$log"
      return 1
    fi
    if [ "$attempt" = 1 ]; then
      echo "apt-get failed ($(grep -m1 '^E:' "$log" || tail -1 "$log")); trying once more in 10s"
      sleep 10
    fi
  done
  sed 's/^/  /' "$log"
  echo "could not install $*: apt-get failed twice (its output is above)"
  rm -f "$log"
  return 1
}

# _apt_lock_error LOG: whether apt-get failed because another process held a lock
_apt_lock_error() {
  grep -qE 'Could not get lock|Unable to (lock|acquire)' "$1"
}

# _apt_run DEADLINE LOG CMD...: runs CMD, its output into LOG; while it fails because a
# lock is held, runs it again every 5 seconds until DEADLINE (in $SECONDS).
_apt_run() {
  local deadline=$1 log=$2 said=0
  shift 2
  while true; do
    "$@" >"$log" 2>&1 && return 0
    _apt_lock_error "$log" && [ "$SECONDS" -lt "$deadline" ] || return 1
    if [ $said = 0 ]; then
      echo "  waiting for apt's lock: $(grep -m1 -o 'held by process .*' "$log" || echo 'another apt or dpkg holds it')"
      said=1
    fi
    sleep 5
  done
}
