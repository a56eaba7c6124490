#!/usr/bin/env bash
# Compiles the example eBPF programs: examples/bpf/NAME.c -> OUT/NAME.o (OUT defaults to
# this directory, where examples/bpf/*.ns expect them). Needs clang and libbpf-dev.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here}"
mkdir -p "$out"
multiarch="$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")"
for src in "$here"/*.c; do
  name="$(basename "$src" .c)"
  clang -O2 -g -target bpf -I"/usr/include/$multiarch" -c "$src" -o "$out/$name.o"
done
