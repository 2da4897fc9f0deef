#!/bin/bash
# Xen conversions, ours (virtxend, no hypervisor needed) against libvirt 9.0's own Xen driver
# (libxl, in a private libvirtd under ../shared/tools/xen's shims), side by side in one run,
# through each one's CLI: per file of crates/virtxend/tests/data/{xl,xm}/*.cfg, the median of N
# (default 11) runs of `domxml-from-native FORMAT FILE` (exec to exit, and the call alone from
# `virt -t` / `virsh --timing`), then the same for `domxml-to-native FORMAT` of libvirt's XML.
# Files either side refuses are counted, not timed.
#
# Needs root, gcc, xen-utils-4.17 xenstore-utils libxen-dev, libvirt-daemon-driver-xen.
# usage: tools/bench-xen-convert.sh [N]     BIN=dir for other binaries (default target/release)
set -euo pipefail
N=${1:-11}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/release}
TOOLS=${VIRT_XEN_TOOLS:-$ROOT/../shared/tools/xen}
[ "$(id -u)" = 0 ] || { echo "bench-xen-convert: needs root" >&2; exit 1; }
for b in virt virtxend; do
  [ -x "$BIN/$b" ] || { echo "bench-xen-convert: $BIN/$b missing (cargo build --release --bins)" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/bench-xen-convert.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
PIDS+=("$(sh "$TOOLS/start-xenstored.sh" "$WORK/xs")")
PIDS+=("$(sh "$TOOLS/start-libvirtd-libxl.sh" "$WORK/xs" "$WORK/lv")")
THEIRS="xen:///system?socket=$WORK/lv/sock/libvirt-sock"
"$BIN/virtxend" --root "$WORK/ours" --system >"$WORK/virtxend.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 200); do [ -S "$WORK/ours/run/virt/virtxend-sock-ro" ] && break; sleep 0.05; done
OURS="xen+unix:///system?socket=$WORK/ours/run/virt/virtxend-sock"

now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "-"; else print a[int((NR+1)/2)]}'; }

# exec-to-exit microseconds of N runs of "$@" (output discarded), median.
wall() {
  local i t0 t1
  for i in $(seq "$N"); do
    t0=$(now_us); "$@" >/dev/null 2>&1 || true; t1=$(now_us)
    echo $((t1 - t0))
  done | median
}
# the call alone: `virt -t` and `virsh --timing` both print "(Time: X.YZ ms)".
call_ms() {
  local i
  for i in $(seq "$N"); do
    { "$@" 2>&1 || true; } | sed -n 's/.*(Time: \([0-9.]*\) ms).*/\1/p' | tail -1
  done | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "-"; else print a[int((NR+1)/2)]}'
}

printf '%-34s %-7s %12s %12s %12s %12s\n' file dir "ours_exec_us" "virsh_exec_us" "ours_call_ms" "virsh_call_ms"
declare -A sum_o sum_t cnt
for fmt in xl xm; do
  for f in "$ROOT"/crates/virtxend/tests/data/$fmt/*.cfg; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    F="xen-$fmt"
    if ! virsh -q -c "$THEIRS" domxml-from-native "$F" "$f" >"$WORK/theirs.xml" 2>/dev/null ||
       ! "$BIN/virt" -q -c "$OURS" domxml-from-native "$F" "$f" >/dev/null 2>&1; then
      echo "$name: refused by one side, not timed"; continue
    fi
    o=$(wall "$BIN/virt" -q -c "$OURS" domxml-from-native "$F" "$f")
    t=$(wall virsh -q -c "$THEIRS" domxml-from-native "$F" "$f")
    oc=$(call_ms "$BIN/virt" -t -q -c "$OURS" domxml-from-native "$F" "$f")
    tc=$(call_ms virsh --timing -q -c "$THEIRS" domxml-from-native "$F" "$f")
    printf '%-34s %-7s %12s %12s %12s %12s\n' "$fmt/$name" from "$o" "$t" "$oc" "$tc"
    sum_o[from]=$(( ${sum_o[from]:-0} + o )); sum_t[from]=$(( ${sum_t[from]:-0} + t )); cnt[from]=$(( ${cnt[from]:-0} + 1 ))
    if ! virsh -q -c "$THEIRS" domxml-to-native "$F" "$WORK/theirs.xml" >/dev/null 2>&1 ||
       ! "$BIN/virt" -q -c "$OURS" domxml-to-native "$F" "$WORK/theirs.xml" >/dev/null 2>&1; then
      echo "$name: to-native refused by one side, not timed"; continue
    fi
    o=$(wall "$BIN/virt" -q -c "$OURS" domxml-to-native "$F" "$WORK/theirs.xml")
    t=$(wall virsh -q -c "$THEIRS" domxml-to-native "$F" "$WORK/theirs.xml")
    oc=$(call_ms "$BIN/virt" -t -q -c "$OURS" domxml-to-native "$F" "$WORK/theirs.xml")
    tc=$(call_ms virsh --timing -q -c "$THEIRS" domxml-to-native "$F" "$WORK/theirs.xml")
    printf '%-34s %-7s %12s %12s %12s %12s\n' "$fmt/$name" to "$o" "$t" "$oc" "$tc"
    sum_o[to]=$(( ${sum_o[to]:-0} + o )); sum_t[to]=$(( ${sum_t[to]:-0} + t )); cnt[to]=$(( ${cnt[to]:-0} + 1 ))
  done
done
for d in from to; do
  [ "${cnt[$d]:-0}" -gt 0 ] || continue
  echo "bench-xen-convert: $d-native files=${cnt[$d]} mean_exec_us ours=$(( sum_o[$d] / cnt[$d] )) virsh=$(( sum_t[$d] / cnt[$d] ))"
done
