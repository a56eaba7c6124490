#!/usr/bin/env bash
# The full-kernel lane: runs some of netscript's kernel tests on Debian's kernel (all of
# its modules: netem, fq_codel, prio, sfq, dummy, vrf, vlan, bonding, gact, fw...) under
# qemu, with this machine's root shared read-only over 9p, so that what this machine's
# kernel lacks is tested too. See docs/TESTING.md, "The full-kernel lane".
#
#   scripts/full-kernel.sh                      the lane: tests/full-kernel/lane.txt
#   scripts/full-kernel.sh --lane FILE          another list (same format)
#   scripts/full-kernel.sh --test NAME [ARG...] one test binary (cargo's --test NAME),
#                                               ARGs go to it: a filter, --exact, ...
#   scripts/full-kernel.sh --sh 'COMMAND'       any shell command inside the VM
#   scripts/full-kernel.sh --prepare            only install qemu and busybox and fetch
#                                               the kernel (what scripts/test.sh's
#                                               install phase does)
#
# Exit status: the tests' (0 when all passed), 77 when the lane cannot run on this
# machine at all (it prints `full-kernel: skipped: <reason>`), 124 when the VM ran out
# of time (NETSCRIPT_FULL_KERNEL_TIMEOUT seconds, default 1500).
#
# How: qemu-system-x86 and busybox-static come from Debian (scripts/lib/apt.sh); the
# kernel is the package linux-image-amd64 depends on (linux-image-6.1.*-amd64),
# downloaded with `apt-get download` and extracted (boot/vmlinuz and the modules the
# tests can need) into NETSCRIPT_FULL_KERNEL_CACHE (default
# /var/cache/netscript-full-kernel), never into the repository. The initramfs is busybox,
# the virtio and 9p modules and tests/full-kernel/init. The VM boots with software
# emulation (`-accel tcg`: KVM hangs at boot on some machines; NETSCRIPT_FULL_KERNEL_ACCEL
# overrides), chroots into the host's root and runs the test binaries built here (cargo
# test --no-run) with NETSCRIPT_FULL_KERNEL=1 set, under which the full-kernel tests
# require the features instead of accepting a kernel's refusal. With
# NETSCRIPT_CAPTURE_PLANS=DIR, each binary's plans are captured into DIR/NAME
# (scripts/capture-plans.sh --lane).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
source scripts/lib/apt.sh

cache=${NETSCRIPT_FULL_KERNEL_CACHE:-/var/cache/netscript-full-kernel}
timeout_s=${NETSCRIPT_FULL_KERNEL_TIMEOUT:-1500}
accel=${NETSCRIPT_FULL_KERNEL_ACCEL:-tcg}
memory=${NETSCRIPT_FULL_KERNEL_MEMORY:-2048}
cpus=${NETSCRIPT_FULL_KERNEL_CPUS:-2}
# What the initramfs loads to reach the host's root, in this order.
boot_modules=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
  netfs fscache 9pnet 9pnet_virtio 9p)
# What the tests use, loaded explicitly before they start (the kernel would also load
# them on demand: see tests/full-kernel/init).
test_modules=(veth bridge macvlan vxlan ifb dummy vrf 8021q bonding ipvlan ipip ip_gre
  sch_netem sch_fq_codel sch_prio sch_sfq sch_drr sch_tbf sch_htb sch_ingress
  cls_u32 cls_fw cls_bpf act_gact act_mirred)
# Parts of the kernel package worth extracting (the modules above and what they need).
extract=(boot/vmlinuz-\* lib/modules/\*/modules.\* lib/modules/\*/kernel/net
  lib/modules/\*/kernel/drivers/net lib/modules/\*/kernel/drivers/virtio
  lib/modules/\*/kernel/fs/9p lib/modules/\*/kernel/fs/netfs lib/modules/\*/kernel/fs/fscache
  lib/modules/\*/kernel/lib lib/modules/\*/kernel/crypto lib/modules/\*/kernel/arch)

skip() {
  echo "full-kernel: skipped: $*"
  exit 77
}

mode=lane lane=tests/full-kernel/lane.txt shell_cmd= test_args=()
case "${1:-}" in
  "") ;;
  --lane) lane=${2:?--lane FILE}; ;;
  --test) shift; [ $# -gt 0 ] || { echo "--test NAME [ARG...]" >&2; exit 2; }; mode=test test_args=("$@") ;;
  --sh) mode=sh shell_cmd=${2:?--sh COMMAND} ;;
  --prepare) mode=prepare ;;
  -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
esac

# ------------------------------------------------------------------ what it needs
[ "$(uname -m)" = x86_64 ] || skip "the VM runs this machine's x86_64 userland, and this machine is $(uname -m)"
[ "$(id -u)" = 0 ] || skip "the kernel tests and qemu's 9p export of / need root"
t0=$SECONDS
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] && /bin/busybox --list | grep -qx depmod || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  apt_install "${need[@]}" || skip "cannot install ${need[*]} (apt-get failed, above)"
fi
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 after installing qemu-system-x86"

# The kernel: the package linux-image-amd64 depends on, extracted once per version.
if [ -z "${NETSCRIPT_FULL_KERNEL_PACKAGE:-}" ]; then
  NETSCRIPT_FULL_KERNEL_PACKAGE=$(apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)
  if [ -z "$NETSCRIPT_FULL_KERNEL_PACKAGE" ]; then
    apt-get -q update >/dev/null 2>&1 || true
    NETSCRIPT_FULL_KERNEL_PACKAGE=$(apt-cache depends linux-image-amd64 2>/dev/null |
      sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)
  fi
fi
package=$NETSCRIPT_FULL_KERNEL_PACKAGE
[ -n "$package" ] || skip "apt knows no linux-image-amd64 (no Debian package lists?)"
kdir=$cache/$package
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 # one fetch at a time (two runs at once share the cache)
if [ ! -f "$kdir/.complete" ]; then
  echo "full-kernel: fetching $package into $kdir"
  rm -rf "$kdir"
  mkdir -p "$kdir/dl"
  (cd "$kdir/dl" && apt-get -q download "$package" >/dev/null 2>"$kdir/dl/err") ||
    { cat "$kdir/dl/err"; rm -rf "$kdir"; skip "cannot download $package (apt-get download failed, above)"; }
  dpkg-deb --fsys-tarfile "$kdir"/dl/*.deb | tar -x -C "$kdir" --wildcards "${extract[@]/#/./}"
  rm -rf "$kdir/dl"
  version=$(ls "$kdir/lib/modules")
  # modules.dep in the format of busybox's modprobe, which the initramfs runs
  /bin/busybox depmod -b "$kdir" "$version"
  echo "$version" >"$kdir/.complete"
  echo "full-kernel: $package ($(du -sh "$kdir" | cut -f1)) ready"
fi
version=$(cat "$kdir/.complete")
exec 9>&-
prep=$((SECONDS - t0))
[ "$prep" -lt 2 ] || echo "full-kernel: installs and kernel ${prep}s"
[ "$mode" != prepare ] || exit 0

# ------------------------------------------------------------------ initramfs
run=$(mktemp -d "${TMPDIR:-/tmp}/netscript-full-kernel.XXXXXX")
trap 'rm -rf "$run"' EXIT
root=$run/initramfs
mkdir -p "$root/bin" "$root/modules"
cp /bin/busybox "$root/bin/busybox"
cp tests/full-kernel/init "$root/init"
chmod +x "$root/init"
for m in "${boot_modules[@]}"; do
  path=$(grep -E "(^|/)$m\.ko(\.xz)?:" "$kdir/lib/modules/$version/modules.dep" | head -1 | cut -d: -f1)
  [ -n "$path" ] || { echo "full-kernel: $package has no module $m" >&2; exit 1; }
  case $path in
    *.xz) xz -dc "$kdir/lib/modules/$version/$path" >"$root/modules/$m.ko" ;;
    *) cp "$kdir/lib/modules/$version/$path" "$root/modules/$m.ko" ;;
  esac
  echo "$m" >>"$root/modules/order"
done
(cd "$root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) >"$run/initramfs.cpio"

# ------------------------------------------------------------------ the job
mkdir -p "$run/out"
# binaries: cargo test --no-run --test NAME... prints "Executable tests/NAME.rs (PATH)"
binaries() {
  local args=() name
  for name in "$@"; do args+=(--test "$name"); done
  cargo test --no-run "${args[@]}" 2>&1 | tee "$run/cargo.log" |
    sed -n 's/^ *Executable tests\/\([^ ]*\)\.rs (\(.*\))$/\1 \2/p'
  [ "${PIPESTATUS[0]}" = 0 ] || { cat "$run/cargo.log" >&2; echo "full-kernel: cargo test --no-run failed" >&2; exit 1; }
}
job=$run/out/job.sh
{
  echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root"
  echo "export NETSCRIPT_FULL_KERNEL=1 RUST_BACKTRACE=1 CARGO_TERM_COLOR=never"
  echo "cd $(printf %q "$repo")"
  echo "status=0"
} >"$job"
if [ "$mode" = sh ]; then
  echo "sh -c $(printf %q "$shell_cmd") || status=\$?" >>"$job"
else
  lines=()
  if [ "$mode" = test ]; then
    lines=("${test_args[*]}")
  else
    while read -r line; do
      line=${line%%#*}
      [ -n "${line// /}" ] && lines+=("$line")
    done <"$lane"
  fi
  names=()
  for line in "${lines[@]}"; do names+=("${line%% *}"); done
  declare -A path_of=()
  while read -r name path; do
    case $path in /*) ;; *) path=$repo/$path ;; esac
    path_of[$name]=$path
  done < <(binaries "${names[@]}")
  for i in "${!lines[@]}"; do
    name=${names[$i]}
    read -r -a words <<<"${lines[$i]}"
    [ -n "${path_of[$name]:-}" ] || { echo "full-kernel: no test binary for tests/$name.rs" >&2; exit 1; }
    args=$(printf ' %q' "${words[@]:1}")
    if [ -n "${NETSCRIPT_CAPTURE_PLANS:-}" ]; then
      # scripts/capture-plans.sh --lane: each binary's plans into the run directory
      # (/media: the run directory again, where the tests' sandboxes, with a tmpfs of
      # their own on /run, still see it: tests/full-kernel/init)
      echo "mkdir -p /media/capture/$name && export NETSCRIPT_CAPTURE_PLANS=/media/capture/$name" >>"$job"
    fi
    cat >>"$job" <<EOF
echo "full-kernel: running ${lines[$i]}"
$(printf %q "${path_of[$name]}")$args --color never --test-threads=$cpus || status=\$?
EOF
  done
fi
echo 'exit $status' >>"$job"
cat >"$run/out/config" <<EOF
MODULES_ROOT=$(printf %q "$kdir")
MODULES="${test_modules[*]}"
WRITABLE=""
REPO=$(printf %q "$repo")
CAPTURE=${NETSCRIPT_CAPTURE_PLANS:+1}
EOF

# ------------------------------------------------------------------ the VM
echo "full-kernel: booting $package ($version) under qemu -accel $accel, $cpus cpus, ${memory} MB"
t1=$SECONDS
qemu_status=0
timeout --foreground -k 10 "$timeout_s" qemu-system-x86_64 \
  -accel "$accel" -cpu max -smp "$cpus" -m "$memory" \
  -display none -monitor none -serial stdio -no-reboot \
  -kernel "$kdir/boot/vmlinuz-$version" -initrd "$run/initramfs.cpio" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init" \
  -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$run/out,mount_tag=out,security_model=none,multidevs=remap" \
  </dev/null | tee "$run/console" || qemu_status=$?
elapsed=$((SECONDS - t1))
if [ -s "$run/out/status" ]; then
  status=$(cat "$run/out/status")
elif marker=$(grep -a -o 'NETSCRIPT-FULL-KERNEL-STATUS=[0-9]*' "$run/console" | tail -1); then
  status=${marker#*=}
elif [ "$qemu_status" = 124 ]; then
  echo "full-kernel: the VM ran out of time (${timeout_s}s, NETSCRIPT_FULL_KERNEL_TIMEOUT)"
  status=124
else
  echo "full-kernel: the VM stopped without a status (qemu exited with $qemu_status)"
  status=1
fi
echo "full-kernel: status $status, VM ${elapsed}s (boot and tests), in all $((SECONDS - t0))s"
if [ -n "${NETSCRIPT_CAPTURE_PLANS:-}" ] && [ -d "$run/out/capture" ]; then
  cp -r "$run/out/capture/." "$NETSCRIPT_CAPTURE_PLANS/"
fi
exit "$status"
