#!/bin/bash
# net-start of a NAT network with DHCP, ours (virtnetworkd) against libvirt 9.0's libvirtd, side
# by side, each in a network namespace of its own (libvirtd also in a private mount namespace
# with tmpfs over its state directories, so it touches nothing of the host). Times the client
# command from exec to exit (`virt net-start` / `virsh net-start`), N runs each (start, then
# destroy untimed), and prints min / median / max in ms. Needs root, iproute2, nftables,
# dnsmasq, libvirt-daemon + libvirt-daemon-driver-network (Debian) and iptables.
#
# usage: tools/bench-net-start.sh [N]      BIN=target/release to use release binaries
set -euo pipefail
N=${1:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/debug}
[ -x "$BIN/virtnetworkd" ] && [ -x "$BIN/virt" ] || cargo build -q -p virtnetworkd -p virt-client --manifest-path "$ROOT/Cargo.toml"
WORK=$(mktemp -d)
NS_OURS=vbench-ours-$$
NS_LV=vbench-lv-$$
cleanup() {
  for ns in "$NS_OURS" "$NS_LV"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/bench.xml" <<'XML'
<network>
  <name>bench</name>
  <forward mode='nat'/>
  <bridge name='vbench0'/>
  <ip address='10.250.1.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.250.1.2' end='10.250.1.254'/>
    </dhcp>
  </ip>
</network>
XML

stats() { sort -n | awk '{a[NR]=$1} END {printf "min %.1f  median %.1f  max %.1f ms (n=%d)\n", a[1], a[int((NR+1)/2)], a[NR], NR}'; }
now() { date +%s%N; }

# --- ours
ip netns add "$NS_OURS"; ip -n "$NS_OURS" link set lo up
mkdir -p "$WORK/ours/etc/virt/network"
ip netns exec "$NS_OURS" "$BIN/virtnetworkd" --root "$WORK/ours" >"$WORK/ours.log" 2>&1 &
for _ in $(seq 200); do [ -S "$WORK/ours/run/virt/virtnetworkd-sock" ] && break; sleep 0.05; done
V=("$BIN/virt" -c "qemu+unix:///system?socket=$WORK/ours/run/virt/virtnetworkd-sock")
"${V[@]}" net-define "$WORK/bench.xml" >/dev/null
for _ in $(seq "$N"); do
  t0=$(now); "${V[@]}" net-start bench >/dev/null; t1=$(now)
  echo "scale=3; ($t1-$t0)/1000000" | bc
  "${V[@]}" net-destroy bench >/dev/null
done > "$WORK/ours.times"
echo "ours    (virtnetworkd, virt net-start): $(stats < "$WORK/ours.times")"

# --- libvirt 9.0
if ! command -v libvirtd >/dev/null; then echo "libvirt: libvirtd not installed, skipped"; exit 0; fi
# The accounts libvirt's QEMU driver looks up at start (as shared/tools/libvirt-anchor.sh makes them).
getent group kvm >/dev/null || groupadd -r -f kvm
getent group libvirt-qemu >/dev/null || groupadd -f libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -G kvm libvirt-qemu
ip netns add "$NS_LV"; ip -n "$NS_LV" link set lo up
cp "$WORK/bench.xml" "$WORK/lv.xml"
ip netns exec "$NS_LV" unshare -m --propagation private bash -euc '
  for d in /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /etc/libvirt; do
    mkdir -p "$d"; mount -t tmpfs tmpfs "$d"
  done
  # No libvirt-qemu user here: the QEMU driver (loaded by libvirtd whether used or not) runs as root.
  printf "user = \"root\"\ngroup = \"root\"\n" > /etc/libvirt/qemu.conf
  # Its own pid file: a host libvirtd (from libvirt-anchor.sh) holds /run/libvirtd.pid.
  libvirtd --pid-file /run/libvirt/bench-libvirtd.pid >"$0/lv.log" 2>&1 &
  for _ in $(seq 300); do [ -S /run/libvirt/libvirt-sock ] && break; sleep 0.05; done
  virsh -q -c qemu:///system net-define "$0/lv.xml" >/dev/null
  for _ in $(seq "$1"); do
    t0=$(date +%s%N); virsh -q -c qemu:///system net-start bench >/dev/null; t1=$(date +%s%N)
    echo "scale=3; ($t1-$t0)/1000000" | bc
    virsh -q -c qemu:///system net-destroy bench >/dev/null
  done > "$0/lv.times"
  kill %1; wait || true
' "$WORK" "$N"
echo "libvirt (libvirtd 9.0, virsh net-start): $(stats < "$WORK/lv.times")"
