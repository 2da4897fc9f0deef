#!/bin/bash
# Storage benchmarks, ours against libvirt 9.0 in the same run, each through its own CLI
# (virt -> virtstoraged, virsh -> libvirtd), on a dir pool in a temporary directory:
#   vol-create-as of a 10 GiB qcow2, pool-refresh and vol-list (plain and --details) of a pool
#   holding 1000 volumes. Prints the median of RUNS runs of each, in milliseconds.
# Needs root, libvirtd running (/work/shared/tools/libvirt-anchor.sh starts one) and the
# workspace binaries: cargo build [--release] -p virt-client -p virtstoraged.
# Usage: tools/bench-storage.sh [debug|release]
set -euo pipefail
profile=${1:-debug}
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/target/$profile"
RUNS=${RUNS:-7}
tmp=$(mktemp -d /tmp/virt-bench-storage.XXXXXX)
root="$tmp/root"
mkdir -p "$root" "$tmp/ours" "$tmp/theirs"
"$bin/virtstoraged" --root "$root" >"$tmp/daemon.log" 2>&1 &
daemon=$!
cleanup() {
  virsh -q -c qemu:///system pool-destroy benchtheirs >/dev/null 2>&1 || true
  kill "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
sock="$root/run/virt/virtstoraged-sock"
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
ours() { "$bin/virt" -q -c "qemu+unix:///system?socket=$sock" "$@"; }
theirs() { virsh -q -c qemu:///system "$@"; }
ours pool-create-as benchours dir --target "$tmp/ours" >/dev/null
theirs pool-create-as benchtheirs dir --target "$tmp/theirs" >/dev/null

# Median wall time (ms) of RUNS runs of "$@"; $i is the run number for commands that need it.
median() {
  local times=()
  for i in $(seq "$RUNS"); do
    local cmd=("${@//@I@/$i}")
    local t0=$(date +%s%N)
    "${cmd[@]}" >/dev/null
    local t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}

row() { printf '%-34s %10s ms %10s ms\n' "$1" "$2" "$3"; }
printf '%-34s %13s %13s\n' "benchmark ($profile, median of $RUNS)" "virt" "libvirt 9.0"
row "vol-create-as 10 GiB qcow2" \
  "$(median ours vol-create-as benchours q@I@.qcow2 10G --format qcow2)" \
  "$(median theirs vol-create-as benchtheirs q@I@.qcow2 10G --format qcow2)"
for d in ours theirs; do
  for i in $(seq 1000); do : >"$tmp/$d/v$i.img"; done
  truncate -s 1M "$tmp/$d"/v*.img
done
row "pool-refresh (1000 volumes)" \
  "$(median ours pool-refresh benchours)" "$(median theirs pool-refresh benchtheirs)"
row "vol-list (1000 volumes)" \
  "$(median ours vol-list benchours)" "$(median theirs vol-list benchtheirs)"
row "vol-list --details (1000 volumes)" \
  "$(median ours vol-list --details benchours)" "$(median theirs vol-list --details benchtheirs)"
