#!/bin/bash
# Internal snapshots of a running guest, ours against libvirt 9.0's QEMU driver in the same
# run, each through its own CLI (virt -> virtqemud directly on its socket, virsh -> libvirtd
# at qemu:///system): the same test guest on both sides (the test kernel + busybox initramfs,
# 128 MiB, TCG, a 64 MiB qcow2 disk), booted to its ready marker, then RUNS times
# `snapshot-create-as DOM sN` (RAM and disk state into the qcow2) and RUNS times
# `snapshot-revert DOM s1` (loaded back into the running QEMU). Prints the median wall time
# of each, in milliseconds, CLI process included on both sides.
# Needs root, libvirtd running (/work/shared/tools/libvirt-anchor.sh starts one), the test
# guest image (any qemu-tests run builds it under TARGET/test-guest) and the workspace
# binaries: cargo build [--release] -p virt-client --bin virt -p virtqemud.
# Usage: tools/bench-snapshot.sh [debug|release]   (TARGET_DIR overrides target/)
set -euo pipefail
profile=${1:-debug}
here=$(cd "$(dirname "$0")/.." && pwd)
target=${TARGET_DIR:-${CARGO_TARGET_DIR:-$here/target}}
bin="$target/$profile"
guest="$target/test-guest"
kernel="$guest/vmlinuz"
initrd=$(ls "$guest"/initrd-v*.cpio | head -1)
RUNS=${RUNS:-7}
tmp=$(mktemp -d /tmp/virt-bench-snapshot.XXXXXX)
root="$tmp/root"
mkdir -p "$root"
"$bin/virtqemud" --root "$root" >"$tmp/daemon.log" 2>&1 &
daemon=$!
sock="$root/run/virt/virtqemud-sock"
ours() { "$bin/virt" -q -c "qemu+unix:///system?socket=$sock" "$@"; }
theirs() { virsh -q -c qemu:///system "$@"; }
cleanup() {
  theirs destroy bsnap-theirs >/dev/null 2>&1 || true
  theirs undefine bsnap-theirs --snapshots-metadata >/dev/null 2>&1 || true
  ours destroy bsnap-ours >/dev/null 2>&1 || true
  kill "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done

xml() {
  cat <<XML
<domain type='qemu'><name>$1</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><kernel>$kernel</kernel><initrd>$initrd</initrd>
<cmdline>console=ttyS0 panic=-1 quiet loglevel=3</cmdline></os><features><acpi/></features>
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$2'/>
<target dev='vda' bus='virtio'/></disk>
<controller type='usb' model='none'/>
<serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console>
<memballoon model='virtio'/></devices></domain>
XML
}

# Boots $2 (a define+start through CLI $1) and waits for the marker on its serial pty.
boot() {
  local cli=$1 name=$2
  qemu-img create -q -f qcow2 "$tmp/$name.qcow2" 64M
  xml "$name" "$tmp/$name.qcow2" >"$tmp/$name.xml"
  $cli define "$tmp/$name.xml" >/dev/null
  $cli start "$name" >/dev/null
  local pty
  pty=$($cli dumpxml "$name" | sed -n "s/.*<source path='\([^']*\)'.*/\1/p" | head -1)
  timeout 180 grep -a -m1 -q VIRT-TEST-GUEST-READY <"$pty"
}

# Median wall time (ms) of RUNS runs of "$@"; @I@ is replaced by the run number.
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

boot ours bsnap-ours
boot theirs bsnap-theirs
row() { printf '%-40s %10s ms %10s ms\n' "$1" "$2" "$3"; }
printf 'load average before: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %13s %13s\n' "benchmark ($profile, median of $RUNS)" "virt" "libvirt 9.0"
row "snapshot-create-as (running, internal)" \
  "$(median ours snapshot-create-as bsnap-ours s@I@)" \
  "$(median theirs snapshot-create-as bsnap-theirs s@I@)"
row "snapshot-revert (running, internal)" \
  "$(median ours snapshot-revert bsnap-ours s1)" \
  "$(median theirs snapshot-revert bsnap-theirs s1)"
printf 'state after: %s / %s\n' "$(ours domstate bsnap-ours)" "$(theirs domstate bsnap-theirs)"
